"""Read-only GET endpoints of the CV Ops panel (each opens the workspace read-only, confined to the roots).

``GET workspaces``                   workspace folders under the roots (``workspace``: the value to send back,
                                     ``path``: relative to ``ServerApp.root_dir`` where a notebook's kernel starts)
``GET runs?workspace=REL_PATH``      recorded runs, newest first (params and last metrics as objects)
``GET models?workspace=REL_PATH``    model versions with their current aliases, newest first
``GET aliases?workspace=REL_PATH``   the model alias history, oldest first (``&model=NAME`` narrows it)
``GET checks?workspace=REL_PATH``    stored checks, newest first, and ``retrain_due`` per model alias
                                     (when the workspace has that verb)
``GET recipes?workspace=REL_PATH``   retrain recipes (the ``recipes`` table; ``available`` false when none)
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
from pathlib import Path
from typing import Any

import tornado.web
from jupyter_server.auth.decorator import authorized

from ._base import CvopsHandler, one_line
from .paths import display_path, find_workspaces
from .uris import find_uri_workspaces

#: At most this many runs / checks are sent (newest first); the answer says how many there are.
LIMIT = 500


class WorkspacesHandler(CvopsHandler):
    """``GET /cvops/api/workspaces``: workspace folders under the roots (3 levels deep at most)."""

    @tornado.web.authenticated
    @authorized
    async def get(self) -> None:
        pairs = await asyncio.to_thread(find_workspaces, self.roots)
        out = []
        for root, folder in pairs:
            rel = folder.relative_to(root).as_posix() if folder != root else "."
            value = rel if root == self.roots[0] else folder.as_posix()
            out.append({"workspace": value, "path": display_path(folder.resolve(), self.root_dir, self.roots)})
        uri_roots = self.settings.get("cvops_uri_roots", [])
        if uri_roots:  # workspaces in object storage: the URI is both the value and what is shown
            uris = await asyncio.to_thread(find_uri_workspaces, uri_roots, self.settings.get("cvops_storage_options"))
            out += [{"workspace": uri, "path": uri} for uri in uris]
        self.reply({"workspaces": out})


def _split_prefixed(row: dict[str, Any], *prefixes: str) -> dict[str, Any]:
    """Move ``prefix.key`` columns of a row into ``row[prefix][key]`` (nulls dropped)."""
    out: dict[str, Any] = {p: {} for p in prefixes}
    for key, value in row.items():
        head, dot, rest = key.partition(".")
        if dot and head in out:
            if value is not None:
                out[head][rest] = value
        else:
            out[key] = value
    return out


def _runs(ws: Any) -> dict[str, Any]:
    frame = ws.runs()
    rows = [_split_prefixed(r, "params", "metrics") for r in reversed(frame.to_dicts())]
    return {"total": len(rows), "runs": rows[:LIMIT]}


class RunsHandler(CvopsHandler):
    """``GET /cvops/api/runs?workspace=REL_PATH``."""

    @tornado.web.authenticated
    @authorized
    async def get(self) -> None:
        out = await self.with_workspace(_runs)
        if out is not None:
            self.reply({"workspace": self.get_query_argument("workspace"), **out})


class ModelsHandler(CvopsHandler):
    """``GET /cvops/api/models?workspace=REL_PATH``."""

    @tornado.web.authenticated
    @authorized
    async def get(self) -> None:
        rows = await self.with_workspace(lambda ws: list(reversed(ws.models().to_dicts())))
        if rows is not None:
            self.reply({"workspace": self.get_query_argument("workspace"), "models": rows})


class AliasesHandler(CvopsHandler):
    """``GET /cvops/api/aliases?workspace=REL_PATH[&model=NAME]``: alias history of model aliases."""

    @tornado.web.authenticated
    @authorized
    async def get(self) -> None:
        model = self.get_query_argument("model", None) or None
        rows = await self.with_workspace(lambda ws: ws.alias_history(model).to_dicts())
        if rows is not None:
            self.reply({"workspace": self.get_query_argument("workspace"), "history": rows})


def _plain(value: Any) -> Any:
    """A verb's answer as JSON-able data (a polars frame's rows, ``to_dict()``, a dataclass, or as is)."""
    if hasattr(value, "to_dicts") and callable(value.to_dicts):
        return value.to_dicts()
    if hasattr(value, "to_dict") and callable(value.to_dict):
        return value.to_dict()
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)
    return value


def _parse(text: Any) -> Any:
    if not isinstance(text, str):
        return text
    try:
        return json.loads(text)
    except ValueError:
        return text


def _checks(ws: Any) -> dict[str, Any]:
    frame = ws.checks()
    rows = list(reversed(frame.to_dicts()))
    for row in rows:
        row["parameters"] = _parse(row.get("parameters"))
        row["result"] = _parse(row.get("result"))
    due: list[dict[str, Any]] = []
    if hasattr(ws, "retrain_due"):
        for model in ws.models().to_dicts():
            for alias in model.get("aliases") or []:
                ref = f"{model['model']}@{alias}"
                try:
                    due.append({"ref": ref, "result": _plain(ws.retrain_due(ref))})
                except Exception as error:  # one alias failing must not hide the others
                    due.append({"ref": ref, "error": one_line(error)})
    return {"total": len(rows), "checks": rows[:LIMIT], "retrain_due": due,
            "retrain_due_available": hasattr(ws, "retrain_due")}


class ChecksHandler(CvopsHandler):
    """``GET /cvops/api/checks?workspace=REL_PATH``: stored checks and ``retrain_due`` (the panel's alerts)."""

    @tornado.web.authenticated
    @authorized
    async def get(self) -> None:
        out = await self.with_workspace(_checks)
        if out is not None:
            self.reply({"workspace": self.get_query_argument("workspace"), **out})


def _recipes(ws: Any, base: Path, roots: list[Path]) -> dict[str, Any]:
    if hasattr(ws, "recipes") and callable(ws.recipes):
        frame = ws.recipes()
    elif ws.store.has_table("recipes"):
        frame = ws.store.read("recipes")
    else:
        return {"available": False, "recipes": []}
    rows = _plain(frame)
    rows = list(reversed(rows)) if isinstance(rows, list) else []
    for row in rows:  # where JupyterLab shows the recipe (relative to root_dir), for links and cells
        path = row.get("path")
        row["location"] = display_path(Path(path), base, roots) if isinstance(path, str) and path else None
    return {"available": True, "recipes": rows}


class RecipesHandler(CvopsHandler):
    """``GET /cvops/api/recipes?workspace=REL_PATH``: the ``recipes`` table, newest first."""

    @tornado.web.authenticated
    @authorized
    async def get(self) -> None:
        base, roots = self.root_dir, self.roots
        out = await self.with_workspace(lambda ws: _recipes(ws, base, roots))
        if out is not None:
            self.reply({"workspace": self.get_query_argument("workspace"), **out})
