"""Images in object storage: the one place that reads, stats and lists objects (its S3 clients from
:mod:`jupyter_cvops._store._s3`).

Every reader of image bytes (registration, thumbnails, the review and lineage widgets,
embeddings, ``verify``) goes through :func:`read_bytes`, :func:`read_and_hash_any`,
:func:`stat_any` or :func:`exists`, which take a local path or an ``s3://bucket/key`` URI.

Credentials and endpoint, in this order: options given for the bucket with
:func:`use_storage_options` (``ws.add_images`` passes the workspace's
``storage_options``; LanceDB's names: ``endpoint``, ``aws_access_key_id``,
``aws_secret_access_key``, ``region``, ...), then the environment as LanceDB reads it
(``AWS_ENDPOINT`` / ``AWS_ENDPOINT_URL``, ``AWS_ACCESS_KEY_ID``, ``AWS_SECRET_ACCESS_KEY``,
``AWS_REGION``), then boto3's own chain (profiles, instance roles). S3 errors become
``OSError`` subclasses (``FileNotFoundError`` for a missing key or bucket,
``PermissionError`` for a 403), so callers handle a vanished object like a vanished file.
"""

from __future__ import annotations

import errno
import io
import os
import re
import stat as _stat
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, BinaryIO, NamedTuple

import xxhash

from .._store._s3 import READ_POOL
from .._store._s3 import s3_client as _s3_client
from ._hashing import FileChangedError, HashedFile, read_and_hash

SCHEMES = ("s3://",)
"""URI schemes read through object storage."""

CHUNK = 1 << 20
_LOCK = threading.Lock()
_OPTIONS: dict[str | None, dict[str, str]] = {}  # bucket (None: any bucket) -> LanceDB-style options
_GLOB = re.compile(r"[*?\[]")


class ObjectStat(NamedTuple):
    """What a listing or a GET says about one object; ``st_*`` names as ``os.stat_result`` has them.

    Examples
    --------
    >>> s = ObjectStat("s3://b/a.png", 10, '"e1"', 5)
    >>> (s.st_size, s.st_mtime_ns, s.st_ino)
    (10, 5, 0)
    """

    uri: str
    size: int
    etag: str
    mtime_ns: int

    @property
    def st_size(self) -> int:
        return self.size

    @property
    def st_mtime_ns(self) -> int:
        return self.mtime_ns

    @property
    def st_mode(self) -> int:
        return _stat.S_IFREG | 0o444

    @property
    def st_ino(self) -> int:
        return 0


def is_uri(path: Any) -> bool:
    """Whether ``path`` names an object in a bucket (``s3://...``).

    Examples
    --------
    >>> is_uri("s3://bucket/a.jpg"), is_uri("/data/a.jpg"), is_uri(Path("a.jpg"))
    (True, False, False)
    """
    return isinstance(path, str) and path.startswith(SCHEMES)


def split_uri(uri: str) -> tuple[str, str]:
    """``(bucket, key)`` of ``s3://bucket/key``; a clear error for anything else.

    Examples
    --------
    >>> split_uri("s3://bucket/line-1/a.jpg")
    ('bucket', 'line-1/a.jpg')
    """
    if not is_uri(uri):
        raise ValueError(f"not an s3:// URI: {uri!r}")
    bucket, _, key = uri[len("s3://"):].partition("/")
    if not bucket:
        raise ValueError(f"no bucket in {uri!r}")
    return bucket, key


# ------------------------------------------------------------------------------ clients
def use_storage_options(options: Mapping[str, Any] | None, bucket: str | None = None) -> None:
    """Remember object-store options (LanceDB's names) for ``bucket`` (None: every bucket
    without options of its own), so every later read of its images uses them.

    Examples
    --------
    >>> use_storage_options({"region": "eu-west-1"}, bucket="my-bucket")
    >>> use_storage_options(None, bucket="my-bucket")   # forget them again
    """
    with _LOCK:
        if options:
            _OPTIONS[bucket] = {str(k).lower(): str(v) for k, v in options.items()}
        else:
            _OPTIONS.pop(bucket, None)


def s3_client(bucket: str | None = None, storage_options: Mapping[str, Any] | None = None) -> Any:
    """The boto3 S3 client for ``bucket`` (one per set of options, shared by threads; made by
    :func:`jupyter_cvops._store._s3.s3_client` with ``READ_POOL`` connections).

    Parameters
    ----------
    bucket : str or None
        Picks the options given with :func:`use_storage_options` for it.
    storage_options : mapping or None
        Explicit options (LanceDB's names); override the remembered ones.

    Examples
    --------
    >>> s3 = s3_client("my-bucket")                              # doctest: +SKIP
    >>> s3.list_objects_v2(Bucket="my-bucket")["KeyCount"]       # doctest: +SKIP
    """
    with _LOCK:
        opts = dict(storage_options) if storage_options else _OPTIONS.get(bucket) or _OPTIONS.get(None) or {}
    return _s3_client(opts, max_pool_connections=READ_POOL, need="reading s3:// images")


