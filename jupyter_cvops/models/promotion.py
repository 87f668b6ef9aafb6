"""The promotion gate: move an alias only when the recorded evidence holds (``ws.promote``).

A promotion reads what already ran (the ``checks`` table: shadow reports, recipe ``--check`` runs,
skew checks, evaluations), never recomputes it, and judges each requirement with the pure
:func:`judge`. When all hold, the alias moves with an ``aliases`` row of action ``promote`` whose
``evidence`` holds every requirement, what was found and the check ids; a refused promotion moves
nothing, raises :class:`PromotionRefused` naming what failed, and both are recorded as a check of
kind ``promotion`` (alert when refused). A plain ``ws.set_alias`` still works: its row has no
evidence, which the audit shows as a move that bypassed the gate.

Requirements (``require=``; default ``{"shadow": True}``):

``shadow``
    a shadow report (``ws.shadow``) of this version against the alias's current holder, not older
    than ``max_age_days``, that raised no alert.
``min_agreement``
    that report's top-1 agreement is at least this (0..1).
``no_worse_on_reviewed``
    on the report's reviewed images, the candidate is not significantly worse (McNemar p >= 0.05,
    or at least as many correct); fails when the report had no reviewed images.
``min_reviewed``
    the report compared at least this many reviewed images.
``recipe_check``
    a recipe ``--check`` (``cvops retrain --check``) passed on a run that registered this version.
``no_skew``
    the newest skew check of this version (or of the holder when both share one preprocessing
    fingerprint) found no skew.
``min_metric``
    ``{"accuracy": 0.9, ...}``: the newest evaluation of this version (``ws.evaluate``) reaches each.

Requirements that compare with the current holder are not applicable when nothing holds the
alias yet (the first promotion); they are recorded as such.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from html import escape
from typing import TYPE_CHECKING, Any

import polars as pl

from .._store import now_utc
from ..checks.results import read_checks, record_check
from ._errors import ModelError
from .aliases import _state, _version_of, check_alias, set_alias
from .version import ModelVersion

if TYPE_CHECKING:
    from .._store import Store

REQUIREMENTS: dict[str, str] = {
    "shadow": "a recent shadow report of this version against the current holder, without alert",
    "min_agreement": "top-1 agreement with the current holder in that shadow report, at least",
    "no_worse_on_reviewed": "not significantly worse than the holder on reviewed images (McNemar p >= 0.05)",
    "min_reviewed": "reviewed images in that shadow report, at least",
    "recipe_check": "a passing recipe --check of a run that registered this version",
    "no_skew": "the newest skew check of this version (or of the holder, same preprocessing) found no skew",
    "min_metric": "the newest evaluation of this version reaches each metric",
}
"""What ``require=`` may ask for, and what each means."""

DEFAULT_REQUIRE: dict[str, Any] = {"shadow": True}
_NEEDS_SHADOW = ("shadow", "min_agreement", "no_worse_on_reviewed", "min_reviewed")
_ALPHA = 0.05


class PromotionRefused(ModelError):
    """A promotion whose evidence does not hold: nothing moved; ``.promotion`` says what failed and why."""

    def __init__(self, message: str, promotion: Promotion) -> None:
        super().__init__(message)
        self.promotion = promotion


@dataclass
class Promotion:
    """The gate's verdict on moving ``name@to`` to ``version`` (see :func:`promote`).

    Attributes
    ----------
    passed
        Whether every requirement held.
    requirements
        One row per requirement: ``requirement, wanted, found, passed, check_id, why``.
    model_version
        The version now holding the alias (None when refused or a dry run).
    """

    name: str
    version: str
    to: str
    holder: str | None
    passed: bool
    requirements: pl.DataFrame
    reason: str | None
    dry_run: bool = False
    check_id: str | None = None
    model_version: ModelVersion | None = field(default=None, repr=False)

    @property
    def failed(self) -> list[str]:
        """Names of the requirements that did not hold."""
        return self.requirements.filter(~pl.col("passed"))["requirement"].to_list()

    @property
    def summary(self) -> str:
        """One sentence."""
        what = f"{self.name}@{self.to} -> {self.version[:12]}"
        if not self.passed:
            whys = self.requirements.filter(~pl.col("passed"))["why"].to_list()
            return f"promotion {what} refused: " + "; ".join(whys)
        n = self.requirements.height
        verb = "would pass" if self.dry_run else "promoted"
        return f"{verb} {what}: {n} requirement{'s' if n != 1 else ''} held"

    def evidence(self) -> dict[str, Any]:
        """What the alias history keeps with the move (JSON-able)."""
        return {"gate": "promote", "passed": self.passed, "holder": self.holder,
                "requirements": self.requirements.to_dicts(),
                "checks": [c for c in self.requirements["check_id"].to_list() if c]}

    def __repr__(self) -> str:
        return f"<Promotion {self.summary}>"

    def _repr_html_(self) -> str:
        rows = "".join(
            f"<tr><td>{'&#10003;' if r['passed'] else '&#10007;'}</td><td>{escape(r['requirement'])}</td>"
            f"<td>{escape(str(r['wanted']))}</td><td>{escape(str(r['found']))}</td><td>{escape(r['why'])}</td></tr>"
            for r in self.requirements.iter_rows(named=True))
        colour = "#1b5e20" if self.passed else "#b00020"
        return (f"<div class='cvops-promotion'><div style='color:{colour}'><b>{escape(self.summary)}</b></div>"
                f"<table><tr><th></th><th>requirement</th><th>wanted</th><th>found</th><th>why</th></tr>"
                f"{rows}</table></div>")


def _row(requirement: str, wanted: Any, found: Any, passed: bool, why: str, check_id: str | None = None,
         ) -> dict[str, Any]:
    return {"requirement": requirement, "wanted": json.dumps(wanted, default=str),
            "found": None if found is None else json.dumps(found, default=str), "passed": bool(passed),
            "check_id": check_id, "why": why}


_SCHEMA = {"requirement": pl.String, "wanted": pl.String, "found": pl.String, "passed": pl.Boolean,
           "check_id": pl.String, "why": pl.String}


def judge(require: Mapping[str, Any], evidence: Mapping[str, Any]) -> pl.DataFrame:
    """Each requirement against the evidence found (pure): ``requirement, wanted, found, passed, check_id, why``.

    ``evidence`` holds ``holder`` (the alias's current version or None), ``shadow`` (the newest
    matching shadow check as ``{"check_id", "result", "created_at"}`` or None), ``recipe`` (a passing
    recipe check or None), ``skew`` (the newest skew check or None) and ``evaluation`` (the newest
    evaluation check or None).

    Examples
    --------
    >>> shadow = {"check_id": "c1", "result": {"agreement": 0.97, "alert": False, "reviewed": None}}
    >>> judge({"shadow": True, "min_agreement": 0.95}, {"holder": "v1", "shadow": shadow})["passed"].to_list()
    [True, True]
    >>> judge({"min_agreement": 0.99}, {"holder": "v1", "shadow": shadow})["why"][0]
    'agreement 0.970 with the holder is below 0.99 (shadow check c1)'
    """
    unknown = sorted(set(require) - set(REQUIREMENTS))
    if unknown:
        raise ModelError(f"unknown promotion requirement(s) {unknown}; known: {', '.join(REQUIREMENTS)}")
    rows: list[dict[str, Any]] = []
    holder, shadow = evidence.get("holder"), evidence.get("shadow")
    for key, wanted in require.items():
        if wanted is False or wanted is None:
            continue
        if key in _NEEDS_SHADOW:
            if holder is None:
                rows.append(_row(key, wanted, None, True, "not applicable: nothing holds the alias yet"))
                continue
            if shadow is None:
                rows.append(_row(key, wanted, None, False, "no recent shadow report of this version against the "
                                 f"holder {str(holder)[:12]}: run ws.shadow(name, candidate=...) first"))
                continue
            rows.append(_shadow_row(key, wanted, shadow))
        elif key == "recipe_check":
            got = evidence.get("recipe")
            rows.append(_row(key, wanted, None, False, "no passing recipe --check registered this version: "
                             "export its notebook as a recipe and run cvops retrain RECIPE --check")
                        if got is None else
                        _row(key, wanted, {"recipe": got.get("target")}, True,
                             f"recipe {got.get('target')!r} reproduced it", got["check_id"]))
        elif key == "no_skew":
            got = evidence.get("skew")
            if got is None:
                rows.append(_row(key, wanted, None, False, "no skew check of this version (or of the holder with "
                                 "the same preprocessing): run ws.skew(...) on its logged predictions"))
            else:
                ok = not got.get("alert")
                rows.append(_row(key, wanted, {"alert": got.get("alert")}, ok,
                                 "no training/serving skew" if ok else f"skew found: {got.get('summary')}",
                                 got["check_id"]))
        else:  # min_metric
            rows.extend(_metric_rows(wanted, evidence.get("evaluation")))
    return pl.DataFrame(rows, schema=_SCHEMA)


def _shadow_row(key: str, wanted: Any, shadow: Mapping[str, Any]) -> dict[str, Any]:
    res, cid = shadow.get("result") or {}, shadow.get("check_id")
    reviewed = res.get("reviewed") or {}
    if key == "shadow":
        ok = not res.get("alert")
        return _row(key, wanted, {"alert": res.get("alert")}, ok,
                    "shadow report without alert" if ok else
                    "the shadow report raised an alert: " + "; ".join(res.get("alert_reasons") or ["see it"]), cid)
    if key == "min_agreement":
        got = res.get("agreement")
        ok = got is not None and got >= float(wanted)
        why = (f"agreement {got:.3f} with the holder" if got is not None else "no agreement in the report")
        return _row(key, wanted, got, ok, f"{why} {'reaches' if ok else 'is below'} {wanted} (shadow check {cid})", cid)
    n = int(reviewed.get("n") or 0)
    if key == "min_reviewed":
        ok = n >= int(wanted)
        return _row(key, wanted, n, ok, f"{n} reviewed images compared ({'enough' if ok else f'need {wanted}'})",
                    cid)
    if n == 0:  # no_worse_on_reviewed
        return _row(key, wanted, None, False, "no reviewed images in the shadow report: review some with "
                    "ws.review_queue(predictions=report.disagreements) first", cid)
    acc_p, acc_c = reviewed.get("accuracy_production"), reviewed.get("accuracy_candidate")
    p = reviewed.get("mcnemar_p")
    worse = acc_c is not None and acc_p is not None and acc_c < acc_p and p is not None and p < _ALPHA
    found = {"accuracy_candidate": acc_c, "accuracy_production": acc_p, "mcnemar_p": p, "n": n}
    why = (f"candidate {acc_c:.3f} vs holder {acc_p:.3f} on {n} reviewed images (McNemar p={p:.3g})"
           if None not in (acc_c, acc_p, p) else f"{n} reviewed images")
    return _row(key, wanted, found, not worse, ("significantly worse: " if worse else "not worse: ") + why, cid)


def _metric_rows(wanted: Any, evaluation: Mapping[str, Any] | None) -> list[dict[str, Any]]:
    if not isinstance(wanted, Mapping) or not wanted:
        raise ModelError('min_metric takes a mapping of metric -> minimum, e.g. {"accuracy": 0.9}')
    if evaluation is None:
        return [_row(f"min_metric.{m}", v, None, False, "no evaluation of this version: run ws.evaluate(...)")
                for m, v in wanted.items()]
    overall = (evaluation.get("result") or {}).get("overall") or {}
    out = []
    for metric, minimum in wanted.items():
        got = overall.get(metric)
        ok = isinstance(got, (int, float)) and got >= float(minimum)
        why = (f"{metric} {got:.4g} {'reaches' if ok else 'is below'} {minimum}" if isinstance(got, (int, float))
               else f"the evaluation has no {metric!r} (it has {', '.join(sorted(overall)) or 'nothing'})")
        out.append(_row(f"min_metric.{metric}", minimum, got, ok, why, evaluation.get("check_id")))
    return out


def _checks(store: Store, kind: str, since: datetime) -> list[dict[str, Any]]:
    """Checks of ``kind`` newer than ``since``, newest first, with their JSON parsed."""
    frame = read_checks(store, kind=kind, since=since)
    out = []
    for row in reversed(frame.to_dicts()):
        row["result"] = json.loads(row.get("result") or "{}")
        row["parameters"] = json.loads(row.get("parameters") or "{}")
        out.append(row)
    return out


def gather(store: Store, name: str, version: str, holder: str | None, *, max_age_days: float,
           as_of: datetime | None = None) -> dict[str, Any]:
    """The evidence :func:`judge` reads, from the ``checks`` table (newest first, not older than
    ``max_age_days``).

    Examples
    --------
    >>> import tempfile
    >>> from jupyter_cvops._store import Store
    >>> gather(Store.create(tempfile.mkdtemp() + "/ws"), "clf", "v2", "v1", max_age_days=30)["shadow"] is None
    True
    """
    since = (as_of or now_utc()) - timedelta(days=max_age_days)
    shadow = next((c for c in _checks(store, "shadow", since)
                   if c["target"] == name and c["result"].get("candidate_version") == version
                   and c["result"].get("production_version") == holder), None)
    recipe = next((c for c in _checks(store, "recipe", since)
                   if c["result"].get("ok") and c["parameters"].get("mode") == "check"
                   and any(m.get("version") == version for m in c["result"].get("models") or [])), None)
    targets = [f"{name}:{version}"]
    if holder is not None:
        fingerprints = (store.read("model_versions", where=f"model = '{_q(name)}'", columns=[
            "version_id", "preprocess_fingerprint"]).filter(pl.col("version_id").is_in([version, holder])))
        if fingerprints["preprocess_fingerprint"].n_unique() == 1 and fingerprints.height == 2:
            targets.append(f"{name}:{holder}")  # one preprocessing: the holder's serving skew is this one's
    skews = _checks(store, "skew", since)
    skew = next((c for t in targets for c in skews if c["target"] == t), None)
    evaluation = next((c for c in _checks(store, "evaluation", since) if c["target"] == f"{name}:{version}"), None)
    return {"holder": holder, "shadow": shadow, "recipe": recipe, "skew": skew, "evaluation": evaluation}


def _q(text: str) -> str:
    return text.replace("'", "''")


def promote(store: Store, name: str, version: ModelVersion | str, *, to: str = "production", reason: str,
            require: Mapping[str, Any] | None = None, max_age_days: float = 30, dry_run: bool = False,
            ) -> Promotion:
    """Move ``name@to`` to ``version`` when the evidence holds (``ws.promote``); see the module docstring.

    Raises :class:`PromotionRefused` (nothing moved) when a requirement fails; ``dry_run=True``
    only judges (nothing moved, nothing raised, nothing recorded).

    Examples
    --------
    >>> ws.promote("defect-clf", cand.version, to="production", reason="shadow week 12 clean",
    ...            require={"min_agreement": 0.95, "no_worse_on_reviewed": True})   # doctest: +SKIP
    <Promotion promoted defect-clf@production -> 3f9a0c1d2e4b: 2 requirements held>
    """
    if not isinstance(reason, str) or not reason.strip():
        raise ModelError("a promotion needs a reason (it is kept in the alias history)")
    check_alias(to)
    wanted = dict(DEFAULT_REQUIRE if require is None else require)
    with store.lock:
        vid = _version_of(store, name, version)
        held = _state(store, name).get(to)
        holder = held.version_id if held is not None else None
        if holder == vid:
            raise ModelError(f"{name}@{to} already points at {vid[:12]}: nothing to promote")
        table = judge(wanted, gather(store, name, vid, holder, max_age_days=max_age_days))
        out = Promotion(name, vid, to, holder, bool(table["passed"].all()), table, reason, dry_run=dry_run)
        if dry_run:
            return out
        if out.passed:
            out.model_version = set_alias(store, name, to, vid, reason=reason, evidence=out.evidence(),
                                          action="promote")
        out.check_id = record_check(
            store, "promotion", f"{name}@{to}",
            parameters={"version": vid, "require": wanted, "max_age_days": max_age_days},
            result=out.evidence() | {"version": vid}, alert=not out.passed, summary=out.summary)
    if not out.passed:
        raise PromotionRefused(out.summary, out)
    return out
