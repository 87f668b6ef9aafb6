"""The prediction commands: ``cvops predictions`` (the log) and ``cvops skew`` (a check: exit 4 on skew)."""

from __future__ import annotations

import argparse
from typing import Any

import polars as pl

from ._common import _out, _ws, time_arg
from ._notify import CheckOutcome, finish

_SHOWN = ("prediction_id", "time", "source", "alias", "model_version", "predicted_class", "score", "status", "role")


def cmd_predictions(args: argparse.Namespace) -> None:
    """``cvops predictions [MODEL]``: the prediction log, oldest first.

    Examples
    --------
    $ cvops -w ws predictions defect-clf@production --since 2026-11-01 --json
    """
    frame = _ws(args).predictions(args.model, since=args.since, until=args.until, source=args.source,
                                  version=args.version)
    n = frame.height
    if args.limit:
        frame = frame.tail(args.limit)
    if args.json:
        _out(args, frame)
        return
    print(f"{n} predictions" + (f" (the last {frame.height} shown)" if frame.height < n else ""))
    if frame.height:
        shown = frame.select([c for c in _SHOWN if c in frame.columns]).with_columns(
            pl.col("model_version").str.slice(0, 12))
        with pl.Config(tbl_rows=200, tbl_cols=12, fmt_str_lengths=40, tbl_width_chars=200):
            print(shown)


def cmd_skew(args: argparse.Namespace) -> int:
    """``cvops skew NAME@ALIAS``: training/serving skew, recorded as a check; exit 4 on skew.

    Examples
    --------
    $ cvops -w ws skew defect-clf@production --notify https://hooks.example/x
    """
    ws = _ws(args)
    rep = ws.skew(args.model, version=args.version, sample=args.sample, seed=args.seed,
                  input_stats=not args.no_input_stats, alpha=args.alpha)
    outcome = CheckOutcome("skew", f"{rep.model}:{rep.version}", not rep.ok, rep.sentence, rep.to_dict(),
                           check_id=rep.check_id)
    report = rep.to_dict() | {"groups": rep.groups.to_dicts(), "differences": rep.differences.to_dicts()}
    return finish(args, outcome, ws.uri, report, f"{'SKEW' if not rep.ok else 'ok'}: {rep.sentence}")


def add_prediction_parsers(command: Any, common: argparse.ArgumentParser, notify: argparse.ArgumentParser) -> None:
    """``cvops predictions`` and ``cvops skew``."""
    s = command("predictions", "logged predictions, oldest first", cmd_predictions, [common])
    s.add_argument("model", nargs="?", help="NAME (every version) or NAME@ALIAS (logged through that alias)")
    s.add_argument("--since", type=time_arg, help="from this time on (ISO date or datetime; naive: UTC)")
    s.add_argument("--until", type=time_arg, help="before this time (ISO date or datetime; naive: UTC)")
    s.add_argument("--source", help="only this source (camera, line)")
    s.add_argument("--version", help="only this model version id")
    s.add_argument("--limit", type=int, help="only the last N rows")

    s = command("skew", "training/serving skew of a model version (exit 4 when serving differs from training)",
                cmd_skew, [common, notify])
    s.add_argument("model", help="NAME@ALIAS, or NAME with --version")
    s.add_argument("--version", help="model version id (with a plain NAME)")
    s.add_argument("--sample", type=int, default=200, help="served images replayed per pipeline (default: 200)")
    s.add_argument("--seed", type=int, default=0, help="seed of the sample (default: 0)")
    s.add_argument("--alpha", type=float, default=0.01,
                   help="significance of the served-vs-training image statistics tests (default: 0.01)")
    s.add_argument("--no-input-stats", action="store_true",
                   help="skip comparing image statistics of served and training images")
