"""Where a run ran: the kernel, the notebook (its path and its ``metadata.cvops``), the git commit.

Every function here answers; none raises. What cannot be found is recorded with the reason
(``"error"``), so a run's record says why its notebook or commit is missing.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import Any


def ipython_namespace() -> dict[str, Any] | None:
    """The user namespace of the running IPython shell, if any (IPython is never imported here).

    Examples
    --------
    >>> ipython_namespace() is None or isinstance(ipython_namespace(), dict)
    True
    """
    if "IPython" not in sys.modules:
        return None
    get = getattr(sys.modules["IPython"], "get_ipython", None)
    shell = get() if get is not None else None
    ns = getattr(shell, "user_ns", None)
    return ns if isinstance(ns, dict) else None


def kernel_info(user_ns: dict[str, Any] | None = None) -> dict[str, Any]:
    """Kernel id and notebook path when running in a Jupyter kernel (else Nones).

    The notebook path is what the front end told the kernel: ``__session__`` (JupyterLab),
    ``__vsc_ipynb_file__`` (VS Code) or ``$JPY_SESSION_NAME``.

    Examples
    --------
    >>> sorted(kernel_info({}))
    ['kernel_id', 'notebook', 'pid']
    """
    notebook = None
    if user_ns is not None:
        notebook = user_ns.get("__session__") or user_ns.get("__vsc_ipynb_file__")
    notebook = notebook or os.environ.get("JPY_SESSION_NAME") or None
    kernel_id = None
    if "ipykernel" in sys.modules:
        try:
            from ipykernel.connect import get_connection_file

            kernel_id = os.path.basename(get_connection_file()).removeprefix("kernel-").removesuffix(".json")
        except Exception:  # not in an ipykernel (e.g. a terminal IPython)
            kernel_id = None
    return {"notebook": str(notebook) if notebook else None, "kernel_id": kernel_id, "pid": os.getpid()}


def resolve_notebook(path: str) -> Path | None:
    """The notebook file ``path`` names, as the kernel can reach it (None when it cannot).

    Jupyter may give the path relative to the server's root while the kernel runs in the
    notebook's folder, so the file name in the working directory is tried too.

    Examples
    --------
    >>> resolve_notebook("/no/such/notebook.ipynb") is None
    True
    """
    candidates = [Path(path).expanduser()]
    if not candidates[0].is_absolute():
        candidates.append(Path.cwd() / Path(path).name)
    for c in candidates:
        if c.is_file():
            return c.resolve()
    return None


def notebook_facts(path: str | None) -> dict[str, Any] | None:
    """The notebook's path and its ``metadata.cvops`` (snapshots the labextension recorded).

    The file is read as last saved. When it cannot be read, the path is kept and
    ``error`` says why; ``cvops`` is None then.

    Examples
    --------
    >>> notebook_facts(None) is None
    True
    >>> notebook_facts("/no/such.ipynb")["error"]
    'the kernel cannot read /no/such.ipynb: no such file (relative to the kernel folder either)'
    """
    if not path:
        return None
    out: dict[str, Any] = {"path": path, "resolved": None, "cvops": None, "saved_at": None, "error": None}
    found = resolve_notebook(path)
    if found is None:
        out["error"] = f"the kernel cannot read {path}: no such file (relative to the kernel folder either)"
        return out
    out["resolved"] = str(found)
    try:
        stat = found.stat()
        doc = json.loads(found.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        out["error"] = f"the kernel cannot read {found}: {type(exc).__name__}: {exc}"
        return out
    out["saved_at"] = datetime.fromtimestamp(stat.st_mtime, timezone.utc).isoformat()
    meta = doc.get("metadata") if isinstance(doc, dict) else None
    cvops = meta.get("cvops") if isinstance(meta, dict) else None
    out["cvops"] = cvops if isinstance(cvops, dict) else None
    if out["cvops"] is None:
        out["error"] = "the notebook (as last saved) has no metadata.cvops"
    return out


def _git(folder: Path, *args: str) -> str | None:
    exe = shutil.which("git")
    if exe is None:
        return None
    try:
        done = subprocess.run([exe, "-C", str(folder), *args], capture_output=True, text=True, timeout=20,
                              check=False, env={**os.environ, "GIT_OPTIONAL_LOCKS": "0", "LC_ALL": "C"})
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.rstrip("\n") if done.returncode == 0 else None  # porcelain lines start with spaces


def git_facts(folder: str | Path) -> dict[str, Any]:
    """The git commit checked out in ``folder`` (or a parent), its branch, and whether it is dirty.

    ``dirty`` is True when tracked files differ from the commit (staged or not); untracked
    files are counted in ``untracked`` and do not make it dirty. Without a repository (or
    without git) ``commit`` is None and ``error`` says why.

    Examples
    --------
    >>> import tempfile
    >>> git_facts(tempfile.mkdtemp())["commit"] is None
    True
    """
    folder = Path(folder)
    if shutil.which("git") is None:
        return {"commit": None, "folder": str(folder), "error": "git is not installed"}
    root = _git(folder, "rev-parse", "--show-toplevel")
    if root is None:
        return {"commit": None, "folder": str(folder), "error": f"{folder} is not inside a git repository"}
    commit = _git(folder, "rev-parse", "--verify", "--quiet", "HEAD^{commit}")
    if commit is None:
        return {"commit": None, "folder": str(folder), "root": root, "error": "the repository has no commit yet"}
    status = _git(folder, "status", "--porcelain", "--untracked-files=normal") or ""
    lines = status.splitlines()
    untracked = sum(1 for line in lines if line.startswith("??"))
    changed = [line[3:] for line in lines if not line.startswith("??")]
    branch = _git(folder, "symbolic-ref", "--short", "-q", "HEAD")
    return {"commit": commit, "branch": branch, "dirty": bool(changed), "changed": changed[:50],
            "n_changed": len(changed), "untracked": untracked, "root": root, "folder": str(folder),
            "error": None}
