"""``%cvops`` magics: pick a workspace, snapshot it into run metadata, list versions, record runs."""

from __future__ import annotations

import argparse
import json
import shlex
from typing import Any

from IPython.core.error import UsageError
from IPython.core.magic import Magics, line_cell_magic, magics_class
from IPython.display import display

from ..runs._environment import environment
from ..runs._provenance import kernel_info

SNAPSHOT_MIME = "application/vnd.cvops.snapshot+json"

USAGE = """%cvops use PATH [--create]          open (or create) the workspace at PATH
%cvops snapshot [--name N [--move]] [-m MSG] [--splits train=0.8,val=0.1,test=0.1]
                                    freeze a dataset version and record it in this run
                                    (--move: take the name N from other content)
                                    (inside a `%cvops run`: recorded as one of its inputs)
%cvops versions                     list dataset versions
%cvops taxonomy                     show the current taxonomy and its history
%cvops status                       the current workspace
%cvops run start NAME [-p key=value ...]
                                    start a recorded run (params, environment, git commit,
                                    notebook); also available as `cvops_run`
%cvops run use VERSION              record a dataset version (name or id) as an input
%cvops run log key=value ... [--step N]
                                    log metric values (numbers) at a step
%cvops run seed N                   seed python, numpy and torch; record the seed
%cvops run end [--failed [MESSAGE]] end the run (finished, or failed) and show its card
%cvops run show                     the card of the current (or last) run
%cvops runs                         list recorded runs
%%cvops run NAME [-p key=value ...] run the cell as one recorded run (an error in it
                                    records the run as failed)
%cvops recipe export [NOTEBOOK] [-o DIR] [--name N] [--force]
                                    export this notebook (as last saved) as a retrain
                                    recipe; re-run it with `cvops retrain DIR`
%cvops audit [--as-of TIME] [--alias A] [--model M] [--max-age-days N]
                                    answer the ten operational questions from the
                                    workspace (yes / partial / no, evidence, next step)"""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        raise UsageError(f"%cvops: {message}\n{USAGE}")


def _parser() -> argparse.ArgumentParser:
    p = _Parser(prog="%cvops", add_help=False)
    sub = p.add_subparsers(dest="cmd")
    use = sub.add_parser("use", add_help=False)
    use.add_argument("path")
    use.add_argument("--create", action="store_true")
    snap = sub.add_parser("snapshot", add_help=False)
    snap.add_argument("--name")
    snap.add_argument("--move", action="store_true")
    snap.add_argument("-m", "--message")
    snap.add_argument("--splits")
    for name in ("versions", "taxonomy", "status", "runs"):
        sub.add_parser(name, add_help=False)
    run = sub.add_parser("run", add_help=False)
    steps = run.add_subparsers(dest="run_cmd")
    start = steps.add_parser("start", add_help=False)
    start.add_argument("name")
    start.add_argument("-p", "--param", dest="params", action="extend", nargs="+", default=[])
    steps.add_parser("use", add_help=False).add_argument("version")
    log = steps.add_parser("log", add_help=False)
    log.add_argument("values", nargs="+")
    log.add_argument("--step", type=int)
    steps.add_parser("seed", add_help=False).add_argument("seed", type=int)
    end = steps.add_parser("end", add_help=False)
    end.add_argument("--failed", nargs="?", const="", default=None)
    steps.add_parser("show", add_help=False)
    recipe = sub.add_parser("recipe", add_help=False)
    acts = recipe.add_subparsers(dest="recipe_cmd")
    export = acts.add_parser("export", add_help=False)
    export.add_argument("notebook", nargs="?")
    export.add_argument("-o", "--out")
    export.add_argument("--name")
    export.add_argument("--force", action="store_true")
    audit = sub.add_parser("audit", add_help=False)
    audit.add_argument("--as-of", dest="as_of")
    audit.add_argument("--alias", default="production")
    audit.add_argument("--model")
    audit.add_argument("--max-age-days", dest="max_age_days", type=float, default=30.0)
    return p


def _cell_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="%%cvops", add_help=False)
    p.add_argument("cmd", choices=["run"])
    p.add_argument("name")
    p.add_argument("-p", "--param", dest="params", action="extend", nargs="+", default=[])
    return p


