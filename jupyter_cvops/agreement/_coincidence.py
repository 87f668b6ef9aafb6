"""Internals of :mod:`jupyter_cvops.agreement`: coincidence matrices, delta, alpha/Fleiss/kappa details.

Split from :mod:`jupyter_cvops.agreement._stats`, which re-exports every name here.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

_CHUNK = 2e7


def _integer_patterns(x: np.ndarray, lo: float, hi: float
                      ) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """Rating patterns of integer-valued ratings with few values and annotators, or None.

    Each item's ratings become one base-``(span + 2)`` number (missing is the
    top digit); one ``bincount`` of those keys gives every distinct pattern and
    its multiplicity, without sorting and without an items x values table.
    """
    m, n = x.shape
    span = hi - lo
    if span > 1 << 22 or span != int(span) or (int(span) + 2) ** m > 1 << 22:
        return None
    base = int(span) + 2
    power = (base ** np.arange(m - 1, -1, -1)).astype(np.float64)
    key = np.empty(n, dtype=np.int64)
    for s in range(0, n, 8192):                 # chunks stay in cache
        c = x[:, s:s + 8192]
        c = np.fmin(c if lo == 0 else c - lo, base - 1)     # NaN -> the missing digit
        if not np.array_equal(np.floor(c), c):
            return None
        key[s:s + 8192] = power @ c
    cnt = np.bincount(key, minlength=base ** m)
    keys = np.flatnonzero(cnt)
    pat = (keys[None, :] // (base ** np.arange(m - 1, -1, -1, dtype=np.int64))[:, None]) % base
    pat[pat == base - 1] = -1
    used = np.zeros(base - 1, dtype=bool)
    for a in range(m):
        used[pat[a][pat[a] >= 0]] = True
    remap = np.cumsum(used) - 1
    pat = np.where(pat >= 0, remap[np.maximum(pat, 0)], -1)
    return pat, cnt[keys], lo + np.flatnonzero(used)


def pattern_counts(pat: np.ndarray, k: int) -> np.ndarray:
    """``(P, k)`` value counts of each pattern column of ``pat`` (-1 missing)."""
    tp = np.zeros((pat.shape[1], k))
    cols = np.arange(pat.shape[1])
    for row in pat:
        ok = row >= 0
        tp[cols[ok], row[ok]] += 1.0
    return tp


def _pattern_coincidence(pat: np.ndarray, cnt: np.ndarray, k: int) -> np.ndarray:
    """Coincidence matrix from distinct patterns and their multiplicities."""
    tp = pattern_counts(pat, k)
    m_p = tp.sum(1)
    w: np.ndarray = np.divide(cnt, m_p - 1.0, out=np.zeros_like(m_p), where=m_p >= 2)
    tw = tp * w[:, None]
    o: np.ndarray = tw.T @ tp
    o[np.diag_indices_from(o)] -= tw.sum(0)
    return o


def coincidence_from_codes(codes: np.ndarray, k: int) -> np.ndarray:
    """Coincidence matrix of a coders x units code matrix (-1 missing), in item chunks."""
    if k * k > 2.5e7:
        raise ValueError(f"{k} distinct values: too many for a coincidence matrix")
    out = np.zeros((k, k))
    step = max(1, int(_CHUNK // (k + 1)))
    for s in range(0, codes.shape[1], step):
        c = codes[:, s:s + step]
        n = c.shape[1]
        flat = (c + 1) + (np.arange(n) * (k + 1))[None, :]
        out += coincidence(np.bincount(flat.ravel(), minlength=n * (k + 1)).reshape(n, k + 1)[:, 1:])
    return out


def coincidence(counts: np.ndarray) -> np.ndarray:
    """``o[c, k] = sum_u n_uc (n_uk - [c == k]) / (m_u - 1)`` over units with ``m_u >= 2``."""
    t = np.asarray(counts, dtype=np.float64)
    m = t.sum(1)
    inv: np.ndarray = np.divide(1.0, m - 1.0, out=np.zeros_like(m), where=m >= 2)
    tw = t * inv[:, None]
    o: np.ndarray = tw.T @ t
    o[np.diag_indices_from(o)] -= tw.sum(0)
    return o


def check_counts(counts: Any) -> np.ndarray:
    """Validate an items x categories count table; returns float64."""
    t = np.asarray(counts, dtype=np.float64)
    if t.ndim != 2 or t.shape[0] == 0 or t.shape[1] == 0:
        raise ValueError(f"counts must be a non-empty 2-d table (items x categories), got shape {t.shape}")
    if not np.isfinite(t).all() or (t < 0).any() or (t != np.round(t)).any():
        raise ValueError("counts must be finite non-negative integers")
    return t


def delta(level: str, values: np.ndarray, n_v: np.ndarray) -> np.ndarray:
    """Squared difference function of Krippendorff's alpha for the level."""
    k = len(values)
    if level == "nominal":
        return 1.0 - np.eye(k)
    if level == "ordinal":
        cs = np.cumsum(n_v)
        idx = np.arange(k)
        lo, hi = np.minimum.outer(idx, idx), np.maximum.outer(idx, idx)
        between = cs[hi] - cs[lo] + n_v[lo]
        d: np.ndarray = (between - (n_v[:, None] + n_v[None, :]) / 2.0) ** 2
        return d
    try:
        v = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"{level} alpha needs numeric values") from None
    diff = v[:, None] - v[None, :]
    if level == "interval":
        return diff ** 2
    tot = v[:, None] + v[None, :]
    return np.divide(diff, tot, out=np.zeros((k, k)), where=tot != 0) ** 2


