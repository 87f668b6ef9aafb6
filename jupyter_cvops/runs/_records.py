"""The ``runs`` and ``run_metrics`` tables read back: the listing, one run's metrics, finding a run.

Rows written before runs had names, statuses and inputs (snapshot records of older
releases) have nulls there; the listing fills what it can (start time from
``created_at``, inputs from ``dataset_version``) and leaves the rest null.
"""

from __future__ import annotations

import json
from typing import Any

import polars as pl

from .._store import Store, WorkspaceError

BASE: dict[str, pl.DataType] = {
    "run_id": pl.String(), "kind": pl.String(), "name": pl.String(), "status": pl.String(), "user": pl.String(),
    "started_at": pl.Datetime("us", "UTC"), "ended_at": pl.Datetime("us", "UTC"), "duration_s": pl.Float64(),
    "inputs": pl.List(pl.String()), "input_names": pl.List(pl.String()),
    "dataset_version": pl.String(), "taxonomy_version": pl.Int32(),
    "notebook": pl.String(), "git_commit": pl.String(), "error": pl.String(), "parent_run_id": pl.String(),
}


def _loads(text: str | None) -> Any:
    if not text:
        return None
    try:
        return json.loads(text)
    except ValueError:
        return None


def _when(row: dict[str, Any]) -> tuple[Any, ...]:
    """Sort key: start time (``created_at`` for older rows), then id; rows without times first."""
    start = row.get("started_at") or row.get("created_at")
    return (start is not None, start or 0, row["run_id"])


def _column(name: str, values: list[Any]) -> pl.Series:
    """One ``params.*`` column: numbers, booleans or strings when all agree, else JSON text."""
    present = [v for v in values if v is not None]
    if present and all(isinstance(v, bool) for v in present):
        return pl.Series(name, values, dtype=pl.Boolean)
    if present and all(isinstance(v, int) and not isinstance(v, bool) for v in present):
        return pl.Series(name, values, dtype=pl.Int64)
    if present and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in present):
        return pl.Series(name, [None if v is None else float(v) for v in values], dtype=pl.Float64)
    if all(isinstance(v, str) for v in present):
        return pl.Series(name, values, dtype=pl.String)
    return pl.Series(name, [None if v is None else json.dumps(v, sort_keys=True) for v in values], dtype=pl.String)


def list_runs(store: Store) -> pl.DataFrame:
    """Every run, oldest first, with ``params.<name>`` and ``metrics.<name>`` columns.

    Columns: run_id, kind, name, status, user, started_at, ended_at, duration_s (null while
    running), inputs (dataset version ids), input_names, dataset_version and taxonomy_version
    (of the first input), notebook,
    git_commit, error, parent_run_id, then one column per parameter and per metric (its
    last value) seen in any run.

    Examples
    --------
    >>> import tempfile
    >>> st = Store.create(tempfile.mkdtemp() + "/ws")
    >>> list_runs(st).columns[:4]
    ['run_id', 'kind', 'name', 'status']
    """
    rows = store.read("runs").to_dicts()
    rows.sort(key=_when)
    base: dict[str, list[Any]] = {k: [] for k in BASE}
    params: list[dict[str, Any]] = []
    metrics: list[dict[str, Any]] = []
    for r in rows:
        inputs = _loads(r.get("inputs")) or (
            [{"version_id": r["dataset_version"], "name": None}] if r.get("dataset_version") else [])
        start, end = r.get("started_at") or r.get("created_at"), r.get("ended_at")
        for key in ("run_id", "kind", "name", "status", "user", "dataset_version", "taxonomy_version", "notebook",
                    "git_commit", "error", "parent_run_id"):
            base[key].append(r.get(key))
        base["started_at"].append(start)
        base["ended_at"].append(end)
        base["duration_s"].append((end - start).total_seconds() if start and end else None)
        base["inputs"].append([str(i.get("version_id")) for i in inputs])
        base["input_names"].append([i.get("name") for i in inputs])
        params.append(_loads(r.get("params")) or {})
        metrics.append(_loads(r.get("metrics")) or {})
    frame = pl.DataFrame(base, schema=BASE)
    extra = [_column(f"params.{k}", [p.get(k) for p in params]) for k in sorted({k for p in params for k in p})]
    extra += [pl.Series(f"metrics.{k}", [None if m.get(k) is None else float(m[k]) for m in metrics],
                        dtype=pl.Float64) for k in sorted({k for m in metrics for k in m})]
    return frame.with_columns(extra) if extra else frame


def run_metrics(store: Store, run_id: str) -> pl.DataFrame:
    """Every value logged by run ``run_id``: key, step, value, time, by key then step.

    Examples
    --------
    >>> import tempfile
    >>> st = Store.create(tempfile.mkdtemp() + "/ws")
    >>> run_metrics(st, "ab12").columns
    ['key', 'step', 'value', 'time']
    """
    if not run_id.isalnum():
        raise WorkspaceError(f"not a run id: {run_id!r}")
    frame = store.read("run_metrics", where=f"run_id = '{run_id}'", columns=["key", "step", "value", "time"])
    return frame.sort("key", "step", "time", maintain_order=True)


def find_run(store: Store, key: str) -> dict[str, Any]:
    """The row of the run whose id is ``key`` or starts with it (6+ characters), else the latest
    run named ``key``; an error naming close names and recent runs otherwise.

    Examples
    --------
    >>> import tempfile
    >>> st = Store.create(tempfile.mkdtemp() + "/ws")
    >>> find_run(st, "train")
    Traceback (most recent call last):
    ...
    jupyter_cvops._store._errors.WorkspaceError: this workspace has no runs yet: start one with ws.run(name)
    """
    rows = store.read("runs").to_dicts()
    if not rows:
        raise WorkspaceError("this workspace has no runs yet: start one with ws.run(name)")
    exact = [r for r in rows if r["run_id"] == key]
    if exact:
        return exact[0]
    hits = [r for r in rows if len(key) >= 6 and r["run_id"].startswith(key)]
    if len(hits) == 1:
        return hits[0]
    if len(hits) > 1:
        raise WorkspaceError(f"{key!r} is ambiguous: {len(hits)} run ids start with it; give more characters")
    named = [r for r in rows if r.get("name") == key]
    if named:
        return max(named, key=_when)
    import difflib

    names = sorted({r["name"] for r in rows if r.get("name")})
    close = difflib.get_close_matches(key, names, n=1)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    recent = sorted(rows, key=_when)[-5:]
    known = ", ".join(f"{r.get('name') or r.get('kind')} ({r['run_id'][:12]})" for r in recent)
    raise WorkspaceError(f"no run with id or name {key!r}{hint} Recent runs: {known}")
