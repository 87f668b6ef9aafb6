"""The images of logged predictions: identified by content hash and registered where they are (never copied).

Files are hashed and probed by the workspace's own scanner (:func:`jupyter_cvops.images.scan_images`)
with its stat cache, so a file seen before is not read again; bytes handed over in memory are hashed
with the same XXH3-128. Anything unreadable becomes a reason for that row alone.
"""

from __future__ import annotations

import io
import os
import stat
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

import polars as pl

from .._store import Store
from ..images._hashing import hash_bytes, hash_file
from ..images._probe import _fast_header, _probe
from ..images._register import register_scan
from ..images.scan import DEFAULT_MAX_PIXELS, ImageInfo, ScanResult, scan_images
from ._model import quote

if TYPE_CHECKING:
    from .._store.statcache import StatCache

DUPLICATE = "duplicate content of "


@dataclass
class Resolved:
    """Per row of a batch: its image id (None: unreadable), its path as stored, and why it failed."""

    image_ids: list[str | None] = field(default_factory=list)
    paths: list[str | None] = field(default_factory=list)
    errors: list[str | None] = field(default_factory=list)


def _is_uri(path: str) -> bool:
    return "://" in path and not path.startswith("file://")


def _local(path: str) -> str:
    path = path[len("file://"):] if path.startswith("file://") else path
    return os.path.realpath(os.path.abspath(os.path.expanduser(path)))


def _known(store: Store, ids: list[str]) -> set[str]:
    """Which of ``ids`` the ``images`` table already holds."""
    found: set[str] = set()
    for k in range(0, len(ids), 2000):
        part = ids[k:k + 2000]
        where = f"image_id IN ({', '.join(quote(i) for i in part)})"
        found.update(store.read("images", where=where, columns=["image_id"])["image_id"].to_list())
    return found


def _probe_bytes(data: bytes) -> dict[str, Any]:
    """Size, channels and format of an encoded image in memory (the scanner's own probe)."""
    fast = _fast_header(data)
    if fast is not None:
        return {**fast, "captured_at": None}
    return _probe(io.BytesIO(data), "header", DEFAULT_MAX_PIXELS)


def _scan_files(cache: StatCache | None, paths: list[str]) -> tuple[ScanResult, dict[str, str]]:
    """Scan existing regular files; returns the scan and a reason for each path that is not one."""
    fine: list[str] = []
    failed: dict[str, str] = {}
    for p in paths:
        try:
            st = os.stat(p)
        except FileNotFoundError:
            failed[p] = "no such file"
            continue
        except OSError as error:
            failed[p] = f"cannot read file ({error.strerror or error})"
            continue
        if not stat.S_ISREG(st.st_mode):  # never walk a folder or glob a pattern: one row, one file
            failed[p] = "not a regular file"
        else:
            fine.append(p)
    scan = scan_images(fine, cache=cache, progress=False) if fine else ScanResult()
    return scan, failed


def resolve_images(
    store: Store,
    cache: StatCache | None,
    frame: pl.DataFrame,
    *,
    source: str | None,
    register: bool = True,
) -> Resolved:
    """Image ids of a normalised batch (``image_id``, ``path``, ``bytes``, ``time``, ``source``, ``status``).

    Rows with an ``image_id`` keep it (the file is not read). Otherwise bytes are hashed in memory and
    local files are hashed by the scanner (the stat cache answers for files seen before). New images are
    registered in ``images`` where they are (their path or URI; bytes without one are not registered), with
    the row's source and, when the file carries no capture time, the prediction's time as capture time.
    Rows that fail get a reason; the rest of the batch goes on.
    """
    n = frame.height
    out = Resolved([None] * n, frame["path"].to_list(), [None] * n)
    ids, paths, data = frame["image_id"].to_list(), out.paths, frame["bytes"].to_list()
    times, sources, status = frame["time"].to_list(), frame["source"].to_list(), frame["status"].to_list()
    files: dict[str, list[int]] = {}
    infos: dict[str, ImageInfo] = {}  # new images from bytes (with a path or URI), by id
    probed: dict[str, dict[str, Any]] = {}
    for i in range(n):
        if ids[i] is not None:
            out.image_ids[i] = ids[i]
            continue
        if data[i] is not None:
            digest = hash_bytes(data[i])
            info = probed.get(digest) or probed.setdefault(digest, _probe_bytes(data[i]))
            if "width" not in info or "kind" in info:
                out.errors[i] = str(info.get("reason") or "decompression bomb")
                continue
            out.image_ids[i] = digest
            given = paths[i]
            if given is not None:
                paths[i] = where = given if _is_uri(given) else _local(given)
                exif = info.get("captured_at")
                when = datetime.fromisoformat(exif) if isinstance(exif, str) else times[i]
                infos.setdefault(digest, ImageInfo(digest, where, info["width"], info["height"], info["channels"],
                                                   info["format"], len(data[i]), 0, sources[i] or source, when))
            continue
        given = paths[i]
        if given is None:
            if status[i] != "failed":
                out.errors[i] = "no image: give image_id, path or bytes"
            continue
        if _is_uri(given):
            out.errors[i] = (f"cannot read {given.split('://')[0]}:// URIs here: pass the image's bytes "
                             "(column 'bytes') or its image_id")
            continue
        key = _local(given)
        paths[i] = key
        files.setdefault(key, []).append(i)
    scan, failed = _scan_files(cache, list(files))
    by_path = {info.path: info for info in scan.images}
    for problem in scan.problems:
        if problem.reason.startswith(DUPLICATE):  # the same bytes as another file of this batch
            try:
                by_path[problem.path] = ImageInfo(hash_file(problem.path), problem.path, 0, 0, 0, "", 0, 0)
            except OSError as error:
                failed[problem.path] = f"cannot read file ({error.strerror or error})"
            continue
        failed[problem.path] = problem.reason
    for key, rows in files.items():
        if key in by_path:
            for i in rows:
                out.image_ids[i] = by_path[key].image_id
        else:
            for i in rows:
                out.errors[i] = failed.get(key, "not read")
    if register:
        _register(store, scan, infos, files, times, sources, source)
    return out


def _register(
    store: Store, scan: ScanResult, infos: dict[str, ImageInfo], files: dict[str, list[int]],
    times: list[datetime | None], sources: list[str | None], source: str | None,
) -> None:
    """Register the images this batch saw for the first time (one commit, as ``ws.add_images`` does)."""
    candidates = {info.image_id: info for info in scan.images}
    for iid, info in infos.items():
        candidates.setdefault(iid, info)
    if not candidates:
        return
    with store.lock:
        new = set(candidates) - _known(store, list(candidates))
        if not new:
            return
        fresh = ScanResult()
        for iid in sorted(new, key=lambda i: candidates[i].path or ""):
            info = candidates[iid]
            first = files.get(info.path, [None])[0]
            if first is not None:  # a file: the first row that showed it says when and from where
                info.captured_at = info.captured_at or times[first]
                info.source = sources[first] or source
            fresh.images.append(info)
        register_scan(store, fresh, source=None)