def parse_value(text: str) -> Any:
    """A ``-p`` value: JSON when it parses (numbers, true/false, lists), else the text itself.

    Examples
    --------
    >>> parse_value("1e-3"), parse_value("5"), parse_value("true"), parse_value("adam")
    (0.001, 5, True, 'adam')
    """
    try:
        return json.loads(text)
    except ValueError:
        return text


def parse_assignments(items: list[str], *, numbers: bool = False) -> dict[str, Any]:
    """``["lr=1e-3", "opt=adam"]`` -> ``{"lr": 0.001, "opt": "adam"}`` (``numbers``: values must be numbers).

    Examples
    --------
    >>> parse_assignments(["lr=1e-3", "opt=adam"])
    {'lr': 0.001, 'opt': 'adam'}
    >>> parse_assignments(["acc=0.9"], numbers=True)
    {'acc': 0.9}
    """
    out: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise UsageError(f"expected key=value, got {item!r}")
        parsed = parse_value(value)
        if numbers:
            if isinstance(parsed, bool) or not isinstance(parsed, (int, float)):
                raise UsageError(f"metric {key.strip()!r}: {value!r} is not a number")
            parsed = float(parsed)
        out[key.strip()] = parsed
    return out


def parse_splits(text: str | None) -> dict[str, float] | None:
    """``"train=0.8,val=0.2"`` -> ``{"train": 0.8, "val": 0.2}``.

    Examples
    --------
    >>> parse_splits("train=0.9,val=0.1")
    {'train': 0.9, 'val': 0.1}
    """
    if not text:
        return None
    out = {}
    for part in text.split(","):
        key, sep, value = part.partition("=")
        if not sep:
            raise UsageError(f"--splits expects name=fraction pairs, got {part!r}")
        try:
            out[key.strip()] = float(value)
        except ValueError:
            raise UsageError(f"--splits: {value!r} is not a number") from None
    return out


def snapshot_payload(ws: Any, version: Any, run_id: str, info: dict[str, Any]) -> dict[str, Any]:
    """The JSON the snapshot card renders and the notebook metadata keeps."""
    return {
        "run_id": run_id,
        "created_at": version.created_at.isoformat(),
        "workspace": ws.uri,
        "dataset_version": {
            "id": version.id,
            "name": version.name,
            "names": list(version.names),
            "note": version.note,
            "message": version.message,
            "n_images": version.n_images,
            "n_labels": version.n_labels,
            "splits": version.splits,
        },
        "taxonomy_version": version.taxonomy_version,
        "notebook": info["kernel"].get("notebook"),
        "kernel": info["kernel"],
        "env": {"python": info["env"]["python"],
                "packages": info["env"].get("key_packages", info["env"]["packages"])},
    }


def snapshot_text(payload: dict[str, Any]) -> str:
    """Plain-text fallback of the snapshot card (VS Code, nbclient, terminals)."""
    dv = payload["dataset_version"]
    splits = ", ".join(f"{k} {v}" for k, v in dv["splits"].items())
    name = f" {dv['name']!r}" if dv["name"] else ""
    note = f"; {dv['note']}" if dv.get("note") else ""
    return (
        f"cvops snapshot{name} {dv['id'][:12]}: {dv['n_images']} images, {dv['n_labels']} labels "
        f"({splits}); taxonomy v{payload['taxonomy_version']}{note}; recorded as run {payload['run_id'][:12]} "
        f"in {payload['workspace']}"
    )


