"""Image files and fresh workspaces for the prediction-log tests (seeded, no network)."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from jupyter_cvops import Workspace

PAST_NS = 1_600_000_000 * 10**9  # an mtime well in the past: the stat cache keeps such files (never racy)


@pytest.fixture
def ws(tmp_path: Path) -> Workspace:
    return Workspace.create(tmp_path / "ws")


@pytest.fixture
def make_images(tmp_path: Path) -> Callable[..., list[Path]]:
    """``make_images(n, brightness=90, seed=0, folder="in")``: distinct 20x20 noise PNGs, old mtimes."""

    def make(n: int, *, brightness: int = 90, seed: int = 0, folder: str = "in") -> list[Path]:
        out = tmp_path / folder
        out.mkdir(parents=True, exist_ok=True)
        rng = np.random.default_rng(seed)
        paths = []
        for i in range(n):
            px = np.clip(rng.normal(brightness, 25, (20, 20, 3)), 0, 255).astype(np.uint8)
            path = out / f"{folder}-{seed}-{i:03d}.png"
            Image.fromarray(px).save(path)
            os.utime(path, ns=(PAST_NS, PAST_NS))
            paths.append(path)
        return paths

    return make
