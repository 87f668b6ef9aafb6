"""POST endpoints that change something: each authenticated, authorized (action ``write``), XSRF-checked by
jupyter_server like every other POST, and confined to the roots.

``POST aliases/rollback``  ``{"workspace", "model", "alias", "reason"}``: opens the workspace writable and
                           calls ``ws.rollback(model, alias, reason=...)`` (recorded in the alias history)
``POST recipes/export``    ``{"notebook", "name"?, "out"?, "workspace"?, "overwrite"?}``:
                           ``export_recipe(notebook, out, name=..., workspace=ws)``; ``notebook`` and ``out`` are
                           relative to ``ServerApp.root_dir`` (as JupyterLab shows them) and must lie inside the
                           roots; ``out`` defaults to ``recipes/<name>`` beside the notebook; ``workspace`` (as
                           for the GET endpoints) defaults to the one the notebook names (``metadata.cvops.workspace``,
                           relative to the notebook's folder, then its snapshots), which must lie inside the roots
                           too: the export opens it writable (the ``recipes`` table)

Every refusal is ``{"message", "reason"}`` with a one-line message and no server folder in it.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import tornado.web
from jupyter_server.auth.decorator import authorized

from ._base import CvopsHandler, one_line
from .paths import WorkspaceRefused, display_path, resolve_in_roots

#: Longest accepted reason / name.
MAX_REASON = 2000
MAX_NAME = 100


class _ActionHandler(CvopsHandler):
    def body(self) -> dict[str, Any]:
        """The request's JSON object; :class:`WorkspaceRefused` (400) otherwise."""
        try:
            data = json.loads(self.request.body or b"null")
        except ValueError:
            raise WorkspaceRefused(400, "bad_json", "the request body is not JSON") from None
        if not isinstance(data, dict):
            raise WorkspaceRefused(400, "bad_json", "the request body must be a JSON object")
        return data

    def text(self, body: dict[str, Any], key: str, *, required: bool = True, limit: int = MAX_NAME) -> str | None:
        value = body.get(key)
        if value is None or (isinstance(value, str) and not value.strip()):
            if required:
                raise WorkspaceRefused(400, f"missing_{key}", f"{key!r} is required")
            return None
        if not isinstance(value, str) or "\x00" in value:
            raise WorkspaceRefused(400, f"bad_{key}", f"{key!r} must be text")
        if len(value) > limit:
            raise WorkspaceRefused(400, f"bad_{key}", f"{key!r} is longer than {limit} characters")
        return value.strip()


class RollbackHandler(_ActionHandler):
    """``POST /cvops/api/aliases/rollback``: point ``model@alias`` back at the version before."""

    @tornado.web.authenticated
    @authorized
    async def post(self) -> None:
        try:
            body = self.body()
            model = self.text(body, "model")
            alias = self.text(body, "alias")
            reason = self.text(body, "reason", limit=MAX_REASON)
        except WorkspaceRefused as error:
            self.refuse(error)
            return
        assert model is not None and alias is not None
        roots = self.roots

        def act(ws: Any) -> dict[str, Any]:
            from .._store import WorkspaceError

            try:
                before = ws.model(f"{model}@{alias}").version
                after = ws.rollback(model, alias, reason=reason)
                history = ws.alias_history(model, alias=alias).to_dicts()
            except WorkspaceError as error:  # ModelError included: nothing to roll back to, unknown alias, ...
                raise WorkspaceRefused(409, "rollback_refused", one_line(error, roots)) from None
            return {"model": model, "alias": alias, "version": after.version, "previous_version": before,
                    "history": history[-1] if history else None}

        out = await self.with_workspace(act, value=body.get("workspace"), writable=True)
        if out is not None:
            self.log.info("cvops: %s@%s rolled back %s -> %s", model, alias, out["previous_version"], out["version"])
            self.reply({"workspace": body.get("workspace"), **out})


