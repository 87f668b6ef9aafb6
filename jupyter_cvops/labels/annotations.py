"""Annotation rows: validation, content-derived ids, and building them from records.

An annotation is one label by one annotator on one image: an image-level class
(``kind="image"``) or an object (``kind="box"``, pixel xyxy, optional polygon/RLE).
Ids are derived from content, so importing the same export twice adds nothing.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

import polars as pl
import xxhash

from ..formats._common import OVERFLOW_TOLERANCE_PX, check_box
from ..formats._types import AnnotationRecord, Kind

KINDS = ("image", "box")
__all__ = ["KINDS", "OVERFLOW_TOLERANCE_PX", "AnnotationBatch", "LabelProblem", "ann_id", "build_rows",
           "check_box", "records_from_frame"]


@dataclass
class LabelProblem:
    """Why one label was not stored."""

    record: str
    reason: str


@dataclass
class AnnotationBatch:
    """Rows ready for the ``annotations`` table plus the labels that were refused."""

    rows: list[dict[str, Any]] = field(default_factory=list)
    problems: list[LabelProblem] = field(default_factory=list)


def ann_id(
    image_id: str,
    annotator: str | None,
    created_at: datetime | None,
    class_name: str,
    kind: str,
    box: Sequence[float] | None,
    extra: str = "",
) -> str:
    """Content-derived annotation id (XXH3-128 of the label's defining fields).

    Examples
    --------
    >>> a = ann_id("ab" * 16, "ana", None, "dent", "box", (1, 2, 3, 4))
    >>> a == ann_id("ab" * 16, "ana", None, "dent", "box", (1.0, 2.0, 3.0, 4.0))
    True
    """
    b = "" if box is None else ",".join(f"{float(v):.4f}" for v in box)
    t = "" if created_at is None else _utc(created_at).isoformat()
    key = "\x1f".join([image_id, annotator or "", t, class_name, kind, b, extra])
    return xxhash.xxh3_128_hexdigest(key.encode())


def _utc(t: datetime) -> datetime:
    return t.replace(tzinfo=timezone.utc) if t.tzinfo is None else t.astimezone(timezone.utc)


def build_rows(
    records: Sequence[AnnotationRecord],
    image_ids: Mapping[str, str],
    image_sizes: Mapping[str, tuple[int, int]],
    class_ids: Mapping[str, str],
    *,
    taxonomy_version: int,
    source_file: str,
    import_batch: str,
    default_annotator: str,
    default_time: datetime,
) -> AnnotationBatch:
    """Turn format-neutral records into ``annotations`` rows, refusing bad ones per record.

    ``image_ids`` maps an export's image key to the registered image id;
    ``image_sizes`` maps image id to ``(width, height)``; ``class_ids`` maps class
    names to taxonomy ids.

    Examples
    --------
    >>> from jupyter_cvops.formats._types import AnnotationRecord
    >>> recs = [AnnotationRecord("k1", "dent", "box", (1, 1, 5, 5), annotator="ana")]
    >>> out = build_rows(recs, {"k1": "i" * 32}, {"i" * 32: (10, 10)}, {"dent": "c1"},
    ...     taxonomy_version=1, source_file="f.json", import_batch="b",
    ...     default_annotator="x", default_time=datetime(2026, 1, 1))
    >>> len(out.rows), out.rows[0]["class_id"]
    (1, 'c1')
    """
    out = AnnotationBatch()
    seen: set[str] = set()
    for rec in records:
        where = rec.record or f"image {rec.image_key}"
        image_id = image_ids.get(rec.image_key)
        if image_id is None:
            out.problems.append(LabelProblem(where, f"image {rec.image_key!r} is not registered"))
            continue
        if rec.kind not in KINDS:
            out.problems.append(LabelProblem(where, f"unknown label kind {rec.kind!r} (expected {KINDS})"))
            continue
        cid = class_ids.get(rec.class_name)
        if cid is None:
            out.problems.append(LabelProblem(where, f"unknown class {rec.class_name!r}"))
            continue
        attrs = dict(rec.attributes)
        box: tuple[float, float, float, float] | None = None
        if rec.kind == "box":
            if rec.bbox is None:
                out.problems.append(LabelProblem(where, "object label without a box"))
                continue
            w, h = image_sizes.get(image_id, (None, None))
            box, reason, clipped = check_box(rec.bbox, w, h)
            if box is None:
                out.problems.append(LabelProblem(where, reason or "invalid box"))
                continue
            if clipped:
                attrs["clipped"] = True
        annotator = rec.annotator or default_annotator
        created = _utc(rec.created_at) if rec.created_at is not None else _utc(default_time)
        # an export without times must give the same ids when imported again later
        aid = ann_id(image_id, annotator, rec.created_at, rec.class_name, rec.kind, box,
                     json.dumps(rec.polygon) if rec.polygon else "")
        if aid in seen:
            out.problems.append(LabelProblem(where, "duplicate of another label in this import"))
            continue
        seen.add(aid)
        out.rows.append(
            {
                "ann_id": aid,
                "image_id": image_id,
                "annotator": annotator,
                "created_at": created,
                "taxonomy_version": taxonomy_version,
                "class_id": cid,
                "kind": rec.kind,
                "x0": None if box is None else box[0],
                "y0": None if box is None else box[1],
                "x1": None if box is None else box[2],
                "y1": None if box is None else box[3],
                "polygon": rec.polygon,
                "rle": json.dumps(rec.rle) if rec.rle is not None else None,
                "attributes": json.dumps(attrs, sort_keys=True, default=str) if attrs else None,
                "source_file": source_file,
                "import_batch": import_batch,
            }
        )
    return out


def records_from_frame(frame: pl.DataFrame) -> list[AnnotationRecord]:
    """Records from a polars frame with columns ``image_id, annotator, created_at,
    class_name, kind`` and optional ``x0, y0, x1, y1`` (the image id is the key).

    Examples
    --------
    >>> df = pl.DataFrame({"image_id": ["a"], "annotator": ["ana"], "class_name": ["ok"],
    ...                    "kind": ["image"]})
    >>> records_from_frame(df)[0].class_name
    'ok'
    """
    required = {"image_id", "class_name"}
    missing = required - set(frame.columns)
    if missing:
        raise ValueError(f"annotation frame lacks columns {sorted(missing)}")
    has_box = all(c in frame.columns for c in ("x0", "y0", "x1", "y1"))
    out: list[AnnotationRecord] = []
    for i, r in enumerate(frame.iter_rows(named=True)):
        kind: Kind = r.get("kind") or ("box" if has_box and r.get("x0") is not None else "image")
        bbox = None
        if has_box and r.get("x0") is not None:
            bbox = (r["x0"], r["y0"], r["x1"], r["y1"])
        out.append(
            AnnotationRecord(
                image_key=r["image_id"],
                class_name=r["class_name"],
                kind=kind,
                bbox=bbox,
                annotator=r.get("annotator"),
                created_at=r.get("created_at"),
                record=f"row {i}",
            )
        )
    return out
