"""Resolve a client-supplied workspace path against the configured roots.

Everything here is pure path logic (no Jupyter imports) so it is testable on its own.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

#: Entries of a workspace folder that opening and reading a workspace may touch:
#: every LanceDB table (``<name>.lance``) and the metadata folder (lock, stat cache).
_META_DIR = ".cvops"
_TABLE_SUFFIX = ".lance"


class WorkspaceRefused(Exception):
    """A workspace request that gets an HTTP error answer.

    Parameters
    ----------
    status
        HTTP status code: 400 (bad parameter), 403 (outside roots), 404 (missing).
    reason
        Short machine-readable slug, e.g. ``"outside_roots"``.
    message
        Sentence for people; never contains server paths the client did not send.
    """

    def __init__(self, status: int, reason: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.reason = reason
        self.message = message


def resolve_roots(roots: Sequence[str | Path], base: str | Path) -> list[Path]:
    """Absolute, symlink-free roots; relative entries are taken relative to ``base``.

    Examples
    --------
    >>> resolve_roots(["data"], "/srv")[0].as_posix().endswith("srv/data")
    True
    """
    base_path = Path(base).expanduser()
    out: list[Path] = []
    for root in roots:
        path = Path(root).expanduser()
        resolved = (path if path.is_absolute() else base_path / path).resolve()
        if resolved not in out:
            out.append(resolved)
    return out


def _inside(path: Path, roots: Sequence[Path]) -> bool:
    return any(path == root or path.is_relative_to(root) for root in roots)


def resolve_workspace(value: str | None, roots: Sequence[Path]) -> Path:
    """The real (symlink-resolved) folder a ``workspace=`` parameter names.

    Relative values are tried against each root in order; absolute values must
    already lie inside a root. Symlinks are followed before the check, so a
    link inside a root that points outside it is refused.

    Parameters
    ----------
    value
        The ``workspace`` query parameter as sent by the client.
    roots
        Resolved roots, as returned by :func:`resolve_roots`.

    Returns
    -------
    Path
        The existing folder inside a root.

    Raises
    ------
    WorkspaceRefused
        400 when the parameter is missing or malformed, 403 when it resolves
        outside every root (or is a URI), 404 when it resolves inside a root but
        does not exist.

    Examples
    --------
    >>> import tempfile
    >>> root = Path(tempfile.mkdtemp()).resolve()
    >>> (root / "ws").mkdir()
    >>> resolve_workspace("ws", [root]) == root / "ws"
    True
    >>> resolve_workspace("../x", [root])
    Traceback (most recent call last):
    ...
    jupyter_cvops._server.paths.WorkspaceRefused: workspace '../x' resolves outside every workspace root
    """
    if value is None or not value.strip():
        raise WorkspaceRefused(400, "missing_workspace", "query parameter 'workspace' is required")
    if "\x00" in value:
        raise WorkspaceRefused(400, "bad_workspace", "workspace path contains a NUL character")
    if "://" in value:
        raise WorkspaceRefused(
            403, "not_local", "only folders under the server's workspace roots are served"
        )
    requested = Path(value)
    candidates = [requested] if requested.is_absolute() else [root / requested for root in roots]
    inside = [real for real in (c.resolve() for c in candidates) if _inside(real, roots)]
    if not inside:
        if requested.is_absolute():
            raise WorkspaceRefused(
                403, "absolute_outside_roots", "absolute workspace path is outside every workspace root"
            )
        raise WorkspaceRefused(
            403, "outside_roots", f"workspace {value!r} resolves outside every workspace root"
        )
    for real in inside:
        if real.is_dir():
            return real
    raise WorkspaceRefused(404, "not_found", f"no workspace folder at {value!r}")


def _real(path: Path) -> Path | None:
    """``path`` with every symlink resolved, or None for a loop or an unreadable link."""
    try:
        return path.resolve(strict=False)
    except (OSError, RuntimeError):
        return None


def _tree_inside(path: Path, roots: Sequence[Path]) -> bool:
    """True when ``path`` and everything below it resolve inside ``roots``.

    Only symlinks can leave the folder a walk started in, so only those are resolved;
    a symlinked folder that stays inside is walked too (each real folder once).
    """
    real = _real(path)
    if real is None or not _inside(real, roots):
        return False
    stack, seen = [real], set()
    while stack:
        folder = stack.pop()
        if folder in seen or not folder.is_dir():
            continue
        seen.add(folder)
        try:
            entries = list(os.scandir(folder))
        except OSError:
            return False
        for entry in entries:
            if entry.is_symlink():
                target = _real(Path(entry.path))
                if target is None or not _inside(target, roots):
                    return False
                stack.append(target)
            elif entry.is_dir(follow_symlinks=False):
                stack.append(Path(entry.path))
    return True


def check_workspace_contents(workspace: Path, value: str, roots: Sequence[Path]) -> None:
    """Refuse a workspace whose tables or metadata leave the roots through symlinks.

    :func:`resolve_workspace` confines the workspace folder only; a ``<table>.lance``
    entry (or the ``.cvops`` metadata folder, or any file below them) that is a
    symlink to a place outside every root would still be read when the workspace is
    opened. This walks those entries (resolving only symlinks, reading no table data)
    before anything is opened.

    Parameters
    ----------
    workspace
        The real workspace folder, as returned by :func:`resolve_workspace`.
    value
        The ``workspace`` parameter as the client sent it (used in the message).
    roots
        Resolved roots, as returned by :func:`resolve_roots`.

    Raises
    ------
    WorkspaceRefused
        403 ``table_outside_roots`` / ``metadata_outside_roots`` naming the table, never
        a server path.

    Examples
    --------
    >>> import tempfile
    >>> base = Path(tempfile.mkdtemp()).resolve()
    >>> (base / "root" / "ws").mkdir(parents=True)
    >>> (base / "other.lance").mkdir()
    >>> (base / "root" / "ws" / "images.lance").symlink_to(base / "other.lance")
    >>> check_workspace_contents(base / "root" / "ws", "ws", [base / "root"])
    Traceback (most recent call last):
    ...
    jupyter_cvops._server.paths.WorkspaceRefused: table 'images' of workspace 'ws' resolves outside every workspace root
    """
    try:
        names = sorted(os.listdir(workspace))
    except OSError:
        raise WorkspaceRefused(404, "not_found", f"no workspace folder at {value!r}") from None
    for name in names:
        if name == _META_DIR:
            if not _tree_inside(workspace / name, roots):
                raise WorkspaceRefused(
                    403, "metadata_outside_roots",
                    f"metadata folder of workspace {value!r} resolves outside every workspace root",
                )
        elif name.endswith(_TABLE_SUFFIX) and not _tree_inside(workspace / name, roots):
            table = name[: -len(_TABLE_SUFFIX)]
            raise WorkspaceRefused(
                403, "table_outside_roots",
                f"table {table!r} of workspace {value!r} resolves outside every workspace root",
            )


def resolve_in_roots(value: object, param: str, base: Path, roots: Sequence[Path], *,
                     must_exist: bool) -> Path:
    """The real path a client-supplied file path names, confined to ``roots``.

    Unlike a workspace (taken relative to each root), such a path is what JupyterLab
    shows: relative to ``base`` (``ServerApp.root_dir``), like ``/api/contents`` paths.
    Symlinks are followed before the check; a path that does not exist yet (the folder
    a recipe is written to) is checked through its nearest existing ancestor.

    Parameters
    ----------
    value
        The path as sent (a string; anything else is refused with 400).
    param
        The parameter's name, for the message.
    base
        ``ServerApp.root_dir`` (resolved).
    roots
        Resolved roots.
    must_exist
        Refuse (404) a path that does not exist.

    Raises
    ------
    WorkspaceRefused
        400 missing or malformed, 403 outside every root or a URI, 404 missing.

    Examples
    --------
    >>> import tempfile
    >>> root = Path(tempfile.mkdtemp()).resolve()
    >>> resolve_in_roots("a/b", "out", root, [root], must_exist=False) == root / "a" / "b"
    True
    >>> resolve_in_roots("../x", "out", root, [root], must_exist=False)
    Traceback (most recent call last):
    ...
    jupyter_cvops._server.paths.WorkspaceRefused: out '../x' resolves outside every workspace root
    """
    if not isinstance(value, str) or not value.strip():
        raise WorkspaceRefused(400, f"missing_{param}", f"parameter {param!r} is required (a path)")
    if "\x00" in value:
        raise WorkspaceRefused(400, f"bad_{param}", f"{param} path contains a NUL character")
    if "://" in value:
        raise WorkspaceRefused(403, "not_local", "only paths under the server's workspace roots are served")
    requested = Path(value)
    real = _real(requested if requested.is_absolute() else base / requested)
    if real is None or not _inside(real, roots):
        raise WorkspaceRefused(403, "outside_roots", f"{param} {value!r} resolves outside every workspace root")
    if must_exist and not real.exists():
        raise WorkspaceRefused(404, "not_found", f"no {param} at {value!r}")
    return real


def display_path(path: Path, base: Path, roots: Sequence[Path]) -> str:
    """``path`` as the client should see it: relative to ``base`` when inside it, else absolute.

    Examples
    --------
    >>> display_path(Path("/srv/a/b"), Path("/srv"), [Path("/srv")])
    'a/b'
    """
    if path == base:
        return "."
    if path.is_relative_to(base):
        return path.relative_to(base).as_posix()
    return path.as_posix()


def find_workspaces(roots: Sequence[Path], *, max_depth: int = 3, limit: int = 200) -> list[tuple[Path, Path]]:
    """Workspace folders (holding a ``meta.lance`` table) under ``roots``: ``(root, folder)`` pairs.

    Walks at most ``max_depth`` folders deep, skips hidden folders, ``*.lance`` tables and
    ``node_modules``, never descends into a workspace, and follows a symlinked folder only
    when it stays inside the roots. Stops after ``limit`` workspaces.

    Examples
    --------
    >>> import tempfile
    >>> root = Path(tempfile.mkdtemp()).resolve()
    >>> (root / "a" / "ws" / "meta.lance").mkdir(parents=True)
    >>> [p.relative_to(root).as_posix() for _, p in find_workspaces([root])]
    ['a/ws']
    """
    found: list[tuple[Path, Path]] = []
    seen: set[Path] = set()
    for root in roots:
        stack: list[tuple[Path, int]] = [(root, 0)]
        while stack and len(found) < limit:
            folder, depth = stack.pop()
            real = _real(folder)
            if real is None or real in seen or not _inside(real, roots):
                continue
            seen.add(real)
            if (folder / f"meta{_TABLE_SUFFIX}").is_dir():
                found.append((root, folder))
                continue
            if depth >= max_depth:
                continue
            try:
                entries = sorted(os.scandir(folder), key=lambda e: e.name, reverse=True)
            except OSError:
                continue
            for entry in entries:
                name = entry.name
                if name.startswith(".") or name.endswith(_TABLE_SUFFIX) or name in ("node_modules", "__pycache__"):
                    continue
                try:
                    if entry.is_dir():
                        stack.append((Path(entry.path), depth + 1))
                except OSError:
                    continue
    return sorted(found, key=lambda pair: (roots.index(pair[0]), pair[1].as_posix()))
