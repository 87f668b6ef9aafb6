"""Per-image disagreement between annotators (pure, on label frames)."""

from __future__ import annotations

import polars as pl

NO_OBJECTS = "(no objects)"


def label_signatures(labels: pl.DataFrame) -> pl.DataFrame:
    """One verdict per (image, annotator): the image-level class, else the sorted box classes.

    ``labels`` needs ``image_id, annotator, kind, class_name``. An annotator whose only
    labels are boxes gets ``"dent+scratch"`` style signatures, so detection-only data
    still ranks by disagreement.

    Examples
    --------
    >>> df = pl.DataFrame({"image_id": ["i", "i", "i"], "annotator": ["a", "b", "b"],
    ...                    "kind": ["image", "box", "box"], "class_name": ["dent", "dent", "scratch"]})
    >>> label_signatures(df).sort("annotator")["signature"].to_list()
    ['dent', 'dent+scratch']
    """
    img = (
        labels.filter(pl.col("kind") == "image")
        .group_by("image_id", "annotator")
        .agg(pl.col("class_name").fill_null("(needs review)").sort().str.join("|").alias("signature"))
    )
    boxes = (
        labels.filter(pl.col("kind") == "box")
        .group_by("image_id", "annotator")
        .agg(pl.col("class_name").fill_null("(needs review)").sort().str.join("+").alias("box_signature"),
             pl.len().alias("n_boxes"))
    )
    out = img.join(boxes, on=["image_id", "annotator"], how="full", coalesce=True)
    return out.with_columns(
        pl.coalesce("signature", "box_signature", pl.lit(NO_OBJECTS)).alias("signature"),
        pl.col("n_boxes").fill_null(0),
    ).drop("box_signature")


def disagreement(labels: pl.DataFrame) -> pl.DataFrame:
    """Per image: annotators, their verdicts, the majority verdict and a disagreement score.

    ``disagreement = 1 - (share of annotators giving the majority verdict)``: 0 when
    all agree, approaching 1 when every annotator says something else. Ties break
    toward the alphabetically first verdict (deterministic). ``entropy`` (bits) of
    the verdicts ranks ties.

    Examples
    --------
    >>> df = pl.DataFrame({"image_id": ["i"] * 3, "annotator": ["a", "b", "c"],
    ...                    "kind": ["image"] * 3, "class_name": ["dent", "dent", "ok"]})
    >>> r = disagreement(df).row(0, named=True)
    >>> r["majority"], round(r["disagreement"], 3), r["n_annotators"]
    ('dent', 0.333, 3)
    """
    sig = label_signatures(labels)
    counts = sig.group_by("image_id", "signature").agg(pl.len().alias("n"), pl.col("annotator").sort())
    ranked = counts.sort(["image_id", "n", "signature"], descending=[False, True, False])
    per_image = ranked.group_by("image_id", maintain_order=True).agg(
        pl.col("signature").first().alias("majority"),
        pl.col("annotator").first().alias("majority_annotators"),
        pl.col("n").first().alias("majority_n"),
        pl.col("n").sum().alias("n_annotators"),
        pl.col("signature").alias("verdicts"),
        (-(pl.col("n") / pl.col("n").sum()) * (pl.col("n") / pl.col("n").sum()).log(2)).sum().alias("entropy"),
    )
    return per_image.with_columns(
        (1.0 - pl.col("majority_n") / pl.col("n_annotators")).alias("disagreement"),
        (pl.col("verdicts").list.len() > 1).alias("disputed"),
    ).drop("majority_n")
