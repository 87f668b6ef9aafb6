"""Drift explorer, Python side: binary point traits, selections from the browser -> ``selected`` and
a thumbnail gallery, timeline clicks -> filtered points and histograms, tags as events, review
sessions, errors; a 100k-point widget; a headless run of example notebook 03."""

from __future__ import annotations

import shutil
import time
from pathlib import Path
from typing import Any

import nbformat
import numpy as np
import polars as pl
import pytest
from ipywidgets.widgets.widget import _remove_buffers

import jupyter_cvops as cv
from jupyter_cvops import Workspace
from jupyter_cvops.demo.build import build_demo
from jupyter_cvops.widgets.drift_view import DriftView, DriftWidget
from jupyter_cvops.widgets.review import STATIC, ReviewSession

REPO = Path(__file__).resolve().parents[2]
NOTEBOOK = REPO / "example_notebooks" / "03_drift.ipynb"


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, pl.DataFrame]:
    if not (STATIC / "drift.js").is_file():
        pytest.fail(f"{STATIC / 'drift.js'} is not built: run `npm run build` (make setup does)")
    path = tmp_path_factory.mktemp("drift-demo") / "ws"
    build_demo(path, seed=3, n_train=80, n_production=140, image_size=48, progress=False)
    table = Workspace.open(path).drift("demo-train", by="1d", progress=False)
    return path, table


@pytest.fixture
def view(demo: tuple[Path, pl.DataFrame], tmp_path: Path) -> DriftView:
    path, table = demo
    dest = tmp_path / "ws"
    shutil.copytree(path, dest, ignore=shutil.ignore_patterns("scenario"))
    return cv.drift_view(Workspace.open(dest), reference="demo-train", drift=table)


class Sent:
    """Captures what the facade pushes to the browser (``widget.send``)."""

    def __init__(self, widget: DriftWidget) -> None:
        self.messages: list[tuple[dict[str, Any], list[bytes]]] = []
        widget.send = self  # type: ignore[method-assign]

    def __call__(self, content: dict[str, Any], buffers: list[bytes] | None = None) -> None:
        self.messages.append((content, list(buffers or [])))


def _select(view: DriftView, idx: list[int], mode: str = "box") -> None:
    view._on_msg(view.widget, {"kind": "select", "mode": mode}, [np.array(idx, dtype="<u4").tobytes()])


def test_point_arrays_travel_as_binary_buffers(view: DriftView) -> None:
    w = view.widget
    n = view.points.height
    assert w.n_points == n == 80 + 140
    xy = np.frombuffer(w.coords, dtype="<f4").reshape(-1, 2)
    np.testing.assert_array_equal(xy[:, 0], view.points["x"].to_numpy())
    np.testing.assert_array_equal(xy[:, 1], view.points["y"].to_numpy())
    assert np.frombuffer(w.set_code, np.uint8).tolist() == [0] * 80 + [1] * 140
    windows = np.frombuffer(w.window_code, "<i2")
    assert set(windows[:80]) == {-1} and windows[80:].min() >= 0 and windows[80:].max() < len(w.windows)
    assert len(w.novelty) == 4 * n and len(w.visible) == n
    state, paths, buffers = _remove_buffers(w.get_state())
    for name in ("coords", "set_code", "window_code", "novelty", "visible"):
        assert [name] in paths, name
        assert name not in state  # not JSON
    assert sum(len(b) for b in buffers) == n * (8 + 1 + 2 + 4 + 1)
    assert "selected" not in w.get_state()  # Python-only


