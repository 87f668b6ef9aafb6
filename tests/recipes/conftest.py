"""Workspaces, notebooks and recipes for the recipe tests.

``small``: 30 NEU surface-defect images, labels from their file names, a ``baseline`` dataset
version, a notebook with a ``parameters`` cell and a finished run of it recorded in this
process (as a Jupyter kernel records one: ``$JPY_SESSION_NAME`` names the notebook), exported
as a recipe. No kernel starts: the bad-input tests fail before anything executes.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from recipe_helpers import SMALL_CELLS, Small, make_workspace, notebook, record_run, write_notebook

from jupyter_cvops.models.aliases import RECIPE_ENV
from jupyter_cvops.recipes import export_recipe


@pytest.fixture(autouse=True)
def clean_context(monkeypatch: pytest.MonkeyPatch) -> None:
    """No notebook path or recipe context leaks in from the environment or other tests."""
    monkeypatch.delenv("JPY_SESSION_NAME", raising=False)
    monkeypatch.delenv(RECIPE_ENV, raising=False)
    ipython = sys.modules.get("IPython")
    shell = ipython.get_ipython() if ipython is not None else None
    if shell is not None:
        for key in ("__session__", "__vsc_ipynb_file__"):
            if key in shell.user_ns:
                monkeypatch.delitem(shell.user_ns, key)


@pytest.fixture
def small(tmp_path: Path, shared_data: Path, monkeypatch: pytest.MonkeyPatch) -> Small:
    ws = make_workspace(tmp_path, shared_data)
    nb_path = write_notebook(tmp_path / "train.ipynb", notebook(SMALL_CELLS))
    record_run(ws, nb_path, monkeypatch)
    recipe = export_recipe(nb_path, tmp_path / "recipes" / "train", workspace=ws)
    return Small(ws, nb_path, recipe, tmp_path)
