"""Importing a tool's export: parse, register its images, then store its labels."""

from __future__ import annotations

import os
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlparse

from .._report import ProblemReport
from .._store import Store, current_user, now_utc
from .annotations import LabelProblem, build_rows
from ..formats._common import ESCAPES
from ..formats._types import AnnotationRecord, ImageRef, ImportResult

if TYPE_CHECKING:
    from ..taxonomy.facade import Taxonomy


@dataclass(repr=False)
class ImportReport(ProblemReport):
    """What an import or ``add_annotations`` call stored, and what it refused, record by record."""

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

    _problem_key = "record"

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
            "problems": self._problem_dicts(),
        }

    def _repr_head(self) -> str:
        return (
            f"<ImportReport {self.format} {Path(self.source_file).name}: {self.n_labels_added} labels added "
            f"({self.n_labels_already_present} already present) on {self.n_images_found}/{self.n_images} "
            f"images, {len(self.classes_added)} new classes, {len(self.problems)} problems>"
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
    """Register the images an export names, then store its labels; see ``Workspace.import_annotations``."""
    report = ImportReport(
        import_batch=uuid.uuid4().hex[:16],
        source_file=result.source_file,
        format=result.format,
        n_images=len(result.images),
        n_labels_read=len(result.annotations),
    )
    refs = {ref.key: ref for ref in result.images}
    known = _registered_outside_root(store, result)
    for ref in result.images:
        if ref.key in known:
            ref.path = known[ref.key]
    found = {str(p) for p in known.values()}
    report.problems.extend(LabelProblem(p.record, p.reason) for p in result.problems
                           if not _found_after_all(p.reason, result.source_file, found))
    paths = [str(ref.path) for ref in result.images if ref.path is not None]
    for ref in result.images:
        if ref.path is None:
            report.problems.append(LabelProblem(f"image {ref.file_name}", "image file not found under the data root"))
    reg = register(paths) if paths else None
    image_ids: dict[str, str] = {}
    if reg is not None:
        for p in reg.problems:
            if p.path in reg.paths:
                continue  # a duplicate of a registered image: its labels still attach
            report.problems.append(LabelProblem(f"image {p.path}", p.reason))
        images = store.read("images", columns=["image_id", "width", "height"])
        sizes = {r[0]: (r[1], r[2]) for r in images.iter_rows()}
        for key, ref in refs.items():
            if ref.path is None:
                continue
            iid = reg.paths.get(str(Path(ref.path).resolve()))
            if iid is None:
                continue
            w, h = sizes.get(iid, (None, None))
            if ref.width and ref.height and w and h and (ref.width, ref.height) != (w, h):
                report.problems.append(
                    LabelProblem(
                        f"image {ref.file_name}",
                        f"export says {ref.width}x{ref.height} but the file is {w}x{h}; its labels are skipped",
                    )
                )
                continue
            image_ids[key] = iid
    report.n_images_found = len(image_ids)
    # labels of images that were not found were already reported per image
    records = [r for r in result.annotations if r.image_key in image_ids]
    store_labels(
        store, taxonomy, records, image_ids, report,
        add_missing_classes=add_missing_classes, default_annotator=annotator,
    )
    store.event("annotations.import", report.to_dict() | {"problems": len(report.problems)})
    return report


def _names(ref: ImageRef) -> list[str]:
    """The relative names an export gives an image (a Label Studio local-files URL names it in ``?d=``)."""
    try:
        url = urlparse(ref.file_name)
    except ValueError:  # "http://[::1": no URL, and no file either
        return [ref.file_name]
    if url.path.startswith("/data/local-files"):
        return parse_qs(url.query).get("d", [])
    return [ref.file_name]


def _real(base: Path, name: str) -> str | None:
    """The resolved path of ``name`` under ``base``; None for a name no file can have (NUL, lone surrogate)."""
    try:
        return os.path.realpath(base / name)
    except (ValueError, OSError):
        return None


def _found_after_all(reason: str, source_file: str, found: set[str]) -> bool:
    """Whether ``reason`` says a name escapes the data root and that name is an image found registered."""
    if not found or not reason.startswith(f"{ESCAPES}: "):
        return False
    source = Path(source_file)
    base = source if source.is_dir() else source.parent
    return _real(base, reason[len(ESCAPES) + 2:]) in found


def _registered_outside_root(store: Store, result: ImportResult) -> dict[str, Path]:
    """Images the export names outside its data root that this workspace has already registered.

    Readers refuse names that climb out of the data root, so an export never makes the
    workspace read a file it was not shown.  A file the workspace registered itself is
    no such file: our exports written without copying name their images relative to the
    export (``../../imgs/a.jpg``), and re-importing one finds them here.
    """
    missing = [ref for ref in result.images if ref.path is None]
    if not missing:
        return {}
    source = Path(result.source_file)
    base = source if source.is_dir() else source.parent
    cands = {ref.key: [r for name in _names(ref) if name and (r := _real(base, name)) is not None] for ref in missing}
    wanted = {c for cs in cands.values() for c in cs}
    registered = wanted & set(store.read("images", columns=["path"])["path"].to_list())  # real paths
    return {key: Path(next(c for c in cs if c in registered))
            for key, cs in cands.items() if any(c in registered for c in cs)}
