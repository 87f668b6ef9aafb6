"""The agreement view in a real JupyterLab + Chromium: heatmaps render, clicks on a kappa cell, a
confusion cell and a drift alert drill down (gallery in the page, ``view.selected`` in the
kernel), the gallery opens the review widget. Screenshots and render timings go to test-artifacts/."""

from __future__ import annotations

import ast
import json
import re
import time
from pathlib import Path
from typing import Any

import nbformat
import polars as pl
import pytest
from jupyter_process import JupyterProcess
from notebook_ui import ARTIFACTS, SLOW_MS, open_notebook, printed_json, run_all_cells, wait_until_all_executed
from playwright.sync_api import expect

pytestmark = [pytest.mark.browser, pytest.mark.slow]

KERNELSPEC = {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}
VIEW = ".cvops-agreement-view"

#: Records, in page time (ms), when the view's parts first appear (installed before Run All).
OBSERVER = """() => {
  window.__cvops = {marks: {}};
  const marks = window.__cvops.marks;
  const probes = {
    view: '.cvops-agreement-view',
    plot: '.cvops-agreement-view .js-plotly-plot',
    heatmap: '.cvops-agreement-view .js-plotly-plot .heatmaplayer image',
    gallery: '.cvops-agreement-view .cvops-gallery',
  };
  new MutationObserver(() => {
    const t = performance.now();
    for (const [name, sel] of Object.entries(probes)) {
      if (!(name in marks) && document.querySelector(sel)) marks[name] = t;
    }
  }).observe(document.body, {childList: true, subtree: true, attributes: true});
  window.__cvops.start = () => { window.__cvops.marks.run = performance.now(); };
}"""

#: Page coordinates of a point of the view's figure: category cell (row, col) of a heatmap, or a
#: trace's point, by plotly's own axis conversions; the notebook scrolls the point into view first.
POSITION = """([xaxis, yaxis, x, y]) => {
  const gd = document.querySelector('.cvops-agreement-view .js-plotly-plot');
  const at = () => {
    const fl = gd._fullLayout, xa = fl[xaxis], ya = fl[yaxis];
    const r = gd.getBoundingClientRect();
    const px = typeof x === 'number' ? xa.c2p(x) : xa.d2p(x);
    const py = ya.type === 'category' ? ya.c2p(y) : ya.d2p(y);
    return {x: r.left + xa._offset + px, y: r.top + ya._offset + py};
  };
  let pt = at();
  if (pt.y < 150 || pt.y > window.innerHeight - 100) {
    let s = gd.parentElement;
    while (s && !(s.scrollHeight > s.clientHeight && /(auto|scroll)/.test(getComputedStyle(s).overflowY))) {
      s = s.parentElement;
    }
    (s || document.scrollingElement).scrollBy(0, pt.y - window.innerHeight / 2);
    pt = at();
  }
  return pt;
}"""


@pytest.fixture(scope="module")
def agreement_ws(lab_root: Path) -> Path:
    """The demo workspace (chloe drifts on "dent" from week 5) inside the served folder."""
    from jupyter_cvops.demo.build import build_demo

    path = lab_root / "agreement-ws"
    build_demo(path, seed=0, n_production=0, image_size=64, progress=False)
    return path


def _expected(ws_path: Path) -> dict[str, list[str]]:
    from jupyter_cvops import Workspace
    from jupyter_cvops.reviews._drilldown import alert_cell, pair_cell, pooled_cell, rating_table

    ws = Workspace.open(ws_path)
    table = rating_table(ws.annotations().filter(pl.col("class_name").is_not_null()))
    alert = ws.agreement(bootstrap=0).alerts.row(0, named=True)
    return {
        "pair": pair_cell(table, "ana", "ben")["image_id"].to_list(),
        "pooled": pooled_cell(table, "dent", "scratch")["image_id"].to_list(),
        "alert": alert_cell(table, alert["annotator"], alert["class_name"], alert["window_start"],
                            compared_with=alert["compared_with"])["image_id"].to_list(),
    }


def _click(page: Any, xaxis: str, yaxis: str, x: Any, y: Any) -> None:
    pos = page.evaluate(POSITION, [xaxis, yaxis, x, y])
    page.mouse.move(pos["x"], pos["y"])
    page.wait_for_timeout(150)  # plotly fires click on the hovered point
    page.mouse.click(pos["x"], pos["y"])


def _kernel_selection(page: Any, marker: str) -> dict[str, Any]:
    """Re-run the probe cell (the last one) and parse what it printed about ``view``."""
    cell = page.locator(".jp-NotebookPanel .jp-CodeCell").last
    cell.locator(".jp-InputArea-editor").click()
    page.keyboard.press("Control+Enter")
    out = cell.locator(".jp-OutputArea-output", has_text=marker)
    out.wait_for(state="visible", timeout=SLOW_MS)
    return printed_json(cell, marker)


def _shot(page: Any, name: str, selector: str) -> None:
    """Screenshot of the window with the top of ``selector`` scrolled to the top of the notebook."""
    # a JupyterLab toast would cover the view; hide the container rather than click a moving button
    page.add_style_tag(content="#react-toastify-container { display: none !important; }")
    page.locator(selector).first.evaluate("(el) => el.scrollIntoView({block: 'start'})")
    page.wait_for_timeout(300)
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / name))


