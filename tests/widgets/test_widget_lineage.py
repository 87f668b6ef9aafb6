"""Lineage view, Python side: the traits hold the chain ``ws.lineage`` returned (nodes, nearest
training images, forward lists) with thumbnails in one binary buffer; workspace strings stay raw
data (the browser writes text) and the facade's own HTML escapes them; changed and missing files
show as such; a click (delivered as the browser delivers it) selects images and opens
``cv.review(ws, queue=<them>)`` below the graph."""

from __future__ import annotations

import html
import importlib
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pytest
import torch
from ipywidgets.widgets.widget import _remove_buffers
from PIL import Image

import jupyter_cvops as cv
from jupyter_cvops import Preprocess, Workspace
from jupyter_cvops.images._thumbnails import PLACEHOLDER_CHANGED, PLACEHOLDER_MISSING
from jupyter_cvops.lineage import Lineage
from jupyter_cvops.widgets._bundle import STATIC
from jupyter_cvops.widgets._lineage_payload import chain_payload
from jupyter_cvops.widgets.lineage_view import LineageView, LineageWidget, lineage_view

REPO = Path(__file__).resolve().parents[2]
JPEG = b"\xff\xd8"
#: Markup in workspace strings: must reach the widget as text, and any HTML we make escaped.
HOSTILE = '<img src=x onerror="window.__pwned=1">'


