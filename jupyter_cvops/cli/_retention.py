"""The retention commands: ``cvops compact`` (nightly: compact the prediction log, events and checks, remove
old versions), ``cvops gc`` (unreferenced artifacts and tables) and ``cvops forget`` (images, with a record)."""

from __future__ import annotations

import argparse
from datetime import timedelta
from typing import Any

from ._common import _out, _ws


def _days(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of days: {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must not be negative: {text!r}")
    return value


def cmd_compact(args: argparse.Namespace) -> None:
    """``cvops compact``: compact append-heavy tables and remove their old untagged versions.

    Examples
    --------
    $ cvops -w ws compact                       # nightly
    $ cvops -w ws compact --tables predictions --older-than 1 --dry-run
    """
    rep = _ws(args).compact(args.tables or None, older_than=timedelta(days=args.older_than), dry_run=args.dry_run)
    _out(args, rep.to_dict(), repr(rep))


def cmd_gc(args: argparse.Namespace) -> None:
    """``cvops gc``: list (or with ``--apply`` remove) artifacts and tables nothing references.

    Examples
    --------
    $ cvops -w ws gc
    $ cvops -w ws gc --apply
    """
    rep = _ws(args).gc_artifacts(dry_run=not args.apply, min_age=timedelta(hours=args.min_age_hours))
    _out(args, rep.to_dict(), repr(rep))


def cmd_forget(args: argparse.Namespace) -> None:
    """``cvops forget ID... --reason TEXT``: delete images everywhere, keep a record.

    Examples
    --------
    $ cvops -w ws forget 3f2a9c0d11e24b7a8c9d0e1f2a3b4c5d --reason "consent withdrawn" --purge
    """
    rep = _ws(args).forget(args.ids, reason=args.reason, purge=args.purge, dry_run=args.dry_run)
    _out(args, rep.to_dict(), repr(rep))


def add_retention_parsers(command: Any, common: argparse.ArgumentParser) -> None:
    """``cvops compact``, ``cvops gc`` and ``cvops forget``."""
    s = command("compact", "compact the prediction log, events and checks and remove their old versions "
                           "(never tagged or dataset-recorded ones); run it nightly", cmd_compact, [common])
    s.add_argument("--tables", nargs="+", metavar="TABLE",
                   help="tables to compact (default: predictions events checks)")
    s.add_argument("--older-than", type=_days, default=7.0, metavar="DAYS",
                   help="remove versions older than this many days (default: 7)")
    s.add_argument("--dry-run", action="store_true", help="say what would be removed; change nothing")

    s = command("gc", "list model artifacts and tables that nothing references (--apply removes them)",
                cmd_gc, [common])
    s.add_argument("--apply", action="store_true", help="remove them (default: only list, with sizes)")
    s.add_argument("--min-age-hours", type=float, default=24.0, metavar="HOURS",
                   help="leave anything touched more recently (default: 24)")

    s = command("forget", "delete images everywhere the workspace stores them, keeping a record that they "
                          "existed and why", cmd_forget, [common])
    s.add_argument("ids", nargs="+", metavar="IMAGE_ID", help="image ids (content hashes)")
    s.add_argument("--reason", required=True, help="why (kept in the audit record)")
    s.add_argument("--purge", action="store_true",
                   help="also remove old untagged table versions now (tagged dataset history stays)")
    s.add_argument("--dry-run", action="store_true", help="list what would be removed, per table")
