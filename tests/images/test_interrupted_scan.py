"""An interrupted ``add_images`` keeps the hashing it did: the re-run reads only the rest (issue 9, B11)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from jupyter_cvops import Workspace
from jupyter_cvops.images import scan as scan_module

N = 300
STOP_AFTER = 200


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    rng = np.random.default_rng(3)
    out = tmp_path / "imgs"
    out.mkdir()
    old = 1_600_000_000  # mtimes long past: no file is "racily clean", every hash may be cached
    for i in range(N):
        p = out / f"{i:04d}.png"
        Image.fromarray(rng.integers(0, 255, size=(8, 8, 3), dtype=np.uint8)).save(p)
        os.utime(p, (old, old))
    return out


@pytest.mark.parametrize("workers", [1, 2])
def test_interrupted_add_images_keeps_its_hashing(folder: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                  workers: int) -> None:
    calls = {"n": 0}
    real = scan_module._read_and_probe

    def probe_then_ctrl_c(path: str, **kw: object) -> object:
        calls["n"] += 1
        if calls["n"] > STOP_AFTER:
            raise KeyboardInterrupt
        return real(path, **kw)

    ws = Workspace.create(tmp_path / "ws")
    monkeypatch.setattr(scan_module, "_read_and_probe", probe_then_ctrl_c)
    with pytest.raises(KeyboardInterrupt):
        scan_module.scan_images(folder, cache=ws._statcache(), progress=False, workers=workers)
    monkeypatch.undo()
    assert ws.images().height == 0  # nothing registered: the images table only changes on success
    report = ws.add_images(folder, progress=False)
    assert len(report.added) == N
    # threads lose at most the chunks in flight when Ctrl-C lands; one thread loses none
    assert report.n_cached >= (STOP_AFTER if workers == 1 else STOP_AFTER - 2 * 64)
    assert report.n_hashed == N - report.n_cached


def test_scan_checkpoints_while_it_runs(folder: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A kernel killed mid-scan runs no ``except``: periodic saves keep most of the work."""
    saves: list[int] = []
    real_save = scan_module._Checkpoint.save

    def counting_save(self: scan_module._Checkpoint) -> None:
        real_save(self)
        saves.append(len(self.saved))

    monkeypatch.setattr(scan_module._Checkpoint, "save", counting_save)
    monkeypatch.setattr(scan_module._Checkpoint, "maybe", lambda self: self.save())  # every batch
    ws = Workspace.create(tmp_path / "ws")
    ws.add_images(folder, progress=False)
    assert saves and saves[-1] == N
    monkeypatch.undo()
    again = ws.add_images(folder, progress=False)
    assert again.n_cached == N and again.n_hashed == 0
