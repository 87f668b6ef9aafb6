"""Writing a dataset version out through a format writer (the one export path)."""

from __future__ import annotations

import json
import shutil
import uuid
import warnings
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any

import polars as pl

from ..formats import coco, cvat, labelstudio, yolo
from ..formats._types import AnnotationRecord, ExportImage
from ..formats._writing import CopyImages, check_copy_images
from ..images._objects import is_uri, read_bytes
from ._verify import MissingImagesError, require_files

if TYPE_CHECKING:
    from .versions import DatasetVersion
    from ..taxonomy.facade import Taxonomy

#: Formats a dataset version can be written as (each has a ``write`` in ``formats/``).
EXPORT_FORMATS = ("coco", "yolo", "cvat", "labelstudio")
_WRITERS = {"coco": coco.write, "yolo": yolo.write, "cvat": cvat.write, "labelstudio": labelstudio.write}
_Shape = tuple[list[list[float]] | None, dict[str, Any] | None, dict[str, Any]]


class ExportWarning(UserWarning):
    """An export left something of the version out (labels needing review)."""


def export_version(
    taxonomy: Taxonomy,
    version: DatasetVersion,
    path: Path,
    format: str,
    *,
    copy_images: CopyImages = "link",
    include_needs_review: bool = False,
    **options: Any,
) -> Path:
    """Export ``version`` to ``path`` in ``format``; labels needing review are left out.

    The export names its images relative to itself.  ``copy_images="link"`` (the
    default) hard-links the images into it (a copy where the file system cannot link;
    no bytes duplicated where it can), ``True`` copies them: either way the export is
    self-contained, moves as one folder, trains as it is (YOLO: Ultralytics' ``images/<split>``
    beside ``labels/<split>``) and re-imports into any workspace with default arguments.
    ``False`` copies nothing and names the images by paths that climb out of the export
    (``../../imgs/a.jpg``): a workspace that registered those images re-imports it as
    it is; any other import needs ``data_root`` set to a folder holding both the export
    and the images (readers never follow paths out of their data root).
    Images that live in a bucket (``s3://``) are downloaded into the export (parallel
    GETs; with either ``"link"`` or ``True`` the export holds its own copy of the bytes);
    ``False`` is refused for them (a file export cannot point into a bucket).

    Labels needing review (``status == "needs_review"``, e.g. of a class that was
    split) are left out unless ``include_needs_review=True`` (then written under their
    stored class name); leaving any out warns with an :class:`ExportWarning` that
    gives the count.

    Categories are the version's taxonomy classes (active ones, in id order), so
    class indices are stable across exports of versions under one taxonomy.  Labels
    keep their annotator, time, polygon and attributes (reviewed ones get
    ``attributes["origin"] = "review"``); the writer is told the version's id and name
    (``meta``), which it writes into the export.  ``options`` go to the writer (e.g.
    ``as_annotations`` for Label Studio).

    Examples
    --------
    >>> export_version(ws.taxonomy, ws.version("baseline"), Path("out/cvat"), "cvat")  # doctest: +SKIP
    PosixPath('out/cvat/annotations.xml')
    >>> export_version(None, None, Path("out"), "pascal")
    Traceback (most recent call last):
    ...
    ValueError: cannot export as 'pascal'; choose one of coco, yolo, cvat, labelstudio
    """
    if format not in EXPORT_FORMATS:
        raise ValueError(f"cannot export as {format!r}; choose one of {', '.join(EXPORT_FORMATS)}")
    check_copy_images(copy_images)

    items = version.items().sort("split", "path", nulls_last=True)
    in_bucket = [p for p in items["path"].to_list() if is_uri(p)]
    if in_bucket and not copy_images:
        raise ValueError(
            f"{len(in_bucket)} of the version's images live in a bucket (e.g. {in_bucket[0]}), which an export "
            "cannot point at; export with copy_images='link' (the default) or True to download them into it")
    if copy_images:  # copying or linking needs every file: say which are missing before writing anything
        require_files(items, version.id)
    else:
        try:
            require_files(items, version.id)
        except MissingImagesError as error:
            warnings.warn(f"{error} (the export points at them anyway)", ExportWarning, stacklevel=3)
    labels = version.labels()
    if include_needs_review:
        labels = _old_class_names(taxonomy, version, labels)
    else:
        kept = labels.filter((pl.col("status") != "needs_review") | pl.col("status").is_null())
        left_out = labels.height - kept.height
        labels = kept
        if left_out:
            warnings.warn(
                f"{left_out} of the version's {left_out + labels.height} labels need review (e.g. of a split "
                f"class) and were left out of the export; review them, or pass include_needs_review=True "
                f"to write them under their old class name",
                ExportWarning, stacklevel=3,
            )
    classes = taxonomy.classes(version=version.taxonomy_version)
    active = classes.filter(pl.col("status") == "active") if "status" in classes.columns else classes
    categories = active["name"].to_list()
    for n in labels["class_name"].unique().drop_nulls().sort().to_list():
        if n not in categories:
            categories.append(n)
    rows = list(items.iter_rows(named=True))
    shapes = _shapes(version, labels)
    records = []
    for r in labels.iter_rows(named=True):
        polygon, rle, attrs = shapes.get(r["label_id"], (None, None, {}))
        if r["origin"] == "review":
            attrs = {**attrs, "origin": "review"}
        records.append(AnnotationRecord(
            image_key=r["image_id"],
            class_name=r["class_name"],
            kind=r["kind"],
            bbox=None if r["x0"] is None else (r["x0"], r["y0"], r["x1"], r["y1"]),
            polygon=polygon if r["kind"] == "box" else None,
            rle=rle if r["kind"] == "box" else None,
            annotator=r["annotator"],
            created_at=r["created_at"],
            attributes=attrs,
        ))
    meta = {"dataset_version": version.id, "dataset_name": version.name, "taxonomy_version": version.taxonomy_version}
    path.mkdir(parents=True, exist_ok=True)
    stage = path / f".cvops-download-{uuid.uuid4().hex[:12]}"
    try:
        local = _download(rows, stage) if in_bucket else {}
        images = [
            ExportImage(
                key=r["image_id"], path=local.get(r["image_id"]) or Path(r["path"]),
                file_name=r["path"].rsplit("/", 1)[-1] if is_uri(r["path"]) else Path(r["path"]).name,
                width=int(r["width"]), height=int(r["height"]), split=r["split"],
            )
            for r in rows
        ]
        # downloaded files are the export's own: linking them in is a copy that writes the bytes once
        placing: CopyImages = "link" if copy_images is True and len(in_bucket) == len(rows) else copy_images
        out: Path = _WRITERS[format](path, images, records, categories, copy_images=placing, meta=meta,
                                     **options)
    finally:
        shutil.rmtree(stage, ignore_errors=True)
    return out


