"""Recipe verbs of :class:`~jupyter_cvops.workspace.Workspace` (mixed into it): export a notebook as a
recipe, re-run one, list them, and say whether a model is due for a retrain."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import polars as pl

from ..predictions._model import quote
from ._due import RetrainDue, accuracy_signal, expected_accuracy, retrain_due
from ._export import DEFAULT_TOLERANCE, export_recipe
from ._table import list_recipes
from .recipe import Recipe
from .rerun import RetrainResult, retrain

if TYPE_CHECKING:
    from .._store import Store
    from ..workspace import Workspace


class RecipeVerbs:
    """``ws.export_recipe``, ``ws.retrain``, ``ws.recipes()``, ``ws.retrain_due``.

    Examples
    --------
    >>> import tempfile, jupyter_cvops as cv
    >>> ws = cv.Workspace.create(tempfile.mkdtemp() + "/ws")
    >>> ws.recipes().height
    0
    """

    _store: Store

    def export_recipe(self, notebook: str | Path, out: str | Path | None = None, *, name: str | None = None,
                      tolerance: float | Mapping[str, float] = DEFAULT_TOLERANCE,
                      overwrite: bool = False) -> Recipe:
        """Export ``notebook`` (as saved) as a retrain recipe pinned to this workspace's records.

        See :func:`jupyter_cvops.recipes.export_recipe`.

        Examples
        --------
        >>> recipe = ws.export_recipe("04_train.ipynb", "recipes/train")   # doctest: +SKIP
        """
        return export_recipe(notebook, out, name=name, workspace=self._store, tolerance=tolerance,
                             overwrite=overwrite)

    def retrain(self, recipe: str | Path | Recipe, *, params: Mapping[str, Any] | None = None,
                dataset: str | None = None, check: bool = False, strict: bool = False, verify: str = "fast",
                kernel_name: str | None = None, timeout: float | None = None, progress: bool = True) -> RetrainResult:
        """Re-run a recipe against this workspace; see :func:`jupyter_cvops.recipes.retrain`.

        Examples
        --------
        >>> ws.retrain("recipes/train", check=True).ok       # doctest: +SKIP
        True
        """
        return retrain(recipe, params=params, dataset=dataset, check=check, strict=strict, verify=verify,
                       workspace=self._store, kernel_name=kernel_name, timeout=timeout, progress=progress)

    def recipes(self) -> pl.DataFrame:
        """Exported recipes, oldest first: recipe_id, name, path, created_at, author, notebook_hash,
        workspace, last_check, check_ok, checked_at.

        Examples
        --------
        >>> ws.recipes().select("name", "path", "check_ok")   # doctest: +SKIP
        """
        return list_recipes(self._store)

    def retrain_due(self, ref: str, *, max_age_days: float = 90.0, min_new_reviews: int = 1,
                    now: datetime | None = None, min_reviewed: int = 20) -> RetrainDue:
        """Whether model ``ref`` (``"name@alias"``) is due for a retrain, each signal with its evidence.

        See :func:`jupyter_cvops.recipes.retrain_due`; when the version has logged predictions, a
        ``production_accuracy`` signal too (:func:`jupyter_cvops.recipes._due.accuracy_signal`: its
        served predictions on reviewed images against its evaluation, from ``min_reviewed`` on).

        Examples
        --------
        >>> ws.retrain_due("defect-clf@production").reasons   # doctest: +SKIP
        """
        due = retrain_due(self._store, ref, max_age_days=max_age_days, min_new_reviews=min_new_reviews, now=now)
        name = ref.partition("@")[0]
        if self._store.count("predictions", f"model = {quote(name)} AND model_version = {quote(due.version)}"):
            from ..predictions.accuracy import production_accuracy

            ws: Workspace = self  # type: ignore[assignment]
            overall = production_accuracy(ws, name, version=due.version, roles=("served",), until=now).overall
            expected, check_id = expected_accuracy(self._store, name, due.version)
            due.signals.append(accuracy_signal(overall, due.version, expected, evaluation=check_id,
                                               min_reviewed=min_reviewed))
        return due
