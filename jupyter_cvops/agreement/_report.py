"""The full agreement report: :func:`agreement_report` and the :class:`AgreementReport` it returns.

Pure computation on a long polars frame of labels (or prepared :class:`Ratings`); the statistics
come from :mod:`._stats`, the time analysis from :mod:`._over_time`, box agreement from
:mod:`._boxes`. Re-exported by :mod:`jupyter_cvops.agreement.metrics` (the public way in).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import polars as pl

from . import _boxes as _bx
from . import _stats as _st
from ._over_time import agreement_over_time, check_duration, detect_label_drift, empty_frames
from ._stats import Ratings, ratings_from_labels


@dataclass
class AgreementReport:
    """Everything :func:`agreement_report` computed, as polars frames with fixed columns.

    Attributes
    ----------
    overall
        ``metric, value, ci_low, ci_high, n_items, n_labels, method, reason`` for
        ``krippendorff_alpha``, ``fleiss_kappa``, ``mean_pairwise_kappa``.
    pairwise
        :func:`~jupyter_cvops.agreement.metrics.pairwise_kappa` plus ``ci_low, ci_high``.
    per_class
        :func:`~jupyter_cvops.agreement.metrics.per_class_agreement`.
    confusion_pairs
        ``annotator_a, annotator_b, class_a, class_b, n`` for every pair.
    confusion_pooled
        ``class_a, class_b, n`` pooled over pairs (see :func:`~jupyter_cvops.agreement.metrics.class_confusion`).
    consensus
        ``item, class_name, confidence, n_ratings, tied`` (confidence: vote share
        or posterior probability).
    annotators
        :func:`~jupyter_cvops.agreement.metrics.annotator_agreement`.
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
