"""``cvops``: the command-line mirror of the Python API.

Every command takes ``--json`` (machine-readable output) and exits non-zero with a
one-line reason on error. The workspace is ``-w PATH``, else ``$CVOPS_WORKSPACE``,
else the current folder.

Examples
--------
$ cvops init ws
$ cvops -w ws add-images "images/**/*.png" --source line-1
$ cvops -w ws import export/annotations.xml --format cvat
$ cvops -w ws snapshot --name baseline -m "first batch"
$ cvops -w ws diff baseline HEAD~ --json
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from typing import Any

import polars as pl


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
    from .workspace import Workspace

    return Workspace.open(args.workspace)


def cmd_init(args: argparse.Namespace) -> None:
    from .workspace import Workspace

    ws = Workspace.create(args.path, exist_ok=args.exist_ok)
    _out(args, {"workspace": ws.uri}, f"created workspace {ws.uri}")


def cmd_add_images(args: argparse.Namespace) -> None:
    rep = _ws(args).add_images(args.paths if len(args.paths) > 1 else args.paths[0], source=args.source,
                               check=args.check, progress=not args.json)
    _out(args, rep.to_dict(), repr(rep))


def cmd_import(args: argparse.Namespace) -> None:
    rep = _ws(args).import_annotations(args.path, format=args.format, data_root=args.data_root,
                                       annotator=args.annotator, progress=not args.json)
    _out(args, rep.to_dict(), repr(rep))


def cmd_export(args: argparse.Namespace) -> None:
    ws = _ws(args)
    copy = "link" if args.link_images else args.copy_images
    options = {"as_annotations": True} if args.as_annotations else {}
    out = ws.export(args.version, args.out, format=args.format, copy_images=copy, **options)
    _out(args, {"path": str(out), "format": args.format}, f"exported {args.version} as {args.format} to {out}")


def cmd_taxonomy(args: argparse.Namespace) -> None:
    tax = _ws(args).taxonomy
    action = args.action
    if action in (None, "show"):
        _out(args, tax.classes() if tax.version else pl.DataFrame())
        return
    if action == "history":
        _out(args, tax.history())
        return
    if action == "diff":
        if len(args.names) != 2:
            raise CliError("taxonomy diff takes two version numbers")
        _out(args, {"diff": tax.diff(int(args.names[0]), int(args.names[1]))})
        return
    ops = {
        "add": lambda: tax.add(args.names[0], definition=args.definition or "", color=args.color,
                               parent=args.parent),
        "rename": lambda: tax.rename(args.names[0], args.names[1]),
        "redefine": lambda: tax.redefine(args.names[0], args.definition or ""),
        "merge": lambda: tax.merge(args.names[:-1], into=args.names[-1]),
        "split": lambda: tax.split(args.names[0], into=args.names[1:]),
        "deprecate": lambda: tax.deprecate(args.names[0]),
    }
    if action not in ops:
        raise CliError(f"unknown taxonomy action {action!r}")
    ops[action]()
    v = tax.commit(args.message or f"{action} {' '.join(args.names)}", author=args.author)
    _out(args, {"version": tax.version}, f"committed taxonomy v{tax.version}: {v!r}")


def cmd_snapshot(args: argparse.Namespace) -> None:
    from .notebook._magics import parse_splits

    ws = _ws(args)
    v = ws.snapshot(name=args.name, message=args.message, splits=parse_splits(args.splits))
    from .notebook._runinfo import environment

    run_id = ws.record_run("snapshot", dataset_version=v.id, taxonomy_version=v.taxonomy_version,
                           info={"env": environment(), "via": "cli"})
    _out(args, v.to_dict() | {"run_id": run_id}, repr(v))


def cmd_versions(args: argparse.Namespace) -> None:
    _out(args, _ws(args).versions())


def cmd_verify(args: argparse.Namespace) -> None:
    rep = _ws(args).version(args.version).verify(progress=not args.json)
    data = {"ok": rep.ok, "checked": rep.n_checked, "missing": _frame_json(rep.missing),
            "changed": _frame_json(rep.changed)}
    _out(args, data, repr(rep))
    if not rep.ok:
        sys.exit(3)


def cmd_diff(args: argparse.Namespace) -> None:
    ws = _ws(args)
    d = ws.version(args.new).diff(args.old)
    if args.json:
        _out(args, d)
        return
    summary = d.group_by("change").len().sort("change")
    print(f"{args.old} -> {args.new}: " + ", ".join(f"{c} {n}" for c, n in summary.iter_rows()) or "no changes")
    _out(args, d.drop("box_before", "box_after").head(50))


def cmd_demo(args: argparse.Namespace) -> None:
    from .demo.build import build_demo

    report = build_demo(args.path, seed=args.seed, progress=not args.json)  # prints its summary
    if args.json:
        _out(args, report.to_dict())


def build_parser() -> argparse.ArgumentParser:
    """The ``cvops`` argument parser."""
    p = argparse.ArgumentParser(prog="cvops", description="Versioned data operations for computer vision.")
    p.add_argument("-w", "--workspace", default=os.environ.get("CVOPS_WORKSPACE", "."),
                   help="workspace folder or URI (default: $CVOPS_WORKSPACE or .)")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--json", action="store_true", help="machine-readable output")
    sub = p.add_subparsers(dest="command", required=True)

    s = sub.add_parser("init", parents=[common], help="create a workspace")
    s.add_argument("path")
    s.add_argument("--exist-ok", action="store_true")
    s.set_defaults(func=cmd_init)

    s = sub.add_parser("add-images", parents=[common], help="register image files")
    s.add_argument("paths", nargs="+", help="files, folders or globs")
    s.add_argument("--source")
    s.add_argument("--check", choices=["header", "decode"], default="header")
    s.set_defaults(func=cmd_add_images)

    s = sub.add_parser("import", parents=[common], help="import annotations from a tool's export")
    s.add_argument("path")
    s.add_argument("--format", required=True, choices=["coco", "cvat", "labelstudio", "yolo", "voc", "labelme"])
    s.add_argument("--data-root")
    s.add_argument("--annotator")
    s.set_defaults(func=cmd_import)

    s = sub.add_parser("export", parents=[common], help="export a dataset version")
    s.add_argument("version")
    s.add_argument("out")
    s.add_argument("--format", choices=["coco", "yolo", "cvat", "labelstudio"], default="coco")
    s.add_argument("--copy-images", action="store_true")
    s.add_argument("--link-images", action="store_true", help="hard-link the images into the export")
    s.add_argument("--as-annotations", action="store_true",
                   help="labelstudio: write the labels as annotations too (default: predictions only)")
    s.set_defaults(func=cmd_export)

    s = sub.add_parser("taxonomy", parents=[common], help="show or change the label taxonomy")
    s.add_argument("action", nargs="?", choices=["show", "history", "diff", "add", "rename", "redefine",
                                                 "merge", "split", "deprecate"])
    s.add_argument("names", nargs="*")
    s.add_argument("--definition")
    s.add_argument("--color")
    s.add_argument("--parent")
    s.add_argument("-m", "--message")
    s.add_argument("--author")
    s.set_defaults(func=cmd_taxonomy)

    s = sub.add_parser("snapshot", parents=[common], help="freeze a dataset version")
    s.add_argument("--name")
    s.add_argument("-m", "--message")
    s.add_argument("--splits", help="e.g. train=0.8,val=0.1,test=0.1")
    s.set_defaults(func=cmd_snapshot)

    s = sub.add_parser("versions", parents=[common], help="list dataset versions")
    s.set_defaults(func=cmd_versions)

    s = sub.add_parser("verify", parents=[common], help="re-hash a version's files")
    s.add_argument("version")
    s.set_defaults(func=cmd_verify)

    s = sub.add_parser("diff", parents=[common], help="label-level diff of two versions")
    s.add_argument("old")
    s.add_argument("new")
    s.set_defaults(func=cmd_diff)

    s = sub.add_parser("demo", parents=[common], help="build the synthetic inspection demo workspace")
    s.add_argument("path")
    s.add_argument("--seed", type=int, default=0)
    s.set_defaults(func=cmd_demo)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``cvops``; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        args.func(args)
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
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
