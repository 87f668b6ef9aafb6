"""``GET /cvops/api/audit?workspace=REL_PATH``: the ten audit questions answered, for the panel's Audit section.

Optional query parameters, as for ``ws.audit``: ``as_of`` (an ISO date or date-time, naive = UTC),
``alias`` (default ``production``; one some model held), ``model`` (a registered model name) and
``max_age_days`` (a positive number). The answer is ``ws.audit(...).to_dict()`` plus ``workspace``.
A bad parameter is answered 400 with a one-line reason; the workspace is opened read-only, so nothing
is recorded (``cvops audit`` records a check; the panel only reads).
"""

from __future__ import annotations

import math
from typing import Any

import tornado.web
from jupyter_server.auth.decorator import authorized

from ._base import CvopsHandler
from .paths import WorkspaceRefused


def audit_params(as_of: str | None, alias: str | None, model: str | None,
                 max_age_days: str | None) -> dict[str, Any]:
    """The query parameters of ``GET audit`` as ``ws.audit`` keyword arguments (pure; no workspace).

    Empty values mean "not given". ``alias`` and ``model`` are checked against the workspace later
    (see :func:`read_audit`).

    Raises
    ------
    WorkspaceRefused
        400 ``bad_as_of``, ``bad_alias`` or ``bad_max_age_days`` with a one-line reason.

    Examples
    --------
    >>> audit_params("2026-11-30", None, None, "7")["max_age_days"]
    7.0
    >>> audit_params("yesterday", None, None, None)
    Traceback (most recent call last):
    ...
    jupyter_cvops._server.paths.WorkspaceRefused: as_of must be an ISO date or date-time, got 'yesterday'
    """
    from .._store import WorkspaceError
    from ..checks.results import time_bound

    out: dict[str, Any] = {"as_of": None, "alias": None, "model": model or None, "max_age_days": 30.0}
    if as_of:
        try:
            out["as_of"] = time_bound(as_of, "as_of")
        except WorkspaceError:
            raise WorkspaceRefused(400, "bad_as_of", "as_of must be an ISO date or date-time, "
                                                     f"got {as_of!r}") from None
    if alias:
        if "@" in alias or not alias.strip():
            raise WorkspaceRefused(400, "bad_alias", f"alias must be an alias name such as 'production', got {alias!r}")
        out["alias"] = alias
    if max_age_days:
        try:
            days = float(max_age_days)
        except ValueError:
            days = math.nan
        if not (math.isfinite(days) and days > 0):
            raise WorkspaceRefused(400, "bad_max_age_days",
                                   f"max_age_days must be a positive number of days, got {max_age_days!r}")
        out["max_age_days"] = days
    return out


def read_audit(ws: Any, params: dict[str, Any]) -> dict[str, Any]:
    """``ws.audit(**params).to_dict()``; an ``alias`` no model ever held or an unknown ``model`` is refused (400).

    The default alias (``production``) is never refused: a workspace without it answers its questions "no".

    Examples
    --------
    >>> read_audit(ws, audit_params(None, None, None, None))["score"]   # doctest: +SKIP
    0
    """
    alias, model = params["alias"], params["model"]
    if alias is not None or model is not None:
        history = ws.alias_history()
        if alias is not None and alias not in set(history["alias"].to_list()):
            raise WorkspaceRefused(400, "unknown_alias", f"no model has ever held alias {alias!r}")
        if model is not None and model not in set(ws.models()["model"].to_list()):
            raise WorkspaceRefused(400, "unknown_model", f"no registered model named {model!r}")
    report = ws.audit(params["as_of"], alias=alias or "production", model=model,
                      max_age_days=params["max_age_days"])
    out: dict[str, Any] = report.to_dict()
    return out


class AuditHandler(CvopsHandler):
    """``GET /cvops/api/audit?workspace=REL_PATH[&as_of=ISO][&alias=A][&model=M][&max_age_days=N]``."""

    @tornado.web.authenticated
    @authorized
    async def get(self) -> None:
        try:
            params = audit_params(*(self.get_query_argument(k, None)
                                    for k in ("as_of", "alias", "model", "max_age_days")))
        except WorkspaceRefused as error:
            self.refuse(error)
            return
        out = await self.with_workspace(lambda ws: read_audit(ws, params))
        if out is not None:
            self.reply({"workspace": self.get_query_argument("workspace"), **out})
