"""Run verbs of :class:`~jupyter_cvops.workspace.Workspace` (mixed into it).

``run`` (start a recorded run), ``runs`` (list them), ``get_run`` (one, as a card),
``run_metrics`` (a run's values per step) and ``record_run`` (a one-shot record, e.g.
of a snapshot): thin bindings of :mod:`jupyter_cvops.runs.run` and
:mod:`jupyter_cvops.runs._records` onto the workspace's store.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, cast

import polars as pl

from .._store import Store, current_user, now_utc
from ._records import find_run, list_runs, run_metrics
from .run import Run, jsonable

if TYPE_CHECKING:
    from ..workspace import Workspace


class RunVerbs:
    """Runs: start one, list them, read one back (see the methods).

    Examples
    --------
    >>> import tempfile, jupyter_cvops as cv
    >>> ws = cv.Workspace.create(tempfile.mkdtemp() + "/ws")
    >>> with ws.run("train", params={"lr": 1e-3}) as run:
    ...     run.log_metrics({"loss": 0.2}, step=1)
    >>> ws.runs().select("name", "status", "params.lr", "metrics.loss").rows()
    [('train', 'finished', 0.001, 0.2)]
    """

    _store: Store

    def run(self, name: str, params: Mapping[str, Any] | None = None, *, parent_run_id: str | None = None) -> Run:
        """Start a recorded run; use it as a context manager (or call ``run.end()``).

        The run's row is written at once (status ``running``): user, start time, params,
        the exact environment (Python, platform, every installed package, torch, CUDA,
        GPUs), the git commit of the notebook's folder (or the working directory) and,
        in a notebook, its path and saved ``metadata.cvops``. Leaving the block records
        ``finished``, or ``failed`` with the error's type and message (the error is
        re-raised). Runs nest (the inner one records the outer one) and may run in
        several threads at once.

        Parameters
        ----------
        name
            What the run does (``"train-defect-clf"``); runs are listed and found by it.
        params
            Hyper-parameters and settings, JSON-able (tuples become lists).
        parent_run_id
            The run this one reproduces (a recipe re-run).

        Returns
        -------
        Run
            ``.id``, ``.use(version)``, ``.log_metrics(dict, step=)``, ``.seed(n)``,
            ``.register_model(name, model, preprocess=)``, ``.metrics_frame()``.

        Examples
        --------
        >>> with ws.run("train-defect-clf", params={"lr": 1e-3, "epochs": 5}) as run:   # doctest: +SKIP
        ...     ds = run.use("baseline")
        ...     run.log_metrics({"val_accuracy": 0.94}, step=3)
        ...     mv = run.register_model("defect-clf", model, preprocess=pre)
        """
        return Run.start(cast("Workspace", self), name, params=params, parent_run_id=parent_run_id)

    def runs(self) -> pl.DataFrame:
        """Recorded runs, oldest first: status, times, duration, inputs, params and metrics.

        One ``params.<name>`` and one ``metrics.<name>`` (last value) column per name seen,
        so runs compare in one frame: ``ws.runs().sort("metrics.val_accuracy")``. Snapshot
        records are runs of kind ``snapshot``.

        Examples
        --------
        >>> ws.runs().filter(pl.col("kind") == "run").select("name", "status", "duration_s")   # doctest: +SKIP
        """
        return list_runs(self._store)

    def get_run(self, run_id_or_name: str) -> Run:
        """A recorded run by id (or a prefix of 6+ characters) or name (the latest of that name).

        It renders as a card in a notebook; its attributes hold everything recorded.

        Examples
        --------
        >>> ws.get_run("train-defect-clf").environment["packages"]["torch"]   # doctest: +SKIP
        """
        return Run(cast("Workspace", self), find_run(self._store, run_id_or_name))

    def run_metrics(self, run: Run | str) -> pl.DataFrame:
        """Every metric value a run logged (key, step, value, time), by key then step.

        Examples
        --------
        >>> ws.run_metrics(run.id).filter(pl.col("key") == "loss").plot.line(x="step", y="value")  # doctest: +SKIP
        """
        if isinstance(run, Run):
            return run.metrics_frame()
        return run_metrics(self._store, find_run(self._store, run)["run_id"])

    def record_run(
        self,
        kind: str,
        *,
        dataset_version: str | None,
        taxonomy_version: int | None,
        notebook: str | None = None,
        info: Mapping[str, Any] | None = None,
        name: str | None = None,
        environment: Mapping[str, Any] | None = None,
    ) -> str:
        """Record a finished one-shot run (e.g. a snapshot: what data, where, which environment); its id.

        Without ``environment``, ``info["env"]`` (if any) is stored as the run's environment.

        Examples
        --------
        >>> ws.record_run("snapshot", dataset_version=v.id, taxonomy_version=2)   # doctest: +SKIP
        """
        run_id = uuid.uuid4().hex
        now = now_utc()
        info = dict(info or {})
        env = info.pop("env", None) if environment is None else environment
        inputs = ([{"version_id": dataset_version, "name": None, "taxonomy_version": taxonomy_version}]
                  if dataset_version else [])
        self._store.append(
            "runs",
            [{
                "run_id": run_id,
                "created_at": now,
                "kind": kind,
                "dataset_version": dataset_version,
                "taxonomy_version": taxonomy_version,
                "notebook": notebook,
                "user": current_user(),
                "info": json.dumps(jsonable(info), sort_keys=True),
                "name": name,
                "status": "finished",
                "started_at": now,
                "ended_at": now,
                "inputs": json.dumps(inputs),
                "environment": json.dumps(jsonable(dict(env))) if isinstance(env, Mapping) else None,
            }],
        )
        return run_id
