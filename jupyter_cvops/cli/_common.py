"""What every ``cvops`` command shares: output (``--json`` or a summary), the workspace, one-line errors."""

from __future__ import annotations

import argparse
import json
import os
from typing import Any

import polars as pl

from .._report import ProblemReport

_SHOWN_PROBLEMS = 10  # problems listed in a summary without --problems

# One exit-code convention for every command (``cvops --help`` and the README show it).
EXIT_OK = 0
EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_VERIFY_FAILED = 3
EXIT_ALERT = 4
EXIT_CODES = (
    (EXIT_OK, "ok (a check found nothing to alert on)"),
    (EXIT_ERROR, "error: the command could not do its work (one line on stderr)"),
    (EXIT_USAGE, "usage mistake: a missing, unknown or malformed argument (one line on stderr)"),
    (EXIT_VERIFY_FAILED, "verification failed: files of a dataset version are missing or changed (verify)"),
    (EXIT_ALERT, "alert: a check ran and is outside tolerance (agreement, drift, skew, shadow, "
                 "retrain --check, audit --fail-under)"),
)


def exit_codes_epilog() -> str:
    """The exit-code table printed under ``cvops --help``.

    Examples
    --------
    >>> exit_codes_epilog().splitlines()[0]
    'exit codes:'
    """
    return "exit codes:\n" + "\n".join(f"  {code}  {what}" for code, what in EXIT_CODES)


class CliError(Exception):
    """An error reported as one line on stderr with exit status 1."""


class Parser(argparse.ArgumentParser):
    """An argument parser whose usage mistakes are one line on stderr and exit status 2."""

    def error(self, message: str) -> Any:  # argparse's signature says NoReturn
        self.exit(EXIT_USAGE, f"{self.prog}: error: {_line(message)} (see '{self.prog} --help')\n")


def local_weights(model: str | None, weights: str | None) -> tuple[str, str | None]:
    """The embedding model and weights a command may use: never a download.

    ``imgstats`` needs no weights; an ``open_clip:ARCH`` model needs ``weights`` naming a local
    checkpoint file. With no model given, ``$CVOPS_CLIP_WEIGHTS`` (a local file) and
    ``$CVOPS_CLIP_MODEL`` choose open_clip, else ``imgstats``.

    Examples
    --------
    >>> local_weights(None, None) if "CVOPS_CLIP_WEIGHTS" not in os.environ else ("imgstats", None)
    ('imgstats', None)
    >>> local_weights("open_clip:ViT-B-32", "laion2b_s34b_b79k")
    Traceback (most recent call last):
    ...
    jupyter_cvops.cli._common.CliError: --weights must be a local checkpoint file (the CLI never ...
    """
    if model is None:
        env = os.environ.get("CVOPS_CLIP_WEIGHTS")
        if env and weights is None:
            model, weights = "open_clip:" + os.environ.get("CVOPS_CLIP_MODEL", "ViT-B-32"), env
        else:
            model = "imgstats" if weights is None else "open_clip:" + os.environ.get("CVOPS_CLIP_MODEL", "ViT-B-32")
    if model == "imgstats":
        if weights is not None:
            raise CliError("imgstats needs no --weights (give --model open_clip:ARCH with a checkpoint file)")
        return model, None
    if weights is None:
        raise CliError(f"{model} needs --weights FILE: a local checkpoint (the CLI never downloads weights)")
    path = os.path.expanduser(weights)
    if not os.path.isfile(path):
        raise CliError(f"--weights must be a local checkpoint file (the CLI never downloads weights), "
                       f"not {weights!r}")
    return model, os.path.abspath(path)


def time_arg(text: str) -> str:
    """``--since`` / ``--until`` / ``--as-of``: an ISO date or datetime (naive: UTC), checked at parse time.

    Examples
    --------
    >>> time_arg("2026-11-30")
    '2026-11-30'
    """
    from ..checks.results import time_bound

    try:
        time_bound(text, "time")
    except Exception:
        raise argparse.ArgumentTypeError(f"not an ISO date or time: {text!r} (e.g. 2026-11-30 or "
                                         "2026-11-30T06:00)") from None
    return text


def _frame_json(df: pl.DataFrame) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = json.loads(df.write_json())
    return rows


def _out(args: argparse.Namespace, data: Any, text: str | None = None) -> None:
    if args.json:
        if isinstance(data, pl.DataFrame):
            data = _frame_json(data)
        print(json.dumps(data, default=str, indent=2))
    elif text is not None:
        print(text)
    elif isinstance(data, pl.DataFrame):
        with pl.Config(tbl_rows=200, tbl_cols=20, fmt_str_lengths=60, tbl_width_chars=160):
            print(data)
    else:
        print(data)


def _ws(args: argparse.Namespace) -> Any:
    from ..workspace import Workspace

    return Workspace.open(args.workspace or os.environ.get("CVOPS_WORKSPACE", "."))


def _line(text: str) -> str:
    """``text`` on one line (a file name may hold a newline)."""
    return text.replace("\r", "\\r").replace("\n", "\\n")


def _report_text(rep: ProblemReport, all_problems: bool) -> str:
    """A report's summary line, then its problems one per line (the first few unless ``all_problems``)."""
    frame = rep.problems_frame()
    rows = frame.rows() if all_problems else frame.head(_SHOWN_PROBLEMS).rows()
    lines = [repr(rep).splitlines()[0], *(f"  {_line(str(k))}: {_line(str(r))}" for k, r in rows)]
    if len(frame) > len(rows):
        lines.append(f"  ... and {len(frame) - len(rows)} more (rerun with --problems to list them all)")
    return "\n".join(lines)

