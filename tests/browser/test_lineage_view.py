"""The lineage view in a real JupyterLab + Chromium: a notebook builds a small workspace (images,
labels, a snapshot, a tiny torch model registered in a run, a logged prediction, imgstats
embeddings), renders ``cv.lineage_view(ws, prediction_id)``; the chain's nodes and the k nearest
training images show with their thumbnails, markup in workspace strings stays text, a click on a
training image opens the review widget on it (and ``view.selected`` in the kernel says so); an
image's forward view shows its lists with counts. Screenshots and timings go to test-artifacts/."""

from __future__ import annotations

import json
import re
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
VIEW = ".cvops-lineage-view"
K = 4
#: A run name with markup: must show as text, never run.
HOSTILE = '<img class="pwned" src=x onerror="window.__pwned=1">'

BUILD = f'''\
import json, time
import numpy as np, polars as pl, torch
from pathlib import Path
from PIL import Image
import jupyter_cvops as cv
t0 = time.perf_counter()

class Net(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv2d(3, 4, 3)
        self.fc = torch.nn.Linear(4, 2)

    def forward(self, x):
        return self.fc(self.conv(x).relu().mean(dim=(2, 3)))

rng = np.random.default_rng(11)
root = Path("lineage-data")
(root / "train").mkdir(parents=True)
(root / "prod").mkdir()
arrays = []
for i in range(12):
    base = rng.integers(0, 255, size=(3,)) * np.ones((32, 32, 3))
    ramp = np.linspace(0, rng.uniform(0, 120), 32)[None, :, None]
    a = np.clip(base + rng.normal(0, 5 + 15 * (i % 4), size=(32, 32, 3)) + ramp, 0, 255).astype(np.uint8)
    arrays.append(a)
    Image.fromarray(a).save(root / "train" / f"t{{i:02d}}.png")
ws = cv.Workspace.create("lineage-ws")
ws.add_images(root / "train", source="line-1", progress=False)
ids = ws.images().sort("path")["image_id"].to_list()
ws.add_annotations(pl.DataFrame([{{"image_id": iid, "annotator": "ana", "class_name": "dent" if i % 2 else "ok",
                                   "kind": "image"}} for i, iid in enumerate(ids)]))
ws.snapshot(name="baseline")
torch.manual_seed(0)
pre = cv.Preprocess(16, crop=16, mean=(0.5, 0.5, 0.5), std=(0.25, 0.25, 0.25))
with ws.run({("train " + HOSTILE)!r}, params={{"lr": 0.1}}) as run:
    run.use("baseline")
    mv = run.register_model("clf", Net().eval(), preprocess=pre, classes=["dent", "ok"])
ws.set_alias("clf", "production", mv.version, reason="first model")
near = np.clip(arrays[3].astype(float) + rng.normal(0, 2, size=arrays[3].shape), 0, 255).astype(np.uint8)
Image.fromarray(near).save(root / "prod" / "p03.png")
logged = ws.log_predictions(pl.DataFrame({{"path": [str(root / "prod" / "p03.png")], "predicted_class": ["dent"],
                                          "score": [0.9]}}), model="clf@production", preprocess=pre)
ws.embed("imgstats", progress=False)
pid = logged["prediction_id"][0]
print("BUILT", round(time.perf_counter() - t0, 2), json.dumps({{"ids": ids, "pid": pid}}))
'''

VIEW_CELL = f"t0 = time.perf_counter()\nview = cv.lineage_view(ws, pid, k={K})\nprint('VIEW', round(time.perf_counter() - t0, 3))\nview"
FORWARD_CELL = "cv.lineage_view(ws, view.neighbors[0])"
PROBE_CELL = ("print('PROBE', json.dumps({'selected': view.selected, 'neighbors': view.neighbors,\n"
              "    'review': view.review_session.selected if view.review_session else None}))")


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


def _review_shows(page: Any, image_id: str) -> None:
    """Wait until the review widget below the view shows ``image_id``."""
    page.wait_for_function(
        "id => { const r = document.querySelector('.cvops-lineage-view .cvops-review');"
        " return !!r && r.dataset.imageId === id; }", arg=image_id, timeout=SLOW_MS)


def _loaded(img: Any) -> bool:
    return bool(img.evaluate("img => img.complete && img.naturalWidth > 0"))


