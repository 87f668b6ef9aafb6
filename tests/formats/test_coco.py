"""COCO reader and writer on datumaro's and Roboflow's real COCO files."""

from __future__ import annotations

import json
import shutil
import time
from datetime import datetime, timezone
from pathlib import Path

import pytest

from jupyter_cvops import formats
from jupyter_cvops.formats import coco
from jupyter_cvops.formats._types import AnnotationRecord, ExportImage


@pytest.fixture()
def coco_dir(shared_data: Path) -> Path:
    return shared_data / "formats" / "datumaro" / "coco_dataset" / "coco"


def test_instances_train_boxes_and_image_lookup(coco_dir: Path) -> None:
    res = formats.read(coco_dir / "annotations" / "instances_train.json", "coco", annotator="ana")
    assert res.format == "coco" and res.categories == ["a", "b", "c"]
    (img,) = res.images
    assert (img.key, img.file_name, img.width, img.height) == ("5", "a.jpg", 10, 5)
    assert img.path == coco_dir / "images" / "train" / "a.jpg"
    (ann,) = res.annotations
    assert (ann.image_key, ann.class_name, ann.kind, ann.bbox) == ("5", "b", "box", (2.0, 2.0, 5.0, 3.0))
    assert ann.annotator == "ana" and ann.created_at is None and ann.record == "annotations[0]"
    assert res.problems == []


def test_instances_val_polygon_rle_attributes(coco_dir: Path) -> None:
    res = coco.read(coco_dir / "annotations" / "instances_val.json")
    assert res.images[0].path == coco_dir / "images" / "val" / "b.jpg"
    poly, crowd = res.annotations
    assert poly.bbox == (0.0, 0.0, 1.0, 2.0)
    assert poly.polygon == [[0.0, 0.0, 1.0, 0.0, 1.0, 2.0, 0.0, 2.0]]
    assert poly.attributes == {"x": 1, "y": "hello"}  # datumaro-style attributes
    assert crowd.rle == {"size": [10, 5], "counts": [0, 20, 30]} and crowd.polygon is None
    assert crowd.attributes == {"iscrowd": True} and crowd.bbox == (0.0, 0.0, 1.0, 9.0)


def test_labels_files_are_image_level(coco_dir: Path) -> None:
    train = coco.read(coco_dir / "annotations" / "labels_train.json")
    val = coco.read(coco_dir / "annotations" / "labels_val.json")
    assert [(a.class_name, a.kind, a.bbox) for a in train.annotations] == [("b", "image", None)]
    assert [(a.class_name, a.kind) for a in val.annotations] == [("a", "image"), ("b", "image")]


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("person_keypoints_train.json", "keypoints are not supported"),
        ("captions_train.json", "captions are not supported"),
        ("panoptic_train.json", "panoptic segments are not supported"),
    ],
)
def test_unsupported_annotation_types_are_skipped(coco_dir: Path, name: str, reason: str) -> None:
    res = coco.read(coco_dir / "annotations" / name)
    assert res.annotations == [] and len(res.images) == 1
    assert [p.record for p in res.problems] == ["annotations[0]"]
    assert res.problems[0].reason.startswith(reason)


def test_stuff_and_image_info(coco_dir: Path) -> None:
    stuff = coco.read(coco_dir / "annotations" / "stuff_train.json")
    assert stuff.annotations[0].rle is not None and stuff.annotations[0].bbox == (2.0, 0.0, 6.0, 4.0)
    info = coco.read(coco_dir / "annotations" / "image_info_train.json")
    assert len(info.images) == 1 and info.annotations == [] and info.problems == []


def test_annotations_folder_reads_every_instances_file(coco_dir: Path) -> None:
    res = coco.read(coco_dir / "annotations")
    assert [i.key for i in res.images] == ["train/5", "val/40"]
    assert all(i.path is not None for i in res.images)
    assert [a.image_key for a in res.annotations] == ["train/5", "val/40", "val/40"]
    assert res.annotations[0].record == "instances_train.json:annotations[0]"


def test_roboflow_export(shared_data: Path) -> None:
    rf = shared_data / "formats" / "datumaro" / "roboflow_dataset" / "coco"
    train = coco.read(rf / "train" / "_annotations.coco.json")
    assert train.categories == ["label_0", "label_1"]
    assert [(i.key, i.path.name if i.path else None) for i in train.images] == [
        ("1", "train_001.jpg"), ("2", "train_002.jpg")]
    assert [a.bbox for a in train.annotations] == [(2.0, 1.0, 5.0, 2.0), (0.0, 0.0, 2.0, 4.0)]
    both = coco.read(rf)  # the folder: train/ and val/ files
    assert len(both.images) == 3 and len(both.annotations) == 4
    assert {i.key for i in both.images} == {"train/1", "train/2", "val/1"}


def test_data_root_argument(coco_dir: Path, tmp_path: Path) -> None:
    res = coco.read(coco_dir / "annotations" / "instances_train.json", data_root=tmp_path)
    assert res.images[0].path is None and res.problems == []  # missing, not escaping
    (tmp_path / "a.jpg").write_bytes(b"x")
    res = coco.read(coco_dir / "annotations" / "instances_train.json", data_root=tmp_path)
    assert res.images[0].path == tmp_path / "a.jpg"


