"""The CV Ops side panel and Export Notebook as Retrain Recipe, in JupyterLab driven through Chromium.

One JupyterLab serves a small workspace built here (30 real images, labels, a snapshot, a tiny torch
model registered twice and aliased twice, an input-drift alert): the panel lists it, inserts ready
cells, and a rollback from the panel lands in ``ws.alias_history``; then a notebook that made a run
is exported from its toolbar and the recipe is checked on disk; the panel's Check re-runs it as a server job
(progress per cell, then a green line), and a slow re-run is cancelled from the panel."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import nbformat
import polars as pl
import pytest
from jupyter_process import JupyterProcess
from notebook_ui import ARTIFACTS, SLOW_MS, open_notebook, run_all_cells, save, wait_until_all_executed
from playwright.sync_api import expect

pytestmark = [pytest.mark.browser, pytest.mark.slow]

KERNELSPEC = {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}
WS = "panel-ws"


@pytest.fixture(scope="module")
def workspace(lab_root: Path, shared_data: Path) -> dict[str, Any]:
    import torch

    from jupyter_cvops import Preprocess, Workspace
    from jupyter_cvops.checks import record_check

    images = lab_root.parent / f"{lab_root.name}-panel-images"
    shutil.copytree(shared_data / "images" / "neu-surface-defects", images)
    ws = Workspace.create(lab_root / WS)
    ws.add_images(images, progress=False)
    ids = ws.images()["image_id"].to_list()
    ws.add_annotations(pl.DataFrame([{"image_id": i, "annotator": "ana", "kind": "image",
                                      "class_name": ("dent", "scratch")[k % 2]} for k, i in enumerate(ids)]))
    ws.snapshot(name="baseline", message="first labelled set")
    pre = Preprocess(16, crop=16, mean=(0.5, 0.5, 0.5), std=(0.25, 0.25, 0.25))

    def tiny(seed: int) -> torch.nn.Module:
        torch.manual_seed(seed)
        return torch.nn.Sequential(torch.nn.Conv2d(3, 2, 3), torch.nn.AdaptiveAvgPool2d(1),
                                   torch.nn.Flatten()).eval()

    with ws.run("train-clf", params={"lr": 0.01}) as run:
        run.use("baseline")
        run.log_metrics({"val_accuracy": 0.8}, step=1)
        v1 = run.register_model("clf", tiny(0), preprocess=pre)
    v2 = ws.register_model("clf", tiny(1), preprocess=pre, classes=["dent", "scratch"])
    ws.set_alias("clf", "production", v1, reason="first rollout")
    ws.set_alias("clf", "production", v2, reason="better recall")
    record_check(ws.store, "input_drift", "baseline", parameters={"by": "1d"}, result={"n_drifted": 2},
                 alert=True, summary="<b>mean grey level</b> drifted on line-1")
    return {"path": lab_root / WS, "v1": v1.version, "v2": v2.version}


def _open_panel(page: Any) -> Any:
    panel = page.locator("#cvops-panel")
    if not panel.is_visible():  # the tab toggles: a click on the open panel's tab closes it
        page.locator('.jp-SideBar .lm-TabBar-tab[data-id="cvops-panel"]').click()
    expect(panel).to_be_visible()
    expect(panel.locator(f'.cvops-panel-workspace option[value="{WS}"]')).to_have_count(1, timeout=SLOW_MS)
    return panel


def _cell_sources(page: Any) -> list[str]:
    return page.locator(".jp-NotebookPanel .jp-Cell .cm-content").all_inner_texts()


def test_panel_lists_the_workspace_and_rolls_back(page: Any, lab: JupyterProcess, lab_root: Path,
                                                  workspace: dict[str, Any]) -> None:
    from jupyter_cvops import Workspace

    nb_path = lab_root / "panel.ipynb"
    nbformat.write(nbformat.v4.new_notebook(metadata={"kernelspec": KERNELSPEC},
                                            cells=[nbformat.v4.new_code_cell("1 + 1")]), nb_path)
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    open_notebook(page, lab, nb_path.name)
    panel = _open_panel(page)
    panel.locator(".cvops-panel-workspace").select_option(WS)

    versions = panel.locator('[data-section="versions"] .cvops-panel-item')
    expect(versions).to_have_count(1, timeout=SLOW_MS)
    expect(versions.first).to_contain_text("baseline")
    expect(versions.first).to_contain_text("30 images · 30 labels")
    runs = panel.locator('[data-section="runs"] .cvops-panel-run')
    expect(runs).to_have_count(1)
    expect(runs.first).to_contain_text("train-clf")
    expect(runs.first).to_contain_text("val_accuracy=0.8")
    assert runs.first.get_attribute("data-status") == "finished"
    model = panel.locator('[data-section="models"] .cvops-panel-model[data-model="clf"]')
    expect(model.locator(".cvops-panel-alias")).to_have_count(1)
    alias = model.locator('.cvops-panel-alias[data-alias="production"]')
    assert alias.get_attribute("data-version") == workspace["v2"]
    expect(model.locator(".cvops-panel-model-version")).to_have_count(2)
    expect(model.locator(".cvops-panel-history-row")).to_have_count(2)
    alert = panel.locator('[data-section="alerts"] .cvops-panel-check[data-kind="input_drift"]')
    assert alert.get_attribute("data-alert") == "true"
    expect(alert).to_contain_text("<b>mean grey level</b> drifted on line-1")  # shown as text, not HTML
    assert panel.locator('[data-section="alerts"] b').count() == 0
    expect(panel.locator('[data-section="taxonomy"] .cvops-panel-count')).to_have_text("v1")

    # The pick is remembered in the notebook (relative to its folder).
    save(page, nb_path.name)
    assert nbformat.read(nb_path, as_version=4).metadata["cvops"]["workspace"] == WS

    # "Verify" inserts a ready cell below the active cell; nothing runs by itself.
    versions.first.locator(".cvops-panel-verify").click()
    expect(page.locator(".jp-NotebookPanel .jp-Cell")).to_have_count(2)
    sources = _cell_sources(page)
    assert "ws = cv.Workspace.open(\"panel-ws\")" in sources[1] and 'ws.version("baseline").verify()' in sources[1]
    panel.locator('[data-section="alerts"] .cvops-panel-review').click()
    expect(page.locator(".jp-NotebookPanel .jp-Cell")).to_have_count(3)
    assert "cv.review(ws, queue=ws.review_queue())" in _cell_sources(page)[2]

    # Rollback: a confirmation with a required reason, then the alias history records it.
    n_before = Workspace.open(workspace["path"]).alias_history().height
    model.locator('.cvops-panel-rollback[data-alias="production"]').click()
    dialog = page.locator(".jp-Dialog")
    expect(dialog).to_contain_text("Roll back clf@production?")
    dialog.locator("button.jp-mod-reject").click()  # cancel: nothing written
    expect(dialog).to_have_count(0)
    assert Workspace.open(workspace["path"]).alias_history().height == n_before
    model.locator('.cvops-panel-rollback[data-alias="production"]').click()
    dialog.locator("textarea.cvops-reason").fill("recall dropped on line 2")
    with page.expect_response(lambda r: "/cvops/api/aliases/rollback" in r.url) as answer:
        dialog.locator("button.jp-mod-warn").click()
    assert answer.value.ok, answer.value.text()
    expect(panel.locator(".cvops-panel-notice")).to_contain_text("clf@production now points at")
    expect(panel.locator(".cvops-panel-progress")).to_be_hidden()
    ws = Workspace.open(workspace["path"])
    assert ws.model("clf@production").version == workspace["v1"]
    last = ws.alias_history("clf", alias="production").to_dicts()[-1]
    assert last["message"] == "recall dropped on line 2" and last["version"] == workspace["v1"]
    model = panel.locator('[data-section="models"] .cvops-panel-model[data-model="clf"]')
    expect(model.locator(".cvops-panel-history-row")).to_have_count(3)
    assert model.locator('.cvops-panel-alias[data-alias="production"]').get_attribute("data-version") == \
        workspace["v1"]

    # A second rollback has nothing further back: the server's one-line reason, nothing written.
    n = ws.alias_history().height
    model.locator('.cvops-panel-rollback[data-alias="production"]').click()
    dialog.locator("textarea.cvops-reason").fill("again")
    dialog.locator("button.jp-mod-warn").click()
    error = panel.locator(".cvops-panel-error")
    expect(error).to_be_visible()
    assert "\n" not in error.inner_text() and str(lab_root) not in error.inner_text()
    assert Workspace.open(workspace["path"]).alias_history().height == n
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "cvops-panel.png"), full_page=True)
    assert not errors, errors


def test_export_from_the_toolbar_writes_the_recipe(page: Any, lab: JupyterProcess, lab_root: Path,
                                                   workspace: dict[str, Any]) -> None:
    pytest.importorskip("jupyter_cvops.recipes")
    nb_path = lab_root / "train.ipynb"
    params = nbformat.v4.new_code_cell("lr = 0.01")
    params.metadata["tags"] = ["parameters"]
    nbformat.write(nbformat.v4.new_notebook(metadata={"kernelspec": KERNELSPEC}, cells=[
        nbformat.v4.new_code_cell("%load_ext jupyter_cvops"),
        nbformat.v4.new_code_cell(f"%cvops use {WS}"),
        params,
        nbformat.v4.new_code_cell("%%cvops run train-recipe -p lr=0.01\n"
                                  "cvops_run.use('baseline')\n"
                                  "cvops_run.log_metrics({'val_accuracy': 0.8}, step=1)\n"),
    ]), nb_path)
    open_notebook(page, lab, nb_path.name)
    run_all_cells(page)
    page.locator(".cvops-run-card").first.wait_for(state="visible", timeout=SLOW_MS)
    wait_until_all_executed(page)

    page.locator(".jp-NotebookPanel-toolbar .cvops-export-recipe-button").first.click()
    form = page.locator(".jp-Dialog")
    expect(form).to_contain_text("Export Notebook as Retrain Recipe")
    assert form.locator(".cvops-export-name").input_value() == "train"
    assert form.locator(".cvops-export-out").input_value() == "recipes/train"
    with page.expect_response(lambda r: "/cvops/api/recipes/export" in r.url) as answer:
        form.locator("button.jp-mod-accept").click()
    assert answer.value.ok, answer.value.text()
    result = page.locator(".jp-Dialog .cvops-recipe-result")
    expect(result).to_be_visible(timeout=SLOW_MS)
    expect(result.locator('[data-pinned="datasets"]')).to_contain_text("baseline")
    expect(result.locator('[data-pinned="environment"]')).to_contain_text("Python")
    expect(result.locator('[data-pinned="taxonomy"]')).to_contain_text("version 1")

    folder = lab_root / "recipes" / "train"
    assert (folder / "recipe.yaml").is_file()
    copied = json.loads((folder / "train.ipynb").read_text())
    assert all(not c.get("outputs") for c in copied["cells"] if c["cell_type"] == "code")  # outputs stripped
    body = answer.value.json()
    assert body["path"] == "recipes/train" and body["file"] == "recipes/train/recipe.yaml"

    result.locator(".cvops-recipe-open").click()
    expect(page.locator(".lm-DockPanel-tabBar .lm-TabBar-tab", has_text="recipe.yaml")).to_have_count(1)
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "cvops-recipe-export.png"), full_page=True)
    page.locator(".jp-Dialog button.jp-mod-accept").click()

    # The panel lists the recipe the export recorded in the workspace.
    panel = _open_panel(page)
    panel.locator(".cvops-panel-workspace").select_option(WS)
    expect(panel.locator('[data-section="recipes"] .cvops-panel-recipe')).to_contain_text("train")

    # Exporting again into the same folder is refused with the recipe API's one-line reason.
    page.locator(".lm-DockPanel-tabBar .lm-TabBar-tab", has_text="train.ipynb").click()
    page.locator(".jp-NotebookPanel-toolbar .cvops-export-recipe-button").first.click()
    form.locator("button.jp-mod-accept").click()
    refused = page.locator(".jp-Dialog", has_text="Recipe export refused")
    expect(refused).to_contain_text("already holds a recipe")
    assert str(lab_root) not in refused.inner_text()
    refused.locator(".jp-Dialog-footer button").last.click()
    expect(refused).to_have_count(0)


def _recipe_item(page: Any, lab: JupyterProcess, name: str) -> Any:
    """The panel's item of recipe ``name`` (the panel opened on the workspace, sections reloaded)."""
    open_notebook(page, lab, "panel.ipynb")
    panel = _open_panel(page)
    panel.locator(".cvops-panel-workspace").select_option(WS)
    panel.locator(".cvops-panel-refresh").click()
    item = panel.locator('[data-section="recipes"] .cvops-panel-recipe').filter(
        has=page.locator(".cvops-panel-item-title", has_text=name))
    expect(item).to_have_count(1, timeout=SLOW_MS)
    return item


