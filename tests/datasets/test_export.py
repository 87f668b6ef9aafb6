"""ws.export: real exports imported, snapshotted, exported as COCO / YOLO / CVAT / Label Studio and imported
into a fresh workspace with no options give the same labels; selections are snapshotted and named."""

from __future__ import annotations

import json
import shutil
import xml.etree.ElementTree as ET
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pytest
import yaml
from PIL import Image

from jupyter_cvops import Workspace, WorkspaceError

F = Path("formats")
LS = F / "label-studio-sdk"
FORMATS = ["coco", "yolo", "cvat", "labelstudio"]
#: Label Studio exports round-trip through their annotations; by default they hold predictions only.
OPTIONS: dict[str, dict[str, Any]] = {"labelstudio": {"as_annotations": True}}


def _ls_copy(shared_data: Path, tmp: Path, name: str, images: dict[str, str]) -> Path:
    """A Label Studio export with its images (the exports ship none): files of the sizes the tasks give,
    the tasks' image URLs pointing at them."""
    folder = tmp / name
    folder.mkdir(parents=True)
    shutil.copy(shared_data / LS / name / "label_config.xml", folder)
    tasks = json.loads((shared_data / LS / name / "data.json").read_text())
    for n, task in enumerate(tasks):
        sizes = [(r["original_width"], r["original_height"]) for a in task.get("annotations", [])
                 for r in a["result"] if "original_width" in r]
        file = images[task["data"]["image"]]
        Image.new("L", sizes[0], 40 + n).save(folder / file)
        task["data"]["image"] = file
    (folder / "data.json").write_text(json.dumps(tasks))
    return folder / "data.json"


def _source(shared_data: Path, tmp: Path, case: str) -> tuple[Path, str, dict[str, Any]]:
    """(export, format, import options) of a real export whose images are there."""
    if case == "cvat-task":
        return shared_data / F / "datumaro/cvat_dataset/for_images/export_task/train.xml", "cvat", {}
    if case == "cvat-project":
        return shared_data / F / "datumaro/cvat_dataset/for_images/export_project/annotations.xml", "cvat", {}
    if case == "concretenet":  # 8 of its 48 images are there
        concrete = shared_data / F / "cvat-export-concretenet"
        return concrete / "annotations.xml", "cvat", {"data_root": concrete / "data/Cleaned/Training/GP8000"}
    if case == "voc-neu":
        return shared_data / F / "voc-neu-det", "voc", {"annotator": "neu"}
    if case == "ls-two-annotators":
        return _ls_copy(shared_data, tmp, "test_export_yolo", {"/image1": "image1.png", "/image2": "image2.png"}), \
            "labelstudio", {}
    if case == "ls-polygon":
        return _ls_copy(shared_data, tmp, "test_export_coco", {"test_image1.jpg": "test_image1.jpg"}), \
            "labelstudio", {}
    raise KeyError(case)


CASES = ["cvat-task", "cvat-project", "concretenet", "voc-neu", "ls-two-annotators", "ls-polygon"]
_built: dict[str, tuple[Workspace, Any]] = {}


