"""Importing an export whose images are already registered elsewhere (issue 9, B1): records are matched
to registered images by path, then file name, then content hash; the report says where it looked."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import polars as pl
import pytest
from PIL import Image

from jupyter_cvops import Workspace, formats
from jupyter_cvops.cli import main
from jupyter_cvops.formats._types import RecordProblem
from jupyter_cvops.labels._importing import import_result
from jupyter_cvops.labels._matching import match_registered

NEU = "formats/voc-neu-det"
STEMS = [f"{c}_{i}" for c in ("crazing", "scratches") for i in range(1, 7)]  # 12 images, 2 classes


def _objects(xml: Path) -> int:
    return xml.read_text().count("<object>")


def _where(anns: Path) -> str:
    """Where a VOC import of ``anns`` (a folder ANNOTATIONS) says it looked: its data root, the folder above
    (``ImportResult.data_root``, symlinks resolved)."""
    return f"under the data root {anns.parent.resolve()}"


@pytest.fixture
def neu(shared_data: Path, tmp_path: Path) -> tuple[Path, Path]:
    """Copies of 12 NEU-DET images in ``registered/`` and of their VOC XMLs in ``elsewhere/ANNOTATIONS``."""
    imgs, anns = tmp_path / "registered", tmp_path / "elsewhere" / "ANNOTATIONS"
    imgs.mkdir()
    anns.mkdir(parents=True)
    for stem in STEMS:
        shutil.copy(shared_data / NEU / "IMAGES" / f"{stem}.jpg", imgs)
        shutil.copy(shared_data / NEU / "ANNOTATIONS" / f"{stem}.xml", anns)
    return imgs, anns


@pytest.fixture
def ws(tmp_path: Path) -> Workspace:
    return Workspace.create(tmp_path / "ws")


def test_xml_kept_elsewhere_attaches_to_registered_images(neu: tuple[Path, Path], ws: Workspace) -> None:
    imgs, anns = neu
    ws.add_images(imgs, progress=False)
    rep = ws.import_annotations(anns, format="voc", progress=False)  # defaults: data root next to the XMLs
    n_objects = sum(_objects(f) for f in anns.iterdir())
    assert rep.problems == [], rep
    assert (rep.n_images_found, rep.n_matched_by_name, rep.n_labels_added) == (12, 12, n_objects)
    by_path = dict(zip(ws.images()["image_id"], ws.images()["path"]))
    assert ws.images().height == 12  # nothing new registered
    labels = ws.annotations()
    assert {Path(by_path[i]).stem for i in labels["image_id"]} == set(STEMS)
    assert set(labels["class_name"]) == {"crazing", "scratches"}
    head = repr(rep).splitlines()[0]
    assert "12 matched to registered images: 12 by name" in head
    assert head.endswith(f"images looked up {_where(anns)}>"), head
    assert rep.to_dict()["matched_to_registered"] == {"path": 0, "name": 12, "hash": 0}
    again = ws.import_annotations(anns, format="voc", progress=False)
    assert (again.n_labels_added, again.n_labels_already_present) == (0, n_objects)


def test_relative_path_decides_and_ambiguous_names_are_problems(
        shared_data: Path, neu: tuple[Path, Path], ws: Workspace, tmp_path: Path) -> None:
    _, anns = neu
    for line, src in (("line1", "crazing_1"), ("line2", "crazing_2")):  # same name, different images
        (tmp_path / "cams" / line).mkdir(parents=True)
        shutil.copy(shared_data / NEU / "IMAGES" / f"{src}.jpg", tmp_path / "cams" / line / "crazing_1.jpg")
    ws.add_images(tmp_path / "cams", progress=False)
    one = tmp_path / "one"
    one.mkdir()
    shutil.copy(anns / "crazing_1.xml", one)
    rep = ws.import_annotations(one / "crazing_1.xml", format="voc", progress=False)
    assert rep.n_images_found == 0 and rep.n_images_ambiguous == 1
    (key, reason), = rep.problems_frame().rows()
    assert key == "image crazing_1.jpg"
    assert "its name fits 2 registered images" in reason
    assert str((tmp_path / "cams" / "line1" / "crazing_1.jpg").resolve()) in reason
    assert str((tmp_path / "cams" / "line2" / "crazing_1.jpg").resolve()) in reason
    # a name with its folder picks one of them (longest matching tail of the path)
    xml = one / "crazing_1.xml"
    xml.write_text(xml.read_text().replace("<filename>crazing_1.jpg", "<filename>line2/crazing_1.jpg"))
    rep = ws.import_annotations(xml, format="voc", progress=False)
    assert rep.problems == [] and (rep.n_images_found, rep.n_matched_by_path) == (1, 1), rep
    line2 = ws.images().filter(pl.col("path").str.contains("line2"))["image_id"].item()
    assert set(ws.annotations()["image_id"]) == {line2}


def test_copy_of_registered_image_under_data_root_matches_by_hash(
        neu: tuple[Path, Path], ws: Workspace) -> None:
    imgs, anns = neu
    ws.add_images(imgs, progress=False)
    copies = anns.parent / "JPEGImages"
    shutil.copytree(imgs, copies)  # the export's own copies of the images
    rep = ws.import_annotations(anns, format="voc", progress=False)
    assert rep.problems == [] and (rep.n_images_found, rep.n_matched_by_hash) == (12, 12), rep
    assert ws.images().height == 12 and set(ws.annotations()["image_id"]) == set(ws.images()["image_id"])
    assert "12 by hash" in repr(rep)


def test_not_found_names_the_folder_searched(neu: tuple[Path, Path], ws: Workspace, tmp_path: Path) -> None:
    _, anns = neu
    other = tmp_path / "other.png"
    Image.new("RGB", (8, 8)).save(other)
    ws.add_images(other, progress=False)
    rep = ws.import_annotations(anns, format="voc", progress=False)
    assert rep.n_labels_added == 0 and rep.n_images_found == 0
    reasons = dict(rep.problems_frame().rows())
    assert reasons["image crazing_1.jpg"] == (
        f"image file not found {_where(anns)}, and none of the 1 registered images has its path or file name")
    assert rep.to_dict()["data_root"] == str(anns.parent.resolve())
    # a data root the caller names is the one reported (resolved)
    rep = ws.import_annotations(anns, format="voc", data_root=tmp_path, progress=False)
    assert rep.problems[0].reason.startswith(f"image file not found under the data root {tmp_path.resolve()},")
    # a result no reader made (no data root) is reported by its format and export
    result = formats.read(anns, "voc")
    result.data_root = None
    rep = import_result(ws.store, ws.taxonomy, result, register=lambda p: ws.add_images(p, progress=False),
                        add_missing_classes=True, annotator=None)
    assert rep.problems[0].reason.startswith(f"image file not found under the default data root of a voc "
                                             f"export at {anns},")


def test_sizes_guard_a_match_by_name(neu: tuple[Path, Path], ws: Workspace, tmp_path: Path) -> None:
    _, anns = neu
    (tmp_path / "small").mkdir()
    Image.new("L", (64, 64)).save(tmp_path / "small" / "crazing_1.jpg")  # same name, another image
    ws.add_images(tmp_path / "small", progress=False)
    rep = ws.import_annotations(anns / "crazing_1.xml", format="voc", progress=False)
    assert rep.n_labels_added == 0 and rep.n_matched_by_name == 0
    reasons = dict(rep.problems_frame().rows())
    reg = (tmp_path / "small" / "crazing_1.jpg").resolve()
    assert reasons["image crazing_1.jpg"] == (
        f"export says 200x200 but the registered image {reg} is 64x64; its labels are skipped")


def test_names_outside_every_root_read_nothing(neu: tuple[Path, Path], ws: Workspace, tmp_path: Path) -> None:
    """Only registered images are matched, and by their stored paths: a file named by the export
    outside its data root is neither read nor registered, even when it exists."""
    imgs, _ = neu
    ws.add_images(imgs / "crazing_1.jpg", progress=False)
    outside = tmp_path / "outside"
    outside.mkdir()
    shutil.copy(imgs / "crazing_2.jpg", outside / "crazing_2.jpg")  # exists, not registered
    export = tmp_path / "export"
    export.mkdir()
    names = ["../outside/crazing_2.jpg", str(outside / "crazing_2.jpg"), "../registered/crazing_1.jpg",
             "a\x00b.jpg", "http://[::1", "", "/data/local-files/?d=..%2F..%2Fetc%2Fpasswd"]
    doc = {"images": [{"id": i, "file_name": n, "width": 200, "height": 200} for i, n in enumerate(names)],
           "annotations": [{"id": i, "image_id": i, "category_id": 1, "bbox": [1, 1, 4, 4]}
                           for i in range(len(names))],
           "categories": [{"id": 1, "name": "crazing"}]}
    (export / "ann.json").write_text(json.dumps(doc))
    rep = ws.import_annotations(export / "ann.json", format="coco", progress=False)
    assert ws.images().height == 1  # the outside copy was not registered
    assert (rep.n_images_found, rep.n_matched_by_path, rep.n_labels_added) == (1, 1, 1), rep
    reasons = rep.problems_frame()
    assert not any("crazing_1" in k for k in reasons["record"]), rep  # its escape settled by the match
    assert any(k == "image ../outside/crazing_2.jpg" for k in reasons["record"])


def test_reader_problem_naming_its_image_is_settled_by_key(neu: tuple[Path, Path], ws: Workspace) -> None:
    """A problem is tied to its image by ``image_key``, never by its text: an escape of a matched image is
    settled whatever name it shows; one naming another key, or no image, stays."""
    imgs, anns = neu
    ws.add_images(imgs, progress=False)
    result = formats.read(anns, "voc")
    result.problems += [RecordProblem("crazing_1.xml", "path escapes data root: somewhere/else.jpg", "crazing_1"),
                        RecordProblem("no-such-image.xml", "path escapes data root: crazing_2.jpg", "no-such-image"),
                        RecordProblem("labels.txt", "path escapes data root: crazing_3.jpg")]
    rep = import_result(ws.store, ws.taxonomy, result, register=lambda p: ws.add_images(p, progress=False),
                        add_missing_classes=True, annotator=None)
    assert rep.problems_frame().rows() == [("no-such-image.xml", "path escapes data root: crazing_2.jpg"),
                                           ("labels.txt", "path escapes data root: crazing_3.jpg")]


def test_match_registered_prefers_the_longest_tail() -> None:
    reg = pl.DataFrame({"image_id": ["a", "b", "c"],
                        "path": ["/d/x/cam/1.jpg", "/d/y/cam/1.jpg", "/d/y/other/1.jpg"]})
    m = match_registered({"k1": ["y/cam/1.jpg"], "k2": ["cam/1.jpg"], "k3": ["1"], "k4": [r"..\y\other\1.jpg"]},
                         reg)
    assert (m["k1"].how, m["k1"].image_id) == ("path", "b")
    assert m["k2"].how == "ambiguous" and m["k2"].paths == ("/d/x/cam/1.jpg", "/d/y/cam/1.jpg")
    assert m["k3"].how == "ambiguous" and len(m["k3"].paths) == 3  # a name without suffix: by stem
    assert (m["k4"].how, m["k4"].image_id) == ("path", "c")
    exact = match_registered({"k": ["1.jpg"]}, reg, exact={"k": ["/d/y/other/1.jpg"]})
    assert (exact["k"].how, exact["k"].image_id) == ("path", "c")
    assert match_registered({"k": ["1.jpg"]}, reg.clear()) == {}


# -- the command line ----------------------------------------------------------------------------
def test_cli_import_of_xml_kept_elsewhere(neu: tuple[Path, Path], tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    imgs, anns = neu
    ws = str(tmp_path / "cli-ws")
    assert main(["init", ws]) == 0
    # nothing registered yet: exit 1, saying where it looked and what to do
    assert main(["-w", ws, "import", str(anns), "--format", "voc"]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("cvops import: error: no label imported: the export has ") and "\n" not in err
    assert f"looked {_where(anns)}, then among the images registered" in err, err
    assert "--data-root" in err and "--problems" in err
    assert main(["-w", ws, "import", str(anns), "--format", "voc", "--data-root", str(tmp_path / "empty")]) == 1
    assert f"looked under --data-root {tmp_path / 'empty'}" in capsys.readouterr().err
    # registered first: the same import attaches every label, exit 0
    assert main(["-w", ws, "add-images", str(imgs), "--json"]) == 0
    capsys.readouterr()
    assert main(["-w", ws, "import", str(anns), "--format", "voc", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["images_found"] == 12 and out["matched_to_registered"]["name"] == 12
    assert out["labels_added"] == sum(_objects(f) for f in anns.iterdir())


def test_cli_ambiguous_names_fail_and_say_so(shared_data: Path, neu: tuple[Path, Path], tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    _, anns = neu
    for line, src in (("line1", "crazing_1"), ("line2", "crazing_2")):
        (tmp_path / "cams" / line).mkdir(parents=True)
        shutil.copy(shared_data / NEU / "IMAGES" / f"{src}.jpg", tmp_path / "cams" / line / "crazing_1.jpg")
    ws = str(tmp_path / "cli-ws")
    assert main(["init", ws]) == 0
    assert main(["-w", ws, "add-images", str(tmp_path / "cams")]) == 0
    capsys.readouterr()
    assert main(["-w", ws, "import", str(anns / "crazing_1.xml"), "--format", "voc", "--problems"]) == 1
    captured = capsys.readouterr()
    assert "the names of 1 fit several registered images" in captured.err
    assert "its name fits 2 registered images" in captured.out  # --problems: the candidates


def test_unencodable_image_name_gives_a_readable_problem(neu: tuple[Path, Path], ws: Workspace, tmp_path: Path,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    """A lone surrogate in an image name (no file can have it) is shown escaped: the problems frame,
    the repr and ``cvops import`` work instead of failing on a UnicodeEncodeError."""
    imgs, _ = neu
    ws.add_images(imgs / "crazing_1.jpg", progress=False)
    doc = {"images": [{"id": 1, "file_name": "\ud800.jpg", "width": 8, "height": 8}],
           "annotations": [{"id": 1, "image_id": 1, "category_id": 1, "bbox": [1, 1, 2, 2]}],
           "categories": [{"id": 1, "name": "dent"}]}
    ann = tmp_path / "ann.json"
    ann.write_text(json.dumps(doc))
    rep = ws.import_annotations(ann, format="coco", progress=False)
    assert rep.problems_frame()["record"].to_list() == ["image \\ud800.jpg"]
    assert "image \\ud800.jpg: image file not found" in repr(rep)
    assert main(["-w", str(tmp_path / "ws"), "import", str(ann), "--format", "coco"]) == 1
    err = capsys.readouterr().err
    assert "none of its 1 images was found (e.g. \\ud800.jpg)" in err and "codec" not in err


def test_export_path_with_an_undecodable_byte_is_shown(neu: tuple[Path, Path], tmp_path: Path,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    """An export folder whose name is not UTF-8 (a surrogate-escaped byte in Python) prints escaped."""
    _, anns = neu
    odd = Path(tmp_path.as_posix() + "/" + b"exp\xff".decode("utf-8", "surrogateescape"))
    shutil.copytree(anns, odd)
    ws = str(tmp_path / "cli-ws")
    assert main(["init", ws]) == 0
    assert main(["-w", ws, "import", str(odd), "--format", "voc"]) == 1
    captured = capsys.readouterr()
    assert "<ImportReport voc exp\\udcff: 0 labels added" in captured.out
    assert f"looked under the data root {tmp_path.resolve()}/exp\\udcff" in captured.err, captured.err
