"""Predictions as handed over by a caller (a frame, or one row of keywords) -> the columns the log stores.

Pure and vectorised (polars expressions, no per-row Python on the common path), so logging a
million rows costs about what writing them does.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from datetime import datetime, timedelta, timezone
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
    "shadow_of": "a shadow model's row: the prediction_id of the served prediction it shadows (role 'shadow')",
}
"""Columns a predictions frame may hold, and what each means."""

ALIASES = {"image": "path", "uri": "path", "class_name": "predicted_class"}

STRING = ("image_id", "path", "predicted_class", "source", "status", "error", "shadow_of")

SCHEMA: dict[str, Any] = {
    "image_id": pl.String, "path": pl.String, "bytes": pl.Binary, "predicted_class": pl.String,
    "score": pl.Float64, "scores": pl.List(pl.Float32), "boxes": pl.String, "latency_ms": pl.Float64,
    "time": pl.Datetime("us", "UTC"), "source": pl.String, "status": pl.String, "error": pl.String,
    "shadow_of": pl.String,
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


def _python_text(series: pl.Series) -> pl.Series:
    """Text of a column polars cannot cast itself (``os.PathLike`` objects, mixed Python values)."""
    return pl.Series(series.name, [None if v is None else os.fspath(v) if isinstance(v, os.PathLike)
                                   else str(v) for v in series.to_list()], dtype=pl.String)


def _python_boxes(series: pl.Series) -> pl.Series:
    """Boxes given as lists of dicts (or structs) as their JSON text, row by row (detectors only)."""

    def dump(value: Any) -> str | None:
        if value is None or isinstance(value, str):
            return value
        items = value.to_list() if isinstance(value, pl.Series) else list(value)
        return json.dumps([dict(b) if isinstance(b, Mapping) else list(b) for b in items], sort_keys=True)

    return pl.Series(series.name, [dump(v) for v in series.to_list()], dtype=pl.String)


_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


def _utc_lit(when: datetime) -> pl.Expr:
    """``when`` (naive: UTC) as a literal of the stored time type (~30x cheaper than ``pl.lit(datetime)``)."""
    us = (when if when.tzinfo else when.replace(tzinfo=timezone.utc)) - _EPOCH
    return pl.lit(us // timedelta(microseconds=1), dtype=pl.Int64).cast(pl.Datetime("us", "UTC"))


def _time_expr(dtype: Any, now: datetime) -> pl.Expr:
    col = pl.col("time")
    if dtype == pl.Null:
        return _utc_lit(now).alias("time")
    if dtype == pl.String:
        col, dtype = col.str.to_datetime(time_unit="us"), pl.Datetime("us")
    if dtype == pl.Date:
        col, dtype = col.cast(pl.Datetime("us")), pl.Datetime("us")
    if not isinstance(dtype, pl.Datetime):
        raise WorkspaceError(f"column 'time' must hold datetimes, got {dtype}")
    col = col.dt.replace_time_zone("UTC") if dtype.time_zone is None else col.dt.convert_time_zone("UTC")
    return col.cast(pl.Datetime("us", "UTC")).fill_null(_utc_lit(now)).alias("time")


def normalize(frame: pl.DataFrame, *, now: datetime | None = None, keep: tuple[str, ...] = ()) -> pl.DataFrame:
    """A caller's predictions frame as :data:`SCHEMA` columns (missing ones null), checked.

    One polars ``select`` (Python runs per row only for ``os.PathLike`` paths and boxes given as
    objects), so small frames cost well under a millisecond.

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
    schema = frame.schema
    fixes = [_python_text(frame[c]) for c in (*keep, *STRING) if c in schema and schema[c] == pl.Object]
    if "boxes" in schema and schema["boxes"] not in (pl.String, pl.Null):
        fixes.append(_python_boxes(frame["boxes"]))
    if "bytes" in schema and schema["bytes"] == pl.Object:
        fixes.append(pl.Series("bytes", [None if v is None else bytes(v) for v in frame["bytes"].to_list()],
                               dtype=pl.Binary))
    if fixes:
        frame = frame.with_columns(fixes)
        schema = frame.schema
    exprs = [pl.col(k).cast(pl.String) for k in keep]
    for name, dtype in SCHEMA.items():
        if name == "time":
            exprs.append(_time_expr(schema.get("time", pl.Null), when))
        elif name not in schema:
            exprs.append(pl.lit(None, dtype=dtype).alias(name))
        elif name == "bytes" and schema[name] not in (pl.Binary, pl.Null):
            raise WorkspaceError(f"column 'bytes' must hold bytes, got {schema[name]}")
        elif name in STRING or name == "boxes":
            exprs.append(pl.col(name).cast(pl.String))
        elif name == "scores" and not isinstance(schema[name], pl.List | pl.Array | pl.Null):
            raise WorkspaceError(f"column 'scores' must hold one list of numbers per row, got {schema[name]}")
        else:
            exprs.append(pl.col(name).cast(dtype))
    try:
        out = frame.select(exprs)
    except (pl.exceptions.PolarsError, TypeError, ValueError) as error:
        raise WorkspaceError(f"predictions frame cannot be stored: {str(error).splitlines()[0]}") from None
    if "scores" in schema:
        out = out.with_columns(pl.coalesce("score", pl.col("scores").list.max().cast(pl.Float64)).alias("score"))
    if "status" in schema:
        bad = out["status"].drop_nulls()
        bad = bad.filter(~bad.is_in(["ok", "failed"]))
        if bad.len():
            raise WorkspaceError(f"status must be 'ok' or 'failed', got {bad[0]!r}")
    if "status" in schema or "error" in schema:
        out = out.with_columns(
            pl.when(pl.col("error").is_not_null() & pl.col("status").is_null()).then(pl.lit("failed"))
            .otherwise(pl.col("status").fill_null("ok")).alias("status"))
    else:
        out = out.with_columns(pl.lit("ok").alias("status"))
    return out


