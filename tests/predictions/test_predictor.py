"""cv.Predictor: the model's own preprocessing, batched answers equal to the bare model call,
every answer logged with image hash, version, alias and fingerprint; failed images logged; refresh."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl
import pytest
import torch
from PIL import Image

from jupyter_cvops import Predictor, Preprocess, Workspace, WorkspaceError


class Net(torch.nn.Module):
    def __init__(self, seed: int) -> None:
        super().__init__()
        torch.manual_seed(seed)
        self.conv = torch.nn.Conv2d(3, 4, 3)
        self.fc = torch.nn.Linear(4, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.conv(x).relu().mean(dim=(2, 3)))


@pytest.fixture
def world(tmp_path: Path) -> dict:
    rng = np.random.default_rng(2)
    folder = tmp_path / "served"
    folder.mkdir()
    paths = []
    for i in range(7):
        p = folder / f"s{i}.png"
        Image.fromarray(rng.integers(0, 255, size=(20, 24, 3), dtype=np.uint8)).save(p)
        paths.append(p)
    ws = Workspace.create(tmp_path / "ws")
    pre = Preprocess(16, crop=16, mean=(0.5, 0.5, 0.5), std=(0.25, 0.25, 0.25))
    v1 = ws.register_model("clf", Net(0).eval(), preprocess=pre, classes=["a", "b", "c"])
    v2 = ws.register_model("clf", Net(1).eval(), preprocess=pre, classes=["a", "b", "c"])
    ws.set_alias("clf", "production", v1.version, reason="first")
    return {"ws": ws, "pre": pre, "v1": v1, "v2": v2, "paths": paths, "net": Net(0).eval()}


def test_answers_equal_the_bare_model_on_the_same_preprocessing(world: dict) -> None:
    ws, pre, paths = world["ws"], world["pre"], world["paths"]
    with Predictor(ws, "clf@production", batch_size=3, source="line-1") as predictor:
        out = predictor([str(p) for p in paths])
    batch = torch.from_numpy(pre.batch([str(p) for p in paths]))
    with torch.no_grad():
        expected = torch.softmax(world["net"](batch), dim=1).numpy()
    got = np.array(out["scores"].to_list())
    assert np.allclose(got, expected, atol=1e-5)
    assert out["predicted_class"].to_list() == [["a", "b", "c"][i] for i in expected.argmax(axis=1)]
    assert (out["status"] == "ok").all() and out["latency_ms"].min() > 0
    logged = ws.predictions()
    assert logged.height == 7 and set(logged["prediction_id"].to_list()) == set(out["prediction_id"].to_list())
    assert set(logged["model_version"].to_list()) == {world["v1"].version}
    assert set(logged["alias"].to_list()) == {"production"} and set(logged["source"].to_list()) == {"line-1"}
    assert set(logged["preprocess_fingerprint"].to_list()) == {pre.fingerprint}
    # images registered by content hash where they are (not copied)
    images = ws.images()
    assert set(logged["image_id"].to_list()) <= set(images["image_id"].to_list())
    assert set(images["path"].to_list()) == {str(p) for p in paths}


def test_unreadable_images_are_failed_predictions_and_the_batch_goes_on(world: dict, tmp_path: Path) -> None:
    ws, paths = world["ws"], world["paths"]
    bad = tmp_path / "broken.png"
    bad.write_bytes(b"\x89PNG not really")
    with Predictor(ws, "clf@production", batch_size=4) as predictor:
        out = predictor([str(paths[0]), str(bad), str(paths[1])])
    assert out["status"].to_list() == ["ok", "failed", "ok"]
    assert out["error"][1] and out["predicted_class"][1] is None
    logged = ws.predictions().sort("time")
    assert logged.filter(pl.col("status") == "failed").height == 1


def test_bytes_and_arrays_are_answered_too(world: dict) -> None:
    ws, paths = world["ws"], world["paths"]
    raw = Path(paths[2]).read_bytes()
    arr = np.asarray(Image.open(paths[2]).convert("RGB"))
    with Predictor(ws, "clf@production") as predictor:
        a = predictor(raw)
        b = predictor(arr)
        c = predictor(str(paths[2]))
    assert a["scores"][0].to_list() == pytest.approx(c["scores"][0].to_list(), abs=1e-6)
    assert b["scores"][0].to_list() == pytest.approx(c["scores"][0].to_list(), abs=1e-6)
    logged = ws.predictions()
    ids = dict(zip(logged["prediction_id"].to_list(), logged["image_id"].to_list()))
    assert ids[a["prediction_id"][0]] == ids[c["prediction_id"][0]]  # bytes hash like the file


def test_refresh_follows_the_alias(world: dict) -> None:
    ws, paths = world["ws"], world["paths"]
    predictor = Predictor(ws, "clf@production")
    first = predictor(str(paths[0]))
    assert predictor.refresh() is False
    ws.set_alias("clf", "production", world["v2"].version, reason="candidate won")
    assert predictor(str(paths[0]))["scores"][0].to_list() == first["scores"][0].to_list()  # resolved once
    assert predictor.refresh() is True and predictor.model_version.version == world["v2"].version
    predictor(str(paths[0]))
    predictor.close()
    versions = ws.predictions().sort("time")["model_version"].to_list()
    assert versions == [world["v1"].version, world["v1"].version, world["v2"].version]


def test_clear_errors(world: dict) -> None:
    ws = world["ws"]
    with pytest.raises(WorkspaceError):
        Predictor(ws, "clf@staging")
    bare = ws.register_model("bare", Net(3).eval(), classes=["a", "b", "c"], example_input=torch.zeros(1, 3, 16, 16))
    with pytest.raises(WorkspaceError, match="without preprocessing"):
        Predictor(ws, "bare", version=bare.version)
    with pytest.raises(ValueError, match="batch_size"):
        Predictor(ws, "clf@production", batch_size=0)


def test_replayed_traffic_keeps_its_time(world: dict) -> None:
    from datetime import datetime, timezone

    ws, paths = world["ws"], world["paths"]
    day = datetime(2026, 11, 3, 8, 30, tzinfo=timezone.utc)
    with Predictor(ws, "clf@production") as predictor:
        predictor([str(p) for p in paths[:2]], time=day)
        predictor(str(paths[2]), time=datetime(2026, 11, 4, 9, 0))  # naive: UTC
    times = sorted(ws.predictions()["time"].to_list())
    assert times[:2] == [day, day] and times[2] == datetime(2026, 11, 4, 9, 0, tzinfo=timezone.utc)
