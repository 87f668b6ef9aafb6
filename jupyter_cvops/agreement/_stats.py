"""Internals of :mod:`jupyter_cvops.agreement`: encoding, coincidences, frames, bootstrap.

Everything here is vectorized over items (bincount, matrix products, sorted
segment sums); loops run over annotators, annotator pairs or bootstrap chunks.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, cast

import numpy as np
import polars as pl

from ._coincidence import (_CHUNK, _integer_patterns, _pattern_coincidence,  # noqa: F401
                                     alpha_detail, check_counts, coincidence, coincidence_from_codes,
                                     delta, fleiss_detail, fleiss_generalized, kappa_detail, kappa_weights,
                                     pair_confusion, pattern_counts)
from ._encode import (_ITEM_COLS, _LABEL_COLS, _TIME_COLS,  # noqa: F401
                                MAX_LISTED_PAIRS_ANNOTATORS, Ratings, _pair_table, _pick, as_1d, codes_in,
                                domain_of, encode_reliability, missing, ratings_from_labels)

if TYPE_CHECKING:
    from ._dawid_skene import ConsensusFit

# The public names of the split-out modules are re-exported here (mypy --strict needs them listed).
__all__ = [
    "MAX_BOOTSTRAP_PAIRS", "MAX_LISTED_PAIRS_ANNOTATORS", "OVERALL_SCHEMA", "Ratings", "alpha_detail",
    "annotator_confusion_frame", "annotator_frame", "as_1d", "attach_ci", "bootstrap_frame",
    "check_counts", "codes_in", "coincidence", "coincidence_from_codes", "confusion_frame", "consensus_frame",
    "delta", "domain_of", "encode_reliability", "fit_consensus", "fleiss_detail", "fleiss_generalized",
    "kappa_detail", "kappa_weights", "missing", "overall_frame", "pair_confusion", "pair_confusion_frame",
    "pairwise_frame", "pattern_counts", "per_class_frame", "pooled_confusion", "ratings_from_labels",
    "report_notes",
]

#: Above this many annotator pairs, the bootstrap covers alpha only.
MAX_BOOTSTRAP_PAIRS = 5000


def pairwise_frame(r: Ratings, weights: str | None) -> pl.DataFrame:
    """Pairwise Cohen's kappa frame (see agreement.pairwise_kappa)."""
    a, b, conf = r.pair_table
    rows = []
    for i, j, c in zip(a.tolist(), b.tolist(), conf):
        n = int(c.sum())
        if n < 2:
            kappa, why = math.nan, ("never rated the same item" if n == 0 else "only 1 item rated by both")
        else:
            kappa, why = kappa_detail(c.astype(np.float64), weights)
        rows.append((r.annotators[i], r.annotators[j], n, np.trace(c) / n if n else math.nan, kappa, why))
    return pl.DataFrame(rows, orient="row", schema={
        "annotator_a": pl.String, "annotator_b": pl.String, "n_shared": pl.Int64,
        "observed_agreement": pl.Float64, "kappa": pl.Float64, "reason": pl.String})


def per_class_frame(r: Ratings) -> pl.DataFrame:
    """Per-class specific agreement and one-vs-rest kappa (see agreement.per_class_agreement)."""
    counts = r._counts
    o = coincidence(counts)
    n_c = o.sum(0)
    n = float(n_c.sum())
    used = counts.sum(0)
    o_cc = np.diag(o)
    specific = np.divide(o_cc, n_c, out=np.full_like(n_c, np.nan), where=n_c > 0)
    den = n_c * (n - n_c)
    kappa = np.divide(n * (n_c - o_cc), den, out=np.full_like(n_c, np.nan), where=den > 0)
    kappa = np.where(den > 0, 1.0 - kappa, np.nan)
    reasons = ["never used" if used[c] == 0 else
               "only used on items rated once" if n_c[c] == 0 else
               "the only class among pairable ratings (no variance)" if den[c] == 0 else ""
               for c in range(r.n_classes)]
    total = used.sum()
    return pl.DataFrame({
        "class_name": list(r.classes), "n_labels": used.astype(np.int64),
        "n_pairable": np.round(n_c).astype(np.int64), "share": used / total if total else used,
        "specific_agreement": specific, "kappa": kappa, "reason": reasons})


def pooled_confusion(r: Ratings) -> np.ndarray:
    """Symmetric class x class counts of label pairs on the same item."""
    t = r._counts.astype(np.int64)
    out = t.T @ t
    out[np.diag_indices_from(out)] = (t * (t - 1)).sum(0) // 2
    return out


