"""``Run``: one recorded block of work (training, evaluation, anything) and what it used and produced.

``ws.run(name, params=...)`` starts a run: its row is written at once (status ``running``)
with the user, the exact environment, the git commit and the notebook. Inside the block,
``run.use(...)`` records dataset versions as inputs, ``run.log_metrics(...)`` buffers
metric values (written at most once a second), ``run.seed(n)`` seeds Python, numpy and
torch, and ``run.register_model(...)`` registers a model version that points back here.
Leaving the block writes the row again (``finished``, or ``failed`` with the error, which
is re-raised).
"""

from __future__ import annotations

import atexit
import json
import threading
import uuid
import weakref
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, cast

import polars as pl

from .._store import WorkspaceError, current_user, now_utc
from .._store.store import read_only_error
from ..models.aliases import proposal_count, proposals, recipe_context
from ._card import RUN_MIME, card_html, card_text
from ._environment import environment, summary
from ._metrics import MetricBuffer, check_metrics, json_number
from ._provenance import git_facts, ipython_namespace, kernel_info, notebook_facts
from ._seeds import current_seeds, seed_everything

if TYPE_CHECKING:
    from ..workspace import Workspace

_local = threading.local()  # the runs open in this thread, innermost last
_live: weakref.WeakSet[Run] = weakref.WeakSet()  # runs of this process still running


def _active() -> list[str]:
    stack: list[str] | None = getattr(_local, "stack", None)
    if stack is None:
        stack = _local.stack = []
    return stack


@atexit.register
def _flush_live_runs() -> None:  # metrics buffered by runs nobody ended still reach the table
    for run in list(_live):
        try:
            if run._buffer is not None:
                run._buffer.flush()
        except Exception:  # the interpreter is going away; nothing to report to
            pass


def jsonable(value: Any) -> Any:
    """``value`` as JSON stores it (tuples become lists, unknown objects their ``str``).

    Examples
    --------
    >>> jsonable({"size": (224, 224), "opt": "adam"})
    {'size': [224, 224], 'opt': 'adam'}
    """
    return json.loads(json.dumps(value, default=str, allow_nan=True))


def _loads(text: str | None, default: Any) -> Any:
    if not text:
        return default
    try:
        return json.loads(text)
    except ValueError:
        return default


def _number(value: Any) -> float:
    return float(value)  # numbers, and "nan" / "inf" / "-inf" as stored by json_number


def _recipe_link(name: str) -> dict[str, Any] | None:
    """What a run started inside a recipe re-run records about it (None outside one)."""
    context = recipe_context()
    if context is None:
        return None
    source = context.get("source_run") or {}
    return {"recipe_id": context.get("recipe_id"), "name": context.get("name"), "path": context.get("path"),
            "retrain_id": context.get("retrain_id"), "parent_run_id": source.get("run_id"),
            "reproduces": bool(source.get("name") == name)}


def _pinned_input(version: Any) -> dict[str, Any] | None:
    """The recipe input ``version`` names, inside a recipe re-run (by name, id, id prefix or object)."""
    context = recipe_context()
    if context is None:
        return None
    key = version if isinstance(version, str) else getattr(version, "id", None)
    if not isinstance(key, str) or not key:
        return None
    for pin in context.get("inputs") or []:
        vid = str(pin.get("version_id") or "")
        if key == vid or key in (pin.get("names") or []) or (len(key) >= 6 and vid.startswith(key)):
            return dict(pin)
    return None


