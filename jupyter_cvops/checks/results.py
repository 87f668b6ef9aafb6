"""Stored check results: one row per check that ran (what, on what, with which options, what it found).

Every check (annotator agreement, input drift, skew, evaluation; later shadow and recipe checks)
records a compact summary in the ``checks`` table, so the side panel, ``retrain_due``, the promotion
gate and the audit read what ran and when instead of recomputing it. Building a row
(:func:`check_row`) is pure; :func:`record_check` writes it with one append (one Lance commit).
"""

from __future__ import annotations

import json
import math
import uuid
from collections.abc import Mapping
from datetime import date, datetime, timezone
from typing import Any

import polars as pl

from .._store import Store, WorkspaceError, current_user, now_utc

KINDS = ("agreement", "input_drift", "skew", "evaluation", "shadow", "recipe")
"""Kinds written by jupyter-cvops itself; any other non-empty string is accepted for a team's own checks."""


def to_json(value: Any) -> str:
    """Canonical JSON of a check's parameters or result: sorted keys, no NaN (null instead), compact.

    Datetimes become ISO strings; anything else JSON does not know becomes its ``str``.

    Examples
    --------
    >>> to_json({"b": float("nan"), "a": datetime(2024, 1, 2, tzinfo=timezone.utc)})
    '{"a":"2024-01-02T00:00:00+00:00","b":null}'
    """
    return json.dumps(_plain(value), sort_keys=True, separators=(",", ":"), allow_nan=False, default=str)


def _plain(value: Any) -> Any:
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):  # numpy scalars
        try:
            return _plain(value.item())
        except (TypeError, ValueError):
            return str(value)
    return value


def check_row(
    kind: str,
    target: str,
    *,
    parameters: Mapping[str, Any],
    result: Mapping[str, Any],
    alert: bool,
    summary: str,
    author: str | None = None,
    created_at: datetime | None = None,
    check_id: str | None = None,
) -> dict[str, Any]:
    """One row of the ``checks`` table (pure: nothing is written).

    Parameters
    ----------
    kind
        What ran: ``"agreement"``, ``"input_drift"``, ``"skew"``, ``"evaluation"``, ... (see ``KINDS``).
    target
        What was checked: a dataset version name, a model ``name@alias``, ``"annotations"``, ...
    parameters
        The call's options (JSON-able; other values are stored as their ``str``).
    result
        A compact JSON-able summary of what the check found (a few numbers, not the full report).
    alert
        Whether the check asks for attention (a label-drift alert, a drifted window, a skew).
    summary
        One sentence for people.
    author, created_at, check_id
        Defaults: the current user, now (UTC), a new random id.

    Examples
    --------
    >>> row = check_row("input_drift", "demo-train", parameters={"by": "1d"}, result={"n_drifted": 0},
    ...                 alert=False, summary="no input drift", author="ana", check_id="c1")
    >>> row["parameters"], row["alert"], row["author"]
    ('{"by":"1d"}', False, 'ana')
    """
    if not isinstance(kind, str) or not kind.strip():
        raise WorkspaceError(f"a check needs a kind (one of {', '.join(KINDS)}, or your own), got {kind!r}")
    if not isinstance(target, str) or not target:
        raise WorkspaceError(f"a check needs a target (what was checked, as text), got {target!r}")
    when = created_at or now_utc()
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return {
        "check_id": check_id or uuid.uuid4().hex,
        "kind": kind,
        "target": target,
        "parameters": to_json(dict(parameters)),
        "result": to_json(dict(result)),
        "alert": bool(alert),
        "summary": " ".join(str(summary).split()),
        "created_at": when,
        "author": author or current_user(),
    }


def record_check(
    store: Store,
    kind: str,
    target: str,
    *,
    parameters: Mapping[str, Any],
    result: Mapping[str, Any],
    alert: bool,
    summary: str,
) -> str:
    """Write one check result to the ``checks`` table (one append, one commit); returns its ``check_id``.

    A read-only store refuses (:class:`~jupyter_cvops.WorkspaceError`); verbs that compute a check
    on a read-only workspace skip recording instead (see ``CheckVerbs._record``).

    Examples
    --------
    >>> import tempfile
    >>> st = Store.create(tempfile.mkdtemp() + "/ws")
    >>> cid = record_check(st, "agreement", "annotations", parameters={"bootstrap": 0},
    ...                    result={"alpha": 0.8}, alert=False, summary="alpha 0.80")
    >>> st.read("checks")["check_id"].to_list() == [cid]
    True
    """
    row = check_row(kind, target, parameters=parameters, result=result, alert=alert, summary=summary)
    store.append("checks", [row])
    return str(row["check_id"])


def _utc(value: datetime | date | str, name: str) -> datetime:
    """A bound of a time filter as an aware UTC datetime (naive values are taken as UTC)."""
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            raise WorkspaceError(f"{name} must be a datetime or an ISO date/time string, got {value!r}") from None
    if isinstance(value, datetime):
        return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=timezone.utc)
    raise WorkspaceError(f"{name} must be a datetime or an ISO date/time string, got {value!r}")


def time_bound(value: datetime | date | str | None, name: str = "since") -> datetime | None:
    """``since=`` / ``until=`` arguments as UTC datetimes: a datetime (naive: UTC), a date, an ISO string.

    Examples
    --------
    >>> time_bound("2024-03-01")
    datetime.datetime(2024, 3, 1, 0, 0, tzinfo=datetime.timezone.utc)
    >>> time_bound(None) is None
    True
    """
    return None if value is None else _utc(value, name)


def read_checks(
    store: Store,
    kind: str | None = None,
    target: str | None = None,
    since: datetime | date | str | None = None,
) -> pl.DataFrame:
    """Recorded checks, oldest first, optionally of one ``kind``, one ``target``, from ``since`` on.

    Examples
    --------
    >>> import tempfile
    >>> st = Store.create(tempfile.mkdtemp() + "/ws")
    >>> _ = record_check(st, "skew", "clf@production", parameters={}, result={}, alert=True, summary="BGR")
    >>> read_checks(st, kind="skew").select("target", "alert").rows()
    [('clf@production', True)]
    >>> read_checks(st, kind="agreement").height
    0
    """
    frame = store.read("checks")
    if kind is not None:
        frame = frame.filter(pl.col("kind") == kind)
    if target is not None:
        frame = frame.filter(pl.col("target") == target)
    start = time_bound(since, "since")
    if start is not None:
        frame = frame.filter(pl.col("created_at") >= start)
    return frame.sort("created_at", maintain_order=True)  # stable: same-microsecond rows keep their order


def last_check(store: Store, kind: str, target: str | None = None) -> dict[str, Any] | None:
    """The newest check of ``kind`` (on ``target``), with ``parameters`` and ``result`` parsed; None if none ran.

    Examples
    --------
    >>> import tempfile
    >>> st = Store.create(tempfile.mkdtemp() + "/ws")
    >>> last_check(st, "agreement") is None
    True
    >>> _ = record_check(st, "agreement", "annotations", parameters={}, result={"alpha": 0.5}, alert=False,
    ...                  summary="alpha 0.50")
    >>> last_check(st, "agreement", "annotations")["result"]
    {'alpha': 0.5}
    """
    frame = read_checks(store, kind=kind, target=target)
    if frame.height == 0:
        return None
    row = frame.row(frame.height - 1, named=True)
    row["parameters"] = json.loads(row["parameters"] or "{}")
    row["result"] = json.loads(row["result"] or "{}")
    return row
