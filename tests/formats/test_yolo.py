"""YOLO reader (darknet, Ultralytics, plain label folders) and writer."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import yaml
from PIL import Image

from jupyter_cvops import formats
from jupyter_cvops.formats import cvat, yolo
from jupyter_cvops.formats._types import AnnotationRecord, ExportImage, FormatError

# datumaro's two label lines on a 15x10 image
DATUMARO_BOXES = [("label_2", (0.0, 2.0, 4.0, 4.0)), ("label_4", (3.0, 3.0, 5.0, 6.0))]


@pytest.fixture()
def yolo_dir(shared_data: Path) -> Path:
    return shared_data / "formats" / "datumaro" / "yolo_dataset"


@pytest.fixture()
def gp8000(shared_data: Path) -> Path:
    return shared_data / "formats" / "cvat-export-concretenet" / "data"


def _boxes(res: formats.ImportResult) -> list[tuple[str, tuple[float, ...]]]:
    return [(a.class_name, tuple(round(v, 4) for v in a.bbox or ())) for a in res.annotations]


@pytest.mark.parametrize("entry", ["strict", "strict/obj.data"])
def test_darknet_strict_layout(yolo_dir: Path, entry: str) -> None:
    res = formats.read(yolo_dir / entry, "yolo", annotator="ana")
    assert res.source_file == str(yolo_dir / "strict" / "obj.data")
    assert res.categories == [f"label_{i}" for i in range(10)]
    (img,) = res.images
    assert (img.key, img.width, img.height) == ("1", 15, 10)
    assert img.path == yolo_dir / "strict" / "obj_train_data" / "1.jpg"  # "data/" prefix of obj.data dropped
    assert _boxes(res) == DATUMARO_BOXES and {a.annotator for a in res.annotations} == {"ana"}
    assert res.annotations[0].record == "obj_train_data/1.txt:1" and res.problems == []


def test_images_labels_layout(yolo_dir: Path) -> None:
    res = yolo.read(yolo_dir / "labels")  # obj.names + images/{train,val} + labels/{train,val}; README.txt ignored
    assert [(i.key, i.file_name) for i in res.images] == [
        ("train/1", "images/train/1.jpg"), ("val/1", "images/val/1.jpg")]
    assert _boxes(res) == DATUMARO_BOXES * 2 and res.problems == []
    assert [a.image_key for a in res.annotations] == ["train/1", "train/1", "val/1", "val/1"]


def test_gp8000_labels_without_data_yaml(gp8000: Path) -> None:
    with pytest.raises(FormatError, match="no class names"):
        yolo.read(gp8000 / "GP8000" / "labels")
    root = gp8000 / "Cleaned" / "Training" / "GP8000"
    res = yolo.read(gp8000 / "GP8000" / "labels", names=["rebar"], data_root=root)
    assert len(res.images) == 21 and sum(i.path is not None for i in res.images) == 8
    found = [i for i in res.images if i.path is not None]
    assert {(i.width, i.height) for i in found} == {(2445, 1485)}
    n_found = sum(1 for a in res.annotations if a.image_key in {i.key for i in found})
    assert len(res.annotations) == n_found == 398
    # boxes of the 13 images without a file cannot be de-normalized: one problem per line
    assert len(res.problems) == 1030 - 398
    assert {p.reason for p in res.problems} == {"image size unknown (image file not found); pass image_size="}
    full = yolo.read(gp8000 / "GP8000" / "labels", names=["rebar"], image_size=(2445, 1485))
    assert len(full.annotations) == 1030 and full.problems == []


def test_gp8000_yolo_matches_the_cvat_export(gp8000: Path) -> None:
    """The repository's YOLO txt files are the CVAT boxes of the same 21 images (6 significant digits)."""
    ys = yolo.read(gp8000 / "GP8000" / "labels", names=["rebar"], image_size=(2445, 1485))
    cv = cvat.read(gp8000.parent / "annotations.xml")
    name_of = {i.key: i.file_name for i in cv.images}
    assert len(ys.images) == 21
    for ref in ys.images:
        a = np.array(sorted(r.bbox for r in ys.annotations if r.image_key == ref.key))
        b = np.array(sorted(r.bbox for r in cv.annotations if name_of[r.image_key] == f"{ref.key}.png"))
        assert a.shape == b.shape and np.abs(a - b).max() < 0.01


