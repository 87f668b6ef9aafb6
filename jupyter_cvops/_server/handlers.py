"""Authenticated and authorized JSON endpoints under ``/cvops/api/``.

``GET status``                          package version and workspace roots
``GET workspaces``                      workspace folders under the roots
``GET versions?workspace=REL_PATH``     dataset versions of a workspace
``GET taxonomy?workspace=REL_PATH``     taxonomy history of a workspace
``GET runs|models|aliases|checks|recipes?workspace=REL_PATH``  (see :mod:`.reads`)
``GET audit?workspace=REL_PATH``         the ten audit questions answered (see :mod:`.audit`)
``POST aliases/rollback``               roll a model alias back (see :mod:`.actions`)
``POST recipes/export``                 export a notebook as a retrain recipe
``POST recipes/retrain``, ``GET jobs``, ``GET|DELETE jobs/<id>``  recipe re-runs as background jobs
                                        (see :mod:`.jobs`)

GET handlers open workspaces read-only; only the POST actions (and the re-run jobs' processes) open one writable.

Every handler is authenticated (``@tornado.web.authenticated``) and then authorized
(jupyter_server's ``@authorized``) against the ``"cvops"`` resource, so a server's
``Authorizer`` decides who may read workspaces, as it does for ``/api/contents``.
Every path a request opens (the workspace folder, each ``*.lance`` table, the ``.cvops``
metadata) must resolve inside the roots, symlinks followed.
Workspace reads run in a worker thread so LanceDB I/O never blocks the server loop.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import tornado.web
from jupyter_server.auth.decorator import authorized
from jupyter_server.utils import url_path_join

from .._version import __version__
from . import actions, audit, jobs, reads
from .uris import normalize_uri_root
from ._base import AUTH_RESOURCE, CvopsHandler, _open_and_read, jsonable, one_line

__all__ = ["AUTH_RESOURCE", "CvopsHandler", "StatusHandler", "TaxonomyHandler", "VersionsHandler", "_open_and_read",
           "jsonable", "one_line", "setup_handlers"]


class StatusHandler(CvopsHandler):
    """``GET /cvops/api/status``."""

    @tornado.web.authenticated
    @authorized
    def get(self) -> None:
        self.reply({"version": __version__,
                    "roots": [str(r) for r in self.roots] + list(self.settings.get("cvops_uri_roots", []))})


class VersionsHandler(CvopsHandler):
    """``GET /cvops/api/versions?workspace=REL_PATH``: dataset versions, oldest first."""

    @tornado.web.authenticated
    @authorized
    async def get(self) -> None:
        rows = await self.with_workspace(lambda ws: ws.versions().to_dicts())
        if rows is not None:
            self.reply({"workspace": self.get_query_argument("workspace"), "versions": rows})


class TaxonomyHandler(CvopsHandler):
    """``GET /cvops/api/taxonomy?workspace=REL_PATH``: taxonomy history."""

    @tornado.web.authenticated
    @authorized
    async def get(self) -> None:
        out = await self.with_workspace(
            lambda ws: {"version": ws.taxonomy.version, "history": ws.taxonomy.history().to_dicts()}
        )
        if out is not None:
            self.reply({"workspace": self.get_query_argument("workspace"), **out})


def setup_handlers(web_app: tornado.web.Application, roots: Sequence[Path],
                   root_dir: str | Path | None = None, *, max_jobs: int = 2,
                   uri_roots: Sequence[str] = (), storage_options: dict[str, str] | None = None) -> None:
    """Register the ``/cvops/api/*`` routes on the server's tornado application.

    ``root_dir`` (``ServerApp.root_dir``) is what notebook and output paths of POST
    actions are relative to, as in ``/api/contents``; default: the first root.
    ``max_jobs`` recipe re-runs run at once (more wait in a queue). ``uri_roots``
    (``s3://bucket/prefix``) serve workspaces in object storage, opened with ``storage_options``
    (else the server's environment).
    """
    web_app.settings["cvops_uri_roots"] = [normalize_uri_root(u) for u in uri_roots]
    web_app.settings["cvops_storage_options"] = dict(storage_options or {})
    base = url_path_join(web_app.settings["base_url"], "cvops", "api")
    root_list, base_dir = list(roots), Path(root_dir).resolve() if root_dir else list(roots)[0]
    kwargs = {"roots": root_list, "root_dir": base_dir}
    routes: list[tuple[str, type[CvopsHandler]]] = [
        ("status", StatusHandler),
        ("workspaces", reads.WorkspacesHandler),
        ("versions", VersionsHandler),
        ("taxonomy", TaxonomyHandler),
        ("runs", reads.RunsHandler),
        ("models", reads.ModelsHandler),
        ("aliases", reads.AliasesHandler),
        ("checks", reads.ChecksHandler),
        ("recipes", reads.RecipesHandler),
        ("audit", audit.AuditHandler),
        ("aliases/rollback", actions.RollbackHandler),
        ("recipes/export", actions.ExportRecipeHandler),
    ]
    manager = jobs.job_manager(root_list, base_dir, max_running=max_jobs)
    job_routes: list[tuple[str, type[CvopsHandler]]] = [
        ("recipes/retrain", jobs.RetrainHandler),
        ("jobs", jobs.JobsHandler),
        ("jobs/([0-9a-f]{32})", jobs.JobHandler),
    ]
    web_app.add_handlers(".*$", [(url_path_join(base, path), handler, kwargs) for path, handler in routes] +
                         [(url_path_join(base, path), handler, {**kwargs, "jobs": manager})
                          for path, handler in job_routes])
