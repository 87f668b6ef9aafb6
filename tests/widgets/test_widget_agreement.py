"""Agreement view, Python side: the figure shows the report, clicks (delivered as the browser
delivers them) fill ``selected`` and the gallery, the gallery's messages open the review widget;
the gallery widget alone; a headless notebook run."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import nbformat
import numpy as np
import polars as pl
import pytest
from nbclient import NotebookClient

from jupyter_cvops import Workspace
from jupyter_cvops.reviews._drilldown import alert_cell, consensus_cell, pair_cell, pooled_cell, rating_table, window_cell
from jupyter_cvops.images._thumbnails import Thumbnail, encode_array
from jupyter_cvops.demo.build import build_demo
from jupyter_cvops.widgets._gallery import STATIC, Gallery, GalleryEntry, pack_entries
from jupyter_cvops.widgets.agreement_view import AgreementView, agreement_view

JPEG = b"\xff\xd8"


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo scenario (1200 training images, 64 px): chloe drifts on "dent" from week 5."""
    for bundle in ("gallery.js", "gallery.css", "review.js"):
        if not (STATIC / bundle).is_file():
            pytest.fail(f"{STATIC / bundle} is not built: run `npm run build` (make setup does)")
    path = tmp_path_factory.mktemp("agreement-demo") / "ws"
    build_demo(path, seed=0, n_production=0, image_size=64, progress=False)
    return path


@pytest.fixture(scope="module")
def view(demo: Path) -> AgreementView:
    """One view for the read-only tests (they reset its drill-down as they go)."""
    v = agreement_view(Workspace.open(demo), bootstrap=200)
    yield v
    v.close()


@pytest.fixture(scope="module")
def table(demo: Path) -> pl.DataFrame:
    return rating_table(Workspace.open(demo).annotations())


def click(view: AgreementView, trace: int, point: Any) -> None:
    """A click on ``point`` of figure trace ``trace``, delivered exactly as plotly's widget view does:
    a comm ``update`` of ``_js2py_pointsCallback`` (heatmap points are ``[row, col]``)."""
    event = {
        "event_type": "plotly_click",
        "points": {"trace_indexes": [trace], "point_indexes": [point], "xs": [None], "ys": [None]},
        "device_state": {"alt": False, "ctrl": False, "meta": False, "shift": False, "button": 0, "buttons": 1},
        "selector": None,
    }
    view.figure._handle_msg({"content": {"data": {"method": "update", "state": {"_js2py_pointsCallback": event},
                                                  "buffer_paths": []}}, "buffers": []})
    assert view.last_error is None, view.last_error


def custom(widget: Any, content: dict[str, Any]) -> None:
    """Deliver ``content`` as the browser's ``model.send`` does (a comm ``custom`` message)."""
    widget._handle_msg({"content": {"data": {"method": "custom", "content": content}}, "buffers": []})


def tiles(view: AgreementView) -> list[bytes]:
    buf = view.gallery.thumbs
    return [buf[i["offset"]: i["offset"] + i["length"]] for i in view.gallery.items]


