"""Label Studio JSON reader on the label-studio-sdk converter test exports."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path

import pytest

from jupyter_cvops import formats
from jupyter_cvops.formats import labelstudio


@pytest.fixture()
def ls_dir(shared_data: Path) -> Path:
    return shared_data / "formats" / "label-studio-sdk"


def test_two_annotators_on_one_task(ls_dir: Path) -> None:
    res = formats.read(ls_dir / "test_export_yolo" / "data.json", "labelstudio")
    assert res.categories == ["parasites", "white"]  # from label_config.xml, in order
    assert [(i.key, i.file_name, i.path, i.width, i.height) for i in res.images] == [
        ("1", "/image1", None, 2800, 2800), ("2", "/image2", None, 2800, 2800)]
    assert len(res.annotations) == 6 and res.problems == []
    task1 = [a for a in res.annotations if a.image_key == "1"]
    assert sorted({a.annotator for a in task1}) == ["1", "2"]  # completed_by of each annotation
    by2 = [a for a in task1 if a.annotator == "2"]
    assert by2[0].created_at == datetime(2022, 12, 27, 13, 36, 25, 747398, tzinfo=timezone.utc)
    assert by2[0].attributes == {"updated_at": "2022-12-27T21:04:40.495704Z"}
    # percent -> pixels: x=37.158..% of 2800
    assert by2[0].bbox == pytest.approx((1040.437158, 1978.870674, 1157.741348, 2111.475410), abs=1e-5)
    assert [a.class_name for a in res.annotations] == ["parasites", "white", "parasites", "white", "white", "white"]


def test_rectangles_polygons_and_skipped_keypoints(ls_dir: Path) -> None:
    res = labelstudio.read(ls_dir / "test_export_coco" / "data.json", annotator="fallback")
    assert res.categories == ["rectangle_label", "polygon_label"]
    rect, poly = res.annotations
    assert rect.bbox == pytest.approx((159.709619, 13.163121, 191.470054, 44.936170), abs=1e-5)
    assert poly.polygon is not None and len(poly.polygon[0]) == 6
    assert poly.bbox == pytest.approx((207.803993, 11.347518, 226.860254, 39.943262), abs=1e-5)
    assert rect.annotator == "308"  # no completed_by: last_created_by
    assert [p.reason for p in res.problems] == ["keypoints are not supported (skipped)"] * 2


def test_upload_url_looked_up_under_data_root(ls_dir: Path, tmp_path: Path) -> None:
    res = labelstudio.read(ls_dir / "test_export_json_min" / "data.json")
    assert res.images[0].file_name == "/data/upload/29/example.png" and res.images[0].path is None
    assert [(a.class_name, a.annotator) for a in res.annotations] == [("Airplane", "1")]
    (tmp_path / "upload" / "29").mkdir(parents=True)
    (tmp_path / "upload" / "29" / "example.png").write_bytes(b"png")
    res = labelstudio.read(ls_dir / "test_export_json_min" / "data.json", data_root=tmp_path)
    assert res.images[0].path == tmp_path / "upload" / "29" / "example.png"


def _task(tid: int, image: str, results: list[dict], **ann: object) -> dict:
    return {"id": tid, "data": {"image": image},
            "annotations": [{"id": tid * 10, "completed_by": {"id": 4, "email": "eve@x.org"},
                             "created_at": "2024-05-01T10:00:00Z", "result": results, **ann}]}


def _rect(x: float, y: float, w: float, h: float, label: str, **extra: object) -> dict:
    return {"type": "rectanglelabels", "from_name": "label", "to_name": "image", "original_width": 200,
            "original_height": 100, "value": {"x": x, "y": y, "width": w, "height": h,
                                              "rectanglelabels": [label], **extra}}


CONFIG = """<View><Image name="image" value="$image"/>
<RectangleLabels name="label" toName="image"><Label value="cat"/><Label value="dog"/></RectangleLabels>
<Choices name="scene" toName="image"><Choice value="indoor"/><Choice value="outdoor"/></Choices></View>"""


def test_choices_rotation_config_and_local_files(tmp_path: Path) -> None:
    (tmp_path / "imgs").mkdir()
    (tmp_path / "imgs" / "a.jpg").write_bytes(b"x")
    tasks = [
        _task(1, "/data/local-files/?d=imgs/a.jpg", [
            _rect(10, 10, 20, 20, "cat"),
            _rect(50, 50, 10, 10, "dog", rotation=90),
            {"type": "choices", "from_name": "scene", "to_name": "image", "value": {"choices": ["indoor"]}},
            _rect(10, 10, 20, 20, "horse"),
        ]),
        _task(2, "https://example.org/b.jpg", [_rect(0, 0, 5, 5, "cat")], was_cancelled=True),
        _task(3, "c.jpg", [{"type": "rectanglelabels", "from_name": "label", "value": {
            "x": 1, "y": 1, "width": 2, "height": 2, "rectanglelabels": ["cat"]}}]),
    ]
    f = tmp_path / "export.json"
    f.write_text(json.dumps(tasks))
    res = labelstudio.read(f, label_config=CONFIG)
    assert res.categories == ["cat", "dog", "indoor", "outdoor"]
    assert res.images[0].path == tmp_path / "imgs" / "a.jpg" and res.images[1].path is None
    assert (res.images[1].width, res.images[2].width) == (200, None)
    cat, dog, scene = res.annotations
    assert cat.bbox == pytest.approx((20.0, 10.0, 60.0, 30.0)) and cat.annotator == "eve@x.org"
    assert dog.bbox == pytest.approx((90.0, 50.0, 100.0, 70.0)) and dog.attributes["rotation"] == 90.0
    assert (scene.kind, scene.class_name, scene.bbox) == ("image", "indoor", None)
    assert [(p.record, p.reason) for p in res.problems] == [
        ("tasks[0].annotations[0].result[3]", "label 'horse' is not in the labeling config"),
        ("tasks[1].annotations[0]", "annotation was cancelled (skipped)"),
        ("tasks[2].annotations[0].result[0]", "image size unknown: percent coordinates cannot be converted"),
    ]


def test_region_with_separate_labels_result(tmp_path: Path) -> None:
    """<Rectangle> + <Labels> configs export an unlabeled rectangle and a 'labels' result with the same id."""
    region = {"id": "r1", "from_name": "box", "to_name": "image", "original_width": 100, "original_height": 100}
    results = [
        {**region, "type": "rectangle", "value": {"x": 10, "y": 20, "width": 30, "height": 40}},
        {**region, "from_name": "kind", "type": "labels",
         "value": {"x": 10, "y": 20, "width": 30, "height": 40, "labels": ["cat"]}},
        {"id": "r2", "type": "rectangle", "value": {"x": 1, "y": 1, "width": 1, "height": 1},
         "original_width": 100, "original_height": 100},
    ]
    f = tmp_path / "export.json"
    f.write_text(json.dumps([_task(5, "a.jpg", results)]))
    res = labelstudio.read(f)
    assert [(a.class_name, a.bbox) for a in res.annotations] == [("cat", (10.0, 20.0, 40.0, 60.0))]
    assert [p.reason for p in res.problems] == ["result without a label"]