@pytest.fixture()
def source(request: pytest.FixtureRequest, shared_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Any:
    """(workspace with the real export imported, its snapshot), built once per case."""
    case = request.param
    if case not in _built:
        tmp = tmp_path_factory.mktemp(case)
        path, fmt, kw = _source(shared_data, tmp, case)
        ws = Workspace.create(tmp / "ws")
        rep = ws.import_annotations(path, format=fmt, progress=False, **kw)
        assert rep.n_labels_added > 0
        _built[case] = (ws, ws.snapshot(name=case))
    return _built[case]


def _labels(ws: Workspace) -> dict[str, list[tuple[Any, ...]]]:
    """(kind, class, annotator, box) per image id, sorted."""
    out: dict[str, list[tuple[Any, ...]]] = defaultdict(list)
    cols = ["image_id", "kind", "class_name", "annotator", "x0", "y0", "x1", "y1"]
    for iid, kind, cls, who, *box in ws.annotations().select(cols).iter_rows():
        out[iid].append((kind, cls, who, tuple(box) if box[0] is not None else ()))
    return {k: sorted(v, key=lambda t: (t[0], t[1], t[2], t[3])) for k, v in out.items()}


def _assert_same(a: dict[str, list[tuple[Any, ...]]], b: dict[str, list[tuple[Any, ...]]], atol: float) -> None:
    assert a.keys() == b.keys()
    for k in a:
        assert [t[:3] for t in a[k]] == [t[:3] for t in b[k]], k
        boxes_a = np.array([t[3] for t in a[k] if t[3]], dtype=float)
        boxes_b = np.array([t[3] for t in b[k] if t[3]], dtype=float)
        assert boxes_a.shape == boxes_b.shape
        if boxes_a.size:
            assert np.abs(boxes_a - boxes_b).max() <= atol, k


@pytest.mark.parametrize("source", CASES, indirect=True)
@pytest.mark.parametrize("fmt", FORMATS)
def test_export_import_gives_the_same_labels(source: Any, fmt: str, tmp_path: Path) -> None:
    ws, v = source
    out = ws.export(v, tmp_path / fmt, format=fmt, copy_images=True, **OPTIONS.get(fmt, {}))
    fresh = Workspace.create(tmp_path / "fresh")
    rep = fresh.import_annotations(out, format=fmt, progress=False)  # no options
    assert rep.problems == [], rep
    assert rep.n_images_found == rep.n_images and rep.n_labels_added == v.n_labels
    assert set(fresh.images()["image_id"]) == set(v.items()["image_id"])
    # YOLO keeps 10 decimals of normalized coordinates; the others keep pixels (LS: percent) to float precision
    _assert_same(_labels(ws), _labels(fresh), atol=1e-3 if fmt == "yolo" else 1e-6)
    again = fresh.import_annotations(out, format=fmt, progress=False)
    assert again.n_labels_added == 0  # the same export adds nothing


@pytest.mark.parametrize("source", ["voc-neu", "ls-two-annotators"], indirect=True)
@pytest.mark.parametrize("fmt", FORMATS)
def test_export_in_place_finds_registered_images(source: Any, fmt: str, tmp_path: Path) -> None:
    ws, v = source
    out = ws.export(v, tmp_path / fmt, format=fmt, copy_images=False, **OPTIONS.get(fmt, {}))  # no bytes copied
    assert not (tmp_path / fmt / "images").exists()
    fresh = Workspace.create(tmp_path / "fresh")
    fresh.add_images(ws.images()["path"].to_list(), progress=False)  # the images, registered first
    rep = fresh.import_annotations(out, format=fmt, progress=False)  # no options
    assert rep.problems == [] and rep.n_images_found == rep.n_images, rep  # CVAT: an <image> per annotator
    assert set(fresh.images()["image_id"]) == set(v.items()["image_id"])
    _assert_same(_labels(ws), _labels(fresh), atol=1e-3 if fmt == "yolo" else 1e-6)
    # a workspace that never saw the images does not read files outside the export's folder
    stranger = Workspace.create(tmp_path / "stranger")
    rep = stranger.import_annotations(out, format=fmt, progress=False)
    assert rep.n_images_found == 0 and stranger.images().height == 0
    assert any("escapes data root" in p.reason for p in rep.problems)


def test_names_are_relative_and_links_are_hard(shared_data: Path, tmp_path: Path) -> None:
    imgs = tmp_path / "data" / "imgs"
    shutil.copytree(shared_data / "images" / "neu-surface-defects", imgs)
    ws = Workspace.create(tmp_path / "ws")
    ws.add_images(imgs, progress=False)
    ids = ws.images()["image_id"].to_list()
    ws.add_annotations(pl.DataFrame({"image_id": ids, "annotator": "ana", "class_name": "ok", "kind": "image"}))
    v = ws.snapshot(name="all")
    xml = ws.export(v, tmp_path / "exports" / "cvat", format="cvat", copy_images=False)
    names = [im.get("name") for im in ET.parse(xml).getroot().iter("image")]
    assert all(n and n.startswith("../../data/imgs/") for n in names)  # from the XML's folder to the files
    coco = ws.export(v, tmp_path / "exports" / "coco", format="coco", copy_images=False)
    doc = json.loads((next(coco.glob("*.json")) if coco.is_dir() else coco).read_text())
    assert doc["images"][0]["file_name"].startswith("../../../data/imgs/")  # from annotations/
    linked = ws.export(v, tmp_path / "exports" / "linked", format="cvat", copy_images="link")
    copied = sorted((linked.parent / "images").iterdir())
    assert len(copied) == 30 and all(p.stat().st_nlink == 2 for p in copied)  # hard links, no bytes copied
    fresh = Workspace.create(tmp_path / "fresh")
    assert fresh.import_annotations(linked, format="cvat", progress=False).n_labels_added == 30


def test_labelstudio_default_is_predictions(tmp_path: Path, shared_data: Path) -> None:
    path, fmt, _ = _source(shared_data, tmp_path, "ls-two-annotators")
    ws = Workspace.create(tmp_path / "ws")
    ws.import_annotations(path, format=fmt, progress=False)
    v = ws.snapshot(name="ls")
    out = ws.export(v, tmp_path / "ls-out", format="labelstudio", copy_images=True)
    tasks = json.loads(out.read_text())
    assert sum(len(p["result"]) for t in tasks for p in t["predictions"]) == v.n_labels
    assert all("annotations" not in t and t["meta"]["cvops"]["dataset_version"] == v.id for t in tasks)
    assert {p["model_version"] for t in tasks for p in t["predictions"]} == {
        f"jupyter-cvops {v.id}: 1", f"jupyter-cvops {v.id}: 2"}
    fresh = Workspace.create(tmp_path / "fresh")
    rep = fresh.import_annotations(out, format="labelstudio", progress=False)
    assert rep.problems == [] and rep.n_images_found == v.n_images and rep.n_labels_added == 0


def _coco_info(out: Path) -> dict[str, Any]:
    """``info`` of a COCO export (one JSON, or a folder of one per split: all say the same)."""
    files = sorted(out.glob("*.json")) if out.is_dir() else [out]
    infos = [json.loads(f.read_text())["info"] for f in files]
    assert all(i == infos[0] for i in infos)
    info: dict[str, Any] = infos[0]
    return info


class _View:
    """Stands in for the drift view: its selection is a list of image ids."""

    def __init__(self, selected: list[str]) -> None:
        self.selected = selected


def test_selections_are_snapshotted_and_named(shared_data: Path, tmp_path: Path) -> None:
    ws = Workspace.create(tmp_path / "ws")
    ws.import_annotations(shared_data / F / "voc-neu-det", format="voc", annotator="neu", progress=False)
    ids = ws.images()["image_id"].sort().to_list()
    ws.add_annotations(pl.DataFrame({"image_id": ids[:6], "annotator": "ben", "class_name": "scratches",
                                     "kind": "image"}))
    queue = ws.review_queue(pl.col("n_annotators") > 1)
    assert queue.height == 6
    selections = {"queue": queue, "ids": ids[10:14], "view": _View(ids[20:23]), "series": pl.Series(ids[30:32])}
    sizes = {"queue": 6, "ids": 4, "view": 3, "series": 2}
    for (kind, sel), fmt in zip(selections.items(), ["coco", "cvat", "labelstudio", "yolo"], strict=True):
        out = ws.export(sel, tmp_path / kind, format=fmt)
        made = ws.versions().sort("created_at").row(-1, named=True)
        assert made["name"] is None and made["n_images"] == sizes[kind]
        assert made["message"] == f"export selection of {sizes[kind]} images as {fmt}"
        vid = made["id"]
        if fmt == "coco":
            assert _coco_info(out)["dataset_version"] == vid
        elif fmt == "cvat":
            assert ET.parse(out).getroot().findtext("meta/cvops/dataset_version") == vid
        elif fmt == "labelstudio":
            assert {t["meta"]["cvops"]["dataset_version"] for t in json.loads(out.read_text())} == {vid}
        else:
            assert json.loads((out.parent / "cvops_meta.json").read_text())["source"]["dataset_version"] == vid
            assert yaml.safe_load(out.read_text())["nc"] >= 1
        event = json.loads(ws.events().filter(pl.col("op") == "dataset.export")["details"][-1])
        assert event["version_id"] == vid and event["selection"] == "selection"
    v = ws.snapshot(name="neu-all")
    for handle in ("neu-all", v.id, v.id[:8]):  # a version by name, id or id prefix
        out = ws.export(handle, tmp_path / "by-handle", format="coco")
        assert _coco_info(out)["dataset_version"] == v.id
    n_versions = ws.versions().height
    with pytest.raises(WorkspaceError, match="not registered"):
        ws.export(["f" * 32], tmp_path / "nope", format="coco")
    with pytest.raises(ValueError, match="image_id"):
        ws.export(pl.DataFrame({"path": ["x"]}), tmp_path / "nope", format="coco")
    with pytest.raises(ValueError, match="cannot export as"):
        ws.export(ids[:2], tmp_path / "nope", format="pascal")  # type: ignore[arg-type]
    assert ws.versions().height == n_versions  # refused selections leave no version behind
