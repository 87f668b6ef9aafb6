"""A run as a card: plain text (terminals, VS Code, nbclient) and compact HTML.

Both are built from the run's JSON payload (``Run.to_dict()``, also sent as
``application/vnd.cvops.run+json``). Every value is escaped: params, metric names and
error messages come from user code.
"""

from __future__ import annotations

import html
from datetime import datetime
from typing import Any

RUN_MIME = "application/vnd.cvops.run+json"

_STATUS_COLOR = {"running": "#1565c0", "finished": "#2e7d32", "failed": "#c62828"}


def format_duration(seconds: float | None) -> str:
    """``0.42 s``, ``12.3 s``, ``4 min 05 s``, ``2 h 03 min``; ``-`` when unknown.

    Examples
    --------
    >>> format_duration(0.42), format_duration(245), format_duration(7380), format_duration(None)
    ('0.42 s', '4 min 05 s', '2 h 03 min', '-')
    """
    if seconds is None:
        return "-"
    if seconds < 9.995:  # what rounds to 10.00 reads 10.0
        return f"{seconds:.2f} s"
    if seconds < 59.95:
        return f"{seconds:.1f} s"
    if seconds < 3600:
        minutes, secs = divmod(int(round(seconds)), 60)
        return f"{minutes} min {secs:02d} s"
    hours, rest = divmod(int(round(seconds)), 3600)
    return f"{hours} h {rest // 60:02d} min"


def format_value(value: Any) -> str:
    """A param or metric for a card: floats with 4 significant digits, others as text.

    Examples
    --------
    >>> format_value(0.000123456), format_value(5), format_value("adam"), format_value(0.94)
    ('0.0001235', '5', 'adam', '0.94')
    """
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def _when(iso: str | None) -> str:
    if not iso:
        return "-"
    try:
        return datetime.fromisoformat(iso).strftime("%Y-%m-%d %H:%M:%S UTC")
    except ValueError:
        return iso


def _pairs(values: dict[str, Any]) -> str:
    return ", ".join(f"{k}={format_value(v)}" for k, v in values.items()) or "-"


def _inputs(inputs: list[dict[str, Any]]) -> list[str]:
    out = []
    for i in inputs:
        vid = str(i.get("version_id") or "?")
        label = f"{i['name']} ({vid[:12]})" if i.get("name") else vid[:12]
        tv = i.get("taxonomy_version")
        out.append(label + (f", taxonomy v{tv}" if tv is not None else ""))
    return out


def _git(git: dict[str, Any] | None) -> str:
    if not git or not git.get("commit"):
        return (git or {}).get("error") or "-"
    text = str(git["commit"])[:12] + (" (dirty)" if git.get("dirty") else "")
    return text + (f" on {git['branch']}" if git.get("branch") else "")


def _rows(p: dict[str, Any]) -> list[tuple[str, str]]:
    steps = p.get("metric_steps") or {}
    metrics = ", ".join(
        f"{k}={format_value(v)}" + (f" (step {steps[k]})" if k in steps else "") for k, v in p["metrics"].items()
    ) or "-"
    rows = [
        ("inputs", "; ".join(_inputs(p["inputs"])) or "-"),
        ("params", _pairs(p["params"])),
        ("metrics", metrics),
    ]
    seeded = (p.get("seeds") or {}).get("seeded") or {}
    if seeded:
        rows.append(("seeds", _pairs(seeded)))
    models = p.get("models") or []
    if models:
        rows.append(("models", ", ".join(f"{m['name']} {str(m.get('version') or '?')[:12]}" for m in models)))
    rows += [
        ("environment", p.get("environment_summary") or "-"),
        ("git", _git(p.get("git"))),
    ]
    nb = p.get("notebook")
    if nb:
        problem = p.get("notebook_error")
        rows.append(("notebook", str(nb) + (f" ({problem})" if problem else "")))
    if p.get("outer_run_id"):
        rows.append(("inside run", str(p["outer_run_id"])[:12]))
    if p.get("error"):
        rows.append(("error", str(p["error"])))
    return rows


def _head(p: dict[str, Any]) -> str:
    name = f"{p['name']!r}" if p.get("name") else "(unnamed)"
    status = p.get("status") or "recorded"
    verb = {"running": "running for", "finished": "finished in", "failed": "failed after"}.get(status, status)
    return f"cvops {p.get('kind') or 'run'} {name} {verb} {format_duration(p.get('duration_s'))}"


def card_text(p: dict[str, Any]) -> str:
    """The plain-text card of a run payload.

    Examples
    --------
    >>> p = {"run_id": "ab" * 16, "kind": "run", "name": "train", "status": "finished", "duration_s": 2.5,
    ...      "user": "ana", "started_at": None, "inputs": [], "params": {"lr": 0.001}, "metrics": {"acc": 0.94}}
    >>> print(card_text(p))
    cvops run 'train' finished in 2.50 s (abababababab, by ana, started -)
      inputs       -
      params       lr=0.001
      metrics      acc=0.94
      environment  -
      git          -
    """
    head = f"{_head(p)} ({str(p['run_id'])[:12]}, by {p.get('user') or '?'}, started {_when(p.get('started_at'))})"
    return "\n".join([head, *(f"  {k:<12} {v}" for k, v in _rows(p))])


def card_html(p: dict[str, Any]) -> str:
    """The compact HTML card of a run payload (inline styles: renders in any front end).

    Examples
    --------
    >>> p = {"run_id": "ab" * 16, "kind": "run", "name": "<i>", "status": "failed", "duration_s": 1.0,
    ...      "inputs": [], "params": {}, "metrics": {}, "error": "ValueError: <x>"}
    >>> h = card_html(p)
    >>> "&lt;i&gt;" in h and "<i>" not in h and "ValueError: &lt;x&gt;" in h
    True
    """
    e = html.escape
    status = p.get("status") or "recorded"
    color = _STATUS_COLOR.get(status, "#555")
    name = e(str(p.get("name") or "(unnamed)"))
    rows = "".join(
        f'<tr><th style="text-align:left;padding:1px 8px 1px 0;font-weight:600;vertical-align:top">{e(k)}</th>'
        f'<td style="text-align:left;padding:1px 0">{e(v)}</td></tr>'
        for k, v in _rows(p)
    )
    return (
        f'<div class="cvops-run-card" data-run-id="{e(str(p["run_id"]))}" data-status="{e(status)}" '
        'style="border:1px solid #ccc;border-radius:6px;padding:6px 10px;margin:2px 0;font-size:12px;'
        'max-width:760px">'
        f'<div style="margin-bottom:4px"><span style="color:#666">{e(str(p.get("kind") or "run"))}</span> '
        f"<b>{name}</b> "
        f'<span style="color:#fff;background:{color};border-radius:3px;padding:0 5px">{e(status)}</span> '
        f"{e(format_duration(p.get('duration_s')))} "
        f'<code title="{e(str(p["run_id"]))}">{e(str(p["run_id"])[:12])}</code> '
        f'<span style="color:#666">by {e(str(p.get("user") or "?"))}, {e(_when(p.get("started_at")))}</span></div>'
        f'<table style="border-collapse:collapse;margin:0">{rows}</table></div>'
    )
