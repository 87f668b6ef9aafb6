"""Rows on their way into a table: conforming them to a schema, the time and actor stamped on them.

Pure helpers of :mod:`jupyter_cvops._store.store` (re-exported there and from
:mod:`jupyter_cvops._store`); nothing here touches LanceDB or the disk.
"""

from __future__ import annotations

import getpass
import os
from collections.abc import Mapping, Sequence
from datetime import datetime, timezone
from typing import Any, TypeAlias

import polars as pl
import pyarrow as pa

from ._errors import WorkspaceError

Rows: TypeAlias = "pa.Table | pl.DataFrame | Sequence[Mapping[str, Any]]"


def now_utc() -> datetime:
    """Current time, UTC, microsecond resolution (the precision tables store)."""
    return datetime.now(timezone.utc)


def current_user() -> str:
    """Who is acting: ``$CVOPS_USER``, else the login name."""
    user = os.environ.get("CVOPS_USER")
    if user:
        return user
    try:
        return getpass.getuser()
    except Exception:  # no login name in some containers
        return "unknown"


def to_arrow(rows: Rows, schema: pa.Schema) -> pa.Table:
    """Conform ``rows`` (dicts, a polars frame or an Arrow table) to ``schema``.

    Columns missing from ``rows`` become nulls; extra columns are an error, so a
    typo never silently drops data.

    Examples
    --------
    >>> import pyarrow as pa
    >>> s = pa.schema([pa.field("a", pa.string()), pa.field("b", pa.int32())])
    >>> to_arrow([{"a": "x"}], s).to_pylist()
    [{'a': 'x', 'b': None}]
    """
    if isinstance(rows, pl.DataFrame):
        table = rows.to_arrow()
    elif isinstance(rows, pa.Table):
        table = rows
    else:
        rows = list(rows)
        extra = {k for r in rows for k in r} - set(schema.names)
        if extra:
            raise WorkspaceError(f"unknown columns {sorted(extra)}; expected some of {schema.names}")
        return pa.Table.from_pylist(rows, schema=schema)
    extra = set(table.column_names) - set(schema.names)
    if extra:
        raise WorkspaceError(f"unknown columns {sorted(extra)}; expected some of {schema.names}")
    cols = []
    for field in schema:
        if field.name in table.column_names:
            col = table.column(field.name)
            if col.type != field.type:
                col = col.cast(field.type)
            cols.append(col)
        else:
            cols.append(pa.nulls(table.num_rows, type=field.type))
    return pa.Table.from_arrays(cols, schema=schema)