def _os_error(err: Exception, uri: str) -> OSError:
    """An S3/HTTP failure as the ``OSError`` a file read would raise, with a one-line reason."""
    from botocore.exceptions import BotoCoreError, ClientError

    if isinstance(err, ClientError):
        info = err.response.get("Error", {})
        code = str(info.get("Code", ""))
        status = err.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        if code == "NoSuchBucket":
            return FileNotFoundError(errno.ENOENT, f"no such bucket {split_uri(uri)[0]!r}", uri)
        if code in ("NoSuchKey", "404", "NotFound") or status == 404:
            return FileNotFoundError(errno.ENOENT, "no such object", uri)
        if code in ("PreconditionFailed", "412") or status == 412:
            return FileChangedError(errno.EAGAIN, "object changed while read", uri)
        if status == 403 or code in ("AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch", "403"):
            return PermissionError(errno.EACCES, f"access denied ({code or 403})", uri)
        return OSError(errno.EIO, f"S3 error {code or status}: {info.get('Message') or err}", uri)
    if isinstance(err, BotoCoreError):
        return OSError(errno.EIO, f"cannot reach object storage ({' '.join(str(err).split())})", uri)
    return OSError(errno.EIO, str(err), uri)


def _etag_ns(head: Mapping[str, Any]) -> tuple[str, int]:
    when = head.get("LastModified")
    return str(head.get("ETag", "")), int(when.timestamp() * 1e9) if when is not None else 0


# ------------------------------------------------------------------------------ reading
def get_object(uri: str, *, if_match: str | None = None, byte_range: tuple[int, int] | None = None
               ) -> tuple[bytes, ObjectStat]:
    """The bytes of an object (or of ``byte_range``, inclusive ends) and its stat from the response.

    Raises ``FileNotFoundError``, ``PermissionError``, ``FileChangedError`` (``if_match``
    no longer the ETag) or ``OSError``, each with a one-line reason.

    Examples
    --------
    >>> data, st = get_object("s3://bucket/a.png")        # doctest: +SKIP
    """
    bucket, key = split_uri(uri)
    args: dict[str, str] = {"Bucket": bucket, "Key": key}
    if if_match:
        args["IfMatch"] = if_match
    if byte_range is not None:
        args["Range"] = f"bytes={byte_range[0]}-{byte_range[1]}"
    try:
        resp = s3_client(bucket).get_object(**args)
        data = resp["Body"].read()
    except Exception as err:
        raise _os_error(err, uri) from None
    etag, ns = _etag_ns(resp)
    size = int(resp.get("ContentLength", len(data)))
    if byte_range is not None and "ContentRange" in resp:
        size = int(str(resp["ContentRange"]).rpartition("/")[2])
    return data, ObjectStat(uri, size, etag, ns)


def stat_object(uri: str) -> ObjectStat:
    """Size, ETag and modification time of an object (one HEAD request).

    Examples
    --------
    >>> stat_object("s3://bucket/a.png").size              # doctest: +SKIP
    """
    bucket, key = split_uri(uri)
    try:
        head = s3_client(bucket).head_object(Bucket=bucket, Key=key)
    except Exception as err:
        raise _os_error(err, uri) from None
    etag, ns = _etag_ns(head)
    return ObjectStat(uri, int(head["ContentLength"]), etag, ns)


def stat_any(path: str | os.PathLike[str]) -> os.stat_result | ObjectStat:
    """``os.stat`` of a file or :func:`stat_object` of an ``s3://`` URI.

    Examples
    --------
    >>> stat_any(".").st_size >= 0
    True
    """
    return stat_object(path) if is_uri(path) else os.stat(path)  # type: ignore[arg-type]


def exists(path: str | os.PathLike[str] | None) -> bool:
    """Whether a file or object is there (False on any error, as ``os.path.exists``).

    Examples
    --------
    >>> exists("/no/such/file"), exists(".")
    (False, True)
    """
    if path is None:
        return False
    if not is_uri(path):
        return os.path.exists(path)
    try:
        stat_object(path)  # type: ignore[arg-type]
    except OSError:
        return False
    return True


def read_bytes(path: str | os.PathLike[str]) -> bytes:
    """All bytes of a local file or an ``s3://`` object.

    Examples
    --------
    >>> import tempfile
    >>> p = tempfile.mkdtemp() + "/a.bin"; _ = Path(p).write_bytes(b"abc")
    >>> read_bytes(p)
    b'abc'
    """
    if is_uri(path):
        return get_object(path)[0]  # type: ignore[arg-type]
    return Path(path).read_bytes()


