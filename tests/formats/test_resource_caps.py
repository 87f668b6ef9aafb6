"""Tiny or oversized files cannot exhaust memory (item A3): YAML aliases are refused, a huge ``nc`` makes
only the classes labels use, every annotation / yaml / names / list file has a size cap checked before
it is read.  Memory is measured (tracemalloc peak, and the process's peak RSS), never time."""

from __future__ import annotations

import json
import resource
import tracemalloc
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import yaml
from PIL import Image

from jupyter_cvops import formats
from jupyter_cvops.formats import _files, yolo
from jupyter_cvops.formats._types import FormatError

MB = 1 << 20
LIMIT = 200 * MB


@contextmanager
def _memory() -> Iterator[dict[str, int]]:
    """Peak Python allocations (tracemalloc) and growth of the process's peak RSS inside the block."""
    got: dict[str, int] = {}
    rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # KiB on Linux
    tracemalloc.start()
    try:
        yield got
    finally:
        got["traced"] = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        got["rss"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 - rss0


def _assert_small(mem: dict[str, int]) -> None:
    assert mem["traced"] < LIMIT, f"{mem['traced'] / MB:.0f} MB allocated"
    assert mem["rss"] < LIMIT, f"peak RSS grew by {mem['rss'] / MB:.0f} MB"


def _yolo_dataset(tmp_path: Path, lines: str = "0 0.5 0.5 0.2 0.2\n") -> Path:
    ds = tmp_path / "ds"
    (ds / "images" / "train").mkdir(parents=True)
    (ds / "labels" / "train").mkdir(parents=True)
    Image.new("RGB", (20, 10)).save(ds / "images" / "train" / "a.png")
    (ds / "labels" / "train" / "a.txt").write_text(lines)
    return ds


def _alias_bomb(leaf: str = '"lol"', depth: int = 9) -> str:
    """A billion-laughs YAML: each of ``depth`` levels repeats the one above nine times (9**9 leaves)."""
    rows = [f"a0: &a0 [{', '.join([leaf] * 9)}]"]
    for i in range(1, depth):
        rows.append(f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]")
    return "\n".join(rows) + f"\nnames: *a{depth - 1}\nval: *a{depth - 1}\ntrain: images/train\n"


def test_yaml_alias_bomb_refused(tmp_path: Path) -> None:
    ds = _yolo_dataset(tmp_path)
    text = _alias_bomb()
    assert len(text) < 700  # about the 603 bytes
    (ds / "data.yaml").write_text(text)
    with _memory() as mem, pytest.raises(FormatError, match=r"data\.yaml: YAML anchors and aliases \(&a0, \*a0\) "
                                                           r"are not allowed \(line 1\)"):
        formats.read(ds, "yolo")
    _assert_small(mem)


def test_yaml_alias_anywhere_refused(tmp_path: Path) -> None:
    """Even a harmless-looking alias under a key the reader ignores: a data.yaml has no use for them."""
    ds = _yolo_dataset(tmp_path)
    (ds / "data.yaml").write_text("names: &n [a]\ntrain: images/train\nextra: *n\n")
    with pytest.raises(FormatError, match="anchors and aliases"):
        yolo.read(ds)


def test_huge_nc_bounded_by_used_labels(tmp_path: Path) -> None:
    ds = _yolo_dataset(tmp_path, "0 0.5 0.5 0.2 0.2\n7 0.5 0.5 0.2 0.2\n123456 0.5 0.5 0.2 0.2\n")
    (ds / "data.yaml").write_text("nc: 10000000000000\ntrain: images/train\n")
    with _memory() as mem:
        res = formats.read(ds, "yolo")
    _assert_small(mem)
    assert res.categories == ["class_0", "class_7"]  # only the indices the labels use
    assert sorted(a.class_name for a in res.annotations) == ["class_0", "class_7"]
    assert [(p.record, p.reason) for p in res.problems] == [
        ("data.yaml: nc", f"nc: 10000000000000 is more than {yolo.MAX_CLASSES} classes; read as {yolo.MAX_CLASSES}"),
        ("labels/train/a.txt:3", f"class index 123456 is not in names (0..{yolo.MAX_CLASSES - 1})"),
    ]


def test_small_nc_makes_only_used_classes(tmp_path: Path) -> None:
    ds = _yolo_dataset(tmp_path, "3 0.5 0.5 0.2 0.2\n5 0.5 0.5 0.2 0.2\n")
    (ds / "data.yaml").write_text("nc: 5\ntrain: images/train\n")
    res = yolo.read(ds)
    assert res.categories == ["class_3"]
    assert [p.reason for p in res.problems] == ["class index 5 is not in names (0..4)"]


def test_names_mapping_keeps_its_indices(tmp_path: Path) -> None:
    """``names: {0: a, 5: b}``: index 5 is b, index 1 is no class (the indices are not renumbered)."""
    ds = _yolo_dataset(tmp_path, "5 0.5 0.5 0.2 0.2\n1 0.5 0.5 0.2 0.2\n")
    (ds / "data.yaml").write_text(yaml.safe_dump({"names": {0: "a", 5: "b"}, "train": "images/train"}))
    res = yolo.read(ds)
    assert [a.class_name for a in res.annotations] == ["b"] and res.categories == ["a", "b"]
    assert [p.reason for p in res.problems] == ["class index 1 is not in names (0, 5)"]


@pytest.mark.parametrize("where", ["data.yaml", "obj.names", "argument"])
def test_names_longer_than_cap_refused(tmp_path: Path, where: str) -> None:
    ds = _yolo_dataset(tmp_path)
    many = [f"c{i}" for i in range(yolo.MAX_CLASSES + 1)]
    kw: dict[str, Any] = {}
    if where == "data.yaml":
        (ds / "data.yaml").write_text(json.dumps({"names": many, "train": "images/train"}))  # JSON is YAML
    elif where == "obj.names":
        (ds / "obj.names").write_text("\n".join(many))
    else:
        kw["names"] = many
    with pytest.raises(FormatError, match=f"names: {len(many)} classes, more than the {yolo.MAX_CLASSES} believed"):
        yolo.read(ds, **kw)


def _sparse(f: Path, size: int) -> Path:
    """A file of ``size`` bytes that takes no disk space (and reads as NUL bytes)."""
    f.parent.mkdir(parents=True, exist_ok=True)
    with open(f, "wb") as fh:
        fh.truncate(size)
    return f


# (what to read, format, the file made oversized, its cap)
def _cases(tmp_path: Path) -> dict[str, tuple[Callable[[], Any], Path, int]]:
    ds = _yolo_dataset(tmp_path / "yolo")
    big = _files.MAX_ANNOTATION_BYTES + 1
    per_image = _files.MAX_PER_IMAGE_BYTES + 1
    config = _files.MAX_CONFIG_BYTES + 1
    coco = _sparse(tmp_path / "coco" / "annotations" / "instances_train.json", big)
    cvat = _sparse(tmp_path / "cvat" / "annotations.xml", big)
    ls = _sparse(tmp_path / "ls" / "tasks.json", big)
    voc = _sparse(tmp_path / "voc" / "Annotations" / "a.xml", per_image)
    labelme = _sparse(tmp_path / "labelme" / "a.json", per_image)
    (tmp_path / "ls2").mkdir()
    (tmp_path / "ls2" / "tasks.json").write_text("[]")
    ls_config = _sparse(tmp_path / "ls2" / "label_config.xml", config)
    yaml_file = _sparse(ds / "data.yaml", config)
    label = _sparse(ds / "labels" / "train" / "b.txt", per_image)
    return {
        "coco": (lambda: formats.read(coco.parent.parent, "coco"), coco, big),
        "cvat": (lambda: formats.read(cvat, "cvat"), cvat, big),
        "labelstudio": (lambda: formats.read(ls, "labelstudio"), ls, big),
        "labelstudio-config": (lambda: formats.read(ls_config.parent / "tasks.json", "labelstudio"), ls_config,
                               config),
        "voc": (lambda: formats.read(voc.parent.parent, "voc"), voc, per_image),
        "labelme": (lambda: formats.read(labelme.parent, "labelme"), labelme, per_image),
        "yolo-yaml": (lambda: formats.read(ds, "yolo"), yaml_file, config),
        "yolo-label": (lambda: formats.read(ds, "yolo", names=["x"]), label, per_image),
    }


CASES = ["coco", "cvat", "labelstudio", "labelstudio-config", "voc", "labelme", "yolo-yaml", "yolo-label"]


@pytest.mark.parametrize("case", CASES)
def test_oversized_annotation_file_refused(tmp_path: Path, case: str) -> None:
    read, f, size = _cases(tmp_path)[case]
    if case == "yolo-label":
        (f.parent.parent.parent / "data.yaml").unlink()
        (f.parent.parent.parent / "data.yaml").write_text("names: [x]\ntrain: images/train\n")
    with _memory() as mem, pytest.raises(FormatError) as e:
        read()
    _assert_small(mem)
    assert str(e.value).startswith(f"{f.name}: file is "), str(e.value)  # names the file
    assert "larger than the" in str(e.value) and "this reader accepts" in str(e.value)  # and the cap