def test_writer_layout_and_keys(tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    (src / "a.jpg").write_bytes(b"a")
    (src / "b.jpg").write_bytes(b"b")
    t = datetime(2026, 3, 1, 12, 0, tzinfo=timezone.utc)
    images = [ExportImage("k1", src / "a.jpg", "a.jpg", 100, 50), ExportImage("k2", src / "b.jpg", "b.jpg", 20, 20)]
    anns = [
        AnnotationRecord("k1", "dent", bbox=(10, 5, 30, 25), annotator="ana", created_at=t),
        AnnotationRecord("k1", "scratch", polygon=[[0, 0, 4, 0, 4, 2]], bbox=(0, 0, 4, 2), annotator="bo"),
        AnnotationRecord("k2", "ok", kind="image", annotator="ana", attributes={"origin": "review"}),
    ]
    out = coco.write(tmp_path / "out", images, anns, ["dent", "scratch", "ok"])
    assert out == tmp_path / "out" / "annotations" / "instances_default.json"
    doc = json.loads(out.read_text())
    assert [c["name"] for c in doc["categories"]] == ["dent", "scratch", "ok"]
    # not copied: the original files, relative to the JSON's folder
    assert [i["file_name"] for i in doc["images"]] == ["../../src/a.jpg", "../../src/b.jpg"]
    a0, a1, a2 = doc["annotations"]
    assert a0["bbox"] == [10.0, 5.0, 20.0, 20.0] and a0["area"] == 400.0 and a0["iscrowd"] == 0
    assert a0["annotator"] == "ana" and a0["created_at"] == "2026-03-01T12:00:00+00:00"
    assert a1["segmentation"] == [[0, 0, 4, 0, 4, 2]] and a1["area"] == 4.0 and "created_at" not in a1
    assert a2["bbox"] == [] and a2["attributes"] == {"origin": "review", "image_label": True}
    assert not (tmp_path / "out" / "images").exists()  # no bytes copied by default
    back = coco.read(out, data_root=tmp_path)
    assert [i.path for i in back.images] == [src / "a.jpg", src / "b.jpg"]
    assert [(a.kind, a.class_name, a.annotator) for a in back.annotations] == [
        ("box", "dent", "ana"), ("box", "scratch", "bo"), ("image", "ok", "ana")]
    assert back.annotations[0].created_at == t and back.annotations[2].attributes == {"origin": "review"}
    # without a data root around the sources, the names climbing out of the export folder escape it
    escaped = coco.read(out)
    assert all(i.path is None for i in escaped.images)
    assert [p.reason.split(":")[0] for p in escaped.problems] == ["path escapes data root"] * 2


def test_writer_splits_and_copy(tmp_path: Path) -> None:
    src = tmp_path / "src"
    (src / "x").mkdir(parents=True)
    (src / "a.jpg").write_bytes(b"a")
    (src / "x" / "a.jpg").write_bytes(b"other a")
    images = [ExportImage("k1", src / "a.jpg", "a.jpg", 10, 10, split="train"),
              ExportImage("k2", src / "x" / "a.jpg", "a.jpg", 10, 10, split="train"),
              ExportImage("k3", src / "a.jpg", "a.jpg", 10, 10, split="val")]
    anns = [AnnotationRecord(k, "c", bbox=(1, 1, 5, 5)) for k in ("k1", "k2", "k3")]
    out = coco.write(tmp_path / "out", images, anns, ["c"], copy_images=True)
    assert out == tmp_path / "out" / "annotations"
    assert sorted(p.name for p in out.iterdir()) == ["instances_train.json", "instances_val.json"]
    train = json.loads((out / "instances_train.json").read_text())
    assert [i["file_name"] for i in train["images"]] == ["a.jpg", "a_k2.jpg"]  # name clash resolved
    assert (tmp_path / "out" / "images" / "train" / "a_k2.jpg").read_bytes() == b"other a"
    back = coco.read(out)
    assert [i.key for i in back.images] == ["train/1", "train/2", "val/3"]
    assert all(i.path is not None and i.path.is_relative_to(tmp_path / "out") for i in back.images)
    assert len(back.annotations) == 3 and back.problems == []


def test_writer_rejects_inconsistent_input(tmp_path: Path) -> None:
    img = ExportImage("k1", tmp_path / "a.jpg", "a.jpg", 10, 10)
    with pytest.raises(ValueError, match="not in categories"):
        coco.write(tmp_path, [img], [AnnotationRecord("k1", "zzz", bbox=(0, 0, 1, 1))], ["c"])
    with pytest.raises(ValueError, match="not exported"):
        coco.write(tmp_path, [img], [AnnotationRecord("k9", "c", bbox=(0, 0, 1, 1))], ["c"])


def test_thousand_images_parse_fast(tmp_path: Path) -> None:
    images = [{"id": i, "file_name": f"img_{i}.jpg", "width": 640, "height": 480} for i in range(1000)]
    anns = [{"id": n, "image_id": n % 1000, "category_id": n % 3 + 1, "bbox": [n % 600, 10.5, 20, 30],
             "area": 600.0, "iscrowd": 0, "segmentation": []} for n in range(10_000)]
    cats = [{"id": i + 1, "name": f"c{i}"} for i in range(3)]
    f = tmp_path / "instances_big.json"
    f.write_text(json.dumps({"images": images, "annotations": anns, "categories": cats}))
    t0 = time.perf_counter()
    res = coco.read(f)
    elapsed = time.perf_counter() - t0
    assert len(res.images) == 1000 and len(res.annotations) == 10_000 and res.problems == []
    assert elapsed < 1.0, f"1000 images / 10k boxes took {elapsed:.2f} s"


def test_folder_of_arbitrary_json_files_keeps_keys_unique(coco_dir: Path, tmp_path: Path) -> None:
    for name in ("one.json", "two.json"):
        shutil.copy(coco_dir / "annotations" / "instances_train.json", tmp_path / name)
    res = coco.read(tmp_path)
    assert [i.key for i in res.images] == ["one/5", "two/5"]
    assert [a.image_key for a in res.annotations] == ["one/5", "two/5"]
    assert res.annotations[1].record == "two.json:annotations[0]"
