"""The example notebooks run headless (nbclient) from start to end."""

from __future__ import annotations

import shutil
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

NOTEBOOKS = Path(__file__).resolve().parents[1] / "example_notebooks"


@pytest.mark.slow
def test_01_version_your_data(tmp_path: Path) -> None:
    src = NOTEBOOKS / "01_version_your_data.ipynb"
    nb = nbformat.read(src, as_version=4)
    shutil.copy(src, tmp_path / src.name)
    NotebookClient(nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}).execute()
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []) if o.output_type == "error"]
    assert not errors
    texts = "\n".join(
        o.get("text", "") or str(o.get("data", {}).get("text/plain", ""))
        for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])
    )
    assert "cvops snapshot 'notebook-run'" in texts  # the text fallback outside JupyterLab
    bundles = [o["data"] for c in nb.cells for o in c.get("outputs", [])
               if o.get("output_type") == "display_data" and "application/vnd.cvops.snapshot+json" in o.get("data", {})]
    assert len(bundles) == 1
    assert "CHANGED" in texts or "changed" in texts


@pytest.mark.slow
def test_04_models_and_lineage(tmp_path: Path) -> None:
    """Train, register, alias, evaluate, predict, log a skewed line, skew, lineage, impact, rollback."""
    src = NOTEBOOKS / "04_models_and_lineage.ipynb"
    nb = nbformat.read(src, as_version=4)
    NotebookClient(nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}).execute()
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []) if o.output_type == "error"]
    assert not errors, [e.get("evalue") for e in errors]
    streams = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])
               if o.output_type == "stream" and o.get("name") == "stderr"]
    assert not streams, [s["text"] for s in streams]
    texts = "\n".join(
        o.get("text", "") or str(o.get("data", {}).get("text/plain", ""))
        for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])
    )
    assert "cvops run 'train-defect-clf' finished" in texts  # the run card's text fallback
    assert "defect-clf:" in texts and "(test): accuracy" in texts
    assert "line-2: serving resizes with OpenCV" in texts and "antialias" in texts  # ws.skew names the line
    assert "<- model defect-clf:" in texts and "<- dataset demo-train" in texts  # lineage
    assert "rollback" in texts  # the alias history shows the rollback

    from jupyter_cvops import Workspace

    ws = Workspace.open(tmp_path / "_work" / "04-models" / "ws")
    history = ws.alias_history("defect-clf")
    assert history["action"].to_list()[-1] == "rollback"
    first = ws.models().sort("created_at")["version"][0]
    assert ws.model("defect-clf@production").version == first
    preds = ws.predictions(model="defect-clf")
    assert set(preds["source"]) == {"line-1", "line-2"}
    assert ws.checks(kind="skew")["alert"].to_list() == [True]


def _execute(name: str, folder: Path) -> str:
    """Run example notebook ``name`` with ``folder`` as its working directory; its text outputs."""
    nb = nbformat.read(NOTEBOOKS / name, as_version=4)
    NotebookClient(nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(folder)}}).execute()
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []) if o.output_type == "error"]
    assert not errors, [e.get("evalue") for e in errors]
    return "\n".join(
        o.get("text", "") or str(o.get("data", {}).get("text/plain", ""))
        for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])
    )


@pytest.fixture(scope="module")
def after_05(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """Notebook 05 run once: its folder (notebook 06 continues its workspace) and its text outputs."""
    folder = tmp_path_factory.mktemp("notebooks-05-06")
    return folder, _execute("05_retrain_recipe.ipynb", folder)


@pytest.mark.slow
def test_05_retrain_recipe(after_05: tuple[Path, str]) -> None:
    """Run a training notebook, export it as a recipe, re-run it with check=True, retrain on the latest data."""
    tmp_path, texts = after_05
    assert "reproduced within tolerance" in texts and "same version as the recipe's" in texts  # the --check
    assert "-> demo-train-v2" in texts and "proposed, not applied: move defect-clf@production" in texts

    from jupyter_cvops import Workspace

    ws = Workspace.open(tmp_path / "_work" / "05-recipe" / "ws")
    runs = ws.runs().sort("started_at")
    assert runs.height == 3 and set(runs["status"]) == {"finished"}
    assert ws.model("defect-clf@production").version == ws.models().sort("created_at")["version"][0]
    assert ws.recipes()["check_ok"].to_list() == [True] and ws.recipes()["name"].to_list() == ["defect-clf"]


@pytest.mark.slow
def test_06_shadow_and_audit(after_05: tuple[Path, str]) -> None:
    """Continue notebook 05: a candidate from the recipe, production + shadow traffic, the report, reviews, the
    gate refusing then accepting, a rollback, the checks, and the audit from 4/10 to 10/10."""
    folder, _ = after_05
    texts = _execute("06_shadow_and_audit.ipynb", folder)
    assert "empty workspace: 0/10" in texts and "before: 4/10, after: 10/10" in texts
    assert "refused: no reviewed images in the shadow report" in texts
    assert "Promotion promoted defect-clf@production" in texts and "model changed: True" in texts

    from jupyter_cvops import Workspace

    ws = Workspace.open(folder / "_work" / "05-recipe" / "ws")
    actions = ws.alias_history("defect-clf", alias="production")["action"].to_list()
    assert actions == ["set", "promote", "rollback", "promote"]
    assert ws.audit().score == 10
    kinds = set(ws.checks()["kind"])
    assert {"shadow", "promotion", "agreement", "input_drift", "skew", "recipe"} <= kinds
    shadow = ws.last_check("shadow")
    assert shadow is not None and shadow["result"]["reviewed"]["n"] >= 50
