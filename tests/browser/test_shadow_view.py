"""The shadow view in a real JupyterLab + Chromium: a notebook logs production predictions, pairs them with a
candidate's answers into a shadow report, renders ``cv.shadow_view(ws, report)``; the flip matrix and the
disagreement gallery show (thumbnails decoded, markup in file names stays text), a click on a heatmap cell
filters the gallery to that cell, and "Open in review" opens the review widget on that selection (the kernel
agrees). Screenshots and timings go to test-artifacts/."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import nbformat
import pytest
from jupyter_process import JupyterProcess
from notebook_ui import ARTIFACTS, SLOW_MS, open_notebook, printed_json, run_all_cells, wait_until_all_executed
from playwright.sync_api import expect

pytestmark = [pytest.mark.browser, pytest.mark.slow]

KERNELSPEC = {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}
VIEW = ".cvops-shadow-view"
#: A file name with markup: must show as text, never run.
HOSTILE = '<img class="pwned" src=x onerror="window.__pwned=1">'

BUILD = f'''\
import json, time
import numpy as np, polars as pl
from pathlib import Path
from PIL import Image
import jupyter_cvops as cv
from jupyter_cvops.shadow.report import build_report
t0 = time.perf_counter()
answers = [("ok", "ok", .9, .9), ("ok", "dent", .8, .7), ("ok", "dent", .6, .9), ("dent", "dent", .9, .95),
           ("dent", "scratch", .95, .9), ("scratch", "scratch", .7, .8), ("ok", "dent", .55, .52),
           ("ok", "ok", .99, .97)]
rng = np.random.default_rng(3)
root = Path("shadow-data")
root.mkdir()
paths = []
for i in range(len(answers)):
    p = root / (f"p{{i}}" + ({HOSTILE!r} if i == 2 else "") + ".png")
    Image.fromarray(rng.integers(0, 255, (48, 64, 3), dtype=np.uint8)).save(p)
    paths.append(str(p))
ws = cv.Workspace.create("shadow-ws")
for name in ("ok", "dent", "scratch"):
    ws.taxonomy.add(name)
ws.taxonomy.commit("classes")
logged = ws.log_predictions(pl.DataFrame({{"path": paths, "predicted_class": [a[0] for a in answers],
                                          "score": [a[2] for a in answers]}}), model="clf", version="a" * 32)
pairs = logged.select("prediction_id", "image_id", "path", pl.col("predicted_class").alias("production_class"),
                      pl.col("score").alias("production_score")).with_columns(
    pl.Series("candidate_class", [a[1] for a in answers]), pl.Series("candidate_score", [a[3] for a in answers]),
    pl.lit(None, pl.String).alias("reviewed_class"))
rep = build_report(pairs, name="clf", production_version="a" * 32, candidate_version="b" * 32,
                   classes=["ok", "dent", "scratch"], bootstrap=200)
cell = rep.disagreements.filter((pl.col("production_class") == "ok") & (pl.col("candidate_class") == "dent"))
print("BUILT", round(time.perf_counter() - t0, 2), json.dumps({{"all": rep.disagreements["image_id"].to_list(),
      "cell": cell["image_id"].to_list()}}))
'''

VIEW_CELL = ("t0 = time.perf_counter()\nview = cv.shadow_view(ws, rep)\n"
             "print('VIEW', round(time.perf_counter() - t0, 3))\nview")
PROBE_CELL = ("print('PROBE', json.dumps({'cell': list(view.widget.cell), 'selected': view.selected,\n"
              "    'review': view.review_session.queue['image_id'].to_list() if view.review_session else None}))")


def _probe(page: Any) -> dict[str, Any]:
    """Re-run the probe cell (the last one) and parse what it printed about ``view``."""
    cell = page.locator(".jp-NotebookPanel .jp-CodeCell").last
    cell.locator(".jp-InputArea-editor").click()
    page.keyboard.press("Control+Enter")
    out = cell.locator(".jp-OutputArea-output", has_text="PROBE")
    out.wait_for(state="visible", timeout=SLOW_MS)
    page.wait_for_function("el => !el.querySelector('.jp-InputArea-prompt').textContent.includes('*')",
                           arg=cell.element_handle(), timeout=SLOW_MS)
    return printed_json(cell, "PROBE")


def test_heatmap_cell_filters_the_gallery_and_opens_review(page: Any, lab: JupyterProcess, lab_root: Path) -> None:
    t_start = time.perf_counter()
    nb_path = lab_root / "shadow.ipynb"
    nbformat.write(nbformat.v4.new_notebook(metadata={"kernelspec": KERNELSPEC}, cells=[
        nbformat.v4.new_code_cell(BUILD), nbformat.v4.new_code_cell(VIEW_CELL),
        nbformat.v4.new_code_cell(PROBE_CELL)]), nb_path)
    page_errors: list[str] = []
    page.on("pageerror", lambda error: page_errors.append(str(error)))
    open_notebook(page, lab, nb_path.name)
    t_open = time.perf_counter()
    run_all_cells(page)
    wait_until_all_executed(page)
    t_run = time.perf_counter()
    errors = page.locator(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']")
    assert errors.count() == 0, errors.all_inner_texts()
    facts = printed_json(page, "BUILT")
    page.add_style_tag(content="#react-toastify-container { display: none !important; }")

    # the flip matrix: 3 x 3 counts, the diagonal muted; the gallery: every disagreement, worst first
    root = page.locator(f"{VIEW} .cvops-shadow").first
    root.wait_for(state="visible", timeout=SLOW_MS)
    root.scroll_into_view_if_needed()
    cells = root.locator(".cvops-shadow-cell")
    expect(cells).to_have_count(9)
    counts = [[root.locator(f".cvops-shadow-cell[data-production='{p}'][data-candidate='{c}']").inner_text()
               for c in ("ok", "dent", "scratch")] for p in ("ok", "dent", "scratch")]
    assert counts == [["2", "3", "0"], ["0", "1", "1"], ["0", "0", "1"]]
    assert root.locator(".cvops-shadow-diag").count() == 3
    tiles = root.locator(".cvops-shadow-tile")
    expect(tiles).to_have_count(len(facts["all"]))
    assert [tiles.nth(i).get_attribute("data-image-id") for i in range(tiles.count())] == facts["all"]
    for i in range(tiles.count()):
        assert tiles.nth(i).locator("img.cvops-shadow-img").evaluate("img => img.complete && img.naturalWidth > 0")
    assert root.locator(".cvops-shadow-file", has_text=HOSTILE).count() == 1  # markup shown as text
    assert page.locator("img.pwned").count() == 0 and page.evaluate("() => window.__pwned") is None
    ARTIFACTS.mkdir(exist_ok=True)
    root.screenshot(path=str(ARTIFACTS / "shadow-view.png"))

    # a click on the ok -> dent cell: only its disagreements
    t_click = time.perf_counter()
    root.locator(".cvops-shadow-cell[data-production='ok'][data-candidate='dent']").click()
    expect(root).to_have_attribute("data-total", str(len(facts["cell"])), timeout=SLOW_MS)
    expect(tiles).to_have_count(len(facts["cell"]), timeout=SLOW_MS)
    click_to_filter_s = time.perf_counter() - t_click
    assert [tiles.nth(i).get_attribute("data-image-id") for i in range(tiles.count())] == facts["cell"]
    assert {tiles.nth(i).get_attribute("data-candidate") for i in range(tiles.count())} == {"dent"}
    expect(root.locator(".cvops-shadow-active")).to_have_count(1)
    expect(root.locator(".cvops-shadow-gallery-title")).to_have_text(f"{len(facts['cell'])} disagreements: ok → dent")

    # "Open in review": the review widget below, on that selection
    t_review = time.perf_counter()
    root.locator(".cvops-shadow-review").click()
    review = page.locator(f"{VIEW} .cvops-review").first
    review.wait_for(state="visible", timeout=SLOW_MS)
    page.wait_for_function(
        "id => { const r = document.querySelector('.cvops-shadow-view .cvops-review');"
        " return !!r && r.dataset.imageId === id; }", arg=facts["cell"][0], timeout=SLOW_MS)
    click_to_review_s = time.perf_counter() - t_review
    expect(review).to_contain_text(f"1 / {len(facts['cell'])}")
    expect(page.locator(f"{VIEW} .widget-html").first).to_contain_text(
        f"Reviewing {len(facts['cell'])} images of the shadow report (ok → dent)")
    page.locator(VIEW).first.screenshot(path=str(ARTIFACTS / "shadow-view-review.png"))
    got = _probe(page)
    assert got == {"cell": ["ok", "dent"], "selected": facts["cell"], "review": facts["cell"]}
    assert not [e for e in page_errors if "shadow" in e or "cvops" in e], page_errors

    timings = {"open_notebook_s": t_open - t_start, "run_all_s": t_run - t_open, "click_to_filter_s": click_to_filter_s,
               "click_to_review_s": click_to_review_s, "total_s": time.perf_counter() - t_start}
    (ARTIFACTS / "shadow-view-timings.json").write_text(json.dumps(timings, indent=2) + "\n")
    print("shadow view timings:", timings)
    assert click_to_filter_s < 10 and click_to_review_s < 15, timings
