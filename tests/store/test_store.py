"""Store: one commit per write, cross-process lock, schema conformance, crash safety."""

from __future__ import annotations

import multiprocessing as mp
import os
from pathlib import Path

import pytest

from jupyter_cvops._store import Store, WorkspaceError, WriteLock, to_arrow
from jupyter_cvops._store._migrations import FORMAT_VERSION
from jupyter_cvops._store.schemas import EVENTS


def test_create_open_and_meta(tmp_path: Path) -> None:
    st = Store.create(tmp_path / "ws")
    assert st.meta()["format"] == str(FORMAT_VERSION)
    again = Store.open(tmp_path / "ws")
    assert again.meta()["workspace_id"] == st.meta()["workspace_id"]
    with pytest.raises(WorkspaceError, match="already exists"):
        Store.create(tmp_path / "ws")


def test_open_errors_are_clear(tmp_path: Path) -> None:
    with pytest.raises(WorkspaceError, match="no workspace at"):
        Store.open(tmp_path / "missing")
    (tmp_path / "plain").mkdir()
    with pytest.raises(WorkspaceError, match="not a jupyter-cvops workspace"):
        Store.open(tmp_path / "plain")
    (tmp_path / "file").write_text("x")
    with pytest.raises(WorkspaceError, match="a file is in the way"):
        Store.create(tmp_path / "file")


def test_append_is_one_commit_and_unknown_columns_fail(tmp_path: Path) -> None:
    st = Store.create(tmp_path / "ws")
    v0 = st.version("events")
    v1 = st.append("events", [{"event_id": str(i), "op": "x"} for i in range(100)])
    assert v1 == v0 + 1
    assert st.count("events") == 100
    with pytest.raises(WorkspaceError, match="unknown columns"):
        st.append("events", [{"event_id": "a", "nope": 1}])
    assert st.count("events") == 100


def test_old_versions_stay_readable(tmp_path: Path) -> None:
    st = Store.create(tmp_path / "ws")
    st.append("events", [{"event_id": "a", "op": "first"}])
    st.tag("events", "t1")
    st.append("events", [{"event_id": "b", "op": "second"}])
    assert st.read("events", version="t1")["op"].to_list() == ["first"]
    assert sorted(st.read("events")["op"].to_list()) == ["first", "second"]
    with pytest.raises(WorkspaceError, match="another version"):
        st.tag("events", "t1")


def test_upsert_updates_in_place(tmp_path: Path) -> None:
    st = Store.create(tmp_path / "ws")
    st.upsert("meta", "key", [{"key": "k", "value": "1"}])
    st.upsert("meta", "key", [{"key": "k", "value": "2"}])
    assert st.read("meta", where="key = 'k'")["value"].to_list() == ["2"]


def test_to_arrow_fills_missing_columns() -> None:
    t = to_arrow([{"event_id": "e"}], EVENTS)
    assert t.schema == EVENTS and t.column("op").null_count == 1


def _writer(uri: str, who: int, n: int) -> None:
    st = Store.open(uri)
    for i in range(n):
        with st.lock:  # read-modify-write under the lock: no lost update
            cur = st.read("meta", where="key = 'counter'")
            value = int(cur["value"][0]) if cur.height else 0
            st.upsert("meta", "key", [{"key": "counter", "value": str(value + 1)}])


def test_two_processes_never_lose_an_update(tmp_path: Path) -> None:
    st = Store.create(tmp_path / "ws")
    ctx = mp.get_context("spawn")
    procs = [ctx.Process(target=_writer, args=(st.uri, k, 15)) for k in range(2)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
        assert p.exitcode == 0
    assert st.read("meta", where="key = 'counter'")["value"].to_list() == ["30"]


def test_lock_is_reentrant_and_exclusive(tmp_path: Path) -> None:
    lock = WriteLock(tmp_path / "l.lock", timeout=0.3)
    other = WriteLock(tmp_path / "l.lock", timeout=0.3)
    with lock, lock:
        assert lock.held
        # a second lock object on the same file is another open file description: excluded
        import threading

        err: list[BaseException] = []

        def grab() -> None:
            try:
                other.acquire()
            except BaseException as exc:  # noqa: BLE001
                err.append(exc)

        t = threading.Thread(target=grab)
        t.start()
        t.join()
        assert err and "holds the workspace write lock" in str(err[0])
    assert not lock.held
    other.acquire()
    other.release()
    assert os.path.exists(tmp_path / "l.lock")


def test_index_column_created_kept_and_rebuilt_and_lookups_unchanged(tmp_path: Path) -> None:
    st = Store.create(tmp_path / "ws")
    st.append("images", [{"image_id": f"id{i:05d}", "path": f"/p/{i}.png"} for i in range(300)])
    assert st.index_column("images", "image_id", min_rows=1000) is None  # too small: a scan is fine
    assert st.index_column("images", "image_id", min_rows=100) == "created"
    assert st.index_column("images", "image_id", min_rows=100) is None
    st.append("images", [{"image_id": f"new{i:05d}", "path": f"/q/{i}.png"} for i in range(100)])
    assert st.index_column("images", "image_id", min_rows=100) is None  # 100 unindexed of 300: scanned
    got = st.read("images", where="image_id IN ('id00007', 'new00042', 'nope')").sort("image_id")
    assert got["path"].to_list() == ["/p/7.png", "/q/42.png"]  # indexed and unindexed rows both found
    st.append("images", [{"image_id": f"more{i:05d}", "path": "/r.png"} for i in range(200)])
    assert st.index_column("images", "image_id", min_rows=100) == "rebuilt"
    assert st.count("images", "image_id = 'more00199'") == 1


def test_registering_new_images_is_an_audit_event(tmp_path: Path) -> None:
    import cv2
    import numpy as np

    from jupyter_cvops import Workspace

    ws = Workspace.create(tmp_path / "ws")
    for i in range(3):
        cv2.imwrite(str(tmp_path / f"{i}.png"), np.full((4, 4), i * 40, np.uint8))
    ws.add_images(tmp_path, progress=False)
    ev = ws.events().filter(ws.events()["op"] == "images.add")
    assert ev.height == 1 and '"added": 3' in ev["details"][0]
