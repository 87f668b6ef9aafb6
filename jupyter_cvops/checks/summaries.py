"""What a check found, in a few numbers and one sentence: pure builders for the ``checks`` table.

Each builder takes the full result of a check (an agreement report, a drift frame) and returns a
:class:`CheckSummary` (result, alert, sentence) small enough to store with every run of the check.
They read the result duck-typed (attributes and columns), so ``checks`` needs nothing but the store.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from datetime import datetime
from typing import Any, NamedTuple

import polars as pl
import xxhash

MAX_LISTED = 20
"""Alerts (or drifted windows with their details) kept in a stored result; counts are always complete."""


class CheckSummary(NamedTuple):
    """A check's compact ``result`` (JSON-able), whether it ``alert``\\ s, and a one-sentence ``summary``."""

    result: dict[str, Any]
    alert: bool
    summary: str


def describe_selection(value: Any, *, default: str = "all images") -> str:
    """Text naming a selection of images (a check's target or its current side), stable across calls.

    A name or id is itself; a dataset version its name (else its id); a polars expression its text;
    a frame with ``image_id`` (e.g. predictions) or a list of ids ``"<n> images (<digest>)"``, the
    digest being XXH3-64 of the sorted distinct ids.

    Examples
    --------
    >>> describe_selection("demo-train"), describe_selection(None)
    ('demo-train', 'all images')
    >>> describe_selection(pl.col("source") == "line-1")
    '[(col("source")) == ("line-1")]'
    >>> describe_selection(["b", "a", "a"])
    '2 images (c60f8ba575c1ad36)'
    """
    if value is None:
        return default
    if isinstance(value, str):
        return value
    if isinstance(value, pl.Expr):
        return str(value)
    if hasattr(value, "id") and hasattr(value, "n_images"):  # a DatasetVersion
        return str(getattr(value, "name", None) or value.id)
    if isinstance(value, pl.DataFrame):
        ids: Iterable[Any] = value["image_id"] if "image_id" in value.columns else []
    else:
        ids = value
    distinct = sorted({str(i) for i in ids if i is not None})
    digest = xxhash.xxh3_64_hexdigest("\n".join(distinct).encode())
    return f"{len(distinct)} images ({digest})"


def _num(value: Any, digits: int = 4) -> float | None:
    if value is None:
        return None
    v = float(value)
    return round(v, digits) if math.isfinite(v) else None


def _fmt(value: float | None, digits: int = 2) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}"


def _day(value: Any) -> str | None:
    return value.isoformat() if isinstance(value, datetime) else (None if value is None else str(value))


# ------------------------------------------------------------------------------------------ agreement
def agreement_summary(report: Any) -> CheckSummary:
    """Summary of an agreement report: overall metrics with their CIs, label-drift alerts, annotators.

    ``alert`` is true when the report raised any label-drift alert.

    Examples
    --------
    >>> from jupyter_cvops.agreement.metrics import agreement_report
    >>> df = pl.DataFrame({"item": [1, 1, 2, 2, 3, 3], "annotator": ["a", "b"] * 3,
    ...                    "class_name": ["x", "x", "y", "y", "x", "y"]})
    >>> s = agreement_summary(agreement_report(df, bootstrap=50))
    >>> s.alert, s.result["metrics"]["krippendorff_alpha"]["value"]
    (False, 0.4444)
    >>> s.summary
    "Krippendorff's alpha 0.44 (95% CI ...) over 3 items from 2 annotators; no label-drift alert."
    """
    metrics: dict[str, dict[str, Any]] = {}
    for row in report.overall.iter_rows(named=True):
        metrics[str(row["metric"])] = {
            "value": _num(row.get("value")), "ci_low": _num(row.get("ci_low")), "ci_high": _num(row.get("ci_high")),
            "n_items": row.get("n_items"), "n_labels": row.get("n_labels"),
        }
    alerts: pl.DataFrame = report.alerts
    listed = [
        {"annotator": a.get("annotator"), "class_name": a.get("class_name"), "window_start": _day(a.get("window_start")),
         "drop": _num(a.get("drop")), "p_value": _num(a.get("p_value"), 6),
         "taxonomy_version": a.get("taxonomy_version")}
        for a in alerts.head(MAX_LISTED).iter_rows(named=True)
    ]
    meta = dict(getattr(report, "meta", {}) or {})
    result: dict[str, Any] = {
        "metrics": metrics, "n_alerts": alerts.height, "alerts": listed,
        "annotators": list(meta.get("annotators", [])), "n_items": meta.get("n_items"),
        "n_labels": meta.get("n_labels"), "consensus": meta.get("consensus"),
    }
    boxes = getattr(report, "boxes", None)
    if boxes is not None and hasattr(boxes, "overall"):
        result["boxes"] = {str(r["metric"]): _num(r.get("value")) for r in boxes.overall.iter_rows(named=True)}
    alpha: dict[str, Any] = metrics.get("krippendorff_alpha", {})
    ci = ""
    if alpha.get("ci_low") is not None and alpha.get("ci_high") is not None:
        level = round(100 * float(meta.get("ci", 0.95)))
        ci = f" ({level}% CI {_fmt(alpha['ci_low'])}-{_fmt(alpha['ci_high'])})"
    n_ann = len(result["annotators"])
    head = (f"Krippendorff's alpha {_fmt(alpha.get('value'))}{ci} over {result['n_items']} items "
            f"from {n_ann} annotator{'s' if n_ann != 1 else ''}")
    if alerts.height == 0:
        tail = "no label-drift alert."
    else:
        first = listed[0]
        when = str(first["window_start"] or "")[:10]
        tail = (f"{alerts.height} label-drift alert{'s' if alerts.height != 1 else ''}, first: "
                f"{first['annotator']} on {first['class_name']} from {when}.")
    return CheckSummary(result, alerts.height > 0, f"{head}; {tail}")


