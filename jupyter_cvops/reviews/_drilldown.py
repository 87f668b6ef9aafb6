"""Which images sit behind a cell of an agreement view: pure functions on a frame of labels.

Every function starts from a *rating table* (:func:`rating_table`): one row per
(image, annotator) holding the label that counts, chosen by the same rule as
:func:`jupyter_cvops.agreement.ratings_from_labels` (image-level labels with a
class; when an annotator labelled an image twice, the latest by ``created_at``
wins, else the last row). So the images behind a cell are exactly the ones the
agreement report counted there:

=========================  =========================================================  ==================================
cell                       images                                                     equals in the report
=========================  =========================================================  ==================================
:func:`pair_cell`          A and B both labelled it and disagree (or: A said X and    ``pairwise`` ``n_shared *``
                           B said Y)                                                  ``(1 - observed_agreement)``;
                                                                                      ``confusion_pairs.n``
:func:`pooled_cell`        two different annotators said X and Y (X == Y: two said    ``confusion_pooled.n`` = sum of
                           X)                                                         ``n_pairs``
:func:`consensus_cell`     A's label differs from the consensus                       ``annotators``
                                                                                      ``agreement_with_consensus``
:func:`window_cell`        first label in the window, annotators disagree             ``windows`` (same windows)
:func:`alert_cell`         from the alert's window on, others said X, A did not       ``alerts`` (the detector's units)
=========================  =========================================================  ==================================

Each returns a frame with the fixed columns of :data:`DRILL_SCHEMA`: ``image_id``,
``n_pairs`` (the label pairs of this image behind the cell: 1 for a pair cell,
the number of disagreeing pairs for a window), ``first_label_at`` and
``labels`` (every annotator's counted label on the image, sorted by annotator),
oldest first. :func:`drill_down` dispatches on a target dict, which is what the
agreement widget stores for a click.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timezone
from typing import Any
from zoneinfo import ZoneInfo

import polars as pl

__all__ = [
    "DRILL_SCHEMA", "TARGET_KINDS", "alert_cell", "consensus_cell", "drill_down", "pair_cell", "pooled_cell",
    "rating_table", "window_cell",
]

#: Columns and types of every drill-down frame (``first_label_at`` has the time zone of the labels).
DRILL_SCHEMA: dict[str, Any] = {
    "image_id": pl.String,
    "n_pairs": pl.Int64,
    "first_label_at": pl.Datetime("us", "UTC"),
    "labels": pl.List(pl.Struct({"annotator": pl.String, "class_name": pl.String})),
}
#: The ``kind`` values :func:`drill_down` understands.
TARGET_KINDS = ("pair", "pooled", "consensus", "window", "alert")
_TIME_COLUMNS = ("created_at", "time", "timestamp")


def rating_table(labels: pl.DataFrame, *, kind: str | None = "image", time: str | None = None) -> pl.DataFrame:
    """One row per (image, annotator): the label the agreement report counts.

    Parameters
    ----------
    labels
        Long frame of labels with ``image_id``, ``annotator``, ``class_name`` and
        optionally a time (``created_at``, ``time`` or ``timestamp``) and ``kind``
        (e.g. :meth:`Workspace.annotations <jupyter_cvops.workspace.Workspace.annotations>`).
    kind
        When the frame has a ``kind`` column, keep only rows of this kind (image-level
        labels by default; None keeps all).
    time
        Name of the time column (default: the first of ``created_at``, ``time``,
        ``timestamp`` present).

    Returns
    -------
    polars.DataFrame
        ``image_id, annotator, class_name, created_at`` sorted by image and annotator.
        Rows without a class are dropped; an annotator's repeated label on one image
        is replaced by the latest (by time; by row order when there is no time or a
        time is missing, as the report does). ``created_at`` keeps the time zone of the
        source column (microseconds); it is null (UTC) when the labels carry no usable
        time.

    Examples
    --------
    >>> df = pl.DataFrame({"image_id": ["a", "a", "a", "b"], "annotator": ["x", "y", "x", "x"],
    ...                    "class_name": ["ok", "dent", "dent", None]})
    >>> rating_table(df).select("image_id", "annotator", "class_name").rows()
    [('a', 'x', 'dent'), ('a', 'y', 'dent')]
    """
    if not isinstance(labels, pl.DataFrame):
        raise TypeError(f"labels must be a polars DataFrame, got {type(labels).__name__}")
    missing = [c for c in ("image_id", "annotator", "class_name") if c not in labels.columns]
    if missing:
        raise ValueError(f"the labels frame lacks {missing} (has {labels.columns})")
    time = time if time is not None else next((c for c in _TIME_COLUMNS if c in labels.columns), None)
    if time is not None and time not in labels.columns:
        raise ValueError(f"time column {time!r} not in the labels frame")
    df = labels
    if kind is not None and "kind" in df.columns:
        df = df.filter(pl.col("kind") == kind)
    df = df.filter(pl.col("class_name").is_not_null())
    if df["image_id"].null_count() or df["annotator"].null_count():
        raise ValueError("labels with no image_id or no annotator")
    if time is not None and df[time].null_count() == 0 and df.height > 0:    # a usable time column
        dtype = df.schema[time]
        if not isinstance(dtype, (pl.Datetime, pl.Date)):
            raise ValueError(f"time column {time!r} must be a Datetime or Date, not {dtype}")
        # Kept in the column's own time zone: the report truncates windows there.
        t = pl.col(time).cast(pl.Datetime("us", getattr(dtype, "time_zone", None)))
        df = df.select("image_id", "annotator", pl.col("class_name").cast(pl.String),
                       t.alias("created_at")).sort("created_at", maintain_order=True)
    else:
        df = df.select("image_id", "annotator", pl.col("class_name").cast(pl.String),
                       pl.lit(None, pl.Datetime("us", "UTC")).alias("created_at"))
    return (df.with_columns(pl.col("image_id").cast(pl.String), pl.col("annotator").cast(pl.String))
            .unique(["image_id", "annotator"], keep="last", maintain_order=True)
            .sort("image_id", "annotator"))


def pair_cell(table: pl.DataFrame, annotator_a: str, annotator_b: str, class_a: str | None = None,
              class_b: str | None = None) -> pl.DataFrame:
    """Images where two annotators disagree, or where A said ``class_a`` and B ``class_b``.

    Parameters
    ----------
    table
        A :func:`rating_table`.
    annotator_a, annotator_b
        Two different annotators (the kappa cell, or the pair of a confusion matrix:
        rows are A's classes, columns B's).
    class_a, class_b
        Both None: every image both labelled with different classes. Both given: the
        confusion cell, A said ``class_a`` and B said ``class_b`` (equal classes give the
        images they agree on).

    Returns
    -------
    polars.DataFrame
        :data:`DRILL_SCHEMA`; ``n_pairs`` is 1.

    Examples
    --------
    >>> t = rating_table(pl.DataFrame({"image_id": ["1", "1", "2", "2", "3"],
    ...                                "annotator": ["a", "b", "a", "b", "a"],
    ...                                "class_name": ["x", "y", "x", "x", "y"]}))
    >>> pair_cell(t, "a", "b")["image_id"].to_list()
    ['1']
    >>> pair_cell(t, "a", "b", "x", "x")["image_id"].to_list()
    ['2']
    """
    _need_annotators(table, [annotator_a, annotator_b])
    if annotator_a == annotator_b:
        raise ValueError("a pair cell needs two different annotators; for one annotator use consensus_cell")
    if (class_a is None) != (class_b is None):
        raise ValueError("give both classes for a confusion cell, or neither for all disagreements")
    a = table.filter(pl.col("annotator") == annotator_a).select("image_id", pl.col("class_name").alias("_a"))
    b = table.filter(pl.col("annotator") == annotator_b).select("image_id", pl.col("class_name").alias("_b"))
    both = a.join(b, on="image_id", how="inner")
    keep = (pl.col("_a") != pl.col("_b")) if class_a is None else (
        (pl.col("_a") == class_a) & (pl.col("_b") == class_b))
    ids = both.filter(keep).select("image_id", pl.lit(1, pl.Int64).alias("n_pairs"))
    return _finish(table, ids)


def pooled_cell(table: pl.DataFrame, class_a: str, class_b: str) -> pl.DataFrame:
    """Images with a pair of labels by two different annotators that are ``class_a`` and ``class_b``.

    The pooled confusion matrix counts label pairs, so an image can count more than
    once: ``n_pairs`` is ``n_a * n_b`` (``n_a * (n_a - 1) / 2`` on the diagonal) and
    its sum over the images equals the pooled cell. The matrix is symmetric: the two
    classes can come in either order.

    Parameters
    ----------
    table
        A :func:`rating_table`.
    class_a, class_b
        The cell's classes.

    Returns
    -------
    polars.DataFrame
        :data:`DRILL_SCHEMA`.

    Examples
    --------
    >>> t = rating_table(pl.DataFrame({"image_id": ["1", "1", "1", "2", "2"],
    ...                                "annotator": ["a", "b", "c", "a", "b"],
    ...                                "class_name": ["x", "y", "y", "x", "x"]}))
    >>> pooled_cell(t, "x", "y").select("image_id", "n_pairs").rows()
    [('1', 2)]
    >>> pooled_cell(t, "y", "y").select("image_id", "n_pairs").rows()
    [('1', 1)]
    """
    counts = table.group_by("image_id", "class_name").len("n")
    na = counts.filter(pl.col("class_name") == class_a).select("image_id", pl.col("n").alias("_na"))
    if class_a == class_b:
        ids = na.filter(pl.col("_na") >= 2).select(
            "image_id", (pl.col("_na") * (pl.col("_na") - 1) // 2).cast(pl.Int64).alias("n_pairs"))
    else:
        nb = counts.filter(pl.col("class_name") == class_b).select("image_id", pl.col("n").alias("_nb"))
        ids = na.join(nb, on="image_id", how="inner").select(
            "image_id", (pl.col("_na") * pl.col("_nb")).cast(pl.Int64).alias("n_pairs"))
    return _finish(table, ids)


def consensus_cell(table: pl.DataFrame, annotator: str, consensus: pl.DataFrame) -> pl.DataFrame:
    """Images where ``annotator``'s label differs from the consensus class.

    Parameters
    ----------
    table
        A :func:`rating_table`.
    annotator
        Whose labels to check.
    consensus
        One row per image: ``image_id`` (or the report's ``item``) and ``class_name``,
        e.g. :attr:`AgreementReport.consensus <jupyter_cvops.agreement.AgreementReport.consensus>`.
        Only images labelled by at least two annotators are compared (as the
        report's agreement with consensus).

    Returns
    -------
    polars.DataFrame
        :data:`DRILL_SCHEMA`; ``n_pairs`` is 1.

    Examples
    --------
    >>> t = rating_table(pl.DataFrame({"image_id": ["1", "1", "2", "2", "3"],
    ...                                "annotator": ["a", "b", "a", "b", "a"],
    ...                                "class_name": ["x", "y", "x", "x", "y"]}))
    >>> cons = pl.DataFrame({"item": ["1", "2", "3"], "class_name": ["y", "x", "x"]})
    >>> consensus_cell(t, "a", cons)["image_id"].to_list()
    ['1']
    """
    _need_annotators(table, [annotator])
    key = "image_id" if "image_id" in consensus.columns else "item"
    if key not in consensus.columns or "class_name" not in consensus.columns:
        raise ValueError(f"consensus needs image_id (or item) and class_name columns, has {consensus.columns}")
    cons = consensus.select(pl.col(key).cast(pl.String).alias("image_id"),
                            pl.col("class_name").cast(pl.String).alias("_c"))
    rated_twice = table.group_by("image_id").len("_m").filter(pl.col("_m") >= 2).select("image_id")
    mine = table.filter(pl.col("annotator") == annotator).join(rated_twice, on="image_id", how="semi")
    ids = (mine.join(cons, on="image_id", how="inner")
           .filter(pl.col("_c").is_null() | (pl.col("class_name") != pl.col("_c")))
           .select("image_id", pl.lit(1, pl.Int64).alias("n_pairs")))
    return _finish(table, ids)


def window_cell(table: pl.DataFrame, window_start: datetime, every: str = "1w") -> pl.DataFrame:
    """Disputed images of one time window (the report's windows: an image belongs to the window
    of its first label).

    Parameters
    ----------
    table
        A :func:`rating_table` with times.
    window_start
        Start of the window, as in the report's ``windows.window_start`` (a naive
        datetime is read in the time zone of the labels).
    every
        Window length, the ``every`` of the report (a polars duration).

    Returns
    -------
    polars.DataFrame
        :data:`DRILL_SCHEMA`; ``n_pairs`` counts the disagreeing label pairs of the image.

    Examples
    --------
    >>> from datetime import datetime
    >>> t = rating_table(pl.DataFrame({
    ...     "image_id": ["1", "1", "2", "2"], "annotator": ["a", "b", "a", "b"],
    ...     "class_name": ["x", "y", "x", "y"],
    ...     "created_at": [datetime(2026, 1, 5), datetime(2026, 1, 14), datetime(2026, 1, 13),
    ...                    datetime(2026, 1, 13)]}))
    >>> window_cell(t, datetime(2026, 1, 5))["image_id"].to_list()
    ['1']
    """
    start = _in_zone(window_start, table)
    win = _windowed(table, every)
    first = win.group_by("image_id").agg(pl.col("_w").min().alias("_first"))
    in_window = first.filter(pl.col("_first") == start).select("image_id")
    counts = (table.join(in_window, on="image_id", how="semi")
              .group_by("image_id", "class_name").len("n")
              .group_by("image_id").agg(pl.col("n").sum().alias("_m"), (pl.col("n") * (pl.col("n") - 1) // 2)
                                        .sum().alias("_agree")))
    ids = counts.select("image_id", ((pl.col("_m") * (pl.col("_m") - 1) // 2) - pl.col("_agree"))
                        .cast(pl.Int64).alias("n_pairs")).filter(pl.col("n_pairs") > 0)
    return _finish(table, ids)


def alert_cell(table: pl.DataFrame, annotator: str, class_name: str, window_start: datetime,
               every: str = "1w", compared_with: Sequence[str] | None = None) -> pl.DataFrame:
    """The images behind a label-drift alert: from its window on, others said ``class_name`` and
    ``annotator`` did not.

    These are the detector's failed units (an image the annotator labelled, weighted
    by the share of the others who said the class) on the "after" side of the change.

    Parameters
    ----------
    table
        A :func:`rating_table` with times.
    annotator, class_name, window_start
        The alert's ``annotator``, ``class_name`` and ``window_start``.
    every
        The report's window length.
    compared_with
        The alert's ``compared_with`` (default: every other annotator).

    Returns
    -------
    polars.DataFrame
        :data:`DRILL_SCHEMA`; ``n_pairs`` is how many of the others said ``class_name``.

    Examples
    --------
    >>> from datetime import datetime
    >>> t = rating_table(pl.DataFrame({
    ...     "image_id": ["1", "1", "2", "2", "3", "3"], "annotator": ["a", "c", "a", "c", "a", "c"],
    ...     "class_name": ["dent", "dent", "dent", "scratch", "dent", "scratch"],
    ...     "created_at": [datetime(2026, 1, 5)] * 4 + [datetime(2026, 2, 3)] * 2}))
    >>> alert_cell(t, "c", "dent", datetime(2026, 2, 2))["image_id"].to_list()
    ['3']
    """
    _need_annotators(table, [annotator])
    start = _in_zone(window_start, table)
    win = _windowed(table, every)
    others = [str(x) for x in compared_with] if compared_with is not None else None
    mine = win.filter((pl.col("annotator") == annotator) & (pl.col("_w") >= start)
                      & (pl.col("class_name") != class_name)).select("image_id")
    said = table.filter((pl.col("annotator") != annotator) & (pl.col("class_name") == class_name))
    if others is not None:
        said = said.filter(pl.col("annotator").is_in(others))
    ids = (said.join(mine, on="image_id", how="semi").group_by("image_id")
           .agg(pl.len().cast(pl.Int64).alias("n_pairs")))
    return _finish(table, ids)


def drill_down(table: pl.DataFrame, target: Mapping[str, Any], *, consensus: pl.DataFrame | None = None,
               every: str = "1w") -> pl.DataFrame:
    """The images behind ``target``, a dict naming a cell (what the agreement widget records).

    ==================  ==========================================================
    ``kind``            other keys
    ==================  ==========================================================
    ``"pair"``          ``annotator_a``, ``annotator_b``, optional ``class_a``, ``class_b``
    ``"pooled"``        ``class_a``, ``class_b``
    ``"consensus"``     ``annotator`` (needs ``consensus=``)
    ``"window"``        ``window_start``
    ``"alert"``         ``annotator``, ``class_name``, ``window_start``, optional ``compared_with``
    ==================  ==========================================================

    Parameters
    ----------
    table
        A :func:`rating_table`.
    target
        The cell.
    consensus
        The report's consensus frame (for ``"consensus"``).
    every
        The report's window length (for ``"window"`` and ``"alert"``).

    Returns
    -------
    polars.DataFrame
        :data:`DRILL_SCHEMA`.

    Examples
    --------
    >>> t = rating_table(pl.DataFrame({"image_id": ["1", "1"], "annotator": ["a", "b"],
    ...                                "class_name": ["x", "y"]}))
    >>> drill_down(t, {"kind": "pooled", "class_a": "y", "class_b": "x"})["n_pairs"].to_list()
    [1]
    """
    kind = target.get("kind")
    if kind == "pair":
        return pair_cell(table, target["annotator_a"], target["annotator_b"], target.get("class_a"),
                         target.get("class_b"))
    if kind == "pooled":
        return pooled_cell(table, target["class_a"], target["class_b"])
    if kind == "consensus":
        if consensus is None:
            raise ValueError("a consensus cell needs consensus= (the report's consensus frame)")
        return consensus_cell(table, target["annotator"], consensus)
    if kind == "window":
        return window_cell(table, target["window_start"], every)
    if kind == "alert":
        return alert_cell(table, target["annotator"], target["class_name"], target["window_start"], every,
                          target.get("compared_with"))
    raise ValueError(f"unknown drill-down kind {kind!r}; choose one of {TARGET_KINDS}")


# ---------------------------------------------------------------------------------- helpers

def _need_annotators(table: pl.DataFrame, names: Sequence[str]) -> None:
    known = set(table["annotator"].unique().to_list())
    unknown = [n for n in names if n not in known]
    if unknown:
        raise ValueError(f"no labels by {unknown}; annotators are {sorted(known)}")


def _in_zone(t: datetime, table: pl.DataFrame) -> datetime:
    """``t`` in the time zone of the table's times (naive ``t`` is read in that zone)."""
    if not isinstance(t, datetime):
        raise TypeError(f"window_start must be a datetime, not {type(t).__name__}")
    tz = getattr(table.schema["created_at"], "time_zone", None)
    if tz is None:
        return t if t.tzinfo is None else t.astimezone(timezone.utc).replace(tzinfo=None)
    zone = ZoneInfo(tz)
    return t.replace(tzinfo=zone) if t.tzinfo is None else t.astimezone(zone)