def test_timeline_rows_and_alerts_match_the_drift_frame(view: DriftView) -> None:
    rows = view.widget.windows
    assert [r["n"] for r in rows] == view.drift["n"].to_list()
    assert [r["drifted"] for r in rows] == view.drift["drifted"].to_list()
    assert any(r["drifted"] for r in rows) and not rows[0]["drifted"]  # the planted drift, a clean start
    per_window = view.points.filter(pl.col("set") == "current").group_by("window").len().sort("window")
    assert per_window["len"].to_list() == view.drift["n"].to_list()
    # current images of the alert windows are novel, those of the first window are not
    nov = view.points.filter(pl.col("set") == "current")
    last = nov.filter(pl.col("window") == len(rows) - 1)["novelty_p"].median()
    first = nov.filter(pl.col("window") == 0)["novelty_p"].median()
    assert last < 0.05 < first


def test_witness_colors_are_computed_on_request(view: DriftView) -> None:
    assert view.widget.witness == b"" and "witness" not in view.points.columns  # nothing until asked
    view.widget.color_by = "witness"
    w = np.frombuffer(view.widget.witness, dtype="<f4")
    assert w.size == view.widget.n_points
    pts = view.points.with_columns(pl.Series("w", w))
    assert pts.filter(pl.col("set") == "reference")["w"].is_nan().all()
    assert (pts["witness"].fill_nan(None).drop_nulls() == pts["w"].fill_nan(None).drop_nulls()).all()
    cur = pts.filter(pl.col("set") == "current")
    by_win = cur.group_by("window").agg(pl.col("w").mean()).sort("window")["w"].to_list()
    flagged = [i for i, d in enumerate(view.drift["drifted"].to_list()) if d]
    assert min(by_win[i] for i in flagged) > max(by_win[i] for i in range(len(by_win)) if i not in flagged)
    assert view.widget.status.startswith("colored by witness")


def test_box_selection_sets_selected_and_sends_thumbnails(view: DriftView) -> None:
    sent = Sent(view.widget)
    _select(view, [5, 3, 100, 100, 150])
    ids = view.points["image_id"].to_list()
    assert view.selected == [ids[3], ids[5], ids[100], ids[150]]
    assert view.widget.selected == view.selected and view.widget.n_selected == 4
    (content, buffers), = sent.messages
    assert content["kind"] == "gallery" and content["total"] == 4
    assert [it["image_id"] for it in content["items"]] == view.selected
    assert [it["set"] for it in content["items"]] == ["reference", "reference", "current", "current"]
    assert all(b[:2] == b"\xff\xd8" for b in buffers)  # JPEG thumbnails, binary
    _select(view, [], "clear")
    assert view.selected == [] and view.widget.n_selected == 0


def test_large_selections_send_a_bounded_gallery(view: DriftView) -> None:
    sent = Sent(view.widget)
    _select(view, list(range(220)) + [10_000], "lasso")  # out-of-range indices are dropped
    assert len(view.selected) == 220
    content, buffers = sent.messages[-1]
    assert content["total"] == 220 and len(content["items"]) == len(buffers) == 24


def test_timeline_click_filters_points_and_histogram(view: DriftView) -> None:
    assert len(view.filtered) == view.points.height
    k = len(view.widget.windows) - 1
    view.widget.active_window = k  # what a click on the bar does
    expect = view.points.filter((pl.col("set") == "reference") | (pl.col("window") == k))["index"].to_numpy()
    np.testing.assert_array_equal(view.filtered, expect)
    hist = view.widget.histogram
    assert hist["window"] == k and sum(hist["current"]) == view.widget.windows[k]["n"]
    assert sum(hist["reference"]) == 80
    view.filter_window(view.widget.windows[0]["label"])
    assert view.widget.active_window == 0
    view.filter_window(None)
    assert len(view.filtered) == view.points.height and sum(view.widget.histogram["current"]) == 140
    with pytest.raises(ValueError, match="out of range"):
        view.filter_window(99)


def test_feature_choice_updates_histogram(view: DriftView) -> None:
    assert view.widget.feature == "brightness" and view.widget.features[0] == "brightness"
    before = view.widget.histogram["edges"]
    view.widget.feature = "sharpness"
    assert view.widget.histogram["feature"] == "sharpness" and view.widget.histogram["edges"] != before
    view.widget.feature = "no-such-feature"
    assert view.widget.histogram == {}