def confusion_frame(mat: np.ndarray, classes: tuple[str, ...]) -> pl.DataFrame:
    """Long ``class_a, class_b, n`` frame of a square matrix."""
    k = len(classes)
    return pl.DataFrame({"class_a": np.repeat(classes, k).tolist(), "class_b": list(classes) * k,
                         "n": np.asarray(mat).reshape(-1).astype(np.int64)})


def pair_confusion_frame(r: Ratings) -> pl.DataFrame:
    """Confusions of every listed pair, long."""
    a, b, conf = r.pair_table
    k, p = r.n_classes, a.size
    names = np.asarray(r.annotators, dtype=object)
    return pl.DataFrame({
        "annotator_a": np.repeat(names[a], k * k).tolist(), "annotator_b": np.repeat(names[b], k * k).tolist(),
        "class_a": np.tile(np.repeat(r.classes, k), p).tolist(), "class_b": list(r.classes) * (k * p),
        "n": conf.reshape(-1).astype(np.int64)}, schema={
        "annotator_a": pl.String, "annotator_b": pl.String, "class_a": pl.String, "class_b": pl.String,
        "n": pl.Int64})


def annotator_frame(r: Ratings, fit: ConsensusFit) -> pl.DataFrame:
    """Per-annotator agreement with consensus and with the others."""
    t = r._counts
    m_i = t.sum(1)
    rows = []
    for a, name in enumerate(r.annotators):
        c = r.codes[a]
        rated = c >= 0
        sel = rated & (m_i >= 2)
        n_cmp = int(sel.sum())
        if n_cmp == 0:
            rows.append((name, int(rated.sum()), 0, math.nan, math.nan, math.nan,
                         "no item rated by anyone else"))
            continue
        ca, cons = c[sel], fit.labels[sel]
        kappa, why = kappa_detail(pair_confusion(ca, cons, r.n_classes).astype(np.float64), None)
        others = float(((t[sel, ca] - 1.0) / (m_i[sel] - 1.0)).mean())
        rows.append((name, int(rated.sum()), n_cmp, float((ca == cons).mean()), kappa, others, why))
    return pl.DataFrame(rows, orient="row", schema={
        "annotator": pl.String, "n_labels": pl.Int64, "n_compared": pl.Int64,
        "agreement_with_consensus": pl.Float64, "kappa_with_consensus": pl.Float64,
        "agreement_with_others": pl.Float64, "reason": pl.String})


def consensus_frame(r: Ratings, fit: ConsensusFit) -> pl.DataFrame:
    """One row per item: consensus class, its probability, number of ratings, tie flag."""
    lab = fit.labels
    return pl.DataFrame({
        "item": r.items, "class_name": np.asarray(r.classes, dtype=object)[lab].tolist(),
        "confidence": fit.probabilities[np.arange(lab.size), lab],
        "n_ratings": r._counts.sum(1).astype(np.int64), "tied": fit.tied},
        schema_overrides={"class_name": pl.String})


def annotator_confusion_frame(r: Ratings, fit: ConsensusFit) -> pl.DataFrame:
    """The per-annotator confusion matrices of a consensus fit, long."""
    m, k = r.n_annotators, r.n_classes
    return pl.DataFrame({
        "annotator": np.repeat(r.annotators, k * k).tolist(),
        "consensus_class": np.tile(np.repeat(r.classes, k), m).tolist(),
        "class_name": list(r.classes) * (m * k), "rate": fit.confusion.reshape(-1)},
        schema={"annotator": pl.String, "consensus_class": pl.String, "class_name": pl.String,
                "rate": pl.Float64})


def fit_consensus(r: Ratings, method: str, max_iter: int = 100, tol: float = 1e-5) -> ConsensusFit:
    """Majority vote or Dawid-Skene on the labels of ``r`` (see agreement.consensus)."""
    from ._dawid_skene import dawid_skene, majority_vote

    item, ann, lab = r.long()
    kw = dict(n_items=r.n_items, n_annotators=r.n_annotators, n_classes=r.n_classes)
    if method == "majority":
        return majority_vote(item, ann, lab, **kw)
    if method == "dawid-skene":
        return dawid_skene(item, ann, lab, max_iter=max_iter, tol=tol, **kw)
    raise ValueError(f"method must be 'dawid-skene' or 'majority', got {method!r}")


# ---------------------------------------------------------------- bootstrap

