"""Interpretable image statistics on numpy arrays: the ``imgstats`` embedder's features.

Every feature is a pure function of the pixels (numpy + OpenCV, no randomness, no
weights), computed on a fixed working size so that images of different resolutions are
comparable: the image is resized (aspect ratio kept) until its longer side is
:data:`WORKING_SIZE` = 256 pixels (``cv2.INTER_AREA`` when shrinking, ``INTER_LINEAR``
when enlarging). Results are bit-identical between runs and threads.

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
_IMMERKAER = np.array([[1, -2, 1], [-2, 4, -2], [1, -2, 1]], dtype=np.float64)


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
    h, w = rgb.shape[:2]
    scale = size / max(h, w)
    nh, nw = max(1, round(h * scale)), max(1, round(w * scale))
    if (nh, nw) == (h, w):
        return rgb
    interp = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    return cv2.resize(rgb, (nw, nh), interpolation=interp)


def luma(rgb: np.ndarray) -> np.ndarray:
    """BT.601 luma of a uint8 RGB image, float64 in 8-bit units (0-255).

    Examples
    --------
    >>> float(luma(np.full((1, 1, 3), 200, np.uint8))[0, 0])
    200.0
    """
    y: np.ndarray = rgb.astype(np.float64) @ _LUMA
    return y


def laplacian_variance(y: np.ndarray) -> float:
    """Variance of the 3x3 Laplacian (``[[0,1,0],[1,-4,1],[0,1,0]]``, reflected borders).

    Examples
    --------
    >>> laplacian_variance(np.full((8, 8), 7.0))
    0.0
    """
    return float(np.var(cv2.Laplacian(y, cv2.CV_64F, ksize=1, borderType=cv2.BORDER_REFLECT_101)))


def colorfulness(rgb: np.ndarray) -> float:
    """Hasler & Suesstrunk colorfulness of a uint8 RGB image, on RGB scaled to [0, 1].

    Examples
    --------
    >>> colorfulness(np.full((4, 4, 3), 90, np.uint8))
    0.0
    """
    f = rgb.astype(np.float64) / 255.0
    rg = f[:, :, 0] - f[:, :, 1]
    yb = 0.5 * (f[:, :, 0] + f[:, :, 1]) - f[:, :, 2]
    spread = math.sqrt(float(np.var(rg)) + float(np.var(yb)))
    mean = math.sqrt(float(np.mean(rg)) ** 2 + float(np.mean(yb)) ** 2)
    return spread + 0.3 * mean


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
    h, w = y.shape
    if h < 3 or w < 3:
        return 0.0
    r = cv2.filter2D(y, cv2.CV_64F, _IMMERKAER, borderType=cv2.BORDER_REFLECT_101)[1:-1, 1:-1]
    return float(math.sqrt(math.pi / 2) * np.abs(r).sum() / (6.0 * (w - 2) * (h - 2)))


def edge_density(y8: np.ndarray) -> float:
    """Fraction of pixels that Canny (thresholds 50 / 150, L2 gradient) marks as edges.

    Examples
    --------
    >>> y = np.zeros((32, 32), np.uint8); y[:, 16:] = 255
    >>> 0 < edge_density(y) < 0.1
    True
    """
    edges = cv2.Canny(y8, _CANNY[0], _CANNY[1], L2gradient=True)
    return float(np.count_nonzero(edges)) / edges.size


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
    gx = cv2.Sobel(y, cv2.CV_64F, 1, 0, ksize=3, borderType=cv2.BORDER_REFLECT_101)
    gy = -cv2.Sobel(y, cv2.CV_64F, 0, 1, ksize=3, borderType=cv2.BORDER_REFLECT_101)  # y up
    gxx, gyy, gxy = float(np.sum(gx * gx)), float(np.sum(gy * gy)), float(np.sum(gx * gy))
    energy = gxx + gyy
    hist = np.zeros(bins, dtype=np.float64)
    if energy <= 0.0:
        return 0.0, 0.0, hist
    # Edge angle phi = theta + 90 deg, so cos 2phi = -cos 2theta, sin 2phi = -sin 2theta.
    cos2, sin2 = (gyy - gxx) / energy + 0.0, (-2.0 * gxy) / energy + 0.0
    mag = np.sqrt(gx * gx + gy * gy)
    phi = np.mod(np.arctan2(gy, gx) + math.pi / 2, math.pi)
    width = math.pi / bins
    idx = np.floor((phi + width / 2) / width).astype(np.int64) % bins
    weighted = np.bincount(idx.ravel(), weights=mag.ravel(), minlength=bins).astype(np.float64)
    total = float(weighted.sum())
    return cos2, sin2, weighted / total if total > 0 else weighted


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
    hsv = cv2.cvtColor(rgb, cv2.COLOR_RGB2HSV)
    h = hsv[:, :, 0].astype(np.int64) * 2  # degrees, 0..358
    s = hsv[:, :, 1].astype(np.int64)
    v = hsv[:, :, 2].astype(np.int64)
    n = float(h.size)
    chroma = (s >= round(_CHROMA_MIN * 255)) & (v >= round(_CHROMA_MIN * 255))
    hue_idx = ((h + 22) // 45) % 8  # bins centred on 0, 45, ..., 315 degrees
    hue = np.bincount(hue_idx[chroma], minlength=8).astype(np.float64) / n
    quarter = np.array([0, 64, 128, 192, 256])
    sat = np.histogram(s, bins=quarter)[0].astype(np.float64) / n
    val = np.histogram(v, bins=quarter)[0].astype(np.float64) / n
    return float(s.mean()) / 255.0, hue, sat, val


def image_stats(image: np.ndarray, *, resize: bool = True) -> np.ndarray:
    """All :data:`FEATURE_NAMES` of one image, as float64.

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
        rgb = to_working_size(rgb)
    y = luma(rgb)
    y8 = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
    cos2, sin2, orient_hist = orientation(y)
    mean_s, hue, sat, val = hsv_histograms(rgb)
    scalars = [
        float(np.mean(y)) / 255.0,
        float(np.std(y)) / 255.0,
        math.log10(1.0 + laplacian_variance(y)),
        colorfulness(rgb),
        mean_s,
        noise_sigma(y) / 255.0,
        edge_density(y8),
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
