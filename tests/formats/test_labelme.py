"""LabelMe reader on files written by labelme 6.3.1's own save code and on real LabelMe files
from ykszk/labelme-rs (see tests/formats/data/labelme/README.md)."""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path
from typing import Any

import PIL.Image
import pytest

from jupyter_cvops import Workspace, formats
from jupyter_cvops.formats import FormatError, labelme

DATA = Path(__file__).parent / "data" / "labelme"
GEN = DATA / "generated"
REAL = DATA / "labelme-rs"


def _shapes(f: Path) -> list[dict[str, Any]]:
    shapes: list[dict[str, Any]] = json.loads(f.read_text())["shapes"]
    return shapes


def _extent(points: list[list[float]]) -> tuple[float, float, float, float]:
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    return min(xs), min(ys), max(xs), max(ys)


def _flat(points: list[list[float]]) -> list[list[float]]:
    return [[float(v) for p in points for v in p]]


def _problems(res: formats.ImportResult) -> list[tuple[str, str]]:
    return [(p.record, p.reason) for p in res.problems]


def test_files_written_by_labelme(tmp_path: Path) -> None:
    res = formats.read(GEN, "labelme", annotator="ana")
    assert res.format == "labelme"
    assert [(i.key, i.file_name, i.width, i.height) for i in res.images] == [
        ("shapes", "shapes.png", 64, 48), ("labels/plain", "../images/plain.png", 40, 30)]
    assert [i.path for i in res.images] == [GEN / "shapes.png", GEN / "images" / "plain.png"]
    assert res.categories == ["dent", "scratch", "hole", "defect"]
    src = _shapes(GEN / "shapes.json")
    by_record = {a.record: a for a in res.annotations}
    rect = by_record["shapes.json:shapes[0]"]  # drawn from the bottom-right corner
    assert (rect.class_name, rect.kind, rect.bbox, rect.polygon) == ("dent", "box", _extent(src[0]["points"]), None)
    assert rect.bbox == (10.5, 5.0, 40.0, 30.0) and rect.annotator == "ana" and rect.attributes == {}
    poly = by_record["shapes.json:shapes[1]"]
    assert poly.polygon == _flat(src[1]["points"]) and poly.bbox == _extent(src[1]["points"])
    assert poly.attributes == {"group_id": 7, "description": "long one",
                               "flags": {"occluded": True, "truncated": False}}
    (cx, cy), (px, py) = src[2]["points"]
    r = math.hypot(px - cx, py - cy)
    circle = by_record["shapes.json:shapes[2]"]
    assert circle.bbox == (cx - r, cy - r, cx + r, cy + r) == (44.0, 14.0, 56.0, 26.0)
    assert circle.attributes == {"shape": "circle"} and circle.polygon is None
    border = by_record["shapes.json:shapes[3]"]  # centre (2, 2), radius 10: clipped to the image
    assert border.bbox == (0.0, 0.0, 12.0, 12.0) and border.attributes == {"shape": "circle", "clipped": True}
    oriented = by_record["shapes.json:shapes[4]"]
    assert oriented.polygon == _flat(src[4]["points"]) and oriented.bbox == (25.0, 10.0, 40.0, 25.0)
    assert oriented.attributes == {"shape": "oriented_rectangle"}
    flag = by_record["shapes.json:flags.defect"]  # "__ignore__" and "ok" are false
    assert (flag.kind, flag.class_name, flag.bbox, flag.image_key) == ("image", "defect", None, "shapes")
    plain = [a for a in res.annotations if a.image_key == "labels/plain"]
    assert [a.bbox for a in plain] == [_extent(s["points"]) for s in _shapes(GEN / "labels" / "plain.json")]
    assert plain[1].attributes == {"group_id": 1}
    assert len(res.annotations) == 8
    assert _problems(res) == [
        ("shapes.json:shapes[5]", "lines are not supported (skipped)"),
        ("shapes.json:shapes[6]", "line strips are not supported (skipped)"),
        ("shapes.json:shapes[7]", "points are not supported (skipped)"),
        ("shapes.json:shapes[8]", "point sets are not supported (skipped)"),
        ("shapes.json:shapes[9]", "masks are not supported (skipped)"),
    ]
    without = labelme.read(GEN, flags_as_labels=False)
    assert all(a.kind == "box" for a in without.annotations) and "defect" not in without.categories


