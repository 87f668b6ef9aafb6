"""Writing a dataset version out through a format writer."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import polars as pl

from ..formats._types import AnnotationRecord, ExportImage

if TYPE_CHECKING:
    from .versions import DatasetVersion
    from ..taxonomy.facade import Taxonomy

EXPORT_FORMATS = ("coco", "yolo")


def export_version(
    taxonomy: Taxonomy, version: DatasetVersion, path: Path, format: str, *, copy_images: bool = False
) -> Path:
    """Export ``version`` to ``path`` as COCO or YOLO; labels needing review are left out.

    Categories are the version's taxonomy classes (active ones, in id order), so
    class indices are stable across exports of versions under one taxonomy.
    """
    if format not in EXPORT_FORMATS:
        raise ValueError(f"cannot export as {format!r}; choose one of {EXPORT_FORMATS}")
    from ..formats import coco, yolo

    items = version.items()
    labels = version.labels().filter(pl.col("status") != "needs_review")
    classes = taxonomy.classes(version=version.taxonomy_version)
    active = classes.filter(pl.col("status") == "active") if "status" in classes.columns else classes
    categories = active["name"].to_list()
    for n in labels["class_name"].unique().drop_nulls().to_list():
        if n not in categories:
            categories.append(n)
    images = [
        ExportImage(
            key=r["image_id"], path=Path(r["path"]), file_name=Path(r["path"]).name,
            width=int(r["width"]), height=int(r["height"]), split=r["split"],
        )
        for r in items.iter_rows(named=True)
    ]
    records = [
        AnnotationRecord(
            image_key=r["image_id"],
            class_name=r["class_name"],
            kind=r["kind"],
            bbox=None if r["x0"] is None else (r["x0"], r["y0"], r["x1"], r["y1"]),
            annotator=r["annotator"],
            created_at=r["created_at"],
            attributes={"origin": r["origin"]} if r["origin"] == "review" else {},
        )
        for r in labels.iter_rows(named=True)
    ]
    writer = coco.write if format == "coco" else yolo.write
    path.mkdir(parents=True, exist_ok=True)
    return writer(path, images, records, categories, copy_images=copy_images)