_NUMERIC = ("score", "latency_ms")


def prepare(frame: pl.DataFrame, *, ids: pl.Series, batch_id: str, now: datetime) -> pl.DataFrame:
    """What the log buffers for a caller's frame: checked against :data:`INPUT_COLUMNS` by schema (cheap:
    no pass over the data for usual frames), with its ``prediction_id``, ``batch_id`` and logging ``time``.

    The full conversion (:func:`normalize`) runs once per flush on the buffered frames together.

    Examples
    --------
    >>> f = prepare(pl.DataFrame({"image_id": ["a"], "score": [1]}), ids=pl.Series(["p0"]), batch_id="b0",
    ...             now=datetime(2024, 1, 1, tzinfo=timezone.utc))
    >>> f.columns, str(f["time"][0])
    (['image_id', 'score', 'prediction_id', 'batch_id', 'time'], '2024-01-01 00:00:00+00:00')
    """
    frame = _rename(frame, ())
    schema = frame.schema
    for name in _NUMERIC:
        if name in schema and not (schema[name].is_numeric() or schema[name] == pl.Null):
            raise WorkspaceError(f"column {name!r} must hold numbers, got {schema[name]}")
    if "scores" in schema and not (isinstance(schema["scores"], pl.List | pl.Array) and (
            schema["scores"].inner.is_numeric() or schema["scores"].inner == pl.Null)
            or schema["scores"] == pl.Null):
        raise WorkspaceError(f"column 'scores' must hold one list of numbers per row, got {schema['scores']}")
    if "bytes" in schema and schema["bytes"] not in (pl.Binary, pl.Object, pl.Null):
        raise WorkspaceError(f"column 'bytes' must hold bytes, got {schema['bytes']}")
    if "status" in schema:
        bad = frame["status"].cast(pl.String).drop_nulls()
        bad = bad.filter(~bad.is_in(["ok", "failed"]))
        if bad.len():
            raise WorkspaceError(f"status must be 'ok' or 'failed', got {bad[0]!r}")
    extra = [ids.alias("prediction_id"), pl.lit(batch_id, dtype=pl.String).alias("batch_id")]
    if "time" not in schema:
        extra.append(_utc_lit(now).alias("time"))
    elif schema["time"] != pl.Datetime("us", "UTC") or frame["time"].null_count():
        extra.append(_time_expr(schema["time"], now))  # parsed and filled now: a flush never fails on them
    try:
        return frame.with_columns(extra)
    except pl.exceptions.PolarsError as error:
        raise WorkspaceError(f"column 'time' cannot be read as times: {str(error).splitlines()[0]}") from None


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
