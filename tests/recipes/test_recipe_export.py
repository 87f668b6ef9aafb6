"""Exporting a notebook as a recipe: what is pinned, and the notebooks that are refused."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest
import yaml

from jupyter_cvops.recipes import Recipe, RecipeError, export_recipe
from jupyter_cvops.recipes._lock import parse_lock
from jupyter_cvops.runs._environment import installed_packages

from recipe_helpers import SMALL_CELLS, Small, make_workspace, notebook, record_run, write_notebook


def test_recipe_pins_data_parameters_seeds_metrics_and_environment(small: Small) -> None:
    r, ws = small.recipe, small.ws
    spec = yaml.safe_load((r.path / "recipe.yaml").read_text())
    assert spec["name"] == "train" and spec["workspace"] == ws.uri
    assert spec["parameters"] == {"lr": 0.1, "epochs": 2, "seed": 0} and spec["parameters_note"] is None
    base = ws.version("baseline")
    assert [(d["version_id"], d["name"], d["via"]) for d in spec["datasets"]] == [(base.id, "baseline", "run")]
    assert spec["taxonomy_version"] == base.taxonomy_version
    assert spec["seeds"]["seed"] == 0
    assert spec["expected_metrics"] == {"accuracy": {"value": 0.75, "tolerance": 1e-6},
                                        "loss": {"value": 0.5, "tolerance": 1e-6}}
    assert spec["source_run"]["run_id"] == ws.get_run("train").id
    # the notebook, outputs stripped, with its content hash; the lock pip installs from
    nb = json.loads((r.path / "train.ipynb").read_text())
    assert all(c.get("outputs", []) == [] for c in nb["cells"])
    locked = parse_lock(r.lock_path.read_text())
    assert locked["polars"] == installed_packages()["polars"] and len(locked) == spec["environment"]["packages"]
    assert spec["environment"]["python"] and "accelerator" in spec["environment"]
    d = r.to_dict()
    assert d["pinned"]["datasets"] == [f"baseline ({base.id[:12]})"] and d["path"] == str(r.path)
    rows = ws.recipes()
    assert rows.select("recipe_id", "name", "path").row(0) == (r.id, "train", str(r.path))


def test_a_notebook_without_a_parameters_cell_says_so(tmp_path: Path, shared_data: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    ws = make_workspace(tmp_path, shared_data)
    nb = write_notebook(tmp_path / "plain.ipynb", notebook([("code", "x = 1", [])]))
    record_run(ws, nb, monkeypatch)
    r = export_recipe(nb, tmp_path / "r", workspace=ws)
    assert r.spec["parameters"] is None and "no cell tagged 'parameters'" in r.spec["parameters_note"]
    assert not r.has_parameters


def test_archive_export_and_load(small: Small) -> None:
    r = export_recipe(small.notebook, small.root / "out" / "train.zip", workspace=small.ws)
    assert r.archive is not None and r.archive.is_file()
    assert set(zipfile.ZipFile(r.archive).namelist()) == {"recipe.yaml", "train.ipynb", "requirements.lock"}
    again = Recipe.load(r.archive)
    assert again.id == r.id and again.parameters == r.parameters


def test_refused_without_versioned_data(tmp_path: Path, shared_data: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    ws = make_workspace(tmp_path, shared_data)
    nb = write_notebook(tmp_path / "nodata.ipynb", notebook(SMALL_CELLS))
    record_run(ws, nb, monkeypatch, use=None)
    with pytest.raises(RecipeError, match=r"unversioned data.*%cvops snapshot"):
        export_recipe(nb, tmp_path / "r", workspace=ws)
    assert not (tmp_path / "r").exists()


def test_refused_when_the_last_run_failed(tmp_path: Path, shared_data: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    ws = make_workspace(tmp_path, shared_data)
    nb = write_notebook(tmp_path / "t.ipynb", notebook(SMALL_CELLS))
    record_run(ws, nb, monkeypatch)
    record_run(ws, nb, monkeypatch, fail=True)
    with pytest.raises(RecipeError, match=r"failed \(RuntimeError: loss is nan\); fix the notebook"):
        export_recipe(nb, tmp_path / "r", workspace=ws)


def test_refused_without_a_recorded_run(tmp_path: Path, shared_data: Path) -> None:
    ws = make_workspace(tmp_path, shared_data)
    nb = write_notebook(tmp_path / "t.ipynb", notebook(SMALL_CELLS))
    with pytest.raises(RecipeError, match=r"no recorded run of t.ipynb.*ws.run"):
        export_recipe(nb, tmp_path / "r", workspace=ws)


def test_workspace_found_from_the_notebook_and_existing_recipe_kept(small: Small) -> None:
    nb = json.loads(small.notebook.read_text())
    nb["metadata"]["cvops"] = {"workspace": small.ws.uri}
    small.notebook.write_text(json.dumps(nb))
    with pytest.raises(RecipeError, match="already holds a recipe.*overwrite=True"):
        export_recipe(small.notebook, small.recipe.path)
    r = export_recipe(small.notebook, small.recipe.path, overwrite=True)
    assert r.workspace == small.ws.uri and r.id != small.recipe.id
