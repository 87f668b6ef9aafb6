"""Scanning images that live in a bucket: list, read in parallel, hash and probe, cache by ETag.

The object-store counterpart of the file walk in :mod:`jupyter_cvops.images.scan`: the
same probe, the same :class:`~jupyter_cvops.images.scan.ImageInfo` records (``path`` is
the object's ``s3://bucket/key``) and one-line problems, the same registration after it.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping, Sequence
from functools import partial
from typing import TYPE_CHECKING, Any

from ._objects import ObjectStat, list_objects, open_any, read_and_hash_any, split_uri, use_storage_options
from ._probe import READ_WHOLE_LIMIT, _probe, probe_bytes
from .scan import (
    DEFAULT_MAX_PIXELS, IMAGE_EXTENSIONS, FileProblem, ImageInfo, PathLike, ScanResult, _item, _view, collect,
    map_files, scan_images,
)

if TYPE_CHECKING:
    from .._store.statcache import CachedObject, StatCache

DEFAULT_WORKERS = 16
"""Threads reading objects at once: requests wait on the network, not the CPU."""

Read = tuple["str | None", dict[str, Any], "ObjectStat | None"]


def _read_probe(obj: ObjectStat, check: str, max_pixels: int | None) -> Read:
    """One GET of ``obj`` streamed through the hasher, then the probe (from memory, or ranged
    reads of that same version for objects over ``READ_WHOLE_LIMIT``)."""
    try:
        data, digest, st, _ = read_and_hash_any(obj.uri, keep_limit=READ_WHOLE_LIMIT)
        if st.st_size == 0:
            return None, {"reason": "zero-byte object"}, None
        if data is not None:
            return digest, probe_bytes(data, check, max_pixels), st  # type: ignore[return-value]
        with open_any(obj.uri, st) as f:
            return digest, _probe(f, check, max_pixels), st  # type: ignore[return-value]
    except FileNotFoundError as err:
        why = err.strerror or "no such object"
        return None, {"reason": f"{why} (gone since it was listed)" if why == "no such object" else why}, None
    except OSError as err:
        return None, {"reason": err.strerror or str(err)}, None


def _size(res: Read) -> int:
    return res[2].size if res[2] is not None else 0


def scan_objects(
    uris: Sequence[str], *, cache: StatCache | None = None, source: str | None = None,
    max_pixels: int | None = None, check: str = "header", workers: int | None = None, progress: bool = True,
    storage_options: Mapping[str, Any] | None = None,
) -> ScanResult:
    """Hash and probe the images ``uris`` name in their buckets; one reason per unusable object.

    Parameters
    ----------
    uris : sequence of str
        ``s3://bucket/prefix/`` (every image under it), ``s3://bucket/**/*.jpg`` (a glob:
        ``**`` crosses ``/``) or ``s3://bucket/key.png`` (one object); see
        :func:`~jupyter_cvops.images._objects.list_objects`.
    cache : StatCache or None
        Objects whose (URI, size, ETag) match a cached entry are not read (listing only);
        entries are added for objects read, and dropped for objects gone from a listed prefix.
    source, max_pixels, check, progress
        As for :func:`~jupyter_cvops.images.scan.scan_images`.
    workers : int or None
        Parallel GETs (default ``DEFAULT_WORKERS``).
    storage_options : mapping or None
        Object-store options for these buckets (remembered for later reads of their images).

    Returns
    -------
    ScanResult
        ``path`` of each image is its ``s3://bucket/key``; ``bytes`` its size and
        ``mtime_ns`` its LastModified.

    Examples
    --------
    >>> r = scan_objects(["s3://bucket/line-1/**/*.jpg"], progress=False)   # doctest: +SKIP
    >>> r.images[0].path                                                    # doctest: +SKIP
    's3://bucket/line-1/2026-12-01/cam0-0001.jpg'
    """
    cache = cache if cache is not None and cache.enabled else None
    entries: list[ObjectStat] = []
    seen: set[str] = set()
    result = ScanResult()
    prefixes: list[str] = []  # plain prefixes listed whole: cached objects missing there are gone
    for uri in uris:
        try:
            bucket = split_uri(uri)[0]
            if storage_options:
                use_storage_options(storage_options, bucket)
            objs, problem, prefix = list_objects(uri, IMAGE_EXTENSIONS)
        except ValueError as err:
            result.problems.append(FileProblem(uri, str(err)))
            continue
        except OSError as err:
            result.problems.append(FileProblem(uri, f"cannot list objects: {err.strerror or err}"))
            continue
        if problem:
            result.problems.append(FileProblem(uri, problem))
        if not any(c in uri for c in "*?["):
            prefixes.append(f"s3://{bucket}/{prefix}")
        for o in objs:
            if o.uri not in seen:
                seen.add(o.uri)
                entries.append(o)
    keys = [(o.uri, o.size, o.etag or "\0no etag") for o in entries]  # a store without ETags: never cached
    hits = cache.lookup_objects(keys) if cache is not None else [None] * len(entries)
    slots: list[ImageInfo | FileProblem | None] = [None] * len(entries)
    todo: list[int] = []
    for i, (o, hit) in enumerate(zip(entries, hits)):
        view = _view(json.loads(hit.info_json), check, max_pixels) if hit is not None else None
        if hit is not None and view is not None:
            slots[i] = _item(o.uri, o, hit.hash, view, source, max_pixels)  # type: ignore[arg-type]
            result.n_cached += 1
        elif o.size == 0:
            slots[i] = FileProblem(o.uri, "zero-byte object")
        else:
            todo.append(i)
    fresh: list[Any] = [None] * len(todo)
    read = partial(_read_probe, check=check, max_pixels=max_pixels)
    try:
        map_files(read, [entries[i] for i in todo], size_of=_size, workers=workers or DEFAULT_WORKERS,
                  progress=progress, desc="reading objects", out=fresh)
    except BaseException:
        if cache is not None:  # Ctrl-C or an error: keep what was read for the re-run
            cache.put_objects(_cached(fresh))
        raise
    for i, (digest, info, st) in zip(todo, fresh):
        uri = entries[i].uri
        if digest is None or st is None:
            slots[i] = FileProblem(uri, info["reason"])
            continue
        result.n_hashed += 1
        slots[i] = _item(uri, st, digest, _view(info, check, max_pixels) or info, source, max_pixels)
    result = collect(slots, result)
    if cache is not None:
        gone = [u for p in prefixes for u in cache.object_uris(p) if u not in seen]
        cache.put_objects(_cached(fresh), remove=gone)
    return result


def scan_any(
    paths_or_glob: PathLike | Iterable[PathLike], *, cache: StatCache | None = None, source: str | None = None,
    max_pixels: int | None = DEFAULT_MAX_PIXELS, check: str = "header", workers: int | None = None,
    progress: bool = True, storage_options: Mapping[str, Any] | None = None,
) -> ScanResult:
    """:func:`~jupyter_cvops.images.scan.scan_images` for files and ``s3://`` objects alike (``ws.add_images``).

    ``s3://`` arguments go to :func:`scan_objects` (with ``storage_options``), the rest to
    ``scan_images``; mixed, local files come first, and content repeated across both is a
    duplicate of its first path.

    Examples
    --------
    >>> import tempfile
    >>> scan_any(tempfile.mkdtemp(), progress=False).problems[0].reason
    'folder contains no image files'
    """
    items = [paths_or_glob] if isinstance(paths_or_glob, (str, os.PathLike)) else list(paths_or_glob)
    uris = [p for p in items if isinstance(p, str) and p.startswith("s3://")]
    opts: dict[str, Any] = {"cache": cache, "source": source, "max_pixels": max_pixels, "check": check,
                            "workers": workers, "progress": progress}
    if not uris:
        return scan_images(items, **opts)
    found = scan_objects(uris, storage_options=storage_options, **opts)
    if len(uris) == len(items):
        return found
    local = scan_images([p for p in items if p not in uris], **opts)
    both = ScanResult([], local.problems + found.problems, local.n_hashed + found.n_hashed,
                      local.n_cached + found.n_cached)
    return collect([*local.images, *found.images], both)


def _cached(fresh: Sequence[Read | None]) -> list[CachedObject]:
    from .._store.statcache import CachedObject

    dumped: dict[tuple[Any, ...], str] = {}  # images from one camera share their info text
    out = []
    for res in fresh:
        if res is None or res[0] is None or res[2] is None or not res[2].etag:
            continue
        digest, info, st = res
        assert digest is not None and st is not None
        key = tuple(info.items())
        text = dumped.get(key) or dumped.setdefault(key, json.dumps(info))
        out.append(CachedObject(st.uri, st.size, st.etag, digest, text))
    return out
