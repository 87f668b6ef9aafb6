"""Two-sample test machinery behind :mod:`jupyter_cvops.drift` (pure functions on arrays).

* MMD: pooled kernel matrix built once on the chosen device, median-heuristic
  bandwidth, and a permutation null evaluated in batches as matrix products
  with permutation indicator vectors (no per-permutation gathers).
* Domain classifier: out-of-fold scores, rank AUC, Mann-Whitney normal
  approximation or label-permutation p-value.
* Kolmogorov-Smirnov, Benjamini-Hochberg and Holm helpers.

Examples
--------
>>> import numpy as np
>>> float(bh_adjust(np.array([0.01, 0.04, 0.03]))[0])
0.03
"""

from __future__ import annotations

import math
from typing import Any, Literal

import numpy as np
import torch

Kernel = Literal["rbf", "laplacian"]
KERNELS = ("rbf", "laplacian")
#: Memory (bytes) the permutation batches may use for their two b x N blocks.
PERM_BATCH_BYTES = 256 * 2**20
#: Rows of the kernel matrix evaluated at a time when computing cross-kernels.
BLOCK_ROWS = 4096


# ----------------------------------------------------------------------------- inputs / device

def as_matrix(a: Any, name: str) -> np.ndarray:
    """2-d float64 array (a 1-d input is one feature); raises on empty or non-finite data."""
    if isinstance(a, torch.Tensor):
        a = a.detach().cpu().numpy()
    arr = np.asarray(a, dtype=np.float64)
    if arr.ndim == 1:
        arr = arr[:, None]
    if arr.ndim != 2:
        raise ValueError(f"{name} must be 1-d or 2-d (samples x features), got shape {arr.shape}")
    if arr.shape[0] == 0 or arr.shape[1] == 0:
        raise ValueError(f"{name} is empty (shape {arr.shape})")
    if not np.isfinite(arr).all():
        raise ValueError(f"{name} contains NaN or infinite values")
    return arr


def pick_device(device: str | torch.device | None) -> torch.device:
    """``None`` picks CUDA when available, else the CPU."""
    if device is None:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


def pick_dtype(dtype: str | torch.dtype | None, device: torch.device) -> torch.dtype:
    """``None``: float64 on the CPU (exact enough for tests), float32 on accelerators."""
    if dtype is None:
        return torch.float64 if device.type == "cpu" else torch.float32
    if isinstance(dtype, str):
        table = {"float32": torch.float32, "float64": torch.float64}
        if dtype not in table:
            raise ValueError(f"dtype must be 'float32' or 'float64', got {dtype!r}")
        return table[dtype]
    if dtype not in (torch.float32, torch.float64):
        raise ValueError(f"dtype must be float32 or float64, got {dtype}")
    return dtype


# ----------------------------------------------------------------------------- kernels