def _patterns(codes: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Distinct item columns of ``codes`` and how many items share each."""
    m = codes.shape[0]
    if m * math.log2(k + 1) <= 62:
        key = np.zeros(codes.shape[1], dtype=np.int64)
        for a in range(m):
            key = key * (k + 1) + (codes[a] + 1)
        _, first, cnt = np.unique(key, return_index=True, return_counts=True)
        return codes[:, first], cnt
    uniq, cnt = np.unique(codes.T, axis=0, return_counts=True)
    return uniq.T, cnt


def _weight_chunks(cnt: np.ndarray, n_boot: int, seed: int) -> Iterator[np.ndarray]:
    """Replicate weights over patterns, in chunks: multinomial counts of N draws."""
    rng = np.random.default_rng(seed)
    n, p = int(cnt.sum()), cnt.size
    step = max(1, min(n_boot, int(4e6 // p)))
    for s in range(0, n_boot, step):
        b = min(step, n_boot - s)
        if p <= 50_000:
            yield rng.multinomial(n, cnt / n, size=b).astype(np.float64)
        else:                                   # (almost) all items distinct: draw indices
            idx = rng.integers(0, p, size=(b, n)) + (np.arange(b) * p)[:, None]
            yield np.bincount(idx.ravel(), minlength=b * p).reshape(b, p).astype(np.float64)


def bootstrap_frame(r: Ratings, n_boot: int, ci: float, seed: int, level: str) -> pl.DataFrame:
    """Percentile intervals for alpha and the pairwise kappas (see agreement.bootstrap_ci)."""
    k = r.n_classes
    pat, cnt = _patterns(r.codes, k)
    p = cnt.size
    tp = np.zeros((p, k))
    for a in range(pat.shape[0]):
        ok = pat[a] >= 0
        np.add.at(tp, (np.flatnonzero(ok), pat[a, ok]), 1.0)
    m_p = tp.sum(1)
    inv = np.divide(1.0, m_p - 1.0, out=np.zeros_like(m_p), where=m_p >= 2)
    o_p = (tp[:, :, None] * tp[:, None, :] - tp[:, :, None] * np.eye(k)[None]) * inv[:, None, None]
    pa, pb, _ = r.pair_table
    pairs_df = pairwise_frame(r, None)
    boot_pairs = [j for j in range(pa.size) if pairs_df["n_shared"][j] >= 2] if pa.size <= MAX_BOOTSTRAP_PAIRS else []
    feats = [o_p.reshape(p, k * k)]
    eye = np.eye(k)
    for j in boot_pairs:
        ca, cb = pat[pa[j]], pat[pb[j]]
        both = (ca >= 0) & (cb >= 0)
        feats += [both[:, None].astype(np.float64), (both & (ca == cb))[:, None].astype(np.float64),
                  eye[np.where(both, ca, 0)] * both[:, None], eye[np.where(both, cb, 0)] * both[:, None]]
    f = np.hstack(feats)
    values = np.arange(k)
    alphas, kappas = [], []
    for w in _weight_chunks(cnt, n_boot, seed):
        s = w @ f
        o = s[:, :k * k].reshape(-1, k, k)
        n_v = o.sum(1)
        n = n_v.sum(1)
        if level == "ordinal":
            d = np.stack([delta(level, values, v) for v in n_v])
            de = np.einsum("bi,bij,bj->b", n_v, d, n_v)
            do = (o * d).sum((1, 2))
        else:
            d = delta(level, values, n_v[0])
            de = np.einsum("bi,ij,bj->b", n_v, d, n_v)
            do = (o * d[None]).sum((1, 2))
        alphas.append(np.where((n >= 2) & (de > 0), 1.0 - (n - 1.0) * do / np.where(de > 0, de, 1.0), np.nan))
        col, rep = k * k, []
        for _ in boot_pairs:
            nb, ag = s[:, col], s[:, col + 1]
            ra, rb = s[:, col + 2:col + 2 + k], s[:, col + 2 + k:col + 2 + 2 * k]
            col += 2 + 2 * k
            nn = np.where(nb > 0, nb, 1.0)
            pe = (ra * rb).sum(1) / (nn * nn)
            ok = (nb >= 2) & (pe < 1.0 - 1e-12)
            rep.append(np.where(ok, (ag / nn - pe) / np.where(ok, 1.0 - pe, 1.0), np.nan))
        kappas.append(np.stack(rep, axis=1) if rep else np.zeros((w.shape[0], 0)))
    q = [(1.0 - ci) / 2.0, (1.0 + ci) / 2.0]

    def interval(v: np.ndarray) -> tuple[float, float, int]:
        ok = v[~np.isnan(v)]
        if ok.size == 0:
            return math.nan, math.nan, 0
        lo, hi = np.quantile(ok, q)
        return float(lo), float(hi), int(ok.size)

    est, _ = alpha_detail(coincidence(r._counts), values, level)
    rows = [("krippendorff_alpha", None, None, est, *interval(np.concatenate(alphas)))]
    kap = np.concatenate(kappas, axis=0)
    col_of = {j: c for c, j in enumerate(boot_pairs)}
    for j in range(pa.size):
        row = pairs_df.row(j, named=True)
        lo, hi, nv = interval(kap[:, col_of[j]]) if j in col_of else (math.nan, math.nan, 0)
        rows.append(("cohen_kappa", row["annotator_a"], row["annotator_b"], row["kappa"], lo, hi, nv))
    return pl.DataFrame(rows, orient="row", schema={
        "metric": pl.String, "annotator_a": pl.String, "annotator_b": pl.String, "estimate": pl.Float64,
        "ci_low": pl.Float64, "ci_high": pl.Float64, "n_valid": pl.Int64})


def attach_ci(pairs: pl.DataFrame, boot: pl.DataFrame | None) -> pl.DataFrame:
    """Add ``ci_low, ci_high`` (NaN without a bootstrap) to the pairwise frame."""
    if boot is None:
        return pairs.with_columns(ci_low=pl.lit(math.nan), ci_high=pl.lit(math.nan))
    ci = boot.filter(pl.col("metric") == "cohen_kappa").select("annotator_a", "annotator_b", "ci_low", "ci_high")
    return pairs.join(ci, on=["annotator_a", "annotator_b"], how="left", maintain_order="left").with_columns(
        pl.col("ci_low").fill_null(math.nan), pl.col("ci_high").fill_null(math.nan))


OVERALL_SCHEMA = {"metric": pl.String, "value": pl.Float64, "ci_low": pl.Float64, "ci_high": pl.Float64,
                  "n_items": pl.Int64, "n_labels": pl.Int64, "method": pl.String, "reason": pl.String}


def report_notes(r: Ratings, fit: ConsensusFit, pairs: pl.DataFrame, bootstrap: int) -> list[str]:
    """What the report should say about how it was computed (besides the builder's notes)."""
    notes = list(r.notes)
    if fit.method == "dawid-skene" and not fit.converged:
        notes.append(f"Dawid-Skene stopped at {fit.n_iter} iterations before reaching the tolerance")
    if r.n_annotators > MAX_LISTED_PAIRS_ANNOTATORS:
        notes.append(f"{r.n_annotators} annotators: only pairs that share an item are listed")
    if bootstrap and pairs.height > MAX_BOOTSTRAP_PAIRS:
        notes.append(f"{pairs.height} pairs: bootstrap intervals for alpha only")
    return notes


def overall_frame(r: Ratings, pairs: pl.DataFrame, boot: pl.DataFrame | None) -> pl.DataFrame:
    """The ``overall`` frame of the report: alpha (with its interval), Fleiss, mean pairwise kappa."""
    counts = r.counts()
    o = coincidence(counts)
    alpha, alpha_why = alpha_detail(o, np.arange(r.n_classes), "nominal")
    fk, fk_why = fleiss_generalized(counts)
    m = counts.sum(1)
    pairable = m >= 2
    constant = bool(pairable.any()) and m[pairable].min() == m[pairable].max()
    fk_method = "fleiss" if constant else "fleiss-generalized (raters per item vary; see fleiss_kappa)"
    lo = hi = math.nan
    if boot is not None:
        row = boot.filter(pl.col("metric") == "krippendorff_alpha").row(0, named=True)
        lo, hi = row["ci_low"], row["ci_high"]
    defined = pairs.filter(pl.col("kappa").is_not_nan())
    # polars types Series.mean() as any literal; the mean of a non-empty Float64 column is a float
    mk = float(cast(float, defined["kappa"].mean())) if defined.height else math.nan
    n_items, n_labels = int(pairable.sum()), int(m[pairable].sum())
    rows = [
        ("krippendorff_alpha", alpha, lo, hi, n_items, n_labels, "nominal", alpha_why),
        ("fleiss_kappa", fk, math.nan, math.nan, n_items, n_labels, fk_method, fk_why),
        ("mean_pairwise_kappa", mk, math.nan, math.nan, n_items, n_labels,
         f"mean of {defined.height} defined pairwise Cohen's kappas (Light's kappa)",
         "" if defined.height else "no annotator pair has a defined kappa"),
    ]
    return pl.DataFrame(rows, schema=OVERALL_SCHEMA, orient="row")
