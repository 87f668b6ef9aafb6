"""Images that live in a bucket: registered, cached by ETag, thumbnailed, embedded and verified
through a real S3 API (the session's moto server)."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest

import jupyter_cvops as cv
from jupyter_cvops._store.statcache import CachedEntry, StatCache
from jupyter_cvops.embeddings.tables import load_vectors
from jupyter_cvops.images import _bucket, _objects
from jupyter_cvops.images._hashing import hash_bytes
from jupyter_cvops.images._thumbnails import make_thumbnail


def image(seed: int, ext: str = ".png", size: tuple[int, int] = (24, 32)) -> bytes:
    """A tiny noise image (h x w), deterministic per seed."""
    arr = np.random.default_rng(seed).integers(0, 256, (*size, 3), dtype=np.uint8)
    ok, buf = cv2.imencode(ext, arr)
    assert ok
    return buf.tobytes()


@contextmanager
def counting_gets(bucket: str) -> Iterator[list[str]]:
    """Keys of every GetObject the package's client for ``bucket`` sends (a botocore event hook)."""
    keys: list[str] = []
    client = _objects.s3_client(bucket)

    def hook(params: dict[str, Any], **_: Any) -> None:
        keys.append(params["Key"])

    client.meta.events.register("provide-client-params.s3.GetObject", hook)
    try:
        yield keys
    finally:
        client.meta.events.unregister("provide-client-params.s3.GetObject", hook)


@pytest.fixture
def filled(s3_bucket: Any) -> dict[str, bytes]:
    """line-1: 3 JPEGs (one in a subfolder), 2 PNGs, a text file, a hidden image; line-2: 1 PNG."""
    objects = {
        "line-1/a.jpg": image(1, ".jpg"), "line-1/b.jpg": image(2, ".jpg"), "line-1/day2/c.jpg": image(3, ".jpg"),
        "line-1/d.png": image(4), "line-1/day2/e.png": image(5, size=(10, 12)), "line-1/notes.txt": b"hello",
        "line-1/.hidden.png": image(6), "line-2/f.png": image(7),
    }
    for key, body in objects.items():
        s3_bucket.put(key, body)
    return objects


def test_glob_and_prefix_register_objects_by_uri_with_their_content_hash(tmp_path: Path, s3_bucket: Any,
                                                                         filled: dict[str, bytes]) -> None:
    ws = cv.Workspace.create(tmp_path / "ws")
    rep = ws.add_images(s3_bucket.uri("line-1/**/*.jpg"), source="line-1", progress=False)
    assert not rep.problems and len(rep.added) == 3
    imgs = ws.images()
    want = {s3_bucket.uri(k): hash_bytes(filled[k]) for k in ("line-1/a.jpg", "line-1/b.jpg", "line-1/day2/c.jpg")}
    assert dict(zip(imgs["path"], imgs["image_id"])) == want
    assert set(imgs["format"]) == {"jpeg"} and set(imgs["width"]) == {32} and set(imgs["height"]) == {24}
    assert imgs["bytes"].to_list() == [len(filled[k.split("/", 3)[3]]) for k in imgs["path"]]
    # a plain prefix: every image under it (hidden names and other files left out), the JPEGs unchanged
    rep = ws.add_images(s3_bucket.uri("line-1/"), progress=False)
    assert len(rep.added) == 2 and len(rep.unchanged) == 3 and not rep.problems
    row = ws.images().filter(ws.images()["path"] == s3_bucket.uri("line-1/day2/e.png")).row(0, named=True)
    assert (row["width"], row["height"], row["channels"], row["format"]) == (12, 10, 3, "png")
    # one object by its key; a copy of a registered image elsewhere in the bucket is a duplicate
    s3_bucket.put("line-2/copy.jpg", filled["line-1/a.jpg"])
    rep = ws.add_images([s3_bucket.uri("line-2/f.png"), s3_bucket.uri("line-2/copy.jpg")], progress=False)
    assert len(rep.added) == 1
    assert [str(p) for p in rep.problems] == [
        f"{s3_bucket.uri('line-2/copy.jpg')}: duplicate content of already registered {s3_bucket.uri('line-1/a.jpg')}"]