def sq_dists(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Squared Euclidean distances ``|a_i - b_j|^2`` (a x b), built in place from one matmul."""
    d = a @ b.T
    d.mul_(-2.0).add_((a * a).sum(1)[:, None]).add_((b * b).sum(1)[None, :]).clamp_(min=0.0)
    return d


def _median_offdiag(d: torch.Tensor) -> float:
    """Median (numpy convention) of the strict upper triangle of a symmetric, zero-diagonal matrix.

    On the CPU the triangle is copied row by row into one buffer that is
    partitioned in place. On an accelerator no copy is made: sorted, the N^2
    entries are the N diagonal zeros followed by every pair value twice, so
    the k-th smallest pair value is entry ``N + 2k`` (1-based).
    """
    n = d.shape[0]
    m = n * (n - 1) // 2
    ks = [(m - 1) // 2, m // 2]  # 0-based ranks of the middle value(s) among the m pair values
    if d.device.type == "cpu":
        a = d.numpy()
        buf = np.empty(m, dtype=a.dtype)
        pos = 0
        for i in range(n - 1):
            buf[pos:pos + n - 1 - i] = a[i, i + 1:]
            pos += n - 1 - i
        buf.partition(ks)
        return float(np.mean(buf[ks], dtype=np.float64))
    return median_offdiag_kth(d)


def median_offdiag_kth(d: torch.Tensor) -> float:
    """:func:`_median_offdiag` without copies, by ``kthvalue`` on the whole matrix (any device)."""
    n = d.shape[0]
    m = n * (n - 1) // 2
    flat = d.reshape(-1)
    # 0-based rank k among pair values -> 0-based position N + 2k in the sorted matrix -> kthvalue(N + 2k + 1)
    return float(np.mean([float(flat.kthvalue(n + 2 * k + 1).values) for k in ((m - 1) // 2, m // 2)]))


def median_bandwidth(d2: torch.Tensor, kernel: Kernel) -> float:
    """Median-heuristic bandwidth from the pooled squared-distance matrix (see ``mmd_test``)."""
    if kernel == "rbf":
        med = _median_offdiag(d2)
        if med <= 0.0:  # more than half the pairs coincide: fall back on the mean
            n = d2.shape[0]
            med = float(d2.sum()) / max(n * (n - 1), 1)
        return math.sqrt(med / 2.0) if med > 0.0 else 1.0
    dist = d2.sqrt()
    med = _median_offdiag(dist)
    if med <= 0.0:
        n = dist.shape[0]
        med = float(dist.sum()) / max(n * (n - 1), 1)
    return med if med > 0.0 else 1.0


def kernel_from_sq_dists(d2: torch.Tensor, kernel: Kernel, bandwidth: float) -> torch.Tensor:
    """Turn squared distances into kernel values, in place."""
    if kernel == "rbf":
        return d2.mul_(-1.0 / (2.0 * bandwidth * bandwidth)).exp_()
    return d2.sqrt_().mul_(-1.0 / bandwidth).exp_()


def pooled_kernel(z: torch.Tensor, kernel: Kernel, bandwidth: float | str
                  ) -> tuple[torch.Tensor, float]:
    """Centered, zero-diagonal kernel matrix of the pooled sample and the bandwidth used.

    The mean off-diagonal value is subtracted from every off-diagonal entry. The
    unbiased MMD^2 only averages off-diagonal entries within blocks, so it is
    unchanged by that shift, while the sums lose far less precision (float32).
    """
    d2 = sq_dists(z, z)
    d2.fill_diagonal_(0.0)
    if isinstance(bandwidth, str):
        if bandwidth != "median":
            raise ValueError(f"bandwidth must be 'median' or a positive number, got {bandwidth!r}")
        bw = median_bandwidth(d2, kernel)
    else:
        bw = float(bandwidth)
        if not (bw > 0.0 and math.isfinite(bw)):
            raise ValueError(f"bandwidth must be positive and finite, got {bandwidth!r}")
    k = kernel_from_sq_dists(d2, kernel, bw)
    k.fill_diagonal_(0.0)
    n = k.shape[0]
    c = k.sum() / (n * (n - 1))
    k.sub_(c).fill_diagonal_(0.0)
    return k, bw


def cross_kernel_means(q: torch.Tensor, x: torch.Tensor, y: torch.Tensor, kernel: Kernel,
                       bandwidth: float) -> torch.Tensor:
    """Witness ``mean_j k(q_i, y_j) - mean_j k(q_i, x_j)`` for points ``q`` outside the sample."""
    out = torch.empty(q.shape[0], dtype=q.dtype, device=q.device)
    for s in range(0, q.shape[0], BLOCK_ROWS):
        qb = q[s:s + BLOCK_ROWS]
        kx = kernel_from_sq_dists(sq_dists(qb, x), kernel, bandwidth).mean(1)
        ky = kernel_from_sq_dists(sq_dists(qb, y), kernel, bandwidth).mean(1)
        out[s:s + BLOCK_ROWS] = ky - kx
    return out


# ----------------------------------------------------------------------------- MMD

def mmd2_from_kernel(k: torch.Tensor, n_x: int) -> float:
    """Unbiased MMD^2 from a zero-diagonal pooled kernel matrix (x first, then y)."""
    n_y = k.shape[0] - n_x
    sxx = k[:n_x, :n_x].sum()
    syy = k[n_x:, n_x:].sum()
    sxy = k[:n_x, n_x:].sum()
    return float(sxx / (n_x * (n_x - 1)) + syy / (n_y * (n_y - 1)) - 2.0 * sxy / (n_x * n_y))


def permutation_null(k: torch.Tensor, n_x: int, n_permutations: int, seed: int
                     ) -> tuple[float, np.ndarray]:
    """MMD^2 of the identity split and of ``n_permutations`` random relabelings.

    With ``s`` the 0/1 indicator of the "x" rows, ``r = K 1`` and ``T = 1'K1``
    (K zero-diagonal): sum_xx = s'Ks, sum_yy = T - 2 s'r + s'Ks and
    sum_xy = s'r - s'Ks. A batch of indicators S (b x N) costs one product
    S @ K. Permutations are drawn on the CPU with a seeded generator, so the
    p-value does not depend on the device.
    """
    n = k.shape[0]
    n_y = n - n_x
    r = k.sum(1)
    total = r.sum()
    itemsize = torch.finfo(k.dtype).bits // 8
    batch = max(1, min(n_permutations + 1, PERM_BATCH_BYTES // (2 * n * itemsize)))
    gen = torch.Generator().manual_seed(int(seed))
    cxx, cyy, cxy = 1.0 / (n_x * (n_x - 1)), 1.0 / (n_y * (n_y - 1)), 2.0 / (n_x * n_y)
    out = []
    done = 0
    while done < n_permutations + 1:
        b = min(batch, n_permutations + 1 - done)
        idx = torch.stack([torch.randperm(n, generator=gen)[:n_x] for _ in range(b)])
        if done == 0:  # row 0: the observed labeling, through the same arithmetic
            idx[0] = torch.arange(n_x)
        s = torch.zeros(b, n, dtype=k.dtype, device=k.device)
        s.scatter_(1, idx.to(k.device), 1.0)
        a = ((s @ k) * s).sum(1)
        sr = s @ r
        stat = a * cxx + (total - 2.0 * sr + a) * cyy - (sr - a) * cxy
        out.append(stat.cpu())
        done += b
    stats = torch.cat(out).double().numpy()
    return float(stats[0]), stats[1:]


def permutation_p_value(observed: float, null: np.ndarray) -> float:
    """``(1 + #{null >= observed}) / (1 + len(null))``: valid (never anti-conservative)."""
    return float((1 + np.count_nonzero(null >= observed)) / (1 + null.size))


def witness_in_sample(k: torch.Tensor, n_x: int) -> torch.Tensor:
    """Leave-self-out witness ``mean k(z, y) - mean k(z, x)`` for every pooled point.

    Each mean runs over off-diagonal entries only, so the centering shift of
    :func:`pooled_kernel` cancels.
    """
    n = k.shape[0]
    n_y = n - n_x
    to_x = k[:, :n_x].sum(1)
    to_y = k[:, n_x:].sum(1)
    w = torch.empty(n, dtype=k.dtype, device=k.device)
    w[:n_x] = to_y[:n_x] / n_y - to_x[:n_x] / (n_x - 1)
    w[n_x:] = to_y[n_x:] / (n_y - 1) - to_x[n_x:] / n_x
    return w


# ----------------------------------------------------------------------------- ranks, AUC, KS

def rank_auc(scores: np.ndarray, labels: np.ndarray) -> tuple[float, float]:
    """AUC of ``scores`` for ``labels == 1`` (ties count 1/2) and its one-sided Mann-Whitney p.

    The p-value is the normal approximation of ``U`` with tie correction and a
    continuity correction, for the alternative "class 1 scores higher".
    """
    from scipy.special import ndtr
    from scipy.stats import rankdata

    scores = np.asarray(scores, dtype=np.float64)
    pos = np.asarray(labels) == 1
    n1, n0 = int(pos.sum()), int((~pos).sum())
    if n1 == 0 or n0 == 0:
        raise ValueError("AUC needs both classes")
    ranks = rankdata(scores)
    u = float(ranks[pos].sum() - n1 * (n1 + 1) / 2.0)
    auc = u / (n1 * n0)
    n = n1 + n0
    _, counts = np.unique(scores, return_counts=True)
    tie = float(((counts ** 3) - counts).sum())
    var = n1 * n0 / 12.0 * ((n + 1) - tie / (n * (n - 1)))
    if var <= 0.0:
        return auc, 1.0
    z = (u - n1 * n0 / 2.0 - 0.5) / math.sqrt(var)
    return auc, float(ndtr(-z))


def ks_test(a: np.ndarray, b: np.ndarray) -> tuple[float, float]:
    """Two-sided two-sample KS statistic and p-value (``scipy.stats.ks_2samp``, method "auto").

    Where scipy's exact computation does not converge it falls back on the
    asymptotic distribution, as it says in a warning that is silenced here.
    """
    import warnings

    from scipy.stats import ks_2samp

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*Exact calculation unsuccessful.*", category=RuntimeWarning)
        res = ks_2samp(a, b, alternative="two-sided", method="auto")
    return float(res.statistic), float(res.pvalue)


def wasserstein1(a: np.ndarray, b: np.ndarray) -> float:
    """1-Wasserstein distance between two empirical distributions (area between the CDFs)."""
    a, b = np.sort(a), np.sort(b)
    allv = np.sort(np.concatenate([a, b]))
    deltas = np.diff(allv)
    fa = np.searchsorted(a, allv[:-1], side="right") / a.size
    fb = np.searchsorted(b, allv[:-1], side="right") / b.size
    return float(np.sum(np.abs(fa - fb) * deltas))


# ----------------------------------------------------------------------------- multiple testing

def bh_adjust(p: np.ndarray) -> np.ndarray:
    """Benjamini-Hochberg adjusted p-values (q-values); NaN entries stay NaN and are not counted.

    Examples
    --------
    >>> bh_adjust(np.array([0.01, np.nan, 0.02])).round(3).tolist()
    [0.02, nan, 0.02]
    """
    p = np.asarray(p, dtype=np.float64)
    out = np.full(p.shape, np.nan)
    ok = ~np.isnan(p)
    m = int(ok.sum())
    if m == 0:
        return out
    pv = p[ok]
    order = np.argsort(pv, kind="stable")
    ranked = pv[order] * m / np.arange(1, m + 1)
    q = np.minimum.accumulate(ranked[::-1])[::-1].clip(max=1.0)
    res = np.empty(m)
    res[order] = q
    out[ok] = res
    return out


def holm_adjust(p: np.ndarray) -> np.ndarray:
    """Holm step-down adjusted p-values (family-wise error); NaN entries stay NaN.

    Examples
    --------
    >>> holm_adjust(np.array([0.01, 0.04, 0.03])).round(3).tolist()
    [0.03, 0.06, 0.06]
    """
    p = np.asarray(p, dtype=np.float64)
    out = np.full(p.shape, np.nan)
    ok = ~np.isnan(p)
    m = int(ok.sum())
    if m == 0:
        return out
    pv = p[ok]
    order = np.argsort(pv, kind="stable")
    ranked = pv[order] * (m - np.arange(m))
    q = np.maximum.accumulate(ranked).clip(max=1.0)
    res = np.empty(m)
    res[order] = q
    out[ok] = res
    return out


# ----------------------------------------------------------------------------- domain classifier

def make_classifier(model: Any, seed: int) -> Any:
    """A fresh scikit-learn classifier for a model name (or a clone of a given estimator)."""
    from sklearn.base import clone
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.neighbors import KNeighborsClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    if not isinstance(model, str):
        return clone(model)
    if model == "logistic":
        return make_pipeline(StandardScaler(), LogisticRegression(C=1.0, max_iter=2000))
    if model == "knn":
        return make_pipeline(StandardScaler(), KNeighborsClassifier(n_neighbors=15))
    if model == "boosting":
        return HistGradientBoostingClassifier(max_iter=100, random_state=seed)
    raise ValueError(f"model must be 'logistic', 'knn', 'boosting' or a scikit-learn estimator, got {model!r}")


#: Below this many numbers, classifier fits run with single-threaded BLAS: threads only add
#: overhead on tiny problems, and up to 7x slowdowns on a busy machine.
SMALL_FIT = 200_000


def blas_limit(z: np.ndarray) -> Any:
    """Context manager: single-threaded BLAS/OpenMP for small fits, no change otherwise."""
    import contextlib

    from threadpoolctl import threadpool_limits

    return threadpool_limits(1) if z.size <= SMALL_FIT else contextlib.nullcontext()


def oof_scores(z: np.ndarray, labels: np.ndarray, model: Any, folds: int, seed: int) -> np.ndarray:
    """Out-of-fold scores for ``labels == 1`` from stratified, shuffled k-fold CV."""
    from sklearn.model_selection import StratifiedKFold

    scores = np.empty(z.shape[0])
    cv = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    with blas_limit(z):
        for train, test in cv.split(z, labels):
            clf = make_classifier(model, seed).fit(z[train], labels[train])
            scores[test] = _scores(clf, z[test])
    return scores


def holdout_scores(z: np.ndarray, labels: np.ndarray, model: Any, seed: int) -> tuple[np.ndarray, float, float]:
    """Fit on a stratified half, score the other half: (scores with NaN on the fitted half, AUC, p)."""
    from scipy.stats import mannwhitneyu
    from sklearn.model_selection import train_test_split

    train, test = train_test_split(np.arange(labels.size), test_size=0.5, stratify=labels, random_state=seed)
    scores = np.full(labels.size, np.nan)
    with blas_limit(z):
        clf = make_classifier(model, seed).fit(z[train], labels[train])
        scores[test] = _scores(clf, z[test])
    held, lab = scores[test], labels[test]
    auc = rank_auc(held, lab)[0]
    p = float(mannwhitneyu(held[lab == 1], held[lab == 0], alternative="greater").pvalue)
    return scores, auc, p


def _scores(clf: Any, z: np.ndarray) -> np.ndarray:
    if hasattr(clf, "decision_function"):  # no saturation ties, unlike probabilities
        return np.asarray(clf.decision_function(z), dtype=np.float64)
    return np.asarray(clf.predict_proba(z)[:, list(clf.classes_).index(1)], dtype=np.float64)
