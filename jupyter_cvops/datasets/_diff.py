"""Label-level diff between two dataset versions (pure, on frozen label frames)."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import polars as pl

DIFF_SCHEMA: dict[str, pl.DataType | type[pl.DataType]] = {
    "change": pl.String,
    "image_id": pl.String,
    "annotator": pl.String,
    "kind": pl.String,
    "class_before": pl.String,
    "class_after": pl.String,
    "box_before": pl.List(pl.Float64),
    "box_after": pl.List(pl.Float64),
    "status_before": pl.String,
    "status_after": pl.String,
}
#: Two boxes of one annotator on one image are "the same object, changed" at this IoU.
MATCH_IOU = 0.5


def _iou(a: list[float] | None, b: list[float] | None) -> float:
    if a is None or b is None:
        return 0.0
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def _box(r: dict[str, Any]) -> list[float] | None:
    return None if r["x0"] is None else [r["x0"], r["y0"], r["x1"], r["y1"]]


def _row(change: str, old: dict[str, Any] | None, new: dict[str, Any] | None) -> dict[str, Any]:
    ref = new if new is not None else old
    assert ref is not None
    return {
        "change": change,
        "image_id": ref["image_id"],
        "annotator": ref["annotator"],
        "kind": ref["kind"],
        "class_before": None if old is None else old["class_name"],
        "class_after": None if new is None else new["class_name"],
        "box_before": None if old is None else _box(old),
        "box_after": None if new is None else _box(new),
        "status_before": None if old is None else old["status"],
        "status_after": None if new is None else new["status"],
    }


def _same(a: dict[str, Any], b: dict[str, Any]) -> bool:
    return (
        a["class_id"] == b["class_id"]
        and a["class_name"] == b["class_name"]
        and a["status"] == b["status"]
        and _box(a) == _box(b)
    )


def diff_labels(old: pl.DataFrame, new: pl.DataFrame) -> pl.DataFrame:
    """Changes from ``old`` labels to ``new`` labels.

    Labels are matched first by their source label id, then per (image, annotator,
    kind): image-level labels pair directly, boxes pair greedily by IoU >= 0.5. A
    pair that differs in class, status or box is ``changed``; the rest are
    ``added`` or ``removed``.

    Examples
    --------
    >>> cols = dict(image_id=["i"], label_id=["a"], annotator=["ana"], origin=["annotator"],
    ...             status=["ok"], class_id=["c1"], class_name=["dent"], kind=["image"],
    ...             x0=[None], y0=[None], x1=[None], y1=[None])
    >>> old = pl.DataFrame(cols, schema_overrides={c: pl.Float64 for c in ("x0", "y0", "x1", "y1")})
    >>> new = old.with_columns(label_id=pl.lit("b"), class_id=pl.lit("c2"), class_name=pl.lit("scratch"))
    >>> diff_labels(old, new).select("change", "class_before", "class_after").row(0)
    ('changed', 'dent', 'scratch')
    """
    old_rows = {r["label_id"]: r for r in old.iter_rows(named=True)}
    new_rows = {r["label_id"]: r for r in new.iter_rows(named=True)}
    out: list[dict[str, Any]] = []
    for lid in sorted(old_rows.keys() & new_rows.keys()):
        a, b = old_rows[lid], new_rows[lid]
        if not _same(a, b):
            out.append(_row("changed", a, b))
    rest_old: dict[tuple[str, str, str], list[dict[str, Any]]] = defaultdict(list)
    rest_new: dict[tuple[str, str, str], list[dict[str, Any]]] = defaultdict(list)
    for lid in sorted(old_rows.keys() - new_rows.keys()):
        r = old_rows[lid]
        rest_old[(r["image_id"], r["annotator"], r["kind"])].append(r)
    for lid in sorted(new_rows.keys() - old_rows.keys()):
        r = new_rows[lid]
        rest_new[(r["image_id"], r["annotator"], r["kind"])].append(r)
    for key in sorted(rest_old.keys() | rest_new.keys()):
        olds, news = rest_old.get(key, []), rest_new.get(key, [])
        if key[2] == "image":
            pairs = list(zip(olds, news))
            used_o, used_n = set(range(len(pairs))), set(range(len(pairs)))
        else:
            cand = sorted(
                ((_iou(_box(o), _box(n)), i, j) for i, o in enumerate(olds) for j, n in enumerate(news)),
                reverse=True,
            )
            pairs, used_o, used_n = [], set(), set()
            for iou, i, j in cand:
                if iou < MATCH_IOU:
                    break
                if i not in used_o and j not in used_n:
                    used_o.add(i)
                    used_n.add(j)
                    pairs.append((olds[i], news[j]))
        for a, b in pairs:
            if not _same(a, b):
                out.append(_row("changed", a, b))
        out.extend(_row("removed", o, None) for i, o in enumerate(olds) if i not in used_o)
        out.extend(_row("added", None, n) for j, n in enumerate(news) if j not in used_n)
    return pl.DataFrame(out, schema=DIFF_SCHEMA).sort("image_id", "annotator", "change")
