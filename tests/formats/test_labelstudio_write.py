"""Label Studio writer: tasks with predictions (and annotations on request), the labeling config, checked
against our reader and label-studio-sdk (config parser, prediction validation, converter)."""

from __future__ import annotations

import copy
import json
from collections import defaultdict
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from jupyter_cvops.formats import labelstudio
from jupyter_cvops.formats._types import AnnotationRecord, ExportImage, ImportResult

LS = Path("formats/label-studio-sdk")
REAL = ["test_export_yolo", "test_export_coco", "test_export_json_min"]


def _export_images(res: ImportResult, folder: Path) -> list[ExportImage]:
    """The export's images as files of the right size (the Label Studio exports ship none)."""
    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for n, r in enumerate(res.images):
        assert r.width and r.height
        name = f"{Path(r.file_name).stem or 'img'}_{n}.png"
        Image.new("L", (r.width, r.height), n).save(folder / name)
        out.append(ExportImage(r.key, folder / name, name, r.width, r.height))
    return out


def _labels(res: ImportResult) -> dict[int, list[tuple[Any, ...]]]:
    """(kind, class, annotator, created_at, box) per image position, sorted (task ids change on export)."""
    where = {r.key: n for n, r in enumerate(res.images)}
    out: dict[int, list[tuple[Any, ...]]] = defaultdict(list)
    for a in res.annotations:
        out[where[a.image_key]].append((a.kind, a.class_name, a.annotator, a.created_at, a.bbox or ()))
    return {k: sorted(v, key=lambda t: (t[0], t[1], str(t[2]), str(t[3]), t[4])) for k, v in out.items()}


def _assert_same(a: dict[int, list[tuple[Any, ...]]], b: dict[int, list[tuple[Any, ...]]]) -> None:
    assert a.keys() == b.keys()
    for k in a:
        assert [t[:4] for t in a[k]] == [t[:4] for t in b[k]], k
        boxes_a = np.array([t[4] for t in a[k] if t[4]], dtype=float)
        boxes_b = np.array([t[4] for t in b[k] if t[4]], dtype=float)
        assert boxes_a.shape == boxes_b.shape
        if boxes_a.size:
            assert np.abs(boxes_a - boxes_b).max() <= 1e-6, k  # percent and back


@pytest.fixture(params=REAL)
def real(request: pytest.FixtureRequest, shared_data: Path, tmp_path: Path) -> tuple[ImportResult, list[ExportImage]]:
    res = labelstudio.read(shared_data / LS / request.param / "data.json")
    return res, _export_images(res, tmp_path / "imgs")


def test_as_annotations_round_trips(real: tuple[ImportResult, list[ExportImage]], tmp_path: Path) -> None:
    before, images = real
    out = labelstudio.write(tmp_path / "out", images, before.annotations, before.categories,
                            as_annotations=True, copy_images=True)
    after = labelstudio.read(out)  # no options: label_config.xml beside it, images under it
    assert after.problems == [] and all(r.path is not None for r in after.images)
    assert after.categories == before.categories
    _assert_same(_labels(before), _labels(after))
    polys = [a.polygon for a in before.annotations if a.polygon]
    polys_after = [a.polygon for a in after.annotations if a.polygon]
    assert len(polys) == len(polys_after)
    for pa, pb in zip(polys, polys_after, strict=True):
        assert np.allclose(pa, pb, rtol=0, atol=1e-9)


