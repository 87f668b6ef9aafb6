"""Seeded test images for the preprocessing tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image


def photo(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    """A smooth-ish RGB image with texture: gradients, a few blobs, noise (uint8)."""
    y, x = np.mgrid[0:h, 0:w].astype(np.float64)
    base = np.stack([x / w * 200, y / h * 180, (x + y) / (h + w) * 220], axis=2)
    for _ in range(4):
        cy, cx, r = rng.uniform(0, h), rng.uniform(0, w), rng.uniform(5, min(h, w) / 3)
        base += (np.hypot(y - cy, x - cx) < r)[..., None] * rng.uniform(-60, 60, 3)
    base += rng.normal(0, 12, base.shape)
    return np.clip(base, 0, 255).astype(np.uint8)


@pytest.fixture(scope="session")
def images(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """Twelve PNG files of odd sizes (landscape, portrait, small, large), seeded."""
    rng = np.random.default_rng(7)
    folder = tmp_path_factory.mktemp("pre-images")
    sizes = [(61, 97), (300, 451), (451, 300), (224, 224), (257, 255), (33, 41), (480, 640), (640, 480),
             (199, 301), (512, 383), (100, 100), (275, 500)]
    out = []
    for i, (h, w) in enumerate(sizes):
        p = folder / f"img{i:02d}.png"
        Image.fromarray(photo(rng, h, w)).save(p)
        out.append(p)
    return out