def alpha_detail(o: np.ndarray, values: np.ndarray, level: str) -> tuple[float, str]:
    """``(alpha, reason)`` from a coincidence matrix; NaN with the reason when undefined."""
    n_v = o.sum(0)
    n = float(n_v.sum())
    if n < 2:
        return math.nan, "no item has 2 or more ratings (nothing to pair)"
    d = delta(level, values, n_v)
    de = float(n_v @ d @ n_v)
    if de <= 0:
        return math.nan, "no variation: every pairable rating has the same value"
    return float(1.0 - (n - 1.0) * float((o * d).sum()) / de), ""


def fleiss_detail(t: np.ndarray, varying: str) -> float:
    """Fleiss' kappa of a checked count table (see agreement.fleiss_kappa)."""
    if varying not in ("error", "generalized"):
        raise ValueError(f"varying must be 'error' or 'generalized', got {varying!r}")
    m = t.sum(1)
    t, m = t[m > 0], m[m > 0]
    if m.size == 0:
        raise ValueError("no ratings in the counts table")
    if (m != m[0]).any():
        if varying == "error":
            raise ValueError(
                f"Fleiss' kappa needs the same number of ratings per item; these rows have "
                f"{int(m.min())} to {int(m.max())}. Pass varying='generalized' or use "
                "krippendorff_alpha_from_counts")
        return fleiss_generalized(t)[0]
    if m[0] < 2:
        raise ValueError("Fleiss' kappa needs at least 2 ratings per item")
    p = t.sum(0) / t.sum()
    p_bar = (((t * t).sum(1) - m) / (m * (m - 1))).mean()
    p_e = float((p * p).sum())
    return math.nan if p_e >= 1.0 else float((p_bar - p_e) / (1.0 - p_e))


def fleiss_generalized(t: np.ndarray) -> tuple[float, str]:
    """Fleiss' kappa over pairable ratings (varying raters per item allowed)."""
    o = coincidence(t)
    n_v = o.sum(0)
    n = float(n_v.sum())
    if n < 2:
        return math.nan, "no item has 2 or more ratings (nothing to pair)"
    p = n_v / n
    p_e = float((p * p).sum())
    if p_e >= 1.0 - 1e-15:
        return math.nan, "no variation: every pairable rating is in one category"
    return float((np.trace(o) / n - p_e) / (1.0 - p_e)), ""


def kappa_weights(k: int, weights: Any) -> np.ndarray:
    """Disagreement weights: ``1 - I``, ``|i - j|``, ``(i - j)**2`` or a given k x k matrix."""
    idx = np.arange(k)
    if weights is None:
        return 1.0 - np.eye(k)
    if isinstance(weights, str):
        if weights == "linear":
            return np.abs(np.subtract.outer(idx, idx)).astype(np.float64)
        if weights == "quadratic":
            return np.subtract.outer(idx, idx).astype(np.float64) ** 2
        raise ValueError(f"weights must be None, 'linear', 'quadratic' or a matrix, got {weights!r}")
    w = np.asarray(weights, dtype=np.float64)
    if w.shape != (k, k) or not np.isfinite(w).all() or (w < 0).any():
        raise ValueError(f"a weight matrix must be {k} x {k} (one row per category), finite and >= 0")
    return w


def kappa_detail(conf: np.ndarray, weights: Any) -> tuple[float, str]:
    """``(kappa, reason)`` from a confusion matrix (rows: annotator a)."""
    n = float(conf.sum())
    if n == 0:
        return math.nan, "never rated the same item"
    w = kappa_weights(conf.shape[0], weights)
    de = float((w * np.outer(conf.sum(1), conf.sum(0))).sum()) / n
    if de <= 0:
        return math.nan, "no variance: both gave one and the same class on every shared item"
    return float(1.0 - float((w * conf).sum()) / de), ""


# ---------------------------------------------------------------- frames

def pair_confusion(ca: np.ndarray, cb: np.ndarray, k: int) -> np.ndarray:
    """Confusion (rows ``ca``) on the items both rated."""
    both = (ca >= 0) & (cb >= 0)
    return np.bincount(ca[both] * k + cb[both], minlength=k * k).reshape(k, k)

