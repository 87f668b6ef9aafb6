"""``JobManager`` with real runner processes (a small stand-in runner module, no kernel): the concurrency limit and
the queue, refusals, a cancel of a queued job, a runner that dies without a verdict, one that ignores the cancel."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Any

import pytest

from jupyter_cvops._server._jobs import CANCELLED, FAILED, QUEUED, RUNNING, SUCCEEDED, Job, JobManager, JobRefused

#: Reads {"sleep", "exit", "ignore_cancel"} on stdin; reports progress, sleeps, then a verdict (or exits without).
RUNNER = '''
import json, signal, sys, time
spec = json.loads(sys.stdin.read())
if spec.get("ignore_cancel"):
    signal.signal(signal.SIGUSR1, signal.SIG_IGN)
else:
    def cancel(*_):
        print(json.dumps({"event": "cancelled", "message": "stopped by request"}), flush=True)
        sys.exit(0)
    signal.signal(signal.SIGUSR1, cancel)
print(json.dumps({"event": "phase", "phase": "executing"}), flush=True)
print("not json: ignored", flush=True)
print(json.dumps({"event": "progress", "done": 1, "total": 2, "cell": 2, "source": "x = 1"}), flush=True)
time.sleep(spec.get("sleep", 0))
if "exit" in spec:
    print("boom: the runner broke", file=sys.stderr, flush=True)
    sys.exit(spec["exit"])
print(json.dumps({"event": "done", "ok": True, "result": {"ok": True}}), flush=True)
'''


@pytest.fixture
def runner(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    (tmp_path / "cvops_test_fake_runner.py").write_text(RUNNER)
    path = os.environ.get("PYTHONPATH")
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(tmp_path), *([path] if path else [])]))
    return "cvops_test_fake_runner"


def job(key: str, **spec: Any) -> Job:
    return Job(kind="retrain", key=key, spec=spec, public={"recipe": key})


async def settle(*jobs: Job, timeout: float = 60.0) -> None:
    await asyncio.wait_for(asyncio.gather(*(j.done.wait() for j in jobs)), timeout)


def test_limit_queue_and_refusals(runner: str) -> None:
    async def scenario() -> None:
        manager = JobManager(max_running=1, max_queued=1, module=runner)
        first = manager.submit(job("a", sleep=1.0))
        second = manager.submit(job("b"))
        assert (first.status, second.status) == (RUNNING, QUEUED)
        with pytest.raises(JobRefused) as same:
            manager.submit(job("a"))
        assert (same.value.status, same.value.reason, same.value.job) == (409, "already_running", first)
        with pytest.raises(JobRefused) as full:
            manager.submit(job("c"))
        assert (full.value.status, full.value.reason) == (429, "too_many_jobs")
        await settle(first, second)
        assert (first.status, second.status) == (SUCCEEDED, SUCCEEDED)
        assert second.started_at >= first.finished_at  # one at a time
        assert first.progress == {"done": 1, "total": 2, "cell": 2, "source": "x = 1"}
        assert first.result == {"ok": True} and first.reason is None
        assert [j.id for j in manager.list()] == [second.id, first.id]

    asyncio.run(scenario())


def test_cancel_a_queued_job_and_a_running_one(runner: str) -> None:
    async def scenario() -> None:
        manager = JobManager(max_running=1, module=runner)
        running = manager.submit(job("a", sleep=30))
        waiting = manager.submit(job("b"))
        manager.cancel(waiting)
        assert waiting.status == CANCELLED and waiting.started_at is None and waiting.pid is None
        while running.progress["done"] != 1:  # the runner reported, so its handler is in place
            await asyncio.sleep(0.05)
        manager.cancel(running)
        await settle(running, timeout=10)
        assert (running.status, running.reason) == (CANCELLED, "stopped by request")

    asyncio.run(scenario())


def test_a_runner_that_dies_without_a_verdict_fails_with_its_last_line(runner: str) -> None:
    async def scenario() -> None:
        manager = JobManager(module=runner)
        broken = manager.submit(job("a", exit=3))
        await settle(broken)
        assert broken.status == FAILED
        assert broken.reason == "the re-run stopped unexpectedly: boom: the runner broke"

    asyncio.run(scenario())


def test_a_runner_that_ignores_the_cancel_is_killed(runner: str) -> None:
    async def scenario() -> None:
        manager = JobManager(module=runner, kill_after_s=0.5)
        stuck = manager.submit(job("a", sleep=60, ignore_cancel=True))
        while stuck.progress["done"] != 1:
            await asyncio.sleep(0.05)
        manager.cancel(stuck)
        await settle(stuck, timeout=10)
        assert (stuck.status, stuck.reason) == (CANCELLED, "cancelled: the runner was stopped")

    asyncio.run(scenario())
