"""Inter-annotator agreement: pure computations on arrays and polars frames.

Scalar metrics (:func:`krippendorff_alpha`, :func:`fleiss_kappa`,
:func:`cohen_kappa`) take plain arrays. Everything else starts from
:class:`Ratings` (image-level labels as an annotators x items matrix), built
from a long frame of labels by :func:`ratings_from_labels`.
:func:`agreement_report` runs it all and returns one :class:`AgreementReport`.
Box agreement (:func:`box_agreement`), windows and the label-drift detector
(:func:`agreement_over_time`, :func:`detect_label_drift`) and the consensus
models live in private modules and are re-exported here.

Undefined values are NaN with a reason in the frames' ``reason`` column
(e.g. two annotators who never rated the same item); malformed input raises
``ValueError``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import polars as pl

from . import _stats as _st
from . import _boxes as _bx
from ._boxes import BoxAgreement, box_agreement, match_boxes
from ._stats import Ratings, ratings_from_labels
from ._over_time import agreement_over_time, check_duration, detect_label_drift, empty_frames
from ._dawid_skene import ConsensusFit

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


@dataclass
class AgreementReport:
    """Everything :func:`agreement_report` computed, as polars frames with fixed columns.

    Attributes
    ----------
    overall
        ``metric, value, ci_low, ci_high, n_items, n_labels, method, reason`` for
        ``krippendorff_alpha``, ``fleiss_kappa``, ``mean_pairwise_kappa``.
    pairwise
        :func:`pairwise_kappa` plus ``ci_low, ci_high``.
    per_class
        :func:`per_class_agreement`.
    confusion_pairs
        ``annotator_a, annotator_b, class_a, class_b, n`` for every pair.
    confusion_pooled
        ``class_a, class_b, n`` pooled over pairs (see :func:`class_confusion`).
    consensus
        ``item, class_name, confidence, n_ratings, tied`` (confidence: vote share
        or posterior probability).
    annotators
        :func:`annotator_agreement`.
    annotator_confusion
        ``annotator, consensus_class, class_name, rate``: the per-annotator
        confusion matrices (Dawid-Skene estimates, or rates against the vote).
    windows, class_frequency, alerts
        Agreement per time window, each annotator's class shares per window,
        and label-drift alerts (see :mod:`jupyter_cvops.agreement._over_time`); empty with the
        same columns when the labels carry no time.
    boxes
        Box agreement (:func:`jupyter_cvops.agreement._boxes.box_agreement`) when the frame
        holds boxes, else None.
    meta
        Method, columns, settings and notes (JSON-able).
    """

    overall: pl.DataFrame
    pairwise: pl.DataFrame
    per_class: pl.DataFrame
    confusion_pairs: pl.DataFrame
    confusion_pooled: pl.DataFrame
    consensus: pl.DataFrame
    annotators: pl.DataFrame
    annotator_confusion: pl.DataFrame
    windows: pl.DataFrame
    class_frequency: pl.DataFrame
    alerts: pl.DataFrame
    boxes: Any = None
    meta: dict[str, Any] = field(default_factory=dict)

    FRAMES = ("overall", "pairwise", "per_class", "confusion_pairs", "confusion_pooled", "consensus",
              "annotators", "annotator_confusion", "windows", "class_frequency", "alerts")

    def to_dict(self) -> dict[str, Any]:
        """Plain data: each frame as a list of row dicts, plus ``boxes`` and ``meta``.

        Examples
        --------
        >>> rep.to_dict()["overall"][0]["metric"]        # doctest: +SKIP
        'krippendorff_alpha'
        """
        out: dict[str, Any] = {k: getattr(self, k).to_dicts() for k in self.FRAMES}
        out["boxes"] = None if self.boxes is None else self.boxes.to_dict()
        out["meta"] = dict(self.meta)
        return out

    def kappa_matrix(self) -> pl.DataFrame:
        """Square annotator x annotator kappa (diagonal 1.0, NaN where undefined).

        Examples
        --------
        >>> rep.kappa_matrix().columns[0]                # doctest: +SKIP
        'annotator'
        """
        names = self.meta["annotators"]
        mat = np.eye(len(names))
        pos = {a: i for i, a in enumerate(names)}
        for a, b, k in self.pairwise.select("annotator_a", "annotator_b", "kappa").iter_rows():
            mat[pos[a], pos[b]] = mat[pos[b], pos[a]] = np.nan if k is None else k
        return pl.DataFrame({"annotator": names, **{n: mat[:, i] for i, n in enumerate(names)}})

    def metric(self, name: str) -> float:
        """One value of ``overall`` by metric name.

        Examples
        --------
        >>> rep.metric("krippendorff_alpha")             # doctest: +SKIP
        0.71
        """
        v = self.overall.filter(pl.col("metric") == name)["value"]
        if v.len() != 1:
            raise KeyError(f"no metric {name!r}; have {self.overall['metric'].to_list()}")
        return float(v[0])


def _check_labels(labels: pl.DataFrame, kind: str | None) -> None:
    """Refuse, with what to do instead, a frame that holds nothing to rate.

    Examples
    --------
    >>> try:
    ...     _check_labels(pl.DataFrame({"kind": ["box"], "class_name": ["x"]}), "image")
    ... except ValueError as exc:
    ...     print(str(exc).split("; ")[1])
    for box agreement pass kind='box' (ws.agreement(kind='box'))
    """
    if labels.height == 0:
        raise ValueError("no labels to rate: import annotations first (ws.import_annotations(...))")
    if kind is None or "kind" not in labels.columns or (labels["kind"] == kind).any():
        return
    counts = labels["kind"].drop_nulls().value_counts(sort=True).rows()
    have = ", ".join(f"{n} {k!r} label{'s' if n != 1 else ''}" for k, n in counts)
    hint = ("; for box agreement pass kind='box' (ws.agreement(kind='box'))" if kind != "box"
            and any(k == "box" for k, _ in counts) else "")
    raise ValueError(f"no labels to rate: no {kind!r} labels, only {have}{hint}")


def agreement_report(
    labels: pl.DataFrame | Ratings,
    *,
    consensus: Literal["dawid-skene", "majority"] = "dawid-skene",
    bootstrap: int = 1000,
    ci: float = 0.95,
    seed: int = 0,
    every: str = "1w",
    taxonomy: pl.DataFrame | None = None,
    boxes: bool | None = None,
    significance: float = 0.01,
    min_drop: float = 0.15,
    item: str | None = None,
    annotator: str = "annotator",
    label: str | None = None,
    time: str | None = None,
    kind: str | None = "image",
    classes: list[str] | None = None,
) -> AgreementReport:
    """The full agreement report of a long frame of labels.

    Parameters
    ----------
    labels
        One row per label (see :func:`ratings_from_labels` for the columns), or
        prepared :class:`Ratings` (then no boxes and no time analysis unless it
        carries times).
    consensus
        ``"dawid-skene"`` (default) or ``"majority"``; recorded in ``meta``.
    bootstrap
        Bootstrap replicates for the intervals of alpha and pairwise kappa (0: none).
    ci, seed
        Interval coverage and resampling seed.
    every
        Window length for the time analysis (a polars duration, e.g. ``"1w"``, ``"1d"``).
    taxonomy
        Taxonomy versions (``version`` and ``created_at``), to name the nearest
        change next to each drift alert.
    boxes
        Compute box agreement (default: when the frame holds ``kind == "box"`` rows).
    significance, min_drop
        Label-drift detector: family-wise error rate and smallest drop in
        agreement worth an alert (see :func:`jupyter_cvops.agreement._over_time.detect_label_drift`).
    item, annotator, label, time, kind, classes
        Column names and filtering, passed to :func:`ratings_from_labels`.

    Returns
    -------
    AgreementReport

    Examples
    --------
    >>> df = pl.DataFrame({"item": [1, 1, 2, 2, 3, 3], "annotator": ["a", "b"] * 3,
    ...                    "class_name": ["x", "x", "y", "y", "x", "y"]})
    >>> rep = agreement_report(df, bootstrap=100)
    >>> round(rep.metric("krippendorff_alpha"), 3), rep.meta["consensus"]
    (0.444, 'dawid-skene')
    """
    check_duration(every, "every")
    if bootstrap < 0:
        raise ValueError("bootstrap must be >= 0")
    if isinstance(labels, Ratings):
        r, frame = labels, None
    else:
        _check_labels(labels, kind)
        r = ratings_from_labels(labels, item=item, annotator=annotator, label=label, time=time,
                                kind=kind, classes=classes)
        frame = labels
    fit = _st.fit_consensus(r, consensus)
    pairs = _st.pairwise_frame(r, None)
    notes = _st.report_notes(r, fit, pairs, bootstrap)
    boot = _st.bootstrap_frame(r, bootstrap, ci, seed, "nominal") if bootstrap else None
    pairs = _st.attach_ci(pairs, boot)
    overall = _st.overall_frame(r, pairs, boot)
    if r.times is not None:
        windows, freq = agreement_over_time(r, every=every)
        alerts = detect_label_drift(r, every=every, significance=significance, min_drop=min_drop,
                                    taxonomy=taxonomy)
    else:
        windows, freq, alerts = empty_frames()
        notes.append("no time column: windows, class frequencies and drift alerts are empty")
    box_rep = _bx.box_report(frame, boxes, notes, item=r.item_column, annotator=annotator, label=r.label_column)
    meta = {
        "consensus": fit.method, "consensus_iterations": fit.n_iter, "consensus_converged": fit.converged,
        "level": "nominal", "bootstrap": bootstrap, "ci": ci, "seed": seed, "every": every,
        "significance": significance, "min_drop": min_drop, "annotators": list(r.annotators),
        "classes": list(r.classes), "n_items": r.n_items, "n_labels": r.n_labels,
        "columns": {"item": r.item_column, "annotator": annotator, "label": r.label_column,
                    "time": r.time_column},
        "notes": notes,
    }
    return AgreementReport(
        overall=overall, pairwise=pairs, per_class=_st.per_class_frame(r),
        confusion_pairs=_st.pair_confusion_frame(r), confusion_pooled=_st.confusion_frame(
            _st.pooled_confusion(r), r.classes),
        consensus=_st.consensus_frame(r, fit), annotators=_st.annotator_frame(r, fit),
        annotator_confusion=_st.annotator_confusion_frame(r, fit), windows=windows,
        class_frequency=freq, alerts=alerts, boxes=box_rep, meta=meta)