def test_re_adding_an_unchanged_bucket_reads_no_object_bodies(tmp_path: Path, s3_bucket: Any,
                                                               filled: dict[str, bytes]) -> None:
    ws = cv.Workspace.create(tmp_path / "ws")
    uri = s3_bucket.uri("line-1/")
    with counting_gets(s3_bucket.name) as gets:
        first = ws.add_images(uri, progress=False)
    assert len(first.added) == 5 and first.n_hashed == 5 and sorted(gets) == sorted(
        k for k in filled if k.startswith("line-1/") and k.endswith((".jpg", ".png")) and "/." not in k)
    again = cv.Workspace.open(tmp_path / "ws")  # a new session: the cache answers from its file
    with counting_gets(s3_bucket.name) as gets:
        rep = again.add_images(uri, progress=False)
    assert gets == [] and rep.n_cached == 5 and rep.n_hashed == 0 and len(rep.unchanged) == 5
    # a changed object (new ETag) is read again, and only it
    s3_bucket.put("line-1/b.jpg", image(20, ".jpg"))
    with counting_gets(s3_bucket.name) as gets:
        rep = again.add_images(uri, progress=False)
    assert gets == ["line-1/b.jpg"] and rep.n_hashed == 1 and rep.n_cached == 4
    assert rep.paths[s3_bucket.uri("line-1/b.jpg")] == hash_bytes(image(20, ".jpg"))
    # an object deleted from the prefix leaves the cache
    s3_bucket.client().delete_object(Bucket=s3_bucket.name, Key="line-1/d.png")
    again.add_images(uri, progress=False)
    assert s3_bucket.uri("line-1/d.png") not in again._statcache().object_uris(uri)


def test_missing_and_denied_objects_get_a_reason_and_nothing_is_half_written(
        tmp_path: Path, s3_bucket: Any, filled: dict[str, bytes], monkeypatch: pytest.MonkeyPatch) -> None:
    ws = cv.Workspace.create(tmp_path / "ws")
    ws.add_images(s3_bucket.uri("line-2/"), progress=False)
    before = ws.images()
    rep = ws.add_images("s3://no-such-bucket-cvops/line-1/", progress=False)
    assert [str(p) for p in rep.problems] == [
        "s3://no-such-bucket-cvops/line-1/: cannot list objects: no such bucket 'no-such-bucket-cvops'"]
    assert [str(p) for p in ws.add_images(s3_bucket.uri("nothing/"), progress=False).problems] == [
        f"{s3_bucket.uri('nothing/')}: no image objects under this prefix"]
    # a key deleted between the listing and the read, and a key the credentials may not read (a 403)
    listed = _bucket.list_objects

    def list_then_delete(pattern: str, extensions: tuple[str, ...]) -> Any:
        out = listed(pattern, extensions)
        s3_bucket.client().delete_object(Bucket=s3_bucket.name, Key="line-1/a.jpg")
        return out

    def deny(params: dict[str, Any], **_: Any) -> Any:
        if params["url_path"].endswith("/line-1/b.jpg"):
            from botocore.awsrequest import AWSResponse
            body = {"Error": {"Code": "AccessDenied", "Message": "Access Denied"},
                    "ResponseMetadata": {"HTTPStatusCode": 403}}
            return AWSResponse("", 403, {}, None), body
        return None

    monkeypatch.setattr(_bucket, "list_objects", list_then_delete)
    client = _objects.s3_client(s3_bucket.name)
    client.meta.events.register("before-call.s3.GetObject", deny)
    try:
        rep = ws.add_images(s3_bucket.uri("line-1/**/*.jpg"), progress=False)
    finally:
        client.meta.events.unregister("before-call.s3.GetObject", deny)
    assert {p.path.rsplit("/", 1)[1]: p.reason for p in rep.problems} == {
        "a.jpg": "no such object (gone since it was listed)", "b.jpg": "access denied (AccessDenied)"}
    assert len(rep.added) == 1
    after = ws.images()
    assert after.filter(after["image_id"].is_in(before["image_id"].implode())).equals(before)  # untouched
    assert after.height == before.height + 1


def test_thumbnails_preprocess_embeddings_and_verify_read_from_the_bucket(tmp_path: Path, s3_bucket: Any,
                                                               filled: dict[str, bytes]) -> None:
    ws = cv.Workspace.create(tmp_path / "ws")
    ws.add_images(s3_bucket.uri("line-1/"), progress=False)
    local = tmp_path / "local"  # the same bytes as files: the reference
    for key, body in filled.items():
        if key.startswith("line-1/") and "/." not in key and not key.endswith(".txt"):
            (local / key).parent.mkdir(parents=True, exist_ok=True)
            (local / key).write_bytes(body)
    iid = hash_bytes(filled["line-1/d.png"])
    t = make_thumbnail(s3_bucket.uri("line-1/d.png"), image_id=iid, max_side=16)
    assert t.placeholder is None and t.data == make_thumbnail(local / "line-1/d.png", max_side=16).data
    assert make_thumbnail(s3_bucket.uri("line-1/gone.png"), image_id=iid).placeholder == "file missing"
    assert make_thumbnail(s3_bucket.uri("line-1/a.jpg"), image_id=iid).placeholder == "file changed since registration"
    pre = cv.Preprocess(16)  # what evaluate and shadow re-runs feed a model
    np.testing.assert_array_equal(pre(s3_bucket.uri("line-1/d.png")), pre(local / "line-1/d.png"))
    ws.embed("imgstats", progress=False)
    ref = cv.Workspace.create(tmp_path / "ref")
    ref.add_images(local, progress=False)
    ref.embed("imgstats", progress=False)
    got, want = (load_vectors(w, "imgstats") for w in (ws, ref))
    assert sorted(got.image_ids) == sorted(want.image_ids) and len(got.image_ids) == 5
    order = [want.image_ids.index(i) for i in got.image_ids]
    np.testing.assert_array_equal(got.vectors, want.vectors[order])
    version = ws.snapshot("v1")
    assert version.verify(progress=False).ok
    s3_bucket.put("line-1/d.png", image(40))  # an object overwritten after the snapshot, another deleted
    s3_bucket.client().delete_object(Bucket=s3_bucket.name, Key="line-1/a.jpg")
    rep = version.verify(progress=False)
    assert not rep.ok
    assert rep.changed.rows() == [(iid, s3_bucket.uri("line-1/d.png"), hash_bytes(image(40)))]
    assert rep.missing["path"].to_list() == [s3_bucket.uri("line-1/a.jpg")]


