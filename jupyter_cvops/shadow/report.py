"""``ShadowReport``: a candidate model against production on the same images, and how it is built.

:func:`build_report` is pure: it takes the paired answers (one row per image) and computes
every statistic of :mod:`jupyter_cvops.shadow.stats`; ``ws.shadow`` selects, re-runs (or reads
logged shadow rows), pairs and records.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from html import escape
from typing import Any

import numpy as np
import polars as pl

from . import stats

PAIR_COLUMNS: dict[str, Any] = {
    "prediction_id": pl.String, "image_id": pl.String, "path": pl.String, "production_class": pl.String,
    "production_score": pl.Float64, "candidate_class": pl.String, "candidate_score": pl.Float64,
    "reviewed_class": pl.String,
}
"""Columns :func:`build_report` needs (``production_boxes`` / ``candidate_boxes`` JSON are optional)."""

DISAGREEMENT_COLUMNS = [*PAIR_COLUMNS, "confidence_delta"]
DISAGREEMENT_COLUMNS.remove("reviewed_class")
DISAGREEMENT_COLUMNS.append("reviewed_class")

SKIPPED_SCHEMA = {"prediction_id": pl.String, "image_id": pl.String, "path": pl.String, "reason": pl.String}
"""Images left out of a report (unreadable, failed shadow rows): one row each, with the reason."""

P_WORSE = 0.05
"""McNemar p-value under which a candidate with fewer correct reviewed images raises the alert."""


@dataclass
class ShadowReport:
    """A candidate model version against the production version on the same served images.

    Attributes
    ----------
    name, production_version, candidate_version : str
        The model and the two version ids.
    classes : list of str
        Class names (both models have the same set; compared by name).
    n : int
        Paired images (each served image once).
    agreement, agreement_ci : float, (float, float)
        Top-1 agreement and its percentile bootstrap interval (95%).
    kappa, kappa_ci : float, (float, float)
        Cohen's kappa between the two models (NaN when both gave one class to every image).
    flips : polars.DataFrame
        ``production_class, candidate_class, count`` for every pair of classes (zeros and the
        diagonal included: a dense matrix for a heatmap); off the diagonal, the candidate moved
        images from ``production_class`` to ``candidate_class``.
    flip_summary : polars.DataFrame
        Per class: ``class, n_production, n_candidate, moved_out, moved_in``.
    confidence : polars.DataFrame
        ``subset`` (all / agree / disagree), ``n``, each model's mean and median top-1 score,
        ``mean_delta`` (candidate - production).
    reviewed : dict or None
        On images with a reviewed label: ``n, accuracy_production, accuracy_candidate,
        mcnemar_statistic, mcnemar_p, mcnemar_method, mcnemar_p_exact, mcnemar_p_chi2, b, c``
        (``b``: production right and candidate wrong; ``c``: the reverse). None without reviews.
    disagreements : polars.DataFrame
        The images the models disagree on, worst first (both confident: the smaller of the two
        scores, descending): ``prediction_id, image_id, path, production_class, production_score,
        candidate_class, candidate_score, confidence_delta, reviewed_class``.
    alert : bool
        Agreement under ``min_agreement``, or the candidate significantly worse on reviewed
        images (McNemar p < 0.05 with fewer correct).
    summary : str
        One sentence.
    check_id : str or None
        The stored check (kind ``shadow``), None when not recorded.
    boxes : dict or None
        Detectors: box-level agreement (``match_rate``, ``class_agreement``, ``mean_iou``, ...).
    skipped : polars.DataFrame
        Images left out, with the reason (``prediction_id, image_id, path, reason``).
    mode : str
        ``"rerun"`` (the candidate re-ran offline) or ``"logged"`` (shadow rows logged by
        ``cv.Predictor(..., shadow=...)``).

    Examples
    --------
    >>> rep = ws.shadow("defect-clf", candidate="defect-clf@candidate")   # doctest: +SKIP
    >>> rep.agreement, rep.kappa_ci, rep.reviewed                       # doctest: +SKIP
    >>> rep.disagreements.head(20)                                      # doctest: +SKIP
    """

    name: str
    production_version: str
    candidate_version: str
    classes: list[str]
    n: int
    agreement: float
    agreement_ci: tuple[float, float]
    kappa: float
    kappa_ci: tuple[float, float]
    flips: pl.DataFrame
    flip_summary: pl.DataFrame
    confidence: pl.DataFrame
    reviewed: dict[str, Any] | None
    disagreements: pl.DataFrame
    alert: bool
    summary: str
    check_id: str | None = None
    boxes: dict[str, Any] | None = None
    skipped: pl.DataFrame = field(default_factory=lambda: pl.DataFrame(schema=SKIPPED_SCHEMA))
    mode: str = "rerun"
    min_agreement: float = 0.9
    alert_reasons: list[str] = field(default_factory=list)

    @property
    def n_skipped(self) -> int:
        """Images left out (see :attr:`skipped`)."""
        return self.skipped.height

    def result(self) -> dict[str, Any]:
        """The numbers a check stores (no frames).

        Examples
        --------
        >>> rep.result()["agreement"]   # doctest: +SKIP
        0.97
        """
        return {"production_version": self.production_version, "candidate_version": self.candidate_version,
                "n": self.n, "agreement": self.agreement, "agreement_ci": list(self.agreement_ci),
                "kappa": self.kappa, "kappa_ci": list(self.kappa_ci), "reviewed": self.reviewed,
                "alert": self.alert, "alert_reasons": self.alert_reasons, "n_skipped": self.n_skipped,
                "n_disagreements": self.disagreements.height, "boxes": self.boxes, "mode": self.mode,
                "min_agreement": self.min_agreement}

    def to_dict(self, *, limit: int | None = 1000) -> dict[str, Any]:
        """Everything as plain data (frames as lists of rows; at most ``limit`` disagreements and skipped
        images, worst first; None: all). NaN stays NaN: ``checks.to_json`` writes it as null.

        Examples
        --------
        >>> import json; json.dumps(rep.to_dict())   # doctest: +SKIP
        """
        def rows(frame: pl.DataFrame) -> list[dict[str, Any]]:
            return (frame if limit is None else frame.head(limit)).to_dicts()

        return {"name": self.name, "classes": list(self.classes), **self.result(), "summary": self.summary,
                "check_id": self.check_id, "flips": self.flips.to_dicts(),
                "flip_summary": self.flip_summary.to_dicts(), "confidence": self.confidence.to_dicts(),
                "disagreements": rows(self.disagreements), "skipped": rows(self.skipped)}

    def __repr__(self) -> str:
        return f"<ShadowReport {self.summary}>"

    def _repr_html_(self) -> str:
        off = (self.flips.filter((pl.col("production_class") != pl.col("candidate_class")) & (pl.col("count") > 0))
               .sort("count", "production_class", descending=[True, False]).head(10))
        flips = "".join(f"<tr><td>{escape(a)}</td><td>&rarr;</td><td>{escape(b)}</td><td>{c}</td></tr>"
                        for a, b, c in off.iter_rows())
        table = (f"<table><tr><th>production</th><th></th><th>candidate</th><th>images</th></tr>{flips}</table>"
                 if flips else "<div>No flips: both models gave every image the same class.</div>")
        colour = "#b00020" if self.alert else "#1b5e20"
        head = (f"<div><b>Shadow</b> {escape(self.name)} <code>{escape(self.candidate_version[:12])}</code> vs "
                f"production <code>{escape(self.production_version[:12])}</code> &mdash; "
                f"<span style='color:{colour}'>{'ALERT' if self.alert else 'ok'}</span></div>")
        return f"<div class='cvops-shadow'>{head}<p>{escape(self.summary)}</p>{table}</div>"


def _pct(v: float) -> str:
    return "n/a" if math.isnan(v) else f"{100 * v:.1f}%"


def _summary(name: str, cand: str, prod: str, n: int, res: dict[str, Any], flips: pl.DataFrame,
             reviewed: dict[str, Any] | None, reasons: list[str], n_skipped: int) -> str:
    lo, hi = res["agreement_ci"]
    ci = "" if math.isnan(lo) else f" (95% CI {_pct(lo)}-{_pct(hi)})"
    kappa = "n/a" if math.isnan(res["kappa"]) else f"{res['kappa']:.2f}"
    text = (f"{name}: candidate {cand[:12]} agrees with production {prod[:12]} on {_pct(res['agreement'])} of "
            f"{n:,} images{ci}, kappa {kappa}")
    top = flips.filter((pl.col("production_class") != pl.col("candidate_class")) & (pl.col("count") > 0)) \
        .sort("count", "production_class", descending=[True, False])
    if top.height:
        a, b, c = top.row(0)
        text += f"; most moved: {a} -> {b} ({c})"
    if reviewed:
        text += (f"; on {reviewed['n']} reviewed images accuracy {reviewed['accuracy_production']:.3f} -> "
                 f"{reviewed['accuracy_candidate']:.3f} (McNemar p {reviewed['mcnemar_p']:.3g})")
    if n_skipped:
        text += f"; {n_skipped} images skipped"
    return text + (f"; ALERT: {'; '.join(reasons)}" if reasons else "") + "."


def build_report(pairs: pl.DataFrame, *, name: str, production_version: str, candidate_version: str,
                 classes: Sequence[str], bootstrap: int = 1000, seed: int = 0, min_agreement: float = 0.9,
                 skipped: pl.DataFrame | None = None, mode: str = "rerun",
                 iou_threshold: float = 0.5) -> ShadowReport:
    """A :class:`ShadowReport` from paired answers (pure; see :data:`PAIR_COLUMNS`).

    Examples
    --------
    >>> pairs = pl.DataFrame({"prediction_id": ["p1", "p2", "p3"], "image_id": ["i1", "i2", "i3"],
    ...     "path": [None] * 3, "production_class": ["a", "b", "b"], "production_score": [0.9, 0.8, 0.7],
    ...     "candidate_class": ["a", "b", "a"], "candidate_score": [0.95, 0.6, 0.9],
    ...     "reviewed_class": [None, None, "a"]})
    >>> rep = build_report(pairs, name="clf", production_version="p" * 32, candidate_version="c" * 32,
    ...                    classes=["a", "b"], bootstrap=100)
    >>> round(rep.agreement, 3), rep.disagreements["prediction_id"].to_list(), rep.alert
    (0.667, ['p3'], True)
    """
    missing = [c for c in PAIR_COLUMNS if c not in pairs.columns]
    if missing:
        raise ValueError(f"pairs lack the columns {missing}")
    if not 0 <= min_agreement <= 1:
        raise ValueError(f"min_agreement must lie in [0, 1], got {min_agreement}")
    if pairs.height == 0:
        raise ValueError("no paired images to compare")
    classes = list(classes)
    pairs = pairs.with_columns(*(pl.col(c).cast(t) for c, t in PAIR_COLUMNS.items()))
    prod = stats.encode(pairs["production_class"], classes)
    cand = stats.encode(pairs["candidate_class"], classes)
    res = stats.agreement_kappa(prod, cand, len(classes), bootstrap=bootstrap, seed=seed)
    flips = stats.flip_matrix(prod, cand, classes)
    p_score = pairs["production_score"].fill_null(np.nan).to_numpy()
    c_score = pairs["candidate_score"].fill_null(np.nan).to_numpy()
    confidence = stats.confidence_summary(p_score, c_score, prod == cand)
    known = pairs.filter(pl.col("reviewed_class").is_not_null())
    reviewed = stats.reviewed_comparison(known["reviewed_class"].to_list(), known["production_class"].to_list(),
                                         known["candidate_class"].to_list())
    disagreements = (pairs.filter(pl.col("production_class") != pl.col("candidate_class"))
                     .with_columns((pl.col("candidate_score") - pl.col("production_score")).alias("confidence_delta"))
                     .sort(pl.min_horizontal("production_score", "candidate_score"), "prediction_id",
                           descending=[True, False], nulls_last=True)
                     .select(DISAGREEMENT_COLUMNS))
    boxes = None
    if {"production_boxes", "candidate_boxes"} <= set(pairs.columns) and (
            pairs["production_boxes"].null_count() < pairs.height or pairs["candidate_boxes"].null_count() < pairs.height):
        boxes = stats.box_agreement(pairs["production_boxes"].to_list(), pairs["candidate_boxes"].to_list(),
                                    iou_threshold=iou_threshold)
    reasons = []
    if res["agreement"] < min_agreement:
        reasons.append(f"agreement {_pct(res['agreement'])} is under {_pct(min_agreement)}")
    if reviewed and reviewed["mcnemar_p"] < P_WORSE and reviewed["c"] < reviewed["b"]:
        reasons.append(f"the candidate is significantly worse on reviewed images (McNemar p "
                       f"{reviewed['mcnemar_p']:.3g}, {reviewed['b']} lost vs {reviewed['c']} gained)")
    skipped = pl.DataFrame(schema=SKIPPED_SCHEMA) if skipped is None else skipped.select(
        *(pl.col(c).cast(t) if c in skipped.columns else pl.lit(None, t).alias(c) for c, t in SKIPPED_SCHEMA.items()))
    return ShadowReport(
        name=name, production_version=production_version, candidate_version=candidate_version, classes=classes,
        n=res["n"], agreement=res["agreement"], agreement_ci=res["agreement_ci"], kappa=res["kappa"],
        kappa_ci=res["kappa_ci"], flips=flips, flip_summary=stats.flip_summary(flips), confidence=confidence,
        reviewed=reviewed, disagreements=disagreements, alert=bool(reasons),
        summary=_summary(name, candidate_version, production_version, res["n"], res, flips, reviewed, reasons,
                         skipped.height),
        boxes=boxes, skipped=skipped, mode=mode, min_agreement=min_agreement, alert_reasons=reasons)
