"""CVAT for images 1.1 writer: layout, annotators through task assignees, read back by us and by datumaro."""

from __future__ import annotations

import os
import xml.etree.ElementTree as ET
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from jupyter_cvops.formats import cvat
from jupyter_cvops.formats._types import AnnotationRecord, ExportImage, ImportResult

F = Path("formats")
REAL = {  # CVAT exports whose images are present (ConcreteNet: 8 of 48, under data_root)
    "task": (F / "datumaro/cvat_dataset/for_images/export_task/train.xml", None),
    "project": (F / "datumaro/cvat_dataset/for_images/export_project/annotations.xml", None),
    "concretenet": (F / "cvat-export-concretenet/annotations.xml", F / "cvat-export-concretenet/data/Cleaned/Training/GP8000"),
}


def _images(res: ImportResult, only_found: bool = True) -> list[ExportImage]:
    return [ExportImage(r.key, r.path, r.file_name, r.width or 0, r.height or 0) for r in res.images
            if r.path is not None or not only_found]


def _labels(res: ImportResult) -> dict[int, list[tuple[Any, ...]]]:
    """Labels per image position (keys and file names change on export): (kind, class, annotator, box) sorted."""
    where = {r.key: n for n, r in enumerate(r for r in res.images if r.path is not None)}
    out: dict[int, list[tuple[Any, ...]]] = defaultdict(list)
    for a in res.annotations:
        out[where[a.image_key]].append((a.kind, a.class_name, a.annotator, a.bbox or ()))
    return {k: sorted(v, key=lambda t: (t[0], t[1], str(t[2]), t[3])) for k, v in out.items()}


def _assert_same(a: dict[Any, list[tuple[Any, ...]]], b: dict[Any, list[tuple[Any, ...]]], atol: float) -> None:
    assert a.keys() == b.keys()
    for k in a:
        assert [t[:3] for t in a[k]] == [t[:3] for t in b[k]], k
        boxes_a = np.array([t[3] for t in a[k] if t[3]], dtype=float)
        boxes_b = np.array([t[3] for t in b[k] if t[3]], dtype=float)
        assert boxes_a.shape == boxes_b.shape
        if boxes_a.size:
            assert np.abs(boxes_a - boxes_b).max() <= atol, k


@pytest.mark.parametrize("name", sorted(REAL))
def test_real_exports_round_trip(shared_data: Path, tmp_path: Path, name: str) -> None:
    rel, root = REAL[name]
    before = cvat.read(shared_data / rel, data_root=shared_data / root if root else None)
    found = [r for r in before.images if r.path is not None]
    assert found and (name != "concretenet" or len(found) == 8)
    keys = {r.key for r in found}
    before.annotations = [a for a in before.annotations if a.image_key in keys]
    out = cvat.write(tmp_path / "out", _images(before), before.annotations, before.categories, copy_images=True)
    after = cvat.read(out)  # no options: the export holds its images
    assert after.problems == [] and all(r.path is not None for r in after.images)
    assert after.categories == before.categories
    _assert_same(_labels(before), _labels(after), atol=0.0)  # coordinates are written exactly
    polys_before = sorted(tuple(a.polygon[0]) for a in before.annotations if a.polygon)
    assert polys_before == sorted(tuple(a.polygon[0]) for a in after.annotations if a.polygon)


