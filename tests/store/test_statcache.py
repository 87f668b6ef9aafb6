"""The stat cache: hits only on identical (size, mtime_ns, inode); safe for two processes."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from jupyter_cvops._store.statcache import (
    RACY_WINDOW_NS,
    SCHEMA_VERSION,
    CachedEntry,
    StatCache,
    StatCacheWarning,
    is_racy,
)

REPO = Path(__file__).resolve().parents[2]


def entry_for(path: Path, digest: str = "ab" * 16, info: str = '{"width": 4}') -> CachedEntry:
    st = os.stat(path)
    return CachedEntry(str(path), st.st_size, st.st_mtime_ns, st.st_ino, digest, info)


def fake_stat(st: os.stat_result, **changes: int) -> os.stat_result:
    """A copy of ``st`` with some of st_size / st_mtime_ns / st_ino replaced."""
    fields = {"st_size": st.st_size, "st_mtime_ns": st.st_mtime_ns, "st_ino": st.st_ino}
    fields.update(changes)
    head = list(st[:10])
    head[1], head[6] = fields["st_ino"], fields["st_size"]
    return os.stat_result(head, {"st_mtime_ns": fields["st_mtime_ns"]})


@pytest.fixture
def image(tmp_path: Path) -> Path:
    path = tmp_path / "img.png"
    path.write_bytes(b"\x89PNG not really")
    return path


def test_hit_needs_size_mtime_and_inode(tmp_path: Path, image: Path) -> None:
    with StatCache(tmp_path / "c.sqlite") as cache:
        assert cache.put_many([entry_for(image)]) == 1
        st = os.stat(image)
        hit = cache.lookup(image, st)
        assert hit is not None and hit.hash == "ab" * 16 and hit.info == {"width": 4}
        assert cache.lookup(str(image), st) == hit
        assert cache.lookup(image, fake_stat(st, st_size=st.st_size + 1)) is None
        assert cache.lookup(image, fake_stat(st, st_mtime_ns=st.st_mtime_ns + 1)) is None
        assert cache.lookup(image, fake_stat(st, st_ino=st.st_ino + 1)) is None
        assert cache.lookup(tmp_path / "other.png", st) is None
        assert cache.lookup_many([(str(image), st), (str(tmp_path / "x"), st)]) == [hit, None]


def test_real_change_misses(tmp_path: Path, image: Path) -> None:
    cache = StatCache(tmp_path / "c.sqlite")
    cache.put_many([entry_for(image)])
    image.write_bytes(b"\x89PNG changed, longer")
    assert cache.lookup(image, os.stat(image)) is None
    cache.close()


def test_noop_cache_never_hits(image: Path) -> None:
    cache = StatCache(None)
    assert not cache.enabled and cache.path is None and len(cache) == 0
    assert cache.put_many([entry_for(image)]) == 0
    assert cache.lookup(image, os.stat(image)) is None
    assert cache.lookup_many([(str(image), os.stat(image))]) == [None]
    assert cache.load() == 0 and cache.paths() == []


def test_persists_in_wal_mode(tmp_path: Path, image: Path) -> None:
    db = tmp_path / "sub" / "dir" / "c.sqlite"  # folders are created
    with StatCache(db) as cache:
        cache.put_many([entry_for(image)])
    with StatCache(db) as again:
        assert again.lookup(image, os.stat(image)) is not None
        assert len(again) == 1
    conn = sqlite3.connect(db)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    conn.close()


def test_load_under_a_folder_and_lookups_outside_it(tmp_path: Path) -> None:
    a, b = tmp_path / "a", tmp_path / "ab"  # "ab" shares the prefix "a" but is not inside a/
    a.mkdir(), b.mkdir()
    files = [a / "1.png", a / "2.png", b / "3.png"]
    for f in files:
        f.write_bytes(f.name.encode())
    with StatCache(tmp_path / "c.sqlite") as cache:
        cache.put_many([entry_for(f) for f in files])
        assert cache.load(a) == 2
        assert cache.paths(under=a) == [str(a / "1.png"), str(a / "2.png")]
        assert cache.lookup(b / "3.png", os.stat(b / "3.png")) is not None  # one query
        assert cache.load(os.sep) == 3 and cache.load() == 3


def test_put_many_is_one_transaction_and_removes(tmp_path: Path, image: Path) -> None:
    other = tmp_path / "other.png"
    other.write_bytes(b"x")
    with StatCache(tmp_path / "c.sqlite") as cache:
        cache.put_many([entry_for(image), entry_for(other)])
        cache.put_many([entry_for(image, digest="cd" * 16)], remove=[str(other)])
        assert cache.paths() == [str(image)]
        assert cache.lookup(image, os.stat(image)).hash == "cd" * 16  # type: ignore[union-attr]
        with pytest.raises(ValueError, match="absolute"):
            cache.put_many([CachedEntry("rel.png", 1, 1, 1, "ab" * 16, "{}")])


def test_inode_above_two_to_the_63(tmp_path: Path, image: Path) -> None:
    st = os.stat(image)
    big = (1 << 64) - 5
    with StatCache(tmp_path / "c.sqlite") as cache:
        cache.put_many([CachedEntry(str(image), st.st_size, st.st_mtime_ns, big, "ab" * 16, "{}")])
    with StatCache(tmp_path / "c.sqlite") as cache:
        assert cache.lookup(image, fake_stat(st, st_ino=big)) is not None
        cache.load(tmp_path)
        assert cache.lookup(image, fake_stat(st, st_ino=big)) is not None


def test_unreadable_file_is_replaced_with_a_warning(tmp_path: Path, image: Path) -> None:
    db = tmp_path / "c.sqlite"
    db.write_bytes(b"this is not an sqlite database at all, just text" * 100)
    with pytest.warns(StatCacheWarning, match="unreadable"):
        cache = StatCache(db)
    assert cache.enabled and cache.put_many([entry_for(image)]) == 1
    cache.close()


def test_an_unusable_location_degrades_to_the_noop_cache(tmp_path: Path, image: Path) -> None:
    with pytest.warns(StatCacheWarning, match="cannot be opened"):
        cache = StatCache(image / "c.sqlite")  # the "folder" is a file
    assert not cache.enabled and cache.lookup(image, os.stat(image)) is None
    assert cache.put_many([entry_for(image)]) == 0


def test_old_schema_is_dropped(tmp_path: Path, image: Path) -> None:
    db = tmp_path / "c.sqlite"
    conn = sqlite3.connect(db)
    conn.execute("CREATE TABLE stat (path TEXT PRIMARY KEY, whatever TEXT)")
    conn.execute("INSERT INTO stat VALUES ('/x', 'y')")
    conn.commit()
    conn.close()
    with StatCache(db) as cache:
        assert len(cache) == 0 and cache.put_many([entry_for(image)]) == 1


def test_a_locked_cache_warns_instead_of_failing(tmp_path: Path, image: Path) -> None:
    db = tmp_path / "c.sqlite"
    cache = StatCache(db, timeout=0.1)
    blocker = sqlite3.connect(db, isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")
    try:
        with pytest.warns(StatCacheWarning, match="not updated"):
            assert cache.put_many([entry_for(image)]) == 0
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    assert cache.put_many([entry_for(image)]) == 1  # usable again afterwards
    cache.close()


WRITER = """
import os, sys
from jupyter_cvops._store.statcache import CachedEntry, StatCache
cache = StatCache(sys.argv[1])
tag = sys.argv[2]
for batch in range(40):
    rows = [CachedEntry(f"/w/{tag}/{batch}/{i}.png", i, batch, i, "ab" * 16, "{}")
            for i in range(50)]
    assert cache.put_many(rows) == 50
    cache.load()
