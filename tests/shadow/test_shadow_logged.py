"""``ws.shadow(..., logged=True)``: the report from the pairs cv.Predictor(..., shadow=) logged, nothing
re-run; the same numbers as re-running the candidate offline. Detectors' logged boxes give a box match rate."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from shadow_world import make_world

from jupyter_cvops import Predictor, WorkspaceError


@pytest.fixture
def world(tmp_path: Path) -> dict[str, Any]:
    return make_world(tmp_path, n=18)


def test_logged_pairs_give_the_offline_numbers(world: dict[str, Any]) -> None:
    ws, paths = world["ws"], [str(p) for p in world["paths"]]
    with Predictor(ws, "clf@production", shadow="@candidate", batch_size=4) as p:
        p(paths)
        p(paths[:3])  # served again: each image counts once
    logged = ws.shadow("clf", candidate="@candidate", logged=True, bootstrap=300)
    offline = ws.shadow("clf", candidate="@candidate", bootstrap=300)
    assert logged.mode == "logged" and offline.mode == "rerun"
    assert (logged.n, logged.agreement, logged.kappa) == (offline.n, offline.agreement, offline.kappa)
    assert logged.n == 18 and logged.agreement == pytest.approx(2 / 3) and logged.kappa == pytest.approx(0.5)
    assert logged.flips.equals(offline.flips) and logged.agreement_ci == offline.agreement_ci
    assert logged.disagreements.drop("confidence_delta", "candidate_score").equals(
        offline.disagreements.drop("confidence_delta", "candidate_score"))
    assert json.loads(ws.checks(kind="shadow")["parameters"][0])["logged"] is True


def test_failed_shadow_rows_are_skipped_with_their_reason(world: dict[str, Any]) -> None:
    ws, paths = world["ws"], [str(p) for p in world["paths"]]
    with Predictor(ws, "clf@production", shadow="@candidate") as p:
        p(paths[:10])
        assert p._shadow is not None
        good = p._shadow.net
        p._shadow.net = lambda x: (_ for _ in ()).throw(RuntimeError("gpu fell over"))
        p(paths[10:])
        p._shadow.net = good
    rep = ws.shadow("clf", candidate="@candidate", logged=True, bootstrap=0)
    assert rep.n == 10 and rep.n_skipped == 8
    assert rep.skipped["reason"].str.contains("gpu fell over").all()


def test_logged_mode_without_shadow_rows_says_what_to_do(world: dict[str, Any]) -> None:
    ws, paths = world["ws"], [str(p) for p in world["paths"]]
    with Predictor(ws, "clf@production") as p:
        p(paths[:4])
    with pytest.raises(WorkspaceError, match="no shadow rows .* shadow="):
        ws.shadow("clf", candidate="@candidate", logged=True)


def test_box_level_agreement_from_logged_detector_rows(world: dict[str, Any]) -> None:
    ws = world["ws"]
    det = ws.register_model("det", world["prod"].load(), preprocess=world["pre"], classes=["a", "b", "c"],
                            task="detection")
    det2 = ws.register_model("det", world["flip"].load(), preprocess=world["pre"], classes=["a", "b", "c"],
                             task="detection")
    ws.set_alias("det", "production", det.version)
    ws.add_images(world["paths"][:3], progress=False)
    ids = ws.images().sort("path")["image_id"].to_list()

    def box(c: str, x0: float, y0: float, x1: float, y1: float) -> dict[str, Any]:
        return {"class": c, "score": 0.9, "x0": x0, "y0": y0, "x1": x1, "y1": y1}

    prod_boxes = [[box("a", 0, 0, 10, 10), box("b", 20, 20, 30, 30)], [box("c", 0, 0, 5, 5)], []]
    cand_boxes = [[box("a", 1, 0, 11, 10), box("c", 20, 21, 30, 31)], [], [box("a", 0, 0, 4, 4)]]
    served = ws.log_predictions(pl.DataFrame({"image_id": ids, "boxes": [json.dumps(b) for b in prod_boxes]}),
                                "det@production")
    ws.log_predictions(pl.DataFrame({"image_id": ids, "boxes": [json.dumps(b) for b in cand_boxes],
                                     "shadow_of": served["prediction_id"]}), det2, role="shadow")
    rep = ws.shadow("det", candidate=det2.version, logged=True, bootstrap=0, min_agreement=0.0)
    assert rep.boxes is not None
    assert (rep.boxes["n_matched"], rep.boxes["n_production_boxes"], rep.boxes["n_candidate_boxes"]) == (2, 3, 3)
    assert rep.boxes["match_rate"] == pytest.approx(4 / 6) and rep.boxes["class_agreement"] == pytest.approx(0.5)
    # image-level: the class of the most confident box (<no box> when none)
    assert "<no box>" in rep.classes and rep.n == 3
    with pytest.raises(WorkspaceError, match="re-running a detection model offline"):
        ws.shadow("det", candidate=det2.version)