def test_large_objects_are_hashed_streaming_and_probed_with_ranged_reads(
        tmp_path: Path, s3_bucket: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    body = image(9, size=(40, 50))
    s3_bucket.put("big/x.png", body)
    monkeypatch.setattr(_bucket, "READ_WHOLE_LIMIT", 64)  # every object "large": stream + ranged probe
    ranges: list[str] = []
    client = _objects.s3_client(s3_bucket.name)

    def hook(params: dict[str, Any], **_: Any) -> None:
        ranges.append(params.get("Range", "whole"))

    client.meta.events.register("provide-client-params.s3.GetObject", hook)
    try:
        res = _bucket.scan_objects([s3_bucket.uri("big/")], progress=False)
    finally:
        client.meta.events.unregister("provide-client-params.s3.GetObject", hook)
    (info,) = res.images
    assert (info.image_id, info.width, info.height, info.format) == (hash_bytes(body), 50, 40, "png")
    assert ranges[0] == "whole" and len(ranges) > 1 and all(r.startswith("bytes=") for r in ranges[1:])


def test_workspace_on_s3_registers_its_bucket_images_with_its_storage_options(s3_bucket: Any) -> None:
    s3_bucket.put("imgs/a.png", image(11))
    ws = cv.Workspace.create(s3_bucket.uri("ws"), storage_options=s3_bucket.storage_options)
    rep = ws.add_images(s3_bucket.uri("imgs/"), progress=False)
    assert rep.added == [hash_bytes(image(11))]
    assert ws.snapshot("v1").verify(progress=False).ok


def test_stat_cache_schema_1_file_is_migrated_keeping_its_entries(tmp_path: Path) -> None:
    path = tmp_path / "stat.sqlite"
    conn = sqlite3.connect(path)  # the layout release 1 wrote
    conn.execute("CREATE TABLE stat (path TEXT PRIMARY KEY, size INTEGER NOT NULL, mtime_ns INTEGER NOT NULL,"
                 " inode INTEGER NOT NULL, hash TEXT NOT NULL, info TEXT NOT NULL) WITHOUT ROWID")
    conn.execute("INSERT INTO stat VALUES ('/d/a.png', 3, 4, 5, ?, '{}')", ("ab" * 16,))
    conn.execute("PRAGMA user_version=1")
    conn.commit()
    conn.close()
    with StatCache(path) as cache:
        assert cache.paths() == ["/d/a.png"]
        assert cache.lookup_many([("/d/a.png", None)]) == [None]
        from jupyter_cvops._store.statcache import CachedObject
        assert cache.put_objects([CachedObject("s3://b/a.png", 3, '"e"', "cd" * 16, "{}")]) == 1
        assert cache.lookup_objects([("s3://b/a.png", 3, '"e"'), ("s3://b/a.png", 3, '"f"')])[1] is None
        assert cache.lookup_objects([("s3://b/a.png", 3, '"e"')])[0].hash == "cd" * 16
    assert sqlite3.connect(path).execute("PRAGMA user_version").fetchone()[0] == 2
    assert CachedEntry  # the file entries' type is unchanged


def test_files_and_objects_in_one_call_share_duplicate_detection(tmp_path: Path, s3_bucket: Any) -> None:
    (tmp_path / "imgs").mkdir()
    (tmp_path / "imgs" / "a.png").write_bytes(image(30))
    s3_bucket.put("mix/b.png", image(31))
    s3_bucket.put("mix/copy-of-a.png", image(30))
    res = _bucket.scan_any([str(tmp_path / "imgs"), s3_bucket.uri("mix/")], progress=False)
    assert [i.path for i in res.images] == [str(tmp_path / "imgs" / "a.png"), s3_bucket.uri("mix/b.png")]
    assert [str(p) for p in res.problems] == [
        f"{s3_bucket.uri('mix/copy-of-a.png')}: duplicate content of {tmp_path / 'imgs' / 'a.png'}"]
