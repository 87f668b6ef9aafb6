"""Audit verb of :class:`~jupyter_cvops.workspace.Workspace` (mixed into it): ``ws.audit()``."""

from __future__ import annotations

from datetime import date, datetime
from typing import TYPE_CHECKING

from .._store import WorkspaceError, now_utc
from .report import AuditReport

if TYPE_CHECKING:
    from ..workspace import Workspace

VERIFY_MODES = ("fast", "full")


class AuditVerbs:
    """``ws.audit()``: the ten operational questions answered from the workspace, with evidence.

    Examples
    --------
    >>> import tempfile, jupyter_cvops as cv
    >>> ws = cv.Workspace.create(tempfile.mkdtemp() + "/ws")
    >>> ws.audit().score
    0
    """

    def audit(self, as_of: datetime | date | str | None = None, *, alias: str = "production",
              model: str | None = None, max_age_days: float = 30.0, verify: str = "fast") -> AuditReport:
        """Answer the ten questions (yes / partial / no) from this workspace's tables, with evidence.

        Every answer is computed from what the workspace recorded (checks, recipes, the alias history,
        model versions, runs, predictions, taxonomy and dataset versions), never typed in. Rows recorded
        after ``as_of`` do not count, so an audit as of a fixed time gives the same answers tomorrow
        (recipe files and dataset files are checked as they are on disk now).

        Parameters
        ----------
        as_of
            The time the audit speaks for (a datetime, naive = UTC, a date or an ISO string); default now.
        alias
            The model alias that means "in production".
        model
            Audit only this model (default: every model ``alias`` points at).
        max_age_days
            A check (agreement, input drift, shadow report) older than this is stale: ``partial``.
        verify
            How the files of the recipe's dataset versions are verified: ``"fast"`` (the stat cache
            vouches for unchanged files; others are re-hashed) or ``"full"`` (every file re-hashed).

        Returns
        -------
        AuditReport
            ``.score`` (yes answers, 0..10), ``.answers`` (each with ``evidence`` and ``next_step``),
            ``.areas``, ``.to_dict()``, ``.text()``; a card in JupyterLab.

        Examples
        --------
        >>> rep = ws.audit()                                   # doctest: +SKIP
        >>> rep.score, rep.answer(5).evidence["served"]        # doctest: +SKIP
        >>> ws.audit(as_of="2026-11-30").to_dict()["answers"]  # doctest: +SKIP
        """
        from ..checks.results import time_bound
        from ._facts import read_facts
        from .questions import answer_all

        if verify not in VERIFY_MODES:
            raise WorkspaceError(f"verify must be one of {', '.join(VERIFY_MODES)}, not {verify!r}")
        if isinstance(max_age_days, bool) or not isinstance(max_age_days, (int, float)) or not max_age_days > 0:
            raise WorkspaceError(f"max_age_days must be a positive number of days, got {max_age_days!r}")
        if not isinstance(alias, str) or not alias or "@" in alias:
            raise WorkspaceError(f"alias must be an alias name such as 'production', got {alias!r}")
        when = time_bound(as_of, "as_of") or now_utc()
        ws: Workspace = self  # type: ignore[assignment]
        facts = read_facts(ws, when, alias=alias, model=model, max_age_days=float(max_age_days), verify=verify)
        return AuditReport(when, alias, answer_all(facts), parameters={
            "alias": alias, "model": model, "max_age_days": float(max_age_days), "verify": verify})
