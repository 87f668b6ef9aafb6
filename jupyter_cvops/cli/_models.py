"""The model commands: ``cvops models``, ``cvops alias set|rollback|remove|history``, ``cvops evaluate``."""

from __future__ import annotations

import argparse
from typing import Any

import polars as pl

from ._common import CliError, _out, _ws


def _version_info(mv: Any) -> dict[str, Any]:
    return {"model": mv.name, "version": mv.version, "classes": list(mv.classes),
            "preprocess_fingerprint": mv.preprocess_fingerprint}


def cmd_models(args: argparse.Namespace) -> None:
    """``cvops models [NAME]``: model versions and their current aliases.

    Examples
    --------
    $ cvops -w ws models defect-clf --json
    """
    frame = _ws(args).models()
    if args.name:
        frame = frame.filter(pl.col("model") == args.name)
        if frame.is_empty():
            raise CliError(f"no model named {args.name!r}")
    if args.json:
        _out(args, frame)
        return
    shown = frame.with_columns(pl.col("version").str.slice(0, 12),
                               pl.col("aliases").list.join(", ")) if frame.height else frame
    keep = [c for c in ("model", "version", "aliases", "framework", "created_at", "run_id", "dataset_version")
            if c in shown.columns]
    print(f"{frame['model'].n_unique() if frame.height else 0} models, {frame.height} versions")
    if frame.height:
        _out(args, shown.select(keep))


def cmd_alias(args: argparse.Namespace) -> None:
    """``cvops alias set|rollback|remove|history``: move a model alias (kept in its history) or list the moves.

    Examples
    --------
    $ cvops -w ws alias rollback defect-clf production --reason 'recall dropped'
    """
    ws = _ws(args)
    if args.action == "history":
        history = ws.alias_history(args.name, alias=args.alias)
        if not args.json and history.height:
            history = history.with_columns(pl.col("version", "previous_version").str.slice(0, 12))
        _out(args, history)
        return
    before = ws.alias_history(args.name, alias=args.alias)
    if args.action == "set":
        mv = ws.set_alias(args.name, args.alias, args.version, reason=args.reason)
    elif args.action == "rollback":
        mv = ws.rollback(args.name, args.alias, reason=args.reason)
    else:
        mv = ws.remove_alias(args.name, args.alias, reason=args.reason)
    after = ws.alias_history(args.name, alias=args.alias)
    row = after.row(-1, named=True) if after.height > before.height else None
    verb = {"set": "now points at", "rollback": "rolled back to", "remove": "removed (it pointed at)"}[args.action]
    data = _version_info(mv) | {"alias": args.alias, "action": row["action"] if row else "unchanged",
                                "previous_version": row.get("previous_version") if row else None}
    text = f"{args.name}@{args.alias} {verb} {mv.version[:12]}"
    if row is None:
        text += " (already; nothing recorded)"
    elif row.get("previous_version") and args.action != "remove":
        text += f" (was {str(row['previous_version'])[:12]})"
    _out(args, data, text)


def cmd_evaluate(args: argparse.Namespace) -> None:
    """``cvops evaluate NAME@ALIAS DATA``: per-class metrics on a dataset version, recorded as a check.

    Examples
    --------
    $ cvops -w ws evaluate defect-clf@production baseline --split test
    """
    ws = _ws(args)
    by = tuple(args.by) if args.by else ("source", "week", "agreement")
    rep = ws.evaluate(args.model, args.data, split=args.split, version=args.version, batch_size=args.batch_size,
                      device=args.device, by=by, progress=not args.json)
    data = rep.to_dict() | {"model": rep.model, "version": rep.version, "dataset_version": rep.dataset_version,
                            "split": rep.split, "check_id": rep.check_id, "summary": rep.summary()}
    if args.json:
        _out(args, data)
        return
    print(rep.summary())
    with pl.Config(tbl_rows=100, tbl_cols=12, float_precision=3):
        print(rep.per_class)


def add_model_parsers(command: Any, sub: Any, common: argparse.ArgumentParser) -> None:
    """``cvops models``, ``cvops alias ACTION``, ``cvops evaluate``."""
    s = command("models", "list model versions and their current aliases", cmd_models, [common])
    s.add_argument("name", nargs="?", help="only this model's versions")

    s = sub.add_parser("alias", parents=[common], help="move, roll back or remove a model alias, or show its history",
                       description="Move a model alias (production, candidate, ...), roll it back to the version "
                                   "that held it before, remove it, or list every move (never overwritten).")
    s.set_defaults(func=cmd_alias, parser=s)
    inner = argparse.ArgumentParser(add_help=False)
    inner.add_argument("--json", action="store_true", default=argparse.SUPPRESS, help="machine-readable output")
    why = argparse.ArgumentParser(add_help=False)
    why.add_argument("--reason", "-m", help="why (kept in the alias history)")
    acts = s.add_subparsers(dest="action", metavar="ACTION", required=True, help="set | rollback | remove | history")

    def act(name: str, help: str, parents: list[argparse.ArgumentParser]) -> argparse.ArgumentParser:
        t: argparse.ArgumentParser = acts.add_parser(name, parents=parents, help=help, description=help)
        t.set_defaults(parser=t)
        return t

    t = act("set", "point NAME@ALIAS at a version (a plain move: it bypasses the promotion gate)", [inner, why])
    t.add_argument("name", metavar="NAME", help="the model name")
    t.add_argument("alias", metavar="ALIAS", help="the alias, e.g. production")
    t.add_argument("version", metavar="VERSION", help="model version id (a prefix of 6+ characters)")
    t = act("rollback", "point NAME@ALIAS back at the version that held it before (again: further back)",
            [inner, why])
    t.add_argument("name", metavar="NAME", help="the model name")
    t.add_argument("alias", metavar="ALIAS", help="the alias, e.g. production")
    t = act("remove", "end NAME@ALIAS (kept in the history)", [inner, why])
    t.add_argument("name", metavar="NAME", help="the model name")
    t.add_argument("alias", metavar="ALIAS", help="the alias")
    t = act("history", "every alias move: alias, action, version, previous version, who, when, why", [inner])
    t.add_argument("name", metavar="NAME", nargs="?", help="only this model (default: every model)")
    t.add_argument("--alias", help="only this alias")

    s = command("evaluate", "per-class metrics of a model version on a dataset version (recorded as a check)",
                cmd_evaluate, [common])
    s.add_argument("model", help="NAME@ALIAS, or NAME with --version")
    s.add_argument("data", help="dataset version: name or id")
    s.add_argument("--split", help="only this split (e.g. test)")
    s.add_argument("--version", help="model version id (with a plain NAME)")
    s.add_argument("--by", nargs="+", choices=["source", "week", "agreement"],
                   help="slices (default: source week agreement)")
    s.add_argument("--batch-size", type=int, default=32, help="images per forward pass (default: 32)")
    s.add_argument("--device", help="cpu, cuda, ... (default: CUDA when available)")
