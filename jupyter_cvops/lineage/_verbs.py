"""Lineage verbs of :class:`~jupyter_cvops.workspace.Workspace` (mixed into it)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..workspace import Workspace
    from .chain import Lineage
    from .impact import ImpactReport


class LineageVerbs:
    """``ws.lineage(...)``, ``ws.impact(...)``."""

    def lineage(self, id: str, *, k: int = 5, embedding: str | None = None) -> Lineage:
        """Backward from a prediction to the data that taught its model, or forward from an image.

        A prediction id gives prediction -> model version -> run -> dataset version ->
        taxonomy version -> the ``k`` training images nearest to the predicted image (in
        ``embedding``, default: the most recent embeddings; searched in LanceDB), with their
        labels, annotators and review decisions. An image id gives the dataset versions holding
        it, the model versions trained on them and the predictions made on it.

        Examples
        --------
        >>> chain = ws.lineage(ws.predictions()["prediction_id"][0])   # doctest: +SKIP
        >>> chain.model["version_id"], chain.neighbors                   # doctest: +SKIP
        >>> ws.lineage(image_id).models                                   # doctest: +SKIP
        """
        from .chain import lineage

        ws: Workspace = self  # type: ignore[assignment]
        return lineage(ws, id, k=k, embedding=embedding)

    def impact(self, *, annotator: str | Sequence[str] | None = None, classes: Sequence[str] | str | None = None,
               since: datetime | None = None, until: datetime | None = None, images: Iterable[str] | None = None,
               taxonomy_version: int | None = None) -> ImpactReport:
        """The blast radius of a set of labels: every dataset version, model version and prediction they touched.

        Labels are selected by annotator, class (current names; labels are mapped forward
        through renames and merges), time made (``since`` <= t < ``until``), image ids and the
        taxonomy version they were made under; all given filters must hold. The report lists
        the dataset versions holding them (with the share of each version's labels), the model
        versions trained on those versions (directly or as a run input) with their current
        aliases, and the predictions those models made.

        Examples
        --------
        >>> ws.impact(annotator="eve", since=datetime(2026, 11, 1))      # doctest: +SKIP
        >>> ws.impact(classes=["dent"], taxonomy_version=3).model_versions  # doctest: +SKIP
        """
        from .impact import impact

        ws: Workspace = self  # type: ignore[assignment]
        return impact(ws, annotator=annotator, classes=classes, since=since, until=until, images=images,
                      taxonomy_version=taxonomy_version)
