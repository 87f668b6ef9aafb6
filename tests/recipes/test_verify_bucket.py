"""A recipe's fast verify of images in a bucket asks the stat cache by (URI, size, ETag) and reads no
object body; full verify reads every one; a replaced or deleted object is caught either way."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from jupyter_cvops import Workspace
from jupyter_cvops.images import _objects
from jupyter_cvops.images._hashing import hash_bytes
from jupyter_cvops.recipes._inputs import verify_version

N = 9  # over stat_many's list_from (8): one folder listing


def _png(seed: int) -> bytes:
    arr = np.random.default_rng(seed).integers(0, 256, (32, 32, 3), dtype=np.uint8)
    return cv2.imencode(".png", arr)[1].tobytes()


@contextmanager
def counting(bucket: str) -> Iterator[dict[str, list[str]]]:
    """Keys of every GetObject / HeadObject, and every ListObjectsV2 prefix, the package's client sends."""
    seen: dict[str, list[str]] = {"GetObject": [], "HeadObject": [], "ListObjectsV2": []}
    client = _objects.s3_client(bucket)
    hooks = {op: (lambda op: lambda params, **_: seen[op].append(params.get("Key", params.get("Prefix"))))(op)
             for op in seen}
    for op, hook in hooks.items():
        client.meta.events.register(f"provide-client-params.s3.{op}", hook)
    try:
        yield seen
    finally:
        for op, hook in hooks.items():
            client.meta.events.unregister(f"provide-client-params.s3.{op}", hook)


def test_fast_verify_of_bucket_images_reads_no_bodies_and_full_reads_all(s3_bucket: Any, tmp_path: Path) -> None:
    bodies = {f"line-1/img{k}.png": _png(k) for k in range(N)}
    for key, body in bodies.items():
        s3_bucket.put(key, body)
    (tmp_path / "local").mkdir()
    (tmp_path / "local" / "disk.png").write_bytes(_png(99))  # a file on disk beside the objects
    ws = Workspace.create(tmp_path / "ws")
    rep = ws.add_images([str(tmp_path / "local" / "disk.png"), s3_bucket.uri("line-1/")], progress=False)
    assert len(rep.added) == N + 1
    v = ws.snapshot(name="mixed")

    with counting(s3_bucket.name) as ops:
        fast = verify_version(ws.store, v, "fast")
    assert fast.ok and fast.n_checked == N + 1 and fast.n_hashed == 0
    assert ops == {"GetObject": [], "HeadObject": [], "ListObjectsV2": ["line-1/"]}  # one listing, no body

    with counting(s3_bucket.name) as ops:
        full = verify_version(ws.store, v, "full")
    assert full.ok and full.n_hashed == N + 1 and sorted(ops["GetObject"]) == sorted(bodies)

    # one object replaced (new ETag), one deleted: fast verify reads only the replaced one, and names both
    s3_bucket.put("line-1/img2.png", _png(200))
    s3_bucket.client().delete_object(Bucket=s3_bucket.name, Key="line-1/img5.png")
    with counting(s3_bucket.name) as ops:
        fast = verify_version(ws.store, v, "fast")
    assert not fast.ok and fast.n_hashed == 2 and sorted(ops["GetObject"]) == ["line-1/img2.png", "line-1/img5.png"]
    assert [(c["path"], c["new_hash"]) for c in fast.changed] == [(s3_bucket.uri("line-1/img2.png"),
                                                                   hash_bytes(_png(200)))]
    assert [m["path"] for m in fast.missing] == [s3_bucket.uri("line-1/img5.png")]