def test_check_from_the_panel_turns_green(page: Any, lab: JupyterProcess, lab_root: Path,
                                          workspace: dict[str, Any]) -> None:
    """``cvops retrain --check`` from the panel: a server job with progress per cell, then a green line."""
    from jupyter_cvops import Workspace

    assert (lab_root / "recipes" / "train" / "recipe.yaml").is_file(), "exported by the test above"
    item = _recipe_item(page, lab, "train")
    with page.expect_response(lambda r: "/cvops/api/recipes/retrain" in r.url) as answer:
        item.locator(".cvops-panel-recipe-check").click()
    assert answer.value.status == 202, answer.value.text()
    job = answer.value.json()
    expect(item.locator(".cvops-job-progress .cvops-job-cancel")).to_be_visible()  # a kernel takes seconds
    expect(item.locator(".cvops-job-count")).to_contain_text(" cells", timeout=SLOW_MS)  # once the kernel runs
    # The panel is redrawn after the job (new run and check): find the item again by its recipe id.
    item = page.locator(f'.cvops-panel-recipe[data-recipe="{job["recipe_id"]}"]')
    result = item.locator(".cvops-job-result")
    expect(result).to_contain_text("check passed", timeout=180_000)
    expect(result).to_have_class("cvops-job-result cvops-job-ok")
    expect(item.locator(".cvops-job-notebook")).to_contain_text("recipes/train/executed/")
    ws = Workspace.open(workspace["path"], readonly=True)
    check = ws.last_check("recipe", "train")
    assert check is not None and check["alert"] is False
    expect(item).to_contain_text("last check passed")
    ARTIFACTS.mkdir(exist_ok=True)
    item.scroll_into_view_if_needed()
    page.screenshot(path=str(ARTIFACTS / "cvops-panel-recipe-check.png"), full_page=True)


