"""Small seeded image sets and workspaces shared by the embedding tests."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest

from jupyter_cvops import Workspace


def write_images(folder: Path, n: int, seed: int = 0, size: tuple[int, int] = (24, 32)) -> list[Path]:
    """``n`` seeded random PNGs with some structure that differs between images."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    paths = []
    for i in range(n):
        img = rng.integers(0, 256, (*size, 3), dtype=np.uint8)
        img[:, : size[1] // 2] //= 1 + i % 3  # some structure that differs between images
        p = folder / f"img_{seed}_{i:04d}.png"
        cv2.imwrite(str(p), img)
        paths.append(p)
    return paths


def bucket_and_local(tmp_path: Path, s3_bucket: Any, monkeypatch: pytest.MonkeyPatch, *, prefix: str, n: int,
                     seed: int) -> tuple[Workspace, Workspace]:
    """The same ``n`` images registered in a workspace in the bucket (images in the bucket too, credentials
    only through its ``storage_options``) and in a local reference workspace."""
    for i, p in enumerate(write_images(tmp_path / "imgs", n, seed=seed)):
        s3_bucket.put(f"{prefix}/{i}.png", p.read_bytes())
    for k in [k for k in os.environ if k.startswith("AWS_")]:  # credentials only through storage_options
        monkeypatch.delenv(k)
    ws = Workspace.create(s3_bucket.uri("ws"), storage_options=s3_bucket.storage_options)
    ws.add_images(s3_bucket.uri(f"{prefix}/"), progress=False)
    ref = Workspace.create(tmp_path / "ref")
    ref.add_images(tmp_path / "imgs", progress=False)
    return ws, ref
