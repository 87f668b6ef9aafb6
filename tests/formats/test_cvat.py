"""CVAT for images 1.1 reader on datumaro's exports and the ConcreteNet export from app.cvat.ai."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from jupyter_cvops import formats
from jupyter_cvops.formats import cvat


@pytest.fixture()
def cvat_dir(shared_data: Path) -> Path:
    return shared_data / "formats" / "datumaro" / "cvat_dataset" / "for_images"


@pytest.fixture()
def concrete(shared_data: Path) -> Path:
    return shared_data / "formats" / "cvat-export-concretenet"


def test_project_export(cvat_dir: Path) -> None:
    res = cvat.read(cvat_dir / "export_project" / "annotations.xml")
    assert res.categories == ["label1", "label2"]
    keys = [i.key for i in res.images]
    assert keys == ["Test/0", "Test/1", "Train/0", "Train/1", "Validation/0", "Validation/1"]
    for ref in res.images:  # images/<subset>/<name>
        assert ref.path == cvat_dir / "export_project" / "images" / ref.key.split("/")[0] / ref.file_name
    assert [i.width for i in res.images] == [8, 10] * 3
    boxes = [a for a in res.annotations if a.polygon is None]
    polys = [a for a in res.annotations if a.polygon is not None]
    assert len(boxes) == 3 and len(polys) == 3
    box = boxes[0]
    assert (box.class_name, box.bbox, box.annotator) == ("label1", (0.0, 2.0, 4.0, 4.0), "tester")  # task owner
    assert box.attributes == {"occluded": True, "z_order": 1, "a1": "true", "a2": "v3", "a3": "0003",
                              "a4": "2.4", "subset": "Test"}
    assert polys[0].polygon == [[1.0, 2.0, 3.0, 4.0, 6.0, 5.0]] and polys[0].bbox == (1.0, 2.0, 6.0, 5.0)
    reasons = Counter(p.reason for p in res.problems)
    assert reasons == {"polylines are not supported (skipped)": 3, "points are not supported (skipped)": 3}


def test_task_export(cvat_dir: Path) -> None:
    res = formats.read(cvat_dir / "export_task" / "train.xml", "cvat", annotator="kim")
    assert [i.key for i in res.images] == ["0", "1"]
    assert all(i.path is not None and i.path.parent.name == "images" for i in res.images)
    assert [(a.class_name, a.bbox, a.annotator) for a in res.annotations] == [("label1", (0.0, 2.0, 4.0, 4.0), "kim")]
    assert [(p.record, p.reason) for p in res.problems] == [
        ("image[0]/polyline[1]", "polylines are not supported (skipped)"),
        ("image[1]/polygon[0]", "<polygon> without a label"),
        ("image[1]/points[1]", "points are not supported (skipped)"),
    ]


def test_concretenet_export_counts(concrete: Path) -> None:
    res = cvat.read(concrete / "annotations.xml")
    assert len(res.images) == 48 and len(res.annotations) == 1030 and res.problems == []
    assert res.categories == ["rebar"]
    assert {(i.width, i.height) for i in res.images} == {(2445, 1485)}
    assert {a.annotator for a in res.annotations} == {"anishgoyal1108"}  # task owner
    per_image = Counter(a.image_key for a in res.annotations)
    assert len(per_image) == 21 and per_image["0"] == 49 and per_image["3"] == 51
    # images are not beside the XML: none found, the workspace reports them per image
    assert all(i.path is None for i in res.images)
    first = res.annotations[0]
    assert first.bbox == pytest.approx((1201.20, 121.59, 1227.33, 237.12))
    assert first.attributes == {"source": "manual"} and first.record == "image[0]/box[0]"


def test_concretenet_with_data_root_finds_the_eight_pngs(concrete: Path) -> None:
    root = concrete / "data" / "Cleaned" / "Training" / "GP8000"
    res = cvat.read(concrete / "annotations.xml", data_root=root)
    found = sorted(i.file_name for i in res.images if i.path is not None)
    assert found == sorted(p.name for p in root.glob("*.png")) and len(found) == 8
    assert len(res.annotations) == 1030  # labels of missing images are still returned


XML = """<?xml version="1.0"?>
<annotations><version>1.1</version>
<meta><job><id>7</id><owner><username>olga</username></owner><assignee><username>ivan</username></assignee>
<labels><label><name>car</name></label><label><name>scene</name></label></labels></job></meta>
<image id="0" name="a.jpg" width="100" height="50">
  <box label="car" xtl="40" ytl="20" xbr="60" ybr="30" rotation="90" occluded="0"/>
  <tag label="scene" source="manual"/>
  <mask label="car" source="manual" rle="3, 4" left="2" top="3" width="10" height="5"/>
  <box label="truck" xtl="1" ytl="1" xbr="5" ybr="5"/>
  <box label="car" xtl="-0.5" ytl="1" xbr="100.5" ybr="5"/>
  <ellipse label="car" cx="5" cy="5" rx="2" ry="2"/>
</image>
</annotations>"""


def test_rotation_tags_masks_and_assignee(tmp_path: Path) -> None:
    f = tmp_path / "annotations.xml"
    f.write_text(XML)
    res = cvat.read(f)
    rot, tag, mask, clipped = res.annotations
    assert rot.bbox == pytest.approx((45.0, 15.0, 55.0, 35.0)) and rot.attributes["rotation"] == 90.0
    assert rot.annotator == "ivan"  # the job's assignee before its owner
    assert (tag.kind, tag.class_name, tag.bbox) == ("image", "scene", None)
    assert mask.bbox == (2.0, 3.0, 12.0, 8.0) and mask.attributes["shape"] == "mask"
    assert clipped.bbox == (0.0, 1.0, 100.0, 5.0) and clipped.attributes["clipped"] is True
    assert [p.reason for p in res.problems] == [
        "label 'truck' is not declared in <meta>", "ellipses are not supported (skipped)"]


def test_video_tracks_are_reported(tmp_path: Path) -> None:
    f = tmp_path / "annotations.xml"
    f.write_text('<annotations><version>1.1</version><track id="0" label="car">'
                 '<box frame="0" xtl="1" ytl="1" xbr="5" ybr="5" outside="0"/></track></annotations>')
    res = cvat.read(f)
    assert res.images == [] and res.annotations == []
    assert [(p.record, p.reason) for p in res.problems] == [
        ("track[0]", "tracks (video annotations) are not supported (skipped)")]
