"""Comparing a re-run's metrics with a recipe's expectations (pure)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any


def compare_metrics(expected: Mapping[str, Mapping[str, Any]], got: Mapping[str, Any]) -> list[dict[str, Any]]:
    """One row per metric: metric, expected, got, diff (got - expected), tolerance, status.

    ``status`` is ``ok`` (within tolerance; NaN equals NaN), ``outside``, ``missing`` (the
    re-run did not log it) or ``new`` (logged now, not expected; never a failure).

    Examples
    --------
    >>> rows = compare_metrics({"acc": {"value": 0.9, "tolerance": 0.01}, "loss": {"value": 0.3, "tolerance": 0}},
    ...                        {"acc": 0.905, "f1": 0.8})
    >>> [(r["metric"], r["status"]) for r in rows]
    [('acc', 'ok'), ('loss', 'missing'), ('f1', 'new')]
    """
    rows = []
    for key, spec in expected.items():
        want, tol = float(spec["value"]), float(spec.get("tolerance") or 0.0)
        if key not in got or got[key] is None:
            rows.append({"metric": key, "expected": want, "got": None, "diff": None, "tolerance": tol,
                         "status": "missing"})
            continue
        have = float(got[key])
        if math.isnan(want) or math.isnan(have):
            ok, diff = math.isnan(want) and math.isnan(have), math.nan
        else:
            diff = have - want
            ok = abs(diff) <= tol
        rows.append({"metric": key, "expected": want, "got": have, "diff": diff, "tolerance": tol,
                     "status": "ok" if ok else "outside"})
    for key in sorted(k for k in got if k not in expected):
        rows.append({"metric": key, "expected": None, "got": float(got[key]), "diff": None, "tolerance": None,
                     "status": "new"})
    return rows


def _num(value: Any) -> str:
    return "-" if value is None else f"{value:.6g}"


def diff_table(rows: list[dict[str, Any]]) -> str:
    """The comparison as an aligned text table (what ``cvops retrain`` prints).

    Examples
    --------
    >>> print(diff_table([{"metric": "acc", "expected": 0.9, "got": 0.8, "diff": -0.1, "tolerance": 1e-6,
    ...                    "status": "outside"}]))
    metric  expected  got  diff  tolerance  status
    acc     0.9       0.8  -0.1  1e-06      outside
    """
    head = ["metric", "expected", "got", "diff", "tolerance", "status"]
    body = [[str(r["metric"]), _num(r["expected"]), _num(r["got"]), _num(r["diff"]), _num(r["tolerance"]),
             str(r["status"])] for r in rows]
    widths = [max(len(x) for x in col) for col in zip(head, *body)]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(line, widths)).rstrip() for line in [head, *body])


def outside(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The rows that fail a check: ``outside`` and ``missing``.

    Examples
    --------
    >>> outside([{"status": "ok"}, {"status": "missing"}])
    [{'status': 'missing'}]
    """
    return [r for r in rows if r["status"] in ("outside", "missing")]
