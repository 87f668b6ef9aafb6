"""``cvops recipe export|show|list``, ``cvops retrain`` and ``cvops retrain-due``."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from ._common import EXIT_ALERT, EXIT_OK, _line, _out, _ws
from ._notify import CheckOutcome, notify


def _tolerance(items: list[str] | None) -> Any:
    """``--tolerance 0.01`` (every metric) or ``--tolerance acc=0.01 loss=0.1``."""
    from ..recipes._export import DEFAULT_TOLERANCE

    if not items:
        return DEFAULT_TOLERANCE
    if len(items) == 1 and "=" not in items[0]:
        return float(items[0])
    from ..notebook._magics import parse_assignments

    return {k: float(v) for k, v in parse_assignments(items, numbers=True).items()}


def cmd_recipe(args: argparse.Namespace) -> None:
    from ..recipes import Recipe, export_recipe
    from ..recipes._table import list_recipes

    if args.action == "export":
        r = export_recipe(args.notebook, args.out, name=args.name, workspace=args.workspace,
                          tolerance=_tolerance(args.tolerance), overwrite=args.force)
        pinned = r.to_dict()["pinned"]
        _out(args, r.to_dict(), f"exported recipe {r.name!r} to {r.archive or r.path}\n"
             + "\n".join(f"  {k}: {v}" for k, v in pinned.items()))
    elif args.action == "show":
        r = Recipe.load(args.recipe)
        _out(args, r.to_dict(), repr(r))
    else:
        _out(args, list_recipes(_ws(args).store))


def cmd_retrain(args: argparse.Namespace) -> int:
    import warnings

    from ..recipes._execute import skip_unused_schema_formats
    from ..recipes._launch import launch_kernel, workspace_uri
    from ..recipes.recipe import Recipe

    skip_unused_schema_formats()

    # The kernel starts first and boots while the rest (LanceDB, the store, verify) loads.
    recipe = Recipe.load(args.recipe)
    launch = launch_kernel(recipe, workspace_uri=workspace_uri(args.workspace or recipe.workspace),
                           kernel_name=args.kernel, start=not args.dataset and not args.params or not args.check)
    try:
        from ..notebook._magics import parse_assignments
        from ..recipes import RecipeCheckError, RecipeEnvironmentWarning, retrain

        check_failed: RecipeCheckError | None = None
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", RecipeEnvironmentWarning)
            try:
                res = retrain(recipe, params=parse_assignments(args.params), dataset=args.dataset, check=args.check,
                              strict=args.strict, verify=args.verify, workspace=args.workspace,
                              kernel_name=args.kernel, timeout=args.timeout, progress=not args.json, launch=launch)
            except RecipeCheckError as exc:
                res, check_failed = exc.result, exc
    finally:
        launch.shutdown()  # retrain shut it down already, unless it failed before it began
    for w in caught:
        if issubclass(w.category, RecipeEnvironmentWarning):
            print(f"cvops retrain: warning: {_line(str(w.message))}", file=sys.stderr)
    _out(args, res.to_dict(), res.summary())
    if check_failed is None:
        return EXIT_OK
    print(f"cvops retrain: error: {_line(str(check_failed))}", file=sys.stderr)
    if args.check:
        found = res.to_dict()
        outcome = CheckOutcome("retrain", res.recipe, True, _line(str(check_failed)),
                               {k: found[k] for k in ("recipe_id", "run_id", "ok", "comparison")},
                               check_id=res.check_id, code=EXIT_ALERT)
        return notify(args, outcome, args.workspace)
    return EXIT_ALERT


def cmd_retrain_due(args: argparse.Namespace) -> None:
    due = _ws(args).retrain_due(args.model, max_age_days=args.max_age_days, min_new_reviews=args.min_new_reviews)
    _out(args, due.to_dict(), repr(due))


def _recipe_parsers(command: Any, common: argparse.ArgumentParser, notify: argparse.ArgumentParser) -> None:
    """``cvops recipe export|show|list`` and ``cvops retrain``, ``cvops retrain-due``."""
    s = command("recipe", "export a notebook as a retrain recipe, show one, or list them", cmd_recipe, [common])
    acts = s.add_subparsers(dest="action", metavar="ACTION", required=True, help="export | show | list")
    inner = argparse.ArgumentParser(add_help=False)
    inner.add_argument("--json", action="store_true", default=argparse.SUPPRESS, help="machine-readable output")
    t = acts.add_parser("export", parents=[inner], help="export a notebook (as saved) as a recipe",
                        description="Pin what the notebook's last run used and made (data, taxonomy, models, seeds, "
                                    "environment) into a recipe folder (a path ending in .zip: also an archive).")
    t.add_argument("notebook", help="the .ipynb file")
    t.add_argument("-o", "--out", help="recipe folder or .zip (default: <notebook folder>/recipes/<name>)")
    t.add_argument("--name", help="recipe name (default: the notebook's file name)")
    t.add_argument("--force", action="store_true", help="replace a recipe already in the folder")
    t.add_argument("--tolerance", nargs="+", metavar="TOL",
                   help="absolute tolerance of the expected metrics: one number, or metric=number ... "
                        "(default: 1e-6)")
    t = acts.add_parser("show", parents=[inner], help="what a recipe pins (checks its hashes)")
    t.add_argument("recipe", help="recipe folder, recipe.yaml or .zip")
    acts.add_parser("list", parents=[inner], help="the recipes exported from the workspace")

    s = command("retrain", "re-run a recipe (exit 4 when --check finds metrics outside tolerance)", cmd_retrain,
                [common, notify])
    s.add_argument("recipe", help="recipe folder, recipe.yaml or .zip")
    s.add_argument("-p", "--param", dest="params", action="extend", nargs="+", default=[], metavar="KEY=VALUE",
                   help="set a parameter of the cell tagged 'parameters' (JSON value, else text)")
    s.add_argument("--dataset", metavar="NAME_OR_ID",
                   help="train on this dataset version (or 'latest') instead of the pinned one")
    s.add_argument("--check", action="store_true",
                   help="reproducibility test: same data and parameters; fail when a metric is outside tolerance")
    s.add_argument("--strict", action="store_true", help="refuse when the environment differs from the lock")
    s.add_argument("--verify", choices=["fast", "full"], default="fast",
                   help="fast: re-hash files whose size/mtime/inode changed (default); full: re-hash every file")
    s.add_argument("--kernel", help="Jupyter kernel to run the notebook in (default: the notebook's)")
    s.add_argument("--timeout", type=float, help="seconds a cell may run (default: no limit)")

    s = command("retrain-due", "whether a model is due for a retrain, and why", cmd_retrain_due, [common])
    s.add_argument("model", help="NAME@ALIAS (or NAME: its newest version)")
    s.add_argument("--max-age-days", type=float, default=90.0, help="due when older than this (default: 90)")
    s.add_argument("--min-new-reviews", type=int, default=1,
                   help="due when this many labels were reviewed since its data (default: 1)")

