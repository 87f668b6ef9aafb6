"""Find image files, hash them and probe them: what registering images needs.

``scan_images`` turns paths, folders or globs into :class:`ImageInfo` records (identity =
XXH3-128 of the bytes, so a moved file keeps its id) and one-line :class:`FileProblem`
reasons for files that cannot be used. With a stat cache, unchanged files are not read
again: re-scanning a folder costs one ``stat`` per file.
"""

from __future__ import annotations

import gc
import glob
import json
import os
import stat
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from functools import partial
from datetime import datetime
from operator import itemgetter
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, TypeVar

from ._probe import READ_WHOLE_LIMIT, Fresh, _read_and_probe  # noqa: F401  (READ_WHOLE_LIMIT: public)

if TYPE_CHECKING:
    from .._store.statcache import StatCache

PathLike = str | os.PathLike[str]
Entry = tuple[str, "os.stat_result | None"]
R = TypeVar("R")
T = TypeVar("T")

IMAGE_EXTENSIONS = tuple(
    ".jpg .jpeg .jpe .jfif .png .bmp .dib .tif .tiff .webp .gif .avif .ppm .pgm .pbm".split()
)
"""Extensions picked up when walking a folder or expanding a glob (case-insensitive)."""

_FIELDS = ("width", "height", "channels", "format", "captured_at")

DEFAULT_MAX_PIXELS = 178_956_970
"""Largest width x height accepted by default: Pillow's hard limit (twice
``PIL.Image.MAX_IMAGE_PIXELS``, ~179 megapixels, e.g. 13,377 x 13,377). Decoding more can
exhaust memory, so larger images are reported as decompression bombs, never decoded."""


@dataclass(slots=True)
class ImageInfo:
    """One usable image file.

    Attributes
    ----------
    image_id : str
        Content hash (XXH3-128 hex): the same bytes give the same id under any path.
    path : str
        Absolute, symlink-resolved path.
    width, height, channels : int
        Size in pixels and channel count (palette images count as RGB, or RGBA).
    format : str
        ``"jpeg"``, ``"png"``, ``"bmp"``, ``"tiff"``, ``"webp"``, ``"gif"``, ...
    bytes, mtime_ns : int
        File size and modification time (ns) when scanned.
    source : str or None
        Free-form origin given to the scan (camera, production line, vendor).
    captured_at : datetime or None
        EXIF DateTimeOriginal in UTC: shifted by OffsetTimeOriginal when the file records
        it, otherwise taken as UTC. None when absent or unreadable.
    """

    image_id: str
    path: str
    width: int
    height: int
    channels: int
    format: str
    bytes: int
    mtime_ns: int
    source: str | None = None
    captured_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class FileProblem:
    """A file (or argument) that cannot be registered, and why, in one line.

    Examples
    --------
    >>> str(FileProblem("/data/a.jpg", "zero-byte file"))
    '/data/a.jpg: zero-byte file'
    """

    path: str
    reason: str

    def __str__(self) -> str:
        return f"{self.path}: {self.reason}"


@dataclass(slots=True)
class ScanResult:
    """Images and problems in input order; ``n_hashed`` files were read and hashed,
    ``n_cached`` were answered by the stat cache without reading them."""

    images: list[ImageInfo] = field(default_factory=list)
    problems: list[FileProblem] = field(default_factory=list)
    n_hashed: int = 0
    n_cached: int = 0

    def __str__(self) -> str:
        head = f"{len(self.images)} images, {len(self.problems)} problems"
        lines = [f"{head} ({self.n_hashed} hashed, {self.n_cached} from cache)"]
        lines += [f"  {p}" for p in self.problems[:20]]
        if len(self.problems) > 20:
            lines.append(f"  ... and {len(self.problems) - 20} more")
        return "\n".join(lines)


