"""One small seeded workspace (6 tiny images, labels, a review, a snapshot, imgstats embeddings, predictions
logged in several commits), built once per session and copied for each test that changes it."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from PIL import Image

from jupyter_cvops import Workspace

PAST_NS = 1_600_000_000 * 10**9


def build(root: Path) -> Path:
    images = root / "images"
    images.mkdir(parents=True)
    rng = np.random.default_rng(13)
    for i in range(6):
        px = rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)
        path = images / f"img-{i}.png"
        Image.fromarray(px).save(path)
        os.utime(path, ns=(PAST_NS, PAST_NS))
    ws = Workspace.create(root / "ws")
    ws.add_images(str(images / "*.png"), source="line-1", progress=False)
    ids = sorted(ws.images()["image_id"].to_list())
    ws.add_annotations(pl.DataFrame({"image_id": ids, "annotator": ["ana"] * 6,
                                     "class_name": ["dent", "ok"] * 3, "kind": ["image"] * 6}))
    ws.decide(ids[0], "accept", annotator="ana")
    ws.snapshot(name="base", message="all six")
    ws.embed("imgstats", progress=False)
    for k in range(4):  # four commits: four small fragments of the prediction log
        ws.log_predictions(pl.DataFrame({"image_id": ids, "predicted_class": ["ok"] * 6,
                                         "score": [0.5 + k / 10] * 6}), model="clf", version="v1")
    return root / "ws"


@pytest.fixture(scope="session")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build(tmp_path_factory.mktemp("retention"))


@pytest.fixture
def ws(template: Path, tmp_path: Path) -> Workspace:
    """A fresh copy of the template workspace (the images stay where the template registered them)."""
    shutil.copytree(template, tmp_path / "ws")
    return Workspace.open(tmp_path / "ws")