# ---------------------------------------------------------------------------------------------- drift
def drift_summary(frame: pl.DataFrame, *, reference: str, current: str = "all images") -> CheckSummary:
    """Summary of a per-window drift frame (``ws.drift``): per-window flags, worst statistic, novelty.

    ``alert`` is true when any window drifted.

    Examples
    --------
    >>> import datetime as dt
    >>> d = pl.DataFrame({"window": [dt.datetime(2024, 3, 1), dt.datetime(2024, 3, 2)], "n": [40, 38],
    ...                   "statistic": [0.001, 0.09], "p_value": [0.6, 0.001], "q_value": [0.6, 0.002],
    ...                   "drifted": [False, True], "novel_frac": [0.05, 0.7]})
    >>> s = drift_summary(d, reference="demo-train")
    >>> s.alert, s.result["drifted_windows"]
    (True, ['2024-03-02T00:00:00'])
    >>> s.summary
    'Input drift against demo-train in 1 of 2 windows (first 2024-03-02); max MMD² 0.0900, up to 70% novel images.'
    """
    def col(name: str) -> list[Any]:
        return frame[name].to_list() if name in frame.columns else [None] * frame.height

    windows, drifted = col("window"), [bool(d) for d in col("drifted")]
    ns, stats, novel = col("n"), col("statistic"), col("novel_frac")
    per_window = [
        {"window": _day(w), "n": n, "statistic": _num(s, 6), "p_value": _num(p, 6), "q_value": _num(q, 6),
         "drifted": d, "novel_frac": _num(f)}
        for w, n, s, p, q, d, f in zip(windows, ns, stats, col("p_value"), col("q_value"), drifted, novel)
    ]
    finite_stats = [v for v in (_num(s, 6) for s in stats) if v is not None]
    finite_novel = [v for v in (_num(f) for f in novel) if v is not None]
    n_total = sum(int(n) for n in ns if n is not None)
    weighted = [(int(n), float(f)) for n, f in zip(ns, novel) if n is not None and _num(f) is not None]
    novel_overall = (sum(n * f for n, f in weighted) / sum(n for n, _ in weighted)) if weighted and sum(
        n for n, _ in weighted) else None
    flagged = [w["window"] for w in per_window if w["drifted"]]
    features: dict[str, list[str]] = {}
    if "top_features" in frame.columns:
        for w, d, f in zip(per_window, drifted, col("top_features")):
            if d and f and len(features) < MAX_LISTED:
                features[str(w["window"])] = list(f)[:3]
    result: dict[str, Any] = {
        "reference": reference, "current": current, "n_windows": frame.height, "n_drifted": len(flagged),
        "drifted_windows": flagged, "max_statistic": max(finite_stats) if finite_stats else None,
        "max_novel_frac": max(finite_novel) if finite_novel else None,
        "novel_frac": _num(novel_overall), "n_current": n_total,
        "n_reference": col("n_reference")[0] if frame.height else None,
        "embedding": col("embedding")[0] if frame.height else None,
        "windows": per_window, "top_features": features,
    }
    worst = f"max MMD² {_fmt(result['max_statistic'], 4)}"
    if result["max_novel_frac"] is not None:
        worst += f", up to {round(100 * result['max_novel_frac'])}% novel images"
    n_win = f"{frame.height} window{'s' if frame.height != 1 else ''}"
    if flagged:
        sentence = (f"Input drift against {reference} in {len(flagged)} of {n_win} "
                    f"(first {str(flagged[0])[:10]}); {worst}.")
    else:
        sentence = f"No input drift against {reference} in {n_win}; {worst}."
    return CheckSummary(result, bool(flagged), sentence)