def read_and_hash_any(path: str | os.PathLike[str], *, keep_limit: int = 64 << 20) -> HashedFile:
    """:func:`~jupyter_cvops.images._hashing.read_and_hash` for a file or an ``s3://`` object.

    An object is read with one GET and hashed as its body streams in; its bytes are kept
    when at most ``keep_limit``. ``stat`` is an :class:`ObjectStat` (size, ETag and time
    from the response, so the digest describes exactly that version).

    Examples
    --------
    >>> import tempfile
    >>> p = tempfile.mkdtemp() + "/a.bin"; _ = Path(p).write_bytes(b"abc")
    >>> read_and_hash_any(p).data
    b'abc'
    """
    if not is_uri(path):
        return read_and_hash(path, keep_limit=keep_limit)
    uri = str(path)
    bucket, key = split_uri(uri)
    try:
        resp = s3_client(bucket).get_object(Bucket=bucket, Key=key)
        size = int(resp["ContentLength"])
        body = resp["Body"]
        if size <= keep_limit:
            whole: bytes = body.read()
            data: bytes | None = whole
            digest = xxhash.xxh3_128_hexdigest(whole)
            if len(whole) != size:
                raise FileChangedError(errno.EAGAIN, "object body shorter than announced", uri)
        else:
            state, n = xxhash.xxh3_128(), 0
            for chunk in body.iter_chunks(CHUNK):
                state.update(chunk)
                n += len(chunk)
            data, digest = None, state.hexdigest()
            if n != size:
                raise FileChangedError(errno.EAGAIN, "object body shorter than announced", uri)
    except OSError:
        raise
    except Exception as err:
        raise _os_error(err, uri) from None
    etag, ns = _etag_ns(resp)
    return HashedFile(data, digest, ObjectStat(uri, size, etag, ns), time.time_ns())  # type: ignore[arg-type]


class RangedObject(io.RawIOBase):
    """A seekable, read-only file over one object version: each read is a ranged GET
    pinned to ``etag`` (a changed object raises ``FileChangedError``). Wrap it in
    ``io.BufferedReader`` so that small reads share a request.

    Examples
    --------
    >>> f = io.BufferedReader(RangedObject(stat_object("s3://b/big.tif")), 1 << 18)   # doctest: +SKIP
    """

    def __init__(self, st: ObjectStat) -> None:
        super().__init__()
        self.st, self.pos = st, 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self.pos, io.SEEK_END: self.st.size}[whence]
        self.pos = max(0, base + offset)
        return self.pos

    def tell(self) -> int:
        return self.pos

    def readinto(self, buf: Any) -> int:
        want = min(len(buf), self.st.size - self.pos)
        if want <= 0:
            return 0
        data, _ = get_object(self.st.uri, if_match=self.st.etag, byte_range=(self.pos, self.pos + want - 1))
        n = len(data)
        buf[:n] = data
        self.pos += n
        return n


def open_any(path: str | os.PathLike[str], st: Any = None) -> BinaryIO:
    """A binary, seekable file over a local path or an object (ranged reads, 256 KiB each,
    pinned to the version ``st``, an :class:`ObjectStat`, when given).

    Examples
    --------
    >>> import tempfile
    >>> p = tempfile.mkdtemp() + "/a.bin"; _ = Path(p).write_bytes(b"abc")
    >>> with open_any(p) as f:
    ...     f.read(2)
    b'ab'
    """
    if not is_uri(path):
        return open(path, "rb")
    return io.BufferedReader(RangedObject(st or stat_object(str(path))), 1 << 18)


# ------------------------------------------------------------------------------ listing
def _glob_regex(pattern: str) -> re.Pattern[str]:
    """A key pattern as a regex: ``**`` crosses ``/``, ``*`` and ``?`` do not, ``[...]`` sets."""
    out, i, n = [], 0, len(pattern)
    while i < n:
        c = pattern[i]
        if pattern.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
        elif pattern.startswith("**", i):
            out.append(".*")
            i += 2
        elif c == "*":
            out.append("[^/]*")
            i += 1
        elif c == "?":
            out.append("[^/]")
            i += 1
        elif c == "[" and (j := pattern.find("]", i + 2)) > 0:
            body = pattern[i + 1:j]
            out.append("[" + ("^" + body[1:] if body[0] == "!" else body) + "]")
            i = j + 1
        else:
            out.append(re.escape(c))
            i += 1
    return re.compile("".join(out) + r"\Z")


def _pages(bucket: str, prefix: str) -> Iterator[dict[str, Any]]:
    pager = s3_client(bucket).get_paginator("list_objects_v2")
    for page in pager.paginate(Bucket=bucket, Prefix=prefix):
        yield from page.get("Contents", [])


