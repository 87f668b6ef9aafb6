"""Predictions as handed over by a caller (a frame, or one row of keywords) -> the columns the log stores.

Pure and vectorised (polars expressions, no per-row Python on the common path), so logging a
million rows costs about what writing them does.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from datetime import datetime, timezone
from typing import Any

import polars as pl

from .._store import WorkspaceError

INPUT_COLUMNS: dict[str, str] = {
    "image_id": "content hash of the image, when the caller knows it (the file is then not read)",
    "path": "where the image is: a file path or a URI (kept as given, never copied); also 'image' or 'uri'",
    "bytes": "the image's encoded bytes (hashed in memory when there is no image_id)",
    "predicted_class": "the predicted class name; also 'class_name'",
    "score": "the predicted class's score (default: the largest of scores)",
    "scores": "one score per class, in the model's class order",
    "boxes": "detections: a list of {class, score, x0, y0, x1, y1} (or its JSON text)",
    "latency_ms": "time the model took, in milliseconds",
    "time": "when the prediction was made (naive: UTC; default: when it was logged)",
    "source": "camera / line / service (default: the log's source)",
    "status": "'ok' or 'failed' (a prediction that failed on the serving side)",
    "error": "why it failed",
}
"""Columns a predictions frame may hold, and what each means."""

ALIASES = {"image": "path", "uri": "path", "class_name": "predicted_class"}

STRING = ("image_id", "path", "predicted_class", "source", "status", "error")

SCHEMA: dict[str, Any] = {
    "image_id": pl.String, "path": pl.String, "bytes": pl.Binary, "predicted_class": pl.String,
    "score": pl.Float64, "scores": pl.List(pl.Float32), "boxes": pl.String, "latency_ms": pl.Float64,
    "time": pl.Datetime("us", "UTC"), "source": pl.String, "status": pl.String, "error": pl.String,
}
"""The normalised frame: every input column with its stored type (``bytes`` is dropped once hashed)."""


def _rename(frame: pl.DataFrame, keep: tuple[str, ...]) -> pl.DataFrame:
    renames = {c: ALIASES[c] for c in frame.columns if c in ALIASES}
    clash = [ALIASES[c] for c in renames if ALIASES[c] in frame.columns]
    if clash or len(set(renames.values())) < len(renames):
        raise WorkspaceError(f"predictions frame names the same column twice ({sorted(renames)}); keep one")
    frame = frame.rename(renames)
    unknown = sorted(set(frame.columns) - set(INPUT_COLUMNS) - set(keep))
    if unknown:
        raise WorkspaceError(f"unknown prediction columns {unknown}; expected some of {sorted(INPUT_COLUMNS)}")
    return frame


def _to_text(series: pl.Series) -> pl.Series:
    if series.dtype == pl.String:
        return series
    if series.dtype in (pl.Object, pl.Null) or isinstance(series.dtype, pl.Categorical | pl.Enum):
        return pl.Series(series.name, [None if v is None else os.fspath(v) if isinstance(v, os.PathLike)
                                       else str(v) for v in series.to_list()], dtype=pl.String)
    return series.cast(pl.String)


def _boxes(series: pl.Series) -> pl.Series:
    if series.dtype == pl.String:
        return series
    if series.dtype == pl.Null:
        return series.cast(pl.String)

    def dump(value: Any) -> str | None:
        if value is None:
            return None
        if isinstance(value, str):
            return value
        items = value.to_list() if isinstance(value, pl.Series) else list(value)
        return json.dumps([dict(b) if isinstance(b, Mapping) else list(b) for b in items], sort_keys=True)

    return pl.Series(series.name, [dump(v) for v in series.to_list()], dtype=pl.String)


def _times(series: pl.Series, now: datetime) -> pl.Series:
    dtype = series.dtype
    if dtype == pl.Null:
        return pl.Series(series.name, [now] * series.len(), dtype=pl.Datetime("us", "UTC"))
    if dtype == pl.String:
        series = series.str.to_datetime(time_unit="us")
        dtype = series.dtype
    if dtype == pl.Date:
        series = series.cast(pl.Datetime("us"))
        dtype = series.dtype
    if not isinstance(dtype, pl.Datetime):
        raise WorkspaceError(f"column 'time' must hold datetimes, got {dtype}")
    series = (series.dt.replace_time_zone("UTC") if dtype.time_zone is None
              else series.dt.convert_time_zone("UTC")).cast(pl.Datetime("us", "UTC"))
    return series.fill_null(now) if series.null_count() else series


def normalize(frame: pl.DataFrame, *, now: datetime | None = None, keep: tuple[str, ...] = ()) -> pl.DataFrame:
    """A caller's predictions frame as :data:`SCHEMA` columns (missing ones null), checked.

    Parameters
    ----------
    frame
        Columns from :data:`INPUT_COLUMNS` (or their aliases ``image``, ``uri``, ``class_name``); an
        unknown column is an error, so a typo never drops data.
    now
        The time of rows without one (default: now, UTC).
    keep
        Further text columns passed through first (the log's own ``prediction_id``, ``batch_id``).

    Examples
    --------
    >>> f = normalize(pl.DataFrame({"image": ["/a.png"], "class_name": ["dent"], "scores": [[0.25, 0.75]]}),
    ...               now=datetime(2024, 1, 1, tzinfo=timezone.utc))
    >>> f.select("path", "predicted_class", "score", "status").row(0)
    ('/a.png', 'dent', 0.75, 'ok')
    >>> str(f["time"][0])
    '2024-01-01 00:00:00+00:00'
    """
    when = now or datetime.now(timezone.utc)
    frame = _rename(frame, keep)
    n = frame.height
    cols = [_to_text(frame[k]) for k in keep]
    for name, dtype in SCHEMA.items():
        if name not in frame.columns:
            if name == "time":
                cols.append(_times(pl.Series(name, [None] * n, dtype=pl.Null), when))
            else:
                cols.append(pl.Series(name, [None] * n, dtype=dtype))
            continue
        s = frame[name]
        if name in STRING:
            s = _to_text(s)
        elif name == "boxes":
            s = _boxes(s)
        elif name == "time":
            s = _times(s, when)
        elif name == "bytes" and s.dtype != pl.Binary:
            if s.dtype not in (pl.Null, pl.Object):
                raise WorkspaceError(f"column 'bytes' must hold bytes, got {s.dtype}")
            s = pl.Series(name, [None if v is None else bytes(v) for v in s.to_list()], dtype=pl.Binary)
        else:
            try:
                s = s.cast(dtype)
            except Exception as error:  # polars raises several types for impossible casts
                raise WorkspaceError(f"column {name!r} must be {dtype}, got {s.dtype} ({error})") from None
        cols.append(s.alias(name))
    out = pl.DataFrame(cols)
    if "scores" in frame.columns:
        out = out.with_columns(pl.coalesce("score", pl.col("scores").list.max().cast(pl.Float64)).alias("score"))
    bad = out.filter(pl.col("status").is_not_null() & ~pl.col("status").is_in(["ok", "failed"]))
    if bad.height:
        raise WorkspaceError(f"status must be 'ok' or 'failed', got {bad['status'][0]!r}")
    return out.with_columns(
        pl.when(pl.col("error").is_not_null() & pl.col("status").is_null()).then(pl.lit("failed"))
        .otherwise(pl.col("status").fill_null("ok")).alias("status"))


def row_frame(rows: list[dict[str, Any]]) -> pl.DataFrame:
    """Rows logged one at a time (dicts of :data:`INPUT_COLUMNS` keys) as one frame for :func:`normalize`.

    Examples
    --------
    >>> row_frame([{"path": "/a.png", "score": 1}, {"image_id": "ab" * 16}]).columns
    ['path', 'score', 'image_id']
    """
    keys = list(dict.fromkeys(k for r in rows for k in r))
    data: dict[str, list[Any]] = {k: [r.get(k) for r in rows] for k in keys}
    series = []
    for k, values in data.items():
        if k in ("scores", "boxes"):
            series.append(pl.Series(k, [None if v is None else list(v) if k == "scores" else v for v in values],
                                    dtype=pl.List(pl.Float64) if k == "scores" else pl.Object))
        elif k in ("bytes",):
            series.append(pl.Series(k, values, dtype=pl.Binary))
        elif k == "time":
            series.append(pl.Series(k, values))
        elif k in ("score", "latency_ms"):
            series.append(pl.Series(k, [None if v is None else float(v) for v in values], dtype=pl.Float64))
        else:
            series.append(pl.Series(k, [None if v is None else os.fspath(v) if isinstance(v, os.PathLike)
                                         else str(v) for v in values], dtype=pl.String))
    return pl.DataFrame(series)
