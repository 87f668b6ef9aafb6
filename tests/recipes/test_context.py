"""Inside a recipe re-run (the kernel's $CVOPS_RECIPE_CONTEXT): run.use gives the pinned version or the override,
runs link to the recipe and their parent, alias moves are proposals; and retrain_due with its evidence."""

from __future__ import annotations

import json
from datetime import timedelta

import polars as pl
import pytest
import torch
from recipe_helpers import Small

from jupyter_cvops._store import now_utc
from jupyter_cvops.models.aliases import RECIPE_ENV
from jupyter_cvops.recipes._inputs import resolve_inputs


def _context(monkeypatch: pytest.MonkeyPatch, small: Small, dataset: str | None = None) -> dict[str, object]:
    ctx = {"recipe_id": small.recipe.id, "name": "train", "path": str(small.recipe.path), "retrain_id": "r" * 32,
           "source_run": small.recipe.spec["source_run"],
           "inputs": resolve_inputs(small.ws.store, small.recipe, dataset)}
    monkeypatch.setenv(RECIPE_ENV, json.dumps(ctx, default=str))
    return ctx


def test_use_resolves_pinned_versions_even_after_the_name_moved(small: Small, monkeypatch: pytest.MonkeyPatch) -> None:
    ws = small.ws
    pinned = ws.version("baseline").id
    ws.snapshot(name="baseline", splits={"train": 0.5, "val": 0.5}, move=True)  # the name now means other content
    _context(monkeypatch, small)
    with ws.run("train") as run:
        assert run.use("baseline").id == pinned
        assert run.use(pinned[:8]).id == pinned  # same input: recorded once
    assert run.inputs == [{"version_id": pinned, "name": None, "taxonomy_version": 1, "requested": "baseline",
                           "pinned": pinned, "override": None}]
    assert run.parent_run_id == small.recipe.source_run_id and run.info["recipe"]["retrain_id"] == "r" * 32
    with ws.run("evaluate") as other:  # a run of another name in the notebook is linked, not a reproduction
        pass
    assert other.parent_run_id is None and other.info["recipe"]["reproduces"] is False


def test_use_resolves_the_override(small: Small, monkeypatch: pytest.MonkeyPatch) -> None:
    ws = small.ws
    newer = ws.snapshot(name="newer", splits={"train": 0.5, "val": 0.5})
    _context(monkeypatch, small, dataset="latest")
    with ws.run("train") as run:
        assert run.use("baseline").id == newer.id
    assert run.inputs[0]["override"] == "latest" and run.inputs[0]["pinned"] == small.recipe.datasets[0]["version_id"]


def test_alias_moves_become_proposals(small: Small, monkeypatch: pytest.MonkeyPatch) -> None:
    ws = small.ws
    m1 = ws.register_model("m", torch.nn.Linear(4, 2), classes=["crazing", "inclusion"], example_input=torch.zeros(2, 4))
    m2 = ws.register_model("m", torch.nn.Linear(4, 2, bias=False), classes=["crazing", "inclusion"],
                           example_input=torch.zeros(2, 4))
    ws.set_alias("m", "production", m1, reason="first")
    ws.set_alias("m", "production", m2, reason="second")
    history = ws.alias_history("m")
    _context(monkeypatch, small)
    with ws.run("train") as run:
        got = ws.set_alias("m", "production", m1, reason="the re-run says so")
        back = ws.rollback("m", "production", reason="undo")
        gone = ws.remove_alias("m", "production")
    assert ws.alias_history("m").equals(history) and ws.model("m@production").version == m2.version
    assert got.alias is None and "not applied" in (got.note or "")
    assert back.version == m2.version and gone.version == m2.version
    assert [(p["action"], p["version"], p["previous_version"]) for p in run.info["proposals"]] == [
        ("move", m1.version, m2.version), ("rollback", m1.version, m2.version), ("remove", None, m2.version)]
    events = ws.events().filter(pl.col("op") == "model.alias.propose")
    assert events.height == 3 and json.loads(events["details"][0])["retrain_id"] == "r" * 32
    monkeypatch.delenv(RECIPE_ENV)
    assert ws.set_alias("m", "production", m1).alias == "production"  # outside a re-run: applied


