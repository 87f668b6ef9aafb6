"""A small real workspace: 40 images over 4 days (the last two brighter), labelled by three annotators."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from PIL import Image

from jupyter_cvops import Workspace

T0 = datetime(2024, 3, 1, 8, tzinfo=timezone.utc)


def write_images(folder: Path, n: int, *, brightness: int, seed: int, prefix: str) -> list[Path]:
    """``n`` distinct 24x24 noise PNGs around ``brightness`` (seeded)."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    paths = []
    for i in range(n):
        px = np.clip(rng.normal(brightness, 25, (24, 24, 3)), 0, 255).astype(np.uint8)
        path = folder / f"{prefix}{i:03d}.png"
        Image.fromarray(px).save(path)
        paths.append(path)
    return paths


@pytest.fixture(scope="module")
def small_ws(tmp_path_factory: pytest.TempPathFactory) -> Workspace:
    root = tmp_path_factory.mktemp("checks")
    ws = Workspace.create(root / "ws")
    ref = write_images(root / "ref", 30, brightness=90, seed=1, prefix="r")
    ws.add_images([str(p) for p in ref], source="train", captured_at=T0 - timedelta(days=10), progress=False)
    cur = write_images(root / "cur", 24, brightness=90, seed=2, prefix="c") + write_images(
        root / "cur2", 24, brightness=200, seed=3, prefix="d")
    when = {str(p.resolve()): T0 + timedelta(days=i // 12, hours=i % 12) for i, p in enumerate(cur)}
    ws.add_images([str(p) for p in cur], source="line-1", captured_at=when, progress=False)
    ids = ws.images().filter(pl.col("source") == "train")["image_id"].to_list()
    rows = []
    for k, iid in enumerate(ids):
        truth = "dent" if k % 2 else "scratch"
        for j, who in enumerate(("ana", "ben", "chloe")):
            label = truth if (k + j) % 7 else ("scratch" if truth == "dent" else "dent")
            rows.append({"image_id": iid, "annotator": who, "class_name": label, "kind": "image",
                         "created_at": T0 - timedelta(days=9, hours=k)})
    ws.add_annotations(pl.DataFrame(rows))
    return ws
