"""Agreement on boxes: match objects across annotators by IoU (Hungarian), then score.

For every pair of annotators and every image both looked at, boxes are matched
one-to-one by :func:`scipy.optimize.linear_sum_assignment`, maximising the total
IoU over the pairs at or above the threshold. From the matches: detection
agreement (F1), class agreement on matched objects, the IoU distribution. For
Krippendorff's alpha the boxes of an image are grouped into objects (annotators
in sorted order, each matched to the objects so far by the same rule against
the object's mean box); an annotator without a box in an object is missing.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field
from typing import Any, cast

import numpy as np
import polars as pl

from ._stats import alpha_detail, coincidence, kappa_detail, ratings_from_labels

__all__ = ["BoxAgreement", "box_agreement", "box_report", "iou_matrix", "match_boxes"]

NO_BOX = "<no box>"


def iou_matrix(a: Any, b: Any) -> np.ndarray:
    """IoU of every box in ``a`` with every box in ``b`` (pixel xyxy).

    Parameters
    ----------
    a, b
        ``(n, 4)`` and ``(k, 4)`` arrays of ``x0, y0, x1, y1``.

    Returns
    -------
    numpy.ndarray
        ``(n, k)``; 0 where the union is empty.

    Examples
    --------
    >>> iou_matrix([[0, 0, 2, 2]], [[1, 0, 3, 2], [5, 5, 6, 6]]).round(3).tolist()
    [[0.333, 0.0]]
    """
    a, b = np.asarray(a, dtype=np.float64).reshape(-1, 4), np.asarray(b, dtype=np.float64).reshape(-1, 4)
    w = np.clip(np.minimum(a[:, None, 2], b[None, :, 2]) - np.maximum(a[:, None, 0], b[None, :, 0]), 0, None)
    h = np.clip(np.minimum(a[:, None, 3], b[None, :, 3]) - np.maximum(a[:, None, 1], b[None, :, 1]), 0, None)
    inter = w * h
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    union = area_a[:, None] + area_b[None, :] - inter
    iou: np.ndarray = np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)
    return iou


def match_boxes(a: Any, b: Any, *, iou_threshold: float = 0.5) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One-to-one matching of two annotators' boxes on one image (Hungarian, by IoU).

    Among matchings that use only pairs with IoU >= ``iou_threshold``, the one
    with the largest total IoU.

    Parameters
    ----------
    a, b
        ``(n, 4)`` and ``(k, 4)`` xyxy boxes.
    iou_threshold
        Least IoU of a match, in (0, 1].

    Returns
    -------
    ia, ib, iou
        Indices into ``a`` and ``b`` of the matched pairs and their IoU.

    Examples
    --------
    >>> ia, ib, iou = match_boxes([[0, 0, 10, 10], [20, 20, 30, 30]], [[21, 20, 31, 30]])
    >>> ia.tolist(), ib.tolist(), iou.round(3).tolist()
    ([1], [0], [0.818])
    """
    from scipy.optimize import linear_sum_assignment

    if not 0 < iou_threshold <= 1:
        raise ValueError(f"iou_threshold must lie in (0, 1], got {iou_threshold}")
    iou = iou_matrix(a, b)
    if iou.size == 0:
        empty = np.empty(0, dtype=np.int64)
        return empty, empty, np.empty(0)
    gain = np.where(iou >= iou_threshold, iou, 0.0)
    ia, ib = linear_sum_assignment(gain, maximize=True)
    keep = gain[ia, ib] > 0
    return ia[keep], ib[keep], iou[ia[keep], ib[keep]]


