"""Statistics of a shadow comparison (pure: arrays and polars frames in, numbers and frames out).

Two models answered the same images: how often do they agree (top-1 agreement, Cohen's kappa,
with percentile bootstrap intervals), which classes does the candidate move images to and from
(the flip matrix), how do their confidences differ, and, on images with a reviewed label, is one
more often right than the other (McNemar's test). For detectors, the boxes of both models are
matched by IoU with the annotator-agreement matching (:func:`jupyter_cvops.agreement.match_boxes`).

The bootstrap resamples pairs: a replicate is one multinomial draw over the cells of the k x k
contingency table (exactly the distribution of drawing ``n`` pairs with replacement), so 1000
replicates over 100k pairs cost a few milliseconds.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import polars as pl

EXACT_BELOW = 25
"""McNemar: the exact binomial test is the headline when fewer than this many discordant pairs."""


def encode(labels: Any, classes: Sequence[str]) -> np.ndarray:
    """Class names as codes in ``classes`` order (a name not in ``classes`` is an error).

    Examples
    --------
    >>> encode(["b", "a", "b"], ["a", "b"]).tolist()
    [1, 0, 1]
    """
    values = labels.to_list() if isinstance(labels, pl.Series) else list(labels)
    index = {c: i for i, c in enumerate(classes)}
    unknown = sorted({str(v) for v in values if v not in index})
    if unknown:
        raise ValueError(f"labels {unknown[:5]} are not among the classes {list(classes)[:10]}")
    return np.fromiter((index[v] for v in values), dtype=np.int64, count=len(values))


def contingency(a: np.ndarray, b: np.ndarray, k: int) -> np.ndarray:
    """The k x k table of code pairs (rows: ``a``, columns: ``b``).

    Examples
    --------
    >>> contingency(np.array([0, 0, 1]), np.array([0, 1, 1]), 2).tolist()
    [[1, 1], [0, 1]]
    """
    a, b = np.asarray(a, dtype=np.int64), np.asarray(b, dtype=np.int64)
    if a.shape != b.shape or a.ndim != 1:
        raise ValueError(f"two 1-d code arrays of one length are needed, got {a.shape} and {b.shape}")
    return np.bincount(a * k + b, minlength=k * k).reshape(k, k)


def _agreement_kappa(counts: np.ndarray, diag: np.ndarray, rows: np.ndarray,
                     cols: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Agreement and kappa of many tables at once: ``counts`` (replicates, cells) over the cells whose
    row/column class is ``rows``/``cols`` (indicator matrices cells x k)."""
    n = counts.sum(axis=1).astype(np.float64)
    po = (counts * diag).sum(axis=1) / n
    pe = ((counts @ rows) * (counts @ cols)).sum(axis=1) / (n * n)
    with np.errstate(invalid="ignore", divide="ignore"):
        kappa = np.where(pe < 1.0, (po - pe) / (1.0 - pe), np.nan)
    return po, kappa