def _download(rows: list[dict[str, Any]], stage: Path, workers: int = 16) -> dict[str, Path]:
    """Download the ``s3://`` images of ``rows`` into ``stage`` (parallel GETs): image_id -> local file."""
    todo = {r["image_id"]: r["path"] for r in rows if is_uri(r["path"])}
    stage.mkdir(parents=True, exist_ok=True)

    def fetch(item: tuple[str, str]) -> tuple[str, Path]:
        image_id, uri = item
        name = uri.rsplit("/", 1)[-1]
        target = stage / f"{image_id}{Path(name).suffix}"
        try:
            target.write_bytes(read_bytes(uri))
        except OSError as error:
            raise MissingImagesError(f"cannot export: image {image_id[:12]} at {uri} could not be downloaded "
                                     f"({error.strerror or error})", pl.DataFrame(
                                         {"image_id": [image_id], "path": [uri], "recorded_path": [uri]})) from None
        return image_id, target

    with ThreadPoolExecutor(max(1, min(workers, len(todo)))) as pool:
        return dict(pool.map(fetch, todo.items()))


def _old_class_names(taxonomy: Taxonomy, version: DatasetVersion, labels: pl.DataFrame) -> pl.DataFrame:
    """Labels with no class (needing review) named by the class they were made with."""
    need = labels.filter(pl.col("class_name").is_null() & pl.col("label_id").is_not_null())
    if need.height == 0:
        return labels
    anns = version.store.read("annotations", columns=["ann_id", "class_id"])
    old = dict(anns.filter(pl.col("ann_id").is_in(need["label_id"].implode())).iter_rows())
    names: dict[str, str] = {}
    for tv in need["label_taxonomy_version"].unique().drop_nulls().to_list():
        names.update(dict(taxonomy.classes(version=tv).select("id", "name").iter_rows()))
    fill = {lid: names.get(old.get(lid) or "", "needs_review") for lid in need["label_id"].to_list()}
    return labels.with_columns(
        pl.coalesce(pl.col("class_name"), pl.col("label_id").replace_strict(fill, default=None, return_dtype=pl.String))
    )


def _shapes(version: DatasetVersion, labels: pl.DataFrame) -> dict[str, _Shape]:
    """Polygon, RLE mask and attributes of the stored annotations the version's labels came from (by ann_id)."""
    ids = labels.filter(pl.col("origin") != "review")["label_id"].drop_nulls()
    if ids.len() == 0:
        return {}
    anns = version.store.read("annotations", columns=["ann_id", "polygon", "rle", "attributes"])
    anns = anns.filter(pl.col("ann_id").is_in(ids.implode()))
    out: dict[str, _Shape] = {}
    for ann_id, polygon, rle, attributes in anns.iter_rows():
        attrs = json.loads(attributes) if attributes else {}
        out[ann_id] = (polygon or None, json.loads(rle) if rle else None, attrs if isinstance(attrs, dict) else {})
    return out


def selected_image_ids(selection: Any) -> list[str]:
    """Image ids of a selection that is not a dataset version, in order, without repeats.

    A selection is a polars frame with an ``image_id`` column (``ws.review_queue()``,
    ``ws.images().filter(...)``), a polars Series of ids, an object with a ``selected``
    list of ids (the drift view), or any iterable of image ids.

    Examples
    --------
    >>> selected_image_ids(pl.DataFrame({"image_id": ["b", "a", "b"], "disagreement": [1.0, 0.5, 1.0]}))
    ['b', 'a']
    >>> selected_image_ids(["a", "c"])
    ['a', 'c']
    >>> selected_image_ids(pl.DataFrame({"path": ["x.png"]}))
    Traceback (most recent call last):
    ...
    ValueError: a frame to export needs an 'image_id' column (columns: path)
    """
    if isinstance(selection, pl.DataFrame):
        if "image_id" not in selection.columns:
            raise ValueError(f"a frame to export needs an 'image_id' column (columns: {', '.join(selection.columns)})")
        ids: Any = selection["image_id"].to_list()
    elif isinstance(selection, pl.Series):
        ids = selection.to_list()
    elif isinstance(selection, (str, bytes)):
        raise TypeError("a single string names a dataset version; pass image ids as a list")
    elif hasattr(selection, "selected"):
        ids = list(selection.selected)
    else:
        ids = list(selection)
    return list(dict.fromkeys(str(i) for i in ids if i is not None))
