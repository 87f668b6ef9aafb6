"""``cvops models``, ``alias set|rollback|remove|history``, ``evaluate``, ``predictions``, ``lineage``, ``impact``:
the real commands in-process on a small workspace, their JSON against the Python API."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
from conftest import CliWorld, Cvops

from jupyter_cvops import Workspace


def test_models_lists_versions_and_aliases(world: CliWorld, cvops: Cvops) -> None:
    rows = cvops.json("-w", world.uri, "models")
    assert len(rows) == 5 and {r["version"] for r in rows} == set(world.ws.models()["version"])
    aliases = {r["version"]: r["aliases"] for r in rows}
    assert aliases[world.versions["prod"]] == ["production"] and aliases[world.versions["flip"]] == ["candidate"]
    code, out, _ = cvops("-w", world.uri, "models", "clf")
    assert code == 0 and out.startswith("1 models, 5 versions") and world.versions["prod"][:12] in out
    code, _, err = cvops("-w", world.uri, "models", "nope")
    assert code == 1 and err.strip() == "cvops models: error: no model named 'nope'"


def test_alias_set_rollback_remove_and_history(world: CliWorld, cvops: Cvops, tmp_path: Path) -> None:
    uri = world.copy(tmp_path)
    prod, other = world.versions["prod"], world.versions["same"]
    moved = cvops.json("-w", uri, "alias", "set", "clf", "production", other[:8], "--reason", "try torchscript")
    assert (moved["version"], moved["action"], moved["previous_version"]) == (other, "move", prod)
    code, out, _ = cvops("-w", uri, "alias", "rollback", "clf", "production", "-m", "back")
    assert code == 0 and out.strip() == f"clf@production rolled back to {prod[:12]} (was {other[:12]})"
    assert Workspace.open(uri).model("clf@production").version == prod
    removed = cvops.json("-w", uri, "alias", "remove", "clf", "candidate")
    assert removed["version"] == world.versions["flip"] and removed["action"] == "remove"
    history = cvops.json("-w", uri, "alias", "history", "clf", "--alias", "production")
    assert [(r["action"], r["version"], r["message"]) for r in history] == [
        ("set", prod, "first"), ("move", other, "try torchscript"), ("rollback", prod, "back")]
    assert history == json.loads(Workspace.open(uri).alias_history("clf", alias="production").write_json())
    code, _, err = cvops("-w", uri, "alias", "set", "clf", "production", "feedface")
    assert code == 1 and len(err.strip().splitlines()) == 1 and "feedface" in err
    assert Workspace.open(world.uri).model("clf@production").version == prod  # the shared world is untouched


def test_evaluate_records_a_check(world: CliWorld, cvops: Cvops) -> None:
    rep = cvops.json("-w", world.uri, "evaluate", "clf@production", "train", "--by", "source")
    assert rep["overall"]["accuracy"] == 1.0 and rep["version"] == world.versions["prod"]
    assert rep["overall"]["n"] == 25 and rep["overall"]["n_no_truth"] == 5  # ties of the two annotators left out
    check = world.ws.checks(kind="evaluation").filter(pl.col("check_id") == rep["check_id"])
    assert check.height == 1 and check["target"][0] == f"clf:{world.versions['prod']}"
    code, out, _ = cvops("-w", world.uri, "evaluate", "clf@production", "train", "--by", "source")
    assert code == 0 and out.startswith(f"clf:{world.versions['prod'][:12]} on ") and "accuracy 1.000" in out


def test_predictions_with_filters(world: CliWorld, cvops: Cvops) -> None:
    every = cvops.json("-w", world.uri, "predictions")
    assert len(every) == world.ws.predictions().height == 51
    line2 = cvops.json("-w", world.uri, "predictions", "clf@production", "--source", "line-2")
    assert len(line2) == 6 and {r["source"] for r in line2} == {"line-2"}
    day = cvops.json("-w", world.uri, "predictions", "clf", "--since", "2026-11-03", "--until", "2026-11-04")
    assert len(day) == 21 and all(r["time"].startswith("2026-11-03") for r in day)
    assert len(cvops.json("-w", world.uri, "predictions", "--limit", "4")) == 4
    code, out, _ = cvops("-w", world.uri, "predictions", "--limit", "2")
    assert code == 0 and out.startswith("51 predictions (the last 2 shown)")
    code, _, err = cvops("-w", world.uri, "predictions", "--since", "yesterday-ish")
    assert code == 2 and err.count("\n") == 1 and "not an ISO date or time" in err


def test_lineage_and_impact(world: CliWorld, cvops: Cvops) -> None:
    first = world.ws.predictions().row(0, named=True)
    pid = first["prediction_id"]
    chain = cvops.json("-w", world.uri, "lineage", pid)
    assert chain["start"] == "prediction" and chain["prediction"]["prediction_id"] == pid
    assert chain["model"]["version_id"] == world.versions["prod"]
    assert chain["summary"] == world.ws.lineage(pid).summary()
    forward = cvops.json("-w", world.uri, "lineage", first["image_id"])
    assert forward["start"] == "image" and pid in {p["prediction_id"] for p in forward["predictions"]}
    blast = cvops.json("-w", world.uri, "impact", "--annotator", "eve")
    assert blast["n_labels"] == 30 and blast["dataset_versions"] == [world.ws.version("train").id]
    assert blast == json.loads(json.dumps(world.ws.impact(annotator=["eve"]).to_dict(), default=str)) | {
        "summary": blast["summary"]}
    code, out, _ = cvops("-w", world.uri, "impact", "--classes", "a", "--since", "2020-01-01")
    assert code == 0 and out.startswith("classes=") and "dataset versions" in out
    code, _, err = cvops("-w", world.uri, "impact")
    assert code == 1 and "say which labels" in err
    code, _, err = cvops("-w", world.uri, "lineage", "no-such-id")
    assert code == 1 and len(err.strip().splitlines()) == 1
