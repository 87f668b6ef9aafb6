"""Exporting a dataset version whose images live in a bucket: the bytes are downloaded into the export
(COCO linked in, YOLO copied), which re-imports with default arguments; missing objects are named first."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import cv2
import numpy as np
import polars as pl
import pytest

from jupyter_cvops import Workspace
from jupyter_cvops.datasets._verify import MissingImagesError
from jupyter_cvops.images._hashing import hash_bytes
from jupyter_cvops.images._objects import stat_many

N = 9  # over stat_many's list_from (8): require_files lists the folder once


def _png(seed: int) -> bytes:
    arr = np.random.default_rng(seed).integers(0, 256, (32, 32, 3), dtype=np.uint8)
    return cv2.imencode(".png", arr)[1].tobytes()


@pytest.fixture
def bucket_version(s3_bucket: Any, tmp_path: Path) -> tuple[Workspace, Any, dict[str, bytes]]:
    """A local workspace whose N images are s3:// objects, one box label each, snapshotted."""
    bodies = {f"line-1/img{k}.png": _png(k) for k in range(N)}
    for key, body in bodies.items():
        s3_bucket.put(key, body)
    ws = Workspace.create(tmp_path / "ws")
    assert len(ws.add_images(s3_bucket.uri("line-1/"), progress=False).added) == N
    ids = ws.images()["image_id"].to_list()
    ws.add_annotations(pl.DataFrame([{"image_id": i, "annotator": "ana", "class_name": ["dent", "scuff"][k % 2],
                                      "kind": "box", "x0": 2.0 + k, "y0": 3.0, "x1": 20.0, "y1": 25.0 - k}
                                     for k, i in enumerate(ids)]))
    return ws, ws.snapshot(name="bucket"), {s3_bucket.uri(k): v for k, v in bodies.items()}


def _labels(ws: Workspace) -> list[tuple[Any, ...]]:
    a = ws.annotations()
    return sorted(a.select("image_id", "class_name", "x0", "y0", "x1", "y1").rows())


@pytest.mark.parametrize("fmt, copy", [("coco", "link"), ("yolo", True)])
def test_a_bucket_version_exports_with_its_images_downloaded(bucket_version: Any, tmp_path: Path,
                                                             fmt: str, copy: Any) -> None:
    ws, v, bodies = bucket_version
    out = ws.export(v, tmp_path / fmt, format=fmt, copy_images=copy)
    files = sorted(p for p in (tmp_path / fmt / "images").rglob("*.png"))
    assert len(files) == N
    assert {hash_bytes(p.read_bytes()) for p in files} == {hash_bytes(b) for b in bodies.values()}
    assert all(p.stat().st_nlink == 1 for p in files)  # the export's own bytes, nothing left to share
    assert not list((tmp_path / fmt).glob(".cvops-download-*"))  # the download folder is gone
    fresh = Workspace.create(tmp_path / f"fresh-{fmt}")
    rep = fresh.import_annotations(out, format=fmt, progress=False)  # no options
    assert rep.problems == [] and rep.n_labels_added == N
    assert set(fresh.images()["image_id"]) == set(v.items()["image_id"])
    got, want = _labels(fresh), _labels(ws)
    assert [r[:2] for r in got] == [r[:2] for r in want]
    assert np.abs(np.array([r[2:] for r in got]) - np.array([r[2:] for r in want])).max() < 1e-3


def test_bucket_export_refuses_pointing_and_names_a_missing_object_before_writing(
        bucket_version: Any, s3_bucket: Any, tmp_path: Path) -> None:
    ws, v, bodies = bucket_version
    with pytest.raises(ValueError, match=r"9 of the version's images live in a bucket .* copy_images='link'"):
        ws.export(v, tmp_path / "ptr", format="coco", copy_images=False)
    uris = sorted(bodies)
    listed, headed = stat_many(uris), stat_many(uris, list_from=100)  # one listing vs a HEAD each
    assert [(s.uri, s.size, s.etag) for s in listed] == [(s.uri, s.size, s.etag) for s in headed]
    assert [s.size for s in listed] == [len(bodies[u]) for u in uris]
    s3_bucket.client().delete_object(Bucket=s3_bucket.name, Key="line-1/img3.png")
    for list_from in (8, 100):
        gone = stat_many(uris, list_from=list_from)
        assert [u for u, s in zip(uris, gone) if isinstance(s, FileNotFoundError)] == [s3_bucket.uri("line-1/img3.png")]
    with pytest.raises(MissingImagesError, match=r"1 of its 9 images is missing: .* at s3://.*/line-1/img3.png") as err:
        ws.export(v, tmp_path / "coco", format="coco")
    assert err.value.missing["path"].to_list() == [s3_bucket.uri("line-1/img3.png")]
    assert not (tmp_path / "coco").exists()
