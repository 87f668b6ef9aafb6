"""Logged predictions identify their images by content hash and register them where they are: files are
never copied, a file the stat cache knows is not read again, and an unreadable image fails its row only."""

from __future__ import annotations

import io
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from PIL import Image

from jupyter_cvops import Workspace, WorkspaceError
from jupyter_cvops.images import _probe
from jupyter_cvops.images._hashing import hash_bytes, hash_file

T = datetime(2024, 5, 2, 10, tzinfo=timezone.utc)


def test_images_are_registered_by_hash_where_they_are(ws: Workspace, make_images: Callable[..., list[Path]],
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    paths = make_images(6)
    frame = pl.DataFrame({"path": [str(p) for p in paths], "predicted_class": ["ok"] * 6,
                          "score": np.linspace(0.5, 1, 6), "time": [T] * 6})
    rows = ws.log_predictions(frame, model="clf", version="v1", source="line-2")
    assert rows["image_id"].to_list() == [hash_file(p) for p in paths]
    assert rows["path"].to_list() == [str(p.resolve()) for p in paths] and (rows["status"] == "ok").all()
    images = ws.images()
    assert sorted(images["image_id"]) == sorted(rows["image_id"])
    assert sorted(images["path"]) == sorted(str(p.resolve()) for p in paths)
    assert (images["source"] == "line-2").all() and (images["captured_at"] == T).all()  # no EXIF: served time
    assert list(Path(ws.uri).rglob("*.png")) == []  # nothing copied into the workspace
    # a second batch of the same files: the stat cache answers, no file is read, no image row is added
    reads: list[str] = []
    real = _probe.read_and_hash
    monkeypatch.setattr(_probe, "read_and_hash", lambda p, **k: reads.append(str(p)) or real(p, **k))
    images_version = ws.store.version("images")
    again = ws.log_predictions(frame, model="clf", version="v1")
    assert reads == [] and ws.store.version("images") == images_version
    assert again["image_id"].to_list() == rows["image_id"].to_list()
    assert ws.predictions().height == 12


def test_a_known_image_id_is_trusted_and_a_copy_is_the_same_image(ws: Workspace,
                                                                  make_images: Callable[..., list[Path]]) -> None:
    a, b = make_images(2)
    copy = a.parent / "copy-of-a.png"
    copy.write_bytes(a.read_bytes())
    ws.add_images([str(a)], progress=False)
    frame = pl.DataFrame({"path": [str(a), str(copy), str(b)], "image_id": [None, None, "f" * 32]})
    rows = ws.log_predictions(frame, model="clf")
    assert rows["image_id"].to_list() == [hash_file(a), hash_file(a), "f" * 32]
    assert rows["status"].to_list() == ["ok"] * 3
    assert ws.images().height == 1  # the copy is image a; an id given by the caller is not read or registered


def test_unreadable_images_fail_their_row_and_the_batch_goes_on(ws: Workspace, tmp_path: Path,
                                                                make_images: Callable[..., list[Path]]) -> None:
    good = make_images(2)
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"not an image at all")
    empty = tmp_path / "empty.png"
    empty.write_bytes(b"")
    frame = pl.DataFrame({
        "image": [str(good[0]), str(bad), str(tmp_path / "gone.png"), str(tmp_path), str(empty),
                  "s3://bucket/x.png", None, str(good[1])],
        "predicted_class": ["ok"] * 8,
    })
    before = ws.store.version("predictions")
    rows = ws.log_predictions(frame, model="clf")
    assert ws.store.version("predictions") == before + 1  # one commit for the whole batch
    assert rows["status"].to_list() == ["ok", "failed", "failed", "failed", "failed", "failed", "failed", "ok"]
    errors = rows["error"].to_list()
    assert errors[0] is None and errors[7] is None
    assert "not an image" in errors[1] and errors[2] == "no such file" and errors[3] == "not a regular file"
    assert errors[4] == "zero-byte file" and "s3://" in errors[5] and "bytes" in errors[5]
    assert errors[6].startswith("no image")
    assert rows.filter(pl.col("status") == "failed")["image_id"].null_count() == 6
    assert ws.images().height == 2  # the folder was not walked


def test_bytes_are_hashed_in_memory(ws: Workspace) -> None:
    buf = io.BytesIO()
    Image.new("RGB", (7, 5), (10, 20, 30)).save(buf, format="PNG")
    png = buf.getvalue()
    frame = pl.DataFrame({"bytes": [png, png, b"garbage"], "uri": ["s3://bucket/a.png", None, "s3://bucket/b.png"],
                          "predicted_class": ["ok", "ok", "ok"]})
    rows = ws.log_predictions(frame, model="clf")
    assert rows["image_id"].to_list() == [hash_bytes(png), hash_bytes(png), None]
    assert rows["status"].to_list() == ["ok", "ok", "failed"] and "not an image" in rows["error"][2]
    images = ws.images()
    assert images.select("image_id", "path", "width", "height").rows() == [(hash_bytes(png), "s3://bucket/a.png", 7, 5)]
    assert "bytes" not in rows.columns


def test_frames_are_checked(ws: Workspace) -> None:
    with pytest.raises(WorkspaceError, match="unknown prediction columns"):
        ws.log_predictions(pl.DataFrame({"image_id": ["a"], "predicted_clas": ["x"]}), model="clf")
    with pytest.raises(WorkspaceError, match="status"):
        ws.log_predictions(pl.DataFrame({"image_id": ["a"], "status": ["maybe"]}), model="clf")
    with pytest.raises(WorkspaceError, match="twice"):
        ws.log_predictions(pl.DataFrame({"image": ["a"], "path": ["b"]}), model="clf")
    with pytest.raises(WorkspaceError, match="time"):
        ws.log_predictions(pl.DataFrame({"image_id": ["a"], "time": [3]}), model="clf")
    assert ws.predictions().height == 0


def test_a_read_only_workspace_refuses_logging(ws: Workspace) -> None:
    ro = Workspace.open(ws.uri, readonly=True)
    with pytest.raises(WorkspaceError, match="read-only"):
        ro.log_predictions(pl.DataFrame({"image_id": ["a"]}), model="clf")
    assert ro.predictions().height == 0
