"""A small workspace for shadow comparisons: coloured images and tiny seeded torch models whose answers
are known by construction (the dominant colour channel is the class), registered as versions of ``clf``.

- ``prod``: :class:`ColorNet` (class = dominant channel: red ``a``, green ``b``, blue ``c``), alias production;
- ``same``: the same weights saved as TorchScript (another version id, the same answers);
- ``reordered``: the same function with its classes in another order (``c, a, b``);
- ``flip``: :class:`FlipNet`, production except that every ``b`` becomes ``c``;
- ``other_pre``: production's weights behind another preprocessing (a different fingerprint).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image

from jupyter_cvops import Preprocess, Workspace

PAST_NS = 1_600_000_000 * 10**9
CLASSES = ["a", "b", "c"]


class ColorNet(torch.nn.Module):
    """Logits = scale x the mean of each normalised channel (rows permuted by ``perm``)."""

    def __init__(self, perm: tuple[int, int, int] = (0, 1, 2), scale: float = 3.0) -> None:
        super().__init__()
        self.fc = torch.nn.Linear(3, 3)
        with torch.no_grad():
            self.fc.weight.copy_(torch.eye(3)[list(perm)] * scale)
            self.fc.bias.zero_()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(x.mean(dim=(2, 3)))


class FlipNet(torch.nn.Module):
    """:class:`ColorNet`, but class ``b`` is never answered: its images go to ``c``."""

    def __init__(self) -> None:
        super().__init__()
        self.base = ColorNet()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        logits = self.base(x)
        return torch.stack([logits[:, 0], logits[:, 1] - 100.0, torch.maximum(logits[:, 1], logits[:, 2])], dim=1)


PRE = dict(size=16, crop=16, mean=(0.5, 0.5, 0.5), std=(0.25, 0.25, 0.25))


def make_images(folder: Path, n: int = 30, seed: int = 0) -> list[Path]:
    """``n`` noisy images, a third each with red, green or blue dominant (in that order, repeating)."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(n):
        px = rng.normal(90, 20, (20, 20, 3))
        px[..., i % 3] += rng.uniform(40, 120)
        path = folder / f"img{i:03d}.png"
        Image.fromarray(np.clip(px, 0, 255).astype(np.uint8)).save(path)
        os.utime(path, ns=(PAST_NS, PAST_NS))
        paths.append(path)
    return paths


def make_world(root: Path, n: int = 30) -> dict[str, Any]:
    ws = Workspace.create(root / "ws")
    pre = Preprocess(**PRE)  # type: ignore[arg-type]
    prod = ws.register_model("clf", ColorNet().eval(), preprocess=pre, classes=CLASSES)
    same = ws.register_model("clf", ColorNet().eval(), preprocess=pre, classes=CLASSES, format="torchscript")
    reordered = ws.register_model("clf", ColorNet(perm=(2, 0, 1)).eval(), preprocess=pre, classes=["c", "a", "b"])
    flip = ws.register_model("clf", FlipNet().eval(), preprocess=pre, classes=CLASSES)
    other = Preprocess(16, crop=16, mean=(0.45, 0.45, 0.45), std=(0.25, 0.25, 0.25))
    other_pre = ws.register_model("clf", ColorNet().eval(), preprocess=other, classes=CLASSES)
    ws.set_alias("clf", "production", prod.version, reason="first")
    ws.set_alias("clf", "candidate", flip.version, reason="try it")
    return {"ws": ws, "pre": pre, "prod": prod, "same": same, "reordered": reordered, "flip": flip,
            "other_pre": other_pre, "paths": make_images(root / "served", n)}
