"""Check verbs of :class:`~jupyter_cvops.workspace.Workspace` (mixed into it)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

import polars as pl

from .results import last_check, read_checks, record_check
from .summaries import CheckSummary

if TYPE_CHECKING:
    from .._store import Store


class CheckVerbs:
    """``ws.checks()``, ``ws.last_check()``; verbs that run a check record it with ``_record_check``."""

    _store: Store

    def checks(
        self,
        kind: str | None = None,
        target: str | None = None,
        since: datetime | date | str | None = None,
    ) -> pl.DataFrame:
        """Every check that ran (agreement, input drift, skew, evaluation, ...), oldest first.

        Parameters
        ----------
        kind
            Only checks of this kind (``"agreement"``, ``"input_drift"``, ``"skew"``, ...).
        target
            Only checks of this target (a dataset version name, ``"annotations"``, a model ``name@alias``).
        since
            Only checks recorded at or after this time (a datetime, naive = UTC, or an ISO string).

        Returns
        -------
        polars.DataFrame
            check_id, kind, target, parameters (JSON), result (JSON summary), alert, summary (one
            sentence), created_at, author.

        Examples
        --------
        >>> ws.checks(kind="input_drift").select("created_at", "alert", "summary")   # doctest: +SKIP
        """
        return read_checks(self._store, kind=kind, target=target, since=since)

    def last_check(self, kind: str, target: str | None = None) -> dict[str, Any] | None:
        """The newest check of ``kind`` (on ``target``), ``parameters`` and ``result`` parsed; None if none ran.

        Examples
        --------
        >>> ws.last_check("input_drift", "demo-train")["result"]["n_drifted"]   # doctest: +SKIP
        2
        """
        return last_check(self._store, kind, target)

    def _record_check(self, kind: str, target: str, parameters: Mapping[str, Any], found: CheckSummary) -> str | None:
        """Record a computed check (one append); nothing on a read-only workspace (returns None)."""
        if self._store.readonly:
            return None
        return record_check(self._store, kind, target, parameters=parameters, result=found.result,
                            alert=found.alert, summary=found.summary)
