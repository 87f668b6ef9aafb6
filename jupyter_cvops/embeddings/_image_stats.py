"""Interpretable image statistics on numpy arrays: the ``imgstats`` embedder's features.

Every feature is a pure function of the pixels (numpy + OpenCV, no randomness, no
weights), computed on a fixed working size so that images of different resolutions are
comparable: the image is resized (aspect ratio kept) until its longer side is
:data:`WORKING_SIZE` = 256 pixels (``cv2.INTER_AREA`` when shrinking, ``INTER_LINEAR``
when enlarging). Results are bit-identical between runs and threads.

Speed: :func:`image_stats` converts the working copy to luma, gray and HSV once each,
shares one pair of Sobel gradients, keeps its intermediate images in per-thread buffers
reused from image to image (buffers whose contents are dead share memory: ~3.5 MB instead
of ~6 MB per thread, more of it in the core's cache, ~7% less CPU), and reduces with single OpenCV calls (``calcHist``,
``meanStdDev``, ``norm``); edge directions come from ``cv2.phase``, with the ~1% of pixels
near a bin boundary re-binned by the exact ``arctan2`` formula. About 1.5 ms per image on
one core (was ~10 ms). The values equal those of the first, per-feature numpy
implementation: counts exactly, the rest to float rounding (tolerance ``1e-9``, observed
<= 3e-14; ``tests/embeddings/test_imgstats_speed.py`` keeps that implementation and
checks it), so ``VERSION`` stays ``v1`` and stored vectors stay valid.

Intensities are in ``[0, 1]`` units (8-bit values / 255) unless stated otherwise. Luma is
``Y = 0.299 R + 0.587 G + 0.114 B`` (ITU-R BT.601) in float64.

=====================  ===================================================================
feature                meaning
=====================  ===================================================================
``brightness``         mean luma, 0 (black) to 1 (white)
``contrast``           RMS contrast: standard deviation of luma
``sharpness``          ``log10(1 + v)``, ``v`` = variance of the 3x3 Laplacian of luma in
                       8-bit units (the classic focus measure; log so that blurred and
                       sharp images sit on one scale; monotone, so rank tests see ``v``)
``colorfulness``       Hasler & Suesstrunk (2003) M on RGB in [0, 1]:
                       ``sqrt(sd_rg^2 + sd_yb^2) + 0.3 sqrt(mu_rg^2 + mu_yb^2)``
``saturation``         mean HSV saturation, 0 to 1
``noise``              Immerkaer (1996) fast noise sigma estimate of luma, in [0, 1] units
``edge_density``       fraction of pixels on Canny edges (8-bit luma, thresholds 50 / 150)
``orient_cos2``        gradient-energy weighted mean of ``cos 2*phi`` over edge directions
                       ``phi`` (counter-clockwise from horizontal, as displayed);
                       with ``orient_sin2`` it points at the dominant edge orientation
                       and its length is the coherence (0: no dominant direction)
``orient_sin2``        same, ``sin 2*phi``
``orient_000`` ...     8 bins of edge direction (centres 0, 22.5, ..., 157.5 degrees;
``orient_158``         ``orient_000`` = horizontal edges, ``orient_090`` = vertical
                       edges), weighted by gradient magnitude, summing to 1
``hue_000`` ...        8 hue bins of 45 degrees centred on 0 (red), 45, ..., 315, counting
``hue_315``            chromatic pixels only (saturation and value >= 0.15) as a fraction
                       of all pixels (so the bins sum to the chromatic fraction)
``sat_00_25`` ...      fraction of pixels in 4 saturation quarters
``val_00_25`` ...      fraction of pixels in 4 value (HSV V) quarters
=====================  ===================================================================

Examples
--------
>>> import numpy as np
>>> img = np.zeros((64, 96, 3), np.uint8); img[:, 48:] = 255      # left black, right white
>>> f = dict(zip(feature_names(), image_stats(img)))
>>> round(float(f["brightness"]), 3), bool(f["orient_090"] > 0.99)   # one vertical edge
(0.5, True)
"""

from __future__ import annotations

