"""The scheduled checks from the command line: ``cvops embed``, ``agreement``, ``drift``, ``skew``, ``audit``.
Each runs the real verb on a small workspace, records its check (the id the command prints is the row in
``ws.checks()``), prints one line, and exits 4 exactly when the check alerts."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest
from conftest import CliWorld, Cvops
from shadow_world import make_images

from jupyter_cvops import Workspace
from jupyter_cvops.checks.summaries import drift_summary


def _check(ws: Workspace, check_id: str) -> dict:
    rows = ws.checks().filter(pl.col("check_id") == check_id)
    assert rows.height == 1
    return rows.row(0, named=True)


def test_embed_only_new_images_from_local_weights(world: CliWorld, cvops: Cvops, tmp_path: Path) -> None:
    uri = world.copy(tmp_path)
    make_images(tmp_path / "new", n=12, seed=21)
    assert cvops("-w", uri, "add-images", str(tmp_path / "new"), "--source", "line-9")[0] == 0
    before = Workspace.open(uri).embeddings()["rows"].sum()  # what earlier checks embedded
    first = cvops.json("-w", uri, "embed", "--source", "line-9")
    assert (first["model"], first["computed"], first["skipped"]) == ("imgstats-v1", 12, 0)
    code, out, _ = cvops("-w", uri, "embed", "--model", "imgstats", "--source", "line-9")
    assert code == 0 and out.strip() == ("embedded 0 images with imgstats-v1 into emb_imgstats_v1 "
                                         "(12 already there, 0 failed)")
    served = cvops.json("-w", uri, "embed", "--predictions", "clf@production", "--since", "2026-11-04")
    assert served["computed"] + served["skipped"] == 15
    assert Workspace.open(uri).embeddings()["rows"].sum() == before + 12 + served["computed"]
    make_images(tmp_path / "gone", n=3, seed=22)
    assert cvops("-w", uri, "add-images", str(tmp_path / "gone"), "--source", "gone")[0] == 0
    for p in (tmp_path / "gone").iterdir():
        p.unlink()
    code, out, err = cvops("-w", uri, "embed", "--source", "gone", "--json")  # --json: no progress bar
    assert code == 1 and json.loads(out)["failures"][0]["reason"] == "file not found"
    assert err.startswith("cvops embed: error: no image embedded: all 3 failed (first: ") and err.count("\n") == 1
    assert err.rstrip().endswith("img000.png: file not found)")
    for args, needle in [(["--model", "open_clip:ViT-B-32", "--weights", "laion2b_s34b_b79k"], "never downloads"),
                         (["--model", "open_clip:ViT-B-32"], "needs --weights FILE"),
                         (["--weights", str(tmp_path / "missing.pt")], "local checkpoint file"),
                         (["--dataset", "train", "--source", "x"], "drop --source")]:
        code, _, err = cvops("-w", uri, "embed", *args)
        assert code == 1 and len(err.strip().splitlines()) == 1 and needle in err, err


def test_agreement_records_its_check(world: CliWorld, cvops: Cvops) -> None:
    rep = cvops.json("-w", world.uri, "agreement", "--bootstrap", "50")
    assert rep["command"] == "agreement" and rep["target"] == "annotations" and rep["alert"] is False
    assert rep["exit_code"] == 0 and rep["workspace"] == world.uri
    stored = _check(world.ws, rep["check_id"])
    assert stored["kind"] == "agreement" and stored["summary"] == rep["summary"]
    assert json.loads(stored["result"]) == rep["result"]
    alpha = rep["result"]["metrics"]["krippendorff_alpha"]["value"]
    assert alpha == pytest.approx(world.ws.agreement(bootstrap=0).overall.filter(
        pl.col("metric") == "krippendorff_alpha")["value"][0], abs=1e-4)
    sel = cvops.json("-w", world.uri, "agreement", "--dataset", "train", "--bootstrap", "0")
    assert sel["target"].startswith("annotations of 30 images (")
    code, out, _ = cvops("-w", world.uri, "agreement", "--source", "train", "--bootstrap", "0")
    assert code == 0 and out.count("\n") == 1 and out.startswith("Krippendorff's alpha 0.75")


def test_drift_alerts_on_the_bright_day(world: CliWorld, cvops: Cvops) -> None:
    rep = cvops.json("-w", world.uri, "drift", "train", "--predictions", "clf@production", "--by", "1d", code=4)
    assert rep["alert"] is True and rep["exit_code"] == 4 and rep["target"] == "train"
    days = [(r["window"][:10], r["drifted"]) for r in rep["report"]]
    assert days == [("2026-11-02", False), ("2026-11-03", False), ("2026-11-04", True)]
    stored = _check(world.ws, rep["check_id"])
    assert stored["kind"] == "input_drift" and stored["alert"] and stored["summary"] == rep["summary"]
    frame = world.ws.drift("train", world.ws.predictions("clf@production"), by="1d", progress=False)  # the API
    assert drift_summary(frame, reference="train", current="x").result["drifted_windows"] == \
        rep["result"]["drifted_windows"]
    code, out, _ = cvops("-w", world.uri, "drift", "train", "--predictions", "clf@production",
                         "--until", "2026-11-04")
    assert code == 0 and out.startswith("No input drift against train in 2 windows;"), out
    code, out, _ = cvops("-w", world.uri, "drift", "train", "--source", "line-1", "--since", "2026-11-04")
    assert code == 4 and out.splitlines()[1].strip() == "2026-11-04 00:00:DRIFT"


def test_skew_exits_4_and_names_the_field(world: CliWorld, cvops: Cvops) -> None:
    rep = cvops.json("-w", world.uri, "skew", "clf@production", "--sample", "6", code=4)
    assert rep["alert"] and rep["target"] == f"clf:{world.versions['prod']}"
    assert "mean (0.45, 0.45, 0.45)" in rep["summary"] and rep["summary"].startswith("line-2:")
    assert {d["field"] for d in rep["report"]["differences"]} >= {"mean"}
    assert _check(world.ws, rep["check_id"])["kind"] == "skew"
    code, out, err = cvops("-w", world.uri, "skew", "clf", "--version", world.versions["same"], "--no-input-stats")
    assert code == 1 and err.startswith(f"cvops skew: error: no predictions of clf:{world.versions['same'][:12]} ")


def test_audit_fail_under(world: CliWorld, cvops: Cvops, tmp_path: Path) -> None:
    uri = world.copy(tmp_path)
    rep = cvops.json("-w", uri, "audit", "--as-of", "2030-01-01", "--fail-under", "10", code=4)
    api = Workspace.open(uri).audit("2030-01-01")
    assert rep["report"]["score"] == api.score < 10 and rep["alert"] and rep["exit_code"] == 4
    assert rep["result"]["answers"] == {str(a.number): a.answer for a in api.answers}
    stored = _check(Workspace.open(uri), rep["check_id"])
    assert stored["kind"] == "audit" and stored["target"] == "@production" and stored["alert"]
    ok = cvops.json("-w", uri, "audit", "--as-of", "2030-01-01", "--fail-under", str(api.score))
    assert ok["alert"] is False and ok["exit_code"] == 0
    code, out, _ = cvops("-w", uri, "audit", "--as-of", "2030-01-01")
    lines = out.splitlines()
    assert code == 0 and lines[0] == api.summary() and lines[1].startswith(" 1. ")
    assert sum(ln[:3].strip().rstrip(".").isdigit() for ln in lines) == 10
    code, out, _ = cvops("-w", uri, "audit", "--as-of", "2030-01-01", "--full")
    assert code == 0 and out.strip() == api.text()