class Run:
    """A run: inputs, params, metrics per step, seeds, environment, git commit, notebook, status.

    Start one with ``ws.run(name, params=...)`` (used as a context manager, or ended with
    :meth:`end`); read a recorded one with ``ws.get_run(run_id_or_name)``. Displayed in a
    notebook it is a card.

    Attributes
    ----------
    id, name, kind, status, user
        The run id (hex), its name, ``"run"`` (``"snapshot"`` for snapshot records),
        ``running`` / ``finished`` / ``failed``, and who ran it.
    params, metrics, inputs, seeds
        Parameters; the last value of each metric; dataset versions used
        (``{"version_id", "name", "taxonomy_version"}``); seeds set through the run and
        seeds read back from torch.
    started_at, ended_at, error
        UTC times; ``"ErrorType: message"`` of a failed run.
    environment, git, notebook
        The exact environment (Python, platform, every package, torch, CUDA, GPUs); the git
        commit (``commit``, ``dirty``, ``branch``); the notebook path (its
        ``metadata.cvops`` is in ``info["notebook"]``).

    Examples
    --------
    >>> import tempfile, jupyter_cvops as cv
    >>> ws = cv.Workspace.create(tempfile.mkdtemp() + "/ws")
    >>> with ws.run("smoke", params={"lr": 0.1}) as run:
    ...     run.log_metrics({"loss": 0.5})
    >>> run.status, run.metrics
    ('finished', {'loss': 0.5})
    """

    def __init__(self, ws: Workspace, row: Mapping[str, Any], *, live: bool = False) -> None:
        self._ws = ws
        self._live = live
        self._buffer: MetricBuffer | None = None
        self._proposal_mark = 0
        self.id: str = row["run_id"]
        self.kind: str = row.get("kind") or "run"
        self.name: str | None = row.get("name")
        self.status: str | None = row.get("status")
        self.user: str | None = row.get("user")
        self.created_at: datetime | None = row.get("created_at")
        self.started_at: datetime | None = row.get("started_at") or row.get("created_at")
        self.ended_at: datetime | None = row.get("ended_at")
        self.error: str | None = row.get("error")
        self.notebook: str | None = row.get("notebook")
        self.git_commit: str | None = row.get("git_commit")
        self.parent_run_id: str | None = row.get("parent_run_id")
        self.params: dict[str, Any] = _loads(row.get("params"), {})
        self.inputs: list[dict[str, Any]] = _loads(row.get("inputs"), [])
        if not self.inputs and row.get("dataset_version"):  # rows written before inputs existed
            self.inputs = [{"version_id": row["dataset_version"], "name": None,
                            "taxonomy_version": row.get("taxonomy_version")}]
        self.seeds: dict[str, Any] = _loads(row.get("seeds"), {})
        self.environment: dict[str, Any] = _loads(row.get("environment"), {})
        self.info: dict[str, Any] = _loads(row.get("info"), {})
        if not self.environment and isinstance(self.info.get("env"), dict):  # snapshot records
            self.environment = self.info["env"]
        stored = _loads(row.get("metrics"), {})
        self.metrics: dict[str, float] = {k: _number(v) for k, v in stored.items()}
        self.metric_steps: dict[str, int] = dict(self.info.get("metric_steps") or {})
        self.models: list[dict[str, Any]] = list(self.info.get("models") or [])
        self._next_step = max(self.metric_steps.values(), default=-1) + 1

    # -- starting and ending ------------------------------------------------------
    @classmethod
    def start(cls, ws: Workspace, name: str, *, params: Mapping[str, Any] | None = None, kind: str = "run",
              parent_run_id: str | None = None) -> Run:
        """Record a new run as ``running`` (one commit) and return it; ``ws.run`` calls this.

        Examples
        --------
        >>> run = Run.start(ws, "eval")     # doctest: +SKIP
        >>> run.end()                        # doctest: +SKIP
        """
        if not isinstance(name, str) or not name.strip():
            raise ValueError(f"a run needs a name (a non-empty string), got {name!r}")
        if params is not None and not isinstance(params, Mapping):
            raise TypeError(f"params must be a dict of name -> value, got {type(params).__name__}")
        if ws.store.readonly:
            raise read_only_error(ws.uri, f"starting run {name!r}")
        kernel = kernel_info(ipython_namespace())
        notebook = notebook_facts(kernel["notebook"])
        folder = Path(notebook["resolved"]).parent if notebook and notebook["resolved"] else Path.cwd()
        git = git_facts(folder)
        stack = _active()
        now = now_utc()
        recipe = _recipe_link(name)
        if parent_run_id is None and recipe is not None and recipe.get("reproduces"):
            parent_run_id = recipe.get("parent_run_id")
        row = {
            "run_id": uuid.uuid4().hex, "kind": kind, "name": name, "status": "running", "user": current_user(),
            "created_at": now, "started_at": now, "notebook": kernel["notebook"], "git_commit": git.get("commit"),
            "parent_run_id": parent_run_id,
            "params": json.dumps(jsonable(dict(params or {}))),
            "seeds": json.dumps(current_seeds()),
            "environment": json.dumps(jsonable(environment())),
            "info": json.dumps(jsonable({"kernel": kernel, "notebook": notebook, "git": git,
                                         "outer_run_id": stack[-1] if stack else None,
                                         "workspace": ws.uri,
                                         **({"recipe": recipe} if recipe is not None else {})})),
        }
        run = cls(ws, row, live=True)
        run._proposal_mark = proposal_count()
        run._buffer = MetricBuffer(ws.store, run.id)
        try:
            run._write()
        except BaseException as exc:
            if not isinstance(exc, Exception):  # Ctrl-C or a cancel, maybe just after the row was committed:
                try:                            # nothing would ever end that "running" run, so it ends here
                    run.end("failed", error=f"{type(exc).__name__}: {str(exc) or 'interrupted while the run started'}")
                except Exception:  # noqa: BLE001 - the interrupt is what the caller must see
                    pass
            raise  # a write error left no row (and a second write would wait on the same lock)
        stack.append(run.id)
        _live.add(run)
        return run

    def end(self, status: str = "finished", error: str | None = None) -> Run:
        """End the run: flush its metrics, then record ``status`` (``finished`` or ``failed``) in one commit.

        A ``with ws.run(...)`` block calls this; call it yourself for a run started without one.

        Examples
        --------
        >>> run = ws.run("eval"); run.log_metrics({"acc": 0.9}); run.end()   # doctest: +SKIP
        """
        if status not in ("finished", "failed"):
            raise ValueError(f"a run ends 'finished' or 'failed', not {status!r}")
        self._check_live("end")
        try:
            if self._buffer is not None:
                self._buffer.close()
        finally:
            self._live = False
            _live.discard(self)
            stack = _active()
            if self.id in stack:
                stack.remove(self.id)
            self.status, self.error, self.ended_at = status, error, now_utc()
            self.seeds.update(current_seeds())
            proposed = proposals(self._proposal_mark)
            if proposed:  # alias moves asked for during a recipe re-run: kept here, never applied
                self.info["proposals"] = list(self.info.get("proposals") or []) + proposed
            nb = self.info.get("notebook")
            if nb:  # the notebook may have been saved (with new snapshots) since the run started
                self.info["notebook"] = notebook_facts(nb.get("path"))
            self._write()
        return self

    def __enter__(self) -> Run:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if not self._live:  # ended inside the block
            return
        if exc is None:
            self.end("finished")
            return
        try:
            self.end("failed", error=f"{type(exc).__name__}: {exc}")
        except Exception as failure:  # the block's own error is what the user must see
            add_note = getattr(exc, "add_note", None)
            if add_note is not None:
                add_note(f"(cvops could not record run {self.id[:12]} as failed: {failure})")

    # -- inside the block ---------------------------------------------------------
    def _check_live(self, what: str) -> None:
        if not self._live:
            state = self.status or "recorded"
            raise WorkspaceError(f"run {self.name!r} ({self.id[:12]}) is {state}, not running in this process: "
                                 f"cannot {what}; start a new one with ws.run(...)")

    def _write(self) -> None:
        self._ws.store.upsert("runs", "run_id", [self._row()])

    def use(self, version: Any) -> Any:
        """Record a dataset version (a name, an id prefix, or a DatasetVersion) as an input; return it.

        Its id, name and taxonomy version are recorded (one commit). An unknown name is an
        error naming the closest known one. Inside a recipe re-run (``cvops retrain``) a
        version the recipe pinned resolves to the pinned version (a name that moved since
        still gives the recipe's data), or to the ``--dataset`` override; the input records
        ``requested`` (what the notebook asked for), ``pinned`` and ``override``.

        Examples
        --------
        >>> ds = run.use("baseline")     # doctest: +SKIP
        >>> ds.id, ds.taxonomy_version   # doctest: +SKIP
        """
        self._check_live("use a dataset version")
        pinned = _pinned_input(version)
        if pinned is not None:
            v = self._ws.version(str(pinned["use"]))
        else:
            v = self._ws.version(version) if isinstance(version, str) else version
        if not hasattr(v, "id") or not hasattr(v, "taxonomy_version"):
            raise TypeError(f"run.use takes a dataset version name, id or DatasetVersion, got {type(version).__name__}")
        if all(i["version_id"] != v.id for i in self.inputs):
            entry: dict[str, Any] = {"version_id": v.id, "name": v.name, "taxonomy_version": int(v.taxonomy_version)}
            if pinned is not None:
                requested = version if isinstance(version, str) else getattr(version, "id", str(version))
                entry.update(requested=requested, pinned=pinned["version_id"], override=pinned.get("override"))
            self.inputs.append(entry)
            self._write()
        return v

    def log_params(self, params: Mapping[str, Any]) -> None:
        """Add (or change) parameters of the running run (one commit).

        Examples
        --------
        >>> run.log_params({"batch_size": 64})   # doctest: +SKIP
        """
        self._check_live("log params")
        if not isinstance(params, Mapping):
            raise TypeError(f"log_params takes a dict of name -> value, got {type(params).__name__}")
        self.params.update(jsonable(dict(params)))
        self._write()

    def log_metrics(self, metrics: Mapping[str, Any], step: int | None = None) -> None:
        """Log metric values at ``step`` (default: the step after the last one logged).

        Values are buffered and written to ``run_metrics`` at most once a second and when the
        run ends, so logging every step of a training loop stays cheap; ``run.metrics`` keeps
        the last value of each.

        Examples
        --------
        >>> run.log_metrics({"loss": 0.31, "val_accuracy": 0.94}, step=3)   # doctest: +SKIP
        """
        self._check_live("log metrics")
        values = check_metrics(metrics)
        if step is None:
            step = self._next_step
        elif isinstance(step, bool) or not isinstance(step, int) and not hasattr(step, "__index__"):
            raise TypeError(f"step must be an integer, got {type(step).__name__} {step!r}")
        step = int(step)
        self._next_step = max(self._next_step, step + 1)
        self.metrics.update(values)
        self.metric_steps.update(dict.fromkeys(values, step))
        assert self._buffer is not None  # a live run has one
        self._buffer.add(values, step)

    def seed(self, seed: int, *, libraries: tuple[str, ...] = ("python", "numpy", "torch")) -> int:
        """Seed Python's ``random``, numpy's global generator and torch with ``seed``; record it.

        Examples
        --------
        >>> run.seed(0)   # doctest: +SKIP
        0
        """
        self._check_live("seed")
        seeded = seed_everything(seed, libraries)
        self.seeds["seed"] = int(seed)
        self.seeds["seeded"] = seeded
        self.seeds.update(current_seeds())
        self._write()
        return int(seed)

    def register_model(self, name: str, model: Any, *, preprocess: Any = None, **options: Any) -> Any:
        """Register ``model`` under ``name`` as a version made by this run (see ``ws.model``).

        The model registry records this run's id, inputs (dataset and taxonomy versions) and
        metrics with the version; the version is listed on the run's card.

        Examples
        --------
        >>> mv = run.register_model("defect-clf", model, preprocess=pre)   # doctest: +SKIP
        >>> mv.version                                                     # doctest: +SKIP
        """
        self._check_live("register a model")
        from ..models.registry import register_model

        if self._buffer is not None:
            self._buffer.flush()
        # cast: RunLike declares settable attributes, which a run's list/dict attributes do not match
        mv = register_model(self._ws, name, model, preprocess=preprocess, run=cast(Any, self), **options)
        self.models.append({"name": name, "version": str(getattr(mv, "version", ""))})
        self._write()
        return mv

    # -- reading ------------------------------------------------------------------
    @property
    def active(self) -> bool:
        """Whether this process is running the run (it can still use, log, seed, end)."""
        return self._live

    @property
    def duration_s(self) -> float | None:
        """Seconds from start to end (to now while running); None when unknown."""
        if self.started_at is None:
            return None
        end = self.ended_at or (now_utc() if self.status == "running" else None)
        return None if end is None else (end - self.started_at).total_seconds()

    @property
    def git(self) -> dict[str, Any]:
        """The git facts recorded at the start (``commit``, ``dirty``, ``branch``, ``root``; ``error``)."""
        git: dict[str, Any] = self.info.get("git") or {"commit": self.git_commit}
        return git

    def metrics_frame(self) -> pl.DataFrame:
        """Every metric value logged, one row per (key, step): key, step, value, time.

        Examples
        --------
        >>> run.metrics_frame().filter(pl.col("key") == "loss")   # doctest: +SKIP
        """
        if self._buffer is not None:
            self._buffer.flush()
        from ._records import run_metrics

        return run_metrics(self._ws.store, self.id)

    def _row(self) -> dict[str, Any]:
        first = self.inputs[0] if self.inputs else {}
        info = dict(self.info, metric_steps=self.metric_steps, models=self.models)
        return {
            "run_id": self.id, "created_at": self.created_at, "kind": self.kind,
            "dataset_version": first.get("version_id"), "taxonomy_version": first.get("taxonomy_version"),
            "notebook": self.notebook, "user": self.user, "info": json.dumps(jsonable(info)),
            "name": self.name, "status": self.status, "started_at": self.started_at, "ended_at": self.ended_at,
            "params": json.dumps(self.params), "inputs": json.dumps(self.inputs), "seeds": json.dumps(self.seeds),
            "metrics": json.dumps({k: json_number(v) for k, v in self.metrics.items()}),
            "git_commit": self.git_commit, "environment": json.dumps(self.environment),
            "error": self.error, "parent_run_id": self.parent_run_id,
        }

    def to_dict(self) -> dict[str, Any]:
        """The run as JSON (what the card shows; the ``application/vnd.cvops.run+json`` payload).

        Examples
        --------
        >>> run.to_dict()["status"]   # doctest: +SKIP
        'finished'
        """
        env = self.environment
        nb = self.info.get("notebook") or {}
        return {
            "run_id": self.id, "kind": self.kind, "name": self.name, "status": self.status, "user": self.user,
            "started_at": self.started_at.isoformat() if self.started_at else None,
            "ended_at": self.ended_at.isoformat() if self.ended_at else None,
            "duration_s": self.duration_s, "workspace": self._ws.uri,
            "inputs": self.inputs, "params": self.params,
            "metrics": {k: json_number(v) for k, v in self.metrics.items()}, "metric_steps": self.metric_steps,
            "seeds": self.seeds, "models": self.models, "error": self.error,
            "git": {k: self.git.get(k) for k in ("commit", "dirty", "branch", "error")},
            "notebook": self.notebook, "notebook_error": nb.get("error") if isinstance(nb, dict) else None,
            "outer_run_id": self.info.get("outer_run_id"), "parent_run_id": self.parent_run_id,
            "environment_summary": summary(env) if env else None,
            "environment": {k: env.get(k) for k in ("python", "platform", "torch", "cuda", "gpus", "key_packages")},
        }

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, Any]:
        payload = self.to_dict()
        return {"text/plain": card_text(payload), "text/html": card_html(payload), RUN_MIME: payload}

    def __repr__(self) -> str:
        return card_text(self.to_dict()).splitlines()[0]
