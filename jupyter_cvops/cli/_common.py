"""What every ``cvops`` command shares: output (``--json`` or a summary), the workspace, one-line errors."""

from __future__ import annotations

import argparse
import json
import os
from typing import Any

import polars as pl

from .._report import ProblemReport

_SHOWN_PROBLEMS = 10  # problems listed in a summary without --problems

class CliError(Exception):
    """An error reported as one line on stderr with exit status 1."""


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

