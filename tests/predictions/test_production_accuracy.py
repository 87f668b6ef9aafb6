"""Production accuracy over time: logged predictions (served and shadow) of reviewed production images,
per window and model version, checked against a hand count and statsmodels' Wilson interval."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import plotly.graph_objects as go
import polars as pl
import pytest
from statsmodels.stats.proportion import proportion_confint

from jupyter_cvops import Workspace
from jupyter_cvops.predictions.accuracy import ProductionAccuracy, accuracy_windows, wilson_interval

T0 = datetime(2026, 11, 2, 8, tzinfo=timezone.utc)  # a Monday


@pytest.mark.parametrize("k,n", [(0, 1), (1, 1), (3, 10), (8, 10), (50, 97), (0, 40), (999, 1000)])
@pytest.mark.parametrize("confidence", [0.9, 0.95, 0.99])
def test_wilson_matches_statsmodels(k: int, n: int, confidence: float) -> None:
    lo, hi = wilson_interval(k, n, confidence)
    ref = proportion_confint(k, n, alpha=1 - confidence, method="wilson")
    assert float(lo) == pytest.approx(ref[0], abs=1e-12) and float(hi) == pytest.approx(ref[1], abs=1e-12)


def test_wilson_vectorized_and_bad_input() -> None:
    lo, hi = wilson_interval(np.array([2, 0]), np.array([4, 0]))
    assert np.isnan(lo[1]) and np.isnan(hi[1]) and 0 < lo[0] < 0.5 < hi[0] < 1
    with pytest.raises(ValueError, match="0 <= k <= n"):
        wilson_interval(5, 4)
    with pytest.raises(ValueError, match="confidence"):
        wilson_interval(1, 2, confidence=1.0)


def test_windows_pure_hand_count() -> None:
    rng = np.random.default_rng(7)
    n = 400
    times = [T0 + timedelta(hours=int(h)) for h in rng.integers(0, 24 * 14, n)]
    ids = [f"img{i % 150}" for i in range(n)]
    versions = rng.choice(["v1", "v2"], n).tolist()
    roles = rng.choice(["served", "shadow"], n).tolist()
    pred = rng.choice(["dent", "ok", "scratch"], n).tolist()
    status = ["failed" if i % 37 == 0 else "ok" for i in range(n)]
    preds = pl.DataFrame({"time": times, "image_id": ids, "model_version": versions, "role": roles,
                          "predicted_class": pred, "status": status, "alias": ["production"] * n})
    truth_ids = [f"img{i}" for i in range(0, 150, 2)]
    truth = pl.DataFrame({"image_id": truth_ids, "truth": rng.choice(["dent", "ok", "scratch"], len(truth_ids))})
    out = accuracy_windows(preds, truth, by="1w")
    tmap = dict(truth.iter_rows())
    # by hand: python loops
    agg: dict[tuple[datetime, str, str], list[int]] = {}
    for t, iid, v, r, p, s in zip(times, ids, versions, roles, pred, status):
        if s != "ok":
            continue
        week = (t - timedelta(days=t.weekday())).replace(hour=0)
        cell = agg.setdefault((week, v, r), [0, 0, 0])
        cell[0] += 1
        if iid in tmap:
            cell[1] += 1
            cell[2] += int(tmap[iid] == p)
    assert out.height == len(agg)
    for row in out.iter_rows(named=True):
        n_pred, n_rev, n_ok = agg[(row["window"], row["model_version"], row["role"])]
        assert (row["n_predictions"], row["n_reviewed"], row["n_correct"]) == (n_pred, n_rev, n_ok)
        if n_rev == 0:
            assert row["accuracy"] is None and row["ci_low"] is None and row["ci_high"] is None
            continue
        assert row["accuracy"] == pytest.approx(n_ok / n_rev)
        ref = proportion_confint(n_ok, n_rev, alpha=0.05, method="wilson")
        assert (row["ci_low"], row["ci_high"]) == pytest.approx(ref, abs=1e-12)
        assert row["aliases"] == ["production"]
    assert out["window"].is_sorted() and out["n_reviewed"].min() == 0  # a window without reviews is kept


def test_windows_bad_input_and_empty() -> None:
    with pytest.raises(ValueError, match="missing"):
        accuracy_windows(pl.DataFrame({"time": [T0]}), pl.DataFrame({"image_id": [], "truth": []}))
    with pytest.raises(ValueError, match="duration"):
        accuracy_windows(pl.DataFrame({"time": [T0]}), pl.DataFrame(), by="1day")
    empty = accuracy_windows(pl.DataFrame(schema={"time": pl.Datetime("us", "UTC"), "image_id": pl.String,
                                                  "model_version": pl.String, "role": pl.String,
                                                  "predicted_class": pl.String}),
                             pl.DataFrame({"image_id": ["a"], "truth": ["ok"]}))
    assert empty.height == 0 and "ci_low" in empty.columns


@pytest.fixture
def served(tmp_path: Path, make_images: Callable[..., list[Path]]) -> tuple[Workspace, list[str]]:
    """Two model versions serving production images over 3 days (v2 from day 2), v2 also shadowing v1
    on day 1; half the images reviewed."""
    ws = Workspace.create(tmp_path / "ws")
    for name in ("dent", "ok"):
        ws.taxonomy.add(name)
    ws.taxonomy.commit("classes")
    paths = make_images(12, seed=4)
    rows = []
    for i, p in enumerate(paths):
        day = i // 4  # 4 images a day
        t = T0 + timedelta(days=day, hours=i % 4)
        version = "v1" if day == 0 else "v2"
        rows.append({"path": str(p), "predicted_class": "dent" if i % 3 else "ok", "score": 0.5 + i / 30,
                     "time": t, "version": version})
    frame = pl.DataFrame(rows)
    for v in ("v1", "v2"):
        part = frame.filter(pl.col("version") == v).drop("version")
        ws.log_predictions(part, model="clf", version=v, alias="production", source="line-1")
    shadow = (frame.filter(pl.col("version") == "v1").drop("version")
              .with_columns(pl.lit("dent").alias("predicted_class")))
    ws.log_predictions(shadow, model="clf", version="v2", alias="candidate", role="shadow")
    ids = ws.predictions("clf").sort("time").unique("image_id", keep="first", maintain_order=True)["image_id"].to_list()
    # review every other image: truth "dent" for images 0, 4, 8; "ok" for 2, 6, 10
    for i in range(0, 12, 2):
        ws.decide(ids[i], "set", class_name="dent" if i % 4 == 0 else "ok", reviewer="rita")
    return ws, ids


def test_production_accuracy_on_a_workspace(served: tuple[Workspace, list[str]]) -> None:
    ws, ids = served
    acc = ws.production_accuracy("clf", by="1d")
    assert isinstance(acc, ProductionAccuracy)
    w = acc.windows
    key = {(r["window"].day, r["model_version"], r["role"]): r for r in w.iter_rows(named=True)}
    assert set(key) == {(2, "v1", "served"), (2, "v2", "shadow"), (3, "v2", "served"), (4, "v2", "served")}
    # day 1 (images 0..3): served predictions ok, dent, dent, ok; reviewed 0 (dent), 2 (ok) -> 0/2 right
    d1 = key[(2, "v1", "served")]
    assert (d1["n_predictions"], d1["n_reviewed"], d1["n_correct"]) == (4, 2, 0)
    # the shadow said dent everywhere: right on image 0 only
    sh = key[(2, "v2", "shadow")]
    assert (sh["n_reviewed"], sh["n_correct"], sh["accuracy"]) == (2, 1, 0.5)
    assert sh["aliases"] == ["candidate"] and d1["aliases"] == ["production"]
    # day 2 (images 4..7): dent, dent, ok, dent; reviewed 4 (dent), 6 (ok): both right
    d2 = key[(3, "v2", "served")]
    assert (d2["n_reviewed"], d2["n_correct"]) == (2, 2)
    ref = proportion_confint(2, 2, alpha=0.05, method="wilson")
    assert (d2["ci_low"], d2["ci_high"]) == pytest.approx(ref)
    ov = acc.overall.filter((pl.col("model_version") == "v2") & (pl.col("role") == "served")).row(0, named=True)
    assert ov["n_reviewed"] == 4 and ov["n_correct"] == 3  # day 3: image 8 right, image 10 wrong
    # filters
    only_served = ws.production_accuracy("clf", roles=("served",), by="1w")
    assert set(only_served.windows["role"]) == {"served"}
    assert only_served.windows["n_predictions"].sum() == 12
    later = ws.production_accuracy("clf", since=T0 + timedelta(days=1), until=T0 + timedelta(days=2))
    assert later.windows["n_predictions"].to_list() == [4]
    assert ws.production_accuracy("clf", version="v1").windows["model_version"].unique().to_list() == ["v1"]
    assert "reviewed predictions" in acc.summary()
    assert acc.to_dict()["windows"][0]["window"].startswith("2026-11-02")


def test_undone_review_and_labels_rule(served: tuple[Workspace, list[str]]) -> None:
    ws, ids = served
    ws.decide(ids[0], "clear", reviewer="rita")  # undo: image 0 has no truth any more
    acc = ws.production_accuracy("clf", by="1d", roles=("served",))
    d1 = acc.windows.filter(pl.col("model_version") == "v1").row(0, named=True)
    assert (d1["n_reviewed"], d1["n_correct"]) == (1, 0)
    # annotator labels count only with truth="labels"
    ws.add_annotations(pl.DataFrame([{"image_id": ids[1], "annotator": "ana", "class_name": "dent", "kind": "image"}]))
    assert ws.production_accuracy("clf", roles=("served",)).windows["n_reviewed"].sum() == 5
    assert ws.production_accuracy("clf", roles=("served",), truth="labels").windows["n_reviewed"].sum() == 6


def test_plot_beside_the_drift_timeline(served: tuple[Workspace, list[str]]) -> None:
    ws, _ = served
    fig = ws.production_accuracy("clf", by="1d").plot()
    assert isinstance(fig, go.Figure)
    names = [t.name for t in fig.data]
    assert names == ["v1 @production", "v2 @candidate (shadow)", "v2 @production"]
    assert fig.data[1].line.dash == "dot" and fig.data[2].line.dash == "solid"
    # one color per version, in order of first appearance (the drift timeline's palette)
    assert fig.data[0].line.color == "#1f77b4" and fig.data[1].line.color == fig.data[2].line.color == "#ff7f0e"
    for t in fig.data:
        assert all(0 <= y <= 1 for y in t.y)
        assert all(e >= 0 for e in t.error_y.array) and all(e >= 0 for e in t.error_y.arrayminus)


def test_bad_input(served: tuple[Workspace, list[str]]) -> None:
    ws, _ = served
    with pytest.raises(ValueError, match="no prediction of model 'nope'"):
        ws.production_accuracy("nope")
    with pytest.raises(ValueError, match="roles"):
        ws.production_accuracy("clf", roles=("canary",))
    with pytest.raises(ValueError, match="truth"):
        ws.production_accuracy("clf", truth="majority")
    with pytest.raises(ValueError, match="duration"):
        ws.production_accuracy("clf", by="daily")