class Net(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = torch.nn.Conv2d(3, 4, 3)
        self.fc = torch.nn.Linear(4, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.conv(x).relu().mean(dim=(2, 3)))


def _image(rng: np.random.Generator, kind: int) -> np.ndarray:
    base = rng.integers(0, 255, size=(3,)) * np.ones((32, 32, 3))
    noise = rng.normal(0, 5 + 15 * (kind % 4), size=(32, 32, 3))
    ramp = np.linspace(0, rng.uniform(0, 120), 32)[None, :, None]
    return np.clip(base + noise + ramp, 0, 255).astype(np.uint8)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """12 training images (one with markup in its file name), labels by ana and a hostile annotator,
    a run with a hostile name, a registered model with an alias, one prediction on a near-duplicate
    of training image 3, imgstats embeddings."""
    for bundle in ("lineage.js", "lineage.css", "review.js"):
        if not (STATIC / bundle).is_file():
            pytest.fail(f"{STATIC / bundle} is not built: run `npm run build` (make setup does)")
    root = tmp_path_factory.mktemp("lineage-view")
    rng = np.random.default_rng(11)
    (root / "train").mkdir()
    (root / "prod").mkdir()
    arrays = [_image(rng, i) for i in range(12)]
    for i, a in enumerate(arrays):
        name = f"t{i:02d}{HOSTILE}.png" if i == 3 else f"t{i:02d}.png"
        Image.fromarray(a).save(root / "train" / name)
    ws = Workspace.create(root / "ws")
    ws.add_images(root / "train", source="line-1", progress=False)
    ids = ws.images().sort("path")["image_id"].to_list()
    rows = [{"image_id": iid, "annotator": "ana", "class_name": "dent" if i % 2 else "ok", "kind": "image"}
            for i, iid in enumerate(ids)]
    rows += [{"image_id": ids[3], "annotator": HOSTILE, "class_name": "dent", "kind": "image"}]
    ws.add_annotations(pl.DataFrame(rows))
    ws.snapshot(name="baseline")
    torch.manual_seed(0)
    pre = Preprocess(16, crop=16, mean=(0.5, 0.5, 0.5), std=(0.25, 0.25, 0.25))
    with ws.run(f"train {HOSTILE}", params={"lr": 0.1, HOSTILE: 1}) as run:
        run.use("baseline")
        mv = run.register_model("clf", Net().eval(), preprocess=pre, classes=["dent", "ok"])
    ws.set_alias("clf", "production", mv.version, reason="first model")
    a = np.clip(arrays[3].astype(float) + rng.normal(0, 2, size=arrays[3].shape), 0, 255).astype(np.uint8)
    Image.fromarray(a).save(root / "prod" / "p03.png")
    logged = ws.log_predictions(pl.DataFrame({"path": [str(root / "prod" / "p03.png")], "predicted_class": ["dent"],
                                              "score": [0.9]}), model="clf@production", preprocess=pre)
    ws.embed("imgstats", progress=False)
    return {"ws": ws, "ids": ids, "mv": mv, "pid": logged["prediction_id"][0], "root": root}


def custom(widget: Any, content: dict[str, Any]) -> None:
    """Deliver ``content`` as the browser's ``model.send`` does (a comm ``custom`` message)."""
    widget._handle_msg({"content": {"data": {"method": "custom", "content": content}}, "buffers": []})


def slices(widget: LineageWidget, refs: list[dict[str, Any] | None]) -> list[bytes]:
    return [widget.thumbs[r["offset"]: r["offset"] + r["length"]] if r else b"" for r in refs]


def test_traits_hold_the_backward_chain(world: dict[str, Any]) -> None:
    ws, mv = world["ws"], world["mv"]
    chain = ws.lineage(world["pid"], k=4)
    view = lineage_view(ws, world["pid"], k=4)
    w = view.widget
    assert w.mode == "prediction" and w.summary == chain.summary()
    assert [n["kind"] for n in w.nodes] == ["prediction", "model", "run", "dataset_version", "taxonomy"]
    assert [n["edge"] for n in w.nodes] == ["", "made by", "trained in", "trained on", "labelled under"]
    pred, model, run, dv, tax = w.nodes
    assert pred["heading"] == "dent" and pred["chips"] == ["@production", "served"]
    assert {"label": "score", "value": "0.9"} in pred["fields"]
    assert pred["image_id"] == chain.prediction["image_id"] and pred["thumb"]["placeholder"] is None
    assert model["heading"] == f"clf:{mv.version[:12]}" and model["chips"] == ["@production"]
    assert run["heading"] == f"train {HOSTILE}" and run["chips"] == ["finished"]
    assert {"label": "params", "value": f"lr=0.1, {HOSTILE}=1"} in run["fields"]
    assert dv["heading"] == "baseline" and {"label": "images", "value": "12"} in dv["fields"]
    assert tax["heading"] == f"v{chain.taxonomy['version']}"
    assert not any(n["missing"] for n in w.nodes) and w.notes == []
    # the nearest training images: as ws.lineage found them, the planted near-duplicate first
    assert view.neighbors == chain.neighbors["image_id"].to_list() and len(view.neighbors) == 4
    assert view.neighbors[0] == world["ids"][3]
    first = w.neighbors[0]
    assert first["classes"] == ["dent", "dent"] and first["annotators"] == sorted(["ana", HOSTILE])
    assert first["file_name"] == f"t03{HOSTILE}.png" and first["split"]
    assert float(first["distance"]) == pytest.approx(chain.neighbors["distance"][0], rel=1e-3)
    # k + 1 thumbnails, JPEG, in one binary buffer outside the JSON state
    tiles = slices(w, [pred["thumb"]] + [n["thumb"] for n in w.neighbors])
    assert len(tiles) == 5 and all(t[:2] == JPEG for t in tiles)
    assert sum(len(t) for t in tiles) == len(w.thumbs)
    state, paths, buffers = _remove_buffers(w.get_state())
    assert ["thumbs"] in paths and "thumbs" not in state
    assert view.reviewable == [pred["image_id"], *view.neighbors]
    assert w.class_colors.keys() >= {"dent", "ok"} and all(c.startswith("#") and len(c) == 7
                                                            for c in w.class_colors.values())
    assert "3 nearest" not in repr(view) and "4 nearest training images; 0 selected" in repr(view)
    view.close()


def test_forward_chain_of_a_training_image(world: dict[str, Any]) -> None:
    ws, ids, mv = world["ws"], world["ids"], world["mv"]
    chain = ws.lineage(ids[5])
    view = lineage_view(ws, ids[5], chain=chain)
    w = view.widget
    assert w.mode == "image" and w.neighbors == []
    (image,) = w.nodes
    assert image["kind"] == "image" and image["image_id"] == ids[5] and image["heading"] == "t05.png"
    assert slices(w, [image["thumb"]])[0][:2] == JPEG
    groups = {g["kind"]: g for g in w.groups}
    assert [g["kind"] for g in w.groups] == ["versions", "models", "predictions"]
    assert groups["versions"]["count"] == 1 and groups["versions"]["rows"][0]["heading"] == "baseline"
    (row,) = groups["models"]["rows"]
    assert row["heading"] == f"clf:{mv.version[:12]}" and row["chips"] == ["@production"]
    assert {"label": "trained on", "value": "baseline"} in row["fields"]
    assert groups["models"]["note"] == "1 predictions made by these models"
    assert groups["predictions"]["count"] == 0 and groups["predictions"]["rows"] == []
    assert view.reviewable == [ids[5]]
    # the predicted image forward: its prediction listed
    pimg = ws.lineage(world["pid"]).prediction["image_id"]
    pv = lineage_view(ws, pimg)
    (pred,) = {g["kind"]: g for g in pv.widget.groups}["predictions"]["rows"]
    assert pred["heading"] == "dent" and pred["chips"] == ["@production"]
    view.close()
    pv.close()


def test_forward_lists_are_capped_with_counts(world: dict[str, Any]) -> None:
    chain = Lineage("image", image={"image_id": "x", "path": None},
                    versions=pl.DataFrame({"version_id": [f"v{i:02d}" for i in range(7)], "split": ["train"] * 7,
                                           "names": [[f"n{i}"] for i in range(7)]}))
    payload = chain_payload(chain, max_rows=3)
    versions = payload.groups[0]
    assert versions["count"] == 7 and len(versions["rows"]) == 3 and versions["more"] == 4
    assert payload.nodes[0]["thumb"] is None and payload.nodes[0]["error"] == "no image"


def test_workspace_strings_stay_text_and_our_html_is_escaped(world: dict[str, Any]) -> None:
    ws = world["ws"]
    view = lineage_view(ws, world["pid"], k=4)
    try:
        # raw in the traits: the bundle writes them with textContent
        assert view.widget.nodes[2]["heading"] == f"train {HOSTILE}"
        assert HOSTILE in view.widget.neighbors[0]["annotators"]
        src = (REPO / "js" / "widgets" / "lineage.ts").read_text()
        assert "innerHTML" not in src and "insertAdjacentHTML" not in src and "outerHTML" not in src
        assert "innerHTML" not in (STATIC / "lineage.js").read_text()
        # the review header is HTML we make: the file name escaped
        view.open_review([view.neighbors[0]])
        head = view.review_box.children[0].value
        assert html.escape(f"t03{HOSTILE}.png") in head and HOSTILE not in head
    finally:
        view.close()


def test_changed_and_missing_files_show_as_such(world: dict[str, Any], tmp_path: Path) -> None:
    ws = world["ws"]
    chain = ws.lineage(world["pid"], k=3)
    changed = tmp_path / "changed.png"
    shutil.copy(chain.neighbors["path"][0], changed)
    with changed.open("ab") as f:
        f.write(b"appended")  # same pixels, other bytes: no longer the registered image
    paths = chain.neighbors["path"].to_list()
    chain.neighbors = chain.neighbors.with_columns(
        pl.Series("path", [str(changed), str(tmp_path / "gone.png"), paths[2]]))
    view = lineage_view(ws, world["pid"], chain=chain)
    a, b, c = view.widget.neighbors
    assert a["thumb"]["placeholder"] == PLACEHOLDER_CHANGED and a["error"] is None
    assert b["thumb"]["placeholder"] == PLACEHOLDER_MISSING
    assert c["thumb"]["placeholder"] is None
    assert all(t[:2] == JPEG for t in slices(view.widget, [a["thumb"], b["thumb"], c["thumb"]]))
    view.close()


def test_clicks_select_images_and_open_them_in_review(world: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    review_module = importlib.import_module("jupyter_cvops.widgets.review")  # (the package's .review is the function)
    ws = world["ws"]
    calls: list[list[str]] = []
    real = review_module.review

    def spy(ws: Workspace, queue: Any = None, **kw: Any) -> Any:
        calls.append(list(queue))
        return real(ws, queue, **kw)

    monkeypatch.setattr(review_module, "review", spy)  # the one path to the review widget: cv.review
    view = lineage_view(ws, world["pid"], k=4, reviewer="rita")
    n = view.neighbors
    try:
        custom(view.widget, {"kind": "open", "image_id": n[2], "add": False})
        assert view.last_error is None and view.selected == [n[2]] and view.widget.selected == [n[2]]
        session = view.review_session
        assert session is not None and calls == [[n[2]]]
        assert session.queue["image_id"].to_list() == [n[2]] and session.reviewer == "rita"
        assert view.review_box.children[-1] is session.widget
        assert view.widget.status == "review of 1 image opened below"
        # ctrl-click adds: one queue of both, at the image clicked
        custom(view.widget, {"kind": "open", "image_id": n[0], "add": True})
        assert view.selected == [n[2], n[0]] and view.review_session is not session
        assert view.review_session.queue["image_id"].to_list() == [n[2], n[0]]
        assert view.review_session.selected == n[0]
        # the same images again keep the session; a decision lands in the store
        session = view.review_session
        view.open_review(at=n[2])
        assert view.review_session is session and session.selected == n[2]
        session.decide("set", class_name="ok")
        assert session.decisions["image_id"].to_list() == [n[2]]
        # "Review all": every nearest image; the predicted image is reviewable too
        custom(view.widget, {"kind": "open_all"})
        assert view.selected == n and view.review_session.queue.height == 4
        pimg = view.widget.nodes[0]["image_id"]
        custom(view.widget, {"kind": "open", "image_id": pimg})
        assert view.selected == [pimg] and view.review_session.selected == pimg
        assert len(calls) == 4
        # errors become the status line
        custom(view.widget, {"kind": "open", "image_id": "nope"})
        assert view.widget.status.startswith("error: 1 image ids are not shown")
        custom(view.widget, {"kind": "explode"})
        assert view.widget.status == "error: unknown message kind 'explode'"
        assert isinstance(view.last_error, ValueError)
        with pytest.raises(TypeError, match="not one string"):
            view.select(n[0])
        with pytest.raises(ValueError, match="not among the images"):
            view.open_review([n[1]], at=n[3])
    finally:
        view.close()


def test_a_broken_chain_shows_missing_nodes_and_notes(world: dict[str, Any]) -> None:
    chain = Lineage("prediction", prediction={"prediction_id": "p" * 32, "predicted_class": "dent", "image_id": None,
                                              "model": "clf", "model_version": "f" * 32, "status": "ok"},
                    notes=["model version clf:ffffffffffff is not registered here"])
    view = lineage_view(world["ws"], "p" * 32, chain=chain)
    w = view.widget
    assert [n["missing"] for n in w.nodes] == [False, True, True, True, True]
    assert w.nodes[0]["error"] == "the image could not be read when predicted" and w.nodes[0]["thumb"] is None
    assert w.notes == chain.notes and w.neighbors == [] and view.reviewable == []
    custom(w, {"kind": "open_all"})
    assert w.status == "error: no nearest training images to review"
    with pytest.raises(ValueError, match="nothing to review"):
        view.open_review()
    view.close()


def test_arguments_are_checked(world: dict[str, Any]) -> None:
    ws = world["ws"]
    with pytest.raises(ValueError, match="k must be"):
        LineageView(ws, world["pid"], k=0)
    with pytest.raises(ValueError, match="thumb_size"):
        LineageView(ws, world["pid"], thumb_size=8)
    with pytest.raises(cv.WorkspaceError, match="no prediction or image"):
        lineage_view(ws, "nope")


def test_public_name() -> None:
    import jupyter_cvops.widgets as widgets

    assert cv.lineage_view is lineage_view and "lineage_view" in cv.__all__ and "lineage_view" in dir(cv)
    assert widgets.lineage_view is lineage_view and "LineageView" in widgets.__all__
