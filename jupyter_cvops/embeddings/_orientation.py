"""Edge orientation of the ``imgstats`` features: a structure-tensor summary and a magnitude-weighted
histogram of edge directions, binned exactly as ``np.arctan2`` defines them (``cv2.phase`` for most
pixels, the exact formula near bin boundaries).

Examples
--------
>>> import numpy as np
>>> c, s, h = orientation(np.tile(np.arange(16.0)[:, None], (1, 16)))
>>> int(np.argmax(h))
0
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from ._stat_buffers import _Fresh, _planes

_PHASE_MARGIN = 1e-3
"""Radians: pixels whose ``cv2.phase`` angle is this close to an orientation-bin boundary are
re-binned with ``np.arctan2``. ``cv2.phase`` is accurate to 1.7e-4 rad here (measured; OpenCV
only promises ~0.3 degree): the tests check that its error stays below a quarter of this."""

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
    return _orientation(np.asarray(y, dtype=np.float64), bins, _Fresh())


def _orientation(y: np.ndarray, bins: int, ws: _Fresh) -> tuple[float, float, np.ndarray]:
    shape = y.shape
    planes = _planes(ws, shape)
    if y.dtype == np.float32:  # exact whole-number gradients in float32, then widened
        g32 = ws.get("g32", (2, *shape), np.float32)
        gx32 = cv2.Sobel(y, cv2.CV_32F, 1, 0, dst=g32[0], ksize=3, borderType=cv2.BORDER_REFLECT_101)
        gy32 = cv2.Sobel(y, cv2.CV_32F, 0, 1, dst=g32[1], ksize=3, scale=-1.0, borderType=cv2.BORDER_REFLECT_101)
        # norms sum exact squares in float64; sum(gx gy) by polarisation (cancellation: ~1e-16 of the energy)
        gxx, gyy = cv2.norm(gx32, cv2.NORM_L2SQR), cv2.norm(gy32, cv2.NORM_L2SQR)
        gxy = 0.5 * (gxx + gyy - cv2.norm(gx32, gy32, cv2.NORM_L2SQR))
        gx, gy = planes[0], planes[1]
        np.copyto(gx, gx32)
        np.copyto(gy, gy32)
    else:
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
    # 4 interleaved partial histograms: neighbouring pixels mostly share a bin, and one
    # running sum per bin would serialise on it (2.8x slower on smooth images)
    if y.dtype == np.float32:  # the float64 copies are dead: their memory holds the binning's buffers
        n = y.size
        spent = planes[:2].reshape(-1).view(np.uint8)
        bufs = (spent[:4 * n].view(np.int32), spent[4 * n:8 * n].view(np.int32), spent[8 * n:16 * n].view(np.intp))
        slots = _orientation_bins(gx32, gy32, bins, ws, gx32, gy32, lanes=True, bufs=bufs)
    else:
        slots = _orientation_bins(gx, gy, bins, ws, lanes=True)
    weighted = np.bincount(slots, weights=mag.reshape(-1), minlength=4 * _slots(bins))
    weighted = weighted.reshape(-1, bins).sum(axis=0)  # slot s counts for bin s mod bins
    total = float(weighted.sum())
    return cos2, sin2, weighted / total if total > 0 else weighted


def _slots(bins: int) -> int:
    """Histogram slots per lane in :func:`_orientation_bins` (``lanes=True``): ``floor(t)`` is below
    ``2.5 bins + 1``; a multiple of ``bins``, so a slot's bin is the slot number mod ``bins``."""
    return 4 * bins


def _orientation_bins(gx: np.ndarray, gy: np.ndarray, bins: int, ws: _Fresh,
                      fx: np.ndarray | None = None, fy: np.ndarray | None = None, *,
                      lanes: bool = False, bufs: tuple[np.ndarray, ...] | None = None) -> np.ndarray:
    """Flat bin index of each pixel's edge direction, exactly as ``np.arctan2`` defines it.

    The definition: ``phi = (arctan2(gy, gx) + pi/2) mod pi`` and bin
    ``floor(phi / w + 1/2) mod bins`` with ``w = pi / bins``, i.e. ``floor(t) mod bins``
    with ``t = theta / w + bins/2 + 1/2``. ``t`` comes from ``cv2.phase`` (3x faster than
    float64 ``arctan2``, accurate to ~2e-4 rad) in 1/1024 steps; every pixel whose ``t`` is
    within :data:`_PHASE_MARGIN` (plus a step) of an integer is re-binned with the
    definition itself (~1% of the pixels of a natural image). ``fx, fy``: the same gradients in
    float32 (whole numbers, exact), for a faster ``cv2.phase`` of the same accuracy.

    ``lanes``: pixel ``i`` comes back as a histogram slot, ``b + 4 bins k + _slots(bins) (i mod 4)``
    for its bin ``b`` and some ``k >= 0`` (the modulo is left to the histogram's fold), which
    saves two passes over the image. ``bufs``: flat int32, int32 and intp buffers of ``gx.size`` for the
    rounded angles, their fractions and the result (default: from ``ws``).
    """
    shape, n = gx.shape, gx.size
    width = math.pi / bins
    if fx is not None and fy is not None:
        theta = cv2.phase(fx, fy, angle=ws.get("theta32", shape, np.float32))
    else:
        theta = cv2.phase(gx, gy, angle=ws.get("tmp", shape, np.float64))  # [0, 2 pi)
    slack = math.ceil(1024.0 * _PHASE_MARGIN / width) + 1  # in 1/1024 steps, rounding included
    # u = round(1024 t) + slack (plus 1024 slots * lane): one OpenCV pass, rounded to int32. t is near an
    # integer iff u mod 1024 < 2 slack; elsewhere floor(t) = u >> 10 (the slack never carries over)
    lane = ws.lanes(shape, theta.dtype) if lanes else theta
    u: np.ndarray = cv2.addWeighted(theta, 1024.0 / width, lane, 1024.0 * _slots(bins) if lanes else 0.0,
                                    1024.0 * (bins / 2 + 0.5) + slack,
                                    dst=ws.get("u", shape, np.int32) if bufs is None else bufs[0].reshape(shape),
                                    dtype=cv2.CV_32S).reshape(-1)
    frac = np.bitwise_and(u, 1023, out=ws.get("frac", (n,), np.int32) if bufs is None else bufs[1])
    near = np.flatnonzero(np.less(frac, 2 * slack, out=ws.get("near", (n,), np.bool_)))
    # theta is dead from here: its memory holds the bin indices (one buffer less to keep in cache)
    if bufs is not None:
        idx = bufs[2]
    elif theta.itemsize == np.dtype(np.intp).itemsize:
        idx = theta.reshape(-1).view(np.intp)
    else:
        idx = ws.get("idx", (n,), np.intp)
    if lanes:
        np.right_shift(u, 10, out=idx)  # floor(t) + slots * lane wherever t is not near an integer
    else:
        np.right_shift(u, 10, out=u)  # floor(t) wherever t is not near an integer
        if bins & (bins - 1) == 0:
            np.bitwise_and(u, bins - 1, out=idx)
        else:
            np.remainder(u, bins, out=idx)
    if near.size:
        phi = np.mod(np.arctan2(gy.reshape(-1)[near].astype(np.float64), gx.reshape(-1)[near].astype(np.float64))
                     + math.pi / 2, math.pi)
        exact = np.floor((phi + width / 2) / width).astype(np.intp) % bins
        idx[near] = exact + _slots(bins) * (near & 3) if lanes else exact
    return idx
