"""Model verbs of :class:`~jupyter_cvops.workspace.Workspace` (mixed into it): thin bindings of
:mod:`jupyter_cvops.models.registry` and :mod:`jupyter_cvops.models.aliases` onto the workspace's store."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

import polars as pl

from .._store import Store
from . import aliases as _aliases
from . import registry as _registry
from .version import ModelVersion

if TYPE_CHECKING:
    from ..preprocess import Preprocess
    from ..workspace import Workspace
    from .evaluate import EvaluationReport
    from .promotion import Promotion
    from .registry import RunLike


class ModelVerbs:
    """``ws.register_model``, ``ws.model(...)``, ``ws.models()``, ``ws.set_alias``, ``ws.promote``, ``ws.rollback``,
    ``ws.remove_alias``, ``ws.alias_history``.

    Examples
    --------
    >>> import tempfile, jupyter_cvops as cv
    >>> ws = cv.Workspace.create(tempfile.mkdtemp() + "/ws")
    >>> ws.models().height, ws.alias_history().height
    (0, 0)
    """

    _store: Store

    def register_model(self, name: str, model: Any, *, preprocess: Preprocess | None = None,
                       classes: Sequence[str] | None = None, run: RunLike | None = None,
                       dataset_version: Any = None, taxonomy_version: int | None = None,
                       metrics: Mapping[str, Any] | None = None, task: str = "classification",
                       card: str | None = None, example_input: Any = None, format: str | None = None,
                       architecture: str | None = None, architecture_kwargs: Mapping[str, Any] | None = None,
                       adapter: Any = None, author: str | None = None) -> ModelVersion:
        """Register ``model`` as a version of ``name`` (see :func:`jupyter_cvops.models.register_model`).

        Examples
        --------
        >>> mv = ws.register_model("defect-clf", model, preprocess=pre, dataset_version="baseline")  # doctest: +SKIP
        """
        if isinstance(dataset_version, str):
            from ..datasets.versions import _get

            dataset_version = _get(self._store, dataset_version)
        return _registry.register_model(
            self._store, name, model, preprocess=preprocess, classes=classes, run=run,
            dataset_version=dataset_version, taxonomy_version=taxonomy_version, metrics=metrics, task=task,
            card=card, example_input=example_input, format=format, architecture=architecture,
            architecture_kwargs=architecture_kwargs, adapter=adapter, author=author)

    def model(self, ref: str, *, version: str | None = None, at: datetime | None = None) -> ModelVersion:
        """A model version: ``"name@alias"`` (now, or ``at=`` a past time), ``"name"`` with ``version=``,
        or ``"name"`` (its newest version).

        Examples
        --------
        >>> ws.model("defect-clf@production").load()                           # doctest: +SKIP
        >>> ws.model("defect-clf@production", at=datetime(2026, 3, 1)).version  # doctest: +SKIP
        """
        return _registry.get_model(self._store, ref, version=version, at=at)

    def models(self) -> pl.DataFrame:
        """Every model version with its current aliases (model, version, aliases, created_at, ...).

        Examples
        --------
        >>> ws.models().filter(pl.col("aliases").list.len() > 0)   # doctest: +SKIP
        """
        return _registry.list_models(self._store)

    def set_alias(self, name: str, alias: str, version: ModelVersion | str, *, reason: str | None = None,
                  evidence: Mapping[str, Any] | None = None) -> ModelVersion:
        """Point ``name@alias`` at ``version`` (kept in the alias history with who, when and ``reason``).

        Examples
        --------
        >>> ws.set_alias("defect-clf", "production", mv, reason="beats v1 on val")   # doctest: +SKIP
        """
        return _aliases.set_alias(self._store, name, alias, version, reason=reason, evidence=evidence)

    def promote(self, name: str, version: ModelVersion | str, *, to: str = "production", reason: str,
                require: Mapping[str, Any] | None = None, max_age_days: float = 30,
                dry_run: bool = False) -> Promotion:
        """Move ``name@to`` to ``version`` only when the recorded evidence holds (the promotion gate).

        ``require`` (default ``{"shadow": True}``) may ask for ``shadow``, ``min_agreement``,
        ``no_worse_on_reviewed``, ``min_reviewed``, ``recipe_check``, ``no_skew`` and
        ``min_metric`` (see :mod:`jupyter_cvops.models.promotion`); evidence comes from checks not
        older than ``max_age_days``. The move is kept in the alias history with its evidence; a
        refused promotion moves nothing and raises ``PromotionRefused`` naming what failed. Both are
        recorded as a ``promotion`` check. ``dry_run=True`` only judges.

        Examples
        --------
        >>> ws.promote("defect-clf", cand, to="production", reason="two clean shadow weeks",
        ...            require={"min_agreement": 0.95, "no_worse_on_reviewed": True})   # doctest: +SKIP
        """
        from .promotion import promote

        return promote(self._store, name, version, to=to, reason=reason, require=require,
                       max_age_days=max_age_days, dry_run=dry_run)

    def rollback(self, name: str, alias: str, *, reason: str | None = None, dry_run: bool = False) -> ModelVersion:
        """Point ``name@alias`` back at the version that held it before; again steps further back.

        ``dry_run=True`` is a drill: nothing moves, the previous version is loaded (hash-checked) and
        the result recorded as a ``rollback`` check.

        Examples
        --------
        >>> ws.rollback("defect-clf", "production", reason="recall dropped")   # doctest: +SKIP
        >>> ws.rollback("defect-clf", "production", dry_run=True).note       # doctest: +SKIP
        """
        return _aliases.rollback(self._store, name, alias, reason=reason, dry_run=dry_run)

    def remove_alias(self, name: str, alias: str, *, reason: str | None = None) -> ModelVersion:
        """End ``name@alias`` (recorded in the history); returns the version it pointed at.

        Examples
        --------
        >>> ws.remove_alias("defect-clf", "candidate", reason="shadow over")   # doctest: +SKIP
        """
        return _aliases.remove_alias(self._store, name, alias, reason=reason)

    def alias_history(self, name: str | None = None, *, alias: str | None = None) -> pl.DataFrame:
        """Every alias change of model ``name`` (all models by default): alias, action, version,
        previous_version, author, created_at, message, evidence; oldest first, never overwritten.

        Examples
        --------
        >>> ws.alias_history("defect-clf")   # doctest: +SKIP
        """
        return _aliases.alias_history(self._store, name, alias)

    def evaluate(self, model: str | ModelVersion, data: Any, *, split: str | None = None, version: str | None = None,
                 batch_size: int = 32, device: str | None = None,
                 by: tuple[str, ...] = ("source", "week", "agreement"), progress: bool = True) -> EvaluationReport:
        """Per-class metrics of a model version on a dataset version (or one split), per slice too.

        The model runs through its own stored preprocessing. Ground truth: the reviewed label,
        else the annotators' majority (ties are left out and counted). Slices: ``source``,
        capture ``week`` and annotator ``agreement`` (unanimous / majority / reviewed). The result
        is stored as a check (kind ``evaluation``, target ``name:version``) that the promotion
        gate and the audit read.

        Examples
        --------
        >>> rep = ws.evaluate("defect-clf@production", "baseline", split="test")   # doctest: +SKIP
        >>> rep.per_class, rep.slices                                               # doctest: +SKIP
        """
        from .evaluate import evaluate

        ws: Workspace = self  # type: ignore[assignment]
        return evaluate(ws, model, data, split=split, version=version, batch_size=batch_size, device=device,
                        by=by, progress=progress)
