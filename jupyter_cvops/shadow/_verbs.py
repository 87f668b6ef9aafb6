"""Shadow verbs of :class:`~jupyter_cvops.workspace.Workspace` (mixed into it)."""

from __future__ import annotations

from datetime import date, datetime
from typing import TYPE_CHECKING, Any

import polars as pl

if TYPE_CHECKING:
    from ..workspace import Workspace
    from .report import ShadowReport


class ShadowVerbs:
    """``ws.shadow(...)``: a candidate model version against production on served images."""

    def shadow(self, name: str, candidate: Any = "@candidate", production: Any = "@production", *,
               since: datetime | date | str | None = None, until: datetime | date | str | None = None,
               source: str | None = None, images: Any = None, predictions: pl.DataFrame | None = None,
               sample: int | None = None, seed: int = 0, bootstrap: int = 1000, min_agreement: float = 0.9,
               record: bool = True, logged: bool = False, batch_size: int = 32, device: str | None = None,
               progress: bool = True, iou_threshold: float = 0.5) -> ShadowReport:
        """Compare a candidate model version with production on the images production served.

        The served predictions of the production version (role ``served``, status ``ok``) in the
        selection are taken, each image once (its latest answer). The candidate then answers the
        same images: re-run offline (default), through its own stored preprocessing, batched; or,
        with ``logged=True``, from the shadow rows ``cv.Predictor(ws, "name@production",
        shadow="name@candidate")`` logged beside each served answer (nothing re-runs). Images with
        a reviewed label (the latest accept/set decision) give each model's accuracy and McNemar's
        test. The result is recorded as a check (kind ``shadow``, target ``name``).

        Parameters
        ----------
        name
            The model's name.
        candidate, production
            ``"name@alias"``, ``"@alias"``, a version id (or a 6+ character prefix) or a model
            version; they default to ``"@candidate"`` and ``"@production"``. Both need the same classes
            (by name).
        since, until, source
            Served time from ``since`` (inclusive) to ``until`` (exclusive), and one source only:
            e.g. the window ``ws.drift`` flagged.
        images
            Only these images (image ids or served paths; a list, a Series or a frame with ``image_id``).
        predictions
            Only these served predictions: a frame with ``prediction_id`` (or ``image_id``), e.g.
            ``ws.predictions(...)`` filtered.
        sample
            At most this many images, a seeded random sample (``seed``).
        seed, bootstrap
            Seed of the sampling and of the bootstrap; bootstrap replicates (0: no intervals).
        min_agreement
            Top-1 agreement under which the report raises its alert.
        record
            Store the result as a check (skipped on a read-only workspace).
        logged
            Pair logged shadow rows instead of re-running the candidate.
        batch_size, device, progress
            Of the offline re-run (a progress bar from 64 images on).
        iou_threshold
            Detectors: the IoU at which two boxes match.

        Returns
        -------
        ShadowReport
            Agreement, kappa (with intervals), flip matrix, confidence deltas, reviewed accuracies
            and McNemar, disagreements worst first, ``alert``, one-sentence ``summary``; images
            that could not be read are in ``skipped`` with the reason.

        Examples
        --------
        >>> rep = ws.shadow("defect-clf", candidate="@candidate", since="2026-03-01")   # doctest: +SKIP
        >>> rep.agreement, rep.flips, rep.reviewed                                       # doctest: +SKIP
        >>> ws.shadow("defect-clf", candidate="@candidate", logged=True).summary         # doctest: +SKIP
        """
        from ._run import shadow

        ws: Workspace = self  # type: ignore[assignment]
        return shadow(ws, name, candidate, production, since=since, until=until, source=source, images=images,
                      predictions=predictions, sample=sample, seed=seed, bootstrap=bootstrap,
                      min_agreement=min_agreement, record=record, logged=logged, batch_size=batch_size,
                      device=device, progress=progress, iou_threshold=iou_threshold)