import math
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import cv2
import numpy as np

WORKING_SIZE = 256
"""Longer side, in pixels, of the working copy every feature is computed on."""

VERSION = "v1"
"""Feature-set version; part of the ``imgstats`` table name, bumped on any change."""

_SCALARS = (
    "brightness", "contrast", "sharpness", "colorfulness", "saturation", "noise", "edge_density",
    "orient_cos2", "orient_sin2",
)
_ORIENT = tuple(f"orient_{c:03d}" for c in (0, 22, 45, 68, 90, 112, 135, 158))
_HUE = tuple(f"hue_{c:03d}" for c in range(0, 360, 45))
_QUARTERS = ("00_25", "25_50", "50_75", "75_100")
_SAT = tuple(f"sat_{q}" for q in _QUARTERS)
_VAL = tuple(f"val_{q}" for q in _QUARTERS)
FEATURE_NAMES: tuple[str, ...] = _SCALARS + _ORIENT + _HUE + _SAT + _VAL
"""Names of the ``imgstats`` dimensions, in vector order (33)."""

_CHROMA_MIN = 0.15
_CANNY = (50, 150)
_LUMA = np.array([0.299, 0.587, 0.114])
_LUMA_ROW = _LUMA.reshape(1, 3)
_IMMERKAER_1D = np.array([1.0, -2.0, 1.0])  # Immerkaer's kernel is the outer product of this with itself
_CHROMA8 = round(_CHROMA_MIN * 255)  # 38 on OpenCV's 8-bit S and V
_HUE_BIN = ((np.arange(180) * 2 + 22) // 45) % 8  # OpenCV 8-bit hue (degrees / 2) -> hue bin
_LEVELS = np.arange(256, dtype=np.float64)
_HUE_SUM = np.eye(8)[_HUE_BIN]  # 180 x 8: hue histogram (degrees / 2) -> the 8 hue bins
_QUARTER_SUM = np.eye(4)[np.arange(256) // 64]  # 256 x 4: 8-bit histogram -> its 4 quarters
_S_SUM = np.column_stack([_LEVELS, _QUARTER_SUM])  # 256 x 5: sum of the levels, then the quarters
# (products of exact integer counts with 0/1 or levels: every sum is exact, in any order)
_PHASE_MARGIN = 1e-3
"""Radians: pixels whose ``cv2.phase`` angle is this close to an orientation-bin boundary are
re-binned with ``np.arctan2``. ``cv2.phase`` is accurate to 1.7e-4 rad here (measured; OpenCV
only promises ~0.3 degree): the tests check that its error stays below a quarter of this."""
_CALCHIST_MAX = 1 << 24  # calcHist counts in float32: exact up to 2**24 pixels
_SCRATCH_MAX_PIXELS = 4 * WORKING_SIZE * WORKING_SIZE  # keep per-thread buffers for images up to this size


class _Fresh:
    """Buffer source that allocates: for the public per-feature functions, whose results escape."""

    def get(self, name: str, shape: tuple[int, ...], dtype: Any) -> np.ndarray:
        return np.empty(shape, dtype=dtype)

    def lanes(self, n: int, bins: int) -> np.ndarray:
        """``(i mod 4) * bins`` for ``i < n``: spreads a histogram over 4 interleaved copies.

        uint8 when it fits (an eighth of the memory traffic of an index array)."""
        lanes = (np.arange(n, dtype=np.intp) & 3) * bins
        return lanes.astype(np.uint8) if 3 * bins < 256 else lanes


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

    def lanes(self, n: int, bins: int) -> np.ndarray:
        key = f"lanes{bins}"
        buf = self.bufs.get(key)
        if buf is None or buf.shape != (n,):
            buf = self.bufs[key] = super().lanes(n, bins)
        return buf


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


def feature_names() -> list[str]:
    """Names of the image-statistics features, in vector order.

    Examples
    --------
    >>> names = feature_names()
    >>> names[:3], len(names)
    (['brightness', 'contrast', 'sharpness'], 33)
    """
    return list(FEATURE_NAMES)


def as_rgb8(image: np.ndarray) -> np.ndarray:
    """An ``H x W x 3`` uint8 RGB view of ``image``.

    Accepts grayscale ``H x W`` (or ``H x W x 1``), RGB, RGBA (alpha dropped), uint8,
    uint16 (scaled by 1/257) or float in ``[0, 1]`` (scaled by 255 and rounded).

    Examples
    --------
    >>> as_rgb8(np.full((2, 3), 0.5)).shape, as_rgb8(np.full((2, 3), 0.5))[0, 0, 0]
    ((2, 3, 3), np.uint8(128))
    """
    a = np.asarray(image)
    if a.ndim == 3 and a.shape[2] == 1:
        a = a[:, :, 0]
    if a.ndim not in (2, 3) or (a.ndim == 3 and a.shape[2] not in (3, 4)):
        raise ValueError(f"expected an H x W (x 1|3|4) image, got shape {a.shape}")
    if a.shape[0] < 1 or a.shape[1] < 1:
        raise ValueError(f"empty image of shape {a.shape}")
    if a.dtype == np.uint16:
        a = ((a.astype(np.uint32) + 128) // 257).astype(np.uint8)
    elif a.dtype.kind == "f":
        a = np.clip(np.rint(a.astype(np.float64) * 255.0), 0, 255).astype(np.uint8)
    elif a.dtype == np.bool_:
        a = a.astype(np.uint8) * 255
    elif a.dtype != np.uint8:
        a = np.clip(a, 0, 255).astype(np.uint8)
    if a.ndim == 2:
        a = np.repeat(a[:, :, None], 3, axis=2)
    return np.ascontiguousarray(a[:, :, :3])


def to_working_size(rgb: np.ndarray, size: int = WORKING_SIZE) -> np.ndarray:
    """Resize so the longer side is ``size`` pixels, keeping the aspect ratio.

    Examples
    --------
    >>> to_working_size(np.zeros((100, 400, 3), np.uint8)).shape
    (64, 256, 3)
    """
    return _resize(rgb, _Fresh(), size)


def _working_shape(h: int, w: int, size: int = WORKING_SIZE) -> tuple[int, int]:
    """``(height, width)`` with the longer side ``size``, aspect ratio kept."""
    scale = size / max(h, w)
    return max(1, round(h * scale)), max(1, round(w * scale))


def _resize(rgb: np.ndarray, ws: _Fresh, size: int = WORKING_SIZE) -> np.ndarray:
    """:func:`to_working_size` into a buffer of ``ws``."""
    h, w = rgb.shape[:2]
    nh, nw = _working_shape(h, w, size)
    if (nh, nw) == (h, w):
        return rgb
    interp = cv2.INTER_AREA if size < max(h, w) else cv2.INTER_LINEAR
    out: np.ndarray = cv2.resize(rgb, (nw, nh), dst=ws.get("rgb", (nh, nw, 3), np.uint8), interpolation=interp)
    return out


def luma(rgb: np.ndarray) -> np.ndarray:
    """BT.601 luma of a uint8 RGB image, float64 in 8-bit units (0-255).

    Examples
    --------
    >>> float(luma(np.full((1, 1, 3), 200, np.uint8))[0, 0])
    200.0
    """
    return _luma(rgb, _Fresh())


def _luma(rgb: np.ndarray, ws: _Fresh) -> np.ndarray:
    h, w = rgb.shape[:2]
    f = _planes(ws, (h, w)).reshape(h, w, 3)  # dead after this call: its memory then holds the gradients
    np.copyto(f, rgb)
    y: np.ndarray = cv2.transform(f, _LUMA_ROW, dst=ws.get("y", (h, w), np.float64))  # == f @ _LUMA
    return y.reshape(h, w)


def _planes(ws: _Fresh, shape: tuple[int, ...]) -> np.ndarray:
    """Three float64 planes of ``shape`` in one block: the float RGB copy behind :func:`_luma`, then
    :func:`_orientation`'s ``gx, gy, magnitude`` and the Laplacian. Sharing it keeps the working set
    of :func:`image_stats` ~1.5 MB smaller, i.e. more of it in the core's cache."""
    return ws.get("planes", (3, *shape), np.float64)


def _spare(ws: _Fresh, *specs: tuple[str, tuple[int, ...], Any]) -> list[np.ndarray]:
    """Buffers ``(name, shape, dtype)`` for work done once the gradients are dead (HSV, colourfulness,
    Canny): with a :class:`_Scratch`, consecutive views into the memory of :func:`_planes`."""
    if not isinstance(ws, _Scratch):
        return [ws.get(name, shape, dtype) for name, shape, dtype in specs]
    key = "spare:" + ",".join(name for name, _, _ in specs)
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


def _mean_var(a: np.ndarray, ws: _Fresh, *, in_place: bool = False) -> tuple[float, float]:
    """Mean and (population) variance of a float64 array, two-pass (``in_place``: overwrites ``a``)."""
    m = cv2.sumElems(a)[0] / a.size
    d = np.subtract(a, m, out=a if in_place else ws.get("tmp", a.shape, np.float64))
    return m, cv2.norm(d, cv2.NORM_L2SQR) / a.size


def laplacian_variance(y: np.ndarray) -> float:
    """Variance of the 3x3 Laplacian (``[[0,1,0],[1,-4,1],[0,1,0]]``, reflected borders).

    Examples
    --------
    >>> laplacian_variance(np.full((8, 8), 7.0))
    0.0
    """
    return _laplacian_variance(y, _Fresh())


def _laplacian_variance(y: np.ndarray, ws: _Fresh) -> float:
    dst = _planes(ws, y.shape)[0] if isinstance(ws, _Scratch) else ws.get("lap", y.shape, np.float64)
    lap = cv2.Laplacian(y, cv2.CV_64F, dst=dst, ksize=1,
                        borderType=cv2.BORDER_REFLECT_101)
    return _mean_var(lap, ws, in_place=True)[1]


def colorfulness(rgb: np.ndarray) -> float:
    """Hasler & Suesstrunk colorfulness of a uint8 RGB image, on RGB scaled to [0, 1].

    Computed on the integer opponent channels ``R - G`` and ``R + G - 2B`` (exact sums).

    Examples
    --------
    >>> colorfulness(np.full((4, 4, 3), 90, np.uint8))
    0.0
    """
    return _colorfulness(rgb, _Fresh())


def _colorfulness(rgb: np.ndarray, ws: _Fresh) -> float:
    hw = rgb.shape[:2]
    r, g, b, rg, yb2, bb = _spare(ws, ("plane0", hw, np.uint8), ("plane1", hw, np.uint8), ("plane2", hw, np.uint8),
                                  ("rg", hw, np.int16), ("yb2", hw, np.int16), ("bb", hw, np.int16))
    r, g, b = cv2.split(rgb, [r, g, b])
    rg = cv2.subtract(r, g, dst=rg, dtype=cv2.CV_16S)  # R - G, exact
    yb2 = cv2.add(r, g, dst=yb2, dtype=cv2.CV_16S)
    bb = cv2.add(b, b, dst=bb, dtype=cv2.CV_16S)
    yb2 = cv2.subtract(yb2, bb, dst=yb2)  # 2 (Y - B) with Y = (R + G) / 2, exact
    (m_rg,), (s_rg,) = cv2.meanStdDev(rg)
    (m_yb,), (s_yb,) = cv2.meanStdDev(yb2)
    m_rg, s_rg = float(m_rg[0]) / 255.0, float(s_rg[0]) / 255.0
    m_yb, s_yb = float(m_yb[0]) / 510.0, float(s_yb[0]) / 510.0
    return math.sqrt(s_rg * s_rg + s_yb * s_yb) + 0.3 * math.sqrt(m_rg * m_rg + m_yb * m_yb)


def noise_sigma(y: np.ndarray) -> float:
    """Immerkaer's fast noise standard-deviation estimate, in the units of ``y``.

    Uses the difference of two Laplacians, which cancels smooth structure, over the
    interior pixels: ``sigma = sqrt(pi/2) / (6 (W-2) (H-2)) * sum |y * N|``.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> round(noise_sigma(rng.normal(0, 10, (256, 256))), 0)
    10.0
    """
    return _noise_sigma(y, _Fresh())


def _noise_sigma(y: np.ndarray, ws: _Fresh) -> float:
    h, w = y.shape
    if h < 3 or w < 3:
        return 0.0
    r = cv2.sepFilter2D(y, cv2.CV_64F, _IMMERKAER_1D, _IMMERKAER_1D, dst=ws.get("tmp", y.shape, np.float64),
                        borderType=cv2.BORDER_REFLECT_101)
    return float(math.sqrt(math.pi / 2) * cv2.norm(r[1:-1, 1:-1], cv2.NORM_L1) / (6.0 * (w - 2) * (h - 2)))


def edge_density(y8: np.ndarray) -> float:
    """Fraction of pixels that Canny (thresholds 50 / 150, L2 gradient) marks as edges.

    Examples
    --------
    >>> y = np.zeros((32, 32), np.uint8); y[:, 16:] = 255
    >>> 0 < edge_density(y) < 0.1
    True
    """
    return _edge_density(y8, _Fresh())


def _edge_density(y8: np.ndarray, ws: _Fresh) -> float:
    (edges,) = _spare(ws, ("edges", y8.shape, np.uint8))
    edges = cv2.Canny(y8, _CANNY[0], _CANNY[1], edges=edges, L2gradient=True)
    return float(cv2.countNonZero(edges)) / edges.size


def orientation(y: np.ndarray, bins: int = 8) -> tuple[float, float, np.ndarray]:
    """Edge-orientation summary: ``(cos2, sin2, histogram)``.

    Edge direction ``phi`` is the gradient direction turned by 90 degrees, measured
    counter-clockwise from horizontal as the image is displayed, in ``[0, 180)``.
    ``cos2, sin2`` are the gradient-energy weighted means of ``cos 2 phi`` and
    ``sin 2 phi`` (structure tensor; their length is the coherence). The histogram has
    ``bins`` bins centred on ``0, 180/bins, ...`` degrees, weighted by gradient
    magnitude and normalised to sum 1 (all zeros for a flat image).

    Examples
    --------
    >>> y = np.tile(np.arange(16.0)[:, None], (1, 16))   # brightness changes down the rows
    >>> c, s, h = orientation(y)
    >>> round(c, 6), round(s, 6), int(np.argmax(h))       # horizontal edges
    (1.0, 0.0, 0)
    """
    return _orientation(y, bins, _Fresh())


def _orientation(y: np.ndarray, bins: int, ws: _Fresh) -> tuple[float, float, np.ndarray]:
    shape = y.shape
    planes = _planes(ws, shape)
    gx = cv2.Sobel(y, cv2.CV_64F, 1, 0, dst=planes[0], ksize=3, borderType=cv2.BORDER_REFLECT_101)
    gy = cv2.Sobel(y, cv2.CV_64F, 0, 1, dst=planes[1], ksize=3, scale=-1.0,  # y up (exact: a sign flip)
                   borderType=cv2.BORDER_REFLECT_101)
    gxx, gyy = cv2.norm(gx, cv2.NORM_L2SQR), cv2.norm(gy, cv2.NORM_L2SQR)
    gxy = cv2.sumElems(np.multiply(gx, gy, out=ws.get("tmp", shape, np.float64)))[0]
    energy = gxx + gyy
    hist = np.zeros(bins, dtype=np.float64)
    if energy <= 0.0:
        return 0.0, 0.0, hist
    # Edge angle phi = theta + 90 deg, so cos 2phi = -cos 2theta, sin 2phi = -sin 2theta.
    cos2, sin2 = (gyy - gxx) / energy + 0.0, (-2.0 * gxy) / energy + 0.0
    mag = cv2.magnitude(gx, gy, magnitude=planes[2])
    idx = _orientation_bins(gx, gy, bins, ws)
    # 4 interleaved partial histograms: neighbouring pixels mostly share a bin, and one
    # running sum per bin would serialise on it (2.8x slower on smooth images)
    idx += ws.lanes(idx.size, bins)
    weighted = np.bincount(idx, weights=mag.reshape(-1), minlength=4 * bins).reshape(4, bins).sum(axis=0)
    total = float(weighted.sum())
    return cos2, sin2, weighted / total if total > 0 else weighted


def _orientation_bins(gx: np.ndarray, gy: np.ndarray, bins: int, ws: _Fresh) -> np.ndarray:
    """Flat bin index of each pixel's edge direction, exactly as ``np.arctan2`` defines it.

    The definition: ``phi = (arctan2(gy, gx) + pi/2) mod pi`` and bin
    ``floor(phi / w + 1/2) mod bins`` with ``w = pi / bins``, i.e. ``floor(t) mod bins``
    with ``t = theta / w + bins/2 + 1/2``. ``t`` comes from ``cv2.phase`` (3x faster than
    float64 ``arctan2``, accurate to ~2e-4 rad) in 1/1024 steps; every pixel whose ``t`` is
    within :data:`_PHASE_MARGIN` (plus a step) of an integer is re-binned with the
    definition itself (~1% of the pixels of a natural image).
    """
    shape, n = gx.shape, gx.size
    width = math.pi / bins
    theta = cv2.phase(gx, gy, angle=ws.get("tmp", shape, np.float64))  # [0, 2 pi)
    # u = round(1024 t): one OpenCV pass (theta * a + theta * 0 + c, rounded to int32)
    u: np.ndarray = cv2.addWeighted(theta, 1024.0 / width, theta, 0.0, 1024.0 * (bins / 2 + 0.5),
                                    dst=ws.get("u", shape, np.int32), dtype=cv2.CV_32S).reshape(-1)
    slack = math.ceil(1024.0 * _PHASE_MARGIN / width) + 1  # in 1/1024 steps, rounding included
    frac = np.add(u, slack, out=ws.get("frac", (n,), np.int32))
    frac &= 1023
    near = np.flatnonzero(np.less(frac, 2 * slack, out=ws.get("near", (n,), np.bool_)))
    np.right_shift(u, 10, out=u)  # floor(t) wherever t is not near an integer
    # theta is dead from here: its memory holds the bin indices (one buffer less to keep in cache)
    idx = theta.reshape(-1).view(np.intp) if theta.itemsize == np.dtype(np.intp).itemsize \
        else ws.get("idx", (n,), np.intp)
    if bins & (bins - 1) == 0:
        np.bitwise_and(u, bins - 1, out=idx)
    else:
        np.remainder(u, bins, out=idx)
    if near.size:
        phi = np.mod(np.arctan2(gy.reshape(-1)[near], gx.reshape(-1)[near]) + math.pi / 2, math.pi)
        idx[near] = np.floor((phi + width / 2) / width).astype(np.intp) % bins
    return idx


def hsv_histograms(rgb: np.ndarray) -> tuple[float, np.ndarray, np.ndarray, np.ndarray]:
    """``(mean saturation, hue[8], saturation[4], value[4])`` from OpenCV's 8-bit HSV.

    Hue bins count chromatic pixels only (S and V >= 0.15) and are fractions of all
    pixels; saturation and value bins are fractions of all pixels in each quarter.

    Examples
    --------
    >>> red = np.zeros((4, 4, 3), np.uint8); red[..., 0] = 255
    >>> s, hue, sat, val = hsv_histograms(red)
    >>> s, float(hue[0]), float(sat[3]), float(val[3])
    (1.0, 1.0, 1.0, 1.0)
    """
    return _hsv_histograms(rgb, _Fresh())


def _hsv_histograms(rgb: np.ndarray, ws: _Fresh) -> tuple[float, np.ndarray, np.ndarray, np.ndarray]:
    hw = rgb.shape[:2]
    hsv, chroma = _spare(ws, ("hsv", (*hw, 3), np.uint8), ("chroma", hw, np.uint8))
    hsv = cv2.cvtColor(rgb, cv2.COLOR_RGB2HSV, dst=hsv)
    n = float(hw[0] * hw[1])
    if n <= _CALCHIST_MAX:  # calcHist: exact counts in float32, one pass per channel
        chroma = cv2.inRange(hsv, (0, _CHROMA8, _CHROMA8), (255, 255, 255), dst=chroma)
        hue = cv2.calcHist([hsv], [0], chroma, [180], [0, 180]).reshape(-1) @ _HUE_SUM
        s_sums = cv2.calcHist([hsv], [1], None, [256], [0, 256]).reshape(-1) @ _S_SUM
        val = cv2.calcHist([hsv], [2], None, [256], [0, 256]).reshape(-1) @ _QUARTER_SUM
        mean_s = float(s_sums[0]) / n / 255.0  # an exact integer sum: the same value as s.mean()
        return mean_s, hue / n, s_sums[1:] / n, val / n
    h = hsv[:, :, 0].astype(np.int64) * 2  # degrees, 0..358
    s = hsv[:, :, 1].astype(np.int64)
    v = hsv[:, :, 2].astype(np.int64)
    chroma_mask = (s >= _CHROMA8) & (v >= _CHROMA8)
    hue_idx = ((h + 22) // 45) % 8  # bins centred on 0, 45, ..., 315 degrees
    hue = np.bincount(hue_idx[chroma_mask], minlength=8).astype(np.float64) / n
    sat = np.bincount((s // 64).ravel(), minlength=4).astype(np.float64) / n
    val = np.bincount((v // 64).ravel(), minlength=4).astype(np.float64) / n
    return float(s.mean()) / 255.0, hue, sat, val


def image_stats(image: np.ndarray, *, resize: bool = True) -> np.ndarray:
    """All :data:`FEATURE_NAMES` of one image, as float64.

    One working copy, one luma plane, one pair of Sobel gradients and one HSV conversion
    serve all features, in per-thread buffers reused from image to image.

    Parameters
    ----------
    image
        ``H x W`` grayscale or ``H x W x 3|4`` RGB(A), uint8 / uint16 / float in [0, 1]
        (see :func:`as_rgb8`).
    resize
        Bring the image to :data:`WORKING_SIZE` first (default). Turn off only when the
        caller already did, or features of different resolutions will not compare.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> img = rng.integers(0, 256, (120, 160, 3), dtype=np.uint8)
    >>> v = image_stats(img)
    >>> v.shape, bool(np.array_equal(v, image_stats(img)))
    ((33,), True)
    """
    rgb = as_rgb8(image)
    if resize:
        ws = _scratch(*_working_shape(*rgb.shape[:2]))
        rgb = _resize(rgb, ws)
    else:
        ws = _scratch(*rgb.shape[:2])
    y = _luma(rgb, ws)
    brightness, var_y = _mean_var(y, ws)
    y8 = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY, dst=ws.get("y8", rgb.shape[:2], np.uint8))
    cos2, sin2, orient_hist = _orientation(y, 8, ws)
    mean_s, hue, sat, val = _hsv_histograms(rgb, ws)
    scalars = [
        brightness / 255.0,
        math.sqrt(var_y) / 255.0,
        math.log10(1.0 + _laplacian_variance(y, ws)),
        _colorfulness(rgb, ws),
        mean_s,
        _noise_sigma(y, ws) / 255.0,
        _edge_density(y8, ws),
        cos2,
        sin2,
    ]
    out = np.concatenate([np.asarray(scalars, dtype=np.float64), orient_hist, hue, sat, val])
    assert out.shape == (len(FEATURE_NAMES),)
    return out


def image_stats_batch(images: list[np.ndarray]) -> np.ndarray:
    """:func:`image_stats` of several images as an ``n x 33`` float32 matrix.

    Examples
    --------
    >>> image_stats_batch([np.zeros((8, 8), np.uint8)] * 2).shape
    (2, 33)
    """
    if not images:
        return np.zeros((0, len(FEATURE_NAMES)), dtype=np.float32)
    return np.stack([image_stats(im) for im in images]).astype(np.float32)
