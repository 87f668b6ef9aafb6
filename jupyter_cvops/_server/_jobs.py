"""Background jobs of the server: recipe re-runs in their own process, with progress, cancel and a result.

A :class:`JobManager` starts at most ``max_running`` runner processes at a time
(:mod:`._retrain_runner`, each in its own process group) and queues up to ``max_queued`` more.
It reads the runner's JSON-line events (phase, per-cell progress, warnings, the result) into the
:class:`Job`; :meth:`JobManager.cancel` drops a queued job or signals a running one (SIGUSR1: the
runner interrupts its kernel) and kills its process group and kernel when it does not stop within
``kill_after_s``. Finished jobs are kept (the newest ``keep``) for the panel to read back.
"""

from __future__ import annotations

import asyncio
import atexit
import collections
import contextlib
import json
import os
import signal
import sys
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .._store import now_utc
from ._retrain_runner import CANCEL_SIGNAL

#: Job states; the last three are final.
QUEUED, RUNNING, SUCCEEDED, FAILED, CANCELLED = "queued", "running", "succeeded", "failed", "cancelled"
FINAL = (SUCCEEDED, FAILED, CANCELLED)


class JobRefused(Exception):
    """A job the manager will not take (too many queued, the same recipe already running)."""

    def __init__(self, status: int, reason: str, message: str, job: Job | None = None) -> None:
        super().__init__(message)
        self.status, self.reason, self.message, self.job = status, reason, message, job


@dataclass
class Job:
    """One background job: what it runs, where it stands, how it ended.

    ``spec`` is what the runner gets on stdin; ``key`` identifies the target (two jobs on the
    same key do not run at once); ``public`` the fields a client sees (paths as it sent them);
    ``env`` variables set in the runner's environment over the server's (a URI workspace's
    storage options, which its kernel inherits).
    """

    kind: str
    key: str
    spec: dict[str, Any]
    public: dict[str, Any]
    user: str | None = None
    env: dict[str, str] = field(default_factory=dict, repr=False)
    id: str = field(default_factory=lambda: uuid.uuid4().hex)
    status: str = QUEUED
    phase: str | None = None
    progress: dict[str, Any] = field(default_factory=lambda: {"done": 0, "total": None, "cell": None, "source": ""})
    reason: str | None = None
    result: dict[str, Any] | None = None
    warnings: list[str] = field(default_factory=list)
    created_at: Any = field(default_factory=now_utc)
    started_at: Any = None
    finished_at: Any = None
    cancel_requested: bool = False
    pid: int | None = None
    kernel_pid: int | None = None
    stderr: collections.deque[str] = field(default_factory=lambda: collections.deque(maxlen=40))
    done: asyncio.Event = field(default_factory=asyncio.Event)

    def to_dict(self) -> dict[str, Any]:
        """The job as the client sees it (no process ids, no server-side spec)."""
        return {"id": self.id, "kind": self.kind, **self.public, "user": self.user, "status": self.status,
                "phase": self.phase, "progress": dict(self.progress), "reason": self.reason, "result": self.result,
                "warnings": list(self.warnings), "cancel_requested": self.cancel_requested,
                "created_at": self.created_at, "started_at": self.started_at, "finished_at": self.finished_at}