def test_single_file_and_data_root() -> None:
    one = labelme.read(GEN / "labels" / "plain.json")  # its image is in ../images: outside the default root
    assert [(i.key, i.path) for i in one.images] == [("plain", None)]
    assert _problems(one) == [("plain.json", "path escapes data root: ../images/plain.png")]
    assert len(one.annotations) == 2  # the labels are still read
    rooted = labelme.read(GEN / "labels" / "plain.json", data_root=GEN)
    assert rooted.images[0].path == GEN / "images" / "plain.png" and rooted.problems == []


def test_real_labelme_files(tmp_path: Path) -> None:
    res = labelme.read(REAL / "Mandrill.json")
    (img,) = res.images
    assert (img.key, img.file_name, img.path, img.width, img.height) == ("Mandrill", "Mandrill.jpg", None, 256, 256)
    src = _shapes(REAL / "Mandrill.json")
    kept = {a.record: a for a in res.annotations}
    assert set(kept) == {f"Mandrill.json:shapes[{i}]" for i in (0, 1, 8, 9, 10)}
    for i in (0, 1):  # the eyes: polygons
        assert kept[f"Mandrill.json:shapes[{i}]"].polygon == _flat(src[i]["points"])
        assert kept[f"Mandrill.json:shapes[{i}]"].bbox == _extent(src[i]["points"])
    assert kept["Mandrill.json:shapes[10]"].bbox == _extent(src[10]["points"])  # the nose: a rectangle
    for i in (8, 9):  # the irises: circles
        (cx, cy), (px, py) = src[i]["points"]
        r = math.hypot(px - cx, py - cy)
        assert kept[f"Mandrill.json:shapes[{i}]"].bbox == pytest.approx((cx - r, cy - r, cx + r, cy + r))
    assert res.categories == ["Eye", "Iris", "Nose"]
    assert [a.class_name for a in res.annotations] == ["Eye", "Eye", "Iris", "Iris", "Nose"]
    reasons = {p.record: p.reason for p in res.problems}
    assert len(reasons) == 10
    assert {reasons[f"Mandrill.json:shapes[{i}]"] for i in range(2, 8)} == {"line strips are not supported (skipped)"}
    assert reasons["Mandrill.json:shapes[11]"] == "lines are not supported (skipped)"
    assert reasons["Mandrill.json:shapes[12]"] == "points are not supported (skipped)"

    flags = labelme.read(REAL / "test.json")  # image flags {"f1": true, "f2": false}, four point shapes
    assert [(a.kind, a.class_name, a.image_key) for a in flags.annotations] == [("image", "f1", "test")]
    assert len(flags.problems) == 4

    # a Windows separator in imagePath ("parent\\stem.jpg")
    shutil.copy(REAL / "backslash.json", tmp_path)
    (tmp_path / "parent").mkdir()
    PIL.Image.new("RGB", (512, 512)).save(tmp_path / "parent" / "stem.jpg")
    win = labelme.read(tmp_path / "backslash.json")
    assert win.images[0].path == tmp_path / "parent" / "stem.jpg"


def test_import_through_a_workspace(tmp_path: Path) -> None:
    data = tmp_path / "export"
    shutil.copytree(GEN, data)
    shutil.copy(REAL / "Mandrill.json", data)
    PIL.Image.new("RGB", (256, 256), "gray").save(data / "Mandrill.jpg")  # a stand-in of the right size
    ws = Workspace.create(tmp_path / "ws")
    reg = ws.add_images(sorted(str(p) for p in data.rglob("*.png")), progress=False)
    assert len(reg.paths) == 2
    rep = ws.import_annotations(data, format="labelme", annotator="ana", progress=False)
    assert rep.n_images == 3 and rep.n_images_found == 3, rep
    assert rep.n_labels_read == rep.n_labels_added == 13
    anns = ws.annotations()
    assert anns.height == 13 and set(anns["annotator"]) == {"ana"}
    counts = dict(anns.group_by("class_name").len().iter_rows())
    assert counts == {"dent": 4, "scratch": 1, "hole": 2, "defect": 1, "Eye": 2, "Iris": 2, "Nose": 1}
    assert anns.filter(anns["class_name"] == "defect")["kind"].to_list() == ["image"]
    eyes = anns.filter(anns["class_name"] == "Eye").sort("x0")
    src = _shapes(REAL / "Mandrill.json")
    assert eyes["polygon"].to_list() == [_flat(src[0]["points"]), _flat(src[1]["points"])]
    assert eyes.select("x0", "y0", "x1", "y1").rows()[0] == pytest.approx(_extent(src[0]["points"]))
    skipped = [p.reason for p in rep.problems]
    assert len(skipped) == 15 and all(r.endswith("are not supported (skipped)") for r in skipped)
    again = ws.import_annotations(data, format="labelme", annotator="ana", progress=False)
    assert again.n_labels_added == 0 and again.n_labels_already_present == 13