def agreement_kappa(a: np.ndarray, b: np.ndarray, k: int, *, bootstrap: int = 1000, seed: int = 0,
                    ci: float = 0.95) -> dict[str, Any]:
    """Top-1 agreement and Cohen's kappa of two code vectors, with percentile bootstrap intervals.

    Parameters
    ----------
    a, b
        Class codes (``0 .. k-1``) of the two models, one per image.
    k
        Number of classes.
    bootstrap
        Replicates (0: no intervals, they are NaN).
    seed
        Seed of the resampling (the same seed gives the same intervals).
    ci
        Coverage of the intervals.

    Returns
    -------
    dict
        ``n, agreement, agreement_ci (lo, hi), kappa, kappa_ci`` (kappa is NaN when both models
        gave one and the same class to every image).

    Examples
    --------
    >>> r = agreement_kappa(np.array([0, 0, 1, 1]), np.array([0, 1, 1, 1]), 2, bootstrap=200)
    >>> r["agreement"], r["kappa"]
    (0.75, 0.5)
    """
    if not 0 < ci < 1:
        raise ValueError(f"ci must lie in (0, 1), got {ci}")
    if bootstrap < 0:
        raise ValueError(f"bootstrap must be >= 0, got {bootstrap}")
    table = contingency(a, b, k).ravel()
    n = int(table.sum())
    if n == 0:
        raise ValueError("no pairs to compare")
    cells = np.flatnonzero(table)  # zero cells stay zero in every replicate
    rows = (cells[:, None] // k == np.arange(k)[None, :]).astype(np.float64)
    cols = (cells[:, None] % k == np.arange(k)[None, :]).astype(np.float64)
    diag = (cells // k == cells % k).astype(np.float64)
    observed = table[cells][None, :].astype(np.float64)
    po, kappa = _agreement_kappa(observed, diag, rows, cols)
    out: dict[str, Any] = {"n": n, "agreement": float(po[0]), "kappa": float(kappa[0]),
                           "agreement_ci": (math.nan, math.nan), "kappa_ci": (math.nan, math.nan)}
    if bootstrap:
        rng = np.random.default_rng(seed)
        p = table[cells] / n
        qs = [(1 - ci) / 2, (1 + ci) / 2]
        chunk = max(1, 4_000_000 // max(len(cells), 1))
        pos, kaps = [], []
        for start in range(0, bootstrap, chunk):
            draws = rng.multinomial(n, p, size=min(chunk, bootstrap - start)).astype(np.float64)
            bp, bk = _agreement_kappa(draws, diag, rows, cols)
            pos.append(bp)
            kaps.append(bk)
        boot_po, boot_k = np.concatenate(pos), np.concatenate(kaps)
        out["agreement_ci"] = tuple(float(v) for v in np.quantile(boot_po, qs))
        if np.isfinite(boot_k).any():
            out["kappa_ci"] = tuple(float(v) for v in np.nanquantile(boot_k, qs))
    return out


def flip_matrix(a: np.ndarray, b: np.ndarray, classes: Sequence[str]) -> pl.DataFrame:
    """Every (production class, candidate class) cell with its count, in class order, zeros included.

    The diagonal holds the images both models put in one class; off the diagonal are the flips
    (``production_class`` -> ``candidate_class``: where the candidate moves images).

    Examples
    --------
    >>> f = flip_matrix(np.array([0, 1, 1]), np.array([0, 0, 1]), ["a", "b"])
    >>> f.rows()
    [('a', 'a', 1), ('a', 'b', 0), ('b', 'a', 1), ('b', 'b', 1)]
    """
    k = len(classes)
    table = contingency(a, b, k)
    names = list(classes)
    return pl.DataFrame({"production_class": [c for c in names for _ in names],
                         "candidate_class": names * k, "count": table.ravel().astype(np.int64)},
                        schema={"production_class": pl.String, "candidate_class": pl.String, "count": pl.Int64})


def flip_summary(flips: pl.DataFrame) -> pl.DataFrame:
    """Per class: images each model put there, and how many the candidate moved out of / into it.

    Examples
    --------
    >>> f = flip_matrix(np.array([0, 1, 1]), np.array([0, 0, 1]), ["a", "b"])
    >>> flip_summary(f).rows()
    [('a', 1, 2, 0, 1), ('b', 2, 1, 1, 0)]
    """
    off = pl.col("production_class") != pl.col("candidate_class")
    prod = flips.group_by("production_class", maintain_order=True).agg(
        pl.col("count").sum().alias("n_production"), pl.col("count").filter(off).sum().alias("moved_out"))
    cand = flips.group_by("candidate_class", maintain_order=True).agg(
        pl.col("count").sum().alias("n_candidate"), pl.col("count").filter(off).sum().alias("moved_in"))
    out = prod.rename({"production_class": "class"}).join(
        cand.rename({"candidate_class": "class"}), on="class", how="full", coalesce=True, maintain_order="left")
    return out.select("class", *(pl.col(c).fill_null(0).cast(pl.Int64) for c in
                                 ("n_production", "n_candidate", "moved_out", "moved_in")))


def confidence_summary(production: np.ndarray, candidate: np.ndarray, agree: np.ndarray) -> pl.DataFrame:
    """Each model's top-1 score (mean, median) and the mean delta (candidate - production), over all
    pairs, the pairs that agree and those that disagree.

    Examples
    --------
    >>> f = confidence_summary(np.array([0.9, 0.6]), np.array([0.8, 0.9]), np.array([True, False]))
    >>> f.select("subset", "n", "mean_delta").rows()
    [('all', 2, 0.1), ('agree', 1, -0.1), ('disagree', 1, 0.3)]
    """
    p, c = np.asarray(production, np.float64), np.asarray(candidate, np.float64)
    agree = np.asarray(agree, bool)
    rows = []
    for subset, mask in (("all", np.ones_like(agree)), ("agree", agree), ("disagree", ~agree)):
        n = int(mask.sum())
        pm, cm, dm = p[mask], c[mask], (c - p)[mask]
        rows.append({"subset": subset, "n": n, "production_mean": float(pm.mean()) if n else math.nan,
                     "production_median": float(np.median(pm)) if n else math.nan,
                     "candidate_mean": float(cm.mean()) if n else math.nan,
                     "candidate_median": float(np.median(cm)) if n else math.nan,
                     "mean_delta": round(float(dm.mean()), 12) if n else math.nan})
    return pl.DataFrame(rows, schema={"subset": pl.String, "n": pl.Int64, "production_mean": pl.Float64,
                                      "production_median": pl.Float64, "candidate_mean": pl.Float64,
                                      "candidate_median": pl.Float64, "mean_delta": pl.Float64})


def mcnemar(b: int, c: int, *, exact: bool | None = None) -> dict[str, Any]:
    """McNemar's test on the discordant pairs of two models judged on the same images.

    ``b``: images production got right and the candidate wrong; ``c``: the reverse. Both versions
    are computed: the exact binomial test (statistic ``min(b, c)``, two-sided) and the chi-square
    test with continuity correction (``(|b - c| - 1)^2 / (b + c)``, 1 degree of freedom); the
    headline (``statistic``, ``p``) is the exact one when ``b + c`` < :data:`EXACT_BELOW` (or when
    ``exact`` says so). Equal to ``statsmodels.stats.contingency_tables.mcnemar``.

    Examples
    --------
    >>> r = mcnemar(121, 59)           # the worked example of McNemar's test on Wikipedia
    >>> r["method"], round(r["statistic"], 3), r["p"] < 1e-4
    ('chi2', 20.672, True)
    >>> mcnemar(0, 0)["p"]
    1.0
    """
    from scipy.stats import binomtest, chi2

    b, c = int(b), int(c)
    if b < 0 or c < 0:
        raise ValueError(f"discordant counts must be >= 0, got b={b}, c={c}")
    m = b + c
    p_exact = float(binomtest(min(b, c), m, 0.5).pvalue) if m else 1.0
    stat_chi2 = (abs(b - c) - 1) ** 2 / m if m else 0.0
    p_chi2 = float(chi2.sf(stat_chi2, 1)) if m else 1.0
    use_exact = m < EXACT_BELOW if exact is None else exact
    return {"b": b, "c": c, "method": "exact" if use_exact else "chi2",
            "statistic": float(min(b, c)) if use_exact else float(stat_chi2),
            "p": min(1.0, p_exact) if use_exact else p_chi2,
            "p_exact": min(1.0, p_exact), "statistic_chi2": float(stat_chi2), "p_chi2": p_chi2}


def reviewed_comparison(truth: Sequence[str], production: Sequence[str], candidate: Sequence[str], *,
                        exact: bool | None = None) -> dict[str, Any] | None:
    """Each model's accuracy against reviewed labels and McNemar's test between them (None: no images).

    Examples
    --------
    >>> r = reviewed_comparison(["a", "a", "b"], ["a", "b", "b"], ["a", "a", "a"])
    >>> r["n"], r["accuracy_production"], r["b"], r["c"]
    (3, 0.6666666666666666, 1, 1)
    """
    t, p, c = np.asarray(truth, object), np.asarray(production, object), np.asarray(candidate, object)
    n = len(t)
    if n == 0:
        return None
    ok_p, ok_c = p == t, c == t
    test = mcnemar(int((ok_p & ~ok_c).sum()), int((~ok_p & ok_c).sum()), exact=exact)
    return {"n": n, "accuracy_production": float(ok_p.mean()), "accuracy_candidate": float(ok_c.mean()),
            "mcnemar_statistic": test["statistic"], "mcnemar_p": test["p"], "mcnemar_method": test["method"],
            "mcnemar_p_exact": test["p_exact"], "mcnemar_p_chi2": test["p_chi2"], "b": test["b"], "c": test["c"]}


def _boxes(text: str | None) -> tuple[np.ndarray, list[str]]:
    items = json.loads(text) if text else []
    xyxy = np.array([[float(b[k]) for k in ("x0", "y0", "x1", "y1")] for b in items], dtype=np.float64)
    return xyxy.reshape(-1, 4), [str(b.get("class")) for b in items]


def box_agreement(production: Sequence[str | None], candidate: Sequence[str | None], *,
                  iou_threshold: float = 0.5) -> dict[str, Any]:
    """Box-level agreement of two detectors on the same images (their ``boxes`` JSON per image).

    Boxes are matched one-to-one per image by IoU (Hungarian, as for annotators:
    :func:`jupyter_cvops.agreement.match_boxes`). ``match_rate`` is ``2 * matched / (boxes of
    production + boxes of candidate)`` (1.0 when neither found a box); ``class_agreement`` the share
    of matched pairs with one class; ``mean_iou`` over matched pairs.

    Examples
    --------
    >>> p = ['[{"class": "dent", "x0": 0, "y0": 0, "x1": 10, "y1": 10}]']
    >>> c = ['[{"class": "dent", "x0": 1, "y0": 0, "x1": 11, "y1": 10}, {"class": "dent", "x0": 50, "y0": 50, "x1": 60, "y1": 60}]']
    >>> r = box_agreement(p, c)
    >>> r["n_matched"], round(r["match_rate"], 3), r["class_agreement"]
    (1, 0.667, 1.0)
    """
    from ..agreement import match_boxes

    if len(production) != len(candidate):
        raise ValueError(f"production and candidate differ in length ({len(production)} vs {len(candidate)})")
    n_p = n_c = matched = same = 0
    ious: list[float] = []
    for tp, tc in zip(production, candidate):
        bp, cp = _boxes(tp)
        bc, cc = _boxes(tc)
        n_p, n_c = n_p + len(bp), n_c + len(bc)
        if len(bp) and len(bc):
            ia, ib, iou = match_boxes(bp, bc, iou_threshold=iou_threshold)
            matched += len(ia)
            same += sum(cp[i] == cc[j] for i, j in zip(ia.tolist(), ib.tolist()))
            ious += iou.tolist()
    total = n_p + n_c
    return {"n_images": len(production), "n_production_boxes": n_p, "n_candidate_boxes": n_c,
            "n_matched": matched, "match_rate": 2 * matched / total if total else 1.0,
            "class_agreement": same / matched if matched else math.nan,
            "mean_iou": float(np.mean(ious)) if ious else math.nan, "iou_threshold": iou_threshold}
