"""Workspace format versions: what a writable open changes in an older workspace.

The ``meta`` table's ``format`` row says which on-disk layout wrote a workspace. A
writable :meth:`Store.open <jupyter_cvops._store.Store.open>` of an older workspace
migrates it in place, under the write lock: missing built-in tables are created,
missing columns are added to existing tables (nulls, or a value derived from other
columns where the schema needs one, e.g. a review's ``decision_id`` is its
``review_id``), then the numbered steps of :data:`STEPS` run, and the ``format`` row is
written last, so an interrupted migration simply runs again on the next open. A
workspace written by a *newer* release is refused for writing (read-only opens still
work: unknown columns are ignored). Read-only opens never migrate: :func:`conform`
fills what an older workspace lacks in memory.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import polars as pl
import pyarrow as pa

from ._errors import WorkspaceError
from .schemas import TABLES

if TYPE_CHECKING:
    from .store import Store

FORMAT_VERSION = 3
"""The workspace format this release writes (stored as text in ``meta``'s ``format`` row)."""

#: SQL expressions that fill a column added to an existing table, keyed by (table, column).
#: Columns not listed are filled with nulls.
FILL: Mapping[tuple[str, str], str] = {
    ("reviews", "decision_id"): "review_id",  # before decisions grouped rows, each row was its own decision
}

_NAME_KEY = ("name", "action", "version_id", "previous_version_id", "author", "created_at", "message")


def _names_into_aliases(store: Store) -> None:
    """Format 2 -> 3: dataset version names move from ``dataset_names`` into the shared ``aliases`` table.

    Rows already copied (an interrupted migration) are not copied again; all the others land
    in one commit. ``dataset_names`` stays as it was (an older release's record).
    """
    if "dataset_names" not in store._table_names():
        return
    old = store.read("dataset_names")
    if old.height == 0:
        return
    have = store.read("aliases", where="kind = 'dataset'")
    done = {tuple(r[k] for k in _NAME_KEY) for r in have.iter_rows(named=True)}
    rows = [dict(r, kind="dataset", target=None) for r in old.iter_rows(named=True)
            if tuple(r[k] for k in _NAME_KEY) not in done]
    if rows:
        store.append("aliases", rows)


#: Data migrations run after the columns are conformed: ``STEPS[n]`` takes format ``n`` to ``n + 1``.
#: Format 1 -> 2 is columns and tables only (reviews gained decision_id/accepted_annotator/reason; new
#: tables such as dataset version name history). Format 2 -> 3 copies the dataset version names'
#: history into the ``aliases`` table that model aliases share.
STEPS: dict[int, Callable[[Store], None]] = {2: _names_into_aliases}


@dataclass
class Migration:
    """What opening a workspace for writing changed (or, from :func:`plan`, would change).

    Examples
    --------
    >>> Migration(from_format=1, to_format=2, added_columns=["reviews.reason"]).summary()
    'migrated workspace format 1 -> 2: added columns reviews.reason'
    """

    from_format: int
    to_format: int
    created_tables: list[str] = field(default_factory=list)
    added_columns: list[str] = field(default_factory=list)
    steps: list[str] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        """Whether nothing needs (or needed) changing."""
        return (self.from_format == self.to_format and not self.created_tables and not self.added_columns
                and not self.steps)

    def summary(self) -> str:
        """One line for logs and events."""
        parts = []
        if self.created_tables:
            parts.append("created tables " + ", ".join(self.created_tables))
        if self.added_columns:
            parts.append("added columns " + ", ".join(self.added_columns))
        if self.steps:
            parts.append("ran " + ", ".join(self.steps))
        head = f"migrated workspace format {self.from_format} -> {self.to_format}"
        return head + (": " + "; ".join(parts) if parts else "")

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able record (stored in the ``workspace.migrate`` event)."""
        return {"from": self.from_format, "to": self.to_format, "created_tables": self.created_tables,
                "added_columns": self.added_columns, "steps": self.steps}


def parse_format(value: str | None, uri: str) -> int:
    """The format number of a ``meta`` ``format`` value; a clear error for garbage.

    Examples
    --------
    >>> parse_format("1", "/ws"), parse_format(None, "/ws")
    (1, 1)
    """
    if value is None:  # the very first workspaces wrote it; a missing row means the oldest layout
        return 1
    try:
        number = int(str(value).strip())
    except ValueError:
        number = -1
    if number < 1:
        raise WorkspaceError(f"{uri}: unreadable workspace format {value!r} in its 'meta' table")
    return number


def newer_error(uri: str, found: int) -> Exception:
    """The error a writable open of a workspace from a newer release raises.

    Examples
    --------
    >>> print(str(newer_error("/ws", 9)).split(";")[0])
    /ws was written by a newer jupyter-cvops (workspace format 9, this release writes 3)
    """
    return WorkspaceError(
        f"{uri} was written by a newer jupyter-cvops (workspace format {found}, this release writes "
        f"{FORMAT_VERSION}); upgrade jupyter-cvops to write to it, or open it with readonly=True to read"
    )


def missing_columns(actual: pa.Schema, expected: pa.Schema) -> list[pa.Field]:
    """Fields of ``expected`` that ``actual`` lacks, in ``expected``'s order.

    Examples
    --------
    >>> a = pa.schema([pa.field("x", pa.int32())])
    >>> b = pa.schema([pa.field("x", pa.int32()), pa.field("y", pa.string())])
    >>> [f.name for f in missing_columns(a, b)]
    ['y']
    """
    have = set(actual.names)
    return [f for f in expected if f.name not in have]


def plan(store: Store, found: int) -> Migration:
    """What a writable open of ``store`` (format ``found``) would change; nothing is written.

    Examples
    --------
    >>> import tempfile
    >>> from jupyter_cvops._store import Store
    >>> st = Store.create(tempfile.mkdtemp() + "/ws")
    >>> plan(st, FORMAT_VERSION).empty
    True
    """
    names = store._table_names()
    mig = Migration(from_format=found, to_format=max(found, FORMAT_VERSION))
    for name, schema in TABLES.items():
        if name not in names:
            mig.created_tables.append(name)
            continue
        actual = store._db.open_table(name).schema
        mig.added_columns += [f"{name}.{f.name}" for f in missing_columns(actual, schema)]
    mig.steps = [f"step {n}->{n + 1}" for n in range(found, FORMAT_VERSION) if n in STEPS]
    return mig


def migrate(store: Store, found: int) -> Migration:
    """Bring ``store`` (format ``found``, not newer) to :data:`FORMAT_VERSION` in place.

    Runs under the write lock; each change is its own Lance commit and is idempotent, and the
    ``format`` row is written last, so an interrupted migration completes on the next open.

    Examples
    --------
    >>> import tempfile
    >>> from jupyter_cvops._store import Store
    >>> st = Store.create(tempfile.mkdtemp() + "/ws")
    >>> migrate(st, FORMAT_VERSION).empty
    True
    """
    mig = plan(store, found)
    if mig.empty:
        return mig
    with store.lock:
        mig = plan(store, found)  # again, under the lock: another process may have migrated meanwhile
        names = store._table_names()
        for name, schema in TABLES.items():
            if name not in names:
                store._db.create_table(name, schema=schema, exist_ok=True)
                continue
            tbl = store._db.open_table(name)
            missing = missing_columns(tbl.schema, schema)
            filled = {f.name: FILL[(name, f.name)] for f in missing if (name, f.name) in FILL}
            plain = [f.with_nullable(True) for f in missing if f.name not in filled]
            if plain:
                tbl.add_columns(plain)
            if filled:
                tbl.add_columns(filled)
        for n in range(found, FORMAT_VERSION):
            if n in STEPS:
                STEPS[n](store)
        store._tables.clear()
        if found != FORMAT_VERSION:
            store.upsert("meta", "key", [{"key": "format", "value": str(FORMAT_VERSION)}])
        store.event("workspace.migrate", mig.to_dict())
    return mig


def conform(frame: pl.DataFrame, table: str, columns: list[str] | None = None) -> pl.DataFrame:
    """Add, as nulls, the columns of built-in ``table`` that ``frame`` (read from an older workspace) lacks.

    Values derived by :data:`FILL` are derived here too, so a read-only view of an older
    workspace reads like a migrated one.

    Examples
    --------
    >>> old = pl.DataFrame({"review_id": ["r1"], "image_id": ["i"]})
    >>> out = conform(old, "reviews")
    >>> out["decision_id"].to_list(), out["reason"].to_list()
    (['r1'], [None])
    """
    wanted = set(columns) if columns is not None else None
    missing = [f for f in TABLES[table] if f.name not in frame.columns and (wanted is None or f.name in wanted)]
    if not missing:
        return frame
    empty = pl.from_arrow(pa.schema(missing).empty_table())
    assert isinstance(empty, pl.DataFrame)
    cols = []
    for f in missing:
        source = FILL.get((table, f.name))
        source = source if source in frame.columns else None
        dtype = empty.schema[f.name]
        cols.append(pl.col(source).cast(dtype).alias(f.name) if source else pl.lit(None, dtype).alias(f.name))
    out = frame.with_columns(cols)
    return out.select(columns) if columns is not None else out
