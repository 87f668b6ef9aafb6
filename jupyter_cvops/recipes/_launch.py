"""Starting a re-run's kernel early, so it boots while the re-run opens the store and checks its inputs.

A kernel takes about a second to start; opening the workspace (importing LanceDB), diffing the
environment and verifying the input files take about as long. :func:`launch_kernel` starts the
kernel first, with everything it needs in its environment except the recipe context, which the
re-run resolves afterwards and writes to a file the kernel's environment already names
(``$CVOPS_RECIPE_CONTEXT=@<file>``) before the first cell runs. This module imports nothing heavy
(no LanceDB, no polars), so ``cvops retrain`` can call it before the rest of the package loads.

An IPython kernel also imports, as it boots, the modules the notebook imports at the top level of
its cells (in the notebook's order, binding no names; a module that fails to import is left for the
notebook's own import to report): the imports are the slow part of a training notebook's first cell,
and they then overlap the data checks instead of following them. No cell runs before the checks pass.
"""

from __future__ import annotations

import ast
import json
import os
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import IO, Any

from ._errors import RecipeError
from .recipe import Recipe

RECIPE_ENV = "CVOPS_RECIPE_CONTEXT"  # the same name as jupyter_cvops._store.aliases.RECIPE_ENV (checked by a test)
#: Arguments nbclient gives the kernels it starts (no IPython history database).
KERNEL_ARGUMENTS = ("--HistoryManager.hist_file=:memory:",)


def workspace_uri(workspace: Any) -> str | None:
    """The URI a workspace argument names, as ``Store.open`` normalises it, without opening it.

    A local path becomes absolute (the kernel runs in another folder); a Workspace or Store
    gives its ``uri``; ``None`` stays ``None``.

    Examples
    --------
    >>> workspace_uri("s3://bucket/ws")
    's3://bucket/ws'
    >>> workspace_uri("/tmp/../tmp/ws")
    '/tmp/ws'
    """
    if workspace is None:
        return None
    uri = getattr(workspace, "uri", None) or getattr(getattr(workspace, "store", None), "uri", None)
    if isinstance(uri, str):
        return uri
    text = str(workspace)
    if "://" in text and not text.startswith("file://"):
        return text
    return str(Path(text[len("file://"):] if text.startswith("file://") else text).expanduser().resolve())


def kernel_name_of(recipe: Recipe, kernel_name: str | None = None) -> str:
    """The kernel a re-run uses: ``kernel_name``, else the notebook's kernelspec, else ``python3``.

    Examples
    --------
    >>> kernel_name_of(recipe)   # doctest: +SKIP
    'python3'
    """
    if kernel_name:
        return kernel_name
    spec = (recipe.notebook().get("metadata") or {}).get("kernelspec") or {}
    return str(spec.get("name") or "python3")


def run_folder(recipe: Recipe, cwd: str | Path | None = None) -> Path:
    """The working folder of a re-run: ``cwd``, else the folder the notebook was exported from (if it
    exists), else the recipe folder.

    Examples
    --------
    >>> run_folder(recipe, "/tmp")   # doctest: +SKIP
    PosixPath('/tmp')
    """
    if cwd is not None:
        return Path(cwd)
    source = Path(str(recipe.spec["notebook"].get("source") or "")).parent
    return source if str(source) not in ("", ".") and source.is_dir() else recipe.path


def notebook_imports(nb: Mapping[str, Any]) -> list[str]:
    r"""The modules ``nb``'s code cells import at their top level, in order, each once.

    ``import a.b`` gives ``a.b``, ``from a.b import c`` gives ``a.b``; relative imports, imports
    inside functions or ``if`` blocks and cells that are not Python (magics are skipped) give none.

    Examples
    --------
    >>> notebook_imports({"cells": [{"cell_type": "code", "source": "%matplotlib inline\nimport numpy as np\n"
    ...                              "from os import path\ndef f():\n    import json"}]})
    ['numpy', 'os']
    """
    found: list[str] = []
    for cell in nb.get("cells") or []:
        if cell.get("cell_type") != "code":
            continue
        source = cell.get("source") or ""
        source = "".join(source) if isinstance(source, list) else str(source)
        lines = [ln for ln in source.splitlines() if not ln.lstrip().startswith(("%", "!"))]
        try:
            tree = ast.parse("\n".join(lines))
        except SyntaxError:
            continue
        for node in tree.body:
            names = ([a.name for a in node.names] if isinstance(node, ast.Import) else
                     [node.module] if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module else [])
            found += [n for n in names if n not in found]
    return found


_PRELOAD = """# jupyter-cvops: the modules the recipe's notebook imports, imported while its data is checked
def __cvops_preload(names):
    import importlib
    for name in names:
        try:
            importlib.import_module(name)
        except Exception:  # the notebook's own import reports it
            pass
__cvops_preload({names!r})
del __cvops_preload
"""