@dataclass
class BoxAgreement:
    """Agreement on boxes; frames with fixed columns.

    Attributes
    ----------
    overall
        ``metric, value, n, reason``: ``alpha_matched`` (nominal alpha of the
        class over objects, missing where an annotator has no box),
        ``alpha_with_absent`` (the same with "no box" as a value for annotators
        who saw the image), ``mean_f1``, ``class_agreement``, ``mean_iou``.
    pairs
        Per annotator pair: ``annotator_a, annotator_b, n_images, n_a, n_b,
        n_matched, f1, class_agreement, class_kappa, mean_iou, median_iou, reason``.
    matches
        ``item, annotator_a, annotator_b, class_a, class_b, iou`` per matched pair.
    iou_summary
        ``annotator_a, annotator_b`` (both null: all pairs), ``n, mean, p10,
        p25, median, p75, p90`` of the matched IoUs.
    objects
        ``item, object, annotator, class_name, x0, y0, x1, y1``: each box with
        the object it was grouped into.
    meta
        Threshold, columns and notes.
    """

    overall: pl.DataFrame
    pairs: pl.DataFrame
    matches: pl.DataFrame
    iou_summary: pl.DataFrame
    objects: pl.DataFrame
    meta: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """Plain data: each frame as a list of row dicts, plus ``meta``.

        Examples
        --------
        >>> box_agreement(frame).to_dict()["overall"][0]["metric"]     # doctest: +SKIP
        'alpha_matched'
        """
        out: dict[str, Any] = {k: getattr(self, k).to_dicts()
                               for k in ("overall", "pairs", "matches", "iou_summary", "objects")}
        out["meta"] = dict(self.meta)
        return out


def _frames(labels: pl.DataFrame, item: str, annotator: str, label: str,
            coords: tuple[str, str, str, str]) -> tuple[pl.DataFrame, pl.DataFrame, list[str]]:
    notes = []
    missing = [c for c in (item, annotator, label, *coords) if c not in labels.columns]
    if missing:
        raise ValueError(f"columns {missing} not in the labels frame (have {labels.columns})")
    has_xy = pl.all_horizontal(pl.col(c).is_not_null() for c in coords)
    is_box = (pl.col("kind") == "box") if "kind" in labels.columns else has_xy
    seen = labels.select(pl.col(item).alias("item"), pl.col(annotator).cast(pl.String).alias("annotator")).unique()
    boxes = labels.filter(is_box).select(
        pl.col(item).alias("item"), pl.col(annotator).cast(pl.String).alias("annotator"),
        pl.col(label).cast(pl.String).alias("class_name"),
        *(pl.col(c).cast(pl.Float64).alias(k) for c, k in zip(coords, ("x0", "y0", "x1", "y1"))))
    n_null = boxes.filter(pl.any_horizontal(pl.col(k).is_null() for k in ("x0", "y0", "x1", "y1"))).height
    if n_null:
        raise ValueError(f"{n_null} boxes lack coordinates")
    bad = boxes.filter((pl.col("x1") < pl.col("x0")) | (pl.col("y1") < pl.col("y0"))
                       | ~pl.all_horizontal(pl.col(k).is_finite() for k in ("x0", "y0", "x1", "y1")))
    if bad.height:
        raise ValueError(f"{bad.height} boxes are not finite xyxy with x1 >= x0 and y1 >= y0")
    if boxes["class_name"].null_count():
        notes.append(f"{boxes['class_name'].null_count()} boxes without a class are kept as class null")
    return boxes, seen, notes


