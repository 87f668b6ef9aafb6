"""The one way in for writes: LanceDB tables behind a cross-process lock.

Every mutating method takes the workspace write lock and makes exactly one Lance
commit (one ``add`` or one ``merge_insert``), so a crash leaves the previous
version intact and two writers never lose an update. Operations that touch
several tables order their commits so the one that makes the result visible
(e.g. the dataset-version row) lands last.
"""

from __future__ import annotations

import contextlib
import json
import uuid
from collections.abc import Iterable, Iterator, Mapping
from datetime import timedelta
from pathlib import Path
from typing import Any

import lancedb
import polars as pl
import pyarrow as pa
import xxhash

from . import _migrations
from ._errors import WorkspaceError
from ._migrations import FORMAT_VERSION, Migration
from ._rows import Rows as Rows
from ._rows import current_user as current_user
from ._rows import now_utc as now_utc
from ._rows import to_arrow as to_arrow
from ._uri import _is_local, _local_path, _reach
from .lease import normalize_storage_options, warn_without_lease
from .lock import WriteLock
from .schemas import TABLES

MAX_INDEX_SEGMENTS = 16
"""Delta segments an incrementally kept BTREE index (``index_column(..., incremental=True)``) may
have before a rebuild merges them (each lookup visits every segment: ~3.5 ms with 6 at 1M rows)."""


class _ReadOnlyLock(WriteLock):
    """The lock of a read-only store: taking it (i.e. starting any write) raises.

    Nothing is created on disk: neither the lock file nor its folder.

    Examples
    --------
    >>> lock = _ReadOnlyLock("/nowhere/.cvops/write.lock", "/nowhere")
    >>> try:
    ...     lock.acquire()
    ... except WorkspaceError as e:
    ...     print(str(e).split(":")[0])
    workspace opened read-only (/nowhere)
    """

    def __init__(self, path: str | Path, uri: str) -> None:
        super().__init__(path)
        self.uri = uri

    def acquire(self) -> None:
        """Refuse: a read-only workspace is never written."""
        raise read_only_error(self.uri)


def read_only_error(uri: str, what: str = "writes") -> WorkspaceError:
    """The error every write attempt on a read-only workspace raises.

    Examples
    --------
    >>> str(read_only_error("/data/ws", "append to 'images'"))[:60]
    "workspace opened read-only (/data/ws): append to 'images' is"
    """
    return WorkspaceError(
        f"workspace opened read-only ({uri}): {what} is not allowed; "
        "open it with Workspace.open(path) (readonly=False) to write"
    )