# --------------------------------------------------------------------------- expanding
def _walk(root: str, out: list[Entry], problems: list[FileProblem]) -> int:
    """Append (path, lstat) of image files under ``root`` to ``out``; returns how many were
    symlinks (appended resolved, without a stat: they may repeat another entry)."""
    stack, links = [root], 0
    while stack:
        folder = stack.pop()
        try:
            with os.scandir(folder) as it:
                for e in it:
                    if e.name[0] == ".":
                        continue
                    if e.is_dir(follow_symlinks=False):
                        stack.append(e.path)
                    elif e.name.lower().endswith(IMAGE_EXTENSIONS):
                        if e.is_symlink():
                            out.append((os.path.realpath(e.path), None))
                            links += 1
                        else:
                            out.append((e.path, e.stat(follow_symlinks=False)))
        except OSError as err:
            why = "permission denied" if isinstance(err, PermissionError) else err.strerror
            problems.append(FileProblem(folder, f"cannot list folder ({why})"))
    return links


def _expand(
    items: PathLike | Iterable[PathLike],
) -> tuple[list[Entry], list[FileProblem], list[str]]:
    """(path, stat or None) per file, problems with the arguments, folders walked."""
    found: dict[str, os.stat_result | None] = {}
    problems: list[FileProblem] = []
    roots: list[str] = []
    parents: dict[str, str] = {}
    alone: list[list[Entry]] = []  # one folder walked and nothing else yet: kept as its list

    def merged() -> dict[str, os.stat_result | None]:
        if alone:
            found.update(alone.pop())
        return found

    def add_folder(folder: str, from_glob: bool = False) -> None:
        root = os.path.realpath(folder)
        if from_glob and any(root.startswith(os.path.join(r, "")) for r in roots):
            return  # "data/**" matches every subfolder of a folder already walked
        walked: list[Entry] = []
        roots.append(root)
        links = _walk(root, walked, problems)
        if not walked and not from_glob:
            problems.append(FileProblem(folder, "folder contains no image files"))
        walked.sort(key=itemgetter(0))
        if not found and not alone and not links:  # the common case, one folder: no repeats, no copy
            alone.append(walked)
            return
        seen = merged()
        seen.update(e for e in walked if e[0] not in seen)

    for item in [items] if isinstance(items, (str, os.PathLike)) else items:
        text = os.path.expanduser(os.fspath(item))
        if isinstance(item, str) and any(c in text for c in "*?[") and not os.path.lexists(text):
            matches = sorted(glob.glob(text, recursive=True))
            if not matches:
                problems.append(FileProblem(text, "no files match this glob pattern"))
            for m in matches:
                if os.path.isdir(m):
                    add_folder(m, from_glob=True)
                elif m.lower().endswith(IMAGE_EXTENSIONS):
                    merged().setdefault(os.path.realpath(m), None)
            continue
        path = os.path.abspath(text)
        try:
            st: os.stat_result | None = os.lstat(path)
        except OSError:
            st = None  # the scan stats again and names the error
        if st is not None and stat.S_ISLNK(st.st_mode):
            path, st = os.path.realpath(path), None
        elif st is not None:
            parent, name = os.path.split(path)
            if parent not in parents:  # resolve each folder once, not each file
                parents[parent] = os.path.realpath(parent)
            path = os.path.join(parents[parent], name)
        if st is not None and stat.S_ISDIR(st.st_mode) or st is None and os.path.isdir(path):
            add_folder(path)
        else:
            merged().setdefault(path, st)
    if alone and not found:
        return alone[0], problems, roots
    return list(merged().items()), problems, roots


def expand_paths(paths_or_glob: PathLike | Iterable[PathLike]) -> list[Path]:
    """Expand files, folders and glob patterns into a deterministic list of files.

    Parameters
    ----------
    paths_or_glob : str, Path, or an iterable of them
        A file path (kept whatever its extension, even when missing, so that a scan can
        say so); a folder (walked recursively with ``os.scandir``, keeping files with an
        extension in ``IMAGE_EXTENSIONS``; hidden entries and symlinked folders skipped);
        or a glob string such as ``"data/**/*.png"`` (``**`` crosses folders; matched
        folders are walked, matched files kept when they have an image extension).

    Returns
    -------
    list of Path
        Absolute, symlink-resolved paths: each argument's files sorted, arguments in the
        order given, repeats dropped (first occurrence kept).

    Examples
    --------
    >>> import tempfile
    >>> d = Path(tempfile.mkdtemp())
    >>> for name in ("b.png", "a.jpg", "notes.txt"):
    ...     _ = (d / name).write_bytes(b"x")
    >>> [p.name for p in expand_paths(d)]
    ['a.jpg', 'b.png']
    >>> [p.name for p in expand_paths(str(d / "**" / "*.png"))]
    ['b.png']
    """
    return [Path(p) for p, _ in _expand(paths_or_glob)[0]]


