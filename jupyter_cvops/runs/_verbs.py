"""Run verbs of :class:`~jupyter_cvops.workspace.Workspace` (mixed into it)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from typing import Any

import polars as pl

from .._store import Store, current_user, now_utc


class RunVerbs:
    """``ws.run(...)``, ``ws.runs()``."""

    _store: Store

    def record_run(
        self,
        kind: str,
        *,
        dataset_version: str | None,
        taxonomy_version: int | None,
        notebook: str | None = None,
        info: Mapping[str, Any] | None = None,
    ) -> str:
        """Record a run's metadata (what data it used, where, with which environment).

        Examples
        --------
        >>> ws.record_run("training", dataset_version=v.id, taxonomy_version=2)   # doctest: +SKIP
        """
        run_id = uuid.uuid4().hex
        self._store.append(
            "runs",
            [{
                "run_id": run_id,
                "created_at": now_utc(),
                "kind": kind,
                "dataset_version": dataset_version,
                "taxonomy_version": taxonomy_version,
                "notebook": notebook,
                "user": current_user(),
                "info": json.dumps(dict(info or {}), default=str, sort_keys=True),
            }],
        )
        return run_id

    def runs(self) -> pl.DataFrame:
        """Recorded runs, oldest first."""
        return self._store.read("runs").sort("created_at")
