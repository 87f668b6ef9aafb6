"""Inter-annotator agreement: pure computations on arrays and polars frames.

Scalar metrics (:func:`krippendorff_alpha`, :func:`fleiss_kappa`,
:func:`cohen_kappa`) take plain arrays. Everything else starts from
:class:`Ratings` (image-level labels as an annotators x items matrix), built
from a long frame of labels by :func:`ratings_from_labels`.
:func:`agreement_report` runs it all and returns one :class:`AgreementReport`.
The report, box agreement (:func:`box_agreement`), windows and the label-drift
detector (:func:`agreement_over_time`, :func:`detect_label_drift`) and the
consensus models live in private modules and are re-exported here.

Undefined values are NaN with a reason in the frames' ``reason`` column
(e.g. two annotators who never rated the same item); malformed input raises
``ValueError``.
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
import polars as pl

from . import _stats as _st
from ._boxes import BoxAgreement, box_agreement, match_boxes
from ._stats import Ratings, ratings_from_labels
from ._over_time import agreement_over_time, detect_label_drift
from ._dawid_skene import ConsensusFit
from ._report import AgreementReport, agreement_report

__all__ = [
    "AgreementReport", "BoxAgreement", "ConsensusFit", "Ratings", "agreement_over_time", "agreement_report",
    "annotator_agreement", "bootstrap_ci", "box_agreement", "class_confusion", "cohen_kappa", "consensus",
    "detect_label_drift", "fleiss_kappa", "krippendorff_alpha", "krippendorff_alpha_from_counts",
    "match_boxes", "pairwise_kappa", "per_class_agreement", "ratings_from_labels",
]

Level = Literal["nominal", "ordinal", "interval", "ratio"]
LEVELS = ("nominal", "ordinal", "interval", "ratio")


def krippendorff_alpha(reliability_data: Any, level: Level = "nominal", *,
                       value_domain: Any = None) -> float:
    """Krippendorff's alpha from a coders x units matrix, via the coincidence matrix.

    Same convention and values as ``krippendorff.alpha`` (within 1e-9): rows are
    annotators, columns are items, NaN (or None in an object array) marks a
    missing rating; units with fewer than two ratings are not pairable and are
    left out. The coincidence matrix is built with one ``bincount`` and one
    matrix product (no loop over items).

    Parameters
    ----------
    reliability_data
        2-d array (annotators x items): numbers with NaN, or strings/objects with
        None for missing (strings need ``value_domain`` unless nominal).
    level
        ``"nominal"``, ``"ordinal"``, ``"interval"`` or ``"ratio"``.
    value_domain
        Ordered possible values (default: the sorted values that occur).

    Returns
    -------
    float
        NaN when alpha is undefined: fewer than two pairable ratings, or every
        pairable rating has the same value (no variation).

    Examples
    --------
    >>> data = [[1, 2, 3, 3, 2, 1, 4, 1, 2, np.nan, np.nan, np.nan],
    ...         [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, np.nan, 3],
    ...         [np.nan, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, np.nan],
    ...         [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, np.nan]]
    >>> round(krippendorff_alpha(data), 3), round(krippendorff_alpha(data, "ordinal"), 3)
    (0.743, 0.815)
    """
    _check_level(level)
    o, values = _st.encode_reliability(reliability_data, value_domain, level)
    return _st.alpha_detail(o, values, level)[0]


def krippendorff_alpha_from_counts(counts: Any, level: Level = "nominal", *,
                                   value_domain: Any = None) -> float:
    """Krippendorff's alpha from an items x values table of rating counts.

    Parameters
    ----------
    counts
        2-d array: ``counts[i, v]`` raters gave item ``i`` the value ``v``
        (the ``value_counts`` input of the ``krippendorff`` package).
    level
        Level of measurement, as in :func:`krippendorff_alpha`.
    value_domain
        The values of the columns (default ``0 .. n_columns - 1``); needed in
        order for ordinal, numeric for interval/ratio.

    Returns
    -------
    float

    Examples
    --------
    >>> round(krippendorff_alpha_from_counts([[2, 0], [0, 2], [1, 1]]), 4)
    0.4444
    """
    _check_level(level)
    t = _st.check_counts(counts)
    values = np.arange(t.shape[1]) if value_domain is None else np.asarray(value_domain)
    if values.shape != (t.shape[1],):
        raise ValueError(f"value_domain has {values.size} values for {t.shape[1]} count columns")
    return _st.alpha_detail(_st.coincidence(t), values, level)[0]


def fleiss_kappa(counts: Any, *, varying: Literal["error", "generalized"] = "error") -> float:
    """Fleiss' kappa from an items x categories table of rating counts.

    Equals ``statsmodels.stats.inter_rater.fleiss_kappa(counts, method="fleiss")``.
    Fleiss' kappa assumes the same number of raters for every item; rows with no
    rating are ignored.

    Parameters
    ----------
    counts
        ``counts[i, c]``: how many raters put item ``i`` in category ``c``.
    varying
        ``"error"`` (default): a varying number of raters per item raises
        ``ValueError``. ``"generalized"``: allow it; observed agreement is then
        pooled over rating pairs, each item's pairs weighted ``1/(m_i - 1)``
        (Krippendorff's coincidences), items rated once are left out, and chance
        agreement comes from the pooled category shares. For a constant number of
        raters this is exactly Fleiss' kappa; in general it equals nominal
        Krippendorff's alpha without its small-sample factor ``(n - 1) / n``.

    Returns
    -------
    float
        NaN when chance agreement is 1 (every rating in one category).

    Examples
    --------
    >>> round(fleiss_kappa([[3, 0], [0, 3], [2, 1]]), 4)
    0.55
    >>> round(fleiss_kappa([[3, 0], [0, 2]], varying="generalized"), 6)
    1.0
    """
    return _st.fleiss_detail(_st.check_counts(counts), varying)


def cohen_kappa(labels_a: Any, labels_b: Any, *, weights: Literal["linear", "quadratic"] | Any = None,
                labels: Any = None) -> float:
    """Cohen's kappa of two annotators on the same items (optionally weighted).

    Equals ``sklearn.metrics.cohen_kappa_score``. Items where either label is
    missing (None or NaN) are left out.

    Parameters
    ----------
    labels_a, labels_b
        1-d sequences of the same length, one label per item.
    weights
        None (unweighted), ``"linear"`` or ``"quadratic"`` (by the position of
        the categories in ``labels``), or a k x k matrix of disagreement weights.
    labels
        Ordered categories (default: the sorted labels that occur).

    Returns
    -------
    float
        NaN when chance agreement is 1 (both gave one and the same category).

    Examples
    --------
    >>> cohen_kappa(["cat", "dog", "dog", "cat"], ["cat", "dog", "cat", "cat"])
    0.5
    >>> round(cohen_kappa([1, 2, 3, 3], [1, 2, 3, 2], weights="quadratic"), 4)
    0.8
    """
    a, b = _st.as_1d(labels_a), _st.as_1d(labels_b)
    if a.shape != b.shape:
        raise ValueError(f"labels_a and labels_b differ in length ({a.size} vs {b.size})")
    keep = ~(_st.missing(a) | _st.missing(b))
    if not keep.any():
        raise ValueError("no item has a label from both annotators")
    domain = _st.domain_of(np.concatenate([a[keep], b[keep]]), labels)
    ca, cb = _st.codes_in(a[keep], domain), _st.codes_in(b[keep], domain)
    k = len(domain)
    conf = np.bincount(ca * k + cb, minlength=k * k).reshape(k, k).astype(np.float64)
    return _st.kappa_detail(conf, weights)[0]


def _check_level(level: str) -> None:
    if level not in LEVELS:
        raise ValueError(f"level must be one of {LEVELS}, got {level!r}")


def _as_ratings(data: Ratings | pl.DataFrame) -> Ratings:
    if isinstance(data, Ratings):
        return data
    if isinstance(data, pl.DataFrame):
        return ratings_from_labels(data)
    raise TypeError(f"expected Ratings or a polars DataFrame of labels, got {type(data).__name__}")


def pairwise_kappa(ratings: Ratings | pl.DataFrame, *,
                   weights: Literal["linear", "quadratic"] | None = None) -> pl.DataFrame:
    """Cohen's kappa for every pair of annotators, on the items both rated.

    Parameters
    ----------
    ratings
        :class:`Ratings`, or a long frame of labels (see :func:`ratings_from_labels`).
    weights
        As in :func:`cohen_kappa`; categories in the order of ``ratings.classes``.

    Returns
    -------
    polars.DataFrame
        One row per pair (``annotator_a < annotator_b``): ``annotator_a,
        annotator_b, n_shared, observed_agreement, kappa, reason``. ``kappa`` is
        NaN with a reason when the pair shares fewer than 2 items or shows no
        variance.

    Examples
    --------
    >>> df = pl.DataFrame({"item": [1, 1, 2, 2, 3, 3], "annotator": ["a", "b"] * 3,
    ...                    "class_name": ["x", "x", "y", "y", "x", "y"]})
    >>> pairwise_kappa(df)["kappa"].round(3).to_list()
    [0.4]
    """
    r = _as_ratings(ratings)
    return _st.pairwise_frame(r, weights)


def per_class_agreement(ratings: Ratings | pl.DataFrame) -> pl.DataFrame:
    """Agreement on each class: proportion of specific agreement and one-vs-rest kappa.

    From the coincidence matrix ``o`` of all pairable ratings (items with 2+
    ratings): ``specific_agreement = o[c, c] / n_c`` (of the rating pairs that
    involve ``c``, the share where both said ``c``; equals ``2a / (2a + b + c)``
    pooled over annotator pairs) and ``kappa = 1 - n * o[c, not c] / (n_c (n - n_c))``,
    Fleiss' per-category kappa (exactly, for a constant number of raters).

    Parameters
    ----------
    ratings
        :class:`Ratings` or a long frame of labels.

    Returns
    -------
    polars.DataFrame
        ``class_name, n_labels, n_pairable, share, specific_agreement, kappa,
        reason``; every class of ``ratings.classes`` appears, unused ones with NaN
        and the reason.

    Examples
    --------
    >>> df = pl.DataFrame({"item": [1, 1, 2, 2, 3, 3], "annotator": ["a", "b"] * 3,
    ...                    "class_name": ["x", "x", "y", "y", "x", "y"]})
    >>> per_class_agreement(df)["specific_agreement"].round(3).to_list()
    [0.667, 0.667]
    """
    return _st.per_class_frame(_as_ratings(ratings))


def class_confusion(ratings: Ratings | pl.DataFrame, annotator_a: str | None = None,
                    annotator_b: str | None = None) -> pl.DataFrame:
    """Class x class confusion for one annotator pair, or pooled over all pairs.

    Parameters
    ----------
    ratings
        :class:`Ratings` or a long frame of labels.
    annotator_a, annotator_b
        The pair (rows: ``a``'s class, columns: ``b``'s), on the items both
        rated. Both None: pooled over every pair of labels on the same item; the
        result is symmetric, an off-diagonal cell counts the label pairs with one
        ``class_a`` and one ``class_b``, a diagonal cell the agreeing pairs.

    Returns
    -------
    polars.DataFrame
        ``class_a, class_b, n`` for every combination of classes.

    Examples
    --------
    >>> df = pl.DataFrame({"item": [1, 1, 2, 2], "annotator": ["a", "b"] * 2,
    ...                    "class_name": ["x", "x", "x", "y"]})
    >>> class_confusion(df, "a", "b").filter(pl.col("n") > 0).rows()
    [('x', 'x', 1), ('x', 'y', 1)]
    """
    r = _as_ratings(ratings)
    if (annotator_a is None) != (annotator_b is None):
        raise ValueError("give both annotators for a pair, or neither for the pooled confusion")
    if annotator_a is None or annotator_b is None:    # both None (checked above)
        mat = _st.pooled_confusion(r)
    else:
        ia, ib = r.annotator_index(annotator_a), r.annotator_index(annotator_b)
        mat = _st.pair_confusion(r.codes[ia], r.codes[ib], r.n_classes)
    return _st.confusion_frame(mat, r.classes)


def consensus(ratings: Ratings | pl.DataFrame, method: Literal["dawid-skene", "majority"] = "dawid-skene",
              *, max_iter: int = 100, tol: float = 1e-5) -> ConsensusFit:
    """Consensus class per item by majority vote or Dawid-Skene EM.

    Majority ties go to the tied class used most often overall, then to the
    first class in sorted order. Dawid-Skene starts from the vote shares and
    stops at ``tol`` or ``max_iter`` (see :func:`jupyter_cvops.agreement._dawid_skene.dawid_skene`).

    Parameters
    ----------
    ratings
        :class:`Ratings` or a long frame of labels.
    method
        ``"dawid-skene"`` or ``"majority"``.
    max_iter, tol
        EM limits (Dawid-Skene only).

    Returns
    -------
    ConsensusFit

    Examples
    --------
    >>> df = pl.DataFrame({"item": [1, 1, 1], "annotator": ["a", "b", "c"],
    ...                    "class_name": ["x", "x", "y"]})
    >>> consensus(df, "majority").labels.tolist()
    [0]
    """
    return _st.fit_consensus(_as_ratings(ratings), method, max_iter, tol)


def annotator_agreement(ratings: Ratings | pl.DataFrame, fit: ConsensusFit | None = None) -> pl.DataFrame:
    """Each annotator's agreement with the consensus and with the other annotators.

    Parameters
    ----------
    ratings
        :class:`Ratings` or a long frame of labels.
    fit
        A consensus (default: Dawid-Skene on ``ratings``).

    Returns
    -------
    polars.DataFrame
        ``annotator, n_labels, n_compared`` (labels on items rated 2+ times),
        ``agreement_with_consensus`` and ``kappa_with_consensus`` (on those
        items; the annotator's own vote is part of the consensus),
        ``agreement_with_others`` (mean share of the other raters of an item who
        gave the same class), ``reason``.

    Examples
    --------
    >>> df = pl.DataFrame({"item": [1, 1, 2, 2], "annotator": ["a", "b"] * 2,
    ...                    "class_name": ["x", "x", "y", "y"]})
    >>> annotator_agreement(df)["agreement_with_others"].to_list()
    [1.0, 1.0]
    """
    r = _as_ratings(ratings)
    return _st.annotator_frame(r, fit if fit is not None else _st.fit_consensus(r, "dawid-skene"))


def bootstrap_ci(ratings: Ratings | pl.DataFrame, *, n_boot: int = 1000, ci: float = 0.95,
                 seed: int = 0, level: Level = "nominal") -> pl.DataFrame:
    """Percentile bootstrap intervals for alpha and every pairwise kappa, resampling items.

    Items are drawn with replacement (seeded); identical rating patterns are
    pooled first, so a replicate is one multinomial draw over patterns (exactly
    the same distribution as drawing items) and the statistics of all
    replicates come from one matrix product.

    Parameters
    ----------
    ratings
        :class:`Ratings` or a long frame of labels.
    n_boot
        Replicates.
    ci
        Coverage of the interval (percentiles ``(1 - ci) / 2`` and ``(1 + ci) / 2``).
    seed
        Seed of the resampling.
    level
        Level of measurement for alpha (class codes in ``ratings.classes`` order).

    Returns
    -------
    polars.DataFrame
        ``metric`` (``krippendorff_alpha`` or ``cohen_kappa``), ``annotator_a,
        annotator_b`` (null for alpha), ``estimate, ci_low, ci_high, n_valid``
        (replicates where the statistic was defined).

    Examples
    --------
    >>> df = pl.DataFrame({"item": [1, 1, 2, 2, 3, 3], "annotator": ["a", "b"] * 3,
    ...                    "class_name": ["x", "x", "y", "y", "x", "y"]})
    >>> bootstrap_ci(df, n_boot=200)["metric"].to_list()
    ['krippendorff_alpha', 'cohen_kappa']
    """
    _check_level(level)
    if n_boot < 1 or not 0 < ci < 1:
        raise ValueError("n_boot must be >= 1 and 0 < ci < 1")
    return _st.bootstrap_frame(_as_ratings(ratings), n_boot, ci, seed, level)