def list_objects(pattern: str, extensions: tuple[str, ...]) -> tuple[list[ObjectStat], str | None, str]:
    """Objects an ``s3://`` argument names: ``(objects sorted by key, problem or None, listed prefix)``.

    A glob (``s3://b/line-1/**/*.jpg``) lists the prefix before its first wildcard and keeps
    the matching keys ending in one of ``extensions`` (lower case); a plain prefix
    (``s3://b/line-1/``) keeps every such key under it, skipping hidden names (``.`` first) and
    folder markers; a key without a trailing ``/`` is that object if it exists, else the
    prefix ``key/``. Listing is ListObjectsV2, paginated (1,000 keys a request).

    Examples
    --------
    >>> objs, problem, prefix = list_objects("s3://bucket/line-1/**/*.jpg", (".jpg",))   # doctest: +SKIP
    """
    exts = extensions
    bucket, key = split_uri(pattern)
    root = f"s3://{bucket}/"
    try:
        if m := _GLOB.search(key):
            prefix = key[: key.rfind("/", 0, m.start()) + 1]
            rx = _glob_regex(key)
            found = [o for o in _pages(bucket, prefix) if rx.match(o["Key"]) and _visible(o["Key"], prefix, exts)]
            problem = None if found else "no objects match this glob pattern"
        else:
            if key and not key.endswith("/"):
                exact = [o for o in _pages(bucket, key) if o["Key"] == key]
                if exact:
                    return [_entry(root, exact[0])], None, key
                key += "/"
            prefix = key
            found = [o for o in _pages(bucket, prefix) if _visible(o["Key"], prefix, exts)]
            problem = None if found else "no image objects under this prefix"
    except Exception as err:
        raise _os_error(err, pattern) from None
    found.sort(key=lambda o: o["Key"])
    return [_entry(root, o) for o in found], problem, prefix


def _visible(key: str, prefix: str, exts: tuple[str, ...]) -> bool:
    """An image key whose names below ``prefix`` are not hidden (as a folder walk skips them)."""
    return key.lower().endswith(exts) and not any(p.startswith(".") for p in key[len(prefix):].split("/"))


def _entry(root: str, o: Mapping[str, Any]) -> ObjectStat:
    etag, ns = _etag_ns(o)
    return ObjectStat(root + o["Key"], int(o["Size"]), etag, ns)


def stat_many(uris: Sequence[str], *, workers: int = 16, list_from: int = 8) -> list[ObjectStat | OSError]:
    """Size, ETag and time of many objects, reading no body: one slot per URI, an
    :class:`ObjectStat` or the ``OSError`` a read would raise (``FileNotFoundError``: gone).

    A folder (bucket and key up to its last ``/``) that holds at least ``list_from`` of the
    URIs is listed once (ListObjectsV2 with ``Delimiter="/"``, 1,000 keys a request); the
    other objects, and those of a folder whose listing is refused, get one HEAD each,
    ``workers`` at a time.

    Examples
    --------
    >>> [s.etag for s in stat_many(["s3://bucket/a.png", "s3://bucket/b.png"])]   # doctest: +SKIP
    ['"9b2c..."', '"51a0..."']
    """
    from concurrent.futures import ThreadPoolExecutor

    out: list[ObjectStat | OSError | None] = [None] * len(uris)
    folders: dict[str, list[int]] = {}
    for i, uri in enumerate(uris):
        try:
            split_uri(uri)
        except ValueError as err:
            out[i] = OSError(errno.EINVAL, str(err), uri)
            continue
        folders.setdefault(uri[: uri.rfind("/") + 1], []).append(i)
    heads: list[int] = []
    for folder, idx in folders.items():
        if len(idx) < list_from:
            heads += idx
            continue
        bucket, prefix = split_uri(folder)
        try:
            pager = s3_client(bucket).get_paginator("list_objects_v2")
            listed = {f"s3://{bucket}/{o['Key']}": o for page in pager.paginate(
                Bucket=bucket, Prefix=prefix, Delimiter="/") for o in page.get("Contents", [])}
        except Exception:  # listing refused (a read-only policy): ask for each object
            heads += idx
            continue
        for i in idx:
            o = listed.get(uris[i])
            out[i] = _entry(f"s3://{bucket}/", o) if o is not None else FileNotFoundError(
                errno.ENOENT, "no such object", uris[i])

    def head(i: int) -> ObjectStat | OSError:
        try:
            return stat_object(uris[i])
        except OSError as err:
            return err

    if heads:
        with ThreadPoolExecutor(max(1, min(workers, len(heads)))) as pool:
            for i, res in zip(heads, pool.map(head, heads)):
                out[i] = res
    return out  # type: ignore[return-value]
