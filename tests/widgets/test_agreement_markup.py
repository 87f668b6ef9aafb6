"""Workspace strings (annotator and class names) never reach the agreement chart as markup:
plotly renders a subset of HTML in its text fields (links, styled spans), so every name shown
by the figure is escaped, and clicks still report the names themselves."""

from __future__ import annotations

import html
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from jupyter_cvops import Workspace
from jupyter_cvops.widgets.agreement_view import agreement_view

LINK = '<a href="https://evil.example">x</a>'
SPAN = '<span style="color:red">s</span>'
CLASS_LINK = '<a href="https://evil.example/c">ok</a>'
CLASS_SPAN = '<span style="background:url(https://evil.example/i)">dent</span>'
#: Markup that must never appear raw (escaped, the names keep ``href=&quot;`` as harmless text).
RAW = ("<a", "<span", 'style="', 'href="', "style='", "href='")


def strings(obj: Any, path: str = "") -> Iterator[tuple[str, str]]:
    """Every string of a plotly JSON tree, with where it sits."""
    if isinstance(obj, str):
        yield path, obj
    elif isinstance(obj, dict):
        for k, v in obj.items():
            yield from strings(v, f"{path}.{k}")
    elif isinstance(obj, (list, tuple, np.ndarray)):
        for i, v in enumerate(obj):
            yield from strings(v, f"{path}[{i}]")


def click(view: Any, trace: int, point: Any) -> None:
    """A click on ``point`` of figure trace ``trace``, as plotly's widget view delivers it."""
    event = {
        "event_type": "plotly_click",
        "points": {"trace_indexes": [trace], "point_indexes": [point], "xs": [None], "ys": [None]},
        "device_state": {"alt": False, "ctrl": False, "meta": False, "shift": False, "button": 0, "buttons": 1},
        "selector": None,
    }
    view.figure._handle_msg({"content": {"data": {"method": "update", "state": {"_js2py_pointsCallback": event},
                                                  "buffer_paths": []}}, "buffers": []})
    assert view.last_error is None, view.last_error


def test_names_reach_the_figure_escaped_and_clicks_report_them_raw(tmp_path: Path) -> None:
    import cv2

    folder = tmp_path / "images"
    folder.mkdir()
    for i in range(6):
        cv2.imwrite(str(folder / f"p{i}.png"), np.full((20, 30, 3), 40 * i, np.uint8))
    ws = Workspace.create(tmp_path / "ws")
    ws.add_images(folder, progress=False)
    by_name = {Path(p).name: i for i, p in ws.images().select("image_id", "path").iter_rows()}
    rows = [("p0.png", LINK, CLASS_LINK), ("p1.png", LINK, CLASS_SPAN), ("p2.png", LINK, CLASS_LINK),
            ("p0.png", SPAN, CLASS_SPAN), ("p1.png", SPAN, CLASS_SPAN), ("p2.png", SPAN, CLASS_LINK),
            ("p3.png", SPAN, CLASS_SPAN), ("p3.png", "ben", CLASS_LINK), ("p4.png", "ben", CLASS_LINK),
            ("p0.png", "ben", CLASS_SPAN), ("p4.png", LINK, CLASS_LINK)]
    ws.add_annotations(pl.DataFrame({"image_id": [by_name[f] for f, _, _ in rows], "annotator": [a for _, a, _ in rows],
                                     "class_name": [c for _, _, c in rows], "kind": ["image"] * len(rows)}))
    v = agreement_view(ws, bootstrap=0)
    try:
        assert set(v.annotators) == {LINK, SPAN, "ben"} and set(v.classes) == {CLASS_LINK, CLASS_SPAN}
        assert v.report.windows.height >= 1  # the trend and share rows (legend names) are drawn
        v.show_pair(LINK, SPAN)  # the confusion title and axis titles name the pair
        found = list(strings(v.figure.to_plotly_json()))
        bad = [(p, s) for p, s in found for raw in RAW if raw in s]
        assert not bad, bad
        texts = [s for _, s in found]
        for name in (LINK, SPAN, CLASS_LINK, CLASS_SPAN):
            assert html.escape(name) in texts  # as tick labels / legend names, shown as the name itself
        assert any(html.escape(LINK) in s and html.escape(SPAN) in s for s in texts)  # the pair's title
        # clicks still map back to the raw names
        a, b = v.annotators.index(LINK), v.annotators.index(SPAN)
        click(v, 0, [a, b])
        assert v._target is not None and {v._target["annotator_a"], v._target["annotator_b"]} == {LINK, SPAN}
        i, j = v.classes.index(CLASS_LINK), v.classes.index(CLASS_SPAN)
        click(v, 1, [i, j])
        assert v._target is not None and (v._target["class_a"], v._target["class_b"]) == (CLASS_LINK, CLASS_SPAN)
    finally:
        v.close()
