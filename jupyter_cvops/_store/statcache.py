"""Incremental stat cache: skip re-hashing files that have not changed.

A small SQLite file maps an absolute path to what the file looked like when it was last
hashed (size, mtime in nanoseconds, inode) plus its content hash and the probed image
information as JSON. A scan that finds a file with the same (size, mtime_ns, inode) reuses
the hash and info without opening the file, so re-scanning 100k unchanged images costs one
``stat`` per file. This is DVC's state database; ``StatCache(None)`` is the no-op variant.

Objects in a bucket have no inode or trustworthy mtime: a second table maps an object URI
to (size, ETag) when it was read, its hash and info, so re-listing an unchanged bucket reads
no object bodies. Schema 2 added that table; a schema-1 file is migrated in place (its
entries kept).

Safety between processes: SQLite's file locking with a busy timeout, WAL journaling
(readers never block the writer), every write one ``BEGIN IMMEDIATE`` transaction. The
cache is disposable: an unreadable file is replaced, and a cache that cannot be written
degrades to a warning, never to a failed scan. WAL needs shared memory, which network file
systems do not offer reliably: keep the cache file on a local disk even for remote images.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
import warnings
from collections.abc import Iterable
from pathlib import Path
from typing import Any, NamedTuple

SCHEMA_VERSION = 2
RACY_WINDOW_NS = 50_000_000
"""How long after its mtime a file may still change without the mtime moving (the kernel
stamps times from a clock that ticks every few ms); whole-second mtimes use 2.5 s."""

_INO_WRAP = 1 << 64  # st_ino is unsigned 64-bit; SQLite integers are signed
_COLUMNS = "path, size, mtime_ns, inode, hash, info"
Row = tuple[str, int, int, int, str, str]
_OBJECTS_DDL = ("CREATE TABLE IF NOT EXISTS objects (uri TEXT PRIMARY KEY, size INTEGER NOT NULL, etag TEXT NOT"
                " NULL, hash TEXT NOT NULL, info TEXT NOT NULL) WITHOUT ROWID")


class StatCacheWarning(RuntimeWarning):
    """The stat cache could not be read or written; scans stay correct, only slower."""


def is_racy(mtime_ns: int, read_done_ns: int) -> bool:
    """Whether a file read until ``read_done_ns`` could change later with the same mtime.

    Such a file must not be cached (git's "racily clean" entries): a write in the same
    clock tick as its mtime would leave size and mtime as they were.

    Examples
    --------
    >>> is_racy(10**18, 10**18 + 1_000)
    True
    >>> is_racy(10**18 + 1, 10**18 + 10**9)
    False
    """
    window = RACY_WINDOW_NS if mtime_ns % 1_000_000_000 else 2_500_000_000
    return read_done_ns - mtime_ns < window


class CachedEntry(NamedTuple):
    """What a file looked like when hashed (``size``, ``mtime_ns``, ``inode`` from its
    stat), its content ``hash`` and what probing it found, as JSON text (``info_json``).
    ``path`` is absolute and is the key."""

    path: str
    size: int
    mtime_ns: int
    inode: int
    hash: str
    info_json: str

    @property
    def info(self) -> dict[str, Any]:
        """The probed information, parsed from ``info_json``.

        Examples
        --------
        >>> CachedEntry("/a.png", 1, 2, 3, "ab" * 16, '{"width": 4}').info
        {'width': 4}
        """
        info: dict[str, Any] = json.loads(self.info_json)
        return info


def _span(under: str | os.PathLike[str]) -> tuple[str, str]:
    prefix = os.path.join(os.fspath(under), "")
    return prefix, prefix[:-1] + chr(ord(prefix[-1]) + 1)  # all keys starting with prefix


class StatCache:
    """Path -> (size, mtime_ns, inode, hash, info) cache in an SQLite file.

    Parameters
    ----------
    path : str, Path or None
        The SQLite file (created with its folder if missing). None: a no-op cache that
        never hits and stores nothing.
    timeout : float, default 30
        Seconds to wait for another process's write lock before giving up on a write.

    Examples
    --------
    >>> import tempfile
    >>> d = Path(tempfile.mkdtemp())
    >>> _ = (d / "a.png").write_bytes(b"not really a png")
    >>> st = os.stat(d / "a.png")
    >>> with StatCache(d / "stat.sqlite") as cache:
    ...     n = cache.put_many([CachedEntry(str(d / "a.png"), st.st_size, st.st_mtime_ns,
    ...                                     st.st_ino, "ab" * 16, '{"width": 4}')])
    ...     cache.lookup(d / "a.png", st).hash == "ab" * 16
    True
    >>> StatCache(None).lookup(d / "a.png", st) is None
    True
    """

    def __init__(self, path: str | os.PathLike[str] | None, *, timeout: float = 30.0) -> None:
        self.path = None if path is None else Path(path).expanduser().absolute()
        self._timeout = timeout
        self._lock = threading.RLock()
        self._conn: sqlite3.Connection | None = None
        self._rows: dict[str, Row] = {}
        self._loaded: str | None = None  # key prefix held in memory; "" = everything
        self._version = -1  # PRAGMA data_version when loaded: moves when others commit
        if self.path is None:
            return
        try:
            self._conn = self._connect()
        except (sqlite3.OperationalError, OSError) as err:  # locked too long, read-only, ...
            self._warn(f"cannot be opened ({err}); scanning without it")
        except sqlite3.DatabaseError as err:
            self._warn(f"is unreadable ({err}); starting a new one")
            for suffix in ("", "-wal", "-shm"):
                Path(f"{self.path}{suffix}").unlink(missing_ok=True)
            try:
                self._conn = self._connect()
            except sqlite3.Error as again:
                self._warn(f"cannot be created ({again}); scanning without it")

    def _warn(self, what: str) -> None:
        warnings.warn(f"stat cache {self.path} {what}", StatCacheWarning, stacklevel=3)

    def _connect(self) -> sqlite3.Connection:
        assert self.path is not None
        self.path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(
            self.path, timeout=self._timeout, isolation_level=None, check_same_thread=False
        )
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")  # a lost last write only costs a re-hash
            version = "PRAGMA user_version"
            if conn.execute(version).fetchone()[0] == SCHEMA_VERSION:
                return conn  # the common case: no write lock needed to open
            with _transaction(conn):
                if conn.execute(version).fetchone()[0] not in (1, SCHEMA_VERSION):  # 1 -> 2: objects added
                    conn.execute("DROP TABLE IF EXISTS stat")
                conn.execute(
                    "CREATE TABLE IF NOT EXISTS stat (path TEXT PRIMARY KEY, size INTEGER NOT"
                    " NULL, mtime_ns INTEGER NOT NULL, inode INTEGER NOT NULL, hash TEXT NOT"
                    " NULL, info TEXT NOT NULL) WITHOUT ROWID"
                )
                conn.execute(_OBJECTS_DDL)
                conn.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
        except BaseException:
            conn.close()
            raise
        return conn

    @property
    def enabled(self) -> bool:
        """False for the no-op cache, a closed one, or one whose file could not be opened.

        Examples
        --------
        >>> StatCache(None).enabled
        False
        """
        return self._conn is not None

    def close(self) -> None:
        """Close the SQLite connection; the object then behaves as the no-op cache.

        Examples
        --------
        >>> StatCache(None).close()
        """
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None
            self._rows, self._loaded = {}, None

    def __enter__(self) -> StatCache:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __len__(self) -> int:
        with self._lock:
            if self._conn is None:
                return 0
            return int(self._conn.execute("SELECT COUNT(*) FROM stat").fetchone()[0])

    def __repr__(self) -> str:
        return f"StatCache({str(self.path) if self.path else None!r})"

    def load(self, under: str | os.PathLike[str] | None = None) -> int:
        """Read entries into memory, so that ``lookup`` is a dict access (once per scan).

        What is in memory is kept when it covers ``under`` and no other connection (this
        or another process) has written to the file since it was read (SQLite's
        ``PRAGMA data_version``; this object's own writes update memory as they commit).
        Otherwise it is replaced, so a new scan sees others' writes.

        Parameters
        ----------
        under : str, Path or None
            Only load entries inside this absolute folder (an index range scan); None or
            the root loads all. Lookups outside it still work, one query each.

        Returns
        -------
        int
            Number of entries in memory inside ``under``.

        Examples
        --------
        >>> StatCache(None).load("/data/images")
        0
        """
        with self._lock:
            if self._conn is None:
                self._rows, self._loaded = {}, None
                return 0
            where, prefix = "", ""
            args: tuple[str, ...] = ()
            if under is not None and os.path.dirname(os.fspath(under)) != os.fspath(under):
                where, args = " WHERE path >= ? AND path < ?", _span(under)
                prefix = args[0]
            version = self._conn.execute("PRAGMA data_version").fetchone()[0]
            held = self._loaded
            if held is not None and prefix.startswith(held) and version == self._version:
                if prefix == held:
                    return len(self._rows)
                return sum(1 for p in self._rows if p.startswith(prefix))
            self._rows, self._loaded, self._version = {}, None, version
            # Plain row tuples: building 100k named tuples here would double the load time.
            # a range on the primary key reads its index: path order at no cost (lookup_many's merge)
            order = " ORDER BY path" if where else ""
            rows = self._conn.execute(f"SELECT {_COLUMNS} FROM stat{where}{order}", args)
            self._rows = {r[0]: r for r in rows}
            negative = f"SELECT {_COLUMNS} FROM stat{where or ' WHERE 1'} AND inode < 0"
            for p, s, m, i, h, j in self._conn.execute(negative, args):
                self._rows[p] = (p, s, m, i + _INO_WRAP, h, j)
            self._loaded = prefix
            return len(self._rows)

    def lookup(self, path: str | os.PathLike[str], st: os.stat_result) -> CachedEntry | None:
        """The entry for ``path`` if its size, mtime_ns and inode all equal ``st``'s.

        Loads all entries on first use unless :meth:`load` was called.

        Parameters
        ----------
        path : str or Path
            Absolute path of the file.
        st : os.stat_result
            A fresh ``os.stat`` of the file.

        Returns
        -------
        CachedEntry or None
            None when the file is unknown or changed since it was hashed.

        Examples
        --------
        >>> StatCache(None).lookup("/data/a.png", os.stat(".")) is None
        True
        """
        key = os.fspath(path)
        row = self._rows.get(key)
        if row is None and self._conn is not None:
            if self._loaded is None:
                self.load()
                row = self._rows.get(key)
            elif not key.startswith(self._loaded):
                row = self._get(key)
        if row is None or row[1] != st.st_size or row[2] != st.st_mtime_ns or row[3] != st.st_ino:
            return None
        return tuple.__new__(CachedEntry, row)

    def lookup_many(
        self, items: Iterable[tuple[str, os.stat_result | None]]
    ) -> list[CachedEntry | None]:
        """:meth:`lookup` for many ``(path, stat)`` pairs at once (a scan's hot loop); a pair
        without a stat gets None.

        Examples
        --------
        >>> StatCache(None).lookup_many([("/data/a.png", os.stat("."))])
        [None]
        """
        if self._conn is None:
            return [None for _ in items]
        if self._loaded is None:
            self.load()
        rows, new = self._rows, tuple.__new__
        out: list[CachedEntry | None] = []
        # Entries are held in path order (loaded so, and a scan's new files are added in the
        # order it read them), and scans ask in path order: a merge walk answers most pairs
        # from the next entry in memory order, which at 1M entries costs a third of hashing
        # each path into the dict (random memory access); anything else asks the dict.
        seq = iter(rows.values())
        nxt = next(seq, None)
        for path, st in items:
            while nxt is not None and nxt[0] < path:
                nxt = next(seq, None)
            if nxt is not None and nxt[0] == path:
                row: Row | None = nxt
                nxt = next(seq, None)
            else:
                row = rows.get(path)
            if row is None and st is not None and not path.startswith(self._loaded or ""):
                row = self._get(path)
            if row is None or st is None or row[1] != st.st_size or row[2] != st.st_mtime_ns:
                out.append(None)
            else:
                out.append(new(CachedEntry, row) if row[3] == st.st_ino else None)
        return out

    def _get(self, key: str) -> Row | None:
        with self._lock:
            if self._conn is None:
                return None
            row = self._conn.execute(f"SELECT {_COLUMNS} FROM stat WHERE path = ?", (key,))
            found: Row | None = row.fetchone()
        if found is None or found[3] >= 0:
            return found
        return (*found[:3], found[3] + _INO_WRAP, *found[4:])

    def paths(self, under: str | os.PathLike[str] | None = None) -> list[str]:
        """Paths that have an entry, sorted; only those inside the folder ``under`` if given.

        Examples
        --------
        >>> StatCache(None).paths()
        []
        """
        with self._lock:
            if self._conn is None:
                return []
            if under is None:
                return [r[0] for r in self._conn.execute("SELECT path FROM stat ORDER BY path")]
            sql = "SELECT path FROM stat WHERE path >= ? AND path < ? ORDER BY path"
            return [r[0] for r in self._conn.execute(sql, _span(under))]

    def put_many(self, entries: Iterable[CachedEntry], *, remove: Iterable[str] = ()) -> int:
        """Insert or replace ``entries`` and drop the ``remove`` paths, in one transaction.

        Parameters
        ----------
        entries : iterable of CachedEntry
            Entries with absolute paths.
        remove : iterable of str
            Paths whose entries should go (files that no longer exist).

        Returns
        -------
        int
            Entries written: 0 for the no-op cache, or when the write failed (then a
            ``StatCacheWarning`` says why: the cache only accelerates, it is never needed).

        Examples
        --------
        >>> StatCache(None).put_many([CachedEntry("/a.png", 1, 2, 3, "ab" * 16, "{}")])
        0
        """
        rows: list[Row] = [(e.path, e.size, e.mtime_ns, e.inode, e.hash, e.info_json) for e in entries]
        gone = [(os.fspath(p),) for p in remove]
        for row in rows:
            if not os.path.isabs(row[0]):
                raise ValueError(f"stat cache keys must be absolute paths, got {row[0]!r}")
        with self._lock:
            if self._conn is None or not (rows or gone):
                return 0
            half = _INO_WRAP // 2
            signed = [r if r[3] < half else (*r[:3], r[3] - _INO_WRAP, *r[4:]) for r in rows]
            try:
                with _transaction(self._conn):
                    self._conn.executemany("DELETE FROM stat WHERE path = ?", gone)
                    sql = f"INSERT OR REPLACE INTO stat ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?)"
                    self._conn.executemany(sql, signed)
            except sqlite3.Error as err:
                self._warn(f"was not updated ({err}); the next scan re-hashes {len(rows)} files")
                return 0
            for (p,) in gone:
                self._rows.pop(p, None)
            self._rows.update((r[0], r) for r in rows)
            return len(rows)

    # -- objects in buckets ------------------------------------------------------------
    def lookup_objects(self, items: Iterable[tuple[str, int, str]]) -> list[CachedObject | None]:
        """Cached entries of ``(uri, size, etag)`` objects whose size and ETag are unchanged.

        One query per 500 URIs; an object is unknown (None) after any change of its ETag.

        Examples
        --------
        >>> StatCache(None).lookup_objects([("s3://b/a.png", 3, '"e"')])
        [None]
        """
        items = list(items)
        if self._conn is None:
            return [None] * len(items)
        found: dict[str, tuple[str, int, str, str, str]] = {}
        uris = [u for u, _, _ in items]
        with self._lock:
            if self._conn is None:
                return [None] * len(items)
            for k in range(0, len(uris), 500):
                part = uris[k:k + 500]
                sql = f"SELECT uri, size, etag, hash, info FROM objects WHERE uri IN ({','.join('?' * len(part))})"
                found.update((r[0], r) for r in self._conn.execute(sql, part))
        out: list[CachedObject | None] = []
        for uri, size, etag in items:
            row = found.get(uri)
            out.append(CachedObject(*row) if row is not None and row[1] == size and row[2] == etag else None)
        return out

    def object_uris(self, under: str) -> list[str]:
        """URIs with an entry that start with ``under`` (a bucket prefix), sorted.

        Examples
        --------
        >>> StatCache(None).object_uris("s3://b/line-1/")
        []
        """
        with self._lock:
            if self._conn is None:
                return []
            end = under[:-1] + chr(ord(under[-1]) + 1)
            sql = "SELECT uri FROM objects WHERE uri >= ? AND uri < ? ORDER BY uri"
            return [r[0] for r in self._conn.execute(sql, (under, end))]

    def put_objects(self, entries: Iterable[CachedObject], *, remove: Iterable[str] = ()) -> int:
        """Insert or replace object entries and drop the ``remove`` URIs, in one transaction.

        Returns the entries written (0 for the no-op cache or a failed write, which warns).

        Examples
        --------
        >>> StatCache(None).put_objects([CachedObject("s3://b/a.png", 3, '"e"', "ab" * 16, "{}")])
        0
        """
        rows = [tuple(e) for e in entries]
        gone = [(u,) for u in remove]
        with self._lock:
            if self._conn is None or not (rows or gone):
                return 0
            try:
                with _transaction(self._conn):
                    self._conn.executemany("DELETE FROM objects WHERE uri = ?", gone)
                    self._conn.executemany(
                        "INSERT OR REPLACE INTO objects (uri, size, etag, hash, info) VALUES (?, ?, ?, ?, ?)", rows)
            except sqlite3.Error as err:
                self._warn(f"was not updated ({err}); the next scan re-reads {len(rows)} objects")
                return 0
            return len(rows)


class CachedObject(NamedTuple):
    """An object as it was when read: ``uri`` (the key), ``size``, ``etag``, its content
    ``hash`` and the probed information as JSON (``info_json``).

    Examples
    --------
    >>> CachedObject("s3://b/a.png", 3, '"e"', "ab" * 16, "{}").etag
    '"e"'
    """

    uri: str
    size: int
    etag: str
    hash: str
    info_json: str


class _transaction:
    """``BEGIN IMMEDIATE`` ... ``COMMIT``, or ``ROLLBACK`` on any error."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn

    def __enter__(self) -> None:
        self._conn.execute("BEGIN IMMEDIATE")

    def __exit__(self, exc_type: type[BaseException] | None, *rest: object) -> None:
        try:
            if exc_type is None:
                self._conn.execute("COMMIT")
        finally:
            if self._conn.in_transaction:  # failed, or SQLite already rolled back (disk full)
                self._conn.execute("ROLLBACK")