def _write(f: Path, doc: Any) -> Path:
    f.parent.mkdir(parents=True, exist_ok=True)
    f.write_text(doc if isinstance(doc, str) else json.dumps(doc))
    return f


def _doc(shapes: list[Any], **top: Any) -> dict[str, Any]:
    doc = {"version": "5.4.1", "flags": {}, "shapes": shapes, "imagePath": "a.jpg", "imageData": None,
           "imageHeight": 30, "imageWidth": 40}
    doc.update(top)
    return doc


def _rect(points: Any, **kw: Any) -> dict[str, Any]:
    return {"label": "dent", "points": points, "group_id": None, "shape_type": "rectangle", "flags": {}, **kw}


def test_malformed_files_raise(tmp_path: Path) -> None:
    def error(f: Path) -> str:
        with pytest.raises(FormatError) as info:
            formats.read(f, "labelme")
        msg = str(info.value)
        assert msg.startswith(f"{f.name}: ") and "\n" not in msg, msg
        return msg

    truncated = shutil.copy(GEN / "shapes.json", tmp_path / "shapes.json")
    truncated.write_bytes(truncated.read_bytes()[:500])
    assert "malformed JSON" in error(truncated)
    assert "not a LabelMe file" in error(_write(tmp_path / "list.json", [1, 2]))
    assert "got list" in error(tmp_path / "list.json")
    assert "not a LabelMe file" in error(_write(tmp_path / "coco.json", {"images": [], "annotations": []}))
    assert "shapes: expected a list, got dict" in error(_write(tmp_path / "b.json", _doc({})))
    assert "shapes: expected a list, got null" in error(_write(tmp_path / "b.json", _doc(None)))
    assert "malformed JSON" in error(_write(tmp_path / "huge.json", '{"shapes": [], "imagePath": ' + "9" * 5000 + "}"))
    assert "no such file" in error(tmp_path / "nope.json")
    (tmp_path / "empty").mkdir()
    assert "no LabelMe JSON files" in error(tmp_path / "empty")
    folder = tmp_path / "folder"
    _write(folder / "ok.json", _doc([_rect([[1, 1], [5, 5]])]))
    shutil.copy(truncated, folder / "z.json")
    with pytest.raises(FormatError, match=r"^z\.json: malformed JSON"):
        labelme.read(folder)  # one broken file in a folder: nothing is returned