SLOW_CELLS = [
    ("lr = 0.01", ["parameters"]),
    (f"import os, time\nimport jupyter_cvops as cv\nws = cv.Workspace.open({WS!r})", []),
    ("with ws.run('slow-train', params={'lr': lr}) as run:\n"
     "    run.use('baseline')\n"
     "    time.sleep(300 if os.path.exists('SLOW') else 0)  # only the re-run sleeps\n"
     "    run.log_metrics({'val_accuracy': 0.8}, step=1)\n"
     "run", []),
]


def test_cancel_a_run_from_the_panel(page: Any, lab: JupyterProcess, lab_root: Path,
                                     workspace: dict[str, Any]) -> None:
    """A re-run whose cell sleeps: Cancel interrupts it; the job ends cancelled, nothing is registered."""
    import os
    import subprocess
    import time

    from nbclient import NotebookClient

    from jupyter_cvops import Workspace
    from jupyter_cvops.recipes import export_recipe

    cells = []
    for source, tags in SLOW_CELLS:
        cell = nbformat.v4.new_code_cell(source)
        cell.metadata["tags"] = tags
        cells.append(cell)
    nb_path = lab_root / "slow.ipynb"
    nb = nbformat.v4.new_notebook(metadata={"kernelspec": KERNELSPEC}, cells=cells)
    NotebookClient(nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(lab_root)}}).execute(
        env={**os.environ, "JPY_SESSION_NAME": str(nb_path)}, stderr=subprocess.DEVNULL)
    nbformat.write(nb, nb_path)
    export_recipe(nb_path, lab_root / "recipes" / "slow", workspace=Workspace.open(workspace["path"]))
    (lab_root / "SLOW").write_text("")
    try:
        ws = Workspace.open(workspace["path"], readonly=True)
        before = (ws.store.count("model_versions"), ws.checks().height)
        item = _recipe_item(page, lab, "slow")
        item.locator(".cvops-panel-recipe-run").click()
        expect(item.locator(".cvops-job-progress")).to_be_visible()
        deadline = time.monotonic() + 120
        while not Workspace.open(workspace["path"], readonly=True).runs().filter(
                (pl.col("name") == "slow-train") & (pl.col("status") == "running")).height:
            assert time.monotonic() < deadline, "the re-run never reached its sleeping cell"
            time.sleep(0.3)
        expect(item.locator(".cvops-job-count")).to_contain_text("/ 3 cells")
        item.locator(".cvops-job-cancel").click()
        result = item.locator(".cvops-job-result")
        expect(result).to_contain_text("Cancelled", timeout=30_000)
        expect(result).to_contain_text("cell 3")
        assert str(lab_root) not in result.inner_text()
    finally:
        (lab_root / "SLOW").unlink()
    ws = Workspace.open(workspace["path"], readonly=True)
    assert (ws.store.count("model_versions"), ws.checks().height) == before  # nothing registered, no check
    last = ws.runs().filter(pl.col("name") == "slow-train").sort("started_at").row(-1, named=True)
    assert last["status"] == "failed" and "KeyboardInterrupt" in (last["error"] or "")


