"""``cv.Predictor``: serve a registered model through its own stored preprocessing and log every answer.

The alias is resolved once (``refresh()`` resolves it again), the model is loaded without
unpickling anything (hash-checked), each image goes through the model version's
``Preprocess`` (literally the training code), the model runs batched on CPU or GPU, and every
prediction is logged with its image hash, model version, alias at that moment, the serving
preprocessing fingerprint, class, scores, latency and source. Images that cannot be decoded
are logged as failed predictions with their reason; the batch goes on.
"""

from __future__ import annotations

import os
from time import perf_counter
from collections.abc import Iterable
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

import numpy as np
import polars as pl

from .._store import WorkspaceError

if TYPE_CHECKING:
    from ..models.version import ModelVersion
    from ..workspace import Workspace
    from .log import PredictionLog

_SINGLE = (str, bytes, os.PathLike, np.ndarray)


class Predictor:
    """A model version behind an alias, ready to answer and log (``cv.Predictor(ws, "name@alias")``).

    Parameters
    ----------
    ws
        The workspace holding the model and receiving the predictions.
    ref
        ``"name@alias"`` (resolved now and on :meth:`refresh`) or ``"name"`` with ``version=``.
    version
        A version id for a plain ``ref`` name.
    device
        ``"cpu"``, ``"cuda"``, ... (default: CPU).
    batch_size
        Images per model call.
    source
        Stored with every prediction (and with images seen for the first time).
    log
        Log the predictions (default). ``False`` only answers.
    flush_rows, flush_seconds
        Buffering of the log (see ``ws.prediction_log``).

    Examples
    --------
    >>> predictor = cv.Predictor(ws, "defect-clf@production", source="line-1")   # doctest: +SKIP
    >>> predictor(["a.png", "b.png"]).select("path", "predicted_class", "score")  # doctest: +SKIP
    >>> predictor.close()                                                          # doctest: +SKIP
    """

    def __init__(self, ws: Workspace, ref: str, *, version: str | None = None, device: str | None = None,
                 batch_size: int = 32, source: str | None = None, log: bool = True, flush_rows: int = 100_000,
                 flush_seconds: float | None = 2.0) -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        self.ws, self.ref, self._version = ws, ref, version
        self.device, self.batch_size, self.source = device, batch_size, source
        self._logging, self._flush = log, (flush_rows, flush_seconds)
        self._log: PredictionLog | None = None
        self.model_version: ModelVersion
        self._load()

    # -- resolving and loading ---------------------------------------------------------
    @property
    def alias(self) -> str | None:
        """The alias the model was resolved through (None for a plain name + version)."""
        return self.ref.split("@", 1)[1] if "@" in self.ref else None

    def _load(self) -> None:
        mv = self.ws.model(self.ref, version=self._version)
        if mv.task != "classification":
            raise WorkspaceError(f"cv.Predictor serves classification models; {mv.ref} is a {mv.task} model")
        pre = mv.preprocess
        if pre is None:
            raise WorkspaceError(f"{mv.ref} was registered without preprocessing: register it with "
                                 "preprocess=cv.Preprocess(...) so serving uses the same code as training")
        self.model_version, self.preprocess, self.net = mv, pre, mv.load()
        if self.device:
            self.net = _to_device(self.net, self.device)
        if self._log is not None:
            self._log.close()
            self._log = None
        if self._logging:
            self._log = self.ws.prediction_log(mv.name, pre, version=mv.version, alias=self.alias,
                                               source=self.source, flush_rows=self._flush[0],
                                               flush_seconds=self._flush[1])

    def refresh(self) -> bool:
        """Resolve the alias again; reload when it moved. Returns whether the model changed.

        Examples
        --------
        >>> ws.set_alias("defect-clf", "production", v5.version); predictor.refresh()   # doctest: +SKIP
        True
        """
        before = self.model_version.version
        now = self.ws.model(self.ref, version=self._version)
        if now.version == before:
            return False
        self._load()
        return True

    # -- answering ---------------------------------------------------------------------
    def __call__(self, images: Any, *, source: str | None = None, time: datetime | None = None) -> pl.DataFrame:
        """Predict ``images`` (a path, bytes, an array, or a list of them); one row per image, in order.

        ``time`` stamps the logged predictions (default: now); give the capture time when replaying
        past traffic, so drift windows over predictions line up with when images were served.

        Returns ``prediction_id`` (None when not logging), ``path``, ``predicted_class``, ``score``,
        ``scores`` (in ``classes`` order), ``latency_ms`` (the batch's wall time: preprocessing and
        the model call), ``status`` (``ok`` / ``failed``) and ``error``.

        Examples
        --------
        >>> predictor("new.png")["predicted_class"][0]   # doctest: +SKIP
        'dent'
        """
        from ..models._inference import run_batches

        items = [images] if isinstance(images, _SINGLE) else list(images)
        n = len(items)
        classes = list(self.model_version.classes)
        predicted: list[str | None] = [None] * n
        score: list[float | None] = [None] * n
        scores: list[list[float] | None] = [None] * n
        latency = [0.0] * n
        status = ["ok"] * n
        error: list[str | None] = [None] * n
        t0 = perf_counter()
        for res in run_batches(self.net, self.preprocess, items, batch_size=self.batch_size, device=self.device):
            wall = (perf_counter() - t0) * 1000
            for k, row in zip(res.rows, res.scores):
                j = int(np.argmax(row))
                predicted[k], score[k], scores[k], latency[k] = classes[j], float(row[j]), row.tolist(), wall
            for k, why in res.failed:
                status[k], error[k], latency[k] = "failed", why, wall
            t0 = perf_counter()
        frame = pl.DataFrame({
            "path": [_where(x) for x in items],
            "predicted_class": pl.Series(predicted, dtype=pl.String),
            "score": pl.Series(score, dtype=pl.Float64),
            "scores": pl.Series(scores, dtype=pl.List(pl.Float32)),
            "latency_ms": latency,
            "status": status,
            "error": pl.Series(error, dtype=pl.String),
        })
        ids = self._log_rows(items, frame, source, time) if self._log is not None else None
        return frame.insert_column(0, pl.Series("prediction_id", ids, dtype=pl.String))

    def _log_rows(self, items: list[Any], frame: pl.DataFrame, source: str | None,
                  when: datetime | None) -> list[str]:
        assert self._log is not None
        when = datetime.now(timezone.utc) if when is None else (
            when.replace(tzinfo=timezone.utc) if when.tzinfo is None else when.astimezone(timezone.utc))
        data = frame.with_columns(pl.lit(when, dtype=pl.Datetime("us", "UTC")).alias("time"))
        raw = [x if isinstance(x, bytes) else None for x in items]
        arrays = [isinstance(x, np.ndarray) for x in items]
        if any(raw):
            data = data.with_columns(pl.Series("bytes", raw, dtype=pl.Binary))
        if any(arrays):  # decoded arrays have no file and no encoded bytes: hash their pixels
            data = data.with_columns(pl.Series("image_id", [_array_id(x) if isinstance(x, np.ndarray) else None
                                                            for x in items], dtype=pl.String))
        if source is not None:
            data = data.with_columns(pl.lit(source).alias("source"))
        return self._log.log_frame(data).to_list()

    # -- life cycle ----------------------------------------------------------------------
    @property
    def classes(self) -> tuple[str, ...]:
        """The model's classes, in the order of ``scores``."""
        return tuple(self.model_version.classes)

    def flush(self) -> int:
        """Write the predictions waiting in the log now."""
        return self._log.flush() if self._log is not None else 0

    def close(self) -> None:
        """Write what waits and close the log (idempotent)."""
        if self._log is not None:
            self._log.close()

    def __enter__(self) -> Predictor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        mv = self.model_version
        return (f"<Predictor {self.ref} -> {mv.name}:{mv.short_version} ({len(mv.classes)} classes, "
                f"preprocess {self.preprocess.fingerprint[:12]}, device {self.device or 'cpu'})>")


def _where(item: Any) -> str | None:
    if isinstance(item, (str, os.PathLike)):
        return os.fspath(item)
    return None


def _array_id(arr: np.ndarray) -> str:
    """Content id of a decoded array (XXH3-128 of its shape, dtype and pixels)."""
    import xxhash

    h = xxhash.xxh3_128()
    h.update(f"{arr.shape}{arr.dtype}".encode())
    h.update(np.ascontiguousarray(arr).tobytes())
    return h.hexdigest()


def _to_device(net: Any, device: str) -> Any:
    to = getattr(net, "to", None)
    if to is None:
        raise WorkspaceError(f"this model cannot be moved to {device!r} (no .to())")
    return to(device)


def predict(ws: Workspace, ref: str, images: Iterable[Any], **options: Any) -> pl.DataFrame:
    """One-shot: predict and log ``images`` with a :class:`Predictor`, then close it.

    Examples
    --------
    >>> predict(ws, "defect-clf@production", paths)   # doctest: +SKIP
    """
    with Predictor(ws, ref, **options) as p:
        return p(list(images))
