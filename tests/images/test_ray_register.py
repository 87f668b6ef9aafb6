"""``ws.add_images(folder, engine="ray")``: real Ray (local, 2 CPUs); the same image rows and problems as
in-process registration, duplicates across chunks included, in one commit."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest

from jupyter_cvops import Workspace
from jupyter_cvops.images import _ray as rayx

COLS = ["image_id", "path", "width", "height", "channels", "format", "bytes", "source", "captured_at"]


def test_register_on_ray_equals_in_process(ray_local: Any, tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    folder = tmp_path / "imgs"
    (folder / "sub").mkdir(parents=True)
    rng = np.random.default_rng(0)
    for i in range(9):
        ext = ".jpg" if i % 3 == 0 else ".png"
        cv2.imwrite(str(folder / ("sub" if i % 2 else "") / f"im_{i}{ext}"), rng.integers(0, 256, (12, 16, 3), np.uint8))
    shutil.copy(folder / "im_2.png", folder / "sub" / "zz_copy.png")  # the same content, in a later chunk
    (folder / "empty.png").write_bytes(b"")
    (folder / "cut.png").write_bytes((folder / "im_4.png").read_bytes()[:40])
    local, remote = Workspace.create(tmp_path / "local"), Workspace.create(tmp_path / "ray")
    a = local.add_images(folder, source="line-1", progress=False)
    monkeypatch.setattr(rayx, "scan_on_ray", _small_chunks(rayx.scan_on_ray))
    version = remote.store.version("images")
    b = remote.add_images(folder, source="line-1", progress=False, engine="ray")
    assert remote.store.version("images") == version + 1  # one commit
    assert (len(b.added), len(b.problems)) == (len(a.added), len(a.problems)) == (9, 3)
    assert sorted(b.added) == sorted(a.added)
    assert sorted(map(str, b.problems)) == sorted(map(str, a.problems))
    assert any("duplicate content of" in str(p) for p in b.problems)
    assert remote.images().select(COLS).equals(local.images().select(COLS))


def _small_chunks(fn: Any) -> Any:
    return lambda *a, **k: fn(*a, **k, chunk=3)