def test_audit_section_shows_the_ten_answers(page: Any, lab: JupyterProcess, lab_root: Path,
                                             workspace: dict[str, Any]) -> None:
    """The Audit section on the panel's workspace: the score and ten rows whose answers are
    ``ws.audit().to_dict()``'s (computed here, as of the time the server answered), evidence as text,
    Insert cell, Refresh, and a refused request's one-line reason from the real server."""
    from jupyter_cvops import Workspace

    nb_path = lab_root / "audit.ipynb"
    nbformat.write(nbformat.v4.new_notebook(metadata={"kernelspec": KERNELSPEC},
                                            cells=[nbformat.v4.new_code_cell("1 + 1")]), nb_path)
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    open_notebook(page, lab, nb_path.name)
    panel = _open_panel(page)
    with page.expect_response(lambda r: "/cvops/api/audit?" in r.url, timeout=SLOW_MS) as answer:
        panel.locator(".cvops-panel-workspace").select_option(WS)
    assert answer.value.ok, answer.value.text()
    body = answer.value.json()
    expected = Workspace.open(workspace["path"], readonly=True).audit(as_of=body["as_of"]).to_dict()
    assert [a["answer"] for a in body["answers"]] == [a["answer"] for a in expected["answers"]]

    section = panel.locator('[data-section="audit"]')
    expect(section).to_have_attribute("data-state", "ready", timeout=SLOW_MS)
    expect(section.locator(".cvops-panel-count")).to_have_text(f"{expected['score']}/10")
    expect(section.locator(".cvops-panel-audit-score")).to_have_text(f"{expected['score']}/10")
    chips = section.locator(".cvops-audit-card-area")
    expect(chips).to_have_count(len(expected["areas"]))
    for chip, area in zip(chips.all(), expected["areas"]):
        expect(chip).to_have_text(f"{area['area']} {area['points']:g}/{area['of']}")
    rows = section.locator(".cvops-panel-audit-row")
    expect(rows).to_have_count(10)
    for row, a in zip(rows.all(), expected["answers"]):
        assert row.get_attribute("data-number") == str(a["number"])
        assert row.get_attribute("data-answer") == a["answer"]
        badge = row.locator(".cvops-audit-card-badge")
        expect(badge).to_have_text(a["answer"])
        expect(badge).to_have_class(f"cvops-audit-card-badge cvops-audit-card-{a['answer']}")
        assert row.locator(".cvops-panel-audit-question").get_attribute("title") == a["question"]
        next_step = row.locator(".cvops-panel-audit-next")
        if a["answer"] == "yes":
            expect(next_step).to_have_count(0)
        else:
            expect(next_step).to_have_text(f"Next: {a['next_step']}")
        expect(row.locator(".cvops-audit-card-evidence")).to_be_hidden()  # folded until the row is clicked

    # A row expands to its evidence: key and value as text (the drift check's summary holds "<b>").
    drift = next(a for a in expected["answers"] if a["number"] == 6)
    row = rows.nth(5)
    row.locator(".cvops-panel-audit-summary").click()
    evidence = row.locator(".cvops-audit-card-evidence")
    expect(evidence).to_be_visible()
    keys = [k for k in drift["evidence"] if k != "show"]
    expect(evidence.locator("dt")).to_have_text(keys)
    if "<b>mean grey level</b>" in json.dumps(drift["evidence"]):
        expect(evidence).to_contain_text("<b>mean grey level</b>")
    assert section.locator("b").count() == 0  # workspace text never becomes HTML

    # Insert cell: ws.audit() below the active cell, after the prelude that opens the workspace.
    section.locator(".cvops-panel-audit-cell").click()
    expect(page.locator(".jp-NotebookPanel .jp-Cell")).to_have_count(2)
    source = _cell_sources(page)[1]
    assert f'ws = cv.Workspace.open("{WS}")' in source and source.rstrip().endswith("ws.audit()")

    # Refresh asks again; a refused request shows the real server's one-line reason in the section.
    with page.expect_response(lambda r: "/cvops/api/audit?" in r.url) as again:
        section.locator(".cvops-panel-audit-refresh").click()
    assert again.value.ok
    expect(section).to_have_attribute("data-state", "ready")
    page.route("**/cvops/api/audit?*", lambda route: route.continue_(url=route.request.url + "&as_of=yesterday"))
    section.locator(".cvops-panel-audit-refresh").click()
    refused = section.locator(".cvops-panel-audit-error")
    expect(refused).to_have_text("as_of must be an ISO date or date-time, got 'yesterday'")
    expect(section.locator(".cvops-panel-count")).to_have_text("!")
    page.unroute("**/cvops/api/audit?*")
    section.locator(".cvops-panel-audit-refresh").click()
    expect(section.locator(".cvops-panel-audit-row")).to_have_count(10)
    ARTIFACTS.mkdir(exist_ok=True)
    section.scroll_into_view_if_needed()
    page.screenshot(path=str(ARTIFACTS / "cvops-panel-audit.png"), full_page=True)
    assert not errors, errors
