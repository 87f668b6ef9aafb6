"""Pascal VOC reader on datumaro's VOC layout and 300 real NEU-DET annotations."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from jupyter_cvops import formats
from jupyter_cvops.formats import voc


@pytest.fixture()
def voc1(shared_data: Path) -> Path:
    return shared_data / "formats" / "datumaro" / "voc_dataset" / "voc_dataset1"


@pytest.fixture()
def neu(shared_data: Path) -> Path:
    return shared_data / "formats" / "voc-neu-det"


def test_datumaro_voc_layout(voc1: Path) -> None:
    res = formats.read(voc1, "voc", annotator="ana")
    (img,) = res.images
    assert (img.key, img.file_name, img.width, img.height) == ("2007_000001", "2007_000001.jpg", 20, 10)
    assert img.path == voc1 / "JPEGImages" / "2007_000001.jpg"
    cat, person = res.annotations
    assert (cat.class_name, cat.bbox, cat.attributes) == ("cat", (1.0, 2.0, 3.0, 4.0), {"truncated": True})
    assert person.bbox == (4.0, 5.0, 6.0, 7.0) and person.annotator == "ana"
    assert person.attributes == {"actions": ["other", "phoning", "reading", "ridinghorse", "takingphoto", "walking"]}
    assert [(p.record, p.reason) for p in res.problems] == [
        ("2007_000001.xml:object[1]/part[0]", "object parts are not supported (skipped)")]


def test_single_xml_finds_images_beside_annotations(voc1: Path) -> None:
    res = voc.read(voc1 / "Annotations" / "2007_000001.xml")
    assert res.images[0].path == voc1 / "JPEGImages" / "2007_000001.jpg"
    assert len(res.annotations) == 2


def test_neu_det_counts(neu: Path) -> None:
    res = voc.read(neu)  # ANNOTATIONS/ and IMAGES/ in upper case
    assert len(res.images) == 300 and res.problems == []
    assert all(i.path is not None for i in res.images)  # 49 XMLs name the file without ".jpg"
    assert {(i.width, i.height) for i in res.images} == {(200, 200)}
    assert len(res.annotations) == 681
    assert Counter(a.class_name for a in res.annotations) == {
        "inclusion": 201, "patches": 123, "rolled-in_scale": 108, "crazing": 96, "scratches": 88,
        "pitted_surface": 65}
    assert sum(1 for a in res.annotations if a.attributes.get("difficult")) == 7
    first = next(a for a in res.annotations if a.image_key == "crazing_1")
    assert first.bbox == (2.0, 2.0, 193.0, 194.0)


def test_folder_of_xml_files(neu: Path) -> None:
    res = voc.read(neu / "ANNOTATIONS", data_root=neu)
    assert len(res.images) == 300 and len(res.annotations) == 681
    assert sum(i.path is not None for i in res.images) == 300


XML = """<annotation><filename>{name}</filename><size><width>40</width><height>30</height></size>
<object><name>dent</name><bndbox><xmin>1</xmin><ymin>1</ymin><xmax>40.8</xmax><ymax>10</ymax></bndbox></object>
<object><name>dent</name><bndbox><xmin>10</xmin><ymin>1</ymin><xmax>45</xmax><ymax>10</ymax></bndbox></object>
<object><name></name><bndbox><xmin>1</xmin><ymin>1</ymin><xmax>4</xmax><ymax>4</ymax></bndbox></object>
<object><name>dent</name></object>
<object><name>dent</name><bndbox><xmin>50</xmin><ymin>1</ymin><xmax>60</xmax><ymax>4</ymax></bndbox></object>
</annotation>"""


def test_record_problems(tmp_path: Path) -> None:
    (tmp_path / "a.xml").write_text(XML.format(name="a.jpg"))
    (tmp_path / "b.xml").write_text(XML.format(name="../../etc/passwd"))
    (tmp_path / "c.xml").write_text("<annotation><object/></annotation>")
    res = voc.read(tmp_path)
    assert [(i.key, i.path) for i in res.images] == [("a", None), ("b", None)]
    clipped = res.annotations[0]
    assert clipped.bbox == (1.0, 1.0, 40.0, 10.0) and clipped.attributes == {"clipped": True}
    reasons = [(p.record, p.reason.split(" (")[0]) for p in res.problems]
    assert reasons[:4] == [
        ("a.xml:object[1]", "box"), ("a.xml:object[2]", "missing required <name>"),
        ("a.xml:object[3]", "missing required <bndbox>"), ("a.xml:object[4]", "box"),
    ]
    assert "extends 5 px past the 40x30 image" in res.problems[0].reason
    assert "lies outside the 40x30 image" in res.problems[3].reason
    assert ("b.xml", "path escapes data root: ../../etc/passwd") in [(p.record, p.reason) for p in res.problems]
    assert res.problems[-1].record == "c.xml" and "missing required <filename>" in res.problems[-1].reason