def test_dataset_name_moves_become_proposals(small: Small, monkeypatch: pytest.MonkeyPatch) -> None:
    """Inside a re-run, moving or removing a dataset name is proposed, not applied; a new name is given."""
    from jupyter_cvops.recipes.rerun import _proposals

    ws = small.ws
    baseline = ws.version("baseline")
    ws.decide(ws.images()["image_id"][0], "set", class_name="inclusion")  # new content: a new version
    names = ws.version_names(history=True)
    _context(monkeypatch, small)
    moved = ws.snapshot("baseline", move=True, message="the re-run says so")
    assert moved.id != baseline.id and "proposed moving 'baseline' here" in (moved.note or "")
    again = ws.name_version("baseline", moved.id, move=True)
    assert "not applied" in (again.note or "")
    kept = ws.remove_version_name("baseline", message="the re-run says so")
    assert kept.id == baseline.id and "proposed removing" in (kept.note or "")
    assert ws.version("baseline").id == baseline.id and ws.version_names(history=True).equals(names)
    fresh = ws.name_version("rerun-output", moved.id)  # a new name moves nothing: given
    assert "rerun-output" in fresh.names
    got = _proposals(ws.store, "r" * 32)
    assert [(p["kind"], p["name"], p["action"], p["previous_version"]) for p in got] == [
        ("dataset", "baseline", "move", baseline.id), ("dataset", "baseline", "move", baseline.id),
        ("dataset", "baseline", "remove", baseline.id)]
    monkeypatch.delenv(RECIPE_ENV)
    assert ws.name_version("baseline", moved.id, move=True).id == ws.version("baseline").id == moved.id


def test_retrain_due_with_evidence(small: Small) -> None:
    ws = small.ws
    mv = ws.register_model("clf", torch.nn.Linear(4, 2), classes=["crazing", "inclusion"],
                           example_input=torch.zeros(2, 4), dataset_version="baseline")
    ws.set_alias("clf", "production", mv)
    fresh = ws.retrain_due("clf@production")
    assert not fresh.due and {s["signal"] for s in fresh.signals} == {
        "age", "input_drift", "skew", "label_drift", "taxonomy", "reviews"}
    ws.taxonomy.redefine("crazing", "fine cracks, any length")
    ws.taxonomy.commit("clarify crazing", author="qa-lead")
    image = ws.images()["image_id"][0]
    ws.decide(image, "set", class_name="inclusion")
    from jupyter_cvops.checks.results import record_check

    record_check(ws.store, "input_drift", "baseline", parameters={}, result={"n_drifted": 2}, alert=True,
                 summary="2 of 5 windows drifted")
    due = ws.retrain_due("clf@production", now=now_utc() + timedelta(days=120))
    by = {s["signal"]: s for s in due.signals}
    assert due.due and by["age"]["due"] and by["taxonomy"]["due"] and by["reviews"]["due"] and by["input_drift"]["due"]
    assert by["taxonomy"]["evidence"]["versions"][0]["message"] == "clarify crazing"
    assert by["reviews"]["evidence"]["image_ids"] == [image]
    assert by["input_drift"]["evidence"]["summaries"] == ["2 of 5 windows drifted"]
    assert not by["label_drift"]["due"]
    assert "DUE" in repr(due) and due.to_dict()["reasons"] == due.reasons


def test_retrain_due_reads_production_accuracy(small: Small) -> None:
    """Served predictions of reviewed images, significantly less accurate than the version's evaluation: due."""
    from jupyter_cvops.checks.results import record_check

    ws = small.ws
    mv = ws.register_model("clf", torch.nn.Linear(4, 2), classes=["crazing", "inclusion"],
                           example_input=torch.zeros(2, 4), dataset_version="baseline")
    ws.set_alias("clf", "production", mv)
    images = ws.images()["image_id"].to_list()[:8]
    ws.log_predictions(pl.DataFrame({"image_id": images, "predicted_class": ["crazing"] * 8}),
                       model="clf@production", version=mv.version)
    quiet = {s["signal"]: s for s in ws.retrain_due("clf@production").signals}["production_accuracy"]
    assert not quiet["due"] and quiet["message"].startswith("no served prediction of this version was reviewed")
    for i, image in enumerate(images):  # reviewers say 6 of the 8 were inclusions
        ws.decide(image, "set", class_name="crazing" if i < 2 else "inclusion", reviewer="rita")
    unknown = {s["signal"]: s for s in ws.retrain_due("clf@production", min_reviewed=4).signals}
    assert not unknown["production_accuracy"]["due"] and "no evaluation" in unknown["production_accuracy"]["message"]
    cid = record_check(ws.store, "evaluation", f"clf:{mv.version}", parameters={},
                       result={"overall": {"accuracy": 0.95}}, alert=False, summary="accuracy 0.95")
    due = ws.retrain_due("clf@production", min_reviewed=4)
    sig = {s["signal"]: s for s in due.signals}["production_accuracy"]
    assert sig["due"] and due.due and sig["evidence"]["evaluation_check"] == cid
    assert (sig["evidence"]["n_reviewed"], sig["evidence"]["accuracy"]) == (8, 0.25)
    assert sig["message"].startswith("production accuracy 0.25 [0.07, 0.59] on 8 reviewed predictions, below the 0.95")
    assert not {s["signal"]: s for s in ws.retrain_due("clf@production").signals}["production_accuracy"]["due"]  # < 20