class Store:
    """A workspace's LanceDB database, its write lock and small metadata.

    Use :meth:`create` or :meth:`open`; :class:`jupyter_cvops.Workspace` wraps it.
    ``Store.open(uri, readonly=True)`` never writes: no table is created or migrated,
    no ``.cvops/`` folder or lock file appears, and every write method raises
    :class:`WorkspaceError` before touching disk.

    Examples
    --------
    >>> import tempfile
    >>> st = Store.create(tempfile.mkdtemp() + "/ws")
    >>> _ = st.append("events", [{"event_id": "e1", "op": "hello"}])
    >>> st.read("events")["op"].to_list()
    ['hello']
    """

    def __init__(
        self, uri: str, *, _db: Any, readonly: bool = False, storage_options: Mapping[str, str] | None = None
    ) -> None:
        self.uri = uri
        self._db = _db
        self.readonly = readonly
        # LanceDB / object_store options of a remote workspace (endpoint, keys, region, ...), kept so
        # other code (image reads from buckets, artifacts, the lease) reaches the same storage.
        self.storage_options: dict[str, str] = normalize_storage_options(storage_options)
        self.local_root: Path | None = _local_path(uri) if _is_local(uri) else None
        if self.local_root is not None:
            self.meta_dir = self.local_root / ".cvops"
        else:
            digest = xxhash.xxh3_64_hexdigest(uri.encode())
            self.meta_dir = Path.home() / ".cache" / "jupyter-cvops" / digest
        self.lock: WriteLock
        if readonly:
            self.lock = _ReadOnlyLock(self.meta_dir / "write.lock", uri)
        else:
            self.meta_dir.mkdir(parents=True, exist_ok=True)
            # a remote (s3://) workspace adds the cross-machine lease in its bucket (lease.py)
            self.lock = WriteLock(self.meta_dir / "write.lock", uri=uri, storage_options=self.storage_options)
            if self.local_root is None and self.lock.lease is None:
                warn_without_lease(uri)
        self._tables: dict[str, Any] = {}
        self._schemas: dict[str, pa.Schema] = dict(TABLES)
        self._empty_db: Any = None  # read-only: in-memory stand-ins for tables an old release lacks
        self.format: int = FORMAT_VERSION  # the workspace format found on disk (after any migration)
        self.migration: Migration | None = None  # what the last writable open changed, if anything

    def _check_writable(self, what: str) -> None:
        if self.readonly:
            raise read_only_error(self.uri, what)

    # -- opening -------------------------------------------------------------
    @staticmethod
    def _connect(uri: str, storage_options: Mapping[str, str] | None = None) -> Any:
        opts = normalize_storage_options(storage_options)
        return _reach(
            uri, lambda: lancedb.connect(uri, read_consistency_interval=timedelta(0), storage_options=opts or None)
        )

    @classmethod
    def create(
        cls, uri: str | Path, *, exist_ok: bool = False, storage_options: Mapping[str, str] | None = None
    ) -> Store:
        """Create a workspace database at ``uri`` (a folder or a LanceDB URI such as ``s3://bucket/ws``).

        ``storage_options`` are LanceDB's object-store options for a remote ``uri``
        (``endpoint``, ``region``, ``aws_access_key_id``, ``allow_http``, ...); without them the
        environment LanceDB reads (``AWS_ENDPOINT``, ``AWS_REGION``, ...) applies.

        A missing or empty folder becomes a workspace. A folder that already holds
        something else (a user's files) is refused unless ``exist_ok=True``, and so is
        an existing workspace (open it instead).

        Examples
        --------
        >>> import tempfile, pathlib
        >>> folder = pathlib.Path(tempfile.mkdtemp())
        >>> _ = (folder / "notes.txt").write_text("mine")
        >>> try:
        ...     Store.create(folder)
        ... except WorkspaceError as e:
        ...     print("not empty" in str(e))
        True
        """
        uri = str(uri)
        if _is_local(uri):
            root = _local_path(uri)
            if root.exists() and not root.is_dir():
                raise WorkspaceError(f"cannot create a workspace at {root}: a file is in the way")
            if not exist_ok and root.is_dir() and any(root.iterdir()):
                if "meta" in set(cls._connect(str(root)).list_tables().tables):
                    raise WorkspaceError(f"a workspace already exists at {root} (use Workspace.open)")
                raise WorkspaceError(
                    f"cannot create a workspace at {root}: the folder is not empty and is not a "
                    "jupyter-cvops workspace; choose an empty or new folder "
                    "(or pass exist_ok=True to add the workspace tables beside its files)"
                )
            root.mkdir(parents=True, exist_ok=True)
            uri = str(root)
        store = cls(uri, _db=cls._connect(uri, storage_options), storage_options=storage_options)
        with store.lock:
            existing = _reach(uri, store._table_names)
            if "meta" in existing and not exist_ok:
                raise WorkspaceError(f"a workspace already exists at {uri} (use Workspace.open)")
            if "meta" in existing:  # exist_ok on a workspace: open it the way a writable open would
                store._check_format_and_migrate()
                return store
            for name, schema in TABLES.items():
                if name not in existing:
                    store._db.create_table(name, schema=schema, exist_ok=True)
            if "meta" not in existing:
                store.append(
                    "meta",
                    [
                        {"key": "format", "value": str(FORMAT_VERSION)},
                        {"key": "created_at", "value": now_utc().isoformat()},
                        {"key": "workspace_id", "value": uuid.uuid4().hex},
                    ],
                )
        return store

    @classmethod
    def open(
        cls, uri: str | Path, *, readonly: bool = False, storage_options: Mapping[str, str] | None = None
    ) -> Store:
        """Open an existing workspace; a clear error when ``uri`` holds none.

        Parameters
        ----------
        uri
            The workspace folder or LanceDB URI.
        readonly
            Never write: no migration of an older workspace (its missing tables read as
            empty, its missing columns as nulls), no ``.cvops/`` folder, lock or cache
            file; every write raises :class:`WorkspaceError`. Servers and viewers open
            workspaces this way.
        storage_options
            LanceDB's object-store options for a remote ``uri`` (see :meth:`create`); kept as
            ``store.storage_options``.

        A writable open of a workspace written by an older release migrates it in place
        (``store.migration`` says what changed; a ``workspace.migrate`` event records it);
        one written by a newer release is refused (open it read-only, or upgrade).

        Examples
        --------
        >>> import tempfile
        >>> path = tempfile.mkdtemp() + "/ws"
        >>> _ = Store.create(path)
        >>> ro = Store.open(path, readonly=True)
        >>> ro.count("images"), ro.readonly
        (0, True)
        """
        uri = str(uri)
        if _is_local(uri):
            root = _local_path(uri)
            if not root.is_dir():
                raise WorkspaceError(
                    f"no workspace at {root}: create one with Workspace.create() or `cvops init`"
                )
            uri = str(root)
        db = cls._connect(uri, storage_options)
        names = _reach(uri, lambda: set(db.list_tables().tables))
        if "meta" not in names:
            raise WorkspaceError(
                f"{uri} is not a jupyter-cvops workspace (no 'meta' table); "
                "create one with Workspace.create() or `cvops init`"
            )
        try:
            db.open_table("meta")
        except Exception as error:  # e.g. an empty or damaged meta.lance/ folder
            raise WorkspaceError(
                f"{uri} is not a jupyter-cvops workspace (its 'meta' table cannot be read: {error}); "
                "create one with Workspace.create() or `cvops init`"
            ) from None
        if not readonly:
            found = _migrations.parse_format(cls._format_row(db), uri)
            if found > FORMAT_VERSION:  # refuse before anything (the .cvops/ folder, the lock) is written
                raise _migrations.newer_error(uri, found)
        store = cls(uri, _db=db, readonly=readonly, storage_options=storage_options)
        store._check_format_and_migrate()
        return store

    @staticmethod
    def _format_row(db: Any) -> str | None:
        rows = db.open_table("meta").search().where("key = 'format'").to_list()
        return str(rows[-1]["value"]) if rows else None

    def _check_format_and_migrate(self) -> None:
        """Read the format; refuse newer ones for writing; migrate older ones when writable."""
        found = _migrations.parse_format(self._format_row(self._db), self.uri)
        self.format = found
        if self.readonly:
            return
        if found > FORMAT_VERSION:
            raise _migrations.newer_error(self.uri, found)
        mig = _migrations.migrate(self, found)
        if not mig.empty:
            self.migration = mig
            self.format = FORMAT_VERSION

    def _table_names(self) -> set[str]:
        return set(self._db.list_tables().tables)

    def ensure_table(self, name: str, schema: pa.Schema) -> Any:
        """Create (if needed) a table outside the fixed set, e.g. one embedding table per model.

        Its schema must match on later calls; writes then go through :meth:`append` /
        :meth:`upsert` like every other table.

        Examples
        --------
        >>> import tempfile, pyarrow as pa
        >>> st = Store.create(tempfile.mkdtemp() + "/ws")
        >>> _ = st.ensure_table("emb_demo", pa.schema([pa.field("image_id", pa.string())]))
        >>> st.count("emb_demo")
        0
        """
        self._check_writable(f"creating table {name!r}")
        if name in TABLES:
            raise WorkspaceError(f"{name!r} is a built-in table")
        with self.lock:
            if name in self._table_names():
                tbl = self._db.open_table(name)
                if not tbl.schema.equals(schema):
                    raise WorkspaceError(f"table {name!r} exists with another schema: {tbl.schema}")
            else:
                tbl = self._db.create_table(name, schema=schema)
        self._schemas[name] = schema
        self._tables[name] = tbl
        return tbl

    def drop_table(self, name: str) -> None:
        """Delete a table outside the fixed set (e.g. a rebuildable cache); a no-op if absent.

        Examples
        --------
        >>> import tempfile, pyarrow as pa
        >>> st = Store.create(tempfile.mkdtemp() + "/ws")
        >>> _ = st.ensure_table("cache_x", pa.schema([pa.field("a", pa.int32())]))
        >>> st.drop_table("cache_x"); st.has_table("cache_x")
        False
        """
        self._check_writable(f"dropping table {name!r}")
        if name in TABLES:
            raise WorkspaceError(f"{name!r} is a built-in table")
        with self.lock:
            if name in self._table_names():
                self._db.drop_table(name)
            self._schemas.pop(name, None)
            self._tables.pop(name, None)

    def table_names(self) -> set[str]:
        """Names of every table of the workspace, the dynamic ones included."""
        return self._table_names()

    def index_column(self, name: str, column: str, *, min_rows: int = 0, incremental: bool = False) -> str | None:
        """Keep a BTREE index on ``column`` of table ``name`` once it has ``min_rows`` rows.

        Created when missing; rebuilt when rows added since outnumber half the indexed ones
        (Lance scans unindexed rows, so lookups stay correct in between). Returns
        ``"created"``, ``"rebuilt"``, ``"updated"`` or None. Equality and ``IN`` filters on the
        column then cost milliseconds at a million rows instead of a full scan.

        ``incremental=True`` (tables looked up by a key that is appended to in many small
        commits, e.g. ``predictions.prediction_id``) indexes every call's new rows as a delta
        segment (~10 ms per 10k rows; the unindexed tail of up to a third of the table would
        otherwise be scanned: ~70 ms at 1M rows), merging the segments by a rebuild once
        there are :data:`MAX_INDEX_SEGMENTS`.

        Examples
        --------
        >>> import tempfile
        >>> st = Store.create(tempfile.mkdtemp() + "/ws")
        >>> _ = st.append("images", [{"image_id": "a", "path": "/a.png"}])
        >>> st.index_column("images", "image_id"), st.index_column("images", "image_id")
        ('created', None)
        >>> _ = st.append("images", [{"image_id": "b", "path": "/b.png"}])
        >>> st.index_column("images", "image_id", incremental=True)
        'updated'
        """
        self._check_writable(f"indexing {name}.{column}")
        from lancedb.index import BTree

        with self.lock:
            tbl = self.table(name)
            n = tbl.count_rows()
            if n < max(1, min_rows):
                return None
            found = [i for i in tbl.list_indices() if list(i.columns) == [column]]
            if found:
                stats = tbl.index_stats(found[0].name)
                if stats is not None and not stats.num_unindexed_rows:
                    return None
                if (incremental and stats is not None
                        and int(getattr(stats, "num_indices", 1) or 1) < MAX_INDEX_SEGMENTS):
                    tbl.to_lance().optimize.optimize_indices(index_names=[found[0].name], num_indices_to_merge=0)
                    return "updated"
                if stats is None or (not incremental and stats.num_unindexed_rows * 2 <= stats.num_indexed_rows):
                    return None
            tbl.create_index(column, config=BTree(), replace=True)
            return "rebuilt" if found else "created"

    def has_table(self, name: str) -> bool:
        """Whether table ``name`` exists in this workspace."""
        return name in self._table_names()

    def table(self, name: str) -> Any:
        """The LanceDB table ``name`` (always reading its latest version)."""
        if name not in self._schemas:
            if name in self._table_names():  # a dynamic table created by another process
                self._schemas[name] = self._db.open_table(name).schema
            else:
                raise WorkspaceError(f"unknown table {name!r}")
        tbl = self._tables.get(name)
        if tbl is None:
            if self.readonly and name in TABLES and name not in self._table_names():
                # an older workspace, not migrated when read-only: an empty table, in memory
                if self._empty_db is None:
                    self._empty_db = lancedb.connect("memory://")
                tbl = self._empty_db.create_table(name, schema=TABLES[name], exist_ok=True)
            else:
                tbl = self._db.open_table(name)
            self._tables[name] = tbl
        return tbl

    # -- reads ---------------------------------------------------------------
    def read(
        self,
        name: str,
        *,
        where: str | None = None,
        columns: list[str] | None = None,
        version: int | str | None = None,
    ) -> pl.DataFrame:
        """Read a table (optionally filtered, projected, or at an old version/tag) as polars."""
        if version is not None:
            tbl = self._db.open_table(name)
            tbl.checkout(version)
        else:
            tbl = self.table(name)
        wanted = columns
        if name in TABLES and (self.readonly or version is not None):
            # an older workspace read without migrating: read what exists, fill the rest in memory
            have = set(tbl.schema.names)
            if columns is not None and not set(columns) <= have:
                sources = [_migrations.FILL.get((name, c)) for c in columns]
                columns = [c for c in dict.fromkeys([*columns, *(s for s in sources if s)]) if c in have]
        if where is None:
            data = tbl.to_arrow()
            if columns is not None:
                data = data.select(columns)
        else:
            query = tbl.search().where(where)
            if columns is not None:
                query = query.select(columns)
            data = query.to_arrow()
        frame: pl.DataFrame = pl.from_arrow(data)  # type: ignore[assignment]
        if name in TABLES and (self.readonly or version is not None):
            frame = _migrations.conform(frame, name, wanted)
        return frame

    def count(self, name: str, where: str | None = None) -> int:
        """Number of rows of ``name`` (matching ``where``)."""
        return int(self.table(name).count_rows(where))

    def version(self, name: str) -> int:
        """Current Lance version number of table ``name``."""
        return int(self.table(name).version)

    def meta(self) -> dict[str, str]:
        """Workspace metadata (format version, creation time, workspace id)."""
        return {r["key"]: r["value"] for r in self.read("meta").to_dicts()}

    # -- writes (each: lock + one commit) ------------------------------------
    @contextlib.contextmanager
    def _committing(self, name: str, tbl: Any) -> Iterator[None]:
        """A remote commit that fails (endpoint gone, credentials refused) raises one line.

        The table keeps its last committed version: Lance makes a version visible only by
        writing its manifest, the last step of a commit."""
        if self.local_root is not None:
            yield
            return
        before = int(tbl.version)
        try:
            yield
        except (OSError, RuntimeError, ValueError) as error:
            from .lease import describe_storage_error

            why = describe_storage_error(self.uri, error)
            if not isinstance(error, OSError) and why.startswith("object storage error"):
                raise  # not the store's fault (e.g. bad input): the original error
            raise WorkspaceError(
                f"writing {name!r} failed: {why}; "
                f"the table stays at its last committed version (v{before})"
            ) from None

    def append(self, name: str, rows: Rows) -> int:
        """Append ``rows`` to table ``name`` in one commit; returns the new version."""
        self._check_writable(f"appending to {name!r}")
        self.table(name)
        data = to_arrow(rows, self._schemas[name])
        with self.lock:
            tbl = self.table(name)
            if data.num_rows:
                self.lock.check()
                with self._committing(name, tbl):
                    tbl.add(data)
            return int(tbl.version)

    def upsert(self, name: str, on: str, rows: Rows) -> int:
        """Insert-or-update ``rows`` keyed by column ``on`` in one commit."""
        self._check_writable(f"writing to {name!r}")
        self.table(name)
        data = to_arrow(rows, self._schemas[name])
        with self.lock:
            tbl = self.table(name)
            if data.num_rows:
                self.lock.check()
                with self._committing(name, tbl):
                    (
                        tbl.merge_insert(on)
                        .when_matched_update_all()
                        .when_not_matched_insert_all()
                        .execute(data)
                    )
            return int(tbl.version)

    def stream_upsert(self, name: str, on: str, batches: Iterable[Rows]) -> int:
        """Insert-or-replace the rows of ``batches`` keyed by ``on`` in one commit, one batch in memory at a
        time (for jobs too big to collect first): see :func:`~jupyter_cvops._store.streamed.stream_upsert`."""
        from .streamed import stream_upsert

        return stream_upsert(self, name, on, batches)

    def delete(self, name: str, where: str) -> int:
        """Delete the rows of table ``name`` matching ``where`` in one commit; returns how many went.

        Like every commit this makes a new version: older versions still hold the rows until
        they are cleaned up (see :mod:`jupyter_cvops._store.compaction`).

        Examples
        --------
        >>> import tempfile
        >>> st = Store.create(tempfile.mkdtemp() + "/ws")
        >>> _ = st.append("events", [{"event_id": "e1", "op": "a"}, {"event_id": "e2", "op": "b"}])
        >>> st.delete("events", "op = 'a'"), st.count("events")
        (1, 1)
        """
        self._check_writable(f"deleting from {name!r}")
        with self.lock:
            tbl = self.table(name)
            n = int(tbl.count_rows(where))
            if n:
                tbl.delete(where)
            return n

    def tag(self, name: str, tag: str, version: int | None = None) -> None:
        """Tag a table version so it survives cleanup (idempotent for the same version)."""
        self._check_writable(f"tagging {name!r}")
        with self.lock:
            tbl = self.table(name)
            v = int(tbl.version if version is None else version)
            tags = tbl.tags.list()
            if tag in tags:
                if int(tags[tag]["version"]) != v:
                    raise WorkspaceError(f"tag {tag!r} on {name} already points to another version")
                return
            self.lock.check()
            with self._committing(name, tbl):
                tbl.tags.create(tag, v)

    def event(self, op: str, details: Mapping[str, Any] | None = None, actor: str | None = None) -> None:
        """Record an operation in the ``events`` audit log (one commit)."""
        self._check_writable(f"recording event {op!r}")
        self.append(
            "events",
            [
                {
                    "event_id": uuid.uuid4().hex,
                    "time": now_utc(),
                    "actor": actor or current_user(),
                    "op": op,
                    "details": json.dumps(dict(details or {}), default=str, sort_keys=True),
                }
            ],
        )

    def compact(self, names: Iterable[str] | None = None) -> None:
        """Compact small fragments of the given tables (all by default) and remove versions older
        than 7 days, never a tagged or recorded one (see :func:`._store.compaction.compact`;
        LanceDB's own ``optimize`` refuses to run once a tagged version is that old)."""
        from .compaction import compact

        self._check_writable("compacting")
        compact(self, list(names or TABLES))