def test_figure_shows_the_report(view: AgreementView) -> None:
    rep, fig = view.report, view.figure
    names = [t.name for t in fig.data]
    assert names[:2] == ["kappa", "confusion"]
    assert view.annotators == ("ana", "ben", "chloe")
    assert view.classes == ("ok", "scratch", "dent", "stain")  # taxonomy order
    # kappa: off-diagonal = pairwise kappa, diagonal = kappa with the consensus
    z = np.array(fig.data[0].z, dtype=float)
    km = rep.kappa_matrix().drop("annotator").to_numpy()
    off = ~np.eye(3, dtype=bool)
    np.testing.assert_allclose(z[off], km[off])
    np.testing.assert_allclose(np.diag(z), rep.annotators["kappa_with_consensus"].to_numpy())
    # confusion: pooled at first, in taxonomy order
    pooled = {(a, b): n for a, b, n in rep.confusion_pooled.iter_rows()}
    cz = fig.data[1].z
    assert all(cz[i][j] == pooled[(a, b)] for i, a in enumerate(view.classes) for j, b in enumerate(view.classes))
    assert "pooled" in fig.layout.annotations[1].text
    # trend: one point per window per line, one marker per alert, alert lines and taxonomy v2 marked
    trend = [t for t in fig.data if t.legendgroup == "trend"]
    assert len(trend) == 3 and all(len(t.x) == rep.windows.height == 8 for t in trend)
    alerts = next(t for t in fig.data if t.name == "label-drift alert")
    assert rep.alerts.select("annotator", "class_name").rows() == [("chloe", "dent")]
    assert len(alerts.x) == 1 and alerts.x[0].startswith("2026-02-02")
    texts = [a.text for a in fig.layout.annotations]
    assert any("chloe: dent → scratch" in t for t in texts) and any("taxonomy v2" in t for t in texts)
    assert sum(1 for s in fig.layout.shapes if s.line.dash == "dash") == 2  # trend and share rows
    # share row starts on the alert's class
    shares = [t for t in fig.data if t.legendgroup == "share"]
    chloe = next(t for t in shares if t.name == "chloe")
    freq = rep.class_frequency.filter((pl.col("annotator") == "chloe") & (pl.col("class_name") == "dent"))
    np.testing.assert_allclose(np.array(chloe.y, dtype=float), freq.sort("window_start")["share"].to_numpy())
    assert "α" in view.summary.value and "1 label-drift alert" in view.summary.value
    assert "AgreementView" in repr(view) and "1 drift alerts" in repr(view)
    assert set(view.timings) >= {"report", "table", "figure", "widgets"}


def test_kappa_click_fills_selected_gallery_and_confusion(view: AgreementView, table: pl.DataFrame) -> None:
    view.clear()
    click(view, 0, [0, 1])  # row ana, column ben
    expected = pair_cell(table, "ana", "ben")
    assert view.target == {"kind": "pair", "annotator_a": "ana", "annotator_b": "ben"}
    assert view.selected == expected["image_id"].to_list() and len(view.selected) == 163
    g = view.gallery
    assert g.total == 163 and len(g.items) == view.page_size == 48
    assert g.title == "ana and ben disagree" and "κ 0.66" in g.note and g.can_review
    assert all(t[:2] == JPEG for t in tiles(view))
    first = g.items[0]
    assert first["image_id"] == view.selected[0]
    assert {c["annotator"] for c in first["labels"] if c["marked"]} <= {"ana", "ben"}
    labels = {c["annotator"]: c["class_name"] for c in first["labels"]}
    assert labels["ana"] != labels["ben"]
    # the confusion heatmap switched to the pair, the cell is outlined
    assert view.pair == ("ana", "ben") and view.pair_picker.value == ("ana", "ben")
    pair = view.report.confusion_pairs.filter((pl.col("annotator_a") == "ana") & (pl.col("annotator_b") == "ben"))
    assert int(np.sum(view.figure.data[1].z)) == int(pair["n"].sum())
    outline = view.figure.layout.shapes[-1]
    assert (outline.xref, outline.x0, outline.y0) == ("x", 0.5, -0.5)
    # the same cell clicked from the other side selects the same images
    click(view, 0, [1, 0])
    assert view.selected == expected["image_id"].to_list()
    # selection carries the paths
    sel = view.selection
    assert sel.columns == ["image_id", "n_pairs", "first_label_at", "labels", "path"]
    assert sel["path"].null_count() == 0


def test_diagonal_click_is_the_consensus(view: AgreementView, table: pl.DataFrame) -> None:
    click(view, 0, [2, 2])
    assert view.target == {"kind": "consensus", "annotator": "chloe"}
    assert view.selected == consensus_cell(table, "chloe", view.report.consensus)["image_id"].to_list()
    chips = view.gallery.items[0]["labels"]
    assert chips[-1]["annotator"] == "consensus" and chips[-1]["marked"]
    assert "consensus" in view.gallery.title


