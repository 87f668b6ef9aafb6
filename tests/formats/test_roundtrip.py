"""import -> export (COCO, YOLO) -> import keeps every box, class, annotator and time."""

from __future__ import annotations

import os
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from jupyter_cvops import formats
from jupyter_cvops.formats import coco, yolo
from jupyter_cvops.formats._types import AnnotationRecord, ExportImage, ImportResult

F = Path("formats")
REAL = {
    "coco-val": ("coco", F / "datumaro/coco_dataset/coco/annotations/instances_val.json", {}),
    "coco-labels": ("coco", F / "datumaro/coco_dataset/coco/annotations/labels_val.json", {}),
    "roboflow": ("coco", F / "datumaro/roboflow_dataset/coco", {}),
    "cvat-project": ("cvat", F / "datumaro/cvat_dataset/for_images/export_project/annotations.xml", {}),
    "concretenet": ("cvat", F / "cvat-export-concretenet/annotations.xml", {}),
    "labelstudio": ("labelstudio", F / "label-studio-sdk/test_export_yolo/data.json", {}),
    "labelstudio-poly": ("labelstudio", F / "label-studio-sdk/test_export_coco/data.json", {}),
    "yolo-gp8000": ("yolo", F / "cvat-export-concretenet/data/GP8000/labels",
                    {"names": ["rebar"], "image_size": (2445, 1485), "annotator": "anish"}),
    "yolo-datumaro": ("yolo", F / "datumaro/yolo_dataset/labels", {}),
    "voc-neu": ("voc", F / "voc-neu-det", {"annotator": "neu"}),
}
EXPECTED_BOXES = {"coco-val": 2, "coco-labels": 0, "roboflow": 4, "cvat-project": 6, "concretenet": 1030,
                  "labelstudio": 6, "labelstudio-poly": 2, "yolo-gp8000": 1030, "yolo-datumaro": 4, "voc-neu": 681}


def _export_images(res: ImportResult, tmp_path: Path) -> list[ExportImage]:
    out = []
    for n, ref in enumerate(res.images):
        assert ref.width and ref.height, f"{ref.key} has no size"
        path = ref.path or tmp_path / "missing" / f"{n}_{Path(ref.file_name).name or 'x.jpg'}"
        split = ref.key.split("/")[0] if "/" in ref.key else None
        out.append(ExportImage(ref.key, path, Path(ref.file_name).name, ref.width, ref.height, split=split))
    return out


def _by_image(records: list[AnnotationRecord], key_map: dict[str, str]) -> dict[str, list[tuple[Any, ...]]]:
    out: dict[str, list[tuple[Any, ...]]] = defaultdict(list)
    for r in records:
        out[key_map[r.image_key]].append(
            (r.kind, r.class_name, r.annotator, r.created_at, tuple(r.bbox) if r.bbox else (), r))
    return {k: sorted(v, key=lambda t: (t[0], t[1], str(t[2]), t[4])) for k, v in out.items()}


def _assert_same(before: ImportResult, after: ImportResult, key_map: dict[str, str], atol: float,
                 shapes: bool) -> None:
    a, b = _by_image(before.annotations, {k: k for k in key_map.values()}), _by_image(after.annotations, key_map)
    assert a.keys() == b.keys()
    for key in a:
        assert [t[:4] for t in a[key]] == [t[:4] for t in b[key]], key
        boxes_a = np.array([t[4] for t in a[key] if t[4]], dtype=float)
        boxes_b = np.array([t[4] for t in b[key] if t[4]], dtype=float)
        assert boxes_a.shape == boxes_b.shape
        if boxes_a.size:
            assert np.abs(boxes_a - boxes_b).max() <= atol, key
        if shapes:
            for ra, rb in zip((t[5] for t in a[key]), (t[5] for t in b[key]), strict=True):
                assert ra.polygon == rb.polygon and ra.rle == rb.rle and ra.attributes == rb.attributes


@pytest.mark.parametrize("name", sorted(REAL))
@pytest.mark.parametrize("via", ["coco", "yolo"])
def test_real_export_round_trip(shared_data: Path, tmp_path: Path, name: str, via: str) -> None:
    fmt, rel, kw = REAL[name]
    before = formats.read(shared_data / rel, fmt, **kw)
    assert sum(1 for r in before.annotations if r.kind == "box") == EXPECTED_BOXES[name]
    images = _export_images(before, tmp_path)
    out = (coco if via == "coco" else yolo).write(tmp_path / "out", images, before.annotations, before.categories)
    root = Path(os.path.commonpath([tmp_path, shared_data]))
    after = formats.read(out, via, data_root=root)
    # a missing image's relative name may climb out of the root from one of the folders tried
    missing = {im.path.name for im in images if not im.path.exists()}
    assert [p for p in after.problems if Path(p.reason.rsplit(": ", 1)[-1]).name not in missing] == []
    if via == "coco":  # keys are new COCO ids; the written file_name is the source path, relative to the JSON
        written = {os.path.normpath(im.path): im.key for im in images}
        json_dir = out if out.is_dir() else out.parent
        key_map = {ref.key: written[os.path.normpath(json_dir / ref.file_name)] for ref in after.images}
    else:  # our sidecar restores the keys
        key_map = {ref.key: ref.key for ref in after.images}
    assert sorted(key_map.values()) == sorted(im.key for im in images)
    found_before = {r.key for r in before.images if r.path is not None}
    assert {key_map[r.key] for r in after.images if r.path is not None} == found_before
    _assert_same(before, after, key_map, atol=1e-6 if via == "coco" else 1e-3, shapes=via == "coco")


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    size=st.tuples(st.integers(1, 20_000), st.integers(1, 20_000)),
    rel=st.lists(st.tuples(*[st.floats(0, 1, allow_nan=False)] * 4), min_size=1, max_size=8),
)
def test_random_boxes_round_trip(tmp_path: Path, size: tuple[int, int], rel: list[tuple[float, ...]]) -> None:
    w, h = size
    recs = []
    for n, (a, b, c, d) in enumerate(rel):
        x0, x1 = sorted((a * w, c * w))
        y0, y1 = sorted((b * h, d * h))
        if x1 - x0 > 1e-3 and y1 - y0 > 1e-3:
            recs.append(AnnotationRecord("k", f"c{n % 3}", bbox=(x0, y0, x1, y1), annotator=f"a{n}"))
    images = [ExportImage("k", tmp_path / "img.png", "img.png", w, h)]
    (tmp_path / "img.png").write_bytes(b"x")  # there (its size comes from the export)
    for mod, atol in ((coco, 1e-6), (yolo, 1e-3)):
        out = mod.write(tmp_path / mod.__name__.rsplit(".", 1)[1], images, recs, ["c0", "c1", "c2"])
        back = mod.read(out, data_root=tmp_path)
        assert back.problems == []
        got = sorted((r.annotator, r.class_name, r.bbox) for r in back.annotations)
        want = sorted((r.annotator, r.class_name, r.bbox) for r in recs)
        assert [g[:2] for g in got] == [x[:2] for x in want]
        for g, x in zip(got, want, strict=True):
            assert np.abs(np.subtract(g[2], x[2])).max() <= atol
