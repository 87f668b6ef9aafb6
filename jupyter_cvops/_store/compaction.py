"""Compaction of append-heavy tables and cleanup of old Lance versions that never drops a kept one.

Every commit (each ``ws.log_predictions`` flush, each event, each check) adds a small
fragment and a new table version; old versions keep every byte they ever referenced. Here:

- :func:`compact` rewrites a table's small fragments into few large ones (rows unchanged,
  row deletions materialised) and then removes the old versions older than ``older_than``.
- A version is *kept* when it is tagged (each dataset version tags the ``images``,
  ``annotations`` and ``reviews`` versions it was taken from: ``ds-<id>``) or referenced
  (the ``table_versions`` a ``dataset_versions`` row records), whatever its age:
  :func:`kept_versions` says which and why, and they still ``checkout`` afterwards.
- The newest version is never removed, and versions younger than ``older_than`` (default
  7 days) stay, so a reader in another process still reading an old version is not cut off.

Both run under the workspace write lock, one table at a time.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from ._errors import WorkspaceError

if TYPE_CHECKING:
    from .store import Store

APPEND_HEAVY = ("predictions", "events", "checks")
"""Tables that grow by many small commits: what :func:`compact` treats when no table is named."""

DEFAULT_OLDER_THAN = timedelta(days=7)


def guard(store: Store) -> AbstractContextManager[Any]:
    """The write lock, or (a read-only store, where only dry runs get this far) nothing to hold.

    Examples
    --------
    >>> import tempfile
    >>> from jupyter_cvops._store.store import Store
    >>> st = Store.create(tempfile.mkdtemp() + "/ws")
    >>> guard(st) is st.lock
    True
    """
    return nullcontext() if store.readonly else store.lock


def kept_versions(store: Store, names: Iterable[str] | None = None) -> dict[str, dict[int, str]]:
    """Versions cleanup must never remove, per table: version -> why (a tag, a dataset version's record).

    Examples
    --------
    >>> import tempfile
    >>> from jupyter_cvops._store.store import Store
    >>> st = Store.create(tempfile.mkdtemp() + "/ws")
    >>> v = st.append("images", [{"image_id": "a", "path": "/a.png"}])
    >>> st.tag("images", "ds-0123")
    >>> kept_versions(st, ["images"])["images"] == {v: "tag ds-0123"}
    True
    """
    wanted = list(store.table_names() if names is None else names)
    out: dict[str, dict[int, str]] = {n: {} for n in wanted}
    for name in wanted:
        if not store.has_table(name):
            continue
        for tag, info in sorted(store.table(name).tags.list().items()):
            out[name].setdefault(int(info["version"]), f"tag {tag}")
    if store.has_table("dataset_versions"):
        rows = store.read("dataset_versions", columns=["version_id", "table_versions"])
        for vid, text in rows.iter_rows():
            try:
                recorded: Any = json.loads(text or "{}")
            except ValueError:
                continue
            versions = recorded.get("versions") if isinstance(recorded, dict) else None
            for table, version in (versions or {}).items() if isinstance(versions, dict) else ():
                if table in out and isinstance(version, int):
                    out[table].setdefault(version, f"dataset version {str(vid)[:12]}")
    return out


@dataclass
class TableCompaction:
    """What compaction (and cleanup) did, or would do, to one table.

    ``fragments_after`` is None in a dry run; ``versions_removed`` lists the Lance versions
    removed (would be); ``versions_kept`` the old ones spared because they are tagged or
    referenced (version -> why); ``bytes_freed`` the bytes of files removed (would be).
    """

    table: str
    rows: int
    fragments_before: int
    fragments_after: int | None
    versions_before: int
    versions_removed: list[int] = field(default_factory=list)
    versions_kept: dict[int, str] = field(default_factory=dict)
    bytes_freed: int = 0

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON."""
        return {"table": self.table, "rows": self.rows, "fragments_before": self.fragments_before,
                "fragments_after": self.fragments_after, "versions_before": self.versions_before,
                "versions_removed": self.versions_removed,
                "versions_kept": {str(k): v for k, v in sorted(self.versions_kept.items())},
                "bytes_freed": self.bytes_freed}


def _size(n: int) -> str:
    value = float(n)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{n} B"  # pragma: no cover


@dataclass
class CompactionReport:
    """Outcome of :func:`compact` (``ws.compact``): one :class:`TableCompaction` per table.

    Examples
    --------
    >>> rep = CompactionReport([TableCompaction("events", 10, 10, 1, 11, list(range(1, 11)), {}, 4096)], False,
    ...                        timedelta(days=7))
    >>> print(repr(rep).splitlines()[0])
    <CompactionReport: 1 table, 10 versions removed, 4.0 KiB freed (versions older than 7 days)>
    """

    tables: list[TableCompaction]
    dry_run: bool
    older_than: timedelta

    @property
    def bytes_freed(self) -> int:
        """Bytes freed (would be) over every table."""
        return sum(t.bytes_freed for t in self.tables)

    @property
    def versions_removed(self) -> int:
        """Versions removed (would be) over every table."""
        return sum(len(t.versions_removed) for t in self.tables)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON (what ``cvops compact --json`` prints)."""
        return {"dry_run": self.dry_run, "older_than_s": self.older_than.total_seconds(),
                "bytes_freed": self.bytes_freed, "versions_removed": self.versions_removed,
                "tables": [t.to_dict() for t in self.tables]}

    def __repr__(self) -> str:
        would = "would remove" if self.dry_run else "removed"
        n = len(self.tables)
        seconds = self.older_than.total_seconds()
        age = ("versions of any age" if seconds == 0 else f"versions older than {self.older_than.days} days"
               if seconds % 86400 == 0 else f"versions older than {seconds:g} s")
        head = (f"<CompactionReport{' (dry run)' if self.dry_run else ''}: {n} table{'s' if n != 1 else ''}, "
                f"{self.versions_removed} versions {'would be ' if self.dry_run else ''}removed, "
                f"{_size(self.bytes_freed)} {'would be ' if self.dry_run else ''}freed ({age})>")
        lines = [head]
        for t in self.tables:
            after = "?" if t.fragments_after is None else str(t.fragments_after)
            kept = (f"; kept {len(t.versions_kept)} tagged/referenced ("
                    + ", ".join(f"v{v}: {why}" for v, why in sorted(t.versions_kept.items())[:3])
                    + (", ..." if len(t.versions_kept) > 3 else "") + ")") if t.versions_kept else ""
            lines.append(f"  {t.table}: {t.rows} rows, fragments {t.fragments_before} -> {after}, "
                         f"{would} {len(t.versions_removed)} old versions, "
                         f"{_size(t.bytes_freed)}{kept}")
        return "\n".join(lines)


def _old_versions(ds: Any, older_than: timedelta, kept: Mapping[int, str]) -> tuple[list[int], dict[int, str]]:
    """(removable, spared) versions of dataset ``ds``: older than ``older_than``, not the newest."""
    cutoff = datetime.now() - older_than  # Lance reports naive local times
    latest = int(ds.latest_version)
    removable: list[int] = []
    spared: dict[int, str] = {}
    for v in ds.versions():
        number = int(v["version"])
        if number == latest or v["timestamp"] > cutoff:
            continue
        if number in kept:
            spared[number] = kept[number]
        else:
            removable.append(number)
    return removable, spared


def cleanup(store: Store, name: str, *, older_than: timedelta = DEFAULT_OLDER_THAN, dry_run: bool = False,
            kept: Mapping[int, str] | None = None) -> tuple[list[int], dict[int, str], int]:
    """Remove the old versions of table ``name`` except the kept ones; (removed, spared, bytes freed).

    ``kept`` defaults to :func:`kept_versions` of the table (tags and recorded references).
    Call it under ``store.lock``; :func:`compact` and ``ws.forget(..., purge=True)`` do.

    Examples
    --------
    >>> import tempfile
    >>> from jupyter_cvops._store.store import Store
    >>> st = Store.create(tempfile.mkdtemp() + "/ws")
    >>> for k in range(3):
    ...     _ = st.event("demo")
    >>> removed, spared, freed = cleanup(st, "events", older_than=timedelta(0))
    >>> len(removed), st.count("events")
    (3, 3)
    """
    if kept is None:
        kept = kept_versions(store, [name])[name]
    if not dry_run:
        store._check_writable("removing old versions")
    with guard(store):
        ds = store.table(name).to_lance()
        removable, spared = _old_versions(ds, older_than, kept)
        if not removable:
            return [], spared, 0
        if dry_run:
            stats = ds.explain_cleanup_old_versions(versions=removable, error_if_tagged_old_versions=False).stats
        else:
            stats = ds.cleanup_old_versions(versions=removable, error_if_tagged_old_versions=False)
        return removable, spared, int(stats.bytes_removed)


def _merge_index_segments(tbl: Any) -> bool:
    """Merge each index's delta segments into one (True if any had several).

    Lance compacts only fragments covered by the same index segment, so a table indexed
    incrementally (``Store.index_column(..., incremental=True)``, e.g. the prediction log past
    50k rows) keeps its small fragments until its segments are merged.
    """
    merged = False
    for index in tbl.list_indices():
        stats = tbl.index_stats(index.name)
        if stats is not None and int(getattr(stats, "num_indices", 1) or 1) > 1:
            tbl.to_lance().optimize.optimize_indices(index_names=[index.name], num_indices_to_merge=1_000_000)
            merged = True
    return merged


def compact(store: Store, tables: Iterable[str] | str | None = None, *,
            older_than: timedelta = DEFAULT_OLDER_THAN, dry_run: bool = False,
            materialize_deletions_threshold: float = 0.1) -> CompactionReport:
    """Compact ``tables`` (default :data:`APPEND_HEAVY`) and remove their old versions; see the module doc.

    Parameters
    ----------
    store
        The workspace's store (``ws.store``).
    tables
        Table names (any table of the workspace, embedding tables included); None: the
        prediction log, the events and the checks.
    older_than
        Remove versions older than this (never a tagged or referenced one, never the newest).
        ``timedelta(0)`` removes every other old version at once: a process reading an old
        version at that moment may then fail.
    dry_run
        Say what would go (versions, bytes) without changing anything.
    materialize_deletions_threshold
        Rewrite a fragment whose share of deleted rows is above this (0: any deleted row),
        so deleted rows leave the data files of the newest version.

    Examples
    --------
    >>> import tempfile
    >>> from jupyter_cvops._store.store import Store
    >>> st = Store.create(tempfile.mkdtemp() + "/ws")
    >>> for k in range(4):
    ...     _ = st.event("demo")
    >>> rep = compact(st, ["events"], older_than=timedelta(0))
    >>> t = rep.tables[0]
    >>> t.rows, t.fragments_before, t.fragments_after, st.count("events")   # + the store.compact event
    (4, 4, 1, 5)
    """
    if isinstance(tables, str):
        tables = [tables]
    names = list(APPEND_HEAVY if tables is None else tables)
    unknown = [n for n in names if not store.has_table(n)]
    if unknown:
        raise WorkspaceError(f"no table {unknown[0]!r} in this workspace; tables: {sorted(store.table_names())}")
    if older_than < timedelta(0):
        raise WorkspaceError(f"older_than must not be negative, got {older_than}")
    if not dry_run:
        store._check_writable("compacting")
    out: list[TableCompaction] = []
    with guard(store):
        kept_all = kept_versions(store, names)
        for name in names:
            tbl = store.table(name)
            ds = tbl.to_lance()
            rows, fragments, n_versions = int(ds.count_rows()), len(ds.get_fragments()), len(ds.versions())
            after: int | None = None
            if not dry_run:
                if fragments > 1 and _merge_index_segments(tbl):
                    ds = store.table(name).to_lance()
                if fragments > 1 or int(ds.stats.dataset_stats().get("num_deleted_rows", 0)):
                    ds.optimize.compact_files(materialize_deletions_threshold=materialize_deletions_threshold)
                ds = store.table(name).to_lance()
                after = len(ds.get_fragments())
                if int(ds.count_rows()) != rows:  # never expected: compaction only moves rows
                    raise WorkspaceError(f"compacting {name!r} changed its row count ({rows} -> {ds.count_rows()})")
            removed, spared, freed = cleanup(store, name, older_than=older_than, dry_run=dry_run,
                                             kept=kept_all[name])
            out.append(TableCompaction(name, rows, fragments, after, n_versions, removed, spared, freed))
        if not dry_run:
            store.event("store.compact", {"older_than_s": older_than.total_seconds(),
                                          "tables": {t.table: {"versions_removed": len(t.versions_removed),
                                                               "bytes_freed": t.bytes_freed,
                                                               "fragments": [t.fragments_before, t.fragments_after]}
                                                     for t in out}})
    return CompactionReport(out, dry_run, older_than)
