"""The demo scenario: deterministic, well-formed, and carrying every planted effect."""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta, timezone
from pathlib import Path

import cv2
import numpy as np
import polars as pl
import pytest

from jupyter_cvops.demo.build import DENT_DEFINITION_V2, TAXONOMY_V1, Scenario, generate_scenario

SIZE = 96


@pytest.fixture(scope="module")
def scenario(tmp_path_factory: pytest.TempPathFactory) -> Scenario:
    """Big enough for stable rates (about 40 faint dents), small enough to be quick."""
    return generate_scenario(tmp_path_factory.mktemp("sc"), seed=0, n_train=360, n_production=168,
                             image_size=SIZE)


def _hashes(sc: Scenario) -> dict[str, str]:
    return {p.relative_to(sc.root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(sc.root.rglob("*.png"))}


def _gray(path: str) -> np.ndarray:
    img = cv2.imread(path, cv2.IMREAD_GRAYSCALE)
    assert img is not None, path
    return img.astype(np.float32)


def _edge_angle(g: np.ndarray) -> float:
    """Dominant edge orientation in degrees (structure tensor, doubled-angle mean)."""
    gx = cv2.Sobel(g, cv2.CV_32F, 1, 0)
    gy = cv2.Sobel(g, cv2.CV_32F, 0, 1)
    return float(0.5 * np.degrees(np.arctan2(2 * (gx * gy).sum(), (gx * gx - gy * gy).sum())))


def test_same_seed_same_bytes_and_frames(tmp_path: Path) -> None:
    kw = {"n_train": 24, "n_production": 28, "image_size": 64}
    a = generate_scenario(tmp_path / "a", seed=3, workers=1, **kw)
    b = generate_scenario(tmp_path / "b", seed=3, workers=3, **kw)
    c = generate_scenario(tmp_path / "c", seed=4, **kw)
    assert len(_hashes(a)) == 52
    assert _hashes(a) == _hashes(b)
    assert a.images.drop("path").equals(b.images.drop("path"))
    assert a.labels.drop("path").equals(b.labels.drop("path"))
    assert a.ground_truth == b.ground_truth
    assert (a.root / "scenario.json").read_bytes() == (b.root / "scenario.json").read_bytes()
    ha, hc = _hashes(a), _hashes(c)
    assert ha.keys() == hc.keys() and all(ha[k] != hc[k] for k in ha)
    assert not a.labels.drop("path").equals(c.labels.drop("path"))


def test_regenerating_in_place_keeps_files_and_drops_stale_ones(tmp_path: Path) -> None:
    a = generate_scenario(tmp_path, n_train=20, n_production=14, image_size=64)
    mtimes = {p: p.stat().st_mtime_ns for p in tmp_path.rglob("*.png")}
    generate_scenario(tmp_path, n_train=20, n_production=14, image_size=64)
    assert {p: p.stat().st_mtime_ns for p in tmp_path.rglob("*.png")} == mtimes
    small = generate_scenario(tmp_path, n_train=10, n_production=14, image_size=64)
    assert len(list(tmp_path.rglob("*.png"))) == small.images.height == 24
    loaded = Scenario.load(tmp_path)
    assert loaded.images.equals(small.images) and loaded.labels.equals(small.labels)
    assert loaded.ground_truth == small.ground_truth
    assert a.root == small.root


def test_refuses_a_folder_that_is_not_a_scenario(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(FileExistsError, match="not empty"):
        generate_scenario(tmp_path, n_train=4, n_production=4, image_size=64)


@pytest.mark.parametrize("kw", [{"change_week": 9}, {"lighting_day": 12, "tilt_day": 11},
                                {"class_priors": {"bogus": 1.0}}, {"image_size": 8}])
def test_bad_parameters_are_refused(tmp_path: Path, kw: dict) -> None:
    with pytest.raises(ValueError):
        generate_scenario(tmp_path, n_train=4, n_production=4, **kw)


def test_images_decode_with_the_right_size_and_boxes(scenario: Scenario) -> None:
    im = scenario.images
    assert im.height == 360 + 168
    assert im["source"].unique().to_list() == ["line-1"]
    for path in im["path"].to_list():
        img = cv2.imread(path, cv2.IMREAD_UNCHANGED)
        assert img is not None and img.shape == (SIZE, SIZE, 3) and img.dtype == np.uint8
    ok = im.filter(pl.col("true_class") == "ok")
    defects = im.filter(pl.col("true_class") != "ok")
    assert ok["true_x0"].null_count() == ok.height and ok["visibility"].null_count() == ok.height
    assert defects["true_x0"].null_count() == 0
    assert set(defects["visibility"].unique()) == {"faint", "clear"}
    assert (defects["true_x0"] >= 0).all() and (defects["true_y1"] <= SIZE).all()
    assert ((defects["true_x1"] - defects["true_x0"]) >= 1).all()
    assert ((defects["true_y1"] - defects["true_y0"]) >= 1).all()
    assert set(im["true_class"].unique()) == {"ok", "scratch", "dent", "stain"}
    assert im.filter(pl.col("split_hint") == "train")["week"].unique().sort().to_list() == list(range(1, 9))
    assert im.filter(pl.col("split_hint") == "production")["day"].unique().sort().to_list() == list(range(1, 15))


def test_defect_box_holds_the_defect() -> None:
    """Rendered with and without its defect (same scene), the image differs inside the true box."""
    from jupyter_cvops.demo._render import make_assets, render

    assets = make_assets(np.random.default_rng(0), 128)
    for cls in ("scratch", "dent", "stain"):
        for vis in ("clear", "faint"):
            for k in range(3):
                out = render(np.random.default_rng([9, k]), assets, cls, vis)
                clean = render(np.random.default_rng([9, k]), assets, "ok", None)
                assert out.box is not None and clean.box is None and out.shape == clean.shape
                diff = np.abs(out.image.astype(np.float32) - clean.image.astype(np.float32)).sum(axis=2)
                x0, y0, x1, y1 = (int(round(v)) for v in out.box)
                inside = diff[max(0, y0 - 2):y1 + 2, max(0, x0 - 2):x1 + 2].sum()
                assert diff.sum() > 0 and inside / diff.sum() > 0.9, (cls, vis, k)


def test_labels_are_well_formed(scenario: Scenario) -> None:
    lab = scenario.labels
    assert set(lab["annotator"].unique()) == {"ana", "ben", "chloe"}
    verdicts = lab.filter(pl.col("kind") == "image")
    per_image = verdicts.group_by("name").agg(pl.col("annotator").n_unique().alias("n"), pl.len())
    assert set(per_image["n"].unique()) <= {2, 3} and (per_image["n"] == per_image["len"]).all()
    assert per_image.height == scenario.train.height
    assert verdicts["x0"].null_count() == verdicts.height
    boxes = lab.filter(pl.col("kind") == "box")
    assert boxes["class_name"].is_in(["scratch", "dent", "stain"]).all()
    assert boxes.height == verdicts.filter(pl.col("class_name") != "ok").height
    assert ((boxes["x1"] > boxes["x0"]) & (boxes["y1"] > boxes["y0"])).all()
    assert ((boxes["x0"] >= 0) & (boxes["y1"] <= SIZE)).all()
    at = scenario.ground_truth["taxonomy_change"]["at"]
    expect = pl.when(pl.col("created_at") < at).then(1).otherwise(2)
    assert (lab["taxonomy_version"] == lab.select(expect).to_series()).all()
    assert lab["taxonomy_version"].unique().sort().to_list() == [1, 2]
    joined = lab.join(scenario.images.select("name", "captured_at"), on="name")
    assert (joined["created_at"] > joined["captured_at"]).all()


def test_chloe_confuses_faint_dents_with_scratches_from_week_5_only(scenario: Scenario) -> None:
    gt = scenario.ground_truth["label_drift"]
    assert (gt["annotator"], gt["class"], gt["confused_with"], gt["week_start"]) == ("chloe", "dent", "scratch", 5)
    start = scenario.ground_truth["training_period"]["start"]
    lab = scenario.labels.filter(pl.col("kind") == "image").join(
        scenario.images.select("name", "true_class", "visibility"), on="name")
    faint_dents = lab.filter((pl.col("true_class") == "dent") & (pl.col("visibility") == "faint"))
    rate = faint_dents.with_columns(
        ((pl.col("created_at") - pl.lit(start)).dt.total_days() // 7 + 1).alias("week"),
        (pl.col("class_name") == "scratch").alias("as_scratch"),
    ).group_by("annotator", pl.col("week") >= 5).agg(pl.col("as_scratch").mean(), pl.len())
    r = {(a, late): (v, n) for a, late, v, n in rate.iter_rows()}
    before, after = r[("chloe", False)], r[("chloe", True)]
    assert before[1] >= 8 and after[1] >= 8
    assert before[0] < 0.15 < 0.5 < after[0]
    for other in ("ana", "ben"):
        assert r[(other, True)][0] < 0.2 and r[(other, False)][0] < 0.2
    # Nothing else changes for chloe: her clear dents stay dents.
    clear = lab.filter((pl.col("annotator") == "chloe") & (pl.col("true_class") == "dent")
                       & (pl.col("visibility") == "clear") & (pl.col("created_at") >= gt["at"]))
    assert (clear["class_name"] == "dent").mean() > 0.85


def test_annotator_habits(scenario: Scenario) -> None:
    rates = {r["annotator"]: r for r in scenario.label_rates().iter_rows(named=True)}
    assert rates["ana"]["ok_rate_faint"] > rates["ben"]["ok_rate_faint"] + 0.3
    assert rates["ana"]["ok_rate_faint"] > rates["chloe"]["ok_rate_faint"] + 0.3
    assert rates["ben"]["stain_rate_clean"] > 0.08 > rates["ana"]["stain_rate_clean"]
    assert rates["chloe"]["dent_as_scratch_after"] > 0.5 > 0.15 > rates["chloe"]["dent_as_scratch_before"]
    habits = scenario.ground_truth["annotator_habits"]
    assert [habits[a]["style"] for a in ("ana", "ben", "chloe")] == ["lenient", "strict", "accurate"]


def test_taxonomy_change_sits_at_the_drift_point(scenario: Scenario) -> None:
    gt = scenario.ground_truth
    tc = gt["taxonomy_change"]
    assert tc["class"] == "dent" and tc["at"] == gt["label_drift"]["at"]
    assert tc["at"] == datetime(2026, 1, 5, tzinfo=timezone.utc) + timedelta(weeks=4)
    assert tc["definition_before"] == TAXONOMY_V1["dent"][0]
    assert tc["definition_after"] == DENT_DEFINITION_V2


def test_production_brightness_jumps_at_day_7(scenario: Scenario) -> None:
    prod = scenario.production.with_columns(
        pl.Series("brightness", [float(_gray(p).mean()) for p in scenario.production["path"]]))
    train_mean = float(np.mean([_gray(p).mean() for p in scenario.train["path"]]))
    per_day = prod.group_by("day").agg(pl.col("brightness").mean()).sort("day")
    b = dict(per_day.iter_rows())
    clean = [b[d] for d in range(1, 7)]
    lit = [b[d] for d in range(7, 15)]
    assert max(abs(v - train_mean) for v in clean) < 4.0
    assert min(lit) > max(clean) + 15.0
    assert (prod["lighting_shift"] == (prod["day"] >= 7)).all()
    drift = {d["kind"]: d for d in scenario.ground_truth["production_drift"]}
    assert drift["lighting"]["from_day"] == 7 and drift["tilt"]["from_day"] == 11


def test_production_edge_orientation_changes_at_day_11(scenario: Scenario) -> None:
    prod = scenario.production.with_columns(
        pl.Series("angle", [_edge_angle(_gray(p)) for p in scenario.production["path"]]))
    per_day = dict(prod.group_by("day").agg(pl.col("angle").mean()).iter_rows())
    before = [per_day[d] for d in range(1, 11)]
    after = [per_day[d] for d in range(11, 15)]
    assert min(after) > max(before) + 2.5
    assert abs(np.mean(after) - np.mean(before)) > 4.0
    assert (prod["tilt"] == (prod["day"] >= 11)).all()


def test_build_demo_builds_the_workspace(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from jupyter_cvops import Workspace
    from jupyter_cvops.demo.build import build_demo

    rep = build_demo(tmp_path / "ws", seed=2, n_train=48, n_production=28, image_size=64, progress=True)
    out = capsys.readouterr().out
    assert "demo workspace:" in out and "chloe calls faint dent 'scratch' from week 5" in out
    sc = Scenario.load(tmp_path / "ws" / "scenario")
    ws = Workspace.open(tmp_path / "ws")
    assert (rep.n_images, rep.n_train, rep.n_production) == (76, 48, 28)
    assert rep.taxonomy_versions == [1, 2] and ws.taxonomy.version == 2
    classes = ws.taxonomy.classes()
    assert set(classes["name"]) == set(TAXONOMY_V1)
    assert classes.filter(pl.col("name") == "dent")["definition"].item() == DENT_DEFINITION_V2

    images = ws.images()
    assert images.height == 76 and images["source"].unique().to_list() == ["line-1"]
    got = images.select(pl.col("path").alias("p"), "captured_at").sort("p")
    want = sc.images.select(pl.col("path").alias("p"), "captured_at").sort("p")
    assert got.equals(want)

    anns = ws.annotations()
    assert anns.height == rep.n_labels == sc.labels.height
    assert rep.n_labels_v1 == sc.labels.filter(pl.col("taxonomy_version") == 1).height
    assert anns.group_by("taxonomy_version").len().sort("taxonomy_version")["len"].to_list() == [
        rep.n_labels_v1, rep.n_labels_v2]
    key = ["annotator", "created_at", "class_name", "kind"]
    assert anns.select(key).sort(key).equals(sc.labels.select(key).sort(key))

    v = ws.version("demo-train")
    assert v.id == rep.dataset_version and v.n_images == 48 and v.taxonomy_version == 2
    assert not rep.notes or all("real commit time" in n for n in rep.notes)
    d = rep.to_dict()
    assert d["ground_truth"]["label_drift"]["annotator"] == "chloe"
    with pytest.raises(FileExistsError):
        build_demo(tmp_path / "ws", n_train=4, n_production=4, progress=False)
    # Content-addressed: the same scenario elsewhere gives the same dataset version id.
    again = build_demo(tmp_path / "ws2", seed=2, n_train=48, n_production=28, image_size=64, progress=False)
    assert again.dataset_version == rep.dataset_version