def test_layout_task_export(tmp_path: Path) -> None:
    src = tmp_path / "imgs"
    src.mkdir()
    Image.new("RGB", (40, 20)).save(src / "a.png")
    Image.new("RGB", (10, 10)).save(src / "b.png")
    images = [ExportImage("ka", src / "a.png", "a.png", 40, 20, split="train"),
              ExportImage("kb", src / "b.png", "b.png", 10, 10, split="val")]
    anns = [
        AnnotationRecord("ka", "dent", bbox=(1.25, 2, 30, 19.5), annotator="ana",
                         attributes={"occluded": True, "z_order": 2, "severity": "high", "subset": "x"}),
        AnnotationRecord("ka", "scratch", bbox=(0, 0, 4, 2), polygon=[[0, 0, 4, 0, 4, 2]], annotator="ana"),
        AnnotationRecord("kb", "ok", kind="image", annotator="ana"),
    ]
    out = cvat.write(tmp_path / "out", images, anns, ["dent", "scratch", "ok"], meta={"dataset_version": "v123"})
    assert out == tmp_path / "out" / "annotations.xml"
    root = ET.parse(out).getroot()
    assert root.findtext("version") == "1.1"
    task = root.find("meta/task")
    assert task is not None and task.findtext("assignee/username") == "ana" and "v123" in (task.findtext("name") or "")
    assert root.findtext("meta/cvops/dataset_version") == "v123"
    assert [lab.findtext("name") for lab in task.iter("label")] == ["dent", "scratch", "ok"]
    assert [a.findtext("name") for a in task.iter("attribute")] == ["severity"]  # declared for its label
    ims = root.findall("image")
    assert [(i.get("id"), i.get("name"), i.get("width"), i.get("height")) for i in ims] == [
        ("0", "../imgs/a.png", "40", "20"), ("1", "../imgs/b.png", "10", "10")]  # relative to the XML
    box, poly = ims[0]
    assert box.tag == "box" and box.attrib == {"label": "dent", "source": "manual", "occluded": "1", "xtl": "1.25",
                                               "ytl": "2", "xbr": "30", "ybr": "19.5", "z_order": "2"}
    assert [(a.get("name"), a.text) for a in box] == [("severity", "high")]
    assert poly.tag == "polygon" and poly.get("points") == "0,0;4,0;4,2"
    assert ims[1][0].tag == "tag" and ims[1][0].get("label") == "ok"
    assert not (tmp_path / "out" / "images").exists()  # no bytes copied
    back = cvat.read(out, data_root=tmp_path)  # the data root holds the export and the images
    assert back.problems == [] and [r.path for r in back.images] == [src / "a.png", src / "b.png"]
    assert [(a.kind, a.class_name, a.annotator, a.bbox) for a in back.annotations] == [
        ("box", "dent", "ana", (1.25, 2.0, 30.0, 19.5)), ("box", "scratch", "ana", (0.0, 0.0, 4.0, 2.0)),
        ("image", "ok", "ana", None)]
    assert back.annotations[0].attributes == {"occluded": True, "z_order": 2, "source": "manual", "severity": "high"}
    refused = cvat.read(out)  # by default the export's folder is the data root: its names climb out of it
    assert all(r.path is None for r in refused.images)
    assert {p.reason.split(":")[0] for p in refused.problems} == {"path escapes data root"}


def test_several_annotators_make_a_project(tmp_path: Path) -> None:
    src = tmp_path / "imgs"
    src.mkdir()
    for n in ("a", "b", "c"):
        Image.new("RGB", (20, 20), (ord(n), 0, 0)).save(src / f"{n}.png")
    images = [ExportImage(f"k{n}", src / f"{n}.png", f"{n}.png", 20, 20, split=s)
              for n, s in (("a", "train"), ("b", "train"), ("c", "val"))]
    anns = [AnnotationRecord("ka", "dent", bbox=(1, 1, 5, 5), annotator="ana"),
            AnnotationRecord("ka", "dent", bbox=(1.5, 1, 5, 5.5), annotator="ben"),
            AnnotationRecord("kb", "ok", kind="image", annotator="ben")]  # kc: no labels
    out = cvat.write(tmp_path / "out", images, anns, ["dent", "ok"], copy_images=True)
    root = ET.parse(out).getroot()
    tasks = root.findall("meta/project/tasks/task")
    assert [(t.findtext("id"), t.findtext("assignee/username"), t.findtext("subset")) for t in tasks] == [
        ("1", "ana", "train"), ("2", "ana", "val"), ("3", "ben", None)]  # one <subset> per split
    ims = [(i.get("name"), i.get("subset"), i.get("task_id")) for i in root.findall("image")]
    assert ims == [("a.png", "train", "1"), ("a.png", "train", "3"), ("b.png", "train", "3"), ("c.png", "val", "2")]
    assert sorted(p.name for p in (tmp_path / "out" / "images" / "train").iterdir()) == ["a.png", "b.png"]
    back = cvat.read(out)
    assert back.problems == []
    got = sorted((Path(r.file_name).name, a.class_name, a.annotator, a.bbox)
                 for a in back.annotations for r in back.images if r.key == a.image_key)
    assert got == [("a.png", "dent", "ana", (1.0, 1.0, 5.0, 5.0)), ("a.png", "dent", "ben", (1.5, 1.0, 5.0, 5.5)),
                   ("b.png", "ok", "ben", None)]