def test_confusion_clicks_pooled_and_for_a_pair(view: AgreementView, table: pl.DataFrame) -> None:
    view.show_pair()
    dent, scratch = view.classes.index("dent"), view.classes.index("scratch")
    click(view, 1, [dent, scratch])
    expected = pooled_cell(table, "dent", "scratch")
    assert view.target == {"kind": "pooled", "class_a": "dent", "class_b": "scratch"}
    assert view.selected == expected["image_id"].to_list()
    pooled_n = view.report.confusion_pooled.filter((pl.col("class_a") == "dent") & (pl.col("class_b") == "scratch"))
    assert f"{pooled_n['n'][0]} label pairs" in view.gallery.note
    # the picker switches the heatmap to a pair; a click then means "A said X, B said Y"
    view.pair_picker.value = ("ben", "chloe")
    assert view.pair == ("ben", "chloe") and "ben (rows) × chloe (columns)" in view.figure.layout.annotations[1].text
    click(view, 1, [dent, scratch])
    assert view.target == {"kind": "pair", "annotator_a": "ben", "annotator_b": "chloe", "class_a": "dent",
                           "class_b": "scratch"}
    n = view.report.confusion_pairs.filter(
        (pl.col("annotator_a") == "ben") & (pl.col("annotator_b") == "chloe") & (pl.col("class_a") == "dent")
        & (pl.col("class_b") == "scratch"))["n"][0]
    assert len(view.selected) == n == pair_cell(table, "ben", "chloe", "dent", "scratch").height
    assert view.gallery.title == "ben said “dent”, chloe said “scratch”"
    view.show_pair()
    assert view.pair_picker.value is None and "pooled" in view.figure.layout.annotations[1].text


def test_trend_and_alert_clicks(view: AgreementView, table: pl.DataFrame) -> None:
    trend = [i for i, t in enumerate(view.figure.data) if t.legendgroup == "trend"]
    alerts = next(i for i, t in enumerate(view.figure.data) if t.name == "label-drift alert")
    click(view, trend[0], 4)
    start = view.report.windows["window_start"][4]
    assert view.target == {"kind": "window", "window_start": start}
    assert view.selected == window_cell(table, start)["image_id"].to_list()
    band = view.figure.layout.shapes[-1]
    assert band.type == "rect" and band.x0.startswith("2026-02-02") and band.x1.startswith("2026-02-09")
    view.focus_class("ok")
    click(view, alerts, 0)
    a = view.report.alerts.row(0, named=True)
    assert view.target is not None and view.target["kind"] == "alert"
    expected = alert_cell(table, "chloe", "dent", a["window_start"], compared_with=a["compared_with"])
    assert view.selected == expected["image_id"].to_list() and len(view.selected) == 39
    assert "Label drift" in view.gallery.title and "scratch" in view.gallery.title
    assert "dent" in view.figure.layout.annotations[3].text  # the share row follows the alert's class
    for item in view.gallery.items:
        chips = {c["annotator"]: c for c in item["labels"]}
        assert chips["chloe"]["marked"] and chips["chloe"]["class_name"] != "dent"


def test_python_selection_api(view: AgreementView) -> None:
    assert view.select_window(-1).height == len(view.selected)
    assert view.select_window(view.report.windows["window_start"][0]).height > 0
    with pytest.raises(IndexError):
        view.select_window(99)
    with pytest.raises(IndexError):
        view.select_alert(3)
    with pytest.raises(ValueError, match="unknown annotator"):
        view.select_pair("ana", "zed")
    with pytest.raises(ValueError, match="unknown class"):
        view.select_confusion("dent", "rust")
    with pytest.raises(ValueError, match="share no image"):
        view.show_pair("ana", "zed")
    view.clear()
    assert view.selected == [] and view.target is None and view.gallery.items == []
    assert view.gallery.empty_text.startswith("Click a heatmap cell")