def test_chain_thumbnails_and_a_click_opens_review(page: Any, lab: JupyterProcess, lab_root: Path) -> None:
    t_start = time.perf_counter()
    nb_path = lab_root / "lineage.ipynb"
    nbformat.write(nbformat.v4.new_notebook(metadata={"kernelspec": KERNELSPEC}, cells=[
        nbformat.v4.new_code_cell(BUILD), nbformat.v4.new_code_cell(VIEW_CELL),
        nbformat.v4.new_code_cell(FORWARD_CELL), nbformat.v4.new_code_cell(PROBE_CELL)]), nb_path)
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

    # the backward chain: five cards left to right, the prediction's thumbnail, the model's alias
    root = page.locator(f"{VIEW} .cvops-lineage[data-mode='prediction']").first
    root.wait_for(state="visible", timeout=SLOW_MS)
    root.scroll_into_view_if_needed()
    nodes = root.locator(".cvops-lineage-node")
    expect(nodes).to_have_count(5)
    kinds = [nodes.nth(i).get_attribute("data-kind") for i in range(5)]
    assert kinds == ["prediction", "model", "run", "dataset_version", "taxonomy"]
    headings = root.locator(".cvops-lineage-node .cvops-lineage-heading").all_inner_texts()
    assert headings[0] == "dent" and headings[1].startswith("clf:") and headings[3] == "baseline"
    assert headings[2] == f"train {HOSTILE}"  # markup shown as text
    assert page.locator("img.pwned").count() == 0 and page.evaluate("() => window.__pwned") is None
    expect(nodes.nth(1).locator(".cvops-lineage-tag")).to_have_text(["@production"])
    expect(nodes.nth(2).locator(".cvops-lineage-tag")).to_have_text(["finished"])
    assert _loaded(nodes.nth(0).locator("img.cvops-lineage-img"))
    assert root.locator(".cvops-lineage-edge").count() == 4

    # k nearest training images, each a decoded thumbnail; the planted near-duplicate first
    tiles = root.locator(".cvops-lineage-neighbor")
    expect(tiles).to_have_count(K)
    for i in range(K):
        assert _loaded(tiles.nth(i).locator("img.cvops-lineage-img")), i
    neighbor_ids = [tiles.nth(i).get_attribute("data-image-id") for i in range(K)]
    assert neighbor_ids[0] == facts["ids"][3]
    assert root.get_attribute("data-n-neighbors") == str(K)
    ARTIFACTS.mkdir(exist_ok=True)
    root.screenshot(path=str(ARTIFACTS / "lineage-view-chain.png"))

    # the forward view of that training image: the image, then its lists with counts
    fwd = page.locator(".cvops-lineage[data-mode='image']").first
    fwd.scroll_into_view_if_needed()
    expect(fwd.locator(".cvops-lineage-group")).to_have_count(3)
    counts = {g.get_attribute("data-kind"): g.get_attribute("data-count")
              for g in fwd.locator(".cvops-lineage-group").all()}
    assert counts == {"versions": "1", "models": "1", "predictions": "0"}
    assert _loaded(fwd.locator(".cvops-lineage-node[data-kind='image'] img"))
    fwd.screenshot(path=str(ARTIFACTS / "lineage-view-forward.png"))

    # a click on the second training image opens the review widget on it, below the graph
    root.scroll_into_view_if_needed()
    t_click = time.perf_counter()
    tiles.nth(1).click()
    review = page.locator(f"{VIEW} .cvops-review").first
    review.wait_for(state="visible", timeout=SLOW_MS)
    _review_shows(page, neighbor_ids[1])
    click_to_review_s = time.perf_counter() - t_click
    expect(review).to_contain_text("1 / 1")
    expect(tiles.nth(1)).to_have_class(re.compile(r"\bcvops-lineage-selected\b"))
    assert root.get_attribute("data-selected") == neighbor_ids[1]
    expect(page.locator(f"{VIEW} .widget-html").first).to_contain_text("Reviewing 1 image from the lineage")
    page.locator(VIEW).first.screenshot(path=str(ARTIFACTS / "lineage-view-review.png"))
    got = _probe(page)
    assert got == {"selected": [neighbor_ids[1]], "neighbors": neighbor_ids, "review": neighbor_ids[1]}

    # ctrl-click adds the nearest one: one review of both, at the image clicked
    root.scroll_into_view_if_needed()
    tiles.nth(0).click(modifiers=["Control"])
    _review_shows(page, neighbor_ids[0])
    expect(review).to_contain_text("2 / 2")
    assert _probe(page)["selected"] == [neighbor_ids[1], neighbor_ids[0]]
    assert not [e for e in page_errors if "lineage" in e or "cvops" in e], page_errors

    timings = {"open_notebook_s": t_open - t_start, "run_all_s": t_run - t_open,
               "click_to_review_s": click_to_review_s, "total_s": time.perf_counter() - t_start}
    (ARTIFACTS / "lineage-view-timings.json").write_text(json.dumps(timings, indent=2) + "\n")
    print("lineage view timings:", timings)
    assert click_to_review_s < 15, timings
