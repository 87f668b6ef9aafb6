"""``cvops``: the command-line mirror of the Python API.

Every command takes ``--json`` (machine-readable output) and exits non-zero with a
one-line reason on error. One exit-code convention for the whole CLI: 0 ok, 1 error, 2 usage
mistake (a missing, unknown or malformed argument), 3 verification failed (``verify``), 4 alert (a
check outside tolerance: ``agreement``, ``drift``, ``skew``, ``shadow``, ``retrain --check``,
``audit --fail-under``). Check commands record their result in the workspace's ``checks`` table
and take ``--notify URL`` (the alert POSTed as JSON to a webhook).
``add-images`` fails when a path given registers nothing, ``import`` when an export with
labels adds none (and none were already there); ``--problems`` lists every refused item.
The workspace is ``-w PATH``, else ``$CVOPS_WORKSPACE``, else the current folder.

Examples
--------
$ cvops init ws
$ cvops -w ws add-images "images/**/*.png" --source line-1
$ cvops -w ws import export/annotations.xml --format cvat --problems
$ cvops -w ws taxonomy redefine dent "deeper than 0.2 mm" -m clarify
$ cvops -w ws snapshot --name baseline -m "first batch"
$ cvops -w ws diff baseline HEAD~ --json
$ cvops recipe export 04_train.ipynb -o recipes/train
$ cvops retrain recipes/train --check
$ cvops retrain recipes/train --dataset latest -p epochs=10
$ cvops -w ws drift baseline --source line-1 --since 2026-11-01 --by 1d --notify https://hooks.example/x
$ cvops -w ws audit --fail-under 8 --json
"""


from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from typing import Any

from .._version import __version__
from ._common import EXIT_ERROR, EXIT_OK, Parser, exit_codes_epilog
from ._data import add_data_parsers
from ._lineage import add_lineage_parsers
from ._models import add_model_parsers
from ._monitoring import add_monitoring_parsers
from ._notify import notify_options
from ._predictions import add_prediction_parsers
from ._recipes import _recipe_parsers
from ._retention import add_retention_parsers


def build_parser() -> argparse.ArgumentParser:
    """The ``cvops`` argument parser."""
    p = Parser(prog="cvops", description="Versioned data operations for computer vision.",
               epilog=exit_codes_epilog(), formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--version", action="version", version=f"%(prog)s {__version__}",
                   help="print the version of jupyter-cvops and exit")
    p.add_argument("-w", "--workspace", default=None,
                   help="workspace folder or URI (default: $CVOPS_WORKSPACE or .; recipes: the recipe's)")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--json", action="store_true", help="machine-readable output")
    problems = argparse.ArgumentParser(add_help=False)
    problems.add_argument("--problems", action="store_true",
                          help="list every refused item, one line each (default: the first 10)")
    sub: Any = p.add_subparsers(dest="command", required=True, metavar="COMMAND", help="what to do")

    notify = notify_options()

    def command(name: str, help: str, func: Any, parents: list[argparse.ArgumentParser]) -> argparse.ArgumentParser:
        s: argparse.ArgumentParser = sub.add_parser(name, parents=parents, help=help, description=help)
        s.set_defaults(func=func, parser=s)
        return s

    add_data_parsers(command, sub, common, problems, notify)
    _recipe_parsers(command, common, notify)
    add_model_parsers(command, sub, common)
    add_prediction_parsers(command, common, notify)
    add_lineage_parsers(command, common)
    add_monitoring_parsers(command, common, notify)
    add_retention_parsers(command, common)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``cvops``; returns the exit status."""
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    if extra:  # said by the (sub-)command that was given them, with its usage
        args.parser.error(f"unrecognized arguments: {' '.join(extra)}")
    try:
        code = args.func(args)
    except SystemExit:
        raise
    except KeyboardInterrupt:
        print("cvops: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # one line, never a traceback, for every failure
        msg = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        print(f"cvops {args.command}: error: {msg}", file=sys.stderr)
        if os.environ.get("CVOPS_DEBUG"):
            raise
        return EXIT_ERROR
    return EXIT_OK if code is None else int(code)

