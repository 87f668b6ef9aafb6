"""Example notebook 04 in a real JupyterLab + Chromium: it runs from start to end (small parameters),
the training run renders as a run card that records this notebook, the evaluation, the skew check
(naming line-2 and OpenCV's resize) and the lineage chain show, and the alias ends rolled back."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
from jupyter_process import JupyterProcess
from notebook_ui import (ARTIFACTS, SLOW_MS, open_notebook, run_all_cells, wait_until_all_executed,
                         write_with_parameters)

pytestmark = [pytest.mark.browser, pytest.mark.slow]

NOTEBOOK = Path(__file__).resolve().parents[2] / "example_notebooks" / "04_models_and_lineage.ipynb"
NAME = NOTEBOOK.name
PARAMETERS = ('WORKSPACE = "models-ws"\nN_TRAIN = 300\nN_PRODUCTION = 42\nIMAGE_SIZE = 160\nEPOCHS = 4\n'
              'SEED = 0')


def test_notebook_04_runs_in_jupyterlab(page: Any, lab: JupyterProcess, lab_root: Path) -> None:
    from jupyter_cvops import Workspace

    t0 = time.perf_counter()
    write_with_parameters(NOTEBOOK, lab_root / NAME, PARAMETERS)
    page_errors: list[str] = []
    page.on("pageerror", lambda error: page_errors.append(str(error)))
    open_notebook(page, lab, NAME)
    t_open = time.perf_counter()
    run_all_cells(page)
    wait_until_all_executed(page)
    t_run = time.perf_counter()
    errors = page.locator(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']")
    assert errors.count() == 0, errors.all_inner_texts()
    tracebacks = page.locator(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.error']")
    assert tracebacks.count() == 0, tracebacks.all_inner_texts()

    # the training run as a card (the MIME renderer, not the text fallback)
    card = page.locator(".cvops-run-card").first
    card.wait_for(state="visible", timeout=SLOW_MS)
    card.scroll_into_view_if_needed()
    assert card.get_attribute("data-status") == "finished"
    text = card.text_content() or ""  # (cells out of view are not laid out: no inner_text)
    for expected in ("train-defect-clf", "demo-train", "epochs=4", "val_accuracy", "defect-clf"):
        assert expected in text, (expected, text)

    outputs = "\n".join(page.locator(".jp-OutputArea-output").all_text_contents())
    assert "(test): accuracy" in outputs
    assert "line-2: serving resizes with OpenCV" in outputs and "antialias" in outputs
    assert "<- dataset demo-train" in outputs
    assert "rollback" in outputs
    ARTIFACTS.mkdir(exist_ok=True)
    card.screenshot(path=str(ARTIFACTS / "notebook-04-run-card.png"))

    ws = Workspace.open(lab_root / "models-ws")
    history = ws.alias_history("defect-clf")
    assert history["action"].to_list()[-1] == "rollback"
    runs = ws.runs().filter(ws.runs()["kind"] == "run")
    assert runs["name"].to_list() == ["train-defect-clf", "train-defect-clf"]
    first = ws.get_run(runs["run_id"][0])
    assert first.notebook and first.notebook.endswith(NAME)  # JupyterLab told the kernel its notebook
    assert not [e for e in page_errors if "cvops" in e], page_errors
    timings = {"open_notebook_s": t_open - t0, "run_all_s": t_run - t_open, "total_s": time.perf_counter() - t0}
    (ARTIFACTS / "notebook-04-timings.json").write_text(json.dumps(timings, indent=2) + "\n")
    print("notebook 04 timings:", timings)