def test_default_writes_predictions_not_labels(real: tuple[ImportResult, list[ExportImage]], tmp_path: Path) -> None:
    before, images = real
    out = labelstudio.write(tmp_path / "out", images, before.annotations, before.categories,
                            meta={"dataset_version": "0123456789abcdef"})
    tasks = json.loads(out.read_text())
    assert all("annotations" not in t for t in tasks)
    assert {t["meta"]["cvops"]["dataset_version"] for t in tasks} == {"0123456789abcdef"}
    after = labelstudio.read(out, data_root=tmp_path)
    assert after.annotations == [] and after.problems == []  # predictions are not labels
    assert [r.path for r in after.images] == [im.path for im in images]
    # the predictions hold the labels: one per annotator, named after where they came from
    as_ann = copy.deepcopy(tasks)
    for t in as_ann:
        t["annotations"] = [{"id": f"{t['id']}-{n}", "result": p["result"],
                             "last_created_by": p["model_version"].rsplit(": ", 1)[1]}
                            for n, p in enumerate(t.pop("predictions"))]
        assert all(a["last_created_by"] for a in t["annotations"])
    (tmp_path / "out" / "accepted.json").write_text(json.dumps(as_ann))
    accepted = labelstudio.read(tmp_path / "out" / "accepted.json", data_root=tmp_path)
    strip = {k: [t[:3] + t[4:] for t in v] for k, v in _labels(before).items()}  # predictions carry no times
    got = {k: [t[:3] + t[4:] for t in v] for k, v in _labels(accepted).items()}
    assert strip.keys() == got.keys()
    for k in strip:
        assert [t[:3] for t in strip[k]] == [t[:3] for t in got[k]]
        assert np.allclose([t[3] for t in strip[k] if t[3]], [t[3] for t in got[k] if t[3]], rtol=0, atol=1e-6)
    versions = {p["model_version"] for t in tasks for p in t["predictions"]}
    assert versions == {f"jupyter-cvops 0123456789abcdef: {a.annotator}" for a in before.annotations}


def test_reader_ignores_predictions(tmp_path: Path) -> None:
    task = {"id": 7, "data": {"image": "a.png"},
            "predictions": [{"model_version": "m", "result": [
                {"type": "rectanglelabels", "from_name": "label", "to_name": "image", "original_width": 10,
                 "original_height": 10, "value": {"x": 10, "y": 10, "width": 50, "height": 50,
                                                  "rectanglelabels": ["dent"]}}]}],
            "annotations": [{"id": 1, "completed_by": 3, "result": [
                {"type": "choices", "from_name": "class", "to_name": "image", "value": {"choices": ["ok"]}}]}]}
    (tmp_path / "data.json").write_text(json.dumps([task]))
    res = labelstudio.read(tmp_path / "data.json")
    assert [(a.kind, a.class_name, a.annotator) for a in res.annotations] == [("image", "ok", "3")]
    assert res.problems == []


def test_layout_and_config(tmp_path: Path) -> None:
    src = tmp_path / "imgs"
    src.mkdir()
    Image.new("RGB", (200, 100)).save(src / "a b+c.png")
    images = [ExportImage("ka", src / "a b+c.png", "a b+c.png", 200, 100, split="val")]
    t = datetime(2026, 3, 1, 12, 30, tzinfo=timezone.utc)
    anns = [AnnotationRecord("ka", "dent", bbox=(20, 10, 120, 60), annotator="ana", created_at=t),
            AnnotationRecord("ka", "scratch", bbox=(0, 0, 4, 2), polygon=[[0, 0, 4, 0, 4, 2]], annotator="ana"),
            AnnotationRecord("ka", "ok", kind="image", annotator="ana"),
            AnnotationRecord("ka", "rust", kind="image", annotator="ana"),
            AnnotationRecord("ka", "dent", bbox=(21, 10, 120, 60), annotator="ben")]
    out = labelstudio.write(tmp_path / "out", images, anns, ["dent", "scratch", "ok", "rust"], as_annotations=True)
    assert out == tmp_path / "out" / "tasks.json"
    (task,) = json.loads(out.read_text())
    assert task["data"] == {"image": "/data/local-files/?d=../imgs/a%20b%2Bc.png"}  # relative to the export
    assert task["meta"] == {"cvops": {"image_key": "ka", "split": "val"}}
    pred_ana, pred_ben = task["predictions"]
    assert (pred_ana["model_version"], pred_ben["model_version"]) == ("jupyter-cvops: ana", "jupyter-cvops: ben")
    box, poly, cls = pred_ana["result"]
    assert box["type"] == "rectanglelabels" and (box["from_name"], box["to_name"]) == ("label", "image")
    assert (box["original_width"], box["original_height"]) == (200, 100)
    assert box["value"] == {"x": 10.0, "y": 10.0, "width": 50.0, "height": 50.0, "rotation": 0,
                            "rectanglelabels": ["dent"]}
    assert poly["type"] == "polygonlabels" and poly["from_name"] == "polygon"
    assert poly["value"]["points"] == [[0.0, 0.0], [2.0, 0.0], [2.0, 2.0]]
    assert cls == {"id": "r3", "type": "choices", "from_name": "class", "to_name": "image",
                   "value": {"choices": ["ok", "rust"]}}
    assert [(a["last_created_by"], a.get("created_at")) for a in task["annotations"]] == [
        ("ana", "2026-03-01T12:30:00+00:00"), ("ana", None), ("ben", None)]  # one per annotator and time
    config = (tmp_path / "out" / "label_config.xml").read_text()
    assert 'choice="multiple"' in config and "<PolygonLabels" in config  # as the labels need
    back = labelstudio.read(out, data_root=tmp_path)
    assert back.problems == [] and back.images[0].path == src / "a b+c.png"
    assert sorted((a.class_name, a.annotator, a.created_at, a.bbox) for a in back.annotations) == [
        ("dent", "ana", t, (20.0, 10.0, 120.0, 60.0)), ("dent", "ben", None, (21.0, 10.0, 120.0, 60.0)),
        ("ok", "ana", None, None), ("rust", "ana", None, None), ("scratch", "ana", None, (0.0, 0.0, 4.0, 2.0))]


