"""Malformed files raise FormatError (file name, one line); bad records are skipped with a reason."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from jupyter_cvops import formats
from jupyter_cvops.formats import FormatError

F = Path("formats")
COCO_VAL = F / "datumaro/coco_dataset/coco/annotations/instances_val.json"
CVAT_TASK = F / "datumaro/cvat_dataset/for_images/export_task/train.xml"
LS_YOLO = F / "label-studio-sdk/test_export_yolo"
VOC1 = F / "datumaro/voc_dataset/voc_dataset1/Annotations/2007_000001.xml"


def _copy(shared_data: Path, rel: Path, tmp_path: Path) -> Path:
    dest = tmp_path / rel.name
    shutil.copy(shared_data / rel, dest)
    return dest


def _truncate(f: Path) -> Path:
    data = f.read_bytes()
    f.write_bytes(data[: len(data) // 2])
    return f


def _assert_format_error(path: Path, fmt: str, name: str, **kw: object) -> str:
    with pytest.raises(FormatError) as info:
        formats.read(path, fmt, **kw)
    msg = str(info.value)
    assert msg.startswith(f"{name}: ") and "\n" not in msg, msg
    return msg


def test_truncated_files(shared_data: Path, tmp_path: Path) -> None:
    msg = _assert_format_error(_truncate(_copy(shared_data, COCO_VAL, tmp_path)), "coco", "instances_val.json")
    assert "malformed JSON" in msg
    msg = _assert_format_error(_truncate(_copy(shared_data, CVAT_TASK, tmp_path)), "cvat", "train.xml")
    assert "malformed XML" in msg
    (tmp_path / "ls").mkdir()
    shutil.copy(shared_data / LS_YOLO / "label_config.xml", tmp_path / "ls")
    _truncate(_copy(shared_data, LS_YOLO / "data.json", tmp_path / "ls"))
    _assert_format_error(tmp_path / "ls" / "data.json", "labelstudio", "data.json")
    voc_dir = tmp_path / "voc"
    shutil.copytree(shared_data / "formats" / "voc-neu-det" / "ANNOTATIONS", voc_dir)
    _truncate(voc_dir / "patches_7.xml")  # one bad file among 300: nothing is returned
    _assert_format_error(voc_dir, "voc", "patches_7.xml")


def test_wrong_top_level_types(tmp_path: Path) -> None:
    f = tmp_path / "instances_x.json"
    f.write_text("[1, 2]")
    assert "got list" in _assert_format_error(f, "coco", "instances_x.json")
    f.write_text(json.dumps({"images": {}, "annotations": []}))
    assert "'images' must be a list" in _assert_format_error(f, "coco", "instances_x.json")
    f.write_text(json.dumps({"annotations": []}))
    assert "no 'images'" in _assert_format_error(f, "coco", "instances_x.json")
    f = tmp_path / "export.json"
    f.write_text(json.dumps({"id": 1}))
    assert "list of tasks" in _assert_format_error(f, "labelstudio", "export.json")
    f = tmp_path / "annotations.xml"
    f.write_text("<annotation/>")
    assert "<annotations> root" in _assert_format_error(f, "cvat", "annotations.xml")
    f = tmp_path / "a.xml"
    f.write_text("<annotations/>")
    assert "<annotation> root" in _assert_format_error(f, "voc", "a.xml")
    y = tmp_path / "data.yaml"
    y.write_text("- just\n- a list\n")
    assert "YAML mapping" in _assert_format_error(y, "yolo", "data.yaml")
    y.write_text("names: [a, b\ntrain: x\n")
    assert "malformed YAML" in _assert_format_error(y, "yolo", "data.yaml")
    assert "no such file" in _assert_format_error(tmp_path / "nope.json", "coco", "nope.json")


def test_bad_label_config_and_unknown_format(shared_data: Path, tmp_path: Path) -> None:
    (tmp_path / "label_config.xml").write_text("<View><RectangleLabels>")
    shutil.copy(shared_data / LS_YOLO / "data.json", tmp_path)
    _assert_format_error(tmp_path / "data.json", "labelstudio", "label_config.xml")
    with pytest.raises(ValueError, match="choose one of coco, cvat, labelstudio, yolo, voc"):
        formats.read(tmp_path / "data.json", "createml")


def _coco_doc(images: list[dict], annotations: list[dict]) -> dict:
    return {"images": images, "annotations": annotations, "categories": [{"id": 1, "name": "dent"}]}


def test_coco_record_problems(tmp_path: Path) -> None:
    root = tmp_path / "root"
    (root / "images").mkdir(parents=True)
    (root / "images" / "ok.jpg").write_bytes(b"x")
    outside = tmp_path / "secret.jpg"
    outside.write_bytes(b"secret")
    os.symlink(outside, root / "images" / "link.jpg")
    img = {"width": 100, "height": 50}
    images = [
        {"id": 1, "file_name": "ok.jpg", **img},
        {"id": 2, "file_name": "../../secret.jpg", **img},
        {"id": 3, "file_name": str(outside), **img},
        {"id": 4, "file_name": "link.jpg", **img},
        {"id": 1, "file_name": "dup.jpg", **img},
        {"file_name": "noid.jpg"},
    ]
    box = {"image_id": 1, "category_id": 1}
    anns = [
        {"id": 1, **box, "bbox": [10, 10, 20, 20]},
        {"id": 2, **box, "category_id": 9, "bbox": [10, 10, 20, 20]},
        {"id": 3, **box, "bbox": [10, 10, 0, 5]},
        {"id": 4, **box, "bbox": [10, 10, -5, 5]},
        {"id": 5, **box, "bbox": [200, 10, 5, 5]},
        {"id": 6, **box, "bbox": [90, 10, 12, 5]},
        {"id": 7, **box, "bbox": [-0.6, 10, 20.6, 5]},
        {"id": 1, **box, "bbox": [10, 10, 20, 20]},
        {"id": 8, "image_id": 1, "bbox": [1, 1, 2, 2]},
        {"id": 9, **box, "image_id": 77, "bbox": [1, 1, 2, 2]},
        {"id": 10, **box, "bbox": ["a", 1, 2, 2]},
        {"id": 11, **box, "bbox": [1, 1, 2, 2], "keypoints": [1, 1, 2]},
    ]
    f = root / "instances_default.json"
    f.write_text(json.dumps(_coco_doc(images, anns)))
    res = formats.read(f, "coco")
    assert [(i.key, i.path is not None) for i in res.images] == [("1", True), ("2", False), ("3", False), ("4", False)]
    kept = res.annotations
    assert [a.bbox for a in kept] == [(10.0, 10.0, 30.0, 30.0), (0.0, 10.0, 20.0, 15.0)]
    assert kept[1].attributes == {"clipped": True}
    problems = {p.record: p.reason for p in res.problems}
    assert problems["images[1]"] == "path escapes data root: ../../secret.jpg"
    assert problems["images[2]"].startswith("path escapes data root")
    assert problems["images[3]"] == "path escapes data root: link.jpg"  # symlink pointing out
    assert problems["images[4]"].startswith("duplicate image id 1")
    assert problems["images[5]"] == "image without an 'id' and a 'file_name'"
    assert problems["annotations[1]"] == "unknown category id 9"
    assert problems["annotations[2]"].startswith("box has negative or zero size")
    assert problems["annotations[3]"].startswith("box has negative or zero size")
    assert "lies outside the 100x50 image" in problems["annotations[4]"]
    assert "extends 2 px past the 100x50 image" in problems["annotations[5]"]
    assert problems["annotations[7]"] == "duplicate annotation id 1"
    assert problems["annotations[8]"] == "missing required key(s) 'category_id'"
    assert problems["annotations[9]"] == "unknown image id 77"
    assert problems["annotations[10]"].startswith("bbox is not four numbers")
    assert problems["annotations[11]"] == "keypoints are not supported (skipped)"
    assert len(res.problems) == 15


def test_cvat_record_problems(tmp_path: Path) -> None:
    f = tmp_path / "annotations.xml"
    f.write_text("""<annotations><version>1.1</version>
