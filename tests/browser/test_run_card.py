"""Run cards render in JupyterLab, and a run made in a notebook records that notebook and its metadata.cvops.

(Proposed for tests/browser/ by the runs engineer; runs with the fixtures of tests/browser/conftest.py.)"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import nbformat
import pytest
from playwright.sync_api import expect
from jupyter_process import JupyterProcess
from notebook_ui import ARTIFACTS, SLOW_MS, open_notebook, run_all_cells, save, wait_until_all_executed

pytestmark = [pytest.mark.browser, pytest.mark.slow]

KERNELSPEC = {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}


@pytest.fixture(scope="module")
def workspace(lab_root: Path, shared_data: Path) -> Path:
    from jupyter_cvops import Workspace

    images = lab_root.parent / f"{lab_root.name}-run-images"
    shutil.copytree(shared_data / "images" / "neu-surface-defects", images)
    ws = Workspace.create(lab_root / "run-ws")
    ws.add_images(images, progress=False)
    return lab_root / "run-ws"


def test_run_cards_and_the_notebook_they_record(page: Any, lab: JupyterProcess, lab_root: Path,
                                                 workspace: Path) -> None:
    from jupyter_cvops import Workspace

    nb_path = lab_root / "train.ipynb"
    nb = nbformat.v4.new_notebook(metadata={"kernelspec": KERNELSPEC}, cells=[
        nbformat.v4.new_code_cell("%load_ext jupyter_cvops"),
        nbformat.v4.new_code_cell("%cvops use run-ws"),
        nbformat.v4.new_code_cell("%cvops snapshot --name baseline"),
        nbformat.v4.new_code_cell("%%cvops run train-defect-clf -p lr=0.001 epochs=5\n"
                                  "cvops_run.use('baseline')\n"
                                  "for step in range(3):\n"
                                  "    cvops_run.log_metrics({'val_accuracy': 0.9 + step / 100})\n"),
        nbformat.v4.new_code_cell("%%cvops run diverges\nraise ValueError('loss is nan')"),
    ])
    nbformat.write(nb, nb_path)
    open_notebook(page, lab, nb_path.name)
    run_all_cells(page)
    cards = page.locator(".cvops-run-card")
    cards.first.wait_for(state="visible", timeout=SLOW_MS)
    wait_until_all_executed(page)
    ws = Workspace.open(workspace)
    runs = ws.runs().filter(ws.runs()["kind"] == "run")
    assert runs["name"].to_list() == ["train-defect-clf", "diverges"]
    assert runs["status"].to_list() == ["finished", "failed"]
    expect(cards).to_have_count(2)
    failed = cards.nth(1)
    assert failed.get_attribute("data-status") == "failed"
    assert "ValueError: loss is nan" in failed.inner_text()
    first = cards.nth(0)
    assert first.get_attribute("data-run-id") == runs["run_id"][0]
    assert first.get_attribute("data-status") == "finished"
    text = first.inner_text()
    for expected in ("train-defect-clf", "finished in", "baseline", "lr=0.001", "epochs=5",
                     "val_accuracy=0.92 (step 2)", "Python", "packages"):
        assert expected in text, (expected, text)
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "run-card.png"), full_page=True)
    run = ws.get_run(runs["run_id"][0])
    assert run.notebook and run.notebook.endswith("train.ipynb")  # JupyterLab told the kernel its notebook
    assert run.info["notebook"]["resolved"] == str(nb_path.resolve())
    save(page, nb_path.name)


def test_audit_card_renders_ten_rows(page: Any, lab: JupyterProcess, lab_root: Path, workspace: Path) -> None:
    """``ws.audit()`` as a cell's value renders the audit card (application/vnd.cvops.audit+json)."""
    from jupyter_cvops import Workspace

    nb_path = lab_root / "audit.ipynb"
    nb = nbformat.v4.new_notebook(metadata={"kernelspec": KERNELSPEC}, cells=[
        nbformat.v4.new_code_cell("import jupyter_cvops as cv\nws = cv.Workspace.open('run-ws')\n"
                                  "ws.audit(as_of='2026-12-01')"),
    ])
    nbformat.write(nb, nb_path)
    open_notebook(page, lab, nb_path.name)
    run_all_cells(page)
    card = page.locator(".cvops-audit-card")
    card.wait_for(state="visible", timeout=SLOW_MS)
    wait_until_all_executed(page)
    expected = Workspace.open(workspace).audit(as_of="2026-12-01")
    rows = card.locator(".cvops-audit-card-row")
    expect(rows).to_have_count(10)
    assert card.get_attribute("data-score") == str(expected.score)
    assert [rows.nth(i).get_attribute("data-answer") for i in range(10)] == [a.answer for a in expected.answers]
    first = rows.nth(0)
    assert expected.answers[0].question in first.inner_text()
    assert (expected.answers[0].next_step or "")[:40] in first.inner_text()
    first.locator("summary").click()  # the evidence unfolds
    expect(first.locator(".cvops-audit-card-evidence")).to_be_visible()
    assert "audit" in card.inner_text().lower() and "data 0/2" in card.inner_text()
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "audit-card.png"), full_page=True)