def test_label_studio_sdk_accepts_our_export(real: tuple[ImportResult, list[ExportImage]], tmp_path: Path) -> None:
    li_mod = pytest.importorskip("label_studio_sdk.label_interface")
    before, images = real
    out = labelstudio.write(tmp_path / "out", images, before.annotations, before.categories,
                            as_annotations=True, copy_images=True)
    config = (out.parent / "label_config.xml").read_text()
    li = li_mod.LabelInterface(config)
    li.validate()  # raises on an invalid config
    assert sorted(li.controls, key=lambda c: c.name)[0].to_name == ["image"]
    assert {c.name: sorted(c.labels) for c in li.controls} == {
        c.name: sorted(before.categories) for c in li.controls}
    tasks = json.loads(out.read_text())
    for t in tasks:
        for p in t["predictions"]:
            assert li.validate_prediction(p, return_errors=True) == []
        for a in t["annotations"]:
            assert li.validate_annotation(a)


def test_label_studio_converter_reads_our_boxes(real: tuple[ImportResult, list[ExportImage]], tmp_path: Path) -> None:
    pytest.importorskip("label_studio_sdk")
    from label_studio_sdk.converter import Converter

    before, images = real
    out = labelstudio.write(tmp_path / "out", images, before.annotations, before.categories,
                            as_annotations=True, copy_images=True)
    conv = Converter(config=str(out.parent / "label_config.xml"), project_dir=str(out.parent),
                     download_resources=False)
    conv.convert_to_coco(str(out), str(tmp_path / "coco"), is_dir=False)
    doc = json.loads((tmp_path / "coco" / "result.json").read_text())
    cats = {c["id"]: c["name"] for c in doc["categories"]}
    size = {im["id"]: (im["width"], im["height"]) for im in doc["images"]}
    theirs = sorted((cats[a["category_id"]], *np.round(a["bbox"], 4)) for a in doc["annotations"])
    ours = sorted((a.class_name, *np.round([a.bbox[0], a.bbox[1], a.bbox[2] - a.bbox[0], a.bbox[3] - a.bbox[1]], 4))
                  for a in before.annotations if a.bbox is not None)
    assert len(theirs) == len(ours)
    for t, o in zip(theirs, ours, strict=True):
        assert t[0] == o[0] and np.allclose(t[1:], o[1:], atol=1e-3)
    assert set(size.values()) == {(im.width, im.height) for im in images}  # an image per annotation


def test_data_root_holding_export_and_images(tmp_path: Path) -> None:
    src = tmp_path / "data" / "imgs"
    src.mkdir(parents=True)
    Image.new("RGB", (8, 8)).save(src / "a.png")
    images = [ExportImage("k", src / "a.png", "a.png", 8, 8)]
    out = labelstudio.write(tmp_path / "exports" / "2026" / "ls", images,
                            [AnnotationRecord("k", "c", bbox=(1, 1, 2, 2), annotator="ana")], ["c"],
                            as_annotations=True)
    assert json.loads(out.read_text())[0]["data"]["image"] == "/data/local-files/?d=../../../data/imgs/a.png"
    back = labelstudio.read(out, data_root=tmp_path)  # relative to the JSON, under any root holding both
    assert back.problems == [] and back.images[0].path == src / "a.png"
    assert [(a.class_name, a.annotator, a.bbox) for a in back.annotations] == [("c", "ana", (1.0, 1.0, 2.0, 2.0))]
