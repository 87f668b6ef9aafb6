"""Open modes: a read-only open never writes; create refuses a folder of someone's files."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from pathlib import Path

import lancedb
import pytest
import xxhash

from jupyter_cvops import Workspace, WorkspaceError
from jupyter_cvops._store import Store

Tree = dict[str, tuple[str, int, int, str]]


def tree(root: Path) -> Tree:
    """Every path under ``root`` (itself included): kind, size, mtime_ns and content hash."""
    out: Tree = {}
    for p in [root, *sorted(root.rglob("*"))]:
        st = os.lstat(p)
        if p.is_dir():
            out[str(p.relative_to(root))] = ("dir", 0, st.st_mtime_ns, "")
        else:
            out[str(p.relative_to(root))] = ("file", st.st_size, st.st_mtime_ns,
                                             xxhash.xxh3_64_hexdigest(p.read_bytes()))
    return out


@pytest.fixture
def neu(tmp_path: Path, shared_data: Path) -> Path:
    dst = tmp_path / "neu"
    shutil.copytree(shared_data / "images" / "neu-surface-defects", dst)
    return dst


@pytest.fixture
def real_ws(tmp_path: Path, neu: Path) -> Path:
    """A workspace with images, a class and a dataset version, closed again."""
    ws = Workspace.create(tmp_path / "ws")
    ws.add_images(neu, source="neu", progress=False)
    ws.taxonomy.ensure(["scratch"], message="first class")
    ws.snapshot(name="v1", message="baseline")
    del ws
    return tmp_path / "ws"


@pytest.fixture
def empty_meta(tmp_path: Path) -> Path:
    """A folder that merely looks like a workspace: an empty ``meta.lance/``."""
    folder = tmp_path / "lookalike"
    (folder / "meta.lance").mkdir(parents=True)
    return folder


# -- 1. read-only opens never write ---------------------------------------------------
def test_readonly_open_of_an_empty_meta_folder_writes_nothing(empty_meta: Path) -> None:
    before = tree(empty_meta)
    with pytest.raises(WorkspaceError, match="not a jupyter-cvops workspace"):
        Workspace.open(empty_meta, readonly=True)
    assert tree(empty_meta) == before
    assert not (empty_meta / ".cvops").exists()


def test_writable_open_of_an_empty_meta_folder_creates_nothing(empty_meta: Path) -> None:
    before = tree(empty_meta)
    with pytest.raises(WorkspaceError, match="not a jupyter-cvops workspace"):
        Workspace.open(empty_meta)
    assert tree(empty_meta) == before


def test_readonly_open_of_a_real_workspace_reads_and_writes_nothing(real_ws: Path) -> None:
    shutil.rmtree(real_ws / ".cvops")  # as if copied without it: a read must not bring it back
    before = tree(real_ws)
    ws = Workspace.open(real_ws, readonly=True)
    assert ws.images().height == 30
    assert ws.versions()["name"].to_list() == ["v1"]
    assert "scratch" in ws.taxonomy.classes()["name"].to_list()
    assert ws.taxonomy.version == 1 and ws.taxonomy.history().height == 1
    del ws
    assert tree(real_ws) == before


def test_readonly_open_does_not_migrate_an_older_workspace(real_ws: Path) -> None:
    lancedb.connect(str(real_ws)).drop_table("events")  # a table a newer release added
    before = tree(real_ws)
    ws = Workspace.open(real_ws, readonly=True)
    assert ws.store.count("events") == 0 and ws.store.read("events").height == 0
    assert ws.images().height == 30
    assert tree(real_ws) == before
    assert "events" not in lancedb.connect(str(real_ws)).list_tables().tables
    Workspace.open(real_ws)  # a writable open migrates
    assert "events" in lancedb.connect(str(real_ws)).list_tables().tables


def test_writes_on_a_readonly_workspace_raise_and_change_nothing(real_ws: Path, neu: Path) -> None:
    (neu / "new.jpg").write_bytes((sorted(neu.glob("*.jpg"))[0]).read_bytes() + b"\0")
    before, before_images = tree(real_ws), tree(neu)
    ws = Workspace.open(real_ws, readonly=True)
    attempts: list[Callable[[], object]] = [
        lambda: ws.add_images(neu, progress=False),
        lambda: ws.snapshot(name="v2"),
        lambda: ws.taxonomy.ensure(["dent"]),
        lambda: ws.store.append("events", [{"event_id": "x", "op": "poke"}]),
        lambda: ws.store.event("poke"),
        lambda: ws.store.tag("images", "t"),
        lambda: ws.store.compact(),
    ]
    for attempt in attempts:
        with pytest.raises(WorkspaceError, match="workspace opened read-only"):
            attempt()
    assert tree(real_ws) == before and tree(neu) == before_images
    assert Workspace.open(real_ws, readonly=True).versions().height == 1


def test_the_server_opens_read_only(empty_meta: Path, real_ws: Path) -> None:
    from jupyter_cvops._server.handlers import _open_and_read
    from jupyter_cvops._server.paths import WorkspaceRefused

    root = empty_meta.parent
    before = tree(root)
    with pytest.raises(WorkspaceRefused):
        _open_and_read(empty_meta, "lookalike", [root], lambda ws: ws.versions().to_dicts())
    rows = _open_and_read(real_ws, "ws", [root], lambda ws: ws.versions().to_dicts())
    assert [r["name"] for r in rows] == ["v1"]
    assert tree(root) == before

    def write(ws: Workspace) -> None:
        ws.store.event("poke")

    with pytest.raises(WorkspaceError, match="read-only"):
        _open_and_read(real_ws, "ws", [root], write)
    assert tree(root) == before


def test_readonly_store_refuses_dynamic_tables(real_ws: Path) -> None:
    import pyarrow as pa

    st = Store.open(real_ws, readonly=True)
    with pytest.raises(WorkspaceError, match="read-only"):
        st.ensure_table("emb_x", pa.schema([pa.field("a", pa.int32())]))
    with pytest.raises(WorkspaceError, match="read-only"):
        with st.lock:
            pass
    assert not st.has_table("emb_x")


# -- 2. create refuses a folder of someone's files ------------------------------------
def test_create_refuses_a_non_empty_folder_that_is_not_a_workspace(tmp_path: Path) -> None:
    folder = tmp_path / "project"
    folder.mkdir()
    (folder / "thesis.docx").write_bytes(b"my only copy")
    before = tree(folder)
    with pytest.raises(WorkspaceError) as info:
        Workspace.create(folder)
    msg = str(info.value)
    assert str(folder) in msg and "not empty" in msg and "not a jupyter-cvops workspace" in msg
    assert tree(folder) == before

    ws = Workspace.create(folder, exist_ok=True)  # asked for explicitly
    assert ws.images().height == 0 and (folder / "thesis.docx").read_bytes() == b"my only copy"


def test_create_in_an_empty_or_missing_folder_works(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    assert Workspace.create(tmp_path / "empty").images().height == 0
    assert Workspace.create(tmp_path / "missing" / "deeper").images().height == 0
    with pytest.raises(WorkspaceError, match="already exists"):
        Workspace.create(tmp_path / "empty")
    assert Workspace.create(tmp_path / "empty", exist_ok=True).images().height == 0