@dataclass
class Launch:
    """A re-run's identity, files and (already booting) kernel.

    ``out`` is the executed notebook's path, ``context_file`` the file the kernel reads the
    recipe context from (written by :meth:`write_context`), ``km`` the started kernel manager
    (``None`` when it could not start; ``error`` says why, raised when the notebook would run).
    Call :meth:`shutdown` when done (idempotent); :func:`execute_notebook` takes ``km`` and shuts
    the kernel down after the last cell.

    Examples
    --------
    >>> launch = launch_kernel(recipe, workspace_uri="/data/ws")   # doctest: +SKIP
    >>> launch.write_context({"recipe_id": recipe.id})             # doctest: +SKIP
    >>> launch.shutdown()                                          # doctest: +SKIP
    """

    recipe: Recipe
    retrain_id: str
    out: Path
    cwd: Path
    kernel_name: str
    workspace: str | None
    env: dict[str, str]
    context_file: Path
    km: Any = None
    error: str | None = None
    executed: bool = False
    _log: IO[str] | None = field(default=None, repr=False)
    _made_folder: bool = field(default=False, repr=False)

    def write_context(self, context: Mapping[str, Any]) -> None:
        """Write the recipe context the kernel's ``recipe_context()`` reads (before any cell runs)."""
        self.context_file.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.context_file.with_suffix(".tmp")
        tmp.write_text(json.dumps(dict(context), default=str), encoding="utf-8")
        os.replace(tmp, self.context_file)

    def shutdown(self) -> None:
        """Stop the kernel if it still runs and close its log; safe to call twice.

        A re-run refused before its notebook ran (``executed`` still False) leaves no trace:
        the kernel log, the context file and an ``executed/`` folder made for them go."""
        km, self.km = self.km, None
        try:
            if km is not None and km.has_kernel:
                from jupyter_core.utils import run_sync

                run_sync(km.shutdown_kernel)(now=True)
        finally:
            if self._log is not None and not self._log.closed:
                self._log.close()
            self.out.with_suffix(".preload.py").unlink(missing_ok=True)
            if not self.executed:
                for path in (self.out.with_suffix(".kernel.log"), self.context_file):
                    path.unlink(missing_ok=True)
                if self._made_folder:
                    try:
                        self.out.parent.rmdir()
                    except OSError:  # something else is in it now
                        pass


def launch_kernel(recipe: Recipe, *, workspace_uri: str | None, kernel_name: str | None = None,
                  cwd: str | Path | None = None, env: Mapping[str, str] | None = None,
                  start: bool = True) -> Launch:
    """Name a re-run (id, executed notebook path) and start its kernel, which boots in the background.

    Parameters
    ----------
    recipe
        The recipe to re-run.
    workspace_uri
        The workspace the kernel's ``$CVOPS_WORKSPACE`` names (see :func:`workspace_uri`).
    kernel_name, cwd
        As :func:`~jupyter_cvops.recipes.retrain` takes them.
    env
        The environment to start from (default: this process's).
    start
        Start the kernel now (default); ``False`` only names the run.

    Returns
    -------
    Launch
        With ``km`` started, or ``error`` saying why it could not start (an unknown kernel name).

    Examples
    --------
    >>> launch = launch_kernel(Recipe.load("recipes/train"), workspace_uri="/data/ws")   # doctest: +SKIP
    >>> launch.km.has_kernel                                                              # doctest: +SKIP
    True
    """
    retrain_id = uuid.uuid4().hex
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    out = recipe.path / "executed" / f"{Path(recipe.notebook_path).stem}-{stamp}-{retrain_id[:8]}.ipynb"
    context_file = out.with_suffix(".context.json")
    full_env = {**(os.environ if env is None else env), RECIPE_ENV: f"@{context_file}", "JPY_SESSION_NAME": str(out)}
    if workspace_uri is not None:
        full_env["CVOPS_WORKSPACE"] = workspace_uri
    launch = Launch(recipe=recipe, retrain_id=retrain_id, out=out, cwd=run_folder(recipe, cwd),
                    kernel_name=kernel_name_of(recipe, kernel_name), workspace=workspace_uri, env=full_env,
                    context_file=context_file)
    if start:
        _start(launch)
    return launch


def _start(launch: Launch) -> None:
    from jupyter_client.kernelspec import NoSuchKernel
    from jupyter_client.manager import AsyncKernelManager
    from jupyter_core.utils import run_sync

    launch._made_folder = not launch.out.parent.exists()
    launch.out.parent.mkdir(parents=True, exist_ok=True)
    km = AsyncKernelManager(kernel_name=launch.kernel_name)
    launch._log = open(launch.out.with_suffix(".kernel.log"), "w", encoding="utf-8")  # noqa: SIM115 (closed by shutdown)
    try:
        arguments = list(KERNEL_ARGUMENTS)
        names = notebook_imports(launch.recipe.notebook()) if km.ipykernel else []
        if names:
            preload = launch.out.with_suffix(".preload.py")
            preload.write_text(_PRELOAD.format(names=names), encoding="utf-8")
            arguments.append(f"--IPKernelApp.exec_files={preload}")
        run_sync(km.start_kernel)(extra_arguments=arguments, cwd=str(launch.cwd), env=launch.env, stderr=launch._log)
    except NoSuchKernel:
        launch.error = (f"no Jupyter kernel named {launch.kernel_name!r} is installed here; pass kernel_name= "
                        "(--kernel NAME)")
        launch._log.close()
        return
    launch.km = km


def raise_if_failed(launch: Launch) -> None:
    """Raise the launch's error (a :class:`RecipeError`) if its kernel could not start.

    Examples
    --------
    >>> raise_if_failed(launch)   # doctest: +SKIP
    """
    if launch.error is not None:
        raise RecipeError(f"{launch.error}; the notebook did not run")