def box_agreement(labels: pl.DataFrame, *, iou_threshold: float = 0.5, item: str | None = None,
                  annotator: str = "annotator", label: str | None = None,
                  coords: tuple[str, str, str, str] = ("x0", "y0", "x1", "y1")) -> BoxAgreement:
    """Match boxes across annotators per image and report detection and class agreement.

    Parameters
    ----------
    labels
        Long frame: item, annotator, class and box columns. With a ``kind``
        column, ``kind == "box"`` rows are the boxes and every row says that its
        annotator looked at the image (so an image-level "ok" with no box counts
        as "found nothing"); without it, rows with coordinates are boxes and
        rows without mark an image looked at.
    iou_threshold
        Least IoU for two boxes to be the same object (default 0.5).
    item, annotator, label, coords
        Column names (item and label found as in :func:`ratings_from_labels`).

    Returns
    -------
    BoxAgreement

    Examples
    --------
    >>> df = pl.DataFrame({"item": ["a", "a", "a"], "annotator": ["x", "y", "y"],
    ...                    "class_name": ["dent", "dent", "stain"], "x0": [0.0, 1.0, 50.0],
    ...                    "y0": [0.0, 0.0, 50.0], "x1": [10.0, 11.0, 60.0], "y1": [10.0, 10.0, 60.0]})
    >>> box_agreement(df).pairs.select("n_matched", "f1").rows()
    [(1, 0.6666666666666666)]
    """
    from ._encode import _ITEM_COLS, _LABEL_COLS, _pick

    if not isinstance(labels, pl.DataFrame):
        raise TypeError(f"labels must be a polars DataFrame, got {type(labels).__name__}")
    if not 0 < iou_threshold <= 1:
        raise ValueError(f"iou_threshold must lie in (0, 1], got {iou_threshold}")
    item = item or _pick(labels.columns, _ITEM_COLS, "item")
    label = label or _pick(labels.columns, _LABEL_COLS, "label")
    boxes, seen, notes = _frames(labels, item, annotator, label, coords)
    names = sorted(seen["annotator"].unique().to_list())
    m = len(names)
    pos = {a: i for i, a in enumerate(names)}
    items = seen["item"].unique().sort()
    item_pos = pl.DataFrame({"item": items, "i": np.arange(items.len())})
    seen_ix = seen.join(item_pos, on="item").select("i", pl.col("annotator").replace_strict(pos).alias("a"))
    saw = np.zeros((items.len(), m), dtype=bool)
    saw[seen_ix["i"].to_numpy(), seen_ix["a"].to_numpy()] = True
    bx = boxes.join(item_pos, on="item").with_columns(pl.col("annotator").replace_strict(pos).alias("a")) \
        .sort("i", "a", maintain_order=True)
    ii, aa = bx["i"].to_numpy(), bx["a"].to_numpy()
    xy = bx.select("x0", "y0", "x1", "y1").to_numpy()
    cls = np.asarray(bx["class_name"].to_list(), dtype=object)
    starts = np.searchsorted(ii, np.arange(items.len() + 1))

    stat = np.zeros((m, m, 4))                       # n_images, n_a, n_b, n_matched
    match_rows: list[tuple[Any, ...]] = []
    obj_id = np.full(ii.size, -1, dtype=np.int64)
    next_obj = 0
    for i in range(items.len()):
        s, e = starts[i], starts[i + 1]
        who = np.flatnonzero(saw[i])
        own = {int(a): np.arange(s, e)[aa[s:e] == a] for a in who}
        for a, b in itertools.combinations(who.tolist(), 2):
            ra, rb = own[a], own[b]
            stat[a, b] += (1, ra.size, rb.size, 0)
            if ra.size and rb.size:
                ia, ib, iou = match_boxes(xy[ra], xy[rb], iou_threshold=iou_threshold)
                stat[a, b, 3] += ia.size
                match_rows += [(items[i], names[a], names[b], cls[ra[x]], cls[rb[y]], float(v))
                               for x, y, v in zip(ia, ib, iou)]
        reps: list[np.ndarray] = []                   # objects: members' boxes
        ids: list[int] = []
        for a in who.tolist():
            ra = own[a]
            if ra.size == 0:
                continue
            matched = np.zeros(ra.size, dtype=bool)
            if reps:
                ia, ib, _ = match_boxes(xy[ra], np.stack([r.mean(0) for r in reps]), iou_threshold=iou_threshold)
                for x, y in zip(ia, ib):
                    obj_id[ra[x]] = ids[y]
                    reps[y] = np.vstack([reps[y], xy[ra[x]]])
                    matched[x] = True
            for x in np.flatnonzero(~matched):
                obj_id[ra[x]] = next_obj
                reps.append(xy[ra[x]][None, :])
                ids.append(next_obj)
                next_obj += 1

    matches = pl.DataFrame(match_rows, orient="row", schema={
        "item": items.dtype, "annotator_a": pl.String, "annotator_b": pl.String, "class_a": pl.String,
        "class_b": pl.String, "iou": pl.Float64})
    pairs = _pair_frame(names, stat, matches)
    objects = bx.select("item", pl.Series("object", obj_id), "annotator", "class_name", "x0", "y0", "x1", "y1")
    overall = _overall(objects, saw, names, items, pairs, matches)
    return BoxAgreement(overall, pairs, matches, _iou_summary(matches), objects, {
        "iou_threshold": iou_threshold, "annotators": names, "n_images": items.len(), "n_boxes": int(ii.size),
        "columns": {"item": item, "annotator": annotator, "label": label, "coords": list(coords)},
        "object_grouping": "annotators in sorted order, Hungarian against each object's mean box",
        "notes": notes})


