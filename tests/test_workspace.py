"""Workspace: registering images, importing and adding labels, reading them back."""

from __future__ import annotations

import os
import shutil
from datetime import datetime, timezone
from pathlib import Path

import polars as pl
import pytest
import xxhash

from jupyter_cvops import Workspace, WorkspaceError
from jupyter_cvops._store import statcache


@pytest.fixture
def neu(tmp_path: Path, shared_data: Path) -> Path:
    dst = tmp_path / "neu"
    shutil.copytree(shared_data / "images" / "neu-surface-defects", dst)
    return dst


def test_register_is_incremental_and_keeps_identity_on_move(tmp_path: Path, neu: Path) -> None:
    ws = Workspace.create(tmp_path / "ws")
    rep = ws.add_images(neu, source="neu", progress=False)
    assert len(rep.added) == 30 and rep.ok
    imgs = ws.images()
    assert imgs.height == 30
    assert set(imgs["width"].to_list()) == {200} and set(imgs["source"].to_list()) == {"neu"}
    assert imgs["image_id"].str.len_chars().unique().to_list() == [32]

    again = ws.add_images(neu, progress=False)
    assert again.n_hashed == 0 and len(again.unchanged) == 30 and not again.added

    first = sorted(neu.glob("*.jpg"))[0]
    iid = imgs.filter(pl.col("path") == str(first))["image_id"][0]
    moved = neu / "sub" / "renamed.jpg"
    moved.parent.mkdir()
    first.rename(moved)
    rep3 = ws.add_images(neu, progress=False)
    assert rep3.moved == [iid]
    assert ws.images().filter(pl.col("image_id") == iid)["path"][0] == str(moved)
    assert ws.images().height == 30


