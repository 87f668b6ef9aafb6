"""``ws.shadow``: the candidate re-run offline on logged production images, paired, compared, recorded."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from shadow_world import CLASSES, ColorNet, make_world
from statsmodels.stats.contingency_tables import mcnemar as sm_mcnemar

from jupyter_cvops import Predictor, Workspace, WorkspaceError
from jupyter_cvops.checks.results import to_json
from jupyter_cvops.shadow import ShadowReport

T1 = datetime(2026, 11, 2, tzinfo=timezone.utc)
T2 = datetime(2026, 11, 9, tzinfo=timezone.utc)


@pytest.fixture
def world(tmp_path: Path) -> dict[str, Any]:
    w = make_world(tmp_path)
    paths = [str(p) for p in w["paths"]]
    with Predictor(w["ws"], "clf@production", source="line-1") as p:  # served twice: each image counts once
        w["served"] = p(paths[:15], time=T1)
        p(paths[:15], time=T1)
    with Predictor(w["ws"], "clf@production", source="line-2") as p:
        w["served"] = pl.concat([w["served"], p(paths[15:], time=T2)])
    return w


def test_equal_weights_in_another_version_agree_fully(world: dict[str, Any]) -> None:
    ws = world["ws"]
    assert world["same"].version != world["prod"].version
    rep = ws.shadow("clf", candidate=world["same"].version, bootstrap=200)
    assert isinstance(rep, ShadowReport)
    assert (rep.n, rep.agreement, rep.kappa, rep.alert) == (30, 1.0, 1.0, False)
    assert rep.agreement_ci == (1.0, 1.0) and rep.disagreements.height == 0 and rep.n_skipped == 0
    assert rep.production_version == world["prod"].version and rep.candidate_version == world["same"].version
    flips = rep.flips.filter(pl.col("production_class") != pl.col("candidate_class"))
    assert flips["count"].sum() == 0 and rep.flips.height == 9
    assert rep.confidence.row(0, named=True)["mean_delta"] == pytest.approx(0.0, abs=1e-6)
    # recorded as a check with the numbers only
    check = ws.checks(kind="shadow")
    assert check.height == 1 and check["check_id"][0] == rep.check_id and check["target"][0] == "clf"
    result = json.loads(check["result"][0])
    assert {"production_version", "candidate_version", "n", "agreement", "agreement_ci", "kappa", "kappa_ci",
            "reviewed", "alert"} <= set(result)
    assert result["n"] == 30 and result["agreement"] == 1.0 and result["reviewed"] is None


def test_classes_are_compared_by_name(world: dict[str, Any]) -> None:
    rep = world["ws"].shadow("clf", candidate=world["reordered"].version, bootstrap=0, record=False, device="cpu",
                             batch_size=7)
    assert rep.agreement == 1.0 and rep.classes == CLASSES and rep.check_id is None


def test_a_planted_flip_shows_in_the_flip_matrix(world: dict[str, Any]) -> None:
    rep = world["ws"].shadow("clf", bootstrap=500, min_agreement=0.9)  # candidate="@candidate" by default
    cells = {(a, b): c for a, b, c in rep.flips.rows()}
    assert cells[("b", "c")] == 10 and sum(c for (a, b), c in cells.items() if a != b) == 10
    assert cells[("a", "a")] == 10 and cells[("c", "c")] == 10 and cells[("b", "b")] == 0
    summary = {r[0]: r[1:] for r in rep.flip_summary.rows()}
    assert summary["b"] == (10, 0, 10, 0) and summary["c"] == (10, 20, 0, 10)
    assert rep.agreement == pytest.approx(20 / 30) and rep.alert and "under 90.0%" in rep.summary
    assert "b -> c (10)" in rep.summary
    dis = rep.disagreements
    assert dis.height == 10 and set(dis["production_class"]) == {"b"} and set(dis["candidate_class"]) == {"c"}
    worst = [min(p, c) for p, c in zip(dis["production_score"], dis["candidate_score"])]
    assert worst == sorted(worst, reverse=True)
    served = world["ws"].predictions("clf").filter(pl.col("predicted_class") == "b")
    assert set(dis["prediction_id"]) <= set(served["prediction_id"]) and set(dis["path"]) == set(served["path"])
    latest = served.sort("time").unique("image_id", keep="last")  # an image served twice: its latest answer
    assert set(dis["prediction_id"]) == set(latest["prediction_id"])
    assert set(dis.columns) >= {"image_id", "confidence_delta", "reviewed_class"}
    html = rep._repr_html_()
    assert "ALERT" in html and "<td>b</td><td>&rarr;</td><td>c</td><td>10</td>" in html
    to_json(rep.to_dict())  # JSON-able


def test_reviewed_labels_give_accuracies_and_mcnemar(world: dict[str, Any]) -> None:
    ws = world["ws"]
    ws.taxonomy.ensure(CLASSES)
    served = world["served"].unique("path", keep="first").sort("path")
    by_class = {c: served.filter(pl.col("predicted_class") == c)["path"].to_list() for c in CLASSES}
    ids = dict(zip(ws.images()["path"], ws.images()["image_id"]))
    truth = {**{p: "b" for p in by_class["b"][:6]}, **{p: "c" for p in by_class["b"][6:8]},
             **{p: "a" for p in by_class["a"][:4]}, by_class["a"][4]: "c"}
    for path, cls in truth.items():
        ws.decide(ids[path], "set", class_name=cls, reviewer="rita")
    ws.decide(ids[by_class["c"][0]], "comment", comment="not a label")  # comments are no ground truth
    rep = ws.shadow("clf", candidate="clf@candidate", bootstrap=0)
    r = rep.reviewed
    assert r is not None and r["n"] == 13
    assert (r["b"], r["c"]) == (6, 2)  # production right and candidate wrong / the reverse
    assert r["accuracy_production"] == pytest.approx(10 / 13) and r["accuracy_candidate"] == pytest.approx(6 / 13)
    ref = sm_mcnemar([[4, 6], [2, 1]], exact=True)
    assert r["mcnemar_method"] == "exact" and r["mcnemar_p"] == pytest.approx(ref.pvalue)
    assert r["mcnemar_statistic"] == pytest.approx(ref.statistic)
    assert r["mcnemar_p_chi2"] == pytest.approx(sm_mcnemar([[4, 6], [2, 1]], exact=False).pvalue)
    reviewed = rep.disagreements.filter(pl.col("reviewed_class").is_not_null())
    assert reviewed.height == 8


def test_a_significantly_worse_candidate_raises_the_alert(world: dict[str, Any]) -> None:
    ws = world["ws"]
    ws.taxonomy.ensure(CLASSES)
    served = ws.predictions("clf").unique("image_id")
    for iid in served.filter(pl.col("predicted_class") == "b")["image_id"]:
        ws.decide(iid, "set", class_name="b")
    rep = ws.shadow("clf", candidate="@candidate", bootstrap=0, min_agreement=0.5)
    assert rep.reviewed is not None and (rep.reviewed["b"], rep.reviewed["c"]) == (10, 0)
    assert rep.reviewed["mcnemar_p"] == pytest.approx(sm_mcnemar([[0, 10], [0, 0]], exact=True).pvalue)
    assert rep.alert and rep.alert_reasons == [r for r in rep.alert_reasons if "significantly worse" in r]


def test_selection_window_source_images_predictions_sample(world: dict[str, Any]) -> None:
    ws, cand = world["ws"], world["flip"].version
    assert ws.shadow("clf", candidate=cand, source="line-2", bootstrap=0).n == 15
    assert ws.shadow("clf", candidate=cand, since=T2, bootstrap=0).n == 15
    assert ws.shadow("clf", candidate=cand, until="2026-11-05", bootstrap=0).n == 15
    paths = [str(p) for p in world["paths"]]
    assert ws.shadow("clf", candidate=cand, images=paths[:4], bootstrap=0).n == 4
    some = ws.predictions("clf").head(6)
    assert ws.shadow("clf", candidate=cand, predictions=some, bootstrap=0).n == 6
    ids = ws.images()["image_id"].head(3)
    assert ws.shadow("clf", candidate=cand, images=ids, bootstrap=0).n == 3
    a = ws.shadow("clf", candidate=cand, sample=7, seed=3, bootstrap=100)
    b = ws.shadow("clf", candidate=cand, sample=7, seed=3, bootstrap=100)
    assert a.n == 7 and a.disagreements.equals(b.disagreements) and a.agreement_ci == b.agreement_ci


def test_unreadable_images_are_counted_and_skipped(world: dict[str, Any]) -> None:
    bad = world["paths"][4]
    bad.write_bytes(b"\x89PNG not an image any more")
    rep = world["ws"].shadow("clf", candidate="@candidate", bootstrap=0)
    assert rep.n == 29 and rep.n_skipped == 1
    row = rep.skipped.row(0, named=True)
    assert row["path"] == str(bad) and row["reason"].startswith("cannot read the image")
    assert "1 images skipped" in rep.summary


def test_clear_errors(world: dict[str, Any], tmp_path: Path) -> None:
    ws = world["ws"]
    with pytest.raises(WorkspaceError, match="no alias 'nope'|nope"):
        ws.shadow("clf", candidate="@nope")
    with pytest.raises(WorkspaceError, match="no model named 'other'"):
        ws.shadow("other", candidate="@candidate")
    with pytest.raises(WorkspaceError, match="same version"):
        ws.shadow("clf", candidate=world["prod"].version)
    with pytest.raises(WorkspaceError, match="names model 'zzz'"):
        ws.shadow("clf", candidate="zzz@candidate")
    with pytest.raises(WorkspaceError, match="model's name"):
        ws.shadow("clf@production", candidate="@candidate")
    d = ws.register_model("clf", ColorNet().eval(), preprocess=world["pre"], classes=["a", "b", "d"])
    with pytest.raises(WorkspaceError, match=r"only production has \['c'\]; only the candidate has \['d'\]"):
        ws.shadow("clf", candidate=d.version)
    with pytest.raises(WorkspaceError, match="no logged served predictions"):
        ws.shadow("clf", candidate="@candidate", since="2030-01-01")
    with pytest.raises(WorkspaceError, match="no logged served predictions"):
        ws.shadow("clf", candidate="@candidate", production=world["same"].version)
    with pytest.raises(WorkspaceError, match="sample"):
        ws.shadow("clf", candidate="@candidate", sample=0)


def test_read_only_workspace_compares_without_recording(world: dict[str, Any]) -> None:
    ro = Workspace.open(world["ws"].uri, readonly=True)
    rep = ro.shadow("clf", candidate="@candidate", bootstrap=0)
    assert rep.check_id is None and rep.n == 30
    assert world["ws"].checks(kind="shadow").height == 0


def test_an_image_moved_since_it_was_served_is_read_where_it_is_now(world: dict[str, Any], tmp_path: Path) -> None:
    ws = world["ws"]
    old = world["paths"][0]
    new = tmp_path / "moved" / old.name
    new.parent.mkdir()
    old.rename(new)
    ws.add_images(new, progress=False)  # the workspace learns where the image is now
    rep = ws.shadow("clf", candidate=world["same"].version, bootstrap=0)
    assert rep.n == 30 and rep.n_skipped == 0


def test_logged_answers_outside_the_model_classes_are_skipped(world: dict[str, Any]) -> None:
    ws = world["ws"]
    iid = ws.images()["image_id"][0]
    ws.log_predictions(pl.DataFrame({"image_id": [iid], "path": [ws.images()["path"][0]],
                                     "predicted_class": ["rust"], "score": [0.9], "time": [T2]}), "clf@production")
    rep = ws.shadow("clf", candidate=world["same"].version, bootstrap=0)
    assert rep.n == 29 and rep.skipped["reason"].to_list() == ["production's logged class rust is not one of the "
                                                               "model's classes"]


def test_disagreements_go_out_to_a_labeling_tool(world: dict[str, Any], tmp_path: Path) -> None:
    """The disagreements are an image selection: ws.export writes them as a CVAT (or Label Studio) task."""
    from jupyter_cvops.formats import read

    ws = world["ws"]
    rep = ws.shadow("clf", bootstrap=0, record=False)
    out = ws.export(rep.disagreements, tmp_path / "to-label", format="cvat")
    got = read(out, format="cvat")
    names = {Path(p).name for p in rep.disagreements["path"]}
    assert {Path(r.file_name).name for r in got.images} == names and len(names) == 10