print("ok")
"""


def test_two_processes_write_concurrently(tmp_path: Path) -> None:
    db = tmp_path / "c.sqlite"
    StatCache(db).close()
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER, str(db), tag], env=env, stdout=subprocess.PIPE, text=True
        )
        for tag in ("p1", "p2")
    ]
    outs = [p.communicate(timeout=120)[0] for p in procs]
    assert [p.returncode for p in procs] == [0, 0] and all("ok" in o for o in outs)
    with StatCache(db) as cache:
        assert len(cache) == 2 * 40 * 50


def test_loading_100k_rows(tmp_path: Path) -> None:
    """100k rows load and answer lookups (their speed is measured by bench_register, not here)."""
    db = tmp_path / "c.sqlite"
    info = '{"width": 200, "height": 200, "channels": 1, "format": "png", "captured_at": null}'
    path = "/data/d{:03d}/img_{:07d}.png"
    rows = [
        CachedEntry(path.format(i % 100, i), 100 + i, 10**18 + i, i, f"{i:032x}", info)
        for i in range(100_000)
    ]
    with StatCache(db) as cache:
        assert cache.put_many(rows) == 100_000
    with StatCache(db) as fresh:  # a fresh object: a second load() would reuse memory
        assert fresh.load() == 100_000
    with StatCache(db) as cache:
        st = fake_stat(os.stat(db), st_size=100 + 7, st_mtime_ns=10**18 + 7, st_ino=7)
        hit = cache.lookup("/data/d007/img_0000007.png", st)
        assert hit is not None and hit.hash == f"{7:032x}"


def test_racy_window() -> None:
    mtime = 1_700_000_000_123_456_789
    assert is_racy(mtime, mtime + RACY_WINDOW_NS - 1)
    assert not is_racy(mtime, mtime + RACY_WINDOW_NS)
    whole = 1_700_000_000_000_000_000  # a file system with whole-second mtimes
    assert is_racy(whole, whole + 2 * 10**9) and not is_racy(whole, whole + 3 * 10**9)


def selects(conn: sqlite3.Connection) -> list[str]:
    """Record the SELECTs a connection runs from now on."""
    seen: list[str] = []
    conn.set_trace_callback(lambda sql: seen.append(sql) if sql.startswith("SELECT") else None)
    return seen


def test_load_keeps_memory_until_another_connection_writes(tmp_path: Path) -> None:
    a = tmp_path / "a"
    a.mkdir()
    files = [a / "1.png", a / "2.png", tmp_path / "3.png"]
    for f in files:
        f.write_bytes(f.name.encode())
    db = tmp_path / "c.sqlite"
    with StatCache(db) as cache, StatCache(db) as other:
        cache.put_many([entry_for(f) for f in files])
        assert cache.load(tmp_path) == 3
        assert cache._conn is not None
        seen = selects(cache._conn)
        assert cache.load(tmp_path) == 3 and cache.load(a) == 2  # covered: memory reused
        cache.put_many([entry_for(files[0], digest="01" * 16)])  # its own write: in memory
        assert cache.load(tmp_path) == 3 and seen == []
        hit = cache.lookup_many([(str(files[0]), os.stat(files[0]))])[0]
        assert hit is not None and hit.hash == "01" * 16

        other.put_many([entry_for(files[1], digest="02" * 16)], remove=[str(files[2])])
        assert cache.load(tmp_path) == 2 and len(seen) > 0  # another writer: reloaded
        assert cache.lookup(files[1], os.stat(files[1])).hash == "02" * 16  # type: ignore[union-attr]
        assert cache.lookup(files[2], os.stat(files[2])) is None

        raw = sqlite3.connect(db)  # any other connection, e.g. another process
        with raw:
            raw.execute("DELETE FROM stat")
        raw.close()
        assert cache.load(tmp_path) == 0
        assert cache.lookup(files[0], os.stat(files[0])) is None


def test_memory_never_hides_a_changed_file(tmp_path: Path, image: Path) -> None:
    with StatCache(tmp_path / "c.sqlite") as cache:
        cache.put_many([entry_for(image)])
        cache.load(tmp_path)
        old = os.stat(image)
        image.write_bytes(b"\x89PNG other bytes, longer")  # nobody tells the cache
        assert cache.load(tmp_path) == 1  # memory kept (no other writer) ...
        assert cache.lookup(image, os.stat(image)) is None  # ... but the stat differs
        assert cache.lookup_many([(str(image), os.stat(image))]) == [None]
        assert cache.lookup(image, old) is not None  # the entry describes the old file only
