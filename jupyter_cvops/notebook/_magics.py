"""``%cvops`` line magics: pick a workspace, snapshot it into run metadata, list versions."""

from __future__ import annotations

import argparse
import shlex
from typing import Any

from IPython.core.error import UsageError
from IPython.core.magic import Magics, line_magic, magics_class
from IPython.display import display

from ._runinfo import environment, kernel_info

SNAPSHOT_MIME = "application/vnd.cvops.snapshot+json"

USAGE = """%cvops use PATH [--create]          open (or create) the workspace at PATH
%cvops snapshot [--name N [--move]] [-m MSG] [--splits train=0.8,val=0.1,test=0.1]
                                    freeze a dataset version and record it in this run
                                    (--move: take the name N from other content)
%cvops versions                     list dataset versions
%cvops taxonomy                     show the current taxonomy and its history
%cvops status                       the current workspace"""


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
    for name in ("versions", "taxonomy", "status"):
        sub.add_parser(name, add_help=False)
    return p


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
        "env": {"python": info["env"]["python"], "packages": info["env"]["packages"]},
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

    def _user_ns(self) -> dict[str, Any]:
        assert self.shell is not None  # registered magics always have their shell
        ns: dict[str, Any] = self.shell.user_ns
        return ns

    def _ws(self) -> Any:
        if self.workspace is None:
            raise UsageError("no workspace selected: run `%cvops use PATH` first")
        return self.workspace

    @line_magic
    def cvops(self, line: str) -> Any:
        """Workspace commands; ``%cvops`` alone prints the usage."""
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

    def _cmd_versions(self, args: argparse.Namespace) -> Any:
        return self._ws().versions()

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
            info=info,
        )
        payload = snapshot_payload(ws, version, run_id, info)
        bundle = {SNAPSHOT_MIME: payload, "text/plain": snapshot_text(payload)}
        display(bundle, raw=True)  # type: ignore[no-untyped-call]
        return None


def register(ipython: Any) -> None:
    """Register the magics on ``ipython``."""
    ipython.register_magics(CvopsMagics)
