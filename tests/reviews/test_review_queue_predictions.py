"""``ws.review_queue(predictions=...)``: low-confidence and shadow-disagreeing production predictions become
review-queue rows (images registered by the prediction log, labelled or not), ranked disagreements first then
lowest confidence, with the annotator queue's columns so the review widget takes them; reviewed images drop out."""

from __future__ import annotations

import os
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pytest
from PIL import Image

import jupyter_cvops as cv
from jupyter_cvops import Workspace, WorkspaceError
from jupyter_cvops.reviews._predictions import PREDICTION_COLUMNS, QUEUE_COLUMNS, rank_predictions
from jupyter_cvops.widgets._bundle import STATIC

T0 = datetime(2026, 11, 2, 8, tzinfo=timezone.utc)
PAST_NS = 1_600_000_000 * 10**9
SCORES = [0.95, 0.42, 0.81, 0.55, 0.30, 0.99, 0.58, 0.70]


def _pngs(folder: Path, n: int, seed: int) -> list[Path]:
    folder.mkdir(parents=True)
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        p = folder / f"{folder.name}-{i:02d}.png"
        Image.fromarray(rng.integers(0, 255, (16, 16, 3), dtype=np.uint8)).save(p)
        os.utime(p, ns=(PAST_NS, PAST_NS))
        out.append(p)
    return out


@pytest.fixture
def world(tmp_path: Path) -> dict[str, Any]:
    """4 labelled training images (two annotators, one disputed) and 8 production images served by clf v1
    (scores SCORES, day by day); production image 3 also labelled by two annotators who disagree."""
    ws = Workspace.create(tmp_path / "ws")
    train = _pngs(tmp_path / "train", 4, seed=1)
    prod = _pngs(tmp_path / "prod", 8, seed=2)
    ws.add_images(tmp_path / "train", source="line-1", progress=False)
    tids = ws.images().sort("path")["image_id"].to_list()
    rows = [{"image_id": iid, "annotator": a, "class_name": c, "kind": "image"}
            for iid in tids for a, c in (("ana", "dent"), ("ben", "dent" if iid != tids[0] else "ok"))]
    ws.add_annotations(pl.DataFrame(rows))
    frame = pl.DataFrame({"path": [str(p) for p in prod], "predicted_class": ["dent", "ok"] * 4, "score": SCORES,
                          "time": [T0 + timedelta(hours=6 * i) for i in range(8)]})
    logged = ws.log_predictions(frame, model="clf", version="v1", alias="production", source="line-2")
    pids = logged["image_id"].to_list()
    ws.add_annotations(pl.DataFrame([{"image_id": pids[3], "annotator": a, "class_name": c, "kind": "image"}
                                     for a, c in (("ana", "dent"), ("ben", "ok"))]))
    return {"ws": ws, "train": tids, "prod": pids, "logged": logged, "paths": [str(p) for p in train + prod]}


def test_low_confidence_frame_ranked_with_queue_columns(world: dict[str, Any]) -> None:
    ws: Workspace = world["ws"]
    prod = world["prod"]
    q = ws.review_queue(predictions=ws.predictions().filter(pl.col("score") < 0.6))
    assert q.columns == QUEUE_COLUMNS + PREDICTION_COLUMNS
    # scores < 0.6: images 4 (0.30), 1 (0.42), 3 (0.55), 6 (0.58), lowest first
    assert q["image_id"].to_list() == [prod[4], prod[1], prod[3], prod[6]]
    assert q["score"].to_list() == [0.30, 0.42, 0.55, 0.58]
    assert not q["shadow_disagreement"].any() and q["n_predictions"].to_list() == [1, 1, 1, 1]
    # the labelled production image keeps its annotators; the others have none
    by = {r["image_id"]: r for r in q.iter_rows(named=True)}
    assert by[prod[3]]["annotators"] == ["ana", "ben"] and by[prod[3]]["disputed"] is True
    assert by[prod[3]]["disagreement"] == pytest.approx(0.5)
    assert by[prod[4]]["annotators"] == [] and by[prod[4]]["n_annotators"] == 0 and by[prod[4]]["disputed"] is False
    assert by[prod[4]]["path"].endswith("prod-04.png") and by[prod[4]]["source"] == "line-2"
    logged = world["logged"]
    assert by[prod[1]]["prediction_ids"] == logged.filter(pl.col("image_id") == prod[1])["prediction_id"].to_list()
    assert not q["reviewed"].any()
    # the annotator queue's own expression filter still applies
    assert ws.review_queue(pl.col("disputed"), predictions=ws.predictions())["image_id"].to_list() == [prod[3]]


def test_named_low_confidence_and_time_window(world: dict[str, Any]) -> None:
    ws: Workspace = world["ws"]
    prod = world["prod"]
    q = ws.review_queue(predictions="low_confidence", below=0.6)
    assert q["image_id"].to_list() == [prod[4], prod[1], prod[3], prod[6]]
    q2 = ws.review_queue(predictions="low_confidence", below=0.6, since=T0 + timedelta(hours=12),
                         until=T0 + timedelta(hours=30), model="clf")
    assert q2["image_id"].to_list() == [prod[4], prod[3]]  # hours 12..29: images 2, 3, 4
    assert ws.review_queue(predictions="low_confidence", below=0.6, model="other").height == 0
    with pytest.raises(ValueError, match="below"):
        ws.review_queue(predictions="low_confidence", below=0)
    with pytest.raises(ValueError, match="low_confidence"):
        ws.review_queue(predictions="shaky")
    with pytest.raises(ValueError, match="predictions= only"):
        ws.review_queue(since="2026-11-01")


