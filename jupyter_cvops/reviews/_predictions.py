"""Review queues from production: predictions (low confidence, shadow disagreements) to the images to review.

:func:`rank_predictions` is pure: logged predictions (``ws.predictions()`` rows, or a shadow report's
``disagreements``) become one row per image, ranked shadow disagreements first, then lowest
confidence. :func:`prediction_queue` gives those images the columns of the annotator queue
(:func:`~jupyter_cvops.reviews.review_queue`), so the review widget takes the frame as it is:
images seen only through predictions have no annotators (empty lists, disagreement 0).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import TYPE_CHECKING, Any

import polars as pl

from .._store import WorkspaceError

if TYPE_CHECKING:
    from ..workspace import Workspace

__all__ = ["PREDICTION_COLUMNS", "QUEUE_COLUMNS", "prediction_queue", "rank_predictions"]

#: The annotator queue's columns, in order (see :func:`~jupyter_cvops.reviews.review_queue`).
QUEUE_COLUMNS = ["image_id", "path", "width", "height", "source", "captured_at", "n_annotators", "annotators",
                 "verdicts", "majority", "majority_annotators", "disagreement", "entropy", "disputed", "classes",
                 "first_label_at", "last_label_at", "week", "reviewed", "last_decision"]
#: Columns a prediction queue adds after them.
PREDICTION_COLUMNS = ["shadow_disagreement", "score", "n_predictions", "predicted_classes", "candidate_classes",
                      "prediction_ids"]
#: Kinds of ``predictions=`` given by name.
NAMED = ("low_confidence",)


def _first(frame: pl.DataFrame, *names: str) -> pl.Expr | None:
    for n in names:
        if n in frame.columns:
            return pl.col(n)
    return None


def rank_predictions(predictions: pl.DataFrame) -> pl.DataFrame:
    """One row per image of ``predictions``, shadow disagreements first, then lowest confidence (pure).

    Parameters
    ----------
    predictions
        Needs ``image_id``. Read when present: ``prediction_id``, the served answer (``predicted_class``
        or ``production_class``), its confidence (``score`` or ``production_score``), and the
        candidate's answer (``candidate_class``, as in a shadow report's ``disagreements``): a row
        whose candidate answer differs from the served one is a shadow disagreement. Rows without
        an image (unreadable when predicted) are left out.

    Returns
    -------
    polars.DataFrame
        ``image_id, shadow_disagreement, score`` (lowest of the image's rows), ``n_predictions``,
        ``predicted_classes``, ``candidate_classes``, ``prediction_ids``, ranked; ties keep the order
        of the input (a report's worst-first order).

    Examples
    --------
    >>> p = pl.DataFrame({"image_id": ["a", "b", "c", "a"], "predicted_class": ["ok", "dent", "ok", "ok"],
    ...                   "score": [0.55, 0.4, 0.9, 0.3]})
    >>> rank_predictions(p).select("image_id", "score", "n_predictions").rows()
    [('a', 0.3, 2), ('b', 0.4, 1), ('c', 0.9, 1)]
    >>> d = pl.DataFrame({"image_id": ["x", "y"], "production_class": ["ok", "dent"],
    ...                   "production_score": [0.4, 0.95], "candidate_class": ["ok", "ok"]})
    >>> rank_predictions(d)["image_id"].to_list()
    ['y', 'x']
    """
    if not isinstance(predictions, pl.DataFrame):
        raise TypeError(f"predictions= takes a polars frame (or 'low_confidence'), not {type(predictions).__name__}")
    if "image_id" not in predictions.columns:
        raise ValueError(f"a predictions frame needs an image_id column; it has {predictions.columns}")
    served = _first(predictions, "predicted_class", "production_class")
    score = _first(predictions, "score", "production_score")
    cand = _first(predictions, "candidate_class")
    pid = _first(predictions, "prediction_id")
    f = predictions.with_row_index("_pos").filter(pl.col("image_id").is_not_null()).select(
        pl.col("image_id").cast(pl.String), "_pos",
        (served if served is not None else pl.lit(None)).cast(pl.String).alias("_served"),
        (score if score is not None else pl.lit(None)).cast(pl.Float64).alias("_score"),
        (cand if cand is not None else pl.lit(None)).cast(pl.String).alias("_cand"),
        (pid if pid is not None else pl.lit(None)).cast(pl.String).alias("_pid"),
    )
    per_image = f.group_by("image_id", maintain_order=True).agg(
        (pl.col("_cand").is_not_null() & (pl.col("_cand") != pl.col("_served").fill_null(""))).any()
        .alias("shadow_disagreement"),
        pl.col("_score").min().alias("score"),
        pl.len().alias("n_predictions"),
        pl.col("_served").drop_nulls().unique(maintain_order=True).alias("predicted_classes"),
        pl.col("_cand").drop_nulls().unique(maintain_order=True).alias("candidate_classes"),
        pl.col("_pid").drop_nulls().alias("prediction_ids"),
        pl.col("_pos").min().alias("_pos"),
    )
    ranked = per_image.sort(["shadow_disagreement", "score", "_pos"], descending=[True, False, False],
                            nulls_last=True)
    return ranked.drop("_pos").cast({"n_predictions": pl.Int64})


def _named(ws: Workspace, kind: str, *, below: float, model: str | None, since: datetime | date | str | None,
           until: datetime | date | str | None, source: str | None) -> pl.DataFrame:
    if kind not in NAMED:
        raise ValueError(f"predictions= takes a frame or one of {NAMED}, not {kind!r}")
    if not 0 < below <= 1:
        raise ValueError(f"below must be a score in (0, 1], not {below}")
    preds = ws.predictions(model, since=since, until=until, source=source)
    return preds.filter((pl.col("status").fill_null("ok") == "ok") & (pl.col("score") < below))


def prediction_queue(ws: Workspace, predictions: pl.DataFrame | str, *, include_reviewed: bool = False,
                     below: float = 0.6, model: str | None = None, since: datetime | date | str | None = None,
                     until: datetime | date | str | None = None, source: str | None = None,
                     strict: bool = True, labelled: pl.DataFrame | None = None) -> pl.DataFrame:
    """The review queue of the images behind ``predictions`` (see :func:`~jupyter_cvops.reviews.review_queue`).

    ``labelled`` is the annotator queue with reviewed images (``review_queue(ws, include_reviewed=True)``;
    None: no image has labels): its columns are taken for the images it holds.

    Examples
    --------
    >>> prediction_queue(ws, ws.predictions().filter(pl.col("score") < 0.6))   # doctest: +SKIP
    """
    if isinstance(predictions, str):
        frame = _named(ws, predictions, below=below, model=model, since=since, until=until, source=source)
        strict = False  # logged with a trusted image_id only: not registered, nothing to show
    else:
        frame = predictions
    ranked = rank_predictions(frame)
    images = ws.images().select("image_id", "path", "width", "height", "source", "captured_at")
    known = ranked.join(images, on="image_id", how="inner", maintain_order="left")
    if strict and known.height < ranked.height:
        unknown = ranked.join(images, on="image_id", how="anti")["image_id"].to_list()
        raise WorkspaceError(f"{len(unknown)} images of predictions= are not registered in this workspace (logged "
                             f"by image_id only?): {unknown[:3]}")
    if labelled is not None:
        q = known.join(labelled.drop("path", "width", "height", "source", "captured_at"), on="image_id", how="left",
                       maintain_order="left")
    else:
        q = known
    q = _fill_unlabelled(ws, q)
    if not include_reviewed:
        q = q.filter(~pl.col("reviewed"))
    return q.select(*QUEUE_COLUMNS, *PREDICTION_COLUMNS)


def _fill_unlabelled(ws: Workspace, q: pl.DataFrame) -> pl.DataFrame:
    """Annotator columns of images nobody labelled: no annotators, no verdicts, disagreement 0; their review state."""
    from ..labels._resolution import latest_reviews

    empty = pl.lit([], pl.List(pl.String))
    utc = pl.Datetime("us", "UTC")
    fills: dict[str, Any] = {
        "n_annotators": pl.lit(0, pl.UInt32), "annotators": empty, "verdicts": empty,
        "majority": pl.lit(None, pl.String), "majority_annotators": empty, "disagreement": pl.lit(0.0),
        "entropy": pl.lit(0.0), "disputed": pl.lit(False), "classes": empty,
        "first_label_at": pl.lit(None, utc), "last_label_at": pl.lit(None, utc), "week": pl.lit(None, utc),
    }
    q = q.with_columns((pl.col(c).fill_null(v) if c in q.columns else v.alias(c)) for c, v in fills.items())
    decided = latest_reviews(ws.store.read("reviews")).group_by("image_id").agg(
        pl.col("decision").first().alias("_decision"))
    q = q.join(decided, on="image_id", how="left", maintain_order="left")
    last = pl.coalesce("last_decision", "_decision") if "last_decision" in q.columns else pl.col("_decision")
    return q.with_columns(last.alias("last_decision")).drop("_decision").with_columns(
        pl.col("last_decision").is_not_null().alias("reviewed"))
