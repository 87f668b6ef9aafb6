"""``retrain_due``: is it time to retrain a model? Age, drift and skew alerts since its training data,
label-drift alerts and taxonomy changes since its dataset version, new reviewed labels; each with evidence."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import polars as pl

from .._store import Store, now_utc
from ..checks.results import read_checks
from ..datasets.versions import _get as get_version
from ..models import aliases as _aliases
from ..models.registry import get_model

#: Review decisions that give an image a (new) label.
LABEL_DECISIONS = ("accept", "set")


@dataclass
class RetrainDue:
    """Whether ``model`` (``name@alias``) is due for a retrain, and why.

    ``signals`` holds one dict per signal (``signal``, ``due``, ``message``, ``evidence``):
    ``age``, ``input_drift``, ``skew``, ``label_drift``, ``taxonomy``, ``reviews`` and (from
    ``ws.retrain_due``) ``production_accuracy``. ``due`` is True when any signal is.

    Examples
    --------
    >>> d = RetrainDue("clf@production", "ab" * 16, [{"signal": "age", "due": True, "message": "old",
    ...                                               "evidence": {}}])
    >>> d.due, d.reasons
    (True, ['old'])
    """

    model: str
    version: str
    signals: list[dict[str, Any]] = field(default_factory=list)
    dataset_version: str | None = None
    checked_at: datetime = field(default_factory=now_utc)

    @property
    def due(self) -> bool:
        """True when at least one signal says a retrain is due."""
        return any(s["due"] for s in self.signals)

    @property
    def reasons(self) -> list[str]:
        """The messages of the signals that are due."""
        return [str(s["message"]) for s in self.signals if s["due"]]

    def to_dict(self) -> dict[str, Any]:
        """JSON form (the side panel and the audit read it)."""
        return {"model": self.model, "version": self.version, "dataset_version": self.dataset_version,
                "due": self.due, "reasons": self.reasons, "signals": self.signals,
                "checked_at": self.checked_at.isoformat()}

    def __repr__(self) -> str:
        head = f"{self.model} ({self.version[:12]}): retrain {'DUE' if self.due else 'not due'}"
        return "\n".join([f"<RetrainDue {head}>", *(f"  - {r}" for r in self.reasons)])


def _signal(name: str, due: bool, message: str, evidence: dict[str, Any]) -> dict[str, Any]:
    return {"signal": name, "due": bool(due), "message": message, "evidence": evidence}


def accuracy_signal(overall: pl.DataFrame, version: str, expected: float | None, *, evaluation: str | None = None,
                    min_reviewed: int = 20) -> dict[str, Any]:
    """The ``production_accuracy`` signal (pure): due when the served predictions of ``version`` on
    reviewed images are significantly less accurate than its evaluation said (the Wilson interval's
    upper end below ``expected``), once at least ``min_reviewed`` of them were reviewed.

    ``overall`` is ``ws.production_accuracy(...).overall`` (per model version and role).

    Examples
    --------
    >>> overall = pl.DataFrame({"model_version": ["v1"], "role": ["served"], "n_reviewed": [40], "n_correct": [24],
    ...                         "accuracy": [0.6], "ci_low": [0.446], "ci_high": [0.737]})
    >>> sig = accuracy_signal(overall, "v1", 0.9)
    >>> sig["due"], sig["message"]
    (True, 'production accuracy 0.60 [0.45, 0.74] on 40 reviewed predictions, below the 0.90 its evaluation gave')
    """
    rows = overall.filter((pl.col("model_version") == version) & (pl.col("role") == "served")) \
        if overall.height else overall
    row = rows.row(0, named=True) if rows.height else None
    n = int(row["n_reviewed"]) if row else 0
    evidence: dict[str, Any] = {"n_reviewed": n, "expected_accuracy": expected, "evaluation_check": evidence_id(
        evaluation), "min_reviewed": min_reviewed}
    if row is None or n == 0 or row["accuracy"] is None:
        return _signal("production_accuracy", False, "no served prediction of this version was reviewed yet "
                       "(ws.review_queue(predictions='low_confidence'))", evidence)
    acc, lo, hi = float(row["accuracy"]), float(row["ci_low"]), float(row["ci_high"])
    evidence |= {"accuracy": acc, "ci_low": lo, "ci_high": hi}
    head = f"production accuracy {acc:.2f} [{lo:.2f}, {hi:.2f}] on {n} reviewed predictions"
    if expected is None:
        return _signal("production_accuracy", False, f"{head}; no evaluation of this version to compare with", evidence)
    worse = n >= min_reviewed and hi < expected
    if worse:
        return _signal("production_accuracy", True, f"{head}, below the {expected:.2f} its evaluation gave", evidence)
    more = f" (judged from {min_reviewed})" if n < min_reviewed else ""
    return _signal("production_accuracy", False, f"{head}, consistent with its evaluation's {expected:.2f}{more}",
                   evidence)


def evidence_id(value: str | None) -> str | None:
    """A check id as evidence (None stays None)."""
    return None if value is None else str(value)


def expected_accuracy(store: Store, name: str, version: str) -> tuple[float | None, str | None]:
    """The newest evaluation's accuracy of ``name``'s ``version`` and its check id (or None, None).

    Examples
    --------
    >>> import tempfile
    >>> expected_accuracy(Store.create(tempfile.mkdtemp() + "/ws"), "clf", "v1")
    (None, None)
    """
    import json

    frame = read_checks(store, kind="evaluation", target=f"{name}:{version}")
    if frame.height == 0:
        return None, None
    last = frame.row(frame.height - 1, named=True)
    acc = (json.loads(last["result"] or "{}").get("overall") or {}).get("accuracy")
    return (float(acc) if isinstance(acc, (int, float)) else None), str(last["check_id"])


def _alerts(store: Store, kind: str, since: datetime, what: str, target: str | None = None) -> dict[str, Any]:
    frame = read_checks(store, kind=kind, target=target, since=since)
    hits = frame.filter(pl.col("alert")) if frame.height else frame
    evidence: dict[str, Any] = {"since": since.isoformat(), "checks": frame.height, "alerts": hits.height,
                "check_ids": hits["check_id"].to_list()[-10:] if hits.height else [],
                "summaries": hits["summary"].to_list()[-3:] if hits.height else []}
    last = f"; last: {evidence['summaries'][-1]}" if hits.height else ""
    message = (f"{hits.height} {what} alert{'s' if hits.height != 1 else ''} since {since:%Y-%m-%d}{last}"
               if hits.height else f"no {what} alert since {since:%Y-%m-%d} ({frame.height} checks ran)")
    return _signal(kind if kind != "agreement" else "label_drift", hits.height > 0, message, evidence)


def retrain_due(store: Store, ref: str, *, max_age_days: float = 90.0, min_new_reviews: int = 1,
                now: datetime | None = None) -> RetrainDue:
    """Whether the model ``ref`` (``"name@alias"``, or ``"name"``: its newest version) is due for a retrain.

    Parameters
    ----------
    max_age_days
        Due when the model version is older than this (days since it was registered).
    min_new_reviews
        Due when at least this many review decisions that set or accepted a label were made
        since its dataset version was taken.
    now
        The time to judge at (default: now, UTC).

    Signals: ``age``; ``input_drift`` and ``skew`` alerts (``checks``) since its training
    data was versioned (skew: on this model); ``label_drift`` (agreement checks that alerted);
    ``taxonomy`` versions committed after its dataset version's; ``reviews`` (new reviewed labels).

    Examples
    --------
    >>> due = retrain_due(ws.store, "defect-clf@production")   # doctest: +SKIP
    >>> due.due, due.reasons                                  # doctest: +SKIP
    """
    mv = get_model(store, ref)
    when = now or now_utc()
    signals: list[dict[str, Any]] = []
    age = (when - mv.created_at).total_seconds() / 86400 if mv.created_at else 0.0
    since_alias = None
    if mv.alias:
        history = _aliases.alias_history(store, mv.name, mv.alias)
        if history.height:
            since_alias = history["created_at"][-1]
    signals.append(_signal("age", age > max_age_days,
                           f"model version is {age:.0f} days old (limit {max_age_days:g})",
                           {"registered_at": mv.created_at.isoformat() if mv.created_at else None,
                            "alias_since": since_alias.isoformat() if since_alias else None,
                            "age_days": round(age, 2), "max_age_days": max_age_days}))
    dv = get_version(store, mv.dataset_version) if mv.dataset_version else None
    since = dv.created_at if dv is not None else (mv.created_at or when - timedelta(days=max_age_days))
    signals.append(_alerts(store, "input_drift", since, "input-drift"))
    skew = _alerts(store, "skew", since, "skew")
    skew_hits = read_checks(store, kind="skew", since=since)
    if skew_hits.height:
        mine = skew_hits.filter(pl.col("alert") & pl.col("target").str.starts_with(mv.name))
        skew["due"] = mine.height > 0
    signals.append(skew)
    signals.append(_alerts(store, "agreement", since, "label-drift"))
    tax = store.read("taxonomy_versions")
    base = dv.taxonomy_version if dv is not None else mv.taxonomy_version
    newer = tax.filter(pl.col("version") > (base or 0)).sort("version") if tax.height and base is not None \
        else tax.clear()
    changes = [{"version": r["version"], "created_at": r["created_at"].isoformat() if r["created_at"] else None,
                "author": r["author"], "message": r["message"]} for r in newer.iter_rows(named=True)]
    signals.append(_signal("taxonomy", bool(changes),
                           f"{len(changes)} taxonomy change{'s' if len(changes) != 1 else ''} since v{base}"
                           + (f": {changes[-1]['message']}" if changes else ""),
                           {"trained_on_taxonomy": base, "versions": changes}))
    reviews = store.read("reviews", columns=["decision_id", "image_id", "decision", "created_at", "reviewer"])
    new = reviews.filter((pl.col("created_at") > since) & pl.col("decision").is_in(list(LABEL_DECISIONS)))
    n_new = new["decision_id"].n_unique() if new.height else 0
    signals.append(_signal("reviews", n_new >= min_new_reviews and n_new > 0,
                           f"{n_new} new reviewed label{'s' if n_new != 1 else ''} since {since:%Y-%m-%d}",
                           {"since": since.isoformat(), "decisions": n_new,
                            "images": new["image_id"].n_unique() if new.height else 0,
                            "reviewers": sorted(set(new["reviewer"].drop_nulls().to_list())) if new.height else [],
                            "image_ids": new["image_id"].unique(maintain_order=True).to_list()[:10]
                            if new.height else []}))
    return RetrainDue(model=mv.ref if mv.alias else mv.name, version=mv.version, signals=signals,
                      dataset_version=mv.dataset_version, checked_at=when)
