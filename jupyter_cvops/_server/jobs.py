"""Recipe re-runs as background jobs: start, follow, cancel.

``POST recipes/retrain``  ``{"recipe", "check"?, "dataset"?, "params"?, "verify"?, "strict"?, "workspace"?}``:
                          checks the request (the recipe and its workspace inside the roots, its hashes, the
                          parameter names) and answers 202 with the job; the re-run
                          (:func:`jupyter_cvops.recipes.retrain`) runs in its own process (:mod:`._jobs`)
``GET jobs``              every job kept, newest first
``GET jobs/<id>``         one job: ``status`` (queued, running, succeeded, failed, cancelled), ``phase``,
                          ``progress`` (``done`` of ``total`` code cells, the running ``cell`` and its first
                          line), ``reason`` (one line) when it failed or was cancelled, ``result`` (the check's
                          ``ok`` and metric ``comparison``, the run, the models, the proposals)
``DELETE jobs/<id>``      cancel: a queued job at once, a running one through its kernel (the ``ws.run`` block
                          records itself failed; nothing registered after the cancel)

``recipe`` is relative to ``ServerApp.root_dir`` (as JupyterLab shows it): a recipe folder, its
``recipe.yaml`` or a ``.zip``; every file of it, and the workspace it re-runs in (the recipe's own, or
``workspace`` as for the GET endpoints), must resolve inside the roots; the workspace may also be a
URI (``s3://...``) under a configured URI root, and its runner (and kernel) then get the server's
``storage_options`` as ``AWS_*`` variables (else the server's environment). Starting and cancelling a job
runs or stops a kernel, so they are authorized as ``execute`` on the ``cvops`` resource; reading a job
as ``read``. A refusal is ``{"message", "reason"}`` with one line and no server folder.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TypeVar, cast

import tornado.web
from jupyter_server.auth.decorator import authorized

from ._base import CvopsHandler, one_line
from ._jobs import Job, JobManager, JobRefused
from .actions import MAX_NAME, _ActionHandler
from .paths import (
    WorkspaceRefused,
    _inside,
    _tree_inside,
    check_workspace_contents,
    display_path,
    resolve_in_roots,
    resolve_workspace,
)
from .uris import _is_workspace, is_uri, resolve_uri_workspace

#: At most this many parameters in one request.
MAX_PARAMS = 50

F = TypeVar("F", bound=Callable[..., Any])
#: ``@authorized`` with the action ``execute`` (starting or stopping a kernel), typed.
authorized_execute = cast(Callable[[F], F], authorized("execute"))


def aws_env(storage_options: Mapping[str, str] | None) -> dict[str, str]:
    """The ``AWS_*`` environment that gives a runner process (and its kernel) the server's storage options.

    A re-run's kernel opens its workspace from ``$CVOPS_WORKSPACE`` alone, so the options of a URI
    root reach it as the environment LanceDB and boto3 read; each option under all its spellings.

    Examples
    --------
    >>> aws_env({"endpoint": "http://127.0.0.1:9000", "allow_http": "true"})["AWS_ENDPOINT_URL"]
    'http://127.0.0.1:9000'
    """
    from .._store.lease import normalize_storage_options

    options = normalize_storage_options(storage_options)
    return {k.upper(): v for k, v in options.items() if k.lower().startswith("aws_")}


def _flag(body: dict[str, Any], key: str) -> bool:
    value = body.get(key, False)
    if not isinstance(value, bool):
        raise WorkspaceRefused(400, f"bad_{key}", f"{key!r} must be true or false")
    return value


def _params(value: Any) -> dict[str, Any]:
    """``params`` as sent: an object of names to JSON scalars (what ``-p name=value`` gives)."""
    if value is None:
        return {}
    if not isinstance(value, dict) or len(value) > MAX_PARAMS:
        raise WorkspaceRefused(400, "bad_params", f"'params' must be an object of at most {MAX_PARAMS} names")
    for key, v in value.items():
        if not key.isidentifier():
            raise WorkspaceRefused(400, "bad_params", f"parameter {key[:40]!r} is not a Python name")
        if not (v is None or isinstance(v, (bool, int, float, str))) or (isinstance(v, str) and len(v) > 4096):
            raise WorkspaceRefused(400, "bad_params", f"parameter {key!r} must be a number, text, true/false or null")
    return dict(value)


class _JobHandler(CvopsHandler):
    jobs: JobManager

    def initialize(self, roots: Any, root_dir: Path | None = None, jobs: JobManager | None = None) -> None:
        super().initialize(roots, root_dir)
        assert jobs is not None
        self.jobs = jobs


class RetrainHandler(_JobHandler, _ActionHandler):
    """``POST /cvops/api/recipes/retrain``: start a re-run (``check``: the reproducibility test)."""

    @tornado.web.authenticated
    @authorized_execute
    async def post(self) -> None:
        try:
            body = self.body()
            recipe = resolve_in_roots(body.get("recipe"), "recipe", self.root_dir, self.roots, must_exist=True)
            check, strict = _flag(body, "check"), _flag(body, "strict")
            dataset = self.text(body, "dataset", required=False, limit=MAX_NAME)
            verify = body.get("verify", "fast")
            if verify not in ("fast", "full"):
                raise WorkspaceRefused(400, "bad_verify", "'verify' is 'fast' or 'full'")
            params = _params(body.get("params"))
            if check and (params or dataset):
                raise WorkspaceRefused(400, "check_with_changes", "a check re-runs the recipe on its own data with "
                                       "its own parameters: drop params/dataset, or run instead of check")
            ws_value = self.text(body, "workspace", required=False, limit=4096)
            job = await asyncio.to_thread(self._plan, recipe, ws_value, check=check, strict=strict, dataset=dataset,
                                          verify=verify, params=params)
            user = getattr(self.current_user, "username", None)
            job.user = user if isinstance(user, str) else None
            self.jobs.submit(job)
        except WorkspaceRefused as error:
            self.refuse(error)
            return
        except JobRefused as error:
            self.set_status(error.status)
            self.reply({"message": error.message, "reason": error.reason,
                        "job": error.job.to_dict() if error.job else None})
            return
        self.log.info("cvops: job %s started: %s of %s", job.id[:8], job.kind, job.public["recipe"])
        self.set_status(202)
        self.reply(job.to_dict())

    def _plan(self, path: Path, ws_value: str | None, *, check: bool, strict: bool, dataset: str | None,
              verify: str, params: dict[str, Any]) -> Job:
        """Everything that can be refused before a process starts (runs in a worker thread)."""
        from ..recipes import Recipe, RecipeError
        from ..recipes.rerun import check_params

        hide = [self.root_dir, *self.roots]
        shown = display_path(path, self.root_dir, self.roots)
        folder = path.parent if path.is_file() and path.suffix != ".zip" else path
        if not _tree_inside(folder, self.roots):
            raise WorkspaceRefused(403, "outside_roots", f"recipe {shown!r} links to files outside every "
                                   "workspace root")
        try:
            r = Recipe.load(path)
            check_params(r, params)
        except RecipeError as error:
            raise WorkspaceRefused(409, "recipe_refused", one_line(error, hide)) from None
        if not _tree_inside(r.path, self.roots):  # the folder an archive was unpacked into
            raise WorkspaceRefused(403, "outside_roots", f"recipe {shown!r} links to files outside every "
                                   "workspace root")
        value = ws_value if ws_value is not None else r.workspace
        if value is None:
            raise WorkspaceRefused(409, "no_workspace", f"recipe {r.name!r} names no workspace; pick one in the panel")
        try:
            workspace = self._workspace(value)
        except WorkspaceRefused as error:
            if ws_value is None:  # the recipe's own workspace: say so, without its server path
                raise WorkspaceRefused(error.status, "workspace_outside_roots" if error.status == 403 else
                                       error.reason, f"the workspace recipe {r.name!r} was exported from is not "
                                       "under the server's workspace roots; pick one in the panel") from None
            raise
        source = Path(str((r.spec.get("notebook") or {}).get("source") or "")).parent
        real = source.resolve() if source.is_absolute() else None
        cwd = real if real is not None and real.is_dir() and _inside(real, self.roots) else r.path
        spec = {"recipe": str(r.archive or r.path), "workspace": str(workspace), "check": check, "strict": strict,
                "dataset": dataset, "params": params, "verify": verify, "cwd": str(cwd)}
        shown_ws = workspace if isinstance(workspace, str) else display_path(workspace, self.root_dir, self.roots)
        public = {"recipe": display_path(Path(r.archive or r.path), self.root_dir, self.roots), "name": r.name,
                  "recipe_id": r.id, "workspace": shown_ws, "check": check, "params": params, "dataset": dataset}
        env = aws_env(self.settings.get("cvops_storage_options")) if isinstance(workspace, str) else {}
        return Job(kind="check" if check else "retrain", key=str(r.archive or r.path), spec=spec, public=public,
                   env=env)

    def _workspace(self, value: str) -> Path | str:
        """The workspace a re-run records into: a folder inside the roots, or a URI under a URI root."""
        if is_uri(value):
            uri = resolve_uri_workspace(value, self.settings.get("cvops_uri_roots", []))
            if not _is_workspace(uri, self.settings.get("cvops_storage_options") or None):
                raise WorkspaceRefused(404, "not_a_workspace", f"{uri!r} is not a jupyter-cvops workspace (or "
                                       "cannot be reached)")
            return uri
        workspace = resolve_workspace(value, self.roots)
        shown = display_path(workspace, self.root_dir, self.roots)
        check_workspace_contents(workspace, shown, self.roots)
        if not (workspace / "meta.lance").is_dir():
            raise WorkspaceRefused(404, "not_a_workspace", f"{shown!r} is not a jupyter-cvops workspace")
        return workspace


class JobsHandler(_JobHandler):
    """``GET /cvops/api/jobs``: every job kept, newest first."""

    @tornado.web.authenticated
    @authorized
    def get(self) -> None:
        self.reply({"jobs": [j.to_dict() for j in self.jobs.list()]})


class JobHandler(_JobHandler):
    """``GET /cvops/api/jobs/<id>``: one job; ``DELETE``: cancel it."""

    def _job(self, job_id: str) -> Job | None:
        job = self.jobs.get(job_id)
        if job is None:
            self.refuse(WorkspaceRefused(404, "no_job", f"no job {job_id[:40]!r} (finished jobs are kept "
                                         f"{self.jobs.keep} at most, and not across server restarts)"))
        return job

    @tornado.web.authenticated
    @authorized
    def get(self, job_id: str) -> None:
        job = self._job(job_id)
        if job is not None:
            self.reply(job.to_dict())

    @tornado.web.authenticated
    @authorized_execute
    def delete(self, job_id: str) -> None:
        job = self._job(job_id)
        if job is not None:
            self.jobs.cancel(job)
            self.log.info("cvops: job %s cancel requested (%s)", job.id[:8], job.status)
            self.reply(job.to_dict())


def job_manager(roots: list[Path], root_dir: Path, *, max_running: int = 2, max_queued: int = 8) -> JobManager:
    """A :class:`JobManager` whose finished jobs show paths as JupyterLab does and no server folder."""
    hide = [root_dir, *roots]

    def finish(job: Job) -> None:
        if job.reason:
            job.reason = one_line(Exception(job.reason), hide)
        job.warnings = [one_line(Exception(w), hide) for w in job.warnings]
        if job.result and isinstance(job.result.get("executed_notebook"), str):
            job.result["executed_notebook"] = display_path(Path(job.result["executed_notebook"]), root_dir, roots)

    return JobManager(max_running=max_running, max_queued=max_queued, finish=finish)
