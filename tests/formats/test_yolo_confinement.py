"""YOLO reader stays inside the dataset root (or the caller's data_root): security item A1."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from PIL import Image

from jupyter_cvops.formats import yolo
from jupyter_cvops.formats._common import ESCAPES, short
from jupyter_cvops.formats._types import FormatError, ImportResult

SECRET = "s3cr3t"


def _outside(tmp_path: Path) -> Path:
    """A folder beside the dataset with a secret text file, images and labels the reader must not see."""
    out = tmp_path / "outside"
    (out / "images" / "train").mkdir(parents=True)
    (out / "labels" / "train").mkdir(parents=True)
    Image.new("RGB", (20, 10)).save(out / "images" / "train" / f"{SECRET}_img.png")
    (out / "labels" / "train" / f"{SECRET}_img.txt").write_text("0 0.5 0.5 0.2 0.2\n")
    (out / "credentials.txt").write_text(f"{SECRET}_a\n{SECRET}_b\n")
    return out


def _dataset(tmp_path: Path) -> Path:
    ds = tmp_path / "home" / "u" / "ds"
    (ds / "images" / "train").mkdir(parents=True)
    (ds / "labels" / "train").mkdir(parents=True)
    Image.new("RGB", (20, 10)).save(ds / "images" / "train" / "a.png")
    (ds / "labels" / "train" / "a.txt").write_text("0 0.5 0.5 0.2 0.2\n")
    return ds


def _no_secret(res: ImportResult) -> None:
    seen = [i.key for i in res.images] + [i.file_name for i in res.images] + list(res.categories)
    seen += [str(i.path) for i in res.images if i.path is not None]
    assert not [s for s in seen if SECRET in s]


@pytest.mark.parametrize("where", ["/", "../.."])
def test_yaml_path_outside_is_refused(tmp_path: Path, where: str) -> None:
    _outside(tmp_path)
    ds = _dataset(tmp_path)
    (ds / "data.yaml").write_text(yaml.safe_dump({"path": where, "train": "images/train", "names": ["x"]}))
    res = yolo.read(ds / "data.yaml")
    _no_secret(res)
    assert [i.key for i in res.images] == ["a"]  # the yaml's own folder stays the root
    assert [(p.record, p.reason) for p in res.problems] == [("data.yaml: path", f"{ESCAPES}: {short(where)}")]


@pytest.mark.parametrize("where", [".", "sub"])
def test_yaml_path_inside_still_works(tmp_path: Path, where: str) -> None:
    top = tmp_path / "top"
    ds = top / where
    (ds / "images" / "train").mkdir(parents=True)
    (ds / "labels" / "train").mkdir(parents=True)
    Image.new("RGB", (20, 10)).save(ds / "images" / "train" / "a.png")
    (ds / "labels" / "train" / "a.txt").write_text("0 0.5 0.5 0.2 0.2\n")
    (top / "data.yaml").write_text(yaml.safe_dump({"path": where, "train": "images/train", "names": ["x"]}))
    res = yolo.read(top / "data.yaml")
    assert [i.key for i in res.images] == ["a"] and len(res.annotations) == 1 and not res.problems


def test_absolute_list_file_outside_is_refused(tmp_path: Path) -> None:
    out = _outside(tmp_path)
    ds = _dataset(tmp_path)
    (ds / "data.yaml").write_text(yaml.safe_dump(
        {"train": str(out / "credentials.txt"), "val": "images/train", "names": ["x"]}))
    res = yolo.read(ds)
    _no_secret(res)
    assert [i.key for i in res.images] == ["a"]
    assert [(p.record, p.reason) for p in res.problems] == [
        ("data.yaml: train", f"{ESCAPES}: {short(str(out / 'credentials.txt'))}")]


def test_image_folder_outside_is_refused(tmp_path: Path) -> None:
    out = _outside(tmp_path)
    ds = _dataset(tmp_path)
    (ds / "data.yaml").write_text(yaml.safe_dump({"train": str(out / "images" / "train"), "names": ["x"]}))
    res = yolo.read(ds)
    _no_secret(res)
    assert res.images == [] and res.annotations == []
    assert [p.reason.split(":")[0] for p in res.problems] == [ESCAPES]


def test_obj_data_names_outside_is_a_format_error(tmp_path: Path) -> None:
    out = _outside(tmp_path)
    ds = _dataset(tmp_path)
    (ds / "obj.data").write_text(f"classes = 2\nnames = {out / 'credentials.txt'}\n")
    with pytest.raises(FormatError, match=rf"obj\.data: names: {ESCAPES}") as e:
        yolo.read(ds / "obj.data")
    assert SECRET not in str(e.value)


def test_obj_data_names_symlinked_out_is_a_format_error(tmp_path: Path) -> None:
    out = _outside(tmp_path)
    ds = _dataset(tmp_path)
    (ds / "obj.names").symlink_to(out / "credentials.txt")
    (ds / "obj.data").write_text("classes = 2\nnames = obj.names\n")
    with pytest.raises(FormatError, match=rf"obj\.data: names: {ESCAPES}"):
        yolo.read(ds / "obj.data")


def test_obj_data_list_outside_is_refused(tmp_path: Path) -> None:
    out = _outside(tmp_path)
    ds = _dataset(tmp_path)
    (ds / "obj.names").write_text("x\n")
    (ds / "obj.data").write_text(f"classes = 1\nnames = obj.names\ntrain = {out / 'credentials.txt'}\n")
    res = yolo.read(ds / "obj.data")
    _no_secret(res)
    assert res.images == []
    assert [(p.record, p.reason.split(":")[0]) for p in res.problems] == [("obj.data: train", ESCAPES)]


def test_symlinked_label_file_outside_is_not_read(tmp_path: Path) -> None:
    out = _outside(tmp_path)
    ds = _dataset(tmp_path)
    (out / "labels" / "train" / "b.txt").write_text("0 0.5 0.5 0.2 0.2\n0 0.1 0.1 0.1 0.1\n")
    Image.new("RGB", (20, 10)).save(ds / "images" / "train" / "b.png")
    (ds / "labels" / "train" / "b.txt").symlink_to(out / "labels" / "train" / "b.txt")
    (ds / "data.yaml").write_text(yaml.safe_dump({"train": "images/train", "names": ["x"]}))
    res = yolo.read(ds)
    assert [a.image_key for a in res.annotations] == ["a"]  # b's outside lines never read
    assert [(p.record, p.reason) for p in res.problems] == [("labels/train/b.txt", f"{ESCAPES}: {short('labels/train/b.txt')}")]


def test_data_root_widens_the_scope(tmp_path: Path) -> None:
    out = _outside(tmp_path)
    ds = _dataset(tmp_path)
    (ds / "data.yaml").write_text(yaml.safe_dump({"train": str(out / "images" / "train"), "names": ["x"]}))
    res = yolo.read(ds, data_root=tmp_path)
    assert [i.key for i in res.images] == [f"{SECRET}_img"] and len(res.annotations) == 1


def test_data_root_is_resolved_and_an_escape_names_its_image(tmp_path: Path) -> None:
    """``ImportResult.data_root`` is the dataset root (or the caller's data_root), symlinks resolved; an
    image symlinked out is a problem carrying its key, a label file symlinked out one without."""
    out = _outside(tmp_path)
    ds = _dataset(tmp_path)
    Image.new("RGB", (20, 10)).save(out / "b.png")
    (ds / "images" / "train" / "b.png").symlink_to(out / "b.png")
    (ds / "labels" / "train" / "b.txt").write_text("0 0.5 0.5 0.2 0.2\n")
    (ds / "images" / "train" / "c.png").symlink_to(ds / "images" / "train" / "a.png")
    (ds / "labels" / "train" / "c.txt").symlink_to(out / "labels" / "train" / f"{SECRET}_img.txt")
    (ds / "data.yaml").write_text(yaml.safe_dump({"train": "images/train", "names": ["x"]}))
    (tmp_path / "via").symlink_to(tmp_path / "home")
    res = yolo.read(tmp_path / "via" / "u" / "ds")
    assert res.data_root == str(ds.resolve()) and "via" not in res.data_root
    assert [(p.record, p.image_key, p.reason.split(":")[0]) for p in res.problems] == [
        ("labels/train/b.txt", "b", ESCAPES),
        ("labels/train/b.txt:1", None, "image size unknown (image file not found); pass image_size="),
        ("labels/train/c.txt", None, ESCAPES)]
    assert [(i.key, i.path is None) for i in res.images] == [("a", False), ("b", True), ("c", False)]
    wide = yolo.read(tmp_path / "via" / "u" / "ds", data_root=tmp_path / "via")
    assert wide.data_root == str((tmp_path / "home").resolve())


def test_dataset_read_through_a_symlink_finds_its_images(tmp_path: Path) -> None:
    """A data.yaml read through a symlinked folder at another depth finds images and labels as read directly
    (its split folders are resolved, so the dataset root is too)."""
    ds = _dataset(tmp_path)
    (ds / "data.yaml").write_text(yaml.safe_dump({"train": "images/train", "names": ["x"]}))
    (tmp_path / "ds-link").symlink_to(ds)
    res = yolo.read(tmp_path / "ds-link")
    assert res.problems == [] and len(res.annotations) == 1
    assert [(i.key, i.file_name, i.path) for i in res.images] == [
        ("a", "images/train/a.png", (ds / "images" / "train" / "a.png").resolve())]
    assert res.data_root == str(ds.resolve())