def test_gallery_more_and_open_in_review(demo: Path, tmp_path: Path, table: pl.DataFrame) -> None:
    dest = tmp_path / "ws"  # a private copy (its image paths still point into the demo's scenario)
    shutil.copytree(demo, dest, ignore=shutil.ignore_patterns("scenario"))
    v = agreement_view(Workspace.open(dest), bootstrap=0, page_size=20, reviewer="rita")
    try:
        v.select_pair("ana", "chloe")
        n = len(v.selected)
        assert n == pair_cell(table, "ana", "chloe").height > 40
        assert len(v.gallery.items) == 20
        custom(v.gallery, {"kind": "more"})
        assert len(v.gallery.items) == 40 and v.gallery.total == n
        assert [i["image_id"] for i in v.gallery.items] == v.selected[:40]
        # a click on the third tile opens the review widget on the drill-down, at that image
        third = v.selected[2]
        custom(v.gallery, {"kind": "open", "image_id": third})
        session = v.review_session
        assert session is not None and session.queue["image_id"].to_list() == v.selected
        assert session.selected == third and session.reviewer == "rita"
        assert v.review_box.children[-1] is session.widget
        # the button reopens the same session at the start; a decision lands in the store
        custom(v.gallery, {"kind": "open", "image_id": None})
        assert v.review_session is session
        session.decide("set", class_name="dent")
        assert session.decisions["image_id"].to_list() == [third]
        # a new drill-down opens a new session
        v.select_alert(0)
        v.open_review()
        assert v.review_session is not session and v.review_session.queue.height == len(v.selected)
        # errors show in the grid
        custom(v.gallery, {"kind": "explode"})
        assert v.gallery.status.startswith("error: unknown message kind")
        with pytest.raises(ValueError, match="not in the current drill-down"):
            v.open_review("nope")
        v.clear()
        with pytest.raises(ValueError, match="nothing to review"):
            v.open_review()
    finally:
        v.close()


def test_unreadable_images_show_as_tiles_with_errors(view: AgreementView, tmp_path: Path) -> None:
    view.select_pair("ana", "ben")
    first, second = view.selected[:2]
    bad = tmp_path / "broken.png"
    bad.write_bytes(b"not a png")
    saved = dict(view._paths)
    try:
        view._paths[first] = str(tmp_path / "gone.png")
        view._paths[second] = str(bad)
        view._thumbs.clear()
        view.select_pair("ana", "ben")
        a, b, c = view.gallery.items[:3]
        assert a["length"] == 0 and a["error"].startswith("cannot read gone.png")
        assert b["length"] == 0 and b["error"].startswith("cannot read broken.png")
        assert c["length"] > 0 and c["error"] is None
        assert view.last_error is None
    finally:
        view._paths.clear()
        view._paths.update(saved)
        view._thumbs.clear()


def test_arguments_are_checked(demo: Path) -> None:
    ws = Workspace.open(demo)
    with pytest.raises(ValueError, match="page_size"):
        AgreementView(ws, page_size=0)
    with pytest.raises(ValueError, match="thumb_size"):
        AgreementView(ws, thumb_size=8)
    before = pl.col("captured_at") < pl.datetime(2026, 2, 2, time_zone="UTC")
    v = AgreementView(ws, bootstrap=0, pair=("chloe", "ana"), images=before)
    try:
        assert v.pair == ("ana", "chloe")
        assert v.report.alerts.height == 0
        assert v.report.meta["n_labels"] == v._table.height < rating_table(ws.annotations()).height
        alerts = next(t for t in v.figure.data if t.name == "label-drift alert")
        assert len(alerts.x) == 0
    finally:
        v.close()


def test_public_name() -> None:
    import jupyter_cvops as cv

    assert cv.agreement_view is agreement_view


def test_gallery_widget_alone() -> None:
    t = encode_array(np.zeros((40, 80, 3), np.uint8), max_side=32)
    entries = [GalleryEntry("a", t, [("ana", "dent"), ("ben", "ok")], marked=["ana"], tooltip="a.png"),
               GalleryEntry("b", None, [("ana", "ok")], error="cannot read b.png")]
    items, buf = pack_entries(entries)
    assert buf == t.data and items[1]["offset"] == len(t.data) and items[1]["length"] == 0
    assert items[0]["labels"] == [{"annotator": "ana", "class_name": "dent", "marked": True},
                                  {"annotator": "ben", "class_name": "ok", "marked": False}]
    assert (items[0]["width"], items[0]["height"], items[0]["mime"]) == (32, 16, "image/jpeg")
    g = Gallery()
    g.show("two", entries, total=5, note="n")
    assert (g.title, g.note, g.total, g.can_review, len(g.items)) == ("two", "n", 5, True, 2)
    assert g.thumbs == t.data
    # the thumbnails travel as one binary buffer, not inside the JSON state
    from ipywidgets.widgets.widget import _remove_buffers

    state, paths, buffers = _remove_buffers(g.get_state())
    assert ["thumbs"] in paths and bytes(buffers[paths.index(["thumbs"])]) == t.data
    g.clear("nothing")
    assert (g.items, g.thumbs, g.total, g.can_review, g.empty_text) == ([], b"", 0, False, "nothing")
    g.show("none", [], can_review=True)
    assert not g.can_review  # nothing to review
    assert isinstance(entries[0].thumbnail, Thumbnail)