# -------------------------------------------------------------------------------- scan
_STEP = 64
"""Files read in the calling thread between checks of whether threads would help."""
_BIG = 1 << 20
"""Mean file size (bytes) from which reading and hashing, which release the GIL for that
long, are spread over threads even when the files are in the page cache."""


def map_files(
    fn: Callable[[T], R], paths: Sequence[T], *, size_of: Callable[[R], int], workers: int | None = None,
    progress: bool = True, desc: str = "hashing images", out: list[Any] | None = None,
    checkpoint: Callable[[], None] | None = None,
) -> list[R]:
    """``fn(path)`` for every path (or any item naming a file), results in input order: the read
    path of scans and verify.

    ``workers=None`` starts in the calling thread and moves the rest to threads once
    reads turn out to wait on the disk (cold caches, network storage: the thread's CPU
    time lags the wall clock) or the files are large (``size_of(result)`` bytes each). Small
    files in the page cache stay in one thread: there, per-file GIL hand-offs make threads
    slower than none (10k 27 kB PNGs: 0.15 s in one thread, 0.23 s in two, 0.29 s in eight,
    on 2 cores). ``workers=1``: always the calling thread; ``workers=n``: n threads.

    ``out``: a list of ``len(paths)`` slots to fill (default: a new one); when the work
    is interrupted (Ctrl-C, an error), the slots already filled keep their results, so the
    caller can save them. ``checkpoint()`` is called in the calling thread after every
    batch of results (it decides itself whether it is time to save).

    Examples
    --------
    >>> map_files(len, ["a", "bb"], size_of=lambda n: n, progress=False)
    [1, 2]
    """
    from tqdm.auto import tqdm

    n = workers or min(8, os.cpu_count() or 1)
    show = progress and len(paths) > 200
    if out is None:
        out = [None] * len(paths)
    elif len(out) != len(paths):
        raise ValueError(f"out has {len(out)} slots for {len(paths)} paths")
    tick = checkpoint or (lambda: None)
    with tqdm(total=len(paths), desc=desc, unit="file", disable=not show) as bar:
        start = 0
        if n <= 1 or len(paths) <= 1 or workers is None:
            start = _serial(fn, paths, out, size_of, bar, adaptive=n > 1, tick=tick)
        if start < len(paths):
            _threaded(fn, paths, out, start, n, bar, tick=tick)
    return out


def _serial(
    fn: Callable[[Any], Any], paths: Sequence[Any], out: list[Any], size_of: Callable[[Any], int], bar: Any,
    adaptive: bool, tick: Callable[[], None],
) -> int:
    """Fill ``out`` in this thread; returns where it stopped (``len(paths)`` when done).

    ``adaptive``: stop after a step of files whose reads waited (wall time over 3x the
    thread's CPU time) or whose mean size is at least ``_BIG``: threads help there.
    """
    k, total = 0, len(paths)
    while k < total:
        stop = min(k + _STEP, total)
        wall, cpu, nbytes = time.perf_counter(), time.thread_time(), 0
        for j in range(k, stop):
            out[j] = res = fn(paths[j])
            nbytes += size_of(res)
        bar.update(stop - k)
        tick()
        wall, cpu = time.perf_counter() - wall, time.thread_time() - cpu
        if adaptive and stop < total and (wall > 3 * cpu or nbytes >= (stop - k) * _BIG):
            return stop
        k = stop
    return k


