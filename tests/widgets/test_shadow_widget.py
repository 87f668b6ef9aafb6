"""Shadow view, Python side: the traits hold a real shadow report's flip matrix and its disagreements (worst
first) with thumbnails in one binary buffer; a cell written by the browser filters the gallery to that cell;
"Open in review" and a tile click open ``cv.review(ws, queue=<the selection>)`` below the view; workspace
strings stay raw data and the facade's own HTML escapes them."""

from __future__ import annotations

import importlib
import os
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pytest
from ipywidgets.widgets.widget import _remove_buffers
from PIL import Image

import jupyter_cvops as cv
from jupyter_cvops import Workspace
from jupyter_cvops.images._thumbnails import PLACEHOLDER_MISSING
from jupyter_cvops.shadow.report import build_report
from jupyter_cvops.widgets._bundle import STATIC
from jupyter_cvops.widgets._shadow_payload import flip_matrix
from jupyter_cvops.widgets.shadow import ShadowView, ShadowWidget, shadow_view

JPEG = b"\xff\xd8"
HOSTILE = '<img src=x onerror="window.__pwned=1">'
PAST_NS = 1_600_000_000 * 10**9
#: (production, candidate, production score, candidate score) per production image
ANSWERS = [("ok", "ok", 0.9, 0.9), ("ok", "dent", 0.8, 0.7), ("ok", "dent", 0.6, 0.9), ("dent", "dent", 0.9, 0.95),
           ("dent", "scratch", 0.95, 0.9), ("scratch", "scratch", 0.7, 0.8), ("ok", "dent", 0.55, 0.52),
           ("ok", "ok", 0.99, 0.97)]


def custom(widget: Any, content: dict[str, Any]) -> None:
    """Deliver ``content`` as the browser's ``model.send`` does (a comm ``custom`` message)."""
    widget._handle_msg({"content": {"data": {"method": "custom", "content": content}}, "buffers": []})


def browser_sets(widget: Any, **state: Any) -> None:
    """Change traits as the browser's ``model.save_changes()`` does (a comm ``update`` message)."""
    widget._handle_msg({"content": {"data": {"method": "update", "state": state, "buffer_paths": []}}, "buffers": []})


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """8 production images served by clf v1 (one file name with markup), the candidate's answers, one image
    reviewed; the report built from the paired answers."""
    for bundle in ("shadow.js", "shadow.css", "review.js"):
        if not (STATIC / bundle).is_file():
            pytest.fail(f"{STATIC / bundle} is not built: run `npm run build` (make setup does)")
    root = tmp_path_factory.mktemp("shadow-view")
    rng = np.random.default_rng(5)
    paths = []
    for i in range(len(ANSWERS)):
        p = root / (f"p{i}{HOSTILE}.png" if i == 2 else f"p{i}.png")
        Image.fromarray(rng.integers(0, 255, (24, 32, 3), dtype=np.uint8)).save(p)
        os.utime(p, ns=(PAST_NS, PAST_NS))
        paths.append(str(p))
    ws = Workspace.create(root / "ws")
    for name in ("ok", "dent", "scratch"):
        ws.taxonomy.add(name, color={"ok": "#2ca02c", "dent": "#d62728", "scratch": "#1f77b4"}[name])
    ws.taxonomy.commit("classes")
    logged = ws.log_predictions(pl.DataFrame({"path": paths, "predicted_class": [a[0] for a in ANSWERS],
                                              "score": [a[2] for a in ANSWERS]}), model="clf", version="v1" * 16)
    ws.decide(logged["image_id"][1], "set", class_name="dent", reviewer="rita")
    pairs = logged.select("prediction_id", "image_id", "path", pl.col("predicted_class").alias("production_class"),
                          pl.col("score").alias("production_score")).with_columns(
        pl.Series("candidate_class", [a[1] for a in ANSWERS]), pl.Series("candidate_score", [a[3] for a in ANSWERS]),
        pl.Series("reviewed_class", [None, "dent"] + [None] * 6, dtype=pl.String))
    rep = build_report(pairs, name="clf", production_version="v1" * 16, candidate_version="v2" * 16,
                       classes=["ok", "dent", "scratch"], bootstrap=200, seed=0)
    return {"ws": ws, "rep": rep, "ids": logged["image_id"].to_list(), "paths": paths}


def test_traits_hold_the_report(world: dict[str, Any]) -> None:
    ws, rep, ids = world["ws"], world["rep"], world["ids"]
    view = shadow_view(ws, rep)
    w = view.widget
    assert w.summary == rep.summary and w.alert == rep.alert
    assert w.classes == ["ok", "dent", "scratch"]
    # rows production, columns candidate: ok->ok 2, ok->dent 3, dent->dent 1, dent->scratch 1, scratch->scratch 1
    assert w.matrix == [[2, 3, 0], [0, 1, 1], [0, 0, 1]]
    assert sum(map(sum, w.matrix)) == rep.n == 8
    assert w.header["n_disagreements"] == 4 and w.header["agreement"] == pytest.approx(rep.agreement)
    # the gallery: every disagreement, in the report's worst-first order
    assert [t["image_id"] for t in w.items] == rep.disagreements["image_id"].to_list()
    assert {t["image_id"] for t in w.items} == {ids[1], ids[2], ids[4], ids[6]} and w.total == 4
    t1 = next(t for t in w.items if t["image_id"] == ids[1])
    assert (t1["production_class"], t1["candidate_class"], t1["reviewed_class"]) == ("ok", "dent", "dent")
    assert t1["production_score"] == pytest.approx(0.8) and t1["candidate_score"] == pytest.approx(0.7)
    for t in w.items:
        assert w.thumbs[t["thumb"]["offset"]: t["thumb"]["offset"] + t["thumb"]["length"]][:2] == JPEG
    state, buffer_paths, _ = _remove_buffers(w.get_state())
    assert ["thumbs"] in buffer_paths and "thumbs" not in state  # binary transfer, not base64 JSON
    assert w.class_colors == {"ok": "#2ca02c", "dent": "#d62728", "scratch": "#1f77b4"}
    # a workspace string stays raw text (the browser writes it with textContent)
    assert any(t["file_name"] == f"p2{HOSTILE}.png" for t in w.items)
    assert "4 disagreements" in repr(view)
    view.close()


