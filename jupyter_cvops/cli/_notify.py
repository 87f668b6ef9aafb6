"""What every check command shares: its outcome (target, alert, summary, check id), the exit code, and
``--notify URL``: the alert POSTed as JSON to a webhook (standard library only)."""

from __future__ import annotations

import argparse
import json
import sys
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from .._version import __version__
from ._common import EXIT_ALERT, EXIT_OK, _line

NOTIFY_TIMEOUT = 5.0
"""Seconds a webhook may take to answer before the notification is given up (the check's exit code stays)."""


@dataclass
class CheckOutcome:
    """What a check command found, as the webhook and ``--json`` carry it.

    Examples
    --------
    >>> o = CheckOutcome("drift", "demo-train", True, "2 of 5 windows drifted", {"n_drifted": 2})
    >>> o.exit_code, o.payload("/ws")["command"]
    (4, 'drift')
    """

    command: str
    target: str
    alert: bool
    summary: str
    result: dict[str, Any] = field(default_factory=dict)
    check_id: str | None = None
    code: int | None = None  # default: EXIT_ALERT on an alert, else EXIT_OK

    @property
    def exit_code(self) -> int:
        """The command's exit status."""
        if self.code is not None:
            return self.code
        return EXIT_ALERT if self.alert else EXIT_OK

    def payload(self, workspace: str | None) -> dict[str, Any]:
        """The JSON body POSTed to ``--notify`` (and the head of ``--json`` output)."""
        return {"command": self.command, "target": self.target, "alert": self.alert,
                "exit_code": self.exit_code, "summary": self.summary, "check_id": self.check_id,
                "result": plain(self.result), "workspace": workspace,
                "time": datetime.now().astimezone().isoformat(timespec="seconds"), "cvops": __version__}


def plain(value: Any) -> Any:
    """``value`` as plain JSON types (NaN as null, datetimes as ISO text), as the ``checks`` table stores it.

    Examples
    --------
    >>> plain({"p": float("nan"), "n": 3})
    {'n': 3, 'p': None}
    """
    from ..checks.results import to_json

    return json.loads(to_json(value))


def webhook_url(text: str) -> str:
    """``--notify URL``: an http(s) URL with a host, checked at parse time (a usage mistake otherwise).

    Examples
    --------
    >>> webhook_url("https://hooks.example.com/T000/B000")
    'https://hooks.example.com/T000/B000'
    >>> webhook_url("hooks.example.com")
    Traceback (most recent call last):
    ...
    argparse.ArgumentTypeError: --notify needs an http:// or https:// URL, got 'hooks.example.com'
    """
    parts = urllib.parse.urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise argparse.ArgumentTypeError(f"--notify needs an http:// or https:// URL, got {text!r}")
    return text


def notify_options() -> argparse.ArgumentParser:
    """The options every check command takes: ``--notify URL``, ``--notify-always``, ``--notify-timeout``."""
    p = argparse.ArgumentParser(add_help=False)
    g = p.add_argument_group("notification")
    g.add_argument("--notify", metavar="URL", type=webhook_url,
                   help="POST the alert as JSON to this webhook (command, target, summary, result, check_id, "
                        "exit_code, workspace) when the check raises one; a failed POST is reported on stderr "
                        "and does not change the exit code")
    g.add_argument("--notify-always", action="store_true",
                   help="POST the result to --notify even when there is no alert")
    g.add_argument("--notify-timeout", type=float, default=NOTIFY_TIMEOUT, metavar="SECONDS",
                   help=f"seconds the webhook may take to answer (default: {NOTIFY_TIMEOUT:g})")
    return p


def post_json(url: str, body: dict[str, Any], timeout: float = NOTIFY_TIMEOUT) -> int:
    """POST ``body`` as JSON to ``url``; the HTTP status (an error status or no answer raises ``OSError``).

    Examples
    --------
    >>> post_json("http://127.0.0.1:9/hook", {"alert": True}, timeout=0.5)   # doctest: +SKIP
    """
    data = json.dumps(body, default=str).encode()
    req = urllib.request.Request(url, data=data, method="POST", headers={
        "Content-Type": "application/json", "User-Agent": f"cvops/{__version__}"})
    with urllib.request.urlopen(req, timeout=timeout) as resp:  # noqa: S310 (the scheme is checked)
        status: int = resp.status
        return status


def finish(args: argparse.Namespace, outcome: CheckOutcome, workspace: str | None,
           report: Any = None, text: str | None = None) -> int:
    """Print the outcome (``--json``: the webhook's body plus ``report``; else ``text`` or the summary),
    notify when asked, and return the exit code."""
    body = outcome.payload(workspace)
    if args.json:
        print(json.dumps(body | ({"report": plain(report)} if report is not None else {}), default=str, indent=2))
    else:
        print(text if text is not None else outcome.summary)
    return notify(args, outcome, workspace, body)


def notify(args: argparse.Namespace, outcome: CheckOutcome, workspace: str | None,
           body: dict[str, Any] | None = None) -> int:
    """POST the outcome to ``--notify`` when it alerts (or ``--notify-always``); the exit code, unchanged
    whether the POST worked or not (a failure is one warning line on stderr)."""
    url = getattr(args, "notify", None)
    if url and (outcome.alert or outcome.exit_code != EXIT_OK or getattr(args, "notify_always", False)):
        try:
            post_json(url, body or outcome.payload(workspace), timeout=getattr(args, "notify_timeout", NOTIFY_TIMEOUT))
        except (OSError, ValueError) as exc:  # URLError, HTTPError, timeouts are OSErrors
            reason = (f"HTTP {exc.code} {exc.reason}" if isinstance(exc, urllib.error.HTTPError)
                      else exc.reason if isinstance(exc, urllib.error.URLError) else exc)
            print(f"cvops {args.command}: warning: could not notify {url}: {_line(str(reason))}", file=sys.stderr)
    return outcome.exit_code
