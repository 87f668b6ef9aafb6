"""cv.Predictor(..., shadow=): production answers alone; the shadow model's rows are logged beside them
(role shadow, shadow_of = the served prediction id, its own latency); its failures never change an answer."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pytest
import torch
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "shadow"))
from shadow_world import ColorNet, make_world  # noqa: E402

from jupyter_cvops import Predictor, WorkspaceError  # noqa: E402


@pytest.fixture
def world(tmp_path: Path) -> dict[str, Any]:
    return make_world(tmp_path, n=12)


def _served_and_shadow(ws: Any) -> tuple[pl.DataFrame, pl.DataFrame]:
    rows = ws.predictions("clf")
    return rows.filter(pl.col("role") == "served"), rows.filter(pl.col("role") == "shadow")


def test_answers_are_production_and_shadow_rows_are_logged_beside_them(world: dict[str, Any]) -> None:
    ws, paths = world["ws"], [str(p) for p in world["paths"]]
    with Predictor(ws, "clf@production", log=False) as plain:
        expected = plain(paths)
    with Predictor(ws, "clf@production", shadow="clf@candidate", batch_size=5, source="line-1") as p:
        assert p.shadow_version is not None and p.shadow_version.version == world["flip"].version
        assert p._shadow is not None and p._shadow.same_preprocess
        out = p(paths)
    assert out.drop("prediction_id", "latency_ms").equals(expected.drop("prediction_id", "latency_ms"))
    served, shadow = _served_and_shadow(ws)
    assert served.height == shadow.height == 12
    assert set(served["model_version"]) == {world["prod"].version}
    assert set(shadow["model_version"]) == {world["flip"].version} and set(shadow["alias"]) == {"candidate"}
    assert sorted(shadow["shadow_of"].to_list()) == sorted(out["prediction_id"].to_list())
    assert served["shadow_of"].null_count() == 12 and set(shadow["source"]) == {"line-1"}
    pair = served.join(shadow.select(pl.col("shadow_of").alias("prediction_id"), pl.col("predicted_class").alias("cand"),
                                     pl.col("latency_ms").alias("cand_ms"), pl.col("image_id").alias("cand_image")),
                       on="prediction_id")
    assert (pair["image_id"] == pair["cand_image"]).all()
    flipped = pair["predicted_class"].replace({"b": "c"})
    assert pair["cand"].to_list() == flipped.to_list()  # the planted candidate: every b becomes c
    assert (pair["cand_ms"] > 0).all() and set(shadow["status"]) == {"ok"}
    # the shadow's scores are the candidate's on the very same preprocessed tensors
    net = world["flip"].load()
    with torch.inference_mode():
        ref = torch.softmax(net(torch.from_numpy(world["pre"].batch(paths))), dim=1).numpy()
    got = shadow.join(served.select(pl.col("prediction_id").alias("shadow_of"), "path"), on="shadow_of")
    order = [paths.index(p) for p in got["path"]]
    assert np.allclose(np.array(got["scores"].to_list()), ref[order], atol=1e-5)


def test_a_shadow_with_other_preprocessing_runs_its_own(world: dict[str, Any]) -> None:
    ws, paths = world["ws"], [str(p) for p in world["paths"]]
    other = world["other_pre"]
    with Predictor(ws, "clf@production", shadow=other, batch_size=4) as p:
        assert p._shadow is not None and not p._shadow.same_preprocess
        p(paths)
    _, shadow = _served_and_shadow(ws)
    assert set(shadow["preprocess_fingerprint"]) == {other.preprocess_fingerprint}
    net = other.load()
    with torch.inference_mode():
        ref = torch.softmax(net(torch.from_numpy(other.preprocess.batch(paths))), dim=1).numpy()
    by_path = dict(zip(ws.predictions("clf").filter(pl.col("role") == "served")["prediction_id"],
                       ws.predictions("clf").filter(pl.col("role") == "served")["path"]))
    got = np.array(shadow["scores"].to_list())
    order = [paths.index(by_path[s]) for s in shadow["shadow_of"]]
    assert np.allclose(got, ref[order], atol=1e-5)


def test_shadow_failures_never_change_the_answer(world: dict[str, Any], tmp_path: Path) -> None:
    ws, paths = world["ws"], [str(p) for p in world["paths"]]
    bad = tmp_path / "broken.png"
    bad.write_bytes(b"\x89PNG nope")
    items = [*paths[:5], str(bad)]
    with Predictor(ws, "clf@production", log=False) as plain:
        expected = plain(items)

    def boom(x: torch.Tensor) -> torch.Tensor:
        raise RuntimeError("boom")

    with Predictor(ws, "clf@production", shadow="@candidate") as p:
        assert p._shadow is not None
        p._shadow.net = boom  # the shadow model crashes at serving time
        out = p(items)
        assert p.shadow_failures == 1
        assert p._shadow.log is not None
        p._shadow.log.close()  # and then its log cannot be written any more
        again = p(items[:2])
        assert p.shadow_failures == 3  # the model failed again, and so did logging its failure
    assert out.drop("prediction_id", "latency_ms").equals(expected.drop("prediction_id", "latency_ms"))
    assert again["predicted_class"].to_list() == expected["predicted_class"].to_list()[:2]
    served, shadow = _served_and_shadow(ws)
    assert served.height == 8 and shadow.height == 6
    assert set(shadow["status"]) == {"failed"} and set(shadow["shadow_of"]) == set(out["prediction_id"])
    assert shadow["error"].str.contains("shadow model failed: RuntimeError: boom").all()


def test_unreadable_images_fail_for_the_shadow_too(world: dict[str, Any], tmp_path: Path) -> None:
    ws, paths = world["ws"], [str(p) for p in world["paths"]]
    bad = tmp_path / "broken.png"
    bad.write_bytes(b"\x89PNG nope")
    with Predictor(ws, "clf@production", shadow="@candidate") as p:
        out = p([paths[0], str(bad), paths[1]])
    assert out["status"].to_list() == ["ok", "failed", "ok"]
    _, shadow = _served_and_shadow(ws)
    failed = shadow.filter(pl.col("status") == "failed")
    assert failed.height == 1 and failed["shadow_of"][0] == out["prediction_id"][1]


def test_shadow_configuration_errors(world: dict[str, Any]) -> None:
    ws = world["ws"]
    with pytest.raises(WorkspaceError, match="production's own version"):
        Predictor(ws, "clf@production", shadow=world["prod"])
    d = ws.register_model("clf", ColorNet().eval(), preprocess=world["pre"], classes=["a", "b", "d"])
    with pytest.raises(WorkspaceError, match=r"only production has \['c'\]; only the shadow model has \['d'\]"):
        Predictor(ws, "clf@production", shadow=d)
    with pytest.raises(WorkspaceError, match="nope"):
        Predictor(ws, "clf@production", shadow="@nope")
    with pytest.raises(ValueError, match="keep log=True"):
        Predictor(ws, "clf@production", shadow="@candidate", log=False)


def test_a_shadow_promoted_to_production_is_switched_off_on_refresh(world: dict[str, Any]) -> None:
    ws, paths = world["ws"], [str(p) for p in world["paths"]]
    with Predictor(ws, "clf@production", shadow="@candidate") as p:
        p(paths[:2])
        ws.set_alias("clf", "production", world["flip"].version, reason="promoted")
        assert p.refresh() is True
        assert p.shadow_version is None and p._shadow is not None and "own version" in (p._shadow.disabled or "")
        p(paths[2:4])
        ws.set_alias("clf", "candidate", world["same"].version, reason="next one")
        assert p.refresh() is True and p.shadow_version is not None
        p(paths[4:6])
    served, shadow = _served_and_shadow(ws)
    assert served.height == 6 and shadow.height == 4
    assert set(shadow["model_version"]) == {world["flip"].version, world["same"].version}


def test_a_background_shadow_adds_no_work_to_the_call_and_logs_the_same(world: dict[str, Any]) -> None:
    ws, paths = world["ws"], [str(p) for p in world["paths"]]
    frame = np.asarray(Image.open(paths[0]).convert("RGB"))
    buffer = frame.copy()
    with Predictor(ws, "clf@production", shadow=world["other_pre"], shadow_background=True) as p:
        out = p(paths)
        assert p._shadow is not None and p._shadow.pool is not None  # handed to the worker thread
        first = p([buffer])          # a camera loop hands over its buffer ...
        buffer[:] = 0                # ... and reuses it right away: the shadow saw the image it was given
        assert p.flush() >= 0        # waits for the worker
    served, shadow = _served_and_shadow(ws)
    assert served.height == shadow.height == 13 and set(shadow["status"]) == {"ok"}
    assert set(shadow["shadow_of"]) == set(out["prediction_id"]) | set(first["prediction_id"])
    with Predictor(ws, "clf@production", shadow=world["other_pre"], log=True) as sync:
        sync([frame])
    again = ws.predictions("clf").filter(pl.col("role") == "shadow").sort("time")
    by_served = dict(zip(again["shadow_of"], again["scores"]))
    assert np.allclose(by_served[first["prediction_id"][0]], again["scores"][-1])
