"""Review queue and decisions: find disputed images, record what a reviewer decided.

Decisions are appended, never overwritten: a later decision on an image supersedes
an earlier one (``clear`` undoes), and the whole history stays readable. The next
snapshot uses the latest decision (see :mod:`jupyter_cvops.datasets`).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

import polars as pl

from ..labels._resolution import STATEFUL, latest_reviews
from ._queue import disagreement
from .._store import WorkspaceError, current_user, now_utc

if TYPE_CHECKING:
    from ..workspace import Workspace

DECISIONS = ("accept", "set", "flag", "comment", "clear")
FLAG_REASONS = ("bad_image", "out_of_scope", "other")


def review_queue(
    ws: Workspace,
    *,
    filter: pl.Expr | None = None,
    include_reviewed: bool = False,
    min_annotators: int = 1,
    disputed_only: bool = False,
    predictions: pl.DataFrame | str | None = None,
    below: float = 0.6,
    model: str | None = None,
    since: datetime | date | str | None = None,
    until: datetime | date | str | None = None,
    source: str | None = None,
) -> pl.DataFrame:
    """Images ranked by annotator disagreement (most disputed first), or the images behind predictions.

    Columns: image_id, path, width, height, source, captured_at, n_annotators,
    annotators, verdicts, majority, majority_annotators, disagreement, entropy,
    disputed, classes (every class any annotator used), first_label_at,
    last_label_at, week, reviewed, last_decision. ``filter`` is any polars expression
    over those columns, e.g. ``pl.col("classes").list.contains("dent")`` or
    ``pl.col("annotators").list.contains("chloe") & (pl.col("week") >= 5)``.

    Closing the loop from production: ``predictions=`` a frame of logged predictions
    (``ws.predictions().filter(pl.col("score") < 0.6)``) or a shadow report's
    ``disagreements`` queues their images, shadow disagreements first, then lowest
    confidence, with the same columns (images nobody labelled have no annotators and
    disagreement 0) plus shadow_disagreement, score (the image's lowest), n_predictions,
    predicted_classes, candidate_classes and prediction_ids. ``predictions="low_confidence"``
    takes the logged predictions scoring under ``below`` (of ``model``, from ``since``
    to ``until``, of ``source``; images logged by id only are left out). Reviewed images
    drop out unless ``include_reviewed``.

    Examples
    --------
    >>> q = review_queue(ws, disputed_only=True)               # doctest: +SKIP
    >>> q.select("path", "verdicts", "disagreement").head()    # doctest: +SKIP
    >>> review_queue(ws, predictions="low_confidence", below=0.6, since="2026-11-01")  # doctest: +SKIP
    >>> review_queue(ws, predictions=ws.shadow("defect-clf").disagreements)           # doctest: +SKIP
    """
    if predictions is not None:
        from ._predictions import prediction_queue

        labelled = review_queue(ws, include_reviewed=True) if ws.store.count("annotations") else None
        q = prediction_queue(ws, predictions, include_reviewed=include_reviewed, below=below, model=model,
                             since=since, until=until, source=source, labelled=labelled)
        if min_annotators > 1:
            q = q.filter(pl.col("n_annotators") >= min_annotators)
        if disputed_only:
            q = q.filter(pl.col("disputed"))
        return q if filter is None else q.filter(filter)
    unused = {"model": model, "since": since, "until": until, "source": source}
    given = [k for k, v in unused.items() if v is not None]
    if given:
        raise ValueError(f"{', '.join(given)} apply to predictions= only")
    anns = ws.annotations()
    if anns.height == 0:
        raise WorkspaceError("nothing to review: the workspace has no labels yet")
    score = disagreement(anns)
    per_image = anns.group_by("image_id").agg(
        pl.col("annotator").unique().sort().alias("annotators"),
        pl.col("class_name").drop_nulls().unique().sort().alias("classes"),
        pl.col("created_at").min().alias("first_label_at"),
        pl.col("created_at").max().alias("last_label_at"),
    )
    images = ws.images().select("image_id", "path", "width", "height", "source", "captured_at")
    decided = latest_reviews(ws.store.read("reviews")).group_by("image_id").agg(
        pl.col("decision").first().alias("last_decision"))
    q = (
        score.join(per_image, on="image_id")
        .join(images, on="image_id")
        .join(decided, on="image_id", how="left")
        .with_columns(
            pl.col("last_decision").is_not_null().alias("reviewed"),
            pl.col("first_label_at").dt.truncate("1w").alias("week"),
        )
    )
    if not include_reviewed:
        q = q.filter(~pl.col("reviewed"))
    if min_annotators > 1:
        q = q.filter(pl.col("n_annotators") >= min_annotators)
    if disputed_only:
        q = q.filter(pl.col("disputed"))
    if filter is not None:
        q = q.filter(filter)
    cols = ["image_id", "path", "width", "height", "source", "captured_at", "n_annotators", "annotators",
            "verdicts", "majority", "majority_annotators", "disagreement", "entropy", "disputed", "classes",
            "first_label_at", "last_label_at", "week", "reviewed", "last_decision"]
    return q.select(cols).sort(["disagreement", "entropy", "image_id"], descending=[True, True, False])


def _labels_of(ws: Workspace, image_id: str) -> pl.DataFrame:
    anns = ws.annotations()
    return anns.filter(pl.col("image_id") == image_id)


def decide(
    ws: Workspace,
    image_id: str,
    decision: str,
    *,
    annotator: str | None = None,
    class_name: str | None = None,
    boxes: Sequence[tuple[str, Sequence[float]]] | None = None,
    reason: str | None = None,
    comment: str | None = None,
    reviewer: str | None = None,
    at: datetime | None = None,
) -> str:
    """Record one review decision on an image; returns its decision id.

    Parameters
    ----------
    decision
        ``"accept"`` one annotator's labels (``annotator=``; ``"majority"`` picks the
        first annotator with the majority verdict), ``"set"`` a new label
        (``class_name=`` for an image-level class and/or ``boxes=[(class, xyxy), ...]``),
        ``"flag"`` the image (``reason=`` bad_image | out_of_scope | other: flagged
        images are left out of snapshots), ``"comment"`` (never changes labels), or
        ``"clear"`` (undo: back to the annotators' labels).

    Every row stores the reviewer, time, current taxonomy version and the ids of
    the annotator labels it resolved.

    Examples
    --------
    >>> decide(ws, image_id, "accept", annotator="majority", reviewer="rita")   # doctest: +SKIP
    >>> decide(ws, image_id, "set", class_name="dent", comment="shallow dent")  # doctest: +SKIP
    >>> decide(ws, image_id, "flag", reason="bad_image")                        # doctest: +SKIP
    """
    if decision not in DECISIONS:
        raise ValueError(f"unknown decision {decision!r}; choose one of {DECISIONS}")
    labels = _labels_of(ws, image_id)
    if ws.store.count("images", f"image_id = '{image_id}'") == 0:
        raise WorkspaceError(f"image {image_id!r} is not registered in this workspace")
    tax = ws.taxonomy
    reviewer = reviewer or current_user()
    base = {
        "decision_id": uuid.uuid4().hex,
        "image_id": image_id,
        "reviewer": reviewer,
        "created_at": at or now_utc(),
        "taxonomy_version": tax.version,
        "decision": decision,
        "resolved_ann_ids": labels["ann_id"].to_list(),
        "comment": comment,
    }
    rows: list[dict[str, Any]] = []
    if decision == "accept":
        if annotator is None:
            raise ValueError("accept needs annotator= (a name, or 'majority')")
        if annotator == "majority":
            row = disagreement(labels).row(0, named=True) if labels.height else None
            if row is None:
                raise WorkspaceError(f"image {image_id} has no labels to accept")
            annotator = row["majority_annotators"][0]
        chosen = labels.filter(pl.col("annotator") == annotator)
        if chosen.height == 0:
            known = sorted(labels["annotator"].unique().to_list())
            raise WorkspaceError(f"{annotator!r} did not label image {image_id}; annotators: {known}")
        for r in chosen.iter_rows(named=True):
            rows.append({**base, "class_id": r["class_id"], "kind": r["kind"], "x0": r["x0"], "y0": r["y0"],
                         "x1": r["x1"], "y1": r["y1"], "accepted_annotator": annotator})
    elif decision == "set":
        if class_name is None and not boxes:
            raise ValueError("set needs class_name= and/or boxes=[(class_name, (x0, y0, x1, y1)), ...]")
        if class_name is not None:
            rows.append({**base, "class_id": tax.id_of(class_name), "kind": "image"})
        for cls, box in boxes or []:
            x0, y0, x1, y1 = (float(v) for v in box)
            if x1 <= x0 or y1 <= y0:
                raise ValueError(f"box {box} has negative or zero size")
            rows.append({**base, "class_id": tax.id_of(cls), "kind": "box", "x0": x0, "y0": y0, "x1": x1, "y1": y1})
    elif decision == "flag":
        if reason not in FLAG_REASONS:
            raise ValueError(f"flag needs reason= one of {FLAG_REASONS}")
        rows.append({**base, "reason": reason})
    else:  # comment, clear
        if decision == "comment" and not comment:
            raise ValueError("comment needs comment=")
        rows.append(dict(base))
    for r in rows:
        r["review_id"] = uuid.uuid4().hex
    ws.store.append("reviews", rows)
    ws.store.event("review." + decision, {"image_id": image_id, "decision_id": base["decision_id"],
                                          "rows": len(rows)}, actor=reviewer)
    return str(base["decision_id"])


def review_history(ws: Workspace, image_id: str | None = None) -> pl.DataFrame:
    """Every decision (oldest first) with class names under the current taxonomy and
    ``superseded`` telling whether a later state-changing decision replaced it.

    Examples
    --------
    >>> review_history(ws, image_id).select("created_at", "reviewer", "decision", "class_name")  # doctest: +SKIP
    """
    rev = ws.store.read("reviews")
    if image_id is not None:
        rev = rev.filter(pl.col("image_id") == image_id)
    if rev.height == 0:
        return rev.with_columns(pl.lit(None, pl.String).alias("class_name"), pl.lit(None, pl.Boolean).alias("superseded"))
    names = ws.taxonomy.resolve(rev["class_id"], rev["taxonomy_version"]) if ws.taxonomy.version else None
    rev = rev.with_columns(
        (names["class_name"] if names is not None else pl.lit(None, pl.String)).alias("class_name"))
    current = set(latest_reviews(rev)["decision_id"].to_list())
    any_state = rev.filter(pl.col("decision").is_in(STATEFUL))
    last_state = set(any_state.sort("created_at").group_by("image_id").agg(pl.col("decision_id").last())["decision_id"])
    return rev.with_columns(
        (pl.col("decision").is_in(STATEFUL) & ~pl.col("decision_id").is_in(list(current | last_state)))
        .alias("superseded")
    ).sort("created_at")