def test_record_problems(tmp_path: Path) -> None:
    d = tmp_path / "export"
    shapes = [
        _rect([[1, 1], [5, 5]], group_id=3, description=""),
        _rect([[5, 5], [1, 1], [3, 3]]),
        _rect([["1", 1], [5, 5]]),
        _rect([[1, 1], [5, float("nan")]]),
        _rect([[1, 1], [5, float("inf")]]),
        _rect([[True, 1], [5, 5]]),
        _rect([[1, 1], [5, 1]]),
        _rect([[1, 1], [60, 20]]),
        _rect([]),
        {**_rect([[1, 1], [5, 5]]), "label": 7},
        {**_rect([[1, 1], [5, 5]]), "label": "  "},
        {**_rect([[1, 1], [5, 5]]), "shape_type": 3},
        {**_rect([[1, 1], [5, 5]]), "shape_type": "ellipse"},
        {"label": "scratch", "points": [[1, 1], [5, 5]]},  # no shape_type: a polygon (labelme < 3)
        {"label": "scratch", "points": [[1, 1], [5, 5], [1, 5]]},
        {**_rect([[1, 1], [5, 5], [5, 9], [1, 5]]), "shape_type": "oriented_rectangle", "group_id": True},
        {**_rect([[1, 1], [5, 5]]), "shape_type": "oriented_rectangle"},
        {**_rect([[1, 1], [1, 1]]), "shape_type": "circle"},
        {**_rect([[1, 1], [2, 1], [3, 3]]), "shape_type": "circle"},
        "not a shape",
        None,
        {**_rect([[1, 1], [5, 5]]), "flags": {"a": True, "b": "yes"}, "description": 5},
        {**_rect([[1, 1], [5, 5]]), "label": "__ignore__"},
    ]
    _write(d / "a.json", _doc(shapes, flags={"__ignore__": True, "cat": True, "dog": False, "x": 1}))
    _write(d / "sub" / "b.json", _doc([_rect([[1, 1], [5, 5]])], imagePath="../../../etc/passwd"))
    _write(d / "c.json", _doc([_rect([[1, 1], [5, 5]])], imagePath="/etc/passwd", imageWidth="40", flags=[1]))
    _write(d / "d.json", _doc([_rect([[1, 1], [5, 5]])], imagePath=None))
    _write(d / "e.json", _doc([_rect([[1, 1], [5, 5]])], imageWidth=-4, imageHeight=float("nan")))
    _write(d / "f.json", _doc([_rect([[1, 1], [500, 5]])], imageWidth=True, imageHeight=10**30))
    _write(d / "classes.json", {"names": ["dent"]})
    _write(d / "g.json", [1, 2])
    _write(d / ".ipynb_checkpoints" / "a-checkpoint.json", _doc([]))
    _write(d / ".hidden.json", _doc([]))
    res = labelme.read(d)
    assert [(i.key, i.width, i.height) for i in res.images] == [
        ("a", 40, 30), ("c", None, None), ("e", None, None), ("f", None, None), ("sub/b", 40, 30)]
    assert [a.record for a in res.annotations] == [
        "a.json:shapes[0]", "a.json:shapes[14]", "a.json:shapes[15]", "a.json:shapes[21]", "a.json:flags.cat",
        "c.json:shapes[0]", "e.json:shapes[0]", "f.json:shapes[0]", "sub/b.json:shapes[0]"]
    a = res.annotations
    assert a[0].bbox == (1.0, 1.0, 5.0, 5.0) and a[0].attributes == {"group_id": 3}
    assert a[1].polygon == [[1.0, 1.0, 5.0, 5.0, 1.0, 5.0]] and a[1].class_name == "scratch"
    assert a[2].polygon == [[1.0, 1.0, 5.0, 5.0, 5.0, 9.0, 1.0, 5.0]]
    assert a[2].attributes == {"shape": "oriented_rectangle"}
    assert a[3].attributes == {"flags": {"a": True}}
    assert a[7].bbox == (1.0, 1.0, 500.0, 5.0)  # no valid size: only the box's own shape is checked
    assert res.categories == ["dent", "scratch", "cat"]
    got = {(p.record, p.reason.split(" (")[0].split(": ")[0]) for p in res.problems}
    zero = "box has negative or zero size"
    want = {
        ("a.json:shapes[1]", "points"), ("a.json:shapes[2]", "points"), ("a.json:shapes[3]", "points"),
        ("a.json:shapes[4]", "points"), ("a.json:shapes[5]", "points"), ("a.json:shapes[6]", zero),
        ("a.json:shapes[7]", "box"), ("a.json:shapes[8]", "points"), ("a.json:shapes[9]", "label"),
        ("a.json:shapes[10]", "label"), ("a.json:shapes[11]", "shape_type"),
        ("a.json:shapes[12]", "unknown shape_type 'ellipse'"), ("a.json:shapes[13]", "points"),
        ("a.json:shapes[16]", "points"), ("a.json:shapes[17]", zero), ("a.json:shapes[18]", "points"),
        ("a.json:shapes[19]", "expected a shape object, got str"),
        ("a.json:shapes[20]", "expected a shape object, got null"),
        ("a.json:shapes[22]", "label '__ignore__' is reserved by labelme"),
        ("c.json", "path escapes data root"), ("c.json", "imageWidth"), ("c.json:flags", "expected an object of name"),
        ("classes.json", "not a LabelMe file"), ("d.json", "imagePath"), ("e.json", "imageWidth"),
        ("f.json", "imageWidth"), ("g.json", "not a LabelMe file"), ("sub/b.json", "path escapes data root"),
    }
    assert got == want, got ^ want
    reasons = dict(_problems(res))
    assert reasons["a.json:shapes[1]"] == "points: a rectangle needs 2 corners, got 3 points"
    assert reasons["a.json:shapes[3]"].startswith("points: point 1 has non-finite coordinates")
    assert reasons["a.json:shapes[13]"] == "points: a polygon needs at least 3 points, got 2"
    assert "extends 20 px past the 40x30 image" in reasons["a.json:shapes[7]"]
    assert reasons["sub/b.json"] == "path escapes data root: ../../../etc/passwd"
    assert reasons["d.json"] == "imagePath: expected a file name, got None; file skipped"