def _windowed(table: pl.DataFrame, every: str) -> pl.DataFrame:
    """The table with ``_w``: each label's window start (UTC, as the report truncates)."""
    if table.height and table["created_at"].null_count():
        raise ValueError("the labels carry no time (a created_at column without gaps): no windows")
    try:
        return table.with_columns(pl.col("created_at").dt.truncate(every).alias("_w"))
    except Exception as error:  # polars raises several types for a bad duration string
        raise ValueError(f"every={every!r} is not a valid polars duration (e.g. '1w', '1d')") from error


def _finish(table: pl.DataFrame, ids: pl.DataFrame) -> pl.DataFrame:
    """Attach every annotator's label and the first label time to ``image_id, n_pairs``; oldest first."""
    detail = (table.join(ids.select("image_id"), on="image_id", how="semi")
              .sort("image_id", "annotator")
              .group_by("image_id", maintain_order=True)
              .agg(pl.col("created_at").min().alias("first_label_at"),
                   pl.struct("annotator", "class_name").alias("labels")))
    schema = {**DRILL_SCHEMA, "first_label_at": table.schema["created_at"]}
    out = ids.join(detail, on="image_id", how="left").select(list(schema))
    return out.cast(schema).sort("first_label_at", "image_id", nulls_last=True)  # type: ignore[arg-type]