<image id="0" name="/etc/hostname" width="10" height="10"><box label="a" xtl="1" ytl="1" xbr="x" ybr="4"/></image>
<image id="0" name="b.jpg" width="10" height="10"><box label="a" xtl="1" ytl="1" xbr="4" ybr="4"/></image>
<image name="c.jpg"/>
<image id="1" name="d.jpg" width="10" height="10"><box label="a" xtl="1" ytl="1" xbr="4" ybr="4"/></image>
</annotations>""")
    res = formats.read(f, "cvat")
    assert [i.key for i in res.images] == ["0", "1"] and len(res.annotations) == 1
    assert [(p.record, p.reason) for p in res.problems] == [
        ("image[0]", "path escapes data root: /etc/hostname"),
        ("image[0]/box[0]", "<box> has missing or non-numeric coordinates"),
        ("image[1]", "duplicate image id '0'"),
        ("image[2]", "image without an 'id' and a 'name'"),
    ]


def test_labelstudio_record_problems(shared_data: Path, tmp_path: Path) -> None:
    tasks = json.loads((shared_data / LS_YOLO / "data.json").read_text())
    tasks[1]["annotations"][0]["result"][0]["value"]["rectanglelabels"] = ["mouse"]
    tasks[1]["data"]["image"] = "/data/local-files/?d=../../etc/passwd"
    tasks.append(json.loads(json.dumps(tasks[0])))  # duplicate task id
    dup = json.loads(json.dumps(tasks[1]))
    dup["id"] = 99  # new task, but annotation id 3 again
    tasks.append(dup)
    shutil.copy(shared_data / LS_YOLO / "label_config.xml", tmp_path)
    (tmp_path / "data.json").write_text(json.dumps(tasks))
    res = formats.read(tmp_path / "data.json", "labelstudio")
    assert [i.key for i in res.images] == ["1", "2", "99"] and len(res.annotations) == 5
    assert [(p.record, p.reason) for p in res.problems] == [
        ("tasks[1]", "path escapes data root: ../../etc/passwd"),
        ("tasks[1].annotations[0].result[0]", "label 'mouse' is not in the labeling config"),
        ("tasks[2]", "duplicate task id 1"),
        ("tasks[3]", "path escapes data root: ../../etc/passwd"),
        ("tasks[3].annotations[0]", "duplicate annotation id 3"),
    ]


def test_yolo_record_problems(tmp_path: Path) -> None:
    (tmp_path / "labels").mkdir()
    (tmp_path / "obj.names").write_text("a\nb\n")
    (tmp_path / "labels" / "x.txt").write_text("0 0.5 0.5 0.2 0.2\n2 0.5 0.5 0.2 0.2\n-1 0.5 0.5 0.1 0.1\n"
                                               "a b c d e\n0 0.5 0.5\n0 1.8 0.5 0.2 0.2\n0 0.5 0.5 0.2\n")
    (tmp_path / "train.txt").write_text("/etc/x.jpg\n")
    y = tmp_path / "data.yaml"
    y.write_text("names: [a, b]\nval: labels\ntrain: train.txt\n")
    res = formats.read(y, "yolo", image_size=(100, 100))
    assert len(res.annotations) == 1
    problems = [(p.record, p.reason.split(" (")[0]) for p in res.problems]
    assert problems == [
        ("labels/x.txt:2", "class index 2 is not in names"),
        ("labels/x.txt:3", "class index -1 is not in names"),
        ("labels/x.txt:4", "not a YOLO label line: 'a b c d e'"),
        ("labels/x.txt:5", "expected 5 values"),
        ("labels/x.txt:6", "box"),
        ("labels/x.txt:7", "expected 5 values"),
        ("train/etc/x", "path escapes data root: /etc/x.jpg"),
    ]
    assert "lies outside the 100x100 image" in res.problems[4].reason


def test_writers_keep_split_names_inside_the_export(tmp_path: Path) -> None:
    from jupyter_cvops.formats import coco, yolo
    from jupyter_cvops.formats._types import AnnotationRecord, ExportImage

    (tmp_path / "a.jpg").write_bytes(b"x")
    images = [ExportImage("k1", tmp_path / "a.jpg", "../../a.jpg", 10, 10, split="../../evil")]
    anns = [AnnotationRecord("k1", "c", bbox=(1, 1, 4, 4))]
    for mod in (coco, yolo):
        out = mod.write(tmp_path / "out" / mod.__name__, images, anns, ["c"], copy_images=True)
        written = [p for p in (tmp_path / "out").rglob("*") if p.is_file()]
        assert written and all(p.is_relative_to(tmp_path / "out") for p in written)
        assert not (tmp_path / "evil").exists() and out.is_relative_to(tmp_path / "out")
        assert len(mod.read(out).annotations) == 1