def test_tags_are_workspace_events(view: DriftView) -> None:
    _select(view, [100, 101])
    view._on_msg(view.widget, {"kind": "tag", "tag": " glare "}, [])
    assert view.tags == {"glare": view.selected} and view.widget.tags == {"glare": 2}
    ev = view.ws.events().filter(pl.col("op") == "drift.tag")
    assert ev.height == 1
    assert '"tag": "glare"' in ev["details"][0] and view.selected[0] in ev["details"][0]
    assert view.tag("glare", ids=[view.points["image_id"][102]]) == 1
    assert view.widget.tags == {"glare": 3}


def test_tag_and_review_without_selection_report_an_error(view: DriftView) -> None:
    view._on_msg(view.widget, {"kind": "tag", "tag": "x"}, [])
    assert view.widget.status.startswith("error: nothing to tag")
    view._on_msg(view.widget, {"kind": "review"}, [])
    assert view.widget.status.startswith("error: nothing to review")
    with pytest.raises(ValueError, match="name"):
        view.tag("  ", ids=["a"])


def test_selection_goes_to_review(view: DriftView) -> None:
    view.select(view.points["image_id"][130:135].to_list())
    assert view.widget.n_selected == 5
    session = view.to_review(prefetch=0)
    assert isinstance(session, ReviewSession)
    assert sorted(session.queue["image_id"].to_list()) == sorted(view.selected)


def test_view_computes_drift_when_not_given(demo: tuple[Path, pl.DataFrame]) -> None:
    path, table = demo
    v = DriftView(Workspace.open(path), "demo-train", by="1d", progress=False,
                  color_by="novelty")
    assert v.drift["drifted"].to_list() == table["drifted"].to_list()
    assert v.widget.color_by == "novelty" and "DriftView 80 reference vs 140 current" in repr(v)
    bundle = v._repr_mimebundle_()
    assert bundle is not None and "application/vnd.jupyter.widget-view+json" in bundle[0]


def test_a_drift_frame_of_other_windows_is_refused(demo: tuple[Path, pl.DataFrame]) -> None:
    path, table = demo
    with pytest.raises(ValueError, match="no window of the drift frame"):
        DriftView(Workspace.open(path), "demo-train", by="1d", drift=table.tail(3))


def test_hundred_thousand_points_build_fast() -> None:
    rng = np.random.default_rng(0)
    n = 100_000
    t0 = time.perf_counter()
    w = DriftWidget.from_arrays(rng.normal(size=(n, 2)), (np.arange(n) >= n // 2).astype(np.uint8))
    state, paths, buffers = _remove_buffers(w.get_state())
    elapsed = time.perf_counter() - t0
    assert w.n_points == n and len(w.coords) == 8 * n
    assert sum(len(b) for b in buffers) == 16 * n  # 1.6 MB binary, no JSON list
    assert elapsed < 2.0, elapsed


@pytest.mark.slow
def test_example_notebook_runs_headless(tmp_path: Path) -> None:
    from nbclient import NotebookClient

    nb = nbformat.read(NOTEBOOK, as_version=4)
    t0 = time.perf_counter()
    NotebookClient(nb, timeout=600, kernel_name="python3",
                   resources={"metadata": {"path": str(tmp_path)}}).execute()
    elapsed = time.perf_counter() - t0
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])]
    assert not [o for o in outputs if o.output_type == "error"]
    assert not [o for o in outputs if o.output_type == "stream" and o.get("name") == "stderr"]
    views = [o for o in outputs if "application/vnd.jupyter.widget-view+json" in o.get("data", {})]
    assert len(views) == 1 and "DriftView" in views[0]["data"]["text/plain"]
    texts = "\n".join(o.get("text", "") for o in outputs if o.output_type == "stream")
    assert "days alert" in texts
    assert elapsed < 60, elapsed
