"""ws.skew: a serving line that resizes without antialias (or feeds BGR) is found and named;
the Predictor's own line matches training."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl
import pytest
import torch
from PIL import Image

from jupyter_cvops import Predictor, Preprocess, Workspace, WorkspaceError


class Net(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.conv = torch.nn.Conv2d(3, 4, 3)
        self.fc = torch.nn.Linear(4, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.conv(x).relu().mean(dim=(2, 3)))


def _texture(rng: np.random.Generator) -> np.ndarray:
    """Fine stripes plus noise: downscaling with and without antialias gives different pixels."""
    x = np.arange(96)
    stripes = ((x[None, :] // 2 + x[:, None] // 3) % 2 * 180)[..., None] * np.ones((1, 1, 3))
    tint = rng.integers(0, 60, size=(1, 1, 3))
    return np.clip(stripes + tint + rng.normal(0, 8, size=(96, 96, 3)), 0, 255).astype(np.uint8)


@pytest.fixture
def world(tmp_path: Path) -> dict:
    rng = np.random.default_rng(4)
    dirs = {name: tmp_path / name for name in ("train", "line1", "line2")}
    files: dict[str, list[str]] = {}
    for name, d in dirs.items():
        d.mkdir()
        files[name] = []
        for i in range(12):
            p = d / f"{name}{i:02d}.png"
            Image.fromarray(_texture(rng)).save(p)
            files[name].append(str(p))
    ws = Workspace.create(tmp_path / "ws")
    ws.add_images(dirs["train"], progress=False)
    ids = ws.images()["image_id"]
    ws.add_annotations(pl.DataFrame({"image_id": ids, "annotator": "ana", "kind": "image",
                                     "class_name": ["ok" if i % 2 else "bad" for i in range(len(ids))]}))
    ws.snapshot(name="train")
    pre = Preprocess(16, crop=16, library="pil", antialias=True, mean=(0.5,) * 3, std=(0.25,) * 3)
    with ws.run("train") as run:
        run.use("train")
        mv = run.register_model("clf", Net().eval(), preprocess=pre, classes=["ok", "bad"])
    ws.set_alias("clf", "production", mv.version)
    with Predictor(ws, "clf@production", source="line-1") as predictor:
        predictor(files["line1"])
    return {"ws": ws, "pre": pre, "mv": mv, "files": files}


def test_the_predictor_line_matches_training(world: dict) -> None:
    rep = world["ws"].skew("clf@production")
    assert rep.ok and rep.groups.height == 1 and rep.differences.height == 0
    assert rep.groups["sources"][0].to_list() == ["line-1"]
    assert "serving matches training preprocessing (12 predictions" in rep.sentence
    assert world["ws"].last_check("skew")["alert"] is False


def test_a_line_without_antialias_is_found_and_named(world: dict) -> None:
    ws, files = world["ws"], world["files"]
    skewed = Preprocess(16, crop=16, library="opencv", resize="bilinear", antialias=False,
                        mean=(0.5,) * 3, std=(0.25,) * 3)
    net = world["mv"].load()
    with torch.no_grad():
        scores = torch.softmax(net(torch.from_numpy(skewed.batch(files["line2"]))), dim=1).numpy()
    frame = pl.DataFrame({"path": files["line2"], "predicted_class": [["ok", "bad"][i] for i in scores.argmax(1)],
                          "score": scores.max(1).astype(float)})
    ws.log_predictions(frame, model="clf@production", preprocess=skewed, source="line-2")
    rep = ws.skew("clf@production", sample=8)
    assert not rep.ok
    bad = rep.groups.filter(~pl.col("ok"))
    assert bad["sources"][0].to_list() == ["line-2"] and bad["n_replayed"][0] == 8
    assert bad["mean_levels"][0] > 1.0
    fields = set(rep.differences["field"].to_list())
    assert {"library", "antialias"} <= fields
    assert rep.sentence.startswith("line-2: ") and "OpenCV" in rep.sentence and "antialias" in rep.sentence
    assert rep.groups.filter(pl.col("ok"))["sources"][0].to_list() == ["line-1"]
    check = ws.last_check("skew")
    assert check["alert"] is True and check["check_id"] == rep.check_id


def test_bgr_serving_is_named(world: dict) -> None:
    ws, files = world["ws"], world["files"]
    bgr = Preprocess(16, crop=16, library="pil", antialias=True, color="BGR", mean=(0.5,) * 3, std=(0.25,) * 3)
    ws.log_predictions(pl.DataFrame({"path": files["line2"][:6], "predicted_class": ["ok"] * 6}),
                       model="clf@production", preprocess=bgr, source="line-3")
    rep = ws.skew("clf@production", input_stats=False)
    assert not rep.ok and rep.differences.filter(pl.col("field") == "color").height == 1
    assert "line-3" in rep.sentence


def test_nothing_logged_is_a_clear_error(tmp_path: Path) -> None:
    ws = Workspace.create(tmp_path / "ws")
    pre = Preprocess(16, crop=16)
    mv = ws.register_model("m", Net().eval(), preprocess=pre, classes=["ok", "bad"])
    with pytest.raises(WorkspaceError, match="no predictions of m:"):
        ws.skew("m", version=mv.version)