def test_shadow_disagreements_first_then_confidence(world: dict[str, Any]) -> None:
    ws: Workspace = world["ws"]
    prod, logged = world["prod"], world["logged"]
    # a shadow report's disagreements (worst first), the production predictions of the same window
    dis = pl.DataFrame({
        "prediction_id": [logged["prediction_id"][k] for k in (5, 2)],
        "image_id": [prod[5], prod[2]], "path": [logged["path"][5], logged["path"][2]],
        "production_class": ["ok", "dent"], "production_score": [0.99, 0.81],
        "candidate_class": ["dent", "ok"], "candidate_score": [0.7, 0.6], "confidence_delta": [-0.29, -0.21],
        "reviewed_class": pl.Series([None, None], dtype=pl.String)})
    both = pl.concat([ws.predictions().filter(pl.col("score") < 0.5).select("prediction_id", "image_id",
                                                                            "predicted_class", "score"),
                      dis.select("prediction_id", "image_id", pl.col("production_class").alias("predicted_class"),
                                 pl.col("production_score").alias("score"), "candidate_class")], how="diagonal")
    q = ws.review_queue(predictions=both)
    assert q["image_id"].to_list() == [prod[2], prod[5], prod[4], prod[1]]
    assert q["shadow_disagreement"].to_list() == [True, True, False, False]
    assert q["candidate_classes"].to_list()[:2] == [["ok"], ["dent"]]
    # the report's frame itself: disagreements in the report's order when confidences tie
    q2 = ws.review_queue(predictions=dis)
    assert q2["image_id"].to_list() == [prod[2], prod[5]] and q2["score"].to_list() == [0.81, 0.99]


def test_reviewed_images_drop_out_and_the_review_widget_takes_the_queue(world: dict[str, Any]) -> None:
    ws: Workspace = world["ws"]
    prod = world["prod"]
    ws.decide(prod[4], "set", class_name="ok", reviewer="rita")
    q = ws.review_queue(predictions="low_confidence")
    assert prod[4] not in q["image_id"].to_list() and q.height == 3
    full = ws.review_queue(predictions="low_confidence", include_reviewed=True)
    r = full.filter(pl.col("image_id") == prod[4]).row(0, named=True)
    assert r["reviewed"] is True and r["last_decision"] == "set"
    if not (STATIC / "review.js").is_file():
        pytest.fail(f"{STATIC / 'review.js'} is not built: run `npm run build`")
    session = cv.review(ws, queue=q, reviewer="rita")
    try:
        assert session.queue["image_id"].to_list() == q["image_id"].to_list()
        assert session.selected == q["image_id"][0]
        session.decide("set", class_name="dent")
        assert ws.review_queue(predictions="low_confidence").height == 2
    finally:
        session.close()


def test_rank_pure_and_bad_input(world: dict[str, Any]) -> None:
    ws: Workspace = world["ws"]
    with pytest.raises(ValueError, match="image_id"):
        rank_predictions(pl.DataFrame({"score": [0.1]}))
    with pytest.raises(TypeError, match="polars frame"):
        ws.review_queue(predictions=["a"])  # type: ignore[arg-type]
    with pytest.raises(WorkspaceError, match="not registered"):
        ws.review_queue(predictions=pl.DataFrame({"image_id": ["f" * 32], "score": [0.1]}))
    # rows of unreadable images (no image id) are left out; no score ranks last
    r = rank_predictions(pl.DataFrame({"image_id": ["a", None, "b"], "score": [None, 0.1, 0.5]}))
    assert r["image_id"].to_list() == ["b", "a"]


def test_a_shadow_reports_disagreements_queue_as_given(world: dict[str, Any]) -> None:
    from jupyter_cvops.shadow.report import build_report

    ws: Workspace = world["ws"]
    logged = world["logged"]
    cand = ["dent", "dent", "ok", "ok", "ok", "dent", "ok", "ok"]  # differs from production on 1, 2, 4, 5, 6
    pairs = logged.select("prediction_id", "image_id", "path", pl.col("predicted_class").alias("production_class"),
                          pl.col("score").alias("production_score")).with_columns(
        pl.Series("candidate_class", cand), pl.Series("candidate_score", [0.7] * 8),
        pl.lit(None, pl.String).alias("reviewed_class"))
    rep = build_report(pairs, name="clf", production_version="v1", candidate_version="v2",
                       classes=["dent", "ok"], bootstrap=50)
    q = ws.review_queue(predictions=rep.disagreements)
    assert set(q["image_id"]) == set(rep.disagreements["image_id"]) and q.height == 5
    assert q["shadow_disagreement"].all()
    assert q["score"].to_list() == sorted(q["score"].to_list())  # then lowest confidence first
    prod = world["prod"]
    assert q["image_id"].to_list() == [prod[4], prod[1], prod[6], prod[2], prod[5]]
    assert q.row(0, named=True)["candidate_classes"] == ["ok"] and q.row(0, named=True)["predicted_classes"] == ["dent"]