def _threaded(
    fn: Callable[[Any], Any], paths: Sequence[Any], out: list[Any], start: int, n: int, bar: Any,
    tick: Callable[[], None],
) -> None:
    """Fill ``out[start:]`` from ``n`` threads (file IO and hashing release the GIL)."""
    pool = ThreadPoolExecutor(n, thread_name_prefix="cvops-scan")
    # chunks of files per task: one future per file costs more than a small image's probe
    size = max(1, min(64, (len(paths) - start) // (n * 4)))
    chunks = [range(i, min(i + size, len(paths))) for i in range(start, len(paths), size)]

    def work(idx: range) -> list[Any]:
        return [fn(paths[k]) for k in idx]

    try:
        jobs = {pool.submit(work, idx): idx for idx in chunks}
        for job in as_completed(jobs):
            idx = jobs[job]
            for k, res in zip(idx, job.result()):
                out[k] = res
            bar.update(len(idx))
            tick()
    finally:
        pool.shutdown(cancel_futures=True)  # Ctrl-C stops now, not after the queue


def _cache_entries(rows: Iterable[tuple[str, os.stat_result, str, dict[str, Any], int]]) -> list[Any]:
    """Stat-cache entries for freshly read files, leaving out racily clean ones."""
    from .._store.statcache import CachedEntry, is_racy

    dumped: dict[tuple[Any, ...], str] = {}  # files from one camera share their info
    new = []
    for path, st, digest, info, done in rows:
        if not is_racy(st.st_mtime_ns, done):
            key = tuple(info.items())
            text = dumped.get(key) or dumped.setdefault(key, json.dumps(info))
            new.append(CachedEntry(path, st.st_size, st.st_mtime_ns, st.st_ino, digest, text))
    return new


class _Checkpoint:
    """Saves the hashing of a long scan into the stat cache as it goes (every ``every`` seconds)
    and when it is interrupted, so a re-run after Ctrl-C or a dead kernel does not hash again."""

    def __init__(self, cache: StatCache, paths: Sequence[str], fresh: list[Any], every: float = 20.0) -> None:
        self.cache, self.paths, self.fresh, self.every = cache, paths, fresh, every
        self.saved: set[int] = set()
        self.last = time.monotonic()

    def maybe(self) -> None:
        """Save if ``every`` seconds passed since the last save."""
        if time.monotonic() - self.last >= self.every:
            self.save()

    def save(self) -> None:
        """Put every finished, not yet saved result into the cache (one transaction)."""
        self.last = time.monotonic()
        done = [k for k, res in enumerate(self.fresh) if res is not None and k not in self.saved]
        rows = [(self.paths[k], self.fresh[k][2], *self.fresh[k][:2], self.fresh[k][3]) for k in done
                if self.fresh[k][0] is not None and self.fresh[k][2] is not None]
        try:
            self.cache.put_many(_cache_entries(rows))
        except Exception:  # a failing cache never hides the interruption being handled
            return
        self.saved.update(done)


def _fresh_size(res: Fresh) -> int:
    return res[2].st_size if res[2] is not None else 0


def _view(info: dict[str, Any], check: str, max_pixels: int | None) -> dict[str, Any] | None:
    """A probe result as valid under this scan's settings; None when it must be redone."""
    w, h = info.get("width", 0), info.get("height", 0)
    too_big = max_pixels is not None and w * h > max_pixels
    if info.get("kind") == "bomb":
        return info if too_big or "width" not in info else None
    if too_big:
        return {"kind": "bomb", "width": w, "height": h}
    if check == "decode" and info.get("check") == "header":
        return None
    when = info.get("captured_at")
    return {**info, "captured_at": datetime.fromisoformat(when)} if when else info


def _item(
    path: str, st: os.stat_result, digest: str, view: dict[str, Any], source: str | None,
    max_pixels: int | None,
) -> ImageInfo | FileProblem:
    if "kind" not in view:
        w, h, c, f = view["width"], view["height"], view["channels"], view["format"]
        when = view["captured_at"]
        return ImageInfo(digest, path, w, h, c, f, st.st_size, st.st_mtime_ns, source, when)
    if view["kind"] == "bomb" and "width" in view:
        w, h = view["width"], view["height"]
        why = f"{w} x {h} = {w * h:,} pixels, over max_pixels={max_pixels:,}"
        return FileProblem(path, f"decompression bomb: {why}")
    return FileProblem(path, view["reason"])


def scan_images(
    paths_or_glob: PathLike | Iterable[PathLike],
    *,
    cache: StatCache | None = None,
    source: str | None = None,
    max_pixels: int | None = DEFAULT_MAX_PIXELS,
    check: Literal["header", "decode"] = "header",
    workers: int | None = None,
    progress: bool = True,
) -> ScanResult:
    """Hash and probe image files, and say why each unusable file cannot be used.

    Parameters
    ----------
    paths_or_glob : str, Path, or an iterable of them
        Files, folders or glob patterns, as for :func:`expand_paths`.
    cache : StatCache or None
        Files whose (size, mtime_ns, inode) match a cached entry are not read; the cache
        is updated in one transaction at the end (entries of files gone from a walked
        folder are dropped). None: read everything.
    source : str or None
        Copied to every ``ImageInfo.source``.
    max_pixels : int or None, default 178_956_970
        Largest width x height accepted (Pillow's hard limit, see ``DEFAULT_MAX_PIXELS``);
        larger images are reported as decompression bombs and never decoded. None: no limit.
    check : {"header", "decode"}, default "header"
        ``"header"``: read the header and check cheaply that the file is complete (a JPEG
        ends with its end-of-image marker, a PNG with its IEND chunk; other formats: the
        header is trusted). ``"decode"``: also decode every image, catching corrupt data.
    workers : int or None
        Threads hashing and probing (reads and hashing release the GIL). None: the
        calling thread while files come from the page cache and are small, up to
        ``min(8, cpu_count)`` threads once reads wait on the disk or files are large;
        1: always the calling thread.
    progress : bool, default True
        Show a progress bar when more than 200 files must be read.

    Returns
    -------
    ScanResult
        Images and problems in input order. Identical bytes under several paths: the first
        path is the image, the others get the problem ``duplicate content of <first>``.

    Examples
    --------
    >>> import tempfile
    >>> from PIL import Image
    >>> d = Path(tempfile.mkdtemp())
    >>> Image.new("RGB", (4, 3)).save(d / "a.png")
    >>> _ = (d / "b.jpg").write_bytes(b"")
    >>> r = scan_images(d, progress=False)
    >>> (r.images[0].width, r.images[0].height, r.images[0].format, r.problems[0].reason)
    (4, 3, 'png', 'zero-byte file')
    """
    if check not in ("header", "decode"):
        raise ValueError(f"check must be 'header' or 'decode', got {check!r}")
    if max_pixels is not None and max_pixels <= 0:
        raise ValueError(f"max_pixels must be positive or None, got {max_pixels!r}")
    gc_was_on = gc.isenabled()
    gc.disable()  # 100k new records would trigger repeated full collections: ~40% of a re-scan
    try:
        return _scan(paths_or_glob, cache, source, max_pixels, check, workers, progress)
    finally:
        if gc_was_on:
            gc.enable()


def collect(slots: Sequence[ImageInfo | FileProblem | None], result: ScanResult) -> ScanResult:
    """Put scanned ``slots`` into ``result`` in order; repeated content becomes a problem naming the first path.

    Examples
    --------
    >>> a, b = ImageInfo("f" * 32, "/a.png", 1, 1, 3, "png", 9, 0), ImageInfo("f" * 32, "/b.png", 1, 1, 3, "png", 9, 0)
    >>> str(collect([a, b], ScanResult()).problems[0])
    '/b.png: duplicate content of /a.png'
    """
    images = [item for item in slots if type(item) is ImageInfo]
    if len({item.image_id for item in images}) == len(images):  # no duplicate content: keep all
        result.images += images
        if len(images) < len(slots):
            result.problems += [item for item in slots if type(item) is FileProblem]
        return result
    first: dict[str, str] = {}
    for item in slots:
        if isinstance(item, ImageInfo):
            owner = first.setdefault(item.image_id, item.path)
            if owner == item.path:
                result.images.append(item)
                continue
            item = FileProblem(item.path, f"duplicate content of {owner}")
        if item is not None:
            result.problems.append(item)
    return result


def _scan(
    paths_or_glob: PathLike | Iterable[PathLike], cache: StatCache | None, source: str | None,
    max_pixels: int | None, check: str, workers: int | None, progress: bool,
) -> ScanResult:
    entries, problems, roots = _expand(paths_or_glob)
    cache = cache if cache is not None and cache.enabled else None
    n_loaded = 0
    if cache is not None and entries:
        common = os.path.commonprefix([min(entries)[0], max(entries)[0]])  # paths are unique: no stat compared
        n_loaded = cache.load(common[: common.rfind(os.sep) + 1] or os.sep)
    slots: list[ImageInfo | FileProblem | None] = [None] * len(entries)
    # One pass per file: the cache answers for (path, stat) pairs whose size, mtime and inode
    # match; files from one camera share their info text, parsed and checked once per text.
    found = cache.lookup_many(entries) if cache is not None else [None] * len(entries)
    texts = list(dict.fromkeys(hit.info_json for hit in found if hit is not None))
    views = {t: _view(v, check, max_pixels) for t, v in zip(texts, json.loads(f"[{','.join(texts)}]"))}
    fields = {t: tuple(v[k] for k in _FIELDS) for t, v in views.items() if v and "kind" not in v}
    todo: list[int] = []
    n_cached = 0
    for i, hit in enumerate(found):
        path, st = entries[i]
        if hit is not None and st is not None:
            text = hit.info_json
            if text in fields:  # the hot path of a re-scan, inlined
                w, h, c, f, when = fields[text]
                slots[i] = ImageInfo(hit.hash, path, w, h, c, f, st.st_size, st.st_mtime_ns, source, when)
                n_cached += 1
            elif (view := views[text]) is not None:
                slots[i] = _item(path, st, hit.hash, view, source, max_pixels)
                n_cached += 1
            else:
                todo.append(i)
            continue
        if st is None:
            try:
                st = os.stat(path)
                entries[i] = (path, st)
            except OSError:
                todo.append(i)  # reading it names the error in the usual words
                continue
        if st.st_size == 0 or not stat.S_ISREG(st.st_mode):
            why = "zero-byte file" if stat.S_ISREG(st.st_mode) else "not a regular file"
            slots[i] = FileProblem(path, why)
        else:
            todo.append(i)
    todo.sort()
    probe = partial(_read_and_probe, check=check, max_pixels=max_pixels)
    todo_paths = [entries[i][0] for i in todo]
    fresh: list[Any] = [None] * len(todo)
    saver = _Checkpoint(cache, todo_paths, fresh) if cache is not None else None
    try:
        map_files(probe, todo_paths, size_of=_fresh_size, workers=workers, progress=progress, out=fresh,
                  checkpoint=saver.maybe if saver is not None else None)
    except BaseException:
        if saver is not None:  # Ctrl-C or an error: keep the hashing done so far for the re-run
            saver.save()
        raise
    rows = []
    for k, (i, (digest, info, st, done)) in enumerate(zip(todo, fresh)):
        path = entries[i][0]
        if digest is None or st is None:
            slots[i] = FileProblem(path, info["reason"])
            continue
        view = _view(info, check, max_pixels) or info
        slots[i] = _item(path, st, digest, view, source, max_pixels)
        if saver is None or k not in saver.saved:
            rows.append((path, st, digest, info, done))
    result = collect(slots, ScanResult([], problems, sum(f[0] is not None for f in fresh), n_cached))
    if cache is not None:
        new = _cache_entries(rows)
        gone: list[str] = []
        if n_loaded > n_cached:  # some cached files were not seen: drop those gone from roots
            seen = {p for p, _ in entries}
            gone = [p for root in roots for p in cache.paths(under=root) if p not in seen]
        cache.put_many(new, remove=gone)
    return result
