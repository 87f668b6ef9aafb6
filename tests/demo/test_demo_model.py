"""The demo's model story: a seeded defect classifier that really learns, registered and aliased,
line-1 served through cv.Predictor, line-2 served outside it with a planted resize skew that
ws.skew finds and names; the same numbers twice."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pytest

from jupyter_cvops import Workspace
from jupyter_cvops.demo import CLASSES, DemoReport, Scenario, build_demo, generate_scenario

pytestmark = pytest.mark.slow

N_TRAIN, N_PRODUCTION, SIZE = 800, 84, 160


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[DemoReport, Workspace]:
    path = tmp_path_factory.mktemp("model-demo") / "ws"
    rep = build_demo(path, seed=0, n_train=N_TRAIN, n_production=N_PRODUCTION, image_size=SIZE, model=True,
                     progress=False)
    return rep, Workspace.open(path)


def test_the_model_learns_the_classes(demo: tuple[DemoReport, Workspace]) -> None:
    rep, ws = demo
    m = rep.model
    assert m is not None and m == rep.ground_truth["model"]
    assert m["classes"] == list(CLASSES) and m["name"] == "defect-clf" and m["alias"] == "production"
    # well above always answering the most common class, on images it never saw
    assert m["test_n"] >= 40
    assert m["test_accuracy"] > m["test_majority_baseline"] + 0.15, m
    assert m["history"][-1]["val_accuracy"] > m["history"][0]["val_accuracy"] + 0.2, m["history"]
    evaluation = ws.checks(kind="evaluation")
    assert evaluation.height == 1 and evaluation["check_id"][0] == m["evaluation_check_id"]
    # on clean days line-1 is served well; the new lamp (not in training) hurts it. (Relative claims:
    # the trained weights differ between CPU kinds: 0.5 on a machine with AVX-512 and AMX, above it elsewhere)
    acc = m["accuracy_vs_true_class"]
    clean, lamp = acc["line-1 before the lighting change"], acc["line-1 new lamp"]
    assert clean >= m["test_majority_baseline"] + 0.1 and clean > lamp + 0.2, acc


def test_run_registry_and_alias(demo: tuple[DemoReport, Workspace]) -> None:
    rep, ws = demo
    m = rep.model
    assert m is not None
    run = ws.get_run(m["run_id"])
    assert run.name == "train-defect-clf" and run.status == "finished"
    assert [i["name"] for i in run.inputs] == ["demo-train"] and run.inputs[0]["version_id"] == rep.dataset_version
    assert run.params["epochs"] == len(m["history"]) and run.seeds["seed"] == 0
    metrics = ws.run_metrics(run.id)
    val = metrics.filter(pl.col("key") == "val_accuracy").sort("step")
    assert val["step"].to_list() == list(range(len(m["history"])))
    assert np.allclose(val["value"].to_numpy(), [h["val_accuracy"] for h in m["history"]], atol=1e-6)
    mv = ws.model("defect-clf@production")
    assert mv.version == m["version"] and list(mv.classes) == list(CLASSES)
    assert mv.preprocess is not None and mv.preprocess.fingerprint == m["preprocess_fingerprint"]
    hist = ws.alias_history("defect-clf")
    assert hist.height == 1 and hist["alias"][0] == "production" and "val accuracy" in hist["message"][0]


def test_line1_is_served_by_the_predictor_line2_outside_it(demo: tuple[DemoReport, Workspace]) -> None:
    rep, ws = demo
    m, skew = rep.model, rep.ground_truth["serving_skew"]
    assert m is not None
    preds = ws.predictions(model="defect-clf@production")
    by_source = dict(preds.group_by("source").len().iter_rows())
    sc = Scenario.load(Path(rep.scenario_dir))
    n_line1 = sc.production.filter(pl.col("source") == "line-1").height
    n_line2 = sc.production.filter(pl.col("source") == "line-2").height
    assert by_source == {"line-1": n_line1, "line-2": n_line2} == m["served"]
    assert n_line1 == N_PRODUCTION and n_line2 == N_PRODUCTION // 4
    assert (preds["status"] == "ok").all() and (preds["model_version"] == m["version"]).all()
    fp = dict(preds.group_by("source").agg(pl.col("preprocess_fingerprint").unique()).iter_rows())
    assert fp["line-1"] == [m["preprocess_fingerprint"]]
    assert fp["line-2"] == [skew["serving_fingerprint"]] != fp["line-1"]
    # line-2's predictions carry its images' capture times, and those images are registered as line-2
    images = ws.images().filter(pl.col("source") == "line-2")
    assert images.height == n_line2 and images["captured_at"].null_count() == 0


def test_the_planted_skew_is_recorded(demo: tuple[DemoReport, Workspace]) -> None:
    from jupyter_cvops.preprocess import Preprocess
    from jupyter_cvops.preprocess.skew import spec_differences

    rep, _ = demo
    skew = rep.ground_truth["serving_skew"]
    assert skew["source"] == "line-2" and skew["model"] == "defect-clf@production"
    assert skew["fields"] == ["antialias", "library"]
    assert skew["training"] == {"antialias": True, "library": "pil", "resize": "bilinear"}
    assert skew["serving"] == {"antialias": False, "library": "opencv", "resize": "bilinear"}
    assert skew["clean_sources"] == ["line-1"]
    train = Preprocess(64, library="pil", mean=(0.5,) * 3, std=(0.25,) * 3)
    serve = Preprocess(64, library="opencv", mean=(0.5,) * 3, std=(0.25,) * 3)
    assert (train.fingerprint, serve.fingerprint) == (skew["training_fingerprint"], skew["serving_fingerprint"])
    assert {d.field for d in spec_differences(train, serve, versions=False)} == {"antialias", "library"}
    assert 1.0 < skew["mean_abs_diff_levels"] < 10.0  # a few grey levels: invisible to the eye, not to the model
    assert "OpenCV" in skew["sentence"] and "antialias" in skew["sentence"]
    assert "served:" in rep.summary() and "planted skew on line-2" in rep.summary()


def test_ws_skew_finds_and_names_it(demo: tuple[DemoReport, Workspace]) -> None:
    rep, ws = demo
    if not hasattr(ws, "skew"):
        pytest.skip("ws.skew is not in this checkout yet")
    truth = rep.ground_truth["serving_skew"]
    report: Any = ws.skew("defect-clf@production", sample=40, seed=0)
    assert not report.ok
    groups = {tuple(r["sources"]): r for r in report.groups.iter_rows(named=True)}
    assert groups[("line-1",)]["ok"] and not groups[("line-2",)]["ok"]
    assert groups[("line-2",)]["serving_fingerprint"] == truth["serving_fingerprint"]
    named = report.differences.filter(pl.col("serving_fingerprint") == truth["serving_fingerprint"])
    assert set(named["field"]) >= set(truth["fields"])
    assert abs(groups[("line-2",)]["mean_levels"] - truth["mean_abs_diff_levels"]) < 1.0
    assert "line-2" in report.sentence and "OpenCV" in report.sentence and "antialias" in report.sentence


def _numbers(rep: DemoReport, ws: Workspace) -> dict[str, Any]:
    preds = ws.predictions().with_columns(pl.col("path").str.replace(r"^.*/scenario/", ""))
    rows = preds.sort("path").select("path", "source", "predicted_class", "score", "scores",
                                     "preprocess_fingerprint", "model_version")
    assert rep.model is not None
    return {"version": rep.model["version"], "history": rep.model["history"],
            "test_accuracy": rep.model["test_accuracy"], "skew": rep.ground_truth["serving_skew"],
            "predictions": rows.to_dicts()}


def test_the_same_numbers_twice(tmp_path: Path) -> None:
    from jupyter_cvops.demo.model import TrainConfig

    kw: dict[str, Any] = {"seed": 1, "n_train": 160, "n_production": 28, "image_size": SIZE, "model": True,
                          "progress": False, "model_config": TrainConfig.for_image_size(SIZE, epochs=2, seed=1)}
    a = build_demo(tmp_path / "a", **kw)
    b = build_demo(tmp_path / "b", **kw)
    na, nb = _numbers(a, Workspace.open(tmp_path / "a")), _numbers(b, Workspace.open(tmp_path / "b"))
    assert na["version"] == nb["version"]  # the same weights, to the bit (the version id hashes them)
    assert na == nb
    assert len(na["predictions"]) == 28 + 7


def test_line2_frames_leave_every_other_frame_unchanged(tmp_path: Path) -> None:
    kw = {"n_train": 12, "n_production": 14, "image_size": 64}
    a = generate_scenario(tmp_path / "a", seed=5, **kw)
    b = generate_scenario(tmp_path / "b", seed=5, n_line2=6, **kw)
    rest = b.images.filter(pl.col("source") == "line-1")
    assert rest.drop("path").equals(a.images.drop("path"))
    assert all((a.root / n).read_bytes() == (b.root / n).read_bytes() for n in a.images["name"])
    line2 = b.images.filter(pl.col("source") == "line-2")
    assert line2.height == 6 and (line2["split_hint"] == "production").all()
    assert not line2["lighting_shift"].any() and not line2["tilt"].any()
    assert line2["name"].str.starts_with("line-2/day_").all()
    assert a.labels.drop("path").equals(b.labels.drop("path"))  # line-2 is not labelled
    with pytest.raises(ValueError):
        generate_scenario(tmp_path / "c", n_train=4, n_production=4, n_line2=-1)
