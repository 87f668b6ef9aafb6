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
near a bin boundary re-binned by the exact ``arctan2`` formula. Luma is filtered as the whole
numbers ``1000 Y = 299 R + 587 G + 114 B`` in float32: every Sobel, Laplacian and Immerkaer
response is then a whole number below 2**24, exact in float32, so float32 filtering (4-8x
faster than float64 in OpenCV) gives exactly the float64 results; sums run in float64.
Colourfulness comes from exact integer sums of the 8-bit planes (a ``cv2.transform`` to the
opponent channels cost 25x as much on some CPUs).
About 1.1 ms per image on one core (was ~10 ms). The values equal those of the first,
per-feature numpy implementation: counts exactly, the rest to float rounding (tolerance
``1e-9``, observed <= 1e-13; ``tests/embeddings/test_imgstats_speed.py`` keeps that
implementation and checks it), so ``VERSION`` stays ``v1`` and stored vectors stay valid.

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

import cv2
import numpy as np

from ._orientation import _orientation
from ._stat_buffers import _Fresh, _planes, _Scratch, _scratch, _spare

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
_Y_SCALE = 1000.0
""":func:`image_stats` works on ``1000 Y = 299 R + 587 G + 114 B``: whole numbers, exact in float32, and so
are its Sobel, Laplacian and Immerkaer filters (all below 2**24 in magnitude): float32 filtering then
gives exactly the float64 results (times 1000), at a fraction of the cost."""
_LUMA_WEIGHTS = (299, 587, 114)  # 1000 x _LUMA
_IMMERKAER_1D = np.array([1.0, -2.0, 1.0])  # Immerkaer's kernel is the outer product of this with itself
_CHROMA8 = round(_CHROMA_MIN * 255)  # 38 on OpenCV's 8-bit S and V
_HUE_BIN = ((np.arange(180) * 2 + 22) // 45) % 8  # OpenCV 8-bit hue (degrees / 2) -> hue bin
_HUE_SUM = np.eye(8)[_HUE_BIN]  # 180 x 8: hue histogram (degrees / 2) -> the 8 hue bins
# (products of exact integer counts with 0/1: every sum is exact, in any order)
_CALCHIST_MAX = 1 << 24  # calcHist counts in float32: exact up to 2**24 pixels


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
    h, w = rgb.shape[:2]
    f = np.empty((h, w, 3), np.float64)
    np.copyto(f, rgb)
    y: np.ndarray = cv2.transform(f, _LUMA_ROW)  # == f @ _LUMA
    return y.reshape(h, w)


def _rgb_planes(rgb: np.ndarray, ws: _Fresh) -> list[np.ndarray]:
    """The R, G and B planes of uint8 ``rgb``, in spare memory (see :func:`_spare`): luma and
    colourfulness read them before the gradients need that memory."""
    hw = rgb.shape[:2]
    planes = _spare(ws, ("r", hw, np.uint8), ("g", hw, np.uint8), ("b", hw, np.uint8))
    cv2.split(rgb, planes)
    return planes


def _luma(rgb: np.ndarray, ws: _Fresh, planes: list[np.ndarray] | None = None) -> np.ndarray:
    """``1000 Y`` as whole numbers in float32 (exact: every partial sum is a whole number below 2**24);
    ``planes``: :func:`_rgb_planes` of ``rgb`` if at hand."""
    r, g, b = _rgb_planes(rgb, ws) if planes is None else planes
    w_r, w_g, w_b = _LUMA_WEIGHTS
    y: np.ndarray = cv2.addWeighted(r, w_r, g, w_g, 0.0,
                                    dst=ws.get("y", rgb.shape[:2], np.float32), dtype=cv2.CV_32F)
    cv2.addWeighted(y, 1.0, b, w_b, 0.0, dst=y, dtype=cv2.CV_32F)
    return y


def _depth(y: np.ndarray) -> int:
    """OpenCV depth for filters of ``y``: float32 only for :func:`_luma`'s exact whole numbers."""
    return cv2.CV_32F if y.dtype == np.float32 else cv2.CV_64F


def _mean_var(a: np.ndarray, ws: _Fresh, *, in_place: bool = False) -> tuple[float, float]:
    """Mean and (population) variance of a float array, two-pass in float64 (``in_place``: overwrites
    ``a``, float64 only)."""
    m = cv2.sumElems(a)[0] / a.size
    d = np.subtract(a, m, out=a if in_place else ws.get("tmp", a.shape, np.float64), dtype=np.float64)
    return m, cv2.norm(d, cv2.NORM_L2SQR) / a.size


def laplacian_variance(y: np.ndarray) -> float:
    """Variance of the 3x3 Laplacian (``[[0,1,0],[1,-4,1],[0,1,0]]``, reflected borders).

    Examples
    --------
    >>> laplacian_variance(np.full((8, 8), 7.0))
    0.0
    """
    return _laplacian_variance(np.asarray(y, dtype=np.float64), _Fresh())


def _laplacian_variance(y: np.ndarray, ws: _Fresh) -> float:
    """Variance of the Laplacian of ``y`` (float32 ``y``: in units of ``y``, not yet rescaled)."""
    if y.dtype == np.float32:
        lap = cv2.Laplacian(y, cv2.CV_32F, dst=ws.get("lap32", y.shape, np.float32), ksize=1,
                            borderType=cv2.BORDER_REFLECT_101)
        # float64 sums: sharpness = log10(1 + var / 1000**2) moves by < 1e-10 with their rounding, and a
        # flat image (all-zero Laplacian) still gives exactly 0
        return float(cv2.meanStdDev(lap)[1][0, 0]) ** 2
    dst = _planes(ws, y.shape)[0] if isinstance(ws, _Scratch) else ws.get("lap", y.shape, np.float64)
    lap = cv2.Laplacian(y, cv2.CV_64F, dst=dst, ksize=1,
                        borderType=cv2.BORDER_REFLECT_101)
    return _mean_var(lap, ws, in_place=True)[1]


def colorfulness(rgb: np.ndarray) -> float:
    """Hasler & Suesstrunk colorfulness of a uint8 RGB image, on RGB scaled to [0, 1].

    Computed exactly on the integer opponent channels ``R - G`` and ``R + G - 2B``.

    Examples
    --------
    >>> colorfulness(np.full((4, 4, 3), 90, np.uint8))
    0.0
    """
    rgb = as_rgb8(rgb)
    return _colorfulness(_Moments(rgb, _rgb_planes(rgb, _Fresh())))


class _Moments:
    """Exact integer first and second moments of the R, G, B planes of a uint8 image: the channel sums,
    their squares' sums and the squared distances between planes (so every cross sum too). Colourfulness
    and the luma mean and variance are exact functions of them.

    OpenCV squares its (integer) L2 norms back: whole numbers to within ~1e-16 relative, so they are rounded.
    """

    def __init__(self, rgb: np.ndarray, planes: list[np.ndarray]) -> None:
        self.n = rgb.shape[0] * rgb.shape[1]
        self.sums = [round(v) for v in cv2.sumElems(rgb)[:3]]  # exact: whole numbers below 2**53
        self.squares = [round(cv2.norm(p, cv2.NORM_L2SQR)) for p in planes]
        r, g, b = planes
        self.dist = {k: round(cv2.norm(p, q, cv2.NORM_L2SQR)) for k, (p, q) in
                     {"rg": (r, g), "rb": (r, b), "gb": (g, b)}.items()}

    def cross(self, i: int, j: int) -> int:
        """``sum(P_i P_j)`` from ``||P_i - P_j||^2 = sum P_i^2 + sum P_j^2 - 2 sum P_i P_j``."""
        d = self.dist["rgb"[min(i, j)] + "rgb"[max(i, j)]]
        return (self.squares[i] + self.squares[j] - d) // 2

    def weighted(self, w: tuple[int, int, int]) -> tuple[float, float]:
        """Mean and variance of ``w[0] R + w[1] G + w[2] B`` (integer weights), exact up to the last rounding."""
        s1 = sum(wi * si for wi, si in zip(w, self.sums, strict=True))
        s2 = sum(w[i] * w[j] * (self.squares[i] if i == j else self.cross(i, j)) for i in range(3) for j in range(3))
        n = self.n
        return s1 / n, (n * s2 - s1 * s1) / (n * n)  # int / int: correctly rounded


def _colorfulness(m: _Moments) -> float:
    """Colourfulness from exact integer moments, the opponent channels being ``R - G`` and ``R + G - 2B``
    (a ``cv2.transform`` to them costs 25x as much on some CPUs)."""
    m_rg, v_rg = m.weighted((1, -1, 0))  # 8-bit units: / 255 for [0, 1]
    m_yb, v_yb = m.weighted((1, 1, -2))  # 2 ((R + G) / 2 - B): / 510
    return math.sqrt(v_rg / 255 ** 2 + v_yb / 510 ** 2) + 0.3 * math.hypot(m_rg / 255, m_yb / 510)


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
    return _noise_sigma(np.asarray(y, dtype=np.float64), _Fresh())


def _noise_sigma(y: np.ndarray, ws: _Fresh) -> float:
    h, w = y.shape
    if h < 3 or w < 3:
        return 0.0
    r = cv2.sepFilter2D(y, _depth(y), _IMMERKAER_1D, _IMMERKAER_1D,
                        dst=ws.get("lap32" if y.dtype == np.float32 else "tmp", y.shape, y.dtype),
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


def _quarters(plane: np.ndarray, scratch: np.ndarray, n: float) -> np.ndarray:
    """Pixel counts of uint8 ``plane`` in its 4 quarters (0-63, ..., 192-255); ``scratch`` is overwritten."""
    c64, c128, c192 = (cv2.countNonZero(cv2.threshold(plane, t - 1, 1, cv2.THRESH_BINARY, dst=scratch)[1])
                       for t in (64, 128, 192))
    return np.array([n - c64, c64 - c128, c128 - c192, c192], dtype=np.float64)


def _hsv_histograms(rgb: np.ndarray, ws: _Fresh) -> tuple[float, np.ndarray, np.ndarray, np.ndarray]:
    hw = rgb.shape[:2]
    hsv, hp, sp, vp, grey = _spare(ws, ("hsv", (*hw, 3), np.uint8), ("h", hw, np.uint8), ("s", hw, np.uint8),
                                   ("v", hw, np.uint8), ("grey", hw, np.uint8))
    hsv = cv2.cvtColor(rgb, cv2.COLOR_RGB2HSV, dst=hsv)
    n = float(hw[0] * hw[1])
    if n <= _CALCHIST_MAX:  # calcHist: exact counts in float32, one pass per plane
        hp, sp, vp = cv2.split(hsv, [hp, sp, vp])
        # hue 255 (no bin) for pixels that are not chromatic: an unmasked histogram of hue then counts
        # only chromatic pixels (2.5x cheaper than inRange + a masked calcHist)
        grey = cv2.threshold(cv2.min(sp, vp, dst=grey), _CHROMA8 - 1, 255, cv2.THRESH_BINARY_INV, dst=grey)[1]
        hp = cv2.max(hp, grey, dst=hp)
        hue = cv2.calcHist([hp], [0], None, [256], [0, 256]).reshape(-1)[:180] @ _HUE_SUM
        # quarters from 3 threshold counts per plane (half the cost of two more calcHists)
        sat, val = (_quarters(p, grey, n) for p in (sp, vp))
        mean_s = cv2.sumElems(sp)[0] / n / 255.0  # an exact integer sum: the same value as s.mean()
        return mean_s, hue / n, sat / n, val / n
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
    planes = _rgb_planes(rgb, ws)
    y = _luma(rgb, ws, planes)  # 1000 Y in float32, exact
    moments = _Moments(rgb, planes)  # the planes are dead after this: their memory holds the gradients
    colourful = _colorfulness(moments)
    brightness, var_y = moments.weighted(_LUMA_WEIGHTS)  # of 1000 Y, exact
    y8 = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY, dst=ws.get("y8", rgb.shape[:2], np.uint8))
    cos2, sin2, orient_hist = _orientation(y, 8, ws)
    mean_s, hue, sat, val = _hsv_histograms(rgb, ws)
    scalars = [
        brightness / (_Y_SCALE * 255.0),
        math.sqrt(var_y) / (_Y_SCALE * 255.0),
        math.log10(1.0 + _laplacian_variance(y, ws) / (_Y_SCALE * _Y_SCALE)),
        colourful,
        mean_s,
        _noise_sigma(y, ws) / (_Y_SCALE * 255.0),
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