def _pair_frame(names: list[str], stat: np.ndarray, matches: pl.DataFrame) -> pl.DataFrame:
    rows = []
    for a, b in itertools.combinations(range(len(names)), 2):
        n_img, n_a, n_b, n_m = (int(v) for v in stat[a, b])
        mm = matches.filter((pl.col("annotator_a") == names[a]) & (pl.col("annotator_b") == names[b]))
        why = ("never looked at the same image" if n_img == 0 else
               "no boxes on their shared images" if n_a + n_b == 0 else
               "no matched boxes" if n_m == 0 else "")
        f1 = 2 * n_m / (n_a + n_b) if n_a + n_b else math.nan
        agree = kappa = mean = med = math.nan
        if n_m:
            ca, cb = mm["class_a"].to_numpy(), mm["class_b"].to_numpy()
            agree = float((ca == cb).mean())
            dom = sorted(set(ca.tolist()) | set(cb.tolist()), key=str)
            idx = {c: j for j, c in enumerate(dom)}
            conf = np.zeros((len(dom), len(dom)))
            np.add.at(conf, ([idx[c] for c in ca], [idx[c] for c in cb]), 1.0)
            kappa, kwhy = kappa_detail(conf, None)
            why = why or (f"class kappa: {kwhy}" if kwhy else "")
            # polars types mean()/median() as any literal; on a non-empty Float64 column they are floats
            mean, med = float(cast(float, mm["iou"].mean())), float(cast(float, mm["iou"].median()))
        rows.append((names[a], names[b], n_img, n_a, n_b, n_m, f1, agree, kappa, mean, med, why))
    return pl.DataFrame(rows, orient="row", schema={
        "annotator_a": pl.String, "annotator_b": pl.String, "n_images": pl.Int64, "n_a": pl.Int64,
        "n_b": pl.Int64, "n_matched": pl.Int64, "f1": pl.Float64, "class_agreement": pl.Float64,
        "class_kappa": pl.Float64, "mean_iou": pl.Float64, "median_iou": pl.Float64, "reason": pl.String})


def _iou_summary(matches: pl.DataFrame) -> pl.DataFrame:
    def agg(df: pl.DataFrame) -> pl.DataFrame:
        return df.select(pl.len().cast(pl.Int64).alias("n"), pl.col("iou").mean().alias("mean"),
                         *(pl.col("iou").quantile(q).alias(n) for q, n in
                           ((0.1, "p10"), (0.25, "p25"), (0.5, "median"), (0.75, "p75"), (0.9, "p90"))))
    pooled = agg(matches).select(pl.lit(None, pl.String).alias("annotator_a"),
                                 pl.lit(None, pl.String).alias("annotator_b"), pl.all())
    per = matches.group_by("annotator_a", "annotator_b", maintain_order=True).agg(
        pl.len().cast(pl.Int64).alias("n"), pl.col("iou").mean().alias("mean"),
        *(pl.col("iou").quantile(q).alias(n) for q, n in
          ((0.1, "p10"), (0.25, "p25"), (0.5, "median"), (0.75, "p75"), (0.9, "p90"))))
    return pl.concat([pooled, per.sort("annotator_a", "annotator_b")], how="vertical_relaxed")