def _notebook_workspaces(notebook: Path) -> list[Path]:
    """Workspace folders the saved notebook names, relative ones taken from its folder (newest last)."""
    try:
        nb = json.loads(notebook.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return []
    try:
        from ..recipes._notebook import workspaces
        names = workspaces(nb)
    except ImportError:  # pragma: no cover - the recipe API ships with the package
        meta = (nb.get("metadata") or {}).get("cvops") or {}
        names = [meta["workspace"]] if isinstance(meta.get("workspace"), str) else []
    out = []
    for name in names:  # a URI becomes a relative path that is no folder: refused as outside the roots
        path = Path(name).expanduser()
        out.append(path if path.is_absolute() else notebook.parent / path)
    return out


class ExportRecipeHandler(_ActionHandler):
    """``POST /cvops/api/recipes/export``: export a notebook as a retrain recipe."""

    @tornado.web.authenticated
    @authorized
    async def post(self) -> None:
        try:
            body = self.body()
            notebook = resolve_in_roots(body.get("notebook"), "notebook", self.root_dir, self.roots, must_exist=True)
            if not notebook.is_file() or notebook.suffix != ".ipynb":
                raise WorkspaceRefused(400, "not_a_notebook", f"{body.get('notebook')!r} is not a notebook (.ipynb)")
            name = self.text(body, "name", required=False) or notebook.stem
            if "/" in name or "\\" in name or name in (".", ".."):
                raise WorkspaceRefused(400, "bad_name", "a recipe name cannot contain a path separator")
            out_value = self.text(body, "out", required=False, limit=4096)
            out = resolve_in_roots(out_value or display_path(notebook.parent / "recipes" / name, self.root_dir,
                                                             self.roots),
                                   "out", self.root_dir, self.roots, must_exist=False)
            if out.exists() and not out.is_dir():
                raise WorkspaceRefused(409, "out_is_a_file", f"{display_path(out, self.root_dir, self.roots)!r} "
                                       "is a file; choose a folder for the recipe")
            ws_value = self.text(body, "workspace", required=False, limit=4096)
            if ws_value is None:
                named = _notebook_workspaces(notebook)
                inside = [p for p in named if (real := p.resolve()).is_dir() and any(
                    real == r or real.is_relative_to(r) for r in self.roots)]
                if named and not inside:
                    raise WorkspaceRefused(403, "workspace_outside_roots", "the workspace this notebook names is "
                                           "outside every workspace root; pick one in the CV Ops panel")
                ws_value = str(inside[-1]) if inside else None
            overwrite = body.get("overwrite", False)
            if not isinstance(overwrite, bool):
                raise WorkspaceRefused(400, "bad_overwrite", "'overwrite' must be true or false")
        except WorkspaceRefused as error:
            self.refuse(error)
            return
        try:
            from ..recipes import export_recipe
        except ImportError:
            self.refuse(WorkspaceRefused(501, "recipes_unavailable",
                                         "this jupyter-cvops has no recipe API (jupyter_cvops.recipes)"))
            return
        hide = [self.root_dir, *self.roots]

        def export(ws: Any) -> Any:
            try:
                return export_recipe(notebook, out, name=name, workspace=ws, overwrite=overwrite)
            except Exception as error:  # the recipe API's refusals (no snapshot, failed run, ...) say what to do
                self.log.info("cvops: recipe export of %s refused: %s", notebook, error)
                raise WorkspaceRefused(409, "export_refused", one_line(error, hide)) from None

        if ws_value is None:  # nothing named: the recipe API's own message says what to do
            try:
                recipe = await asyncio.to_thread(export, None)
            except WorkspaceRefused as error:
                self.refuse(error)
                return
        else:
            recipe = await self.with_workspace(export, value=ws_value, writable=True)
            if recipe is None:
                return
        from ..recipes.recipe import SPEC_FILE

        folder = Path(getattr(recipe, "path", None) or out).resolve()
        yaml = folder / SPEC_FILE
        self.reply({
            "name": name,
            "notebook": display_path(notebook, self.root_dir, self.roots),
            "path": display_path(folder, self.root_dir, self.roots),
            "file": display_path(yaml, self.root_dir, self.roots) if yaml.is_file() else None,
            "recipe": recipe.to_dict() if hasattr(recipe, "to_dict") else {},
        })
