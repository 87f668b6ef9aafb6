"""Base of the ``/cvops/api`` handlers: JSON answers and refusals, opening a workspace confined to the roots."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import math
from collections.abc import Callable, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeVar

from jupyter_server.base.handlers import APIHandler

from .paths import WorkspaceRefused, check_workspace_contents, resolve_workspace
from .uris import is_uri, resolve_uri_workspace

T = TypeVar("T")

#: The resource name an ``Authorizer`` sees for every ``/cvops/api`` request.
AUTH_RESOURCE = "cvops"


def jsonable(value: Any) -> Any:
    """Convert polars ``to_dicts()`` values into plain JSON values.

    Datetimes, dates and times become ISO strings, durations seconds, bytes hex,
    non-finite floats ``None``; containers are converted recursively.

    Examples
    --------
    >>> jsonable({"t": dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.timezone.utc), "x": float("nan")})
    {'t': '2026-01-02T03:04:05+00:00', 'x': None}
    """
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, (dt.datetime, dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        return value.total_seconds()
    if isinstance(value, Decimal):
        return jsonable(float(value))
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value).hex()
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [jsonable(v) for v in value]
    if isinstance(value, Path):
        return str(value)
    return str(value)


class CvopsHandler(APIHandler):
    """Base: knows the roots, answers refusals as ``{"message", "reason"}`` JSON.

    Subclasses decorate each HTTP method with ``@tornado.web.authenticated`` and then
    ``@authorized`` (resource :data:`AUTH_RESOURCE`, action from the HTTP method).
    """

    auth_resource = AUTH_RESOURCE
    roots: list[Path]
    root_dir: Path

    def initialize(self, roots: Sequence[Path], root_dir: Path | None = None) -> None:
        self.roots = list(roots)
        self.root_dir = root_dir if root_dir is not None else self.roots[0]

    def refuse(self, error: WorkspaceRefused) -> None:
        """Finish the request with the refusal's status and a JSON body."""
        self.set_status(error.status)
        self.set_header("Content-Type", "application/json")
        self.log.info("cvops: %s %s (%s)", error.status, error.reason, self.request.path)
        self.finish(json.dumps({"message": error.message, "reason": error.reason}))

    def reply(self, body: dict[str, Any]) -> None:
        """Finish the request with a 200 JSON body."""
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps(jsonable(body)))

    async def with_workspace(self, read: Callable[[Any], T], *, value: Any = None,
                             writable: bool = False) -> T | None:
        """Resolve ``?workspace=`` (or ``value``), open it and run ``read(ws)`` off the event loop.

        The workspace is opened read-only unless ``writable``. A :class:`WorkspaceRefused`
        raised by ``read`` is answered like a refused path. Returns ``None`` after answering
        400/403/404/409 itself.
        """
        if value is None:
            value = self.get_query_argument("workspace", None)
        if value is not None and not isinstance(value, str):
            self.refuse(WorkspaceRefused(400, "bad_workspace", "workspace must be a path (a string)"))
            return None
        from .._store import WorkspaceError

        try:
            if value is not None and is_uri(value):  # a workspace in object storage, under a URI root
                uri = resolve_uri_workspace(value, self.settings.get("cvops_uri_roots", []))
                options = self.settings.get("cvops_storage_options") or None
                return await asyncio.to_thread(_open_uri_and_read, uri, value, read, writable, options)
            path = resolve_workspace(value, self.roots)
            return await asyncio.to_thread(_open_and_read, path, value or "", self.roots, read, writable)
        except WorkspaceRefused as error:
            self.refuse(error)
            return None
        except WorkspaceError as error:  # e.g. an unknown model name: one line, no server folder
            self.refuse(WorkspaceRefused(409, "refused", one_line(error, self.roots)))
            return None


def one_line(error: BaseException, hide: Sequence[Path] = ()) -> str:
    """An error's message as one line, server folders in ``hide`` cut to relative paths.

    Examples
    --------
    >>> one_line(ValueError("no version 'x' in /srv/ws\\nsee the docs"), [Path("/srv")])
    "no version 'x' in ws"
    """
    text = str(error).strip().splitlines()
    line = text[0].strip() if text else type(error).__name__
    for folder in sorted(hide, key=lambda p: len(str(p)), reverse=True):
        line = line.replace(str(folder) + "/", "").replace(str(folder), ".")
    return line


def _open_uri_and_read(uri: str, value: str, read: Callable[[Any], T], writable: bool,
                       storage_options: dict[str, str] | None) -> T:
    from .._store import WorkspaceError
    from ..workspace import Workspace

    try:
        ws = Workspace.open(uri, readonly=not writable, storage_options=storage_options)
    except WorkspaceError as error:
        if "not a jupyter-cvops workspace" in str(error):
            raise WorkspaceRefused(404, "not_a_workspace", f"{value!r} is not a jupyter-cvops workspace") from None
        raise WorkspaceRefused(409, "unreachable", one_line(error)) from None
    return read(ws)


def _open_and_read(path: Path, value: str, roots: Sequence[Path], read: Callable[[Any], T],
                   writable: bool = False) -> T:
    from .._store import WorkspaceError
    from ..workspace import Workspace

    check_workspace_contents(path, value, roots)  # before anything under it is opened
    try:
        ws = Workspace.open(path, readonly=not writable)
    except WorkspaceError as error:
        if writable and (path / "meta.lance").is_dir():
            raise WorkspaceRefused(409, "not_writable", one_line(error, roots)) from None
        raise WorkspaceRefused(404, "not_a_workspace", f"{value!r} is not a jupyter-cvops workspace") from None
    return read(ws)
