"""``AuditReport`` and ``Answer``: the ten questions answered, scored per area, rendered as text, HTML and JSON.

The report is a plain record: :mod:`jupyter_cvops.audit.questions` computes the answers, this module
only adds them up and renders them (a card in JupyterLab through the MIME type
``application/vnd.cvops.audit+json``, text under nbclient and in terminals, ``to_dict()`` for the CLI).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from html import escape
from typing import Any

AUDIT_MIME = "application/vnd.cvops.audit+json"
ANSWERS = ("yes", "partial", "no")
AREAS: dict[str, str] = {
    "data": "labels and taxonomy",
    "models": "what made the model",
    "serving": "what production sees",
    "operations": "retrain and roll back",
}
_MARK = {"yes": "[yes]", "partial": "[partial]", "no": "[no]"}


@dataclass
class Answer:
    """One question answered from the workspace's tables.

    Attributes
    ----------
    number : int
        1..10, the question's number (see ``jupyter_cvops.audit.QUESTIONS``).
    question : str
        The question, as asked.
    area : str
        ``"data"``, ``"models"``, ``"serving"`` or ``"operations"``.
    answer : str
        ``"yes"``, ``"partial"`` or ``"no"``.
    evidence : dict
        What the answer rests on: ids, counts, times (ISO), thresholds, and ``show``: the call that shows it.
    next_step : str or None
        The concrete thing to do when the answer is not yes.

    Examples
    --------
    >>> a = Answer(9, "Is there a documented, working rollback?", "operations", "no", {"aliases": 0},
    ...            "set a production alias: ws.set_alias('clf', 'production', version)")
    >>> a.to_dict()["answer"], a.points
    ('no', 0.0)
    """

    number: int
    question: str
    area: str
    answer: str
    evidence: dict[str, Any] = field(default_factory=dict)
    next_step: str | None = None

    def __post_init__(self) -> None:
        if self.answer not in ANSWERS:
            raise ValueError(f"an answer is one of {', '.join(ANSWERS)}, got {self.answer!r}")
        if self.answer == "yes":
            self.next_step = None

    @property
    def points(self) -> float:
        """1 for yes, 0.5 for partial, 0 for no."""
        return {"yes": 1.0, "partial": 0.5, "no": 0.0}[self.answer]

    def to_dict(self) -> dict[str, Any]:
        """JSON form (evidence made JSON-able: times as ISO strings)."""
        return {"number": self.number, "question": self.question, "area": self.area, "answer": self.answer,
                "evidence": _plain(self.evidence), "next_step": self.next_step}


def _plain(value: Any) -> Any:
    """``value`` with datetimes as ISO text, tuples and sets as lists, so ``json.dumps`` takes it."""
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set)):
        return [_plain(v) for v in value]
    if isinstance(value, float) and value != value:
        return None
    return value


@dataclass
class AuditReport:
    """The ten questions answered with evidence, as of one time.

    ``score`` counts the yes answers (0..10); ``areas`` sums them per area like the ML Test Score
    (yes = 1 point, partial = 0.5); ``to_dict()`` is what ``cvops audit --json`` prints.

    Examples
    --------
    >>> rep = AuditReport(datetime(2026, 12, 1), "production", [
    ...     Answer(1, "q1", "models", "yes", {}), Answer(3, "q3", "data", "partial", {}, "commit the taxonomy")])
    >>> rep.score, [a["points"] for a in rep.areas]
    (1, [0.5, 1.0])
    >>> rep.text().splitlines()[0]
    'cvops audit as of 2026-12-01 00:00:00 UTC (alias production): 1/2 yes, 1 partial'
    """

    as_of: datetime
    alias: str
    answers: list[Answer]
    parameters: dict[str, Any] = field(default_factory=dict)

    @property
    def score(self) -> int:
        """How many questions are answered yes (0..10)."""
        return sum(a.answer == "yes" for a in self.answers)

    @property
    def n_partial(self) -> int:
        """How many questions are answered partial."""
        return sum(a.answer == "partial" for a in self.answers)

    @property
    def areas(self) -> list[dict[str, Any]]:
        """Per area (data, models, serving, operations, in that order): questions, yes, partial, no, points, of."""
        out = []
        for area, what in AREAS.items():
            mine = [a for a in self.answers if a.area == area]
            if not mine:
                continue
            out.append({"area": area, "about": what, "questions": [a.number for a in mine],
                        "yes": sum(a.answer == "yes" for a in mine),
                        "partial": sum(a.answer == "partial" for a in mine),
                        "no": sum(a.answer == "no" for a in mine),
                        "points": sum(a.points for a in mine), "of": len(mine)})
        return out

    def answer(self, number: int) -> Answer:
        """The answer to question ``number`` (1..10).

        Examples
        --------
        >>> ws.audit().answer(9).evidence["rollbacks"]   # doctest: +SKIP
        """
        for a in self.answers:
            if a.number == number:
                return a
        raise KeyError(f"no question {number} in this audit (questions are 1..10)")

    def to_dict(self) -> dict[str, Any]:
        """JSON form: as_of, alias, score, of, partial, areas, answers, parameters."""
        return {"as_of": self.as_of.isoformat(), "alias": self.alias, "score": self.score,
                "of": len(self.answers), "partial": self.n_partial, "areas": self.areas,
                "answers": [a.to_dict() for a in self.answers], "parameters": _plain(self.parameters)}

    def summary(self) -> str:
        """One line: the score, how many partial, and the weakest area."""
        when = self.as_of.strftime("%Y-%m-%d %H:%M:%S UTC")
        return (f"cvops audit as of {when} (alias {self.alias}): {self.score}/{len(self.answers) or 10} yes, "
                f"{self.n_partial} partial")

    def text(self) -> str:
        """The report as plain text: the score, each answer with its evidence and next step, the areas.

        Examples
        --------
        >>> print(ws.audit().text())   # doctest: +SKIP
        """
        lines = [self.summary()]
        for a in self.answers:
            lines.append(f"{a.number:>2}. {_MARK[a.answer]:<9} {a.question}")
            ev = {k: v for k, v in a.evidence.items() if k != "show"}
            if ev:
                lines.append("      evidence: " + _short(ev))
            if a.evidence.get("show"):
                lines.append(f"      shown by: {a.evidence['show']}")
            if a.next_step:
                lines.append(f"      next: {a.next_step}")
        lines.append("areas: " + "; ".join(f"{x['area']} {x['points']:g}/{x['of']}" for x in self.areas))
        return "\n".join(lines)

    def __repr__(self) -> str:
        return f"<AuditReport {self.score}/10 yes, {self.n_partial} partial, as of {self.as_of.isoformat()}>"

    def _repr_html_(self) -> str:
        rows = []
        for a in self.answers:
            ev = {k: v for k, v in a.evidence.items() if k != "show"}
            show = a.evidence.get("show")
            detail = escape(_short(ev)) + (f"<br><code>{escape(str(show))}</code>" if show else "")
            nxt = f"<br><b>next:</b> {escape(a.next_step)}" if a.next_step else ""
            rows.append(f"<tr data-answer='{a.answer}'><td>{a.number}</td><td>{escape(a.question)}</td>"
                        f"<td><b>{a.answer}</b></td><td>{detail}{nxt}</td></tr>")
        areas = ", ".join(f"{escape(x['area'])} {x['points']:g}/{x['of']}" for x in self.areas)
        return (f"<div class='cvops-audit'><b>{escape(self.summary())}</b><div>areas: {areas}</div>"
                "<table><tr><th>#</th><th>question</th><th>answer</th><th>evidence</th></tr>"
                + "".join(rows) + "</table></div>")

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, Any]:
        return {AUDIT_MIME: self.to_dict(), "text/plain": self.text(), "text/html": self._repr_html_()}


def _short(value: Any, limit: int = 400) -> str:
    """Evidence on one line, cut at ``limit`` characters."""
    text = json.dumps(_plain(value), default=str, separators=(", ", ": "))
    return text if len(text) <= limit else text[: limit - 3] + "..."
