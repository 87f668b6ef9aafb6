"""The data commands: init, add-images, import, export, taxonomy, snapshot, versions, name(s), verify, diff, demo."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from typing import Any

import polars as pl

from ._common import EXIT_OK, EXIT_VERIFY_FAILED, CliError, _frame_json, _line, _out, _report_text, _ws
from ._notify import CheckOutcome, notify


def _add_images_failure(paths: Sequence[str], rep: Any) -> str | None:
    """Why an ``add-images`` run failed: a path given that matched nothing, or nothing registered at all."""
    given: dict[str, str] = {}
    for arg in paths:
        text = os.path.expanduser(arg)
        for form in (arg, text, os.path.abspath(text), os.path.realpath(text)):
            given[form] = arg
    empty = [(given[str(k)], str(r)) for k, r in rep.problems_frame().rows() if str(k) in given]
    if empty:
        more = f" (and {len(empty) - 1} more paths that gave no image)" if len(empty) > 1 else ""
        return f"nothing registered from {_line(empty[0][0])}: {_line(empty[0][1])}{more}"
    if not rep.paths and rep.problems:
        key, reason = rep.problems_frame().row(0)
        return (f"no image registered: {len(rep.problems)} files refused (first: {_line(str(key))}: "
                f"{_line(str(reason))}); --problems lists them all")
    return None


def _import_failure(args: argparse.Namespace, rep: Any) -> str | None:
    """Why an import that stored no label (and found none already stored) failed; None when it did not."""
    from ..labels._importing import looked_under

    if rep.n_labels_read == 0 or rep.n_labels_added or rep.n_labels_already_present:
        return None
    where = f"under --data-root {args.data_root}" if args.data_root else looked_under(rep)
    if rep.n_images_found == 0:
        missing = [str(k) for k in rep.problems_frame()[rep._problem_key] if str(k).startswith("image ")]
        example = f" (e.g. {_line(missing[0][len('image '):])})" if missing else ""
        ambiguous = (f"; the names of {rep.n_images_ambiguous} fit several registered images"
                     if rep.n_images_ambiguous else "")
        return (f"no label imported: the export has {rep.n_labels_read} labels but none of its {rep.n_images} "
                f"images was found{example}; looked {where}, then among the images registered in this "
                f"workspace (by path, file name and content){ambiguous}; pass --data-root FOLDER if the images "
                "are elsewhere; --problems lists every image")
    if rep.problems:
        key, reason = rep.problems_frame().row(0)
        return (f"no label imported: all {rep.n_labels_read} labels were refused (first: {_line(str(key))}: "
                f"{_line(str(reason))}); --problems lists them all")
    return f"no label imported: the export has {rep.n_labels_read} labels and none was stored"


def cmd_init(args: argparse.Namespace) -> None:
    from ..workspace import Workspace

    ws = Workspace.create(args.path, exist_ok=args.exist_ok)
    _out(args, {"workspace": ws.uri}, f"created workspace {ws.uri}")


def cmd_add_images(args: argparse.Namespace) -> None:
    rep = _ws(args).add_images(args.paths if len(args.paths) > 1 else args.paths[0], source=args.source,
                               check=args.check, progress=not args.json)
    _out(args, rep.to_dict(), _report_text(rep, args.problems))
    failure = _add_images_failure(args.paths, rep)
    if failure:
        raise CliError(failure)


def cmd_import(args: argparse.Namespace) -> None:
    rep = _ws(args).import_annotations(args.path, format=args.format, data_root=args.data_root,
                                       annotator=args.annotator, progress=not args.json)
    _out(args, rep.to_dict(), _report_text(rep, args.problems))
    failure = _import_failure(args, rep)
    if failure:
        raise CliError(failure)


def cmd_export(args: argparse.Namespace) -> None:
    ws = _ws(args)
    copy: bool | str = True if args.copy_images else False if args.no_images else "link"
    options = {"as_annotations": True} if args.as_annotations else {}
    out = ws.export(args.version, args.out, format=args.format, copy_images=copy, **options)
    _out(args, {"path": str(out), "format": args.format}, f"exported {args.version} as {args.format} to {out}")


def _definition(args: argparse.Namespace, required: bool) -> str | None:
    """The definition given positionally or with ``--definition`` (not both)."""
    if args.text is not None and args.definition is not None:
        args.parser.error("give the definition once: as the argument after the name or with --definition")
    text: str | None = args.text if args.text is not None else args.definition
    if text is None and required:
        args.parser.error(f"the new definition is required: cvops taxonomy {args.action} NAME 'TEXT'")
    return text


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
        _out(args, {"diff": tax.diff(args.old, args.new)})
        return
    if action == "add":
        tax.add(args.name, definition=_definition(args, required=False) or "", color=args.color, parent=args.parent)
        what = f"add {args.name}"
    elif action == "rename":
        tax.rename(args.name, args.new_name)
        what = f"rename {args.name} {args.new_name}"
    elif action == "redefine":
        text = _definition(args, required=True)
        assert text is not None
        tax.redefine(args.name, text)
        what = f"redefine {args.name}"
    elif action == "merge":
        tax.merge(args.sources, into=args.target)
        what = f"merge {' '.join(args.sources)} into {args.target}"
    elif action == "split":
        tax.split(args.name, into=args.into)
        what = f"split {args.name} into {' '.join(args.into)}"
    elif action == "deprecate":
        tax.deprecate(args.name)
        what = f"deprecate {args.name}"
    else:
        raise CliError(f"unknown taxonomy action {action!r}")
    v = tax.commit(args.message or what, author=args.author)
    _out(args, {"version": tax.version}, f"committed taxonomy v{tax.version}: {v!r}")


def cmd_snapshot(args: argparse.Namespace) -> None:
    from ..notebook._magics import parse_splits

    from ..datasets._names import NameInUseError

    ws = _ws(args)
    if args.move and not args.name:
        raise CliError("--move needs --name (the name to move)")
    try:
        v = ws.snapshot(name=args.name, message=args.message, splits=parse_splits(args.splits), move=args.move)
    except NameInUseError as exc:
        raise CliError(f"the name {exc.name!r} already points at dataset version {exc.holder[:12]} (other content); "
                       "rerun with --move to point it at this content, or choose another name") from None
    from ..runs._environment import environment

    run_id = ws.record_run("snapshot", dataset_version=v.id, taxonomy_version=v.taxonomy_version,
                           info={"env": environment(), "via": "cli"})
    _out(args, v.to_dict() | {"run_id": run_id}, repr(v))


def cmd_versions(args: argparse.Namespace) -> None:
    _out(args, _ws(args).versions())


def cmd_name(args: argparse.Namespace) -> None:
    from ..datasets._names import NameInUseError

    ws = _ws(args)
    if args.remove:
        if args.version is not None:
            raise CliError("--remove takes only the NAME")
        v = ws.remove_version_name(args.name, message=args.message)
        _out(args, v.to_dict(), f"removed the name {args.name!r} from {v.id[:12]}")
        return
    if args.version is None:
        raise CliError("give the VERSION to name (a name or an id), or --remove")
    try:
        v = ws.name_version(args.name, args.version, move=args.move, message=args.message)
    except NameInUseError as exc:
        raise CliError(f"the name {exc.name!r} already points at dataset version {exc.holder[:12]}; "
                       "rerun with --move to point it at this version") from None
    _out(args, v.to_dict(), repr(v))


def cmd_names(args: argparse.Namespace) -> None:
    _out(args, _ws(args).version_names(history=args.history, name=args.name))


def cmd_verify(args: argparse.Namespace) -> int:
    ws = _ws(args)
    rep = ws.version(args.version).verify(progress=not args.json)
    data = {"ok": rep.ok, "checked": rep.n_checked, "missing": _frame_json(rep.missing),
            "changed": _frame_json(rep.changed), "moved": _frame_json(rep.moved)}
    _out(args, data, repr(rep))
    counts = {"ok": rep.ok, "checked": rep.n_checked, "missing": rep.missing.height,
              "changed": rep.changed.height, "moved": rep.moved.height}
    outcome = CheckOutcome("verify", args.version, not rep.ok, repr(rep).splitlines()[0], counts,
                           code=EXIT_OK if rep.ok else EXIT_VERIFY_FAILED)
    return notify(args, outcome, ws.uri)


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
    from ..demo.build import build_demo

    report = build_demo(args.path, seed=args.seed, progress=not args.json, model=args.model)  # prints its summary
    if args.json:
        _out(args, report.to_dict())


def _taxonomy_parser(sub: Any, common: argparse.ArgumentParser) -> None:
    """``cvops taxonomy [ACTION]``: one sub-command per action, so each takes exactly its arguments."""
    s = sub.add_parser("taxonomy", parents=[common], help="show or change the label taxonomy",
                       description="Show the classes (no action), or stage one change and commit it as a new "
                                   "taxonomy version.")
    s.add_argument("-m", "--message", help="why the taxonomy changed (default: the change itself)")
    s.add_argument("--author", help="who changed it (default: the current user)")
    s.set_defaults(func=cmd_taxonomy, parser=s)
    # options repeated on each action, SUPPRESSed so an unset one keeps the value given before the action
    inner = argparse.ArgumentParser(add_help=False)
    inner.add_argument("--json", action="store_true", default=argparse.SUPPRESS, help="machine-readable output")
    change = argparse.ArgumentParser(add_help=False)
    change.add_argument("-m", "--message", default=argparse.SUPPRESS,
                        help="why the taxonomy changed (default: the change itself)")
    change.add_argument("--author", default=argparse.SUPPRESS, help="who changed it (default: the current user)")
    acts = s.add_subparsers(dest="action", metavar="ACTION", help="what to do (default: show)")

    def act(name: str, help: str, parents: list[argparse.ArgumentParser]) -> argparse.ArgumentParser:
        t: argparse.ArgumentParser = acts.add_parser(name, parents=parents, help=help, description=help)
        t.set_defaults(parser=t)
        return t

    act("show", "list the current classes (the default)", [inner])
    act("history", "list the taxonomy versions", [inner])
    t = act("diff", "class-definition changes between two taxonomy versions", [inner])
    t.add_argument("old", type=int, metavar="FROM", help="taxonomy version number to compare from")
    t.add_argument("new", type=int, nargs="?", metavar="TO", help="taxonomy version number to compare to "
                                                                 "(default: the latest)")
    t = act("add", "add a class", [inner, change])
    t.add_argument("name", metavar="NAME", help="the new class name")
    t.add_argument("text", nargs="?", metavar="DEFINITION", help="its definition (guideline text); "
                                                                  "or give it with --definition")
    t.add_argument("--definition", help="its definition, as an option")
    t.add_argument("--color", help="display color, e.g. '#e4572e'")
    t.add_argument("--parent", help="name of the parent class")
    t = act("rename", "rename a class (its labels follow)", [inner, change])
    t.add_argument("name", metavar="OLD", help="the current class name")
    t.add_argument("new_name", metavar="NEW", help="the new class name")
    t = act("redefine", "replace a class's definition", [inner, change])
    t.add_argument("name", metavar="NAME", help="the class name")
    t.add_argument("text", nargs="?", metavar="DEFINITION", help="the new definition (guideline text); "
                                                                  "or give it with --definition")
    t.add_argument("--definition", help="the new definition, as an option")
    t = act("merge", "merge classes into one: cvops taxonomy merge SOURCE [SOURCE ...] TARGET", [inner, change])
    t.add_argument("sources", nargs="+", metavar="SOURCE", help="the classes merged (retired unless the target)")
    t.add_argument("target", metavar="TARGET",
                   help="the last name: the class they become, one of the sources or another active class "
                        "(keeps its id) or a new name (created); their labels map to it")
    t = act("split", "split a class into two or more new classes (its labels need review)", [inner, change])
    t.add_argument("name", metavar="NAME", help="the class split (retired)")
    t.add_argument("into", nargs="+", metavar="NEW", help="the new class names (one may reuse NAME)")
    t = act("deprecate", "retire a class (its labels resolve as deprecated)", [inner, change])
    t.add_argument("name", metavar="NAME", help="the class retired")


def add_data_parsers(command: Any, sub: Any, common: argparse.ArgumentParser,
                     problems: argparse.ArgumentParser, notify: argparse.ArgumentParser) -> None:
    """``cvops init``, ``add-images``, ``import``, ``export``, ``taxonomy``, ``snapshot``, ``versions``,
    ``name``, ``names``, ``verify``, ``diff`` and ``demo``."""
    s = command("init", "create a workspace", cmd_init, [common])
    s.add_argument("path", help="folder (or URI) of the new workspace")
    s.add_argument("--exist-ok", action="store_true", help="no error if the workspace already exists")

    s = command("add-images", "register image files (fails when a path given registers nothing)",
                cmd_add_images, [common, problems])
    s.add_argument("paths", nargs="+", help="files, folders or globs")
    s.add_argument("--source", help="camera / line / dataset tag stored with each image")
    s.add_argument("--check", choices=["header", "decode"], default="header",
                   help="header: read headers, check files are complete (default); decode: decode every pixel")

    s = command("import", "import annotations from a tool's export (fails when an export with labels adds none)",
                cmd_import, [common, problems])
    s.add_argument("path", help="the export: an annotation file or an export folder")
    s.add_argument("--format", required=True, choices=["coco", "cvat", "labelstudio", "yolo", "voc", "labelme"],
                   help="the labeling tool's format")
    s.add_argument("--data-root", help="folder where the export's images are (default: the export's image folder)")
    s.add_argument("--annotator", help="annotator of labels that name none (default: the current user)")

    s = command("export", "export a dataset version", cmd_export, [common])
    s.add_argument("version", help="dataset version: name, alias or id (a prefix of 6+ characters)")
    s.add_argument("out", help="output folder")
    s.add_argument("--format", choices=["coco", "yolo", "cvat", "labelstudio"], default="coco",
                   help="the labeling tool's format (default: coco)")
    place = s.add_mutually_exclusive_group()
    place.add_argument("--copy-images", action="store_true",
                       help="copy the images into the export (default: hard-link them, a copy across file systems)")
    place.add_argument("--no-images", action="store_true",
                       help="write paths to the images where they are instead of linking them into the export")
    s.add_argument("--as-annotations", action="store_true",
                   help="labelstudio: write the labels as annotations too (default: predictions only)")

    _taxonomy_parser(sub, common)

    s = command("snapshot", "freeze a dataset version", cmd_snapshot, [common])
    s.add_argument("--name", help="a name (tag) for the version")
    s.add_argument("-m", "--message", help="what this version is")
    s.add_argument("--splits", help="e.g. train=0.8,val=0.1,test=0.1")
    s.add_argument("--move", action="store_true",
                   help="take the name from the version it points at now (kept in the name history)")

    command("versions", "list dataset versions", cmd_versions, [common])

    s = command("name", "name a dataset version, move a name (--move) or remove one (--remove)", cmd_name, [common])
    s.add_argument("name", help="the name")
    s.add_argument("version", nargs="?", help="dataset version to name: a name or an id (6+ characters)")
    s.add_argument("--move", action="store_true", help="take the name from the version it points at now")
    s.add_argument("--remove", action="store_true", help="stop the name naming its version (kept in history)")
    s.add_argument("-m", "--message", help="why (kept in the name history)")

    s = command("names", "list the names of dataset versions (--history: every set, move and remove)",
                cmd_names, [common])
    s.add_argument("--history", action="store_true", help="every set, move and remove, oldest first")
    s.add_argument("--name", help="only this name's rows")

    s = command("verify", "re-hash a version's files (exit 3 when one is missing or changed)", cmd_verify,
                [common, notify])
    s.add_argument("version", help="dataset version: name, alias or id (a prefix of 6+ characters)")

    s = command("diff", "label-level diff of two versions", cmd_diff, [common])
    s.add_argument("old", help="the older dataset version")
    s.add_argument("new", help="the newer dataset version")

    s = command("demo", "build the synthetic inspection demo workspace", cmd_demo, [common])
    s.add_argument("path", help="folder of the demo workspace")
    s.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    s.add_argument("--model", action="store_true",
                   help="also train, register and serve a small defect classifier, with a planted serving skew "
                        "on a second line (about 20 s more on CPU)")
