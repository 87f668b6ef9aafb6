"""Every reader opens only files inside the export's folder or the caller's data_root, symlinks resolved
(item A1): annotation files found by walking a folder, the file named, images, label configs.
YOLO has its own, longer set in test_yolo_confinement.py."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from PIL import Image

from jupyter_cvops import formats
from jupyter_cvops.formats._common import ESCAPES, short
from jupyter_cvops.formats._types import FormatError, ImportResult

SECRET = "s3cr3t"


def _outside(tmp_path: Path) -> Path:
    """A folder beside the export holding an image the reader must not open."""
    out = tmp_path / "outside"
    out.mkdir()
    Image.new("RGB", (20, 10)).save(out / f"{SECRET}.png")
    return out


# one export per format naming its image ``name``, with one box of class ``cls``; returns the path to read
def _coco(folder: Path, name: str, cls: str = "a") -> Path:
    doc = {"images": [{"id": 1, "file_name": name, "width": 20, "height": 10}],
           "categories": [{"id": 1, "name": cls}],
           "annotations": [{"id": 1, "image_id": 1, "category_id": 1, "bbox": [1, 1, 5, 5]}]}
    (folder / "annotations").mkdir(parents=True, exist_ok=True)
    f = folder / "annotations" / f"instances_{cls}.json"
    f.write_text(json.dumps(doc))
    return f


def _voc(folder: Path, name: str, cls: str = "a") -> Path:
    (folder / "Annotations").mkdir(parents=True, exist_ok=True)
    f = folder / "Annotations" / f"{cls}.xml"
    f.write_text(f"<annotation><filename>{name}</filename><size><width>20</width><height>10</height></size>"
                 f"<object><name>{cls}</name><bndbox><xmin>1</xmin><ymin>1</ymin><xmax>6</xmax><ymax>6</ymax>"
                 "</bndbox></object></annotation>")
    return f


def _cvat(folder: Path, name: str, cls: str = "a") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    f = folder / "annotations.xml"
    f.write_text(f'<annotations><image id="0" name="{name}" width="20" height="10">'
                 f'<box label="{cls}" xtl="1" ytl="1" xbr="6" ybr="6"/></image></annotations>')
    return f


def _labelstudio(folder: Path, name: str, cls: str = "a") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    result = {"type": "rectanglelabels", "original_width": 20, "original_height": 10,
              "value": {"x": 10, "y": 10, "width": 20, "height": 20, "rectanglelabels": [cls]}}
    f = folder / "tasks.json"
    f.write_text(json.dumps([{"id": 1, "data": {"image": name}, "annotations": [{"id": 1, "result": [result]}]}]))
    return f


def _labelme(folder: Path, name: str, cls: str = "a") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    f = folder / f"{cls}.json"
    f.write_text(json.dumps({"imagePath": name, "imageWidth": 20, "imageHeight": 10, "shapes": [
        {"label": cls, "shape_type": "rectangle", "points": [[1, 1], [6, 6]]}]}))
    return f


WRITERS: dict[str, Callable[..., Path]] = {
    "coco": _coco, "voc": _voc, "cvat": _cvat, "labelstudio": _labelstudio, "labelme": _labelme}


def _no_secret(res: ImportResult) -> None:
    assert not [i for i in res.images if i.path is not None and SECRET in str(i.path)]
    assert not [a for a in res.annotations if SECRET in a.class_name]


@pytest.mark.parametrize("fmt", sorted(WRITERS))
@pytest.mark.parametrize("how", ["dotdot", "absolute", "symlink"])
def test_image_outside_is_refused(tmp_path: Path, fmt: str, how: str) -> None:
    out = _outside(tmp_path)
    ds = tmp_path / "ds"
    ds.mkdir()
    if how == "symlink":  # a file beside the annotation file that points out of the export
        f = WRITERS[fmt](ds, "img.png")
        (f.parent / "img.png").symlink_to(out / f"{SECRET}.png")
    else:  # relative to the annotation file (COCO and VOC: one folder down)
        up = "../../" if fmt in ("coco", "voc") else "../"
        f = WRITERS[fmt](ds, f"{up}outside/{SECRET}.png" if how == "dotdot" else str(out / f"{SECRET}.png"))
    if fmt == "labelstudio" and how == "absolute":  # a URL path: looked up under the data root, never outside
        res = formats.read(f, fmt)
        assert [i.path for i in res.images] == [None] and res.problems == []
        return
    res = formats.read(f, fmt)
    _no_secret(res)
    assert [i.path for i in res.images] == [None]
    assert [p.reason.split(":")[0] for p in res.problems] == [ESCAPES]
    # with a data root holding both, the same image is found
    wide = formats.read(f, fmt, data_root=tmp_path)
    assert [i.path is not None for i in wide.images] == [True] and wide.problems == []


@pytest.mark.parametrize("fmt", ["coco", "voc", "labelme"])
def test_symlinked_annotation_file_outside_is_not_read(tmp_path: Path, fmt: str) -> None:
    """A folder read holds one good file and one symlink to a file outside: the outside one is a problem."""
    out = _outside(tmp_path)
    ds = tmp_path / "ds"
    ds.mkdir()
    Image.new("RGB", (20, 10)).save(ds / "a.png")
    good = WRITERS[fmt](ds, "../a.png" if fmt in ("coco", "voc") else "a.png", "a")
    evil = WRITERS[fmt](out / "evil", "x.png", SECRET)  # a file the reader must not open
    link = good.parent / evil.name
    link.symlink_to(evil)
    res = formats.read(ds, fmt)
    _no_secret(res)
    assert [a.class_name for a in res.annotations] == ["a"]
    rel = link.relative_to(ds).as_posix()
    assert [(p.record, p.reason) for p in res.problems] == [(rel, f"{ESCAPES}: {short(rel)}")]
    # a data_root holding the target widens the scope
    wide = formats.read(ds, fmt, data_root=tmp_path)
    assert sorted(a.class_name for a in wide.annotations) == sorted(["a", SECRET])


@pytest.mark.parametrize("fmt", sorted(WRITERS))
def test_named_file_symlinked_out_of_its_folder_is_a_format_error(tmp_path: Path, fmt: str) -> None:
    out = _outside(tmp_path)
    evil = WRITERS[fmt](out / "evil", "x.png", SECRET)
    ds = tmp_path / "ds"
    ds.mkdir()
    link = ds / evil.name
    link.symlink_to(evil)
    with pytest.raises(FormatError, match=f"{ESCAPES}"):
        formats.read(link, fmt)


def test_labelstudio_config_symlinked_out_is_not_read(tmp_path: Path) -> None:
    out = _outside(tmp_path)
    (out / "label_config.xml").write_text(f'<View><RectangleLabels name="l"><Label value="{SECRET}"/>'
                                          "</RectangleLabels></View>")
    ds = tmp_path / "ds"
    f = _labelstudio(ds, "a.png")
    (ds / "label_config.xml").symlink_to(out / "label_config.xml")
    res = formats.read(f, "labelstudio")
    assert SECRET not in res.categories and [a.class_name for a in res.annotations] == ["a"]
    assert [(p.record, p.reason) for p in res.problems] == [("label_config.xml", f"{ESCAPES}: 'label_config.xml'")]


@pytest.mark.parametrize("fmt", sorted(WRITERS))
def test_data_root_is_resolved_and_an_escape_names_its_image(tmp_path: Path, fmt: str) -> None:
    """``ImportResult.data_root`` is the folder images were looked up under, symlinks resolved (by
    default the export's dataset folder); the problem about an escaping image carries its key."""
    _outside(tmp_path)
    (tmp_path / "real").mkdir()
    (tmp_path / "via").symlink_to(tmp_path / "real")
    ds = tmp_path / "via" / "ds"
    up = "../../" if fmt in ("coco", "voc") else "../"  # relative to the annotation file
    f = WRITERS[fmt](ds, f"{up}outside/{SECRET}.png")
    res = formats.read(f, fmt)
    assert res.data_root == str((tmp_path / "real" / "ds").resolve()) != str(ds)
    (ref,) = res.images
    assert ref.path is None
    assert [(p.reason.split(":")[0], p.image_key) for p in res.problems] == [(ESCAPES, ref.key)]
    wide = formats.read(f, fmt, data_root=tmp_path / "via")
    assert wide.data_root == str((tmp_path / "real").resolve())


def test_problems_about_no_image_name_none(tmp_path: Path) -> None:
    """A refused annotation file or config is about no image: its problem has no ``image_key``."""
    out = _outside(tmp_path)
    (out / "label_config.xml").write_text('<View><RectangleLabels name="l"><Label value="a"/></RectangleLabels></View>')
    f = _labelstudio(tmp_path / "ds", "a.png")
    (f.parent / "label_config.xml").symlink_to(out / "label_config.xml")
    res = formats.read(f, "labelstudio")
    assert [(p.record, p.image_key) for p in res.problems] == [("label_config.xml", None)]
