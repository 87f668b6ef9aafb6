"""Importing a tool's export: parse, register its images, then store its labels."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import polars as pl

from .._report import ProblemReport
from .._store import Store, current_user, now_utc
from ..formats._common import ESCAPES
from ..formats._types import AnnotationRecord, ImageRef, ImportResult, RecordProblem
from ._matching import SHOWN_CANDIDATES, Match, export_names, match_registered
from .annotations import LabelProblem, build_rows

if TYPE_CHECKING:
    from ..taxonomy.facade import Taxonomy


@dataclass(repr=False)
class ImportReport(ProblemReport):
    """What an import or ``add_annotations`` call stored, and what it refused, record by record.

    ``data_root`` is the folder the reader looked for image files under (None when it
    did not say); ``n_matched_by_path``, ``n_matched_by_name`` and ``n_matched_by_hash``
    count the export's images that turned out to be images registered before: the
    file was not under the data root but a registered image has its path or file
    name, or the file was there with the content of an image registered elsewhere.
    ``n_images_ambiguous`` counts images not found whose name fits several registered
    images (each is a problem listing them).

    Examples
    --------
    >>> rep = ImportReport("b1", "/e/Annotations", "voc", n_images=3, n_images_found=3, n_labels_read=4,
    ...                    n_labels_added=4, n_matched_by_name=3, data_root="/e")
    >>> rep
    <ImportReport voc Annotations: 4 labels added (0 already present) on 3/3 images (3 matched to registered images: 3 by name), 0 new classes, 0 problems; images looked up under the data root /e>
    >>> rep.to_dict()["matched_to_registered"]
    {'path': 0, 'name': 3, 'hash': 0}
    """

    import_batch: str
    source_file: str
    format: str
    n_images: int = 0
    n_images_found: int = 0
    n_labels_read: int = 0
    n_labels_added: int = 0
    n_labels_already_present: int = 0
    classes_added: list[str] = field(default_factory=list)
    taxonomy_version: int = 0
    problems: list[LabelProblem] = field(default_factory=list)
    data_root: str | None = None
    n_matched_by_path: int = 0
    n_matched_by_name: int = 0
    n_matched_by_hash: int = 0
    n_images_ambiguous: int = 0

    _problem_key = "record"

    @property
    def n_matched(self) -> int:
        """Images of the export found to be images registered before (by path, name or hash)."""
        return self.n_matched_by_path + self.n_matched_by_name + self.n_matched_by_hash

    def to_dict(self) -> dict[str, Any]:
        """Counts and problems as plain JSON."""
        return {
            "import_batch": self.import_batch,
            "source_file": self.source_file,
            "format": self.format,
            "images": self.n_images,
            "images_found": self.n_images_found,
            "labels_read": self.n_labels_read,
            "labels_added": self.n_labels_added,
            "labels_already_present": self.n_labels_already_present,
            "classes_added": self.classes_added,
            "taxonomy_version": self.taxonomy_version,
            "data_root": self.data_root,
            "matched_to_registered": {"path": self.n_matched_by_path, "name": self.n_matched_by_name,
                                      "hash": self.n_matched_by_hash},
            "images_ambiguous": self.n_images_ambiguous,
            "problems": self._problem_dicts(),
        }

    def _repr_head(self) -> str:
        matched = ""
        if self.n_matched:
            ways = [(self.n_matched_by_path, "path"), (self.n_matched_by_name, "name"), (self.n_matched_by_hash, "hash")]
            matched = (f" ({self.n_matched} matched to registered images: "
                       f"{', '.join(f'{n} by {w}' for n, w in ways if n)})")
        where = f"; images looked up {looked_under(self)}" if self.format != "frame" else ""
        return shown(
            f"<ImportReport {self.format} {Path(self.source_file).name}: {self.n_labels_added} labels added "
            f"({self.n_labels_already_present} already present) on {self.n_images_found}/{self.n_images} "
            f"images{matched}, {len(self.classes_added)} new classes, {len(self.problems)} problems{where}>"
        )


def store_labels(
    store: Store,
    taxonomy: Taxonomy,
    records: Sequence[AnnotationRecord],
    image_ids: dict[str, str],
    report: ImportReport,
    *,
    add_missing_classes: bool,
    taxonomy_version: int | None = None,
    default_annotator: str | None = None,
) -> None:
    """Validate ``records`` and append the new ones to ``annotations`` in one commit."""
    names = sorted({r.class_name for r in records})
    with store.lock:
        if taxonomy_version is None:
            if add_missing_classes:
                before = set(taxonomy.classes()["name"].to_list()) if taxonomy.version else set()
                class_ids = taxonomy.ensure(
                    names, author=current_user(), message=f"classes added by import of {report.source_file}"
                )
                report.classes_added = [n for n in names if n not in before]
            else:
                class_ids = {}
                for n in names:
                    try:
                        class_ids[n] = taxonomy.resolve_name(n)
                    except KeyError:
                        continue  # reported per record as an unknown class
            version = taxonomy.version
        else:
            version = taxonomy_version
            class_ids = {}
            for n in names:
                try:
                    class_ids[n] = taxonomy.resolve_name(n, version)
                except KeyError:
                    pass
        report.taxonomy_version = version
        images = store.read("images", columns=["image_id", "width", "height"])
        sizes = {r[0]: (r[1], r[2]) for r in images.iter_rows()}
        batch = build_rows(
            records,
            image_ids,
            sizes,
            class_ids,
            taxonomy_version=version,
            source_file=report.source_file,
            import_batch=report.import_batch,
            default_annotator=default_annotator or current_user(),
            default_time=now_utc(),
        )
        report.problems.extend(batch.problems)
        existing = set(store.read("annotations", columns=["ann_id"])["ann_id"].to_list())
        new_rows = [r for r in batch.rows if r["ann_id"] not in existing]
        report.n_labels_already_present += len(batch.rows) - len(new_rows)
        if new_rows:
            store.append("annotations", new_rows)
        report.n_labels_added += len(new_rows)


def import_result(
    store: Store,
    taxonomy: Taxonomy,
    result: ImportResult,
    *,
    register: Any,
    add_missing_classes: bool,
    annotator: str | None,
) -> ImportReport:
    """Register the images an export names, then store its labels; see ``Workspace.import_annotations``.

    An image the reader found under its data root is registered (its content hash says
    whether it is an image already registered elsewhere); one it did not find is matched
    to the registered images by path, then by file name (:func:`match_registered`),
    without reading any file.
    """
    report = ImportReport(
        import_batch=uuid.uuid4().hex[:16],
        source_file=result.source_file,
        format=result.format,
        n_images=len(result.images),
        n_labels_read=len(result.annotations),
        data_root=result.data_root,
    )
    missing = [ref for ref in result.images if ref.path is None]
    registered = (store.read("images", columns=["image_id", "path", "width", "height"]) if missing
                  else pl.DataFrame())
    matches = _match_missing(missing, result.source_file, registered)
    matched = [ref for ref in missing if ref.key in matches and matches[ref.key].image_id is not None]
    settled = _settled(matched)
    report.problems.extend(LabelProblem(p.record, p.reason) for p in result.problems if not settled(p))
    for ref in missing:
        match = matches.get(ref.key)
        why = _unmatched(match, report, registered.height)
        if why is not None:
            report.problems.append(LabelProblem(f"image {ref.file_name}", why))
            report.n_images_ambiguous += int(match is not None)
    paths = [str(ref.path) for ref in result.images if ref.path is not None]
    reg = register(paths) if paths else None
    # export key -> (image id, how it was matched to an image registered before: path/name/hash, or None)
    found: dict[str, tuple[str, str | None, str]] = {}
    if reg is not None:
        duplicates = {p.path for p in reg.problems if p.path in reg.paths}
        for p in reg.problems:
            if p.path not in duplicates:
                report.problems.append(LabelProblem(f"image {p.path}", p.reason))
        moved = set(reg.moved)
        for ref in result.images:
            if ref.path is None:
                continue
            real = str(Path(ref.path).resolve())
            iid = reg.paths.get(real)
            if iid is not None:
                how = "hash" if real in duplicates or iid in moved else None
                found[ref.key] = (iid, how, "the file")
    for ref in matched:
        m = matches[ref.key]
        assert m.image_id is not None
        found[ref.key] = (m.image_id, m.how, f"the registered image {m.paths[0]}")
    images = store.read("images", columns=["image_id", "width", "height"])
    sizes = {r[0]: (r[1], r[2]) for r in images.iter_rows()}
    image_ids: dict[str, str] = {}
    counts = {"path": 0, "name": 0, "hash": 0}
    for ref in result.images:
        if ref.key not in found:
            continue
        iid, how, what = found[ref.key]
        w, h = sizes.get(iid, (None, None))
        if ref.width and ref.height and w and h and (ref.width, ref.height) != (w, h):
            report.problems.append(
                LabelProblem(
                    f"image {ref.file_name}",
                    f"export says {ref.width}x{ref.height} but {what} is {w}x{h}; its labels are skipped",
                )
            )
            continue
        image_ids[ref.key] = iid
        if how is not None:
            counts[how] += 1
    report.n_images_found = len(image_ids)
    report.n_matched_by_path, report.n_matched_by_name, report.n_matched_by_hash = (
        counts["path"], counts["name"], counts["hash"])
    # labels of images that were not found were already reported per image
    records = [r for r in result.annotations if r.image_key in image_ids]
    store_labels(
        store, taxonomy, records, image_ids, report,
        add_missing_classes=add_missing_classes, default_annotator=annotator,
    )
    # names from an export or a file system may hold lone surrogates, which no frame or terminal takes
    report.problems = [LabelProblem(shown(p.record), shown(p.reason)) for p in report.problems]
    store.event("annotations.import", report.to_dict() | {"problems": len(report.problems)})
    return report


def shown(text: str) -> str:
    r"""``text`` as valid Unicode: a lone surrogate (a name no file can have, or a file name's
    undecodable byte) is written as its escape.

    Examples
    --------
    >>> shown("image \ud800.jpg"), shown("ok.jpg")
    ('image \\ud800.jpg', 'ok.jpg')
    """
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def looked_under(report: ImportReport) -> str:
    """Where an import looked for its images, as words: ``"under the data root /x"``.

    Examples
    --------
    >>> rep = ImportReport("b1", "/e/ann.json", "coco", data_root="/e")
    >>> looked_under(rep)
    'under the data root /e'
    >>> rep.data_root = None
    >>> looked_under(rep)
    'under the default data root of a coco export at /e/ann.json'
    """
    if report.data_root is not None:
        return shown(f"under the data root {report.data_root}")
    return shown(f"under the default data root of a {report.format} export at {os.path.abspath(report.source_file)}")


def _unmatched(match: Match | None, report: ImportReport, n_registered: int) -> str | None:
    """Why an image the reader did not find has no registered image either; None when it has one."""
    if match is not None and match.image_id is not None:
        return None
    where = looked_under(report)
    if match is not None:  # ambiguous
        shown = ", ".join(match.paths[:SHOWN_CANDIDATES])
        more = f" and {len(match.paths) - SHOWN_CANDIDATES} more" if len(match.paths) > SHOWN_CANDIDATES else ""
        return (f"image file not found {where}; its name fits {len(match.paths)} registered images "
                f"({shown}{more}): pass the folder that holds it as data root")
    if n_registered == 0:
        return f"image file not found {where} (and no image is registered in this workspace)"
    return (f"image file not found {where}, and none of the {n_registered} registered images "
            "has its path or file name")


def _settled(matched: Sequence[ImageRef]) -> Callable[[RecordProblem], bool]:
    """A test of the reader's problems: whether one said an image escapes the data root and
    that image (named by the problem's ``image_key``) was then matched to a registered image,
    so nothing was refused after all.  A problem naming no image is never settled.

    Examples
    --------
    >>> settled = _settled([ImageRef("7", "../a.jpg", None)])
    >>> settled(RecordProblem("images[0]", "path escapes data root: ../a.jpg", image_key="7"))
    True
    >>> settled(RecordProblem("images[0]", "path escapes data root: ../a.jpg"))
    False
    """
    keys = {ref.key for ref in matched}

    def settled(problem: RecordProblem) -> bool:
        return problem.image_key in keys and problem.reason.startswith(ESCAPES)

    return settled


def _export_dir(source_file: str) -> str | None:
    """The resolved folder an export's relative image names start from (None when it cannot be resolved)."""
    try:
        source = os.path.realpath(source_file)
        return source if os.path.isdir(source) else os.path.dirname(source)
    except (OSError, ValueError):
        return None


def _match_missing(refs: Sequence[ImageRef], source_file: str, registered: pl.DataFrame) -> dict[str, Match]:
    """Registered images for the export images the reader did not find (see :func:`match_registered`).

    A name is joined to the export's folder without resolving symlinks in it, so no
    file the export names is touched; our own exports written without copying name
    their images relative to the export (``../../imgs/a.jpg``) and match exactly.
    """
    if not refs or registered.is_empty():
        return {}
    base = _export_dir(source_file)
    wanted = {ref.key: [n for n in export_names(ref.file_name) if _usable(n)] for ref in refs}
    exact = {key: [os.path.normpath(os.path.join(base, n)) for n in names] for key, names in wanted.items()} \
        if base is not None else None
    return match_registered(wanted, registered.select("image_id", "path"), exact)


def _usable(name: str) -> bool:
    """Whether some file could be called ``name`` (no NUL byte, valid Unicode)."""
    if not name or "\x00" in name:
        return False
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate
        return False
    return True