class JobManager:
    """Runs :class:`Job` s in runner processes, ``max_running`` at a time.

    Parameters
    ----------
    max_running
        Runner processes at once (each runs a notebook in its own kernel).
    max_queued
        Jobs waiting for a free slot; more are refused (429).
    keep
        Finished jobs kept for reading back.
    kill_after_s
        Seconds a cancelled runner gets to stop (it interrupts its kernel) before its process
        group is killed.
    finish
        Called with each job as it ends (e.g. to cut server folders out of its messages).

    Examples
    --------
    >>> manager = JobManager(max_running=1)
    >>> manager.list()
    []
    """

    def __init__(self, *, max_running: int = 2, max_queued: int = 8, keep: int = 100, kill_after_s: float = 15.0,
                 finish: Callable[[Job], None] | None = None, module: str = "jupyter_cvops._server._retrain_runner"
                 ) -> None:
        self.max_running, self.max_queued, self.keep, self.kill_after_s = max_running, max_queued, keep, kill_after_s
        self.finish, self.module = finish, module
        self.jobs: dict[str, Job] = {}
        self._queue: collections.deque[Job] = collections.deque()
        self._tasks: set[asyncio.Task[None]] = set()
        atexit.register(self.kill_all)

    # -- the client's verbs ---------------------------------------------------------------
    def submit(self, job: Job) -> Job:
        """Queue ``job`` (started at once when a slot is free); :class:`JobRefused` when it cannot be taken."""
        same = next((j for j in self.jobs.values() if j.key == job.key and j.status in (QUEUED, RUNNING)), None)
        if same is not None:
            raise JobRefused(409, "already_running", f"a {same.kind} of this recipe is already {same.status} "
                             f"(job {same.id[:8]}); cancel it or wait for it", same)
        running = sum(j.status == RUNNING for j in self.jobs.values())
        if running >= self.max_running and len(self._queue) >= self.max_queued:
            raise JobRefused(429, "too_many_jobs", f"{running} jobs are running and {len(self._queue)} waiting; "
                             "try again when one has finished")
        self.jobs[job.id] = job
        self._queue.append(job)
        self._prune()
        self._start_next()
        return job

    def get(self, job_id: str) -> Job | None:
        """The job with this id, or None."""
        return self.jobs.get(job_id)

    def list(self) -> list[Job]:
        """Every kept job, newest first."""
        return sorted(self.jobs.values(), key=lambda j: j.created_at, reverse=True)

    def cancel(self, job: Job) -> Job:
        """Cancel ``job``: a queued one at once, a running one through its runner (SIGUSR1, then a kill)."""
        if job.status in FINAL:
            return job
        job.cancel_requested = True
        if job.status == QUEUED:
            with contextlib.suppress(ValueError):
                self._queue.remove(job)
            self._end(job, CANCELLED, "cancelled before it started; nothing was run")
            return job
        if job.pid is not None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(job.pid, CANCEL_SIGNAL)
            loop = asyncio.get_running_loop()
            loop.call_later(self.kill_after_s, self._kill, job)
        return job

    def kill_all(self) -> None:
        """Kill every runner's process group and kernel (the server is stopping)."""
        for job in list(self.jobs.values()):
            if job.status == RUNNING:
                self._kill(job)

    # -- internals -------------------------------------------------------------------------
    def _kill(self, job: Job) -> None:
        if job.status in FINAL:
            return
        for pid in (job.pid, job.kernel_pid):
            if pid is not None:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(pid, signal.SIGKILL)

    def _prune(self) -> None:
        ended = [j for j in self.list() if j.status in FINAL]
        for job in ended[self.keep:]:
            del self.jobs[job.id]

    def _start_next(self) -> None:
        while self._queue and sum(j.status == RUNNING for j in self.jobs.values()) < self.max_running:
            job = self._queue.popleft()
            job.status, job.started_at, job.phase = RUNNING, now_utc(), "starting"
            task = asyncio.get_running_loop().create_task(self._run(job))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _run(self, job: Job) -> None:
        try:
            proc = await asyncio.create_subprocess_exec(
                sys.executable, "-m", self.module, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE, cwd=job.spec.get("cwd") or None, start_new_session=True,
                limit=1 << 22, env={**os.environ, **job.env} if job.env else None)
        except OSError as error:
            self._end(job, FAILED, f"could not start the runner: {error}")
            return
        job.pid = proc.pid
        if job.cancel_requested:  # cancelled while the process started
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGKILL)
        assert proc.stdin is not None and proc.stdout is not None and proc.stderr is not None
        proc.stdin.write(json.dumps(job.spec).encode())
        with contextlib.suppress(ConnectionError):
            await proc.stdin.drain()
        proc.stdin.close()
        final: dict[str, Any] | None = None

        async def read_events() -> None:
            nonlocal final
            assert proc.stdout is not None
            async for raw in proc.stdout:
                try:
                    event = json.loads(raw)
                except ValueError:
                    continue
                if isinstance(event, dict):
                    final = self._apply(job, event) or final

        async def read_errors() -> None:
            assert proc.stderr is not None
            async for raw in proc.stderr:
                line = raw.decode("utf-8", "replace").strip()
                if line:
                    job.stderr.append(line)

        await asyncio.gather(read_events(), read_errors())
        code = await proc.wait()
        if final is None:  # the runner died without a verdict (killed, or broke)
            if job.cancel_requested:
                self._end(job, CANCELLED, "cancelled: the runner was stopped")
            else:
                last = job.stderr[-1] if job.stderr else f"exit status {code}"
                self._end(job, FAILED, f"the re-run stopped unexpectedly: {last}")
        else:
            self._end(job, final["status"], final.get("reason"), final.get("result"))

    def _apply(self, job: Job, event: dict[str, Any]) -> dict[str, Any] | None:
        kind = event.get("event")
        if kind == "phase":
            job.phase = str(event.get("phase"))
        elif kind == "progress":
            job.progress = {k: event.get(k) for k in ("done", "total", "cell", "source")}
            if isinstance(event.get("kernel_pid"), int):
                job.kernel_pid = event["kernel_pid"]
        elif kind == "warning":
            job.warnings.append(str(event.get("message")))
        elif kind == "done":
            return {"status": SUCCEEDED, "result": event.get("result")}
        elif kind == "failed":
            return {"status": FAILED, "reason": event.get("message"), "result": event.get("result")}
        elif kind == "cancelled":
            return {"status": CANCELLED, "reason": event.get("message")}
        return None

    def _end(self, job: Job, status: str, reason: str | None = None, result: dict[str, Any] | None = None) -> None:
        job.status, job.reason, job.result, job.finished_at = status, reason, result, now_utc()
        job.phase = None
        if self.finish is not None:
            self.finish(job)
        job.done.set()
        self._prune()
        with contextlib.suppress(RuntimeError):  # no loop: the server is stopping
            self._start_next()
