"""Prediction verbs of :class:`~jupyter_cvops.workspace.Workspace` (mixed into it)."""

from __future__ import annotations

from datetime import date, datetime
from typing import TYPE_CHECKING, Any

import polars as pl

from .._store import Store
from .._store.schemas import PREDICTIONS
from .._store.store import read_only_error
from ._model import preprocess_fingerprint, registry_resolver, resolve_model
from .log import ROLES, PredictionLog, _Writer, read_predictions

if TYPE_CHECKING:
    from .._store.statcache import StatCache
    from ..workspace import Workspace
    from .accuracy import ProductionAccuracy
    from .skew import SkewCheck


class PredictionVerbs:
    """``ws.log_predictions(...)``, ``ws.prediction_log(...)``, ``ws.predictions()``, ``ws.skew(...)``,
    ``ws.production_accuracy(...)``."""

    _store: Store

    if TYPE_CHECKING:
        def _statcache(self) -> StatCache: ...  # provided by Workspace

    def prediction_log(
        self,
        model: Any,
        preprocess: Any = None,
        *,
        version: str | None = None,
        alias: str | None = None,
        source: str | None = None,
        role: str = "served",
        flush_rows: int = 100_000,
        flush_seconds: float | None = 2.0,
    ) -> PredictionLog:
        """A buffered log of predictions made by ``model`` outside this process (FastAPI, Triton, batch jobs).

        Parameters
        ----------
        model
            ``"name@alias"``, ``"name"`` (with ``version=``), or a model version object (``.name``,
            ``.version``; e.g. ``ws.model("clf@production")``). ``"name@alias"`` names a registry alias: it
            is resolved once, now, to the version holding it (an unknown model or alias is an error). A
            plain name with ``version=`` is checked against the registry when it has that model, else
            recorded as given, like ``alias=``: so a model the registry does not know is logged as
            ``model="name", version=..., alias=...``.
        preprocess
            The serving side's ``cv.Preprocess`` (its fingerprint is recorded with every row and its spec
            stored once per fingerprint in ``preprocess_specs``), or its fingerprint as text, or None.
        version, alias
            The version id for a plain ``model`` name; the alias the serving side resolved.
        source
            Stored with every row (and with images seen for the first time) unless a row says otherwise.
        role
            ``"served"`` (default) or ``"shadow"``.
        flush_rows, flush_seconds
            Write (one commit) once this many rows wait, or this many seconds after the first of them
            (None: only on ``flush()``/``close()``). Also written on ``close()``, leaving a ``with``
            block, and at interpreter exit.

        Each row's image is identified by content hash and registered where it is (never copied): a
        local path is hashed by the workspace's scanner unless the stat cache knows it unchanged; bytes
        are hashed in memory; a given ``image_id`` is trusted (the file is not read, nor registered). An
        image that cannot be read makes its row ``status="failed"`` with the reason; the batch goes on.

        Examples
        --------
        >>> with ws.prediction_log("defect-clf@production", preprocess=pre, source="line-2") as plog:  # doctest: +SKIP
        ...     plog.log("/data/line2/0001.png", predicted_class="dent", score=0.91, latency_ms=11.0)
        """
        if self._store.readonly:
            raise read_only_error(self._store.uri, "logging predictions")
        if role not in ROLES:
            raise ValueError(f"role must be one of {ROLES}, got {role!r}")
        if not isinstance(flush_rows, int) or flush_rows < 1:
            raise ValueError(f"flush_rows must be a positive integer, got {flush_rows!r}")
        if flush_seconds is not None and not flush_seconds > 0:
            raise ValueError(f"flush_seconds must be positive or None, got {flush_seconds!r}")
        ref = resolve_model(model, version=version, alias=alias, resolver=registry_resolver(self), store=self._store)
        fingerprint = preprocess_fingerprint(self._store, preprocess)
        writer = _Writer(self._store, self._statcache, ref, fingerprint, source, role, flush_rows, flush_seconds)
        return PredictionLog(writer)

    def log_predictions(
        self,
        frame: pl.DataFrame,
        model: Any,
        preprocess: Any = None,
        *,
        version: str | None = None,
        alias: str | None = None,
        source: str | None = None,
        role: str = "served",
    ) -> pl.DataFrame:
        """Log a frame of predictions made elsewhere, in one commit; returns the rows as stored.

        ``frame`` holds per row the image (``path`` / ``image`` / ``uri``, ``image_id``, and optionally its
        ``bytes``), ``predicted_class``, ``score`` or ``scores`` (in the model's class order), ``boxes``
        for detectors, ``latency_ms``, ``time`` (default: now), and optionally ``source``, ``status`` and
        ``error``. See :meth:`prediction_log` for ``model``, ``preprocess`` and how images are identified.

        Examples
        --------
        >>> frame = pl.DataFrame({"path": paths, "predicted_class": classes, "score": scores})  # doctest: +SKIP
        >>> rows = ws.log_predictions(frame, model="defect-clf@production", preprocess=pre)   # doctest: +SKIP
        >>> rows.filter(pl.col("status") == "failed").select("path", "error")                 # doctest: +SKIP
        """
        with self.prediction_log(model, preprocess, version=version, alias=alias, source=source, role=role,
                                 flush_rows=frame.height + 1, flush_seconds=None) as plog:
            plog._w.keep = True
            plog.log_frame(frame)
        if plog._w.kept:
            return plog._w.kept[0]
        empty: pl.DataFrame = pl.from_arrow(PREDICTIONS.empty_table())  # type: ignore[assignment]
        return empty

    def predictions(
        self,
        model: str | None = None,
        since: datetime | date | str | None = None,
        until: datetime | date | str | None = None,
        source: str | None = None,
        *,
        version: str | None = None,
    ) -> pl.DataFrame:
        """Logged predictions, oldest first (a frame with ``image_id``: usable as ``current`` in ``ws.drift``).

        Parameters
        ----------
        model
            ``"name"`` (every version and alias) or ``"name@alias"`` (those logged through that alias).
        since, until
            Prediction time from ``since`` (inclusive) to ``until`` (exclusive): datetimes (naive: UTC) or
            ISO strings.
        source
            Only this source.
        version
            Only this model version id.

        Returns
        -------
        polars.DataFrame
            prediction_id, time, image_id (null: unreadable image), path, source, model, model_version,
            alias, preprocess_fingerprint, predicted_class, score, scores, boxes (JSON), latency_ms,
            status, error, batch_id, role, shadow_of (a shadow row: the served prediction_id it shadows).

        Examples
        --------
        >>> served = ws.predictions(model="defect-clf@production", since="2024-03-01")   # doctest: +SKIP
        >>> ws.drift("demo-train", current=served, by="1d")                             # doctest: +SKIP
        """
        return read_predictions(self._store, model=model, version=version, since=since, until=until,
                                source=source)

    def skew(self, model: str, *, version: str | None = None, sample: int = 200, seed: int = 0,
             input_stats: bool = True, alpha: float = 0.01) -> SkewCheck:
        """Training/serving skew of a model version, from the predictions logged for it.

        Every serving pipeline (grouped by the preprocessing fingerprint logged with the
        predictions) is compared with the model's training preprocessing: the spec fields and
        library versions that differ, the golden images, a replay of both pipelines on a seeded
        sample of served images (|diff| in grey levels) and the image statistics of served vs
        training images (KS tests). ``.ok``, ``.differences``, ``.groups`` and one ``.sentence``
        ("line-2: serving resizes with OpenCV INTER_LINEAR without antialias; ..."). Stored as a
        check (kind ``skew``).

        Examples
        --------
        >>> rep = ws.skew("defect-clf@production")   # doctest: +SKIP
        >>> rep.ok, rep.differences                     # doctest: +SKIP
        """
        from .skew import skew

        ws: Workspace = self  # type: ignore[assignment]
        return skew(ws, model, version=version, sample=sample, seed=seed, input_stats=input_stats, alpha=alpha)

    def production_accuracy(
        self,
        name: str,
        by: str = "1d",
        since: datetime | date | str | None = None,
        until: datetime | date | str | None = None,
        *,
        version: str | None = None,
        roles: tuple[str, ...] = ("served", "shadow"),
        truth: str = "reviewed",
        confidence: float = 0.95,
    ) -> ProductionAccuracy:
        """Accuracy of a model's logged predictions on the images reviewers labelled, per window and version.

        Each logged prediction (served answers and shadow candidates) of an image with a review
        decision is right or wrong against that decision (the ground truth ``ws.evaluate`` uses;
        ``truth="labels"`` also takes the annotators' strict majority). Windows are prediction times
        truncated to ``by``, as the drift timeline's.

        Parameters
        ----------
        name
            The model (``"name"``, or ``"name@alias"`` for rows logged through that alias).
        by
            Window length (``"1d"``, ``"1w"``, any polars duration).
        since, until
            Prediction time from ``since`` (inclusive) to ``until`` (exclusive).
        version
            Only this model version id.
        roles
            ``"served"`` and/or ``"shadow"`` rows.
        truth
            ``"reviewed"`` (default) or ``"labels"``.
        confidence
            Coverage of the Wilson interval.

        Returns
        -------
        ProductionAccuracy
            ``.windows`` (window, model_version, role, aliases, n_predictions, n_reviewed, n_correct,
            accuracy, ci_low, ci_high), ``.overall``, ``.summary()``, ``.plot()`` (plotly).

        Examples
        --------
        >>> acc = ws.production_accuracy("defect-clf", by="1w", since="2026-11-01")   # doctest: +SKIP
        >>> acc.plot()                                                               # doctest: +SKIP
        """
        from .accuracy import production_accuracy

        ws: Workspace = self  # type: ignore[assignment]
        return production_accuracy(ws, name, by=by, since=since, until=until, version=version, roles=roles,
                                   truth=truth, confidence=confidence)  # type: ignore[arg-type]
