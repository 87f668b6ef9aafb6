"""A real seeded torch training notebook: run it, export it, re-run it with --check (exact on CPU), retrain on the
latest data (the alias move becomes a proposal), and a --check that fails on the command line."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient
from recipe_helpers import make_workspace, notebook, train_cells, write_notebook

from jupyter_cvops import Workspace
from jupyter_cvops.recipes import Recipe, RecipeCheckError, export_recipe, retrain

pytestmark = pytest.mark.slow


def execute(path: Path) -> None:
    """Run a notebook as JupyterLab would (the kernel knows its notebook's path) and save its outputs."""
    nb = nbformat.read(path, as_version=4)
    NotebookClient(nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}}
                   ).execute(env={**os.environ, "JPY_SESSION_NAME": str(path)}, stderr=subprocess.DEVNULL)
    nbformat.write(nb, path)


@dataclass
class Trained:
    ws: Workspace
    notebook: Path
    recipe: Recipe


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory, shared_data: Path) -> Iterator[Trained]:
    root = tmp_path_factory.mktemp("trained")
    ws = make_workspace(root, shared_data, n_first=20)  # baseline: 20 images; v2 (newer): all 30
    nb_path = write_notebook(root / "train.ipynb", notebook(train_cells(ws.uri)))
    execute(nb_path)
    recipe = export_recipe(nb_path)  # the workspace is found from the run card in the notebook
    yield Trained(ws, nb_path, recipe)


def test_export_pins_the_model_and_its_preprocessing(trained: Trained) -> None:
    spec, ws = trained.recipe.spec, trained.ws
    assert trained.recipe.path == trained.notebook.parent / "recipes" / "train"
    assert spec["workspace"] == ws.uri and spec["parameters"] == {"lr": 0.05, "epochs": 4, "seed": 0}
    mv = ws.model("defect-clf@production")
    assert spec["models"][0]["version"] == mv.version
    assert spec["models"][0]["preprocess_fingerprint"] == mv.preprocess_fingerprint
    assert set(spec["expected_metrics"]) == {"loss", "train_accuracy"}
    assert spec["datasets"][0]["version_id"] == ws.version("baseline").id


def test_check_reproduces_exactly_on_cpu(trained: Trained) -> None:
    ws, recipe = trained.ws, trained.recipe
    source = ws.get_run(recipe.source_run_id or "")
    res = retrain(recipe.path, check=True, progress=False)
    assert res.ok and res.status == "finished"
    run = ws.get_run(res.run_id)
    assert run.metrics == source.metrics  # bit-exact, not merely within tolerance
    assert run.parent_run_id == source.id and run.info["recipe"]["recipe_id"] == recipe.id
    assert res.models == [{"name": "defect-clf", "version": source.models[0]["version"],
                           "note": "same version as the recipe's"}]  # the same weights, byte for byte
    assert [i["version_id"] for i in run.inputs] == [ws.version("baseline").id] and run.inputs[0]["override"] is None
    assert Path(res.executed_notebook).is_file() and Path(res.executed_notebook).parent == recipe.path / "executed"
    check = ws.last_check("recipe", "train")
    assert check is not None and check["alert"] is False and check["check_id"] == res.check_id
    row = ws.recipes().row(0, named=True)
    assert row["last_check"] == res.check_id and row["check_ok"] is True


def test_latest_dataset_reports_the_change_and_only_proposes_the_alias(trained: Trained) -> None:
    ws, recipe = trained.ws, trained.recipe
    before = ws.alias_history("defect-clf")
    res = retrain(recipe.path, dataset="latest", params={"epochs": 3}, progress=False)
    change = res.dataset_change
    assert change is not None and change["used"] == ws.version("v2").id and change["images_added"] == 10
    run = ws.get_run(res.run_id)
    assert run.inputs[0] | {} == {"version_id": ws.version("v2").id, "name": "v2", "taxonomy_version": 1,
                                  "requested": "baseline", "pinned": ws.version("baseline").id, "override": "latest"}
    assert run.params["epochs"] == 3  # injected after the parameters cell
    injected = json.loads(Path(res.executed_notebook).read_text())["cells"][2]
    assert injected["metadata"]["tags"] == ["injected-parameters"] and "epochs = 3" in "".join(injected["source"])
    assert res.models[0]["note"] == "new version"
    # the alias stays where it was; the move is a proposal in the run and in the audit log
    assert ws.alias_history("defect-clf").equals(before)
    assert ws.model("defect-clf@production").version == recipe.spec["models"][0]["version"]
    assert [(p["action"], p["alias"], p["version"]) for p in res.proposals] == [
        ("move", "production", res.models[0]["version"])]
    assert run.info["proposals"][0]["applied"] is False
    assert "proposed, not applied: move defect-clf@production" in res.summary()


def test_cli_check_fails_with_a_diff(trained: Trained, tmp_path: Path) -> None:
    """A notebook whose metric changes on every run: --check exits 4, prints the diff, one error line."""
    nb_path = write_notebook(tmp_path / "clock.ipynb", notebook([
        ("code", "n = 1", ["parameters"]),
        ("code", f"import time, jupyter_cvops as cv\nws = cv.Workspace.open({trained.ws.uri!r})\n"
                 "with ws.run('clock') as run:\n    run.use('baseline')\n"
                 "    run.log_metrics({'n_images': 20.0, 'wall': time.time()})\nrun", []),
    ]))
    execute(nb_path)
    recipe = export_recipe(nb_path, tmp_path / "clock-recipe")
    p = subprocess.run([sys.executable, "-m", "jupyter_cvops.cli", "retrain", str(recipe.path), "--check"],
                       capture_output=True, text=True, timeout=300)
    lines = [ln for ln in p.stderr.splitlines() if ln.strip() and "%|" not in ln]
    assert p.returncode == 4, p.stderr
    assert lines == [lines[0]] and lines[0].startswith(
        "cvops retrain: error: recipe 'clock' did not reproduce: 1 metric outside tolerance: wall ")
    assert "n_images  20" in p.stdout and "outside" in p.stdout and "OUTSIDE tolerance" in p.stdout
    with pytest.raises(RecipeCheckError, match="wall") as info:
        retrain(recipe.path, check=True, progress=False)
    assert info.value.result.run_id and not info.value.result.ok
    assert trained.ws.last_check("recipe", "clock")["alert"] is True  # type: ignore[index]
