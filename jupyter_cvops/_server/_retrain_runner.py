"""The process a retrain job runs in: ``python -m jupyter_cvops._server._retrain_runner`` (see :mod:`._jobs`).

It reads one JSON object on stdin (``recipe``, ``workspace``, ``check``, ``dataset``, ``params``,
``verify``, ``strict``, ``cwd``), calls :func:`jupyter_cvops.recipes.retrain` and writes JSON lines
on stdout, one event each::

    {"event": "phase", "phase": "preparing" | "executing" | "comparing"}
    {"event": "progress", "done": 2, "total": 5, "cell": 4, "source": "train(...)", "kernel_pid": 123}
    {"event": "warning", "message": "..."}
    {"event": "done", "ok": true, "result": {...}}                  the re-run finished (check passed or retrained)
    {"event": "failed", "message": "...", "result": {...} | null}   one line; ``result`` when --check found a diff
    {"event": "cancelled", "message": "..."}

Everything else the process prints goes to stderr. SIGUSR1 cancels (SIGTERM is nbclient's: it
shuts the kernel down at once): before the notebook runs, at once (nothing executed, nothing
recorded); while it runs, the kernel is interrupted (SIGINT, so a ``ws.run`` block records itself
as failed) and killed after a grace period. The runner also cancels itself when the server that
started it goes away.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
import time
import traceback
import warnings
from typing import IO, Any

#: Seconds between interrupting the kernel and killing it.
GRACE_S = 5.0
#: The signal that cancels a run.
CANCEL_SIGNAL = signal.SIGUSR1


class Cancelled(BaseException):
    """Raised in the main thread when a cancel arrives before the notebook runs."""


class _Runner:
    def __init__(self, out: IO[str]) -> None:
        self.out = out
        self.lock = threading.Lock()
        self.kernel_pid: int | None = None
        self.executing = False
        self.cancelled = False
        self.cell: int | None = None

    def emit(self, event: str, **fields: Any) -> None:
        line = json.dumps({"event": event, **fields}, default=str)
        with self.lock:
            self.out.write(line + "\n")
            self.out.flush()

    def on_cell(self, step: Any) -> None:
        if step.kernel_pid is not None:
            self.kernel_pid = step.kernel_pid
        if step.cell is not None:
            self.cell = step.cell
        if not self.executing:
            self.executing = True
            self.emit("phase", phase="executing")
        self.emit("progress", done=step.done, total=step.total, cell=step.cell, source=step.source,
                  kernel_pid=step.kernel_pid)
        if step.done == step.total and step.cell is None:
            self.emit("phase", phase="comparing")
        if self.cancelled and step.cell is not None:  # a cell started after the interrupt: stop it too
            self._interrupt()

    def cancel(self, signum: int, frame: Any) -> None:
        if self.cancelled:
            return
        self.cancelled = True
        if not self.executing:
            raise Cancelled()
        self._interrupt()
        timer = threading.Timer(GRACE_S, self._kill)
        timer.daemon = True
        timer.start()

    def _interrupt(self) -> None:
        if self.kernel_pid is not None:
            try:
                os.killpg(os.getpgid(self.kernel_pid), signal.SIGINT)
            except (ProcessLookupError, PermissionError):
                pass

    def _kill(self) -> None:
        if self.kernel_pid is not None:
            try:
                os.killpg(os.getpgid(self.kernel_pid), signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass


def _watch_parent(parent: int) -> None:
    """Cancel this run when the server that started it goes away."""
    while True:
        time.sleep(1.0)
        if os.getppid() != parent:
            os.kill(os.getpid(), CANCEL_SIGNAL)
            return


def _result(res: Any) -> dict[str, Any]:
    """What the client needs of a :class:`RetrainResult` (no per-file verify reports)."""
    full = res.to_dict()
    env = res.environment
    return {k: full.get(k) for k in ("recipe", "recipe_id", "run_id", "parent_run_id", "status", "check", "ok",
                                     "comparison", "models", "proposals", "dataset_change", "params",
                                     "executed_notebook", "check_id", "duration_s")} | {
        "environment": {"ok": env.ok, "summary": env.summary()}, "diff_table": res.diff_table()}


def main(stdin: IO[str] = sys.stdin) -> int:
    """Run one retrain job from the JSON spec on ``stdin``; the exit status is 0 unless the runner broke."""
    out = os.fdopen(os.dup(sys.stdout.fileno()), "w", encoding="utf-8")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())  # stray prints never corrupt the event stream
    sys.stdout = sys.stderr
    runner = _Runner(out)
    signal.signal(CANCEL_SIGNAL, runner.cancel)
    threading.Thread(target=_watch_parent, args=(os.getppid(),), daemon=True).start()
    try:
        spec = json.loads(stdin.read())
        runner.emit("phase", phase="preparing")
        from ..recipes import RecipeCheckError, retrain
        from ..recipes._execute import skip_unused_schema_formats

        skip_unused_schema_formats()

        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                res = retrain(spec["recipe"], params=spec.get("params") or None, dataset=spec.get("dataset"),
                              check=bool(spec.get("check")), strict=bool(spec.get("strict")),
                              verify=spec.get("verify") or "fast", workspace=spec.get("workspace"),
                              cwd=spec.get("cwd"), progress=False, on_cell=runner.on_cell)
            except RecipeCheckError as error:
                if runner.cancelled:
                    raise
                _warnings(runner, caught)
                runner.emit("failed", message=_line(error), result=_result(error.result))
                return 0
        _warnings(runner, caught)
        runner.emit("done", ok=res.ok, result=_result(res))
        return 0
    except Cancelled:
        runner.emit("cancelled", message="cancelled before the notebook ran; nothing was recorded")
        return 0
    except Exception as error:
        traceback.print_exc()  # the server keeps the last lines of stderr
        if runner.cancelled:
            _, at, where = _line(error).partition("; the executed notebook is at ")
            cell = f"cell {runner.cell}" if runner.cell else "the notebook"
            runner.emit("cancelled", message=f"cancelled while {cell} ran; nothing after it was recorded"
                        + (f"; the executed notebook is at {where}" if at else ""))
        else:
            runner.emit("failed", message=_line(error), result=None)
        return 0


def _line(error: BaseException) -> str:
    lines = str(error).strip().splitlines()
    return lines[0].strip() if lines else type(error).__name__


def _warnings(runner: _Runner, caught: list[warnings.WarningMessage]) -> None:
    for w in caught:
        if w.category.__module__.startswith("jupyter_cvops"):
            runner.emit("warning", message=_line(Exception(str(w.message))))


if __name__ == "__main__":
    sys.exit(main())