def test_click_cells_drill_down_and_open_review(page: Any, lab: JupyterProcess, lab_root: Path,
                                                agreement_ws: Path) -> None:
    expected = _expected(agreement_ws)
    probe = ("import json\n"
             "print('MARK-{n}', json.dumps({{'n': len(view.selected), 'ids': view.selected, "
             "'target': view.target and view.target.get('kind'), 'title': view.gallery.title}}))")
    nb_path = lab_root / "agreement.ipynb"
    nb = nbformat.v4.new_notebook(metadata={"kernelspec": KERNELSPEC}, cells=[
        nbformat.v4.new_code_cell(f"import time\nimport jupyter_cvops as cv\n"
                                  f"ws = cv.Workspace.open({agreement_ws.name!r})"),
        nbformat.v4.new_code_cell("t0 = time.perf_counter()\nview = cv.agreement_view(ws)\n"
                                  "print(f'BUILT {time.perf_counter() - t0:.3f}', view.timings)\nview"),
        nbformat.v4.new_code_cell(probe.format(n=0)),
    ])
    nbformat.write(nb, nb_path)

    open_notebook(page, lab, nb_path.name)
    page.evaluate(OBSERVER)
    page.evaluate("() => window.__cvops.start()")
    run_all_cells(page)
    page.locator(f"{VIEW} .js-plotly-plot .heatmaplayer image").first.wait_for(state="attached", timeout=SLOW_MS)
    wait_until_all_executed(page)
    marks = page.evaluate("() => window.__cvops.marks")
    built = page.locator(".jp-OutputArea-output", has_text="BUILT").first.inner_text()
    found = re.search(r"BUILT ([\d.]+) (\{.*\})", built)
    assert found, built
    kernel_s, kernel_parts = float(found.group(1)), ast.literal_eval(found.group(2))
    expect(page.locator(f"{VIEW} .cvops-gallery-empty")).to_contain_text("Click a heatmap cell")
    _shot(page, "agreement-view-rendered.png", VIEW)

    # 1. kappa cell (row ana, column ben): the images they disagree on
    t = time.perf_counter()
    _click(page, "xaxis", "yaxis", 1, 0)
    title = page.locator(f"{VIEW} .cvops-gallery-title")
    expect(title).to_have_text("ana and ben disagree", timeout=SLOW_MS)
    expect(page.locator(f"{VIEW} .cvops-gallery-tile")).to_have_count(48)
    click_to_gallery_s = time.perf_counter() - t
    assert page.locator(f"{VIEW} .cvops-gallery").get_attribute("data-total") == str(len(expected["pair"]))
    first_img = page.locator(f"{VIEW} .cvops-gallery-tile img").first
    first_img.wait_for(state="visible")
    assert page.evaluate("(img) => img.complete && img.naturalWidth > 0", first_img.element_handle())
    assert page.locator(f"{VIEW} .cvops-gallery-tile").first.get_attribute("data-image-id") == expected["pair"][0]
    _shot(page, "agreement-view-kappa-click.png", f"{VIEW} .js-plotly-plot")
    _shot(page, "agreement-view-kappa-gallery.png", f"{VIEW} .cvops-gallery")
    got = _kernel_selection(page, "MARK-0")
    assert got["target"] == "pair" and got["ids"] == expected["pair"] and got["title"] == "ana and ben disagree"

    # 2. back to the pooled confusion with the picker, then the cell dent x scratch
    page.locator(f"{VIEW} .widget-dropdown select").select_option(label="all pairs (pooled)")
    page.wait_for_timeout(500)
    _click(page, "xaxis2", "yaxis2", 1, 2)  # column scratch, row dent (taxonomy order ok, scratch, dent, stain)
    expect(title).to_have_text("One annotator said “dent”, another “scratch”", timeout=SLOW_MS)
    got = _kernel_selection(page, "MARK-0")
    assert got["target"] == "pooled" and got["ids"] == expected["pooled"]

    # 3. the drift alert marker: chloe stopped saying "dent" where others did
    alert = page.evaluate("""() => {
        const gd = document.querySelector('.cvops-agreement-view .js-plotly-plot');
        const tr = gd.data.find(t => t.name === 'label-drift alert');
        return {x: tr.x[0], y: tr.y[0], xaxis: 'xaxis' + tr.xaxis.slice(1), yaxis: 'yaxis' + tr.yaxis.slice(1)};
    }""")
    _click(page, alert["xaxis"], alert["yaxis"], alert["x"], alert["y"])
    expect(title).to_contain_text("Label drift", timeout=SLOW_MS)
    expect(title).to_contain_text("chloe")
    got = _kernel_selection(page, "MARK-0")
    assert got["target"] == "alert" and got["ids"] == expected["alert"]
    _shot(page, "agreement-view-alert-trend.png", f"{VIEW} .js-plotly-plot .cartesianlayer .subplot.x3y3")
    _shot(page, "agreement-view-alert-gallery.png", f"{VIEW} .cvops-gallery")

    # 4. open the drill-down in the review widget
    page.locator(f"{VIEW} .cvops-gallery-review").click()
    review = page.locator(f"{VIEW} .cvops-review")
    review.wait_for(state="visible", timeout=SLOW_MS)
    expect(review).to_contain_text(f"1 / {len(expected['alert'])}")
    _shot(page, "agreement-view-review.png", f"{VIEW} .cvops-review")

    timings = {
        "kernel_build_s": kernel_s,
        "kernel_parts_s": kernel_parts,
        "run_all_to_view_s": (marks["view"] - marks["run"]) / 1000,
        "run_all_to_heatmap_s": (marks["heatmap"] - marks["run"]) / 1000,
        "view_to_heatmap_s": (marks["heatmap"] - marks["view"]) / 1000,
        "click_to_gallery_s": click_to_gallery_s,
    }
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "agreement-view-timings.json").write_text(json.dumps(timings, indent=2) + "\n")
    print("agreement view timings:", timings)
    assert timings["click_to_gallery_s"] < 10