@magics_class
class CvopsMagics(Magics):
    """The ``%cvops`` magic. Load with ``%load_ext jupyter_cvops``."""

    def __init__(self, shell: Any) -> None:
        super().__init__(shell)
        self.workspace: Any = None
        self.run: Any = None  # the run started by `%cvops run start` and not yet ended
        self.last_run: Any = None

    def _user_ns(self) -> dict[str, Any]:
        assert self.shell is not None  # registered magics always have their shell
        ns: dict[str, Any] = self.shell.user_ns
        return ns

    def _ws(self) -> Any:
        if self.workspace is None:
            raise UsageError("no workspace selected: run `%cvops use PATH` first")
        return self.workspace

    @line_cell_magic
    def cvops(self, line: str, cell: str | None = None) -> Any:
        """Workspace commands; ``%cvops`` alone prints the usage; ``%%cvops run NAME`` records a cell."""
        if cell is not None:
            return self._cell_run(_cell_parser().parse_args(shlex.split(line)), cell)
        args = _parser().parse_args(shlex.split(line))
        if args.cmd is None:
            print(USAGE)
            return None
        return getattr(self, f"_cmd_{args.cmd}")(args)

    def _cmd_use(self, args: argparse.Namespace) -> Any:
        from .._store import WorkspaceError
        from ..workspace import Workspace

        try:
            ws = Workspace.create(args.path, exist_ok=True) if args.create else Workspace.open(args.path)
        except WorkspaceError as exc:
            raise UsageError(str(exc)) from None
        self.workspace = ws
        self._user_ns()["cvops_ws"] = ws
        print(f"using {ws!r} (also available as `cvops_ws`)")
        return None

    def _cmd_status(self, args: argparse.Namespace) -> Any:
        print(repr(self._ws()))
        if self.run is not None:
            print(repr(self.run))

    def _cmd_versions(self, args: argparse.Namespace) -> Any:
        return self._ws().versions()

    def _cmd_runs(self, args: argparse.Namespace) -> Any:
        return self._ws().runs()

    def _cmd_taxonomy(self, args: argparse.Namespace) -> Any:
        ws = self._ws()
        display(ws.taxonomy)  # type: ignore[no-untyped-call]  # IPython.display.display is unannotated
        return ws.taxonomy.history()

    def _cmd_snapshot(self, args: argparse.Namespace) -> Any:
        from ..datasets._names import NameInUseError
        from ..datasets.versions import take_snapshot

        ws = self._ws()
        if args.move and not args.name:
            raise UsageError("%cvops snapshot: --move needs --name (the name to move)")
        try:
            # ws.snapshot, with ``move`` (the same call Workspace.snapshot makes)
            version = take_snapshot(ws.store, ws.taxonomy, name=args.name, message=args.message,
                                    splits=parse_splits(args.splits), image_ids=None, author=None,
                                    move=args.move)
        except NameInUseError as exc:
            raise UsageError(
                f"%cvops snapshot: the name {exc.name!r} already points at dataset version {exc.holder[:12]} "
                f"(other content); to point it at this content, run "
                f"`%cvops snapshot --name {shlex.quote(exc.name)} --move`, or choose another name"
            ) from None
        info = {"kernel": kernel_info(self._user_ns()), "env": environment()}
        run_id = ws.record_run(
            "snapshot",
            dataset_version=version.id,
            taxonomy_version=version.taxonomy_version,
            notebook=info["kernel"].get("notebook"),
            info={"kernel": info["kernel"]},
            environment=info["env"],
        )
        if self.run is not None:
            self.run.use(version)
        payload = snapshot_payload(ws, version, run_id, info)
        bundle = {SNAPSHOT_MIME: payload, "text/plain": snapshot_text(payload)}
        display(bundle, raw=True)  # type: ignore[no-untyped-call]
        return None

    # -- runs -------------------------------------------------------------------------
    def _current_run(self, what: str) -> Any:
        if self.run is None:
            raise UsageError(f"%cvops run {what}: no run is going on; start one with `%cvops run start NAME`")
        return self.run

    def _cmd_run(self, args: argparse.Namespace) -> Any:
        from .._store import WorkspaceError

        if args.run_cmd is None:
            raise UsageError(f"%cvops run: say start, use, log, seed, end or show\n{USAGE}")
        try:
            return getattr(self, f"_run_{args.run_cmd}")(args)
        except (WorkspaceError, TypeError, ValueError) as exc:
            raise UsageError(f"%cvops run {args.run_cmd}: {exc}") from None

    def _start(self, name: str, params: list[str]) -> Any:
        ws = self._ws()
        run = ws.run(name, params=parse_assignments(params))
        self._user_ns()["cvops_run"] = run
        return run

    def _run_start(self, args: argparse.Namespace) -> Any:
        if self.run is not None:
            raise UsageError(f"%cvops run start: run {self.run.name!r} ({self.run.id[:12]}) is still going on; "
                             "end it first with `%cvops run end`")
        self.run = self._start(args.name, args.params)
        print(f"run {self.run.name!r} started ({self.run.id[:12]}), also available as `cvops_run`; "
              "log with `%cvops run log key=value`, end with `%cvops run end`")
        return None

    def _run_use(self, args: argparse.Namespace) -> Any:
        return self._current_run("use").use(args.version)

    def _run_log(self, args: argparse.Namespace) -> Any:
        self._current_run("log").log_metrics(parse_assignments(args.values, numbers=True), step=args.step)
        return None

    def _run_seed(self, args: argparse.Namespace) -> Any:
        self._current_run("seed").seed(args.seed)
        return None

    def _run_end(self, args: argparse.Namespace) -> Any:
        run = self._current_run("end")
        self.run, self.last_run = None, run
        if args.failed is None:
            run.end("finished")
        else:
            run.end("failed", error=args.failed or "ended as failed with `%cvops run end --failed`")
        display(run)  # type: ignore[no-untyped-call]
        return None

    def _run_show(self, args: argparse.Namespace) -> Any:
        run = self.run or self.last_run
        if run is None:
            raise UsageError("%cvops run show: no run in this session yet; start one with `%cvops run start NAME`")
        display(run)  # type: ignore[no-untyped-call]
        return None

    # -- recipes ----------------------------------------------------------------------
    def _cmd_recipe(self, args: argparse.Namespace) -> Any:
        from ..recipes import RecipeError, export_recipe

        if args.recipe_cmd != "export":
            raise UsageError(f"%cvops recipe: say export\n{USAGE}")
        notebook = args.notebook or kernel_info(self._user_ns()).get("notebook")
        if not notebook:
            raise UsageError("%cvops recipe export: this kernel does not know its notebook's path; "
                             "give it: `%cvops recipe export NOTEBOOK.ipynb`")
        try:
            recipe = export_recipe(notebook, args.out, name=args.name, workspace=self.workspace,
                                   overwrite=args.force)
        except RecipeError as exc:
            raise UsageError(f"%cvops recipe export: {exc}") from None
        pinned = recipe.to_dict()["pinned"]
        print(f"exported recipe {recipe.name!r} to {recipe.archive or recipe.path} (from the notebook as last saved)\n"
              + "\n".join(f"  {k}: {v}" for k, v in pinned.items())
              + f"\nre-run it with: cvops retrain {recipe.archive or recipe.path} --check")
        self._user_ns()["cvops_recipe"] = recipe
        return None

    # -- audit ------------------------------------------------------------------------
    def _cmd_audit(self, args: argparse.Namespace) -> Any:
        from .._store import WorkspaceError

        try:
            report = self._ws().audit(args.as_of, alias=args.alias, model=args.model,
                                      max_age_days=args.max_age_days)
        except WorkspaceError as exc:
            raise UsageError(f"%cvops audit: {exc}") from None
        display(report)  # type: ignore[no-untyped-call]
        self._user_ns()["cvops_audit"] = report
        return None

    def _cell_run(self, args: argparse.Namespace, cell: str) -> Any:
        from .._store import WorkspaceError

        assert self.shell is not None
        try:
            run = self._start(args.name, args.params)
        except (WorkspaceError, TypeError, ValueError) as exc:
            raise UsageError(f"%%cvops run: {exc}") from None
        result = self.shell.run_cell(cell, store_history=False)  # type: ignore[no-untyped-call]
        error = result.error_before_exec or result.error_in_exec
        self.last_run = run
        if run.active:  # the cell may have ended it itself
            if error is None:
                run.end("finished")
            else:
                run.end("failed", error=f"{type(error).__name__}: {error}")
        display(run)  # type: ignore[no-untyped-call]
        if error is not None:
            raise UsageError(f"%%cvops run: run {run.name!r} ({run.id[:12]}) failed and is recorded as failed: "
                             f"{type(error).__name__}: {error}")
        return None


def register(ipython: Any) -> None:
    """Register the magics on ``ipython``."""
    ipython.register_magics(CvopsMagics)
