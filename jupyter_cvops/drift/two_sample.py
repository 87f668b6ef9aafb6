"""Drift statistics: calibrated two-sample tests, per-feature tests and per-image novelty.

Pure functions on arrays and polars frames; the workspace (``ws.drift``) and
the drift explorer call them with embeddings and image statistics.

* :func:`mmd_test` -- kernel two-sample test (unbiased MMD^2, RBF kernel,
  median heuristic, batched permutation p-value in torch on CPU or GPU).
* :func:`classifier_test` -- cross-validated domain-classifier AUC.
* :func:`feature_tests` -- per-feature KS tests, Benjamini-Hochberg q-values
  and effect sizes.
* :func:`knn_distances`, :func:`conformal_novelty`, :func:`novel_clusters` --
  per-image novelty against the reference and where the novel images sit.
* :func:`drift_by_window` -- all of it per time window.

Permutation p-values are ``(1 + #{null >= observed}) / (1 + B)``, which is a
valid p-value for any number of permutations ``B`` (the observed labeling
counts as one draw of the null).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import polars as pl
import torch

from . import _machinery as _t
from ._conformal import knn_distances, novel_clusters
from ._conformal import conformal_p_values as _conformal_p_values
from ._machinery import bh_adjust, holm_adjust

__all__ = [
    "ClassifierResult", "MMDResult", "bh_adjust", "classifier_test", "conformal_novelty", "drift_by_window",
    "feature_tests", "holm_adjust", "knn_distances", "mmd_test", "novel_clusters",
]

Correction = Literal["bh", "holm", "none"]


@dataclass(frozen=True)
class MMDResult:
    """Result of :func:`mmd_test`.

    Attributes
    ----------
    statistic
        Unbiased MMD^2 estimate (can be slightly negative when there is no drift).
    p_value
        Permutation p-value (NaN when ``n_permutations == 0``).
    bandwidth
        Kernel bandwidth ``sigma`` used.
    n_x, n_y
        Sample sizes the test used (after subsampling).
    n_permutations
        Number of permutations.
    kernel
        ``"rbf"`` or ``"laplacian"``.
    witness_x, witness_y
        Witness function ``f(z) = mean_y k(z, y) - mean_x k(z, x)`` at every row
        of the inputs ``x`` and ``y`` (all rows, also those left out by
        subsampling); positive where the current sample ``y`` has more mass
        than the reference ``x``. ``None`` when not requested.
    """

    statistic: float
    p_value: float
    bandwidth: float
    n_x: int
    n_y: int
    n_permutations: int
    kernel: str
    witness_x: np.ndarray | None = None
    witness_y: np.ndarray | None = None

    @property
    def witness(self) -> np.ndarray | None:
        """Witness values of ``x`` rows followed by ``y`` rows (``None`` if not computed)."""
        if self.witness_x is None or self.witness_y is None:
            return None
        return np.concatenate([self.witness_x, self.witness_y])

    def __repr__(self) -> str:
        return (f"MMDResult(statistic={self.statistic:.6g}, p_value={self.p_value:.4g}, "
                f"bandwidth={self.bandwidth:.4g}, n_x={self.n_x}, n_y={self.n_y}, "
                f"n_permutations={self.n_permutations}, kernel={self.kernel!r})")


def mmd_test(x: Any, y: Any, n_permutations: int = 1000, seed: int = 0, *, kernel: _t.Kernel = "rbf",
             bandwidth: float | Literal["median"] = "median", max_n: int | None = None,
             device: str | torch.device | None = None, dtype: str | torch.dtype | None = None,
             witness: bool = True) -> MMDResult:
    """Kernel two-sample test: unbiased MMD^2 with a permutation p-value.

    The pooled kernel matrix of ``x`` and ``y`` is computed once on the device;
    the permutation null is then evaluated in batches as matrix products with
    0/1 permutation indicator vectors (``s'Ks`` and ``s'K1`` give all three
    block sums), so 1000 permutations of 5k vs 5k cost a few dense products.

    Parameters
    ----------
    x, y
        Reference and current samples, (n_x, d) and (n_y, d) arrays (numpy,
        torch or nested lists; a 1-d array is one feature). At least two rows each.
    n_permutations
        Permutations of the pooled labels; 0 computes the statistic only.
    seed
        Seeds the subsampling (numpy) and the permutations (a CPU torch
        generator, so results do not depend on the device).
    kernel
        ``"rbf"``: ``k(a, b) = exp(-|a - b|^2 / (2 sigma^2))``;
        ``"laplacian"``: ``exp(-|a - b| / sigma)``.
    bandwidth
        ``sigma``, or ``"median"``: the median heuristic on the pooled sample.
        Its pairs are exactly the ``N(N-1)/2`` unordered pairs of distinct rows
        of the pooled sample ``x`` and ``y`` together (after subsampling),
        labels ignored, so the bandwidth is permutation-invariant and the test
        stays exact. For ``"rbf"``, ``sigma = sqrt(median(|a-b|^2) / 2)``, i.e.
        ``k = exp(-|a-b|^2 / median |a-b|^2)`` (alibi-detect's convention); for
        ``"laplacian"``, ``sigma = median |a-b|``. The median is numpy's (mean
        of the two middle values for an even count); if it is 0 the mean is used.
    max_n
        Largest sample size used per side: a larger ``x`` or ``y`` is subsampled
        without replacement (seeded). ``None`` uses everything. The kernel
        matrix needs about ``(n_x + n_y)^2`` numbers of ``dtype``.
    device
        Torch device; ``None`` picks CUDA when available, else the CPU.
    dtype
        ``"float64"`` or ``"float32"``; ``None`` is float64 on the CPU and
        float32 on GPUs. The kernel matrix is centered by its mean
        off-diagonal value (MMD^2 is invariant to it) to keep float32 sums exact
        enough.
    witness
        Also compute witness values for every input row (cheap without
        subsampling; with it, one kernel row per left-out input row).

    Returns
    -------
    MMDResult
        ``statistic``, ``p_value``, ``bandwidth``, ``n_x``, ``n_y``, ``witness``, ...

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> x, y = rng.normal(size=(50, 3)), rng.normal(size=(50, 3)) + [1.0, 0, 0]
    >>> res = mmd_test(x, y, n_permutations=200, device="cpu")
    >>> res.statistic > 0, res.p_value < 0.05, round(res.p_value * 201)
    (True, True, 1)
    >>> mmd_test(x, rng.normal(size=(50, 3)), n_permutations=200).p_value > 0.05
    True
    """
    if kernel not in _t.KERNELS:
        raise ValueError(f"kernel must be one of {_t.KERNELS}, got {kernel!r}")
    if n_permutations < 0:
        raise ValueError(f"n_permutations must be >= 0, got {n_permutations}")
    xa, ya = _t.as_matrix(x, "x"), _t.as_matrix(y, "y")
    if xa.shape[1] != ya.shape[1]:
        raise ValueError(f"x has {xa.shape[1]} features, y has {ya.shape[1]}")
    if xa.shape[0] < 2 or ya.shape[0] < 2:
        raise ValueError(f"each sample needs at least 2 rows (got {xa.shape[0]} and {ya.shape[0]})")
    if max_n is not None and max_n < 2:
        raise ValueError(f"max_n must be >= 2, got {max_n}")
    rng = np.random.default_rng([int(seed), 1])
    ix = _subsample(xa.shape[0], max_n, rng)
    iy = _subsample(ya.shape[0], max_n, rng)
    dev = _t.pick_device(device)
    dt = _t.pick_dtype(dtype, dev)
    xs = torch.from_numpy(xa[ix]).to(dev, dt)
    ys = torch.from_numpy(ya[iy]).to(dev, dt)
    n_x, n_y = xs.shape[0], ys.shape[0]
    k, bw = _t.pooled_kernel(torch.cat([xs, ys]), kernel, bandwidth)
    statistic = _t.mmd2_from_kernel(k, n_x)
    if n_permutations > 0:
        observed, null = _t.permutation_null(k, n_x, n_permutations, seed)
        p_value = _t.permutation_p_value(observed, null)
    else:
        p_value = math.nan
    wx = wy = None
    if witness:
        w = _t.witness_in_sample(k, n_x).cpu().numpy().astype(np.float64)
        wx, wy = _full_witness(w, xa, ya, ix, iy, xs, ys, kernel, bw)
    del k
    return MMDResult(statistic=statistic, p_value=p_value, bandwidth=bw, n_x=n_x, n_y=n_y,
                     n_permutations=int(n_permutations), kernel=kernel, witness_x=wx, witness_y=wy)


def _subsample(n: int, max_n: int | None, rng: np.random.Generator) -> np.ndarray:
    if max_n is None or n <= max_n:
        return np.arange(n)
    return np.sort(rng.choice(n, size=max_n, replace=False))


def _full_witness(w: np.ndarray, xa: np.ndarray, ya: np.ndarray, ix: np.ndarray, iy: np.ndarray,
                  xs: torch.Tensor, ys: torch.Tensor, kernel: _t.Kernel, bw: float
                  ) -> tuple[np.ndarray, np.ndarray]:
    """Witness at every input row: in-sample (leave-self-out) values, the rest evaluated fresh."""
    outs = []
    for arr, idx, part in ((xa, ix, w[:ix.size]), (ya, iy, w[ix.size:])):
        full = np.empty(arr.shape[0])
        full[idx] = part
        rest = np.setdiff1d(np.arange(arr.shape[0]), idx)
        if rest.size:
            q = torch.from_numpy(arr[rest]).to(xs.device, xs.dtype)
            full[rest] = _t.cross_kernel_means(q, xs, ys, kernel, bw).cpu().numpy()
        outs.append(full)
    return outs[0], outs[1]


@dataclass(frozen=True)
class ClassifierResult:
    """Result of :func:`classifier_test`.

    Attributes
    ----------
    auc
        ROC AUC of the domain classifier on data it was not fitted on (0.5:
        indistinguishable): out-of-fold (``"permutation"``) or held-out half
        (``"holdout"``).
    p_value
        One-sided p-value for ``auc > 0.5``.
    method
        ``"permutation"`` or ``"holdout"`` (how ``p_value`` was computed).
    n_x, n_y
        Sample sizes.
    scores
        Scores of "is current" for every row, reference rows first; NaN for
        rows that were only used for training (``"holdout"``).
    """

    auc: float
    p_value: float
    method: str
    n_x: int
    n_y: int
    scores: np.ndarray

    def __repr__(self) -> str:
        return (f"ClassifierResult(auc={self.auc:.4f}, p_value={self.p_value:.4g}, method={self.method!r}, "
                f"n_x={self.n_x}, n_y={self.n_y})")


def classifier_test(x: Any, y: Any, *, folds: int = 5, seed: int = 0, model: Any = "logistic",
                    p_value: Literal["permutation", "holdout"] = "permutation",
                    n_permutations: int = 100) -> ClassifierResult:
    """Domain-classifier two-sample test: AUC of "reference vs current" on unseen rows.

    A classifier learns to tell ``y`` (label 1) from ``x`` (label 0); its AUC
    (Mann-Whitney, ties count 1/2) on rows it was not fitted on measures how
    separable the samples are.

    Parameters
    ----------
    x, y
        Reference and current samples, (n, d) arrays.
    folds
        CV folds for ``"permutation"`` (each class needs at least ``folds`` rows).
    seed
        Seeds the splits, the model (when it is random) and the permutations.
    model
        ``"logistic"`` (standardized logistic regression), ``"knn"`` (15
        neighbours on standardized data), ``"boosting"`` (histogram gradient
        boosting) or any scikit-learn classifier (cloned per fit).
    p_value
        ``"permutation"`` (default): stratified, shuffled k-fold CV gives every
        row an out-of-fold score; ``auc`` is their pooled AUC. The whole CV is
        rerun on ``n_permutations`` random relabelings and
        ``p = (1 + #{AUC_perm >= AUC}) / (1 + n_permutations)``: exact, at
        ``folds * (n_permutations + 1)`` fits. ``"holdout"``: one fit on a
        seeded stratified half, ``auc`` on the other half and the one-sided
        Mann-Whitney p-value of those held-out scores (``scipy.stats.mannwhitneyu``:
        exact for small samples without ties, else normal with tie and
        continuity corrections): valid because the model never saw them, and
        one fit only, for large samples. A normal approximation of the pooled
        out-of-fold AUC is deliberately not offered: the folds' models share
        training rows, and it gave 10.5% false alarms at the 5% level in 200
        null trials (n = 40 vs 40, logistic, 5 folds).
    n_permutations
        Relabelings for ``p_value="permutation"``.

    Returns
    -------
    ClassifierResult

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> x, y = rng.normal(size=(60, 4)), rng.normal(size=(60, 4)) + [1.5, 0, 0, 0]
    >>> res = classifier_test(x, y, n_permutations=20)
    >>> res.auc > 0.8, res.p_value == 1 / 21
    (True, True)
    >>> classifier_test(x, y, p_value="holdout").p_value < 1e-4
    True
    """
    if p_value not in ("permutation", "holdout"):
        raise ValueError(f"p_value must be 'permutation' or 'holdout', got {p_value!r}")
    xa, ya = _t.as_matrix(x, "x"), _t.as_matrix(y, "y")
    if xa.shape[1] != ya.shape[1]:
        raise ValueError(f"x has {xa.shape[1]} features, y has {ya.shape[1]}")
    need = folds if p_value == "permutation" else 2
    if folds < 2 or min(xa.shape[0], ya.shape[0]) < need:
        raise ValueError(f"folds must be >= 2 and each sample needs >= {need} rows "
                         f"(folds={folds}, n_x={xa.shape[0]}, n_y={ya.shape[0]})")
    z = np.vstack([xa, ya])
    labels = np.r_[np.zeros(xa.shape[0], dtype=np.int64), np.ones(ya.shape[0], dtype=np.int64)]
    if p_value == "holdout":
        scores, auc, p = _t.holdout_scores(z, labels, model, seed)
    else:
        scores = _t.oof_scores(z, labels, model, folds, seed)
        auc = _t.rank_auc(scores, labels)[0]
        rng = np.random.default_rng([int(seed), 2])
        null = np.array([_t.rank_auc(_t.oof_scores(z, perm, model, folds, seed), perm)[0]
                         for perm in (rng.permutation(labels) for _ in range(n_permutations))])
        p = _t.permutation_p_value(auc, null)
    return ClassifierResult(auc=auc, p_value=p, method=p_value, n_x=xa.shape[0], n_y=ya.shape[0], scores=scores)


def feature_tests(ref: pl.DataFrame, cur: pl.DataFrame, *, alpha: float = 0.05,
                  features: list[str] | None = None) -> pl.DataFrame:
    """Per-feature two-sample KS tests with Benjamini-Hochberg FDR control and effect sizes.

    Parameters
    ----------
    ref, cur
        Reference and current frames, one row per image, one numeric column per
        feature (e.g. brightness, contrast, sharpness). Nulls and NaNs are
        dropped per feature.
    alpha
        FDR level: ``drifted`` is ``q_value <= alpha``.
    features
        Columns to test; default: the numeric columns present in both frames.

    Returns
    -------
    polars.DataFrame
        One row per feature, sorted by ``effect`` (largest first): ``feature``,
        ``n_ref``, ``n_cur``, ``mean_ref``, ``mean_cur``, ``ks`` (statistic),
        ``p_value`` (two-sided, ``scipy.stats.ks_2samp`` with method "auto":
        exact for small samples), ``q_value`` (BH over the tested features),
        ``drifted``, ``smd`` (standardized mean difference, current minus
        reference over the pooled standard deviation), ``wasserstein``
        (1-Wasserstein distance, in the feature's units) and ``effect`` (the
        Wasserstein distance in reference standard deviations: scale-free, and
        it sees variance changes that ``smd`` misses). A feature with fewer
        than 2 values on a side has null statistics and is not tested.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> ref = pl.DataFrame({"brightness": rng.normal(100, 5, 200), "contrast": rng.normal(20, 2, 200)})
    >>> cur = pl.DataFrame({"brightness": rng.normal(120, 5, 200), "contrast": rng.normal(20, 2, 200)})
    >>> feature_tests(ref, cur).select("feature", "drifted").rows()
    [('brightness', True), ('contrast', False)]
    """
    if features is None:
        features = [c for c in ref.columns if c in cur.columns and ref.schema[c].is_numeric()
                    and cur.schema[c].is_numeric()]
    missing = [f for f in features if f not in ref.columns or f not in cur.columns]
    if missing:
        raise ValueError(f"features missing from ref or cur: {missing}")
    rows = []
    for f in features:
        a = _clean(ref[f])
        b = _clean(cur[f])
        row: dict[str, Any] = {"feature": f, "n_ref": a.size, "n_cur": b.size,
                               "mean_ref": float(a.mean()) if a.size else None,
                               "mean_cur": float(b.mean()) if b.size else None,
                               "ks": None, "p_value": None, "smd": None, "wasserstein": None, "effect": None}
        if a.size >= 2 and b.size >= 2:
            ks, p = _t.ks_test(a, b)
            w = _t.wasserstein1(a, b)
            sd_ref = float(a.std(ddof=1))
            pooled = math.sqrt(((a.size - 1) * a.var(ddof=1) + (b.size - 1) * b.var(ddof=1))
                               / (a.size + b.size - 2))
            row.update(ks=ks, p_value=p, wasserstein=w,
                       smd=_ratio(float(b.mean() - a.mean()), pooled),
                       effect=_ratio(w, sd_ref if sd_ref > 0 else pooled))
        rows.append(row)
    schema = {"feature": pl.String, "n_ref": pl.Int64, "n_cur": pl.Int64, "mean_ref": pl.Float64,
              "mean_cur": pl.Float64, "ks": pl.Float64, "p_value": pl.Float64, "smd": pl.Float64,
              "wasserstein": pl.Float64, "effect": pl.Float64}
    out = pl.DataFrame(rows, schema=schema)
    q = bh_adjust(out["p_value"].fill_null(np.nan).to_numpy())
    out = out.with_columns(q_value=pl.Series(q).fill_nan(None))
    out = out.with_columns(drifted=pl.col("q_value").fill_null(1.0) <= alpha)
    cols = ["feature", "n_ref", "n_cur", "mean_ref", "mean_cur", "ks", "p_value", "q_value", "drifted", "smd",
            "wasserstein", "effect"]
    return out.select(cols).sort(["effect", "ks"], descending=True, nulls_last=True)


def _clean(s: pl.Series) -> np.ndarray:
    a = s.cast(pl.Float64).drop_nulls().to_numpy()
    finite: np.ndarray = a[np.isfinite(a)]
    return finite


def _ratio(num: float, den: float) -> float:
    if den > 0:
        return num / den
    return 0.0 if num == 0 else math.copysign(math.inf, num)


def conformal_novelty(ref_knn_dist_loo: Any, cur_knn_dist: Any) -> np.ndarray:
    """Conformal novelty p-values of current images against the reference.

    ``p_i = (1 + #{j : ref_j >= d_i}) / (n_ref + 1)``, where ``ref_j`` are the
    reference images' leave-one-out kNN distances (each to the *other*
    reference images) and ``d_i`` the current image's kNN distance to the
    reference. Scores only need to be comparable (same metric, ``k`` and
    reduction): precomputed LanceDB distances work as well as
    :func:`knn_distances`. If a current image is exchangeable with the
    reference, ``P(p_i <= a) <= a`` (it is measured against n reference points
    instead of n-1, which only makes its distance smaller: conservative).

    Parameters
    ----------
    ref_knn_dist_loo
        (n_ref,) leave-one-out kNN distances of the reference.
    cur_knn_dist
        (n_cur,) kNN distances of the current images to the reference.

    Returns
    -------
    numpy.ndarray
        (n_cur,) p-values in ``[1/(n_ref+1), 1]``; small means novel.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> ref, cur = rng.normal(size=(200, 8)), np.vstack([rng.normal(size=(3, 8)), rng.normal(6, 1, (2, 8))])
    >>> p = conformal_novelty(knn_distances(ref, k=5), knn_distances(cur, ref, k=5))
    >>> p.round(3).tolist()  # the last two were drawn far from the reference
    [0.493, 0.035, 0.617, 0.005, 0.005]
    """
    return _conformal_p_values(ref_knn_dist_loo, cur_knn_dist)


def drift_by_window(ref_emb: Any, cur_emb: Any, cur_times: Any, *, every: str = "1d",
                    ref_features: pl.DataFrame | None = None, cur_features: pl.DataFrame | None = None,
                    alpha: float = 0.05, n_permutations: int | None = None, seed: int = 0,
                    correction: Correction = "bh", min_n: int = 10, max_ref: int | None = 2000,
                    k: int = 5, ref_knn_dist_loo: Any = None, cur_knn_dist: Any = None,
                    top_k: int = 5, device: str | torch.device | None = None) -> pl.DataFrame:
    """Run the drift tests per time window of the current images.

    Each window's current embeddings are tested against the reference with
    :func:`mmd_test`; windows are flagged after correcting across windows.

    Parameters
    ----------
    ref_emb, cur_emb
        (n_ref, d) and (n_cur, d) embeddings.
    cur_times
        (n_cur,) timestamps of the current images (datetime64 array, polars
        Series or list of datetimes).
    every
        Window length as a polars duration (``"1d"``, ``"6h"``, ``"1w"``);
        windows start at ``cur_times`` truncated to it.
    ref_features, cur_features
        Optional frames of image statistics, row-aligned with the embeddings;
        give the ``top_features`` per window (:func:`feature_tests`).
    alpha
        Level of the window alarms (after correction), of the per-window
        feature FDR and of the novelty threshold.
    n_permutations
        Per window; ``None``: ``max(1000, ceil(4 * n_windows / alpha))``, so
        the smallest attainable p-value can survive the correction.
    seed
        Seeds the reference subsample, the bandwidth sample and the permutations.
    correction
        Across windows: ``"bh"`` (default; Benjamini-Hochberg, valid here since
        all windows share one reference, which makes their p-values positively
        dependent), ``"holm"`` (family-wise) or ``"none"``.
    min_n
        Windows with fewer current images are reported but not tested.
    max_ref
        Size of the seeded reference subsample used in every window (``None``:
        all of it).
    k
        Neighbours for the novelty scores (when not given precomputed).
    ref_knn_dist_loo, cur_knn_dist
        Precomputed kNN distances (e.g. from LanceDB); default exact ones on
        the embeddings (:func:`knn_distances`).
    top_k
        Length of the ``top_features``, ``top_novel`` and ``top_witness`` lists.
    device
        Torch device for the MMD tests; ``None`` picks automatically.

    Returns
    -------
    polars.DataFrame
        One row per window, in time order: ``window`` (start), ``n``,
        ``statistic`` (MMD^2), ``p_value``, ``q_value`` (corrected), ``drifted``,
        ``novel_frac`` (share of the window's images with novelty p <= alpha;
        about alpha without drift), ``top_novel`` (row indices into ``cur_emb`` of
        the most novel images with p <= alpha), ``witness_mean`` (mean witness
        of the window's images; > 0: they sit where the window has more mass
        than the reference), ``top_witness`` (indices with the largest witness),
        ``top_features`` (drifted image statistics, largest effect first), and per
        image: ``rows`` (indices into ``cur_emb`` of the window's images) with their
        ``witness`` values (null in untested windows).
        The bandwidth is one median heuristic over a seeded sample of at most
        2000 rows of the reference subsample and all current images together,
        so statistics are comparable across windows and each test stays exact.

    Examples
    --------
    >>> import datetime as dt
    >>> rng = np.random.default_rng(0)
    >>> ref = rng.normal(size=(200, 4))
    >>> cur = np.vstack([rng.normal(size=(40, 4)), rng.normal(size=(40, 4)) + [2, 0, 0, 0]])
    >>> times = [dt.datetime(2024, 5, 1 + i // 40, 12) for i in range(80)]
    >>> out = drift_by_window(ref, cur, times, n_permutations=200)
    >>> out["drifted"].to_list()
    [False, True]
    """
    if correction not in ("bh", "holm", "none"):
        raise ValueError(f"correction must be 'bh', 'holm' or 'none', got {correction!r}")
    ref = _t.as_matrix(ref_emb, "ref_emb")
    cur = _t.as_matrix(cur_emb, "cur_emb")
    if ref.shape[1] != cur.shape[1]:
        raise ValueError(f"ref_emb has {ref.shape[1]} features, cur_emb has {cur.shape[1]}")
    times = pl.Series("t", cur_times)
    if times.len() != cur.shape[0]:
        raise ValueError(f"{times.len()} timestamps for {cur.shape[0]} current embeddings")
    if not isinstance(times.dtype, (pl.Datetime, pl.Date)):
        raise ValueError(f"cur_times must be datetimes, got {times.dtype}")
    if times.null_count():
        raise ValueError("cur_times has missing values")
    if (cur_features is None) != (ref_features is None):
        raise ValueError("give both ref_features and cur_features, or neither")
    if (cur_features is not None and ref_features is not None    # both or neither (checked above)
            and (cur_features.height != cur.shape[0] or ref_features.height != ref.shape[0])):
        raise ValueError("ref_features / cur_features must have one row per embedding")
    frame = pl.DataFrame({"window": times.dt.truncate(every), "row": np.arange(cur.shape[0])})
    groups = frame.group_by("window").agg(pl.col("row")).sort("window")
    n_windows = groups.height
    tested = sum(len(r) >= min_n for r in groups["row"].to_list())
    if n_permutations is None:
        n_permutations = max(1000, math.ceil(4 * max(tested, 1) / alpha))
    rng = np.random.default_rng([int(seed), 3])
    ref_idx = _subsample(ref.shape[0], max_ref, rng)
    ref_sub = ref[ref_idx]
    bandwidth = _pooled_bandwidth(np.vstack([ref_sub, cur]), rng, device)
    ref_loo = knn_distances(ref, k=k) if ref_knn_dist_loo is None else np.asarray(ref_knn_dist_loo, float)
    cur_d = knn_distances(cur, ref, k=k) if cur_knn_dist is None else np.asarray(cur_knn_dist, float)
    nov_p = _conformal_p_values(ref_loo, cur_d)
    rows = []
    for w in range(n_windows):
        idx = np.asarray(groups["row"][w].to_list(), dtype=np.int64)
        row: dict[str, Any] = {"window": groups["window"][w], "n": idx.size, "statistic": None, "p_value": None,
                               "witness_mean": None, "top_witness": [], "rows": idx.tolist(),
                               "witness": [None] * idx.size}
        novel = idx[nov_p[idx] <= alpha]
        row["novel_frac"] = novel.size / idx.size
        row["top_novel"] = [int(i) for i in novel[np.lexsort((-cur_d[novel], nov_p[novel]))][:top_k]]
        if idx.size >= min_n:
            res = mmd_test(ref_sub, cur[idx], n_permutations, seed + w, bandwidth=bandwidth, device=device)
            wy = np.asarray(res.witness_y)
            row.update(statistic=res.statistic, p_value=res.p_value, witness_mean=float(wy.mean()), witness=wy.tolist(),
                       top_witness=[int(i) for i in idx[np.argsort(-wy, kind="stable")[:top_k]]])
        row["top_features"] = _top_features(ref_features, cur_features, idx, alpha, top_k)
        rows.append(row)
    schema: dict[str, pl.DataType | type[pl.DataType]] = {
        "window": groups.schema["window"], "n": pl.Int64, "statistic": pl.Float64, "p_value": pl.Float64,
        "witness_mean": pl.Float64, "top_witness": pl.List(pl.Int64), "novel_frac": pl.Float64,
        "top_novel": pl.List(pl.Int64), "top_features": pl.List(pl.String), "rows": pl.List(pl.Int64),
        "witness": pl.List(pl.Float64)}
    out = pl.DataFrame(rows, schema=schema)
    p = out["p_value"].fill_null(np.nan).to_numpy()
    q = {"bh": bh_adjust, "holm": holm_adjust}.get(correction, lambda v: np.asarray(v, float))(p)
    out = out.with_columns(q_value=pl.Series(q).fill_nan(None))
    out = out.with_columns(drifted=pl.col("q_value").fill_null(1.0) <= alpha)
    return out.select("window", "n", "statistic", "p_value", "q_value", "drifted", "novel_frac", "top_novel",
                      "witness_mean", "top_witness", "top_features", "rows", "witness")


def _pooled_bandwidth(z: np.ndarray, rng: np.random.Generator, device: str | torch.device | None) -> float:
    """Median-heuristic RBF bandwidth over a label-blind sample of at most 2000 pooled rows."""
    idx = _subsample(z.shape[0], 2000, rng)
    zt = torch.from_numpy(z[idx]).to(_t.pick_device(device))
    d2 = _t.sq_dists(zt, zt)
    d2.fill_diagonal_(0.0)
    return _t.median_bandwidth(d2, "rbf")


def _top_features(ref_features: pl.DataFrame | None, cur_features: pl.DataFrame | None, idx: np.ndarray,
                  alpha: float, top_k: int) -> list[str]:
    if ref_features is None or cur_features is None or idx.size < 2:
        return []
    ft = feature_tests(ref_features, cur_features[idx], alpha=alpha)
    return ft.filter(pl.col("drifted"))["feature"].head(top_k).to_list()