def test_ultralytics_yaml_with_lists_segments_and_background(tmp_path: Path) -> None:
    for split in ("train", "val"):
        (tmp_path / "images" / split).mkdir(parents=True)
        (tmp_path / "labels" / split).mkdir(parents=True)
    for name in ("a", "b"):
        Image.new("RGB", (200, 100)).save(tmp_path / "images" / "train" / f"{name}.png")
    Image.new("RGB", (50, 50)).save(tmp_path / "images" / "val" / "c.jpg")
    (tmp_path / "labels" / "train" / "a.txt").write_text(
        "0 0.5 0.5 0.2 0.4\n\n1 0.25 0.25 0.1 0.1 0.87\n2 0.1 0.1 0.3 0.1 0.3 0.3\n"
        "7 0.5 0.5 0.1 0.1\n0 0.5 0.5 0 0.1\n")
    (tmp_path / "val.txt").write_text("./images/val/c.jpg\n")
    (tmp_path / "data.yaml").write_text(yaml.safe_dump(
        {"path": ".", "train": "images/train", "val": "val.txt", "names": {0: "cat", 1: "dog", 2: "fish"}}))
    res = yolo.read(tmp_path)
    assert res.categories == ["cat", "dog", "fish"]
    assert [(i.key, i.width, i.height) for i in res.images] == [("a", 200, 100), ("b", 200, 100), ("c", 50, 50)]
    cat, dog, fish = res.annotations
    assert cat.bbox == pytest.approx((80.0, 30.0, 120.0, 70.0))
    assert dog.attributes == {"confidence": 0.87}
    assert fish.polygon == [pytest.approx([20.0, 10.0, 60.0, 10.0, 60.0, 30.0])]
    assert fish.bbox == pytest.approx((20.0, 10.0, 60.0, 30.0))
    assert [(p.record, p.reason.split(" (")[0]) for p in res.problems] == [
        ("labels/train/a.txt:4", "class index 7 is not in names"),
        ("labels/train/a.txt:5", "box has negative or zero size"),
    ]


def test_writer_layout_and_sidecar(tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    Image.new("RGB", (64, 32)).save(src / "a.png")
    images = [ExportImage("k1", src / "a.png", "a.png", 64, 32, split="val")]
    anns = [AnnotationRecord("k1", "dent", bbox=(8, 8, 24, 16), annotator="ana"),
            AnnotationRecord("k1", "ok", kind="image", annotator="bo")]
    out = yolo.write(tmp_path / "out", images, anns, ["dent", "ok"])
    assert out == tmp_path / "out" / "data.yaml"
    doc = yaml.safe_load(out.read_text())
    assert doc["val"] == "val.txt" and doc["names"] == {0: "dent", 1: "ok"} and doc["nc"] == 2
    assert (tmp_path / "out" / "val.txt").read_text() == "./../src/a.png\n"  # relative to the list's folder
    assert (tmp_path / "out" / "labels" / "val" / "a.txt").read_text() == \
        "0 0.2500000000 0.3750000000 0.2500000000 0.2500000000\n"
    side = json.loads((tmp_path / "out" / "cvops_meta.json").read_text())["images"]["labels/val/a.txt"]
    assert side["key"] == "k1" and side["lines"][0]["annotator"] == "ana"
    assert side["image_labels"][0]["class_name"] == "ok"
    back = yolo.read(out, data_root=tmp_path)
    assert [(i.key, i.path) for i in back.images] == [("k1", src / "a.png")]
    assert [(a.kind, a.class_name, a.annotator, a.bbox) for a in back.annotations] == [
        ("box", "dent", "ana", pytest.approx((8.0, 8.0, 24.0, 16.0))), ("image", "ok", "bo", None)]


def test_writer_copy_images(tmp_path: Path) -> None:
    src = tmp_path / "src"
    (src / "d").mkdir(parents=True)
    Image.new("RGB", (10, 10)).save(src / "a.png")
    Image.new("RGB", (10, 10)).save(src / "d" / "a.jpg")
    images = [ExportImage("k1", src / "a.png", "a.png", 10, 10),
              ExportImage("k2", src / "d" / "a.jpg", "a.jpg", 10, 10)]
    anns = [AnnotationRecord("k2", "c", bbox=(1, 1, 4, 4))]
    out = yolo.write(tmp_path / "out", images, anns, ["c"], copy_images=True)
    assert yaml.safe_load(out.read_text())["train"] == "images/train"
    assert sorted(p.name for p in (tmp_path / "out" / "images" / "train").iterdir()) == ["a.png", "a_k2.jpg"]
    assert sorted(p.name for p in (tmp_path / "out" / "labels" / "train").iterdir()) == ["a.txt", "a_k2.txt"]
    back = yolo.read(out)  # default data root: the export folder
    assert [(i.key, i.path is not None) for i in back.images] == [("k1", True), ("k2", True)]
    assert [a.image_key for a in back.annotations] == ["k2"]


def test_copied_export_reads_its_own_folder(tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    Image.new("RGB", (10, 10)).save(src / "a.png")
    images = [ExportImage("k1", src / "a.png", "a.png", 10, 10)]
    first = yolo.write(tmp_path / "one", images, [AnnotationRecord("k1", "c", bbox=(1, 1, 4, 4))], ["c"],
                       copy_images=True)
    shutil.copytree(tmp_path / "one", tmp_path / "two")
    (tmp_path / "two" / "labels" / "train" / "a.txt").write_text("")  # edit the copy
    assert len(yolo.read(first).annotations) == 1
    assert yolo.read(tmp_path / "two" / "data.yaml").annotations == []  # not the original's labels
    with pytest.raises(ValueError, match="has no size"):
        yolo.write(tmp_path / "three", [ExportImage("k", src / "a.png", "a.png", 0, 10)], [], ["c"])
