"""Moved images do not break saved versions: a version's images are content ids, found where the
workspace last registered them; the path the version recorded stays as history (``recorded_path``)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import polars as pl
import pytest

from jupyter_cvops import Workspace
from jupyter_cvops.datasets._verify import MissingImagesError, locate, require_files


@pytest.fixture
def moved(tmp_path: Path, shared_data: Path) -> tuple[Workspace, Path, Path]:
    """30 images registered and snapshotted as 'baseline', then their folder moved and registered again."""
    old, new = tmp_path / "imgs", tmp_path / "archive" / "imgs"
    shutil.copytree(shared_data / "images" / "neu-surface-defects", old)
    ws = Workspace.create(tmp_path / "ws")
    ws.add_images(old, progress=False)
    ws.taxonomy.add("defect", definition="any defect")
    ws.taxonomy.commit("v1")
    ids = ws.images()["image_id"].to_list()
    ws.add_annotations(pl.DataFrame({"image_id": ids, "annotator": "ana", "class_name": "defect", "kind": "image"}))
    ws.snapshot(name="baseline")
    new.parent.mkdir()
    shutil.move(old, new)
    report = ws.add_images(new, progress=False)
    assert len(report.moved) == 30
    return ws, old, new


def test_verify_after_a_move_finds_every_image_moved_not_missing(moved: tuple[Workspace, Path, Path]) -> None:
    ws, old, new = moved
    v = ws.version("baseline")
    rep = v.verify(progress=False)
    assert rep.ok and rep.n_checked == 30 and rep.missing.height == 0 and rep.changed.height == 0
    assert rep.moved.height == 30 and "30 moved" in repr(rep)
    assert all(p.startswith(str(new)) for p in rep.moved["path"])
    assert all(p.startswith(str(old)) for p in rep.moved["recorded_path"])


def test_items_give_the_current_place_and_keep_the_recorded_one(moved: tuple[Workspace, Path, Path]) -> None:
    ws, old, new = moved
    items = ws.version("baseline").items()
    assert items.columns[:3] == ["image_id", "path", "recorded_path"]
    assert {"bytes", "width", "height", "split"} <= set(items.columns)
    assert all(Path(p).is_file() and p.startswith(str(new)) for p in items["path"])
    assert [Path(p).relative_to(old) for p in items["recorded_path"]] == \
           [Path(p).relative_to(new) for p in items["path"]]
    assert ws.snapshot(name="baseline").id == ws.version("baseline").id  # a move changes no content


def test_export_copying_images_after_a_move(moved: tuple[Workspace, Path, Path], tmp_path: Path) -> None:
    ws, _, new = moved
    ws.export("baseline", tmp_path / "out", format="coco", copy_images=True)
    listed = [im for f in (tmp_path / "out").rglob("*.json") for im in json.loads(f.read_text())["images"]]
    assert len(listed) == 30  # one file per split
    assert len(list((tmp_path / "out").rglob("*.jpg"))) == 30
    back = Workspace.create(tmp_path / "back")
    back.add_images(tmp_path / "out", progress=False)
    assert set(back.images()["image_id"]) == set(ws.version("baseline").items()["image_id"])


def test_a_file_moved_back_without_registering_is_found_where_recorded(moved: tuple[Workspace, Path, Path]) -> None:
    ws, old, new = moved
    shutil.move(new, old)  # the registered place is gone, the recorded one is back
    items = ws.version("baseline").items()
    assert all(p.startswith(str(old)) for p in items["path"])
    rep = ws.version("baseline").verify(progress=False)
    assert rep.ok and rep.moved.height == 0


def test_a_truly_missing_file_is_reported_by_id_and_both_paths(moved: tuple[Workspace, Path, Path]) -> None:
    ws, _, new = moved
    items = ws.version("baseline").items()
    gone = items.row(0, named=True)
    Path(gone["path"]).unlink()
    rep = ws.version("baseline").verify(progress=False)
    assert not rep.ok and rep.missing["image_id"].to_list() == [gone["image_id"]]
    assert rep.moved.height == 29 and "ws.add_images(new_folder)" in repr(rep)
    with pytest.raises(MissingImagesError, match=rf"1 of its 30 images is missing: image {gone['image_id'][:12]} "
                                                 rf"at {gone['path']} \(recorded in the version at "
                                                 rf"{gone['recorded_path']}\); .*ws.add_images") as info:
        require_files(ws.version("baseline").items(), ws.version("baseline").id)
    assert info.value.missing["image_id"].to_list() == [gone["image_id"]]


def test_export_of_a_truly_missing_file_is_a_clear_error(moved: tuple[Workspace, Path, Path],
                                                          tmp_path: Path) -> None:
    ws, _, _ = moved
    Path(ws.version("baseline").items()["path"][0]).unlink()
    with pytest.raises(MissingImagesError, match="images is missing: image "):
        ws.export("baseline", tmp_path / "out", format="coco", copy_images=True)


def test_export_pointing_at_a_missing_file_warns(moved: tuple[Workspace, Path, Path], tmp_path: Path) -> None:
    from jupyter_cvops.datasets._export import ExportWarning

    ws, _, _ = moved
    Path(ws.version("baseline").items()["path"][0]).unlink()
    with pytest.warns(ExportWarning, match="1 of its 30 images is missing"):
        ws.export("baseline", tmp_path / "out", format="coco", copy_images=False)


def test_locate_prefers_the_registered_place_and_keeps_unknown_images(tmp_path: Path) -> None:
    here = tmp_path / "here.png"
    here.write_bytes(b"x")
    items = pl.DataFrame({"image_id": ["a", "b", "c"], "recorded_path": [str(here), "/old/b.png", None],
                          "split": ["train", "val", "test"]})
    known = pl.DataFrame({"image_id": ["a", "b", "b"], "path": ["/gone/a.png", "/new/b.png", "/newer/b.png"]})
    out = locate(items, known)
    assert out.columns == ["image_id", "path", "recorded_path", "split"]
    # a: registered elsewhere but gone there, still at the recorded place; b: the last registered place;
    # c: unknown to the workspace and unrecorded
    assert out["path"].to_list() == [str(here), "/newer/b.png", None]