def _overall(objects: pl.DataFrame, saw: np.ndarray, names: list[str], items: pl.Series,
             pairs: pl.DataFrame, matches: pl.DataFrame) -> pl.DataFrame:
    rows: list[tuple[str, float, int, str]] = []
    units = objects.select(pl.col("object").alias("u"), "annotator", "class_name")
    if units.height:
        r = ratings_from_labels(units, item="u", kind=None)
        a, why = alpha_detail(coincidence(r.counts()), np.arange(r.n_classes), "nominal")
        rows.append(("alpha_matched", a, r.n_items, why))
        # annotators who saw the image but drew nothing in the object: "no box"
        obj = objects.select("item", "object").unique()
        item_ix = pl.DataFrame({"item": items, "i": np.arange(items.len())})
        obj = obj.join(item_ix, on="item")
        filled = [units]
        oi, ou = obj["i"].to_numpy(), obj["object"].to_numpy()
        drew = set(zip(objects["object"].to_list(), objects["annotator"].to_list()))
        extra = [(int(u), names[x], NO_BOX) for i, u in zip(oi, ou) for x in np.flatnonzero(saw[i])
                 if (int(u), names[x]) not in drew]
        if extra:
            filled.append(pl.DataFrame(extra, orient="row", schema={"u": pl.Int64, "annotator": pl.String,
                                                                     "class_name": pl.String}))
        r2 = ratings_from_labels(pl.concat(filled, how="vertical_relaxed"), item="u", kind=None)
        a2, why2 = alpha_detail(coincidence(r2.counts()), np.arange(r2.n_classes), "nominal")
        rows.append(("alpha_with_absent", a2, r2.n_items, why2))
    else:
        rows += [("alpha_matched", math.nan, 0, "no boxes"), ("alpha_with_absent", math.nan, 0, "no boxes")]
    f1 = pairs.filter(pl.col("f1").is_not_nan())
    # mean() of a non-empty Float64 or Boolean column is a float (polars types it as any literal)
    rows.append(("mean_f1", float(cast(float, f1["f1"].mean())) if f1.height else math.nan, f1.height,
                 "" if f1.height else "no annotator pair with boxes on shared images"))
    n = matches.height
    same_class = float(cast(float, (matches["class_a"] == matches["class_b"]).mean())) if n else math.nan
    rows.append(("class_agreement", same_class, n, "" if n else "no matched boxes"))
    mean_iou = float(cast(float, matches["iou"].mean())) if n else math.nan
    rows.append(("mean_iou", mean_iou, n, "" if n else "no matched boxes"))
    return pl.DataFrame(rows, orient="row", schema={"metric": pl.String, "value": pl.Float64, "n": pl.Int64,
                                                   "reason": pl.String})


def box_report(frame: pl.DataFrame | None, boxes: bool | None, notes: list[str], **columns: Any) -> BoxAgreement | None:
    """Box agreement for the report: when asked, or (``boxes=None``) when the frame holds boxes.

    Without scipy (needed for the matching) an automatic run is skipped with a
    note; an explicit ``boxes=True`` raises ``ImportError``.
    """
    if frame is None or boxes is False:
        return None
    if boxes is None:
        cols = set(frame.columns)
        if "kind" not in cols or not {"x0", "y0", "x1", "y1"} <= cols or not (frame["kind"] == "box").any():
            return None
    import importlib.util

    if importlib.util.find_spec("scipy") is None:
        if boxes:
            raise ImportError("box agreement needs scipy (scipy.optimize.linear_sum_assignment)")
        notes.append("box agreement skipped: scipy is not installed")
        return None
    return box_agreement(frame, **columns)