@pytest.mark.slow
def test_headless_notebook_run(demo: Path, tmp_path: Path) -> None:
    cells = [
        nbformat.v4.new_code_cell(f"import jupyter_cvops as cv\nws = cv.Workspace.open({str(demo)!r})"),
        nbformat.v4.new_code_cell("view = cv.agreement_view(ws)\nview"),
        nbformat.v4.new_code_cell("view.select_alert(0)\nprint('SELECTED', len(view.selected), view.gallery.title)"),
    ]
    nb = nbformat.v4.new_notebook(cells=cells, metadata={"kernelspec": {"name": "python3", "language": "python",
                                                                       "display_name": "Python 3"}})
    NotebookClient(nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}).execute()
    outputs = [o for c in nb.cells for o in c.get("outputs", [])]
    assert not [o for o in outputs if o.output_type == "error"]
    shown = [o for o in outputs if o.output_type == "execute_result"]
    assert "application/vnd.jupyter.widget-view+json" in shown[0]["data"]
    assert "AgreementView" in shown[0]["data"]["text/plain"]
    text = "".join(o.get("text", "") for o in outputs if o.output_type == "stream")
    assert "SELECTED 39 Label drift" in text


def test_sparse_labels_give_a_working_view(tmp_path: Path) -> None:
    """Annotators who never overlap, one window, no taxonomy colors: defined cells, no crash."""
    import cv2

    folder = tmp_path / "images"
    folder.mkdir()
    for i in range(6):
        cv2.imwrite(str(folder / f"p{i}.png"), np.full((20, 30, 3), 40 * i, np.uint8))
    ws = Workspace.create(tmp_path / "ws")
    ws.add_images(folder, progress=False)
    by_name = {Path(p).name: i for i, p in ws.images().select("image_id", "path").iter_rows()}
    rows = [("p0.png", "ana", "ok"), ("p1.png", "ana", "dent"), ("p2.png", "ana", "ok"),
            ("p3.png", "ben", "dent"), ("p4.png", "ben", "ok"), ("p0.png", "chloe", "dent"),
            ("p1.png", "chloe", "dent"), ("p2.png", "chloe", "ok")]
    ws.add_annotations(pl.DataFrame({"image_id": [by_name[f] for f, _, _ in rows], "annotator": [a for _, a, _ in rows],
                                     "class_name": [c for _, _, c in rows], "kind": ["image"] * len(rows)}))
    v = agreement_view(ws, bootstrap=0)
    try:
        assert v.annotators == ("ana", "ben", "chloe")
        z = v.figure.data[0].z
        assert z[0][1] is None and v.figure.data[0].text[0][1] == "–"       # ana x ben never overlap
        assert [o[1] for o in v.pair_picker.options] == [None, ("ana", "chloe")]
        click(v, 0, [0, 1])
        assert v.selected == [] and v.gallery.total == 0 and not v.gallery.can_review
        click(v, 0, [0, 2])
        assert v.selected == [by_name["p0.png"]]
        with pytest.raises(ValueError, match="share no image"):
            v.show_pair("ana", "ben")
        assert v.report.windows.height == 1 and v.report.alerts.height == 0
        click(v, next(i for i, t in enumerate(v.figure.data) if t.legendgroup == "trend"), 0)
        assert v.selected == [by_name["p0.png"]]
    finally:
        v.close()
