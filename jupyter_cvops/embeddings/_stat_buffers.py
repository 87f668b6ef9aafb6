"""Per-thread scratch buffers for :mod:`._image_stats` (and the shared memory block behind :func:`_planes`
and :func:`_spare`), and OpenCV's thread count while workers run.

Fresh 0.5 MB arrays cost more than the arithmetic on them (page faults on every reuse), so
:func:`._image_stats.image_stats` keeps its intermediate images in a :class:`_Scratch` per
thread; the public per-feature functions use :class:`_Fresh`, whose arrays escape.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import cv2
import numpy as np

_SCRATCH_MAX_PIXELS = 4 * 256 * 256
"""Keep per-thread buffers for images up to this size (4 working copies of 256 x 256)."""


class _Fresh:
    """Buffer source that allocates: for the public per-feature functions, whose results escape."""

    def get(self, name: str, shape: tuple[int, ...], dtype: Any) -> np.ndarray:
        return np.empty(shape, dtype=dtype)

    def lanes(self, shape: tuple[int, ...], dtype: Any) -> np.ndarray:
        """``i mod 4`` for the flat index ``i`` of an array of ``shape``, as ``dtype``: the lane of each
        pixel when a histogram is spread over 4 interleaved copies."""
        return (np.arange(math.prod(shape), dtype=np.intp) & 3).astype(dtype).reshape(shape)


class _Scratch(_Fresh):
    """Per-thread intermediate buffers reused from image to image (one image shape at a time).

    Fresh 0.5 MB arrays cost more than the arithmetic on them: the allocator returns their
    pages to the kernel and every reuse page-faults them back in (~1.7 ms per image, measured).
    Only :func:`image_stats` uses it, and nothing it hands out outlives one call.
    """

    def __init__(self) -> None:
        self.key: tuple[int, ...] = ()
        self.bufs: dict[str, np.ndarray] = {}
        self.spares: dict[str, list[np.ndarray]] = {}  # views into bufs["planes"]: see _spare

    def get(self, name: str, shape: tuple[int, ...], dtype: Any) -> np.ndarray:
        buf = self.bufs.get(name)
        if buf is None or buf.shape != shape or buf.dtype != dtype:
            buf = self.bufs[name] = np.empty(shape, dtype=dtype)
        return buf

    def lanes(self, shape: tuple[int, ...], dtype: Any) -> np.ndarray:
        key = f"lanes:{np.dtype(dtype).str}"
        buf = self.bufs.get(key)
        if buf is None or buf.shape != shape:
            buf = self.bufs[key] = super().lanes(shape, dtype)
        return buf


def _planes(ws: _Fresh, shape: tuple[int, ...]) -> np.ndarray:
    """Three float64 planes of ``shape`` in one block: :func:`_orientation`'s ``gx, gy, magnitude``
    (before them the R, G, B planes, after them the binning's, HSV and Canny buffers: see :func:`_spare`).
    Sharing it keeps the working set of :func:`image_stats` ~2.5 MB smaller, i.e. more of it in the core's
    cache."""
    return ws.get("planes", (3, *shape), np.float64)


def _spare(ws: _Fresh, *specs: tuple[str, tuple[int, ...], Any]) -> list[np.ndarray]:
    """Buffers ``(name, shape, dtype)`` for work done before the gradients exist (the R, G, B planes)
    or once they are dead (HSV, Canny): with a :class:`_Scratch`, consecutive views into the memory of
    :func:`_planes`, kept under the first buffer's name."""
    if not isinstance(ws, _Scratch):
        return [ws.get(name, shape, dtype) for name, shape, dtype in specs]
    key = specs[0][0]  # callers name their first buffer uniquely
    views: list[np.ndarray] | None = ws.spares.get(key)
    if views is None:
        block = _planes(ws, ws.key).reshape(-1).view(np.uint8)
        views, offset = [], 0
        for _, shape, dtype in specs:
            size = math.prod(shape) * np.dtype(dtype).itemsize
            views.append(block[offset:offset + size].view(dtype).reshape(shape))
            offset += -(-size // 64) * 64  # cache-line aligned
        if offset > block.size:
            return [ws.get(name, shape, dtype) for name, shape, dtype in specs]
        ws.spares[key] = views
    return views


_LOCAL = threading.local()


def _scratch(h: int, w: int) -> _Fresh:
    """This thread's :class:`_Scratch` for an ``h x w`` image (a :class:`_Fresh` for very large ones)."""
    if h * w > _SCRATCH_MAX_PIXELS:
        return _Fresh()
    sc: _Scratch | None = getattr(_LOCAL, "scratch", None)
    if sc is None or sc.key != (h, w):
        sc = _LOCAL.scratch = _Scratch()
        sc.key = (h, w)
    return sc


_CV_LOCK = threading.Lock()
_CV_STATE = {"users": 0, "threads": 0}


@contextmanager
def opencv_single_threaded() -> Iterator[None]:
    """Run OpenCV's functions single-threaded inside the block (process-wide; restored after).

    For callers that already spread images over threads (``embed``'s workers): OpenCV's
    own thread pool then only adds synchronisation and spinning, 30-40% more CPU per
    image on a 256 x 256 working copy (measured). Nested and concurrent blocks share one
    setting; the last to leave restores the previous thread count.

    Examples
    --------
    >>> before = cv2.getNumThreads()
    >>> with opencv_single_threaded():
    ...     cv2.getNumThreads()
    1
    >>> cv2.getNumThreads() == before
    True
    """
    with _CV_LOCK:
        if _CV_STATE["users"] == 0:
            _CV_STATE["threads"] = cv2.getNumThreads()
            cv2.setNumThreads(1)
        _CV_STATE["users"] += 1
    try:
        yield
    finally:
        with _CV_LOCK:
            _CV_STATE["users"] -= 1
            if _CV_STATE["users"] == 0:
                cv2.setNumThreads(_CV_STATE["threads"])