def test_a_cell_written_by_the_browser_filters_the_gallery(world: dict[str, Any]) -> None:
    ws, rep, ids = world["ws"], world["rep"], world["ids"]
    view = shadow_view(ws, rep)
    w = view.widget
    browser_sets(w, cell=["ok", "dent"])
    assert view.cell == ("ok", "dent") and view.last_error is None
    in_cell = {ids[1], ids[2], ids[6]}
    assert [t["image_id"] for t in w.items] == [i for i in rep.disagreements["image_id"] if i in in_cell]
    assert w.total == 3 and all(t["candidate_class"] == "dent" for t in w.items)
    browser_sets(w, cell=["dent", "dent"])  # the diagonal: no disagreement to show
    assert w.items == [] and w.total == 0 and view.selection.height == 0
    browser_sets(w, cell=[])
    assert w.total == 4
    # from Python: the same filter
    assert view.filter("dent", "scratch")["image_id"].to_list() == [ids[4]] and w.cell == ["dent", "scratch"]
    assert view.filter().height == 4 and view.cell is None
    with pytest.raises(ValueError, match="both classes"):
        view.filter("ok")
    with pytest.raises(ValueError, match="not in the flip matrix"):
        view.filter("ok", "nope")
    browser_sets(w, cell=["ok", "nope"])
    assert w.status.startswith("error: not a cell")
    view.close()


def test_open_in_review_takes_the_selection(world: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    review_module = importlib.import_module("jupyter_cvops.widgets.review")
    ws, rep, ids = world["ws"], world["rep"], world["ids"]
    calls: list[list[str]] = []
    real = review_module.review

    def spy(ws: Workspace, queue: Any = None, **kw: Any) -> Any:
        calls.append(list(queue))
        return real(ws, queue, **kw)

    monkeypatch.setattr(review_module, "review", spy)  # the one path to the review widget: cv.review
    view = shadow_view(ws, rep, reviewer="rita")
    try:
        browser_sets(view.widget, cell=["ok", "dent"])
        custom(view.widget, {"kind": "open_selection"})
        expected = view.selection["image_id"].to_list()
        assert view.last_error is None and calls == [expected] and len(expected) == 3
        session = view.review_session
        assert session is not None and session.queue["image_id"].to_list() == expected
        assert view.selected == expected and view.review_box.children[-1] is session.widget
        assert "Reviewing</b> 3 images of the shadow report (ok \u2192 dent)" in view.review_box.children[0].value
        assert HOSTILE not in view.review_box.children[0].value  # the file name is escaped
        # a tile click reviews the same selection from that image: the session is kept
        custom(view.widget, {"kind": "open", "image_id": expected[-1]})
        assert view.review_session is session and session.selected == expected[-1] and len(calls) == 1
        session.decide("set", class_name="ok")
        assert session.decisions["image_id"].to_list() == [expected[-1]]
        # another cell: another session
        browser_sets(view.widget, cell=[])
        custom(view.widget, {"kind": "open_selection"})
        assert view.review_session is not session and view.review_session.queue.height == 4
        # errors become the status line
        custom(view.widget, {"kind": "open", "image_id": "nope"})
        assert view.widget.status == "error: image 'nope' is not among the images to review"
        browser_sets(view.widget, cell=["dent", "dent"])
        custom(view.widget, {"kind": "open_selection"})
        assert view.widget.status.startswith("error: nothing to review")
        custom(view.widget, {"kind": "explode"})
        assert isinstance(view.last_error, ValueError) and "explode" in view.widget.status
    finally:
        view.close()


def test_pages_and_missing_files(world: dict[str, Any], tmp_path: Path) -> None:
    ws, rep = world["ws"], world["rep"]
    gone = rep.disagreements.with_columns(
        pl.when(pl.int_range(pl.len()) == 0).then(pl.lit(str(tmp_path / "gone.png"))).otherwise(pl.col("path"))
        .alias("path"))
    rep2 = type(rep)(**{**rep.__dict__, "disagreements": gone})
    view = shadow_view(ws, rep2, page=3)
    w = view.widget
    assert len(w.items) == 3 and w.total == 4
    assert w.items[0]["thumb"]["placeholder"] == PLACEHOLDER_MISSING
    custom(w, {"kind": "more"})
    assert len(w.items) == 4 and view.more() == 4
    view.close()


def test_arguments_are_checked(world: dict[str, Any]) -> None:
    ws, rep = world["ws"], world["rep"]
    with pytest.raises(TypeError, match="needs a ShadowReport"):
        shadow_view(ws, object())  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="page"):
        ShadowView(ws, rep, page=0)
    with pytest.raises(ValueError, match="thumb_size"):
        ShadowView(ws, rep, thumb_size=8)
    with pytest.raises(ValueError, match="columns"):
        flip_matrix(pl.DataFrame({"a": [1]}), [])


def test_public_name() -> None:
    import jupyter_cvops.widgets as widgets

    assert cv.shadow_view is shadow_view and "shadow_view" in cv.__all__ and "shadow_view" in dir(cv)
    assert widgets.shadow_view is shadow_view and "ShadowView" in widgets.__all__
    assert ShadowWidget().matrix == []
