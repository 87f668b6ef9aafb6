"""The drift explorer in a real JupyterLab: example notebook 03 runs, the WebGL scatter renders
non-blank pixels, a box selection fills ``view.selected`` in the kernel, the timeline shows the alert
windows and a click on one filters the scatter; 100k points render (time recorded)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import nbformat
import pytest
from jupyter_process import JupyterProcess
from notebook_ui import (ARTIFACTS, SLOW_MS, open_notebook, render_log, run_all_cells, run_widget_notebook,
                         wait_until_all_executed)

pytestmark = [pytest.mark.browser, pytest.mark.slow]

NOTEBOOK = Path(__file__).resolve().parents[2] / "example_notebooks" / "03_drift.ipynb"
NAME = NOTEBOOK.name
PARAMETERS = 'WORKSPACE = "drift-ws"\nN_TRAIN = 120\nN_PRODUCTION = 210\nIMAGE_SIZE = 64\nSEED = 0'
#: WebGL without a GPU: Chromium's SwiftShader (must be asked for explicitly in recent Chromium).
WEBGL_ARGS = ["--use-angle=swiftshader", "--enable-unsafe-swiftshader"]

NON_BLANK_JS = """el => {
    const c = document.createElement('canvas');
    c.width = el.width; c.height = el.height;
    const ctx = c.getContext('2d');
    ctx.drawImage(el, 0, 0);
    const d = ctx.getImageData(0, 0, c.width, c.height).data;
    let n = 0;
    for (let i = 3; i < d.length; i += 4) if (d[i] > 0) n++;
    return n;
}"""


@pytest.fixture(scope="module")
def chromium_extra_args() -> list[str]:
    """The shared ``browser`` fixture, with SwiftShader WebGL."""
    return WEBGL_ARGS


def _dismiss_toasts(page: Any) -> None:
    """Hide JupyterLab's notification toasts (they may cover the widget's right side)."""
    page.add_style_tag(content="#react-toastify-container { display: none !important; }")


def test_scatter_selection_timeline(page: Any, lab: JupyterProcess, lab_root: Path) -> None:
    log, widget = run_widget_notebook(page, lab, NOTEBOOK, lab_root / NAME, PARAMETERS, ".cvops-drift")
    console, page_errors = log.console, log.page_errors
    page.wait_for_function("el => el.dataset.drawn === '330'", arg=widget.element_handle(), timeout=60_000)
    ARTIFACTS.mkdir(exist_ok=True)
    renderer = widget.get_attribute("data-renderer")
    canvas = widget.locator("canvas.cvops-drift-scatter")
    assert canvas.count() == 1
    lit = canvas.evaluate(NON_BLANK_JS)
    assert lit > 500, lit  # points drawn
    widget.screenshot(path=str(ARTIFACTS / "drift-view-initial.png"))

    # The timeline: one bar per day, alert bars as many as the kernel's table says.
    outputs = "\n".join(page.locator(".jp-OutputArea-output").all_inner_texts())
    m = re.search(r"(\d+) of (\d+) days alert", outputs)
    assert m, outputs[-2000:]
    n_alerts, n_windows = int(m.group(1)), int(m.group(2))
    assert n_alerts >= 1
    assert widget.locator(".cvops-drift-win").count() == n_windows
    alerts = widget.locator(".cvops-drift-win.cvops-drift-alert")
    assert alerts.count() == n_alerts
    assert widget.locator(".cvops-drift-win").first.get_attribute("data-drifted") == "false"
    assert widget.locator(".cvops-drift-threshold").count() == 1

    # Box selection over the right part of the plot (the drifted production images lie there).
    box = widget.locator("canvas.cvops-drift-overlay").bounding_box()
    assert box is not None
    page.mouse.move(box["x"] + box["width"] * 0.55, box["y"] + box["height"] * 0.03)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] * 0.8, box["y"] + box["height"] * 0.5, steps=5)
    page.mouse.move(box["x"] + box["width"] * 0.99, box["y"] + box["height"] * 0.97, steps=5)
    page.mouse.up()
    local = int(widget.get_attribute("data-selected-local") or 0)
    assert local > 0
    page.wait_for_function("([el, n]) => el.dataset.nSelected === String(n)",
                           arg=[widget.element_handle(), local], timeout=60_000)  # the kernel's answer
    thumbs = widget.locator(".cvops-drift-thumb img")
    thumbs.first.wait_for(state="visible", timeout=60_000)
    assert thumbs.count() == min(local, 24)
    widget.screenshot(path=str(ARTIFACTS / "drift-view-selected.png"))

    # A lasso (a triangle over the same region) replaces the selection.
    widget.locator("button.cvops-drift-mode", has_text="lasso").click()
    assert widget.get_attribute("data-mode") == "lasso"
    corners = [(0.55, 0.03), (0.99, 0.03), (0.99, 0.97)]
    page.mouse.move(box["x"] + box["width"] * corners[0][0], box["y"] + box["height"] * corners[0][1])
    page.mouse.down()
    for cx, cy in corners[1:] + corners[:1]:
        page.mouse.move(box["x"] + box["width"] * cx, box["y"] + box["height"] * cy, steps=6)
    page.mouse.up()
    lasso = int(widget.get_attribute("data-selected-local") or 0)
    assert 0 < lasso < local
    page.wait_for_function("([el, n]) => el.dataset.nSelected === String(n)",
                           arg=[widget.element_handle(), lasso], timeout=60_000)
    widget.screenshot(path=str(ARTIFACTS / "drift-view-lasso.png"))
    widget.locator("button.cvops-drift-mode", has_text="box").click()
    local = lasso

    # The kernel holds the selection: rerun the last cell and read what it prints.
    last = page.locator(".jp-NotebookPanel .jp-CodeCell").last
    last.locator(".jp-InputArea-editor").click()
    page.keyboard.press("Control+Enter")
    expect_text = f"{local} selected"
    page.wait_for_function(
        "([cell, t]) => cell.querySelector('.jp-OutputArea') && cell.querySelector('.jp-OutputArea').innerText.includes(t)",
        arg=[last.element_handle(), expect_text], timeout=60_000)

    # A click on the last (alert) window filters the scatter to it; again shows all.
    _dismiss_toasts(page)
    widget.locator(".cvops-drift-win").last.click()
    page.wait_for_function("el => el.dataset.activeWindow === String(el.querySelectorAll('.cvops-drift-win').length - 1)",
                           arg=widget.element_handle(), timeout=60_000)
    page.wait_for_function("el => Number(el.dataset.nVisible) < 330", arg=widget.element_handle(), timeout=60_000)
    n_visible = int(widget.get_attribute("data-n-visible") or 0)
    assert 120 < n_visible < 330  # the reference plus one day
    widget.screenshot(path=str(ARTIFACTS / "drift-view-window.png"))
    widget.locator(".cvops-drift-win").last.click()
    page.wait_for_function("el => el.dataset.nVisible === '330'", arg=widget.element_handle(), timeout=60_000)

    # Colored by window: a categorical palette up to 10 windows, a viridis ramp (legend: a gradient) beyond.
    widget.locator("select.cvops-drift-color").select_option("window")
    legend = widget.locator(".cvops-drift-legend")
    sequential = n_windows > 10
    page.wait_for_function("([el, v]) => el.dataset.windowColors === v",
                           arg=[legend.element_handle(), "sequential" if sequential else "categorical"], timeout=60_000)
    if sequential:
        assert legend.locator(".cvops-drift-legend-gradient").count() == 1
    else:
        assert legend.locator(".cvops-drift-legend-item").count() == n_windows + 1  # + reference
    assert canvas.evaluate(NON_BLANK_JS) > 500
    widget.screenshot(path=str(ARTIFACTS / "drift-view-by-window.png"))

    # Colored by witness: the kernel computes the values on request; red where the drift lives.
    widget.locator("select.cvops-drift-color").select_option("witness")
    status = widget.locator(".cvops-drift-status")
    page.wait_for_function("el => el.textContent.includes('colored by witness')", arg=status.element_handle(),
                           timeout=120_000)
    page.wait_for_function("el => Number(el.dataset.witnessMax) > 0", arg=widget.element_handle(),
                           timeout=60_000)  # the float32 buffer arrived and was read
    assert "drives the drift" in legend.inner_text() and canvas.evaluate(NON_BLANK_JS) > 500
    widget.screenshot(path=str(ARTIFACTS / "drift-view-by-witness.png"))

    renders = render_log(console, "cvops-drift")
    assert renders and renders[0]["n"] == 330, console
    (ARTIFACTS / "drift-view-render.json").write_text(json.dumps({"renderer": renderer, "renders": renders}, indent=2))
    assert not [e for e in page_errors if "drift" in e], page_errors


def test_hundred_thousand_points_render(page: Any, lab: JupyterProcess, lab_root: Path) -> None:
    code = (
        "import numpy as np\n"
        "from jupyter_cvops.widgets.drift_view import DriftWidget\n"
        "rng = np.random.default_rng(0)\n"
        "n = 100_000\n"
        "xy = np.r_[rng.normal(size=(n // 2, 2)), rng.normal(size=(n // 2, 2)) + [3, 1]]\n"
        "w = DriftWidget.from_arrays(xy, np.repeat([0, 1], n // 2), windows=[{'label': 'all', 'n': n // 2,"
        " 'statistic': 1.0, 'p_value': 0.001, 'q_value': 0.001, 'drifted': True, 'novel_frac': 0.5,"
        " 'top_features': []}])\n"
        "w"
    )
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(code)],
                                  metadata={"kernelspec": {"name": "python3", "display_name": "Python 3",
                                                           "language": "python"}})
    nbformat.write(nb, lab_root / "drift-100k.ipynb")
    console: list[str] = []
    page.on("console", lambda msg: console.append(msg.text))
    open_notebook(page, lab, "drift-100k.ipynb")
    run_all_cells(page)
    wait_until_all_executed(page)
    widget = page.locator(".cvops-drift").first
    page.wait_for_function("el => el.dataset.drawn === '100000'", arg=widget.element_handle(), timeout=SLOW_MS)
    assert widget.locator("canvas.cvops-drift-scatter").evaluate(NON_BLANK_JS) > 5000
    # a box selection over the right half of 100k points
    box = widget.locator("canvas.cvops-drift-overlay").bounding_box()
    assert box is not None
    page.mouse.move(box["x"] + box["width"] * 0.5, box["y"] + 2)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] - 2, box["y"] + box["height"] - 2, steps=4)
    page.mouse.up()
    local = int(widget.get_attribute("data-selected-local") or 0)
    assert local > 10_000  # (no facade here: the kernel round trip is the notebook test's)
    hit_ms = float(widget.get_attribute("data-hit-ms") or "nan")
    renders = render_log(console, "cvops-drift")
    assert renders and renders[0]["n"] == 100_000, console
    ARTIFACTS.mkdir(exist_ok=True)
    widget.screenshot(path=str(ARTIFACTS / "drift-view-100k.png"))
    (ARTIFACTS / "drift-view-100k.json").write_text(json.dumps(
        {"renderer": widget.get_attribute("data-renderer"), "renders": renders, "selected": local,
         "box_hit_test_ms": hit_ms}, indent=2))
    assert renders[0]["ms"] < 2_000, renders
    assert hit_ms < 500, hit_ms
