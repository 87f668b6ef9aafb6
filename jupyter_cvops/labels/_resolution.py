"""Resolving the labels a snapshot freezes: reviews first, then annotators, under one taxonomy."""

from __future__ import annotations

from typing import TYPE_CHECKING

import polars as pl

from .._store import Store

if TYPE_CHECKING:
    from ..taxonomy.facade import Taxonomy

#: Columns of a resolved label (the dataset_labels schema without version_id).
LABEL_COLUMNS = [
    "image_id",
    "label_id",
    "annotator",
    "origin",
    "status",
    "class_id",
    "class_name",
    "kind",
    "x0",
    "y0",
    "x1",
    "y1",
    "created_at",
    "label_taxonomy_version",
]
DECISIVE = ("accept", "set")
#: Decisions that change how an image enters a dataset; comments never do.
STATEFUL = ("accept", "set", "flag", "clear")


def latest_reviews(reviews: pl.DataFrame) -> pl.DataFrame:
    """Rows of the latest state-changing decision per image (accept/set/flag/clear).

    A decision may span several rows (one per accepted or set label) sharing a
    ``decision_id``; comments never change state and ``clear`` (an undo) returns the
    image to its annotators' labels.

    Examples
    --------
    >>> from datetime import datetime
    >>> r = pl.DataFrame({"image_id": ["a", "a", "a"], "decision_id": ["d1", "d1", "d2"],
    ...                   "decision": ["set", "set", "flag"],
    ...                   "created_at": [datetime(2026, 1, 1)] * 2 + [datetime(2026, 1, 2)]})
    >>> latest_reviews(r)["decision"].to_list()
    ['flag']
    """
    state = reviews.filter(pl.col("decision").is_in(STATEFUL))
    if state.height == 0:
        return state
    last = (
        state.sort("created_at", "decision_id")
        .group_by("image_id", maintain_order=True)
        .agg(pl.col("decision_id").last())
    )
    out = state.join(last, on=["image_id", "decision_id"], how="semi")
    return out.filter(pl.col("decision") != "clear")


def resolve_labels(
    store: Store, taxonomy: Taxonomy, image_ids: pl.Series, to_version: int
) -> tuple[pl.DataFrame, pl.Series]:
    """Labels for ``image_ids`` under taxonomy ``to_version``, and the images flagged by review.

    An image's latest decisive review replaces its annotator labels (``origin=review``);
    otherwise every annotator's label is kept (``origin=annotator``). Class ids are
    mapped forward through renames and merges; labels of a class split since they
    were made get ``status=needs_review`` and no class.
    """
    ids = image_ids.implode()
    anns = store.read("annotations").filter(pl.col("image_id").is_in(ids))
    reviews = store.read("reviews").filter(pl.col("image_id").is_in(ids))
    last = latest_reviews(reviews)
    flagged = last.filter(pl.col("decision") == "flag")["image_id"].unique()
    decided = last.filter(pl.col("decision").is_in(DECISIVE))
    reviewed_ids = last["image_id"].implode()

    from_ann = anns.filter(~pl.col("image_id").is_in(reviewed_ids)).select(
        "image_id",
        pl.col("ann_id").alias("label_id"),
        "annotator",
        pl.lit("annotator").alias("origin"),
        "class_id",
        "kind",
        "x0",
        "y0",
        "x1",
        "y1",
        "created_at",
        pl.col("taxonomy_version").alias("label_taxonomy_version"),
    )
    from_review = decided.select(
        "image_id",
        pl.col("review_id").alias("label_id"),
        pl.col("reviewer").alias("annotator"),
        pl.lit("review").alias("origin"),
        "class_id",
        "kind",
        "x0",
        "y0",
        "x1",
        "y1",
        "created_at",
        pl.col("taxonomy_version").alias("label_taxonomy_version"),
    )
    labels = pl.concat([from_ann, from_review], how="vertical_relaxed")
    if labels.height:
        mapped = taxonomy.resolve(
            labels["class_id"], labels["label_taxonomy_version"], to_version=to_version
        )
        labels = labels.with_columns(
            mapped["class_id"].alias("class_id"),
            mapped["class_name"].alias("class_name"),
            pl.when(mapped["status"] == "needs_review")
            .then(pl.lit("needs_review"))
            .otherwise(pl.lit("ok"))
            .alias("status"),
        )
    else:
        labels = labels.with_columns(
            pl.lit(None, pl.String).alias("class_name"), pl.lit(None, pl.String).alias("status")
        )
    labels = labels.select(LABEL_COLUMNS).sort("image_id", "annotator", "label_id")
    return labels, flagged