def test_link_images(tmp_path: Path) -> None:
    src = tmp_path / "imgs"
    src.mkdir()
    Image.new("RGB", (8, 8)).save(src / "a.png")
    images = [ExportImage("k", src / "a.png", "a.png", 8, 8)]
    out = cvat.write(tmp_path / "out", images, [AnnotationRecord("k", "c", bbox=(1, 1, 2, 2))], ["c"],
                     copy_images="link")
    assert os.path.samefile(tmp_path / "out" / "images" / "a.png", src / "a.png")  # a hard link: no bytes copied
    assert [r.path for r in cvat.read(out).images] == [tmp_path / "out" / "images" / "a.png"]
    out = cvat.write(tmp_path / "out", images, [], ["c"], copy_images="link")  # again: replaced in place
    assert os.path.samefile(tmp_path / "out" / "images" / "a.png", src / "a.png")


def test_writer_refuses_bad_input(tmp_path: Path) -> None:
    img = [ExportImage("k", tmp_path / "a.png", "a.png", 10, 10)]
    with pytest.raises(ValueError, match="not in categories"):
        cvat.write(tmp_path / "o", img, [AnnotationRecord("k", "x", bbox=(0, 0, 1, 1))], ["y"])
    with pytest.raises(ValueError, match="copy_images"):
        cvat.write(tmp_path / "o", img, [], ["y"], copy_images="symlink")  # type: ignore[arg-type]


@pytest.mark.parametrize("name", sorted(REAL))
def test_datumaro_reads_our_export(shared_data: Path, tmp_path: Path, name: str) -> None:
    dm = pytest.importorskip("datumaro")
    from datumaro.components.annotation import AnnotationType

    rel, root = REAL[name]
    before = cvat.read(shared_data / rel, data_root=shared_data / root if root else None)
    keys = {r.key for r in before.images if r.path is not None}
    records = [a for a in before.annotations if a.image_key in keys]
    out = cvat.write(tmp_path / "out", _images(before), records, before.categories, copy_images=True)
    ours = cvat.read(out)  # the same labels (test above), under the names written
    ds = dm.Dataset.import_from(str(out.parent), "cvat")
    names = [c.name for c in ds.categories()[AnnotationType.label]]
    assert names == before.categories
    stem = {r.key: Path(r.file_name).stem for r in ours.images}
    want: dict[tuple[str, str, str], list[tuple[float, ...]]] = defaultdict(list)
    for a in ours.annotations:
        want[(stem[a.image_key], a.class_name, a.kind)].append(a.bbox or ())
    got: dict[tuple[str, str, str], list[tuple[float, ...]]] = defaultdict(list)
    for item in ds:
        for ann in item.annotations:
            kind = "image" if ann.type == AnnotationType.label else "box"
            x, y, w, h = ann.get_bbox() if kind == "box" else (0, 0, 0, 0)
            got[(item.id, names[ann.label], kind)].append((x, y, x + w, y + h) if kind == "box" else ())
    assert got.keys() == want.keys()
    for k in want:  # datumaro keeps coordinates as float32
        assert np.allclose(sorted(got[k]), sorted(want[k]), rtol=0, atol=1e-3), k
    assert sorted(item.media.size for item in ds) == sorted((r.height, r.width) for r in ours.images)


def test_data_root_holding_export_and_images(tmp_path: Path) -> None:
    src = tmp_path / "data" / "imgs"
    src.mkdir(parents=True)
    Image.new("RGB", (8, 8)).save(src / "a.png")
    images = [ExportImage("k", src / "a.png", "a.png", 8, 8)]
    out = cvat.write(tmp_path / "exports" / "2026" / "cvat", images, [AnnotationRecord("k", "c", bbox=(1, 1, 2, 2))],
                     ["c"])
    assert ET.parse(out).getroot().find("image").get("name") == "../../../data/imgs/a.png"  # type: ignore[union-attr]
    back = cvat.read(out, data_root=tmp_path)  # names are relative to the XML, under any root holding both
    assert back.problems == [] and back.images[0].path == src / "a.png"