def test_bad_files_get_reasons_and_the_rest_proceeds(tmp_path: Path, neu: Path) -> None:
    (neu / "empty.jpg").write_bytes(b"")
    good = sorted(neu.glob("*.jpg"))[1].read_bytes()
    (neu / "truncated.jpg").write_bytes(good[: len(good) // 2])
    (neu / "notes.png").write_text("not an image")
    (neu / "copy.jpg").write_bytes(good)
    ws = Workspace.create(tmp_path / "ws")
    rep = ws.add_images([neu, tmp_path / "missing.jpg"], progress=False)
    reasons = {Path(p.path).name: p.reason for p in rep.problems}
    assert set(reasons) >= {"empty.jpg", "truncated.jpg", "notes.png", "missing.jpg"}
    assert "zero-byte" in reasons["empty.jpg"] and "truncated" in reasons["truncated.jpg"]
    dup = [p for p in rep.problems if "duplicate" in p.reason]
    assert len(dup) == 1
    assert ws.images().height == 30
    assert rep.problems_frame().height == len(rep.problems)


def test_add_annotations_frame_and_problems(tmp_path: Path, neu: Path) -> None:
    ws = Workspace.create(tmp_path / "ws")
    ws.add_images(neu, progress=False)
    ids = ws.images()["image_id"].to_list()
    t = datetime(2026, 1, 5, tzinfo=timezone.utc)
    df = pl.DataFrame({
        "image_id": [ids[0], ids[0], ids[1], "f" * 32, ids[2]],
        "annotator": ["ana", "ben", "ana", "ana", "ben"],
        "created_at": [t] * 5,
        "class_name": ["scratch", "dent", "scratch", "dent", "dent"],
        "kind": ["box", "box", "image", "image", "box"],
        "x0": [10.0, 12.0, None, None, 150.0],
        "y0": [10.0, 12.0, None, None, 150.0],
        "x1": [50.0, 52.0, None, None, 260.0],
        "y1": [50.0, 52.0, None, None, 190.0],
    })
    rep = ws.add_annotations(df)
    assert rep.n_labels_added == 3
    reasons = [p.reason for p in rep.problems]
    assert any("not registered" in r for r in reasons)
    assert any("past the 200x200 image" in r for r in reasons)
    assert set(rep.classes_added) == {"dent", "scratch"}
    anns = ws.annotations()
    assert anns.height == 3 and set(anns["class_name"]) == {"scratch", "dent"}
    assert ws.add_annotations(df).n_labels_added == 0  # idempotent


def test_import_real_voc_export_is_idempotent(tmp_path: Path, shared_data: Path) -> None:
    ws = Workspace.create(tmp_path / "ws")
    src = shared_data / "formats" / "voc-neu-det"
    rep = ws.import_annotations(src, format="voc", annotator="neu-authors", progress=False)
    assert rep.n_images_found == 300, rep
    assert rep.n_labels_added > 300
    n = rep.n_labels_added
    assert ws.annotations().height == n
    assert set(ws.taxonomy.classes()["name"]) == {
        "crazing", "inclusion", "patches", "pitted_surface", "rolled-in_scale", "scratches"}
    again = ws.import_annotations(src, format="voc", annotator="neu-authors", progress=False)
    assert again.n_labels_added == 0 and again.n_labels_already_present == n
    assert ws.annotations().height == n


def test_malformed_export_writes_nothing(tmp_path: Path, shared_data: Path) -> None:
    from jupyter_cvops.formats._types import FormatError

    ws = Workspace.create(tmp_path / "ws")
    bad = tmp_path / "bad.json"
    bad.write_text('{"images": [1, 2, ')
    with pytest.raises(FormatError):
        ws.import_annotations(bad, format="coco")
    assert ws.images().height == 0 and ws.annotations().height == 0 and ws.taxonomy.version == 0


def test_open_missing_workspace_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(WorkspaceError, match="no workspace"):
        Workspace.open(tmp_path / "nope")
    ws = Workspace.create(tmp_path / "ws")
    assert "0 images" in repr(ws)


def test_kept_stat_cache_sees_other_workspace_objects_and_changed_files(
    tmp_path: Path, neu: Path
) -> None:
    ws = Workspace.create(tmp_path / "ws")
    other = Workspace.open(tmp_path / "ws")  # another object, as another kernel would open it
    assert ws.add_images(neu, progress=False).n_hashed == 30
    assert ws.add_images(neu, progress=False).n_hashed == 0

    files = sorted(neu.glob("*.jpg"))
    files[0].write_bytes(files[0].read_bytes() + b"\0")  # changed: size and mtime move
    files[1].write_bytes(files[1].read_bytes() + b"\0\0")
    os.utime(files[1], ns=(10**18, 10**18))  # hashed long after its mtime: cacheable
    rep = other.add_images(files[1], progress=False)
    assert rep.n_hashed == 1 and len(rep.added) == 1
    new_id = rep.added[0]

    again = ws.add_images(neu, progress=False)  # files[1] comes from other's cache entry
    assert again.n_hashed == 1 and again.n_cached == 29
    assert again.paths[str(files[1])] == new_id
    assert again.paths[str(files[0])] == xxhash.xxh3_128_hexdigest(files[0].read_bytes())


def test_a_same_size_rewrite_within_the_mtime_tick_is_rehashed(
    tmp_path: Path, neu: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # "within the tick" however long this busy machine takes between the write and the read
    monkeypatch.setattr(statcache, "RACY_WINDOW_NS", 30 * 10**9)
    ws = Workspace.create(tmp_path / "ws")
    first = sorted(neu.glob("*.jpg"))[0]
    data = first.read_bytes()
    first.write_bytes(data)  # just written: its mtime is "now"
    st = os.stat(first)
    rep = ws.add_images(first, progress=False)
    assert rep.n_hashed == 1
    mid = len(data) // 2  # one byte of entropy-coded data: same size, still a complete JPEG
    changed = data[:mid] + bytes([data[mid] ^ 1]) + data[mid + 1 :]
    first.write_bytes(changed)  # then the same mtime again
    os.utime(first, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert os.stat(first).st_ino == st.st_ino
    rep2 = ws.add_images(first, progress=False)
    assert rep2.n_hashed == 1 and rep2.n_cached == 0
    assert rep2.paths[str(first)] == xxhash.xxh3_128_hexdigest(changed) != rep.paths[str(first)]


def test_stat_cache_is_kept_but_not_across_fork(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    ws = Workspace.create(tmp_path / "ws")
    kept = ws._statcache()
    assert ws._statcache() is kept and kept.enabled
    pid = os.getpid()
    monkeypatch.setattr(os, "getpid", lambda: pid + 1)  # as in a forked child
    child = ws._statcache()
    assert child is not kept and child.enabled and ws._statcache() is child
