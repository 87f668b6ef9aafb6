"""``cv.Predictor``: serve a registered model through its own stored preprocessing and log every answer.

The alias is resolved once (``refresh()`` resolves it again), the model is loaded without
unpickling anything (hash-checked), each image goes through the model version's
``Preprocess`` (literally the training code), the model runs batched on CPU or GPU, and every
prediction is logged with its image hash, model version, alias at that moment, the serving
preprocessing fingerprint, class, scores, latency and source. Images that cannot be decoded
are logged as failed predictions with their reason; the batch goes on.

With ``shadow="name@candidate"`` a second model answers every image too, unseen by the caller: on the
very same preprocessed batch when its preprocessing fingerprint equals production's (else through its
own preprocessing). Its rows are logged with role ``shadow``, ``shadow_of`` = the served
``prediction_id`` and its own latency; an exception anywhere in the shadow path is caught and logged
as failed shadow rows, so the answer never changes. ``ws.shadow(name, candidate=..., logged=True)``
reports on those pairs.
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
    shadow
        A candidate to run in shadow: ``"name@alias"``, ``"@alias"`` (of the same model) or a model
        version. It needs the same classes (by name) and another version than production; its
        answers are logged (role ``shadow``), never returned. Needs ``log=True``.
    shadow_background
        Run the shadow on a worker thread after the answer is returned, so it adds no latency to
        the call (default: in the call, after production answered); ``flush()``, ``close()`` and
        ``refresh()`` wait for it.

    Examples
    --------
    >>> predictor = cv.Predictor(ws, "defect-clf@production", source="line-1")   # doctest: +SKIP
    >>> shadowed = cv.Predictor(ws, "defect-clf@production", shadow="defect-clf@candidate")  # doctest: +SKIP
    >>> predictor(["a.png", "b.png"]).select("path", "predicted_class", "score")  # doctest: +SKIP
    >>> predictor.close()                                                          # doctest: +SKIP
    """

    def __init__(self, ws: Workspace, ref: str, *, version: str | None = None, device: str | None = None,
                 batch_size: int = 32, source: str | None = None, log: bool = True, flush_rows: int = 100_000,
                 flush_seconds: float | None = 2.0, shadow: Any = None, shadow_background: bool = False) -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        if shadow is not None and not log:
            raise ValueError("a shadow model only logs (its answers are never returned): keep log=True")
        self.ws, self.ref, self._version = ws, ref, version
        self.device, self.batch_size, self.source = device, batch_size, source
        self._logging, self._flush = log, (flush_rows, flush_seconds)
        self._log: PredictionLog | None = None
        self.model_version: ModelVersion
        self._shadow = _Shadow(shadow, shadow_background) if shadow is not None else None
        self._load()
        if self._shadow is not None:
            self._shadow.load(self, strict=True)

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
        moved = now.version != before
        if moved:
            self._load()
        if self._shadow is not None:  # a shadow that became production (promoted) is switched off, not raised
            moved = self._shadow.load(self, strict=False) or moved
        return moved

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
        share = self._shadow is not None and self._shadow.same_preprocess
        inputs: list[tuple[list[int], np.ndarray]] = []
        n = len(items)
        classes = list(self.model_version.classes)
        predicted: list[str | None] = [None] * n
        score: list[float | None] = [None] * n
        scores: list[list[float] | None] = [None] * n
        latency = [0.0] * n
        status = ["ok"] * n
        error: list[str | None] = [None] * n
        t0 = perf_counter()
        for res in run_batches(self.net, self.preprocess, items, batch_size=self.batch_size, device=self.device,
                               keep_inputs=share):
            wall = (perf_counter() - t0) * 1000
            if share and res.inputs is not None:
                inputs.append((res.rows, res.inputs))
            for k, row in zip(res.rows, res.scores):
                j = int(np.argmax(row))
                predicted[k], score[k], scores[k], latency[k] = classes[j], float(row[j]), row.tolist(), wall
            for k, why in res.failed:
                status[k], error[k], latency[k] = "failed", why, wall
            t0 = perf_counter()
        frame = _answers(items, predicted, score, scores, latency, status, error)
        ids = self._log_rows(self._log, items, frame, source, time) if self._log is not None else None
        if self._shadow is not None and ids is not None:
            self._shadow.submit(self, items, ids, inputs, frame, source, time)
        return frame.insert_column(0, pl.Series("prediction_id", ids if ids is not None else [None] * n,
                                                dtype=pl.String))

    def _log_rows(self, log: PredictionLog, items: list[Any], frame: pl.DataFrame, source: str | None,
                  when: datetime | None) -> list[str]:
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
        return log.log_frame(data).to_list()

    # -- life cycle ----------------------------------------------------------------------
    @property
    def classes(self) -> tuple[str, ...]:
        """The model's classes, in the order of ``scores``."""
        return tuple(self.model_version.classes)

    @property
    def shadow_version(self) -> ModelVersion | None:
        """The model version answering in shadow (None: no shadow, or switched off by :meth:`refresh`)."""
        return self._shadow.model_version if self._shadow is not None else None

    @property
    def shadow_failures(self) -> int:
        """Calls whose shadow path raised (logged as failed shadow rows; the answers were unaffected)."""
        return self._shadow.failures if self._shadow is not None else 0

    def flush(self) -> int:
        """Write the predictions waiting in the log (and the shadow log) now."""
        n = self._log.flush() if self._log is not None else 0
        return n + (self._shadow.flush() if self._shadow is not None else 0)

    def close(self) -> None:
        """Write what waits and close the log (idempotent)."""
        try:
            if self._log is not None:
                self._log.close()
        finally:
            if self._shadow is not None:
                self._shadow.close()

    def __enter__(self) -> Predictor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        mv = self.model_version
        shadow = self.shadow_version
        tail = f", shadow {shadow.short_version}" if shadow is not None else ""
        return (f"<Predictor {self.ref} -> {mv.name}:{mv.short_version} ({len(mv.classes)} classes, "
                f"preprocess {self.preprocess.fingerprint[:12]}, device {self.device or 'cpu'}{tail})>")


def _answers(items: list[Any], predicted: list[str | None], score: list[float | None],
             scores: list[list[float] | None], latency: list[float], status: list[str],
             error: list[str | None]) -> pl.DataFrame:
    """The answer frame of one call (one row per item, in order)."""
    return pl.DataFrame({
        "path": pl.Series([_where(x) for x in items], dtype=pl.String),
        "predicted_class": pl.Series(predicted, dtype=pl.String),
        "score": pl.Series(score, dtype=pl.Float64),
        "scores": pl.Series(scores, dtype=pl.List(pl.Float32)),
        "latency_ms": pl.Series(latency, dtype=pl.Float64),
        "status": pl.Series(status, dtype=pl.String),
        "error": pl.Series(error, dtype=pl.String),
    })


def _mismatch(prod: ModelVersion, cand: ModelVersion) -> str | None:
    """Why ``cand`` cannot shadow ``prod`` (None: it can)."""
    if cand.task != "classification":
        return f"the shadow model {cand.ref} is a {cand.task} model; cv.Predictor serves classification models"
    if cand.version == prod.version:
        return f"the shadow model {cand.ref} is production's own version ({prod.short_version})"
    only_p, only_c = sorted(set(prod.classes) - set(cand.classes)), sorted(set(cand.classes) - set(prod.classes))
    if only_p or only_c:
        parts = ([f"only production has {only_p}"] if only_p else []) + (
            [f"only the shadow model has {only_c}"] if only_c else [])
        return f"the shadow model's classes differ from production's ({'; '.join(parts)})"
    if cand.preprocess_fingerprint is None:
        return f"the shadow model {cand.ref} was registered without preprocessing"
    return None


class _Shadow:
    """The shadow model of a :class:`Predictor`: resolved, run and logged beside production. Nothing it
    does at serving time raises into the caller: failures become failed shadow rows."""

    def __init__(self, ref: Any, background: bool = False) -> None:
        if not (isinstance(ref, str) and ref.strip()) and not callable(getattr(ref, "load", None)):
            raise WorkspaceError(f"shadow must be 'name@alias', '@alias' or a model version, got {ref!r}")
        self.ref = ref
        self.model_version: ModelVersion | None = None
        self.net: Any = None
        self.preprocess: Any = None
        self.log: PredictionLog | None = None
        self.same_preprocess = False
        self.failures = 0
        self.last_error: str | None = None
        self.disabled: str | None = None
        self.background = background
        self.pool: Any = None
        self.pending: list[Any] = []

    def load(self, owner: Predictor, *, strict: bool) -> bool:
        """Resolve the shadow again (after production loaded); returns whether its version changed.

        ``strict``: a shadow that cannot serve raises (at construction); else it is switched off
        (``disabled`` says why), e.g. when the shadow became production.
        """
        prod = owner.model_version
        self.wait()
        try:
            ref = self.ref
            mv = owner.ws.model(prod.name + ref if ref.startswith("@") else ref) if isinstance(ref, str) else ref
            why = _mismatch(prod, mv)
            if why is not None:
                raise WorkspaceError(why)
            self.same_preprocess = mv.preprocess_fingerprint == prod.preprocess_fingerprint
            if self.model_version is not None and mv.version == self.model_version.version and self.net is not None:
                return False
            pre = mv.preprocess
            if pre is None or not pre.runnable:
                raise WorkspaceError(f"the shadow model {mv.ref}'s preprocessing cannot be rebuilt from its record")
            net = mv.load()
            if owner.device:
                net = _to_device(net, owner.device)
        except WorkspaceError as error:
            if strict:
                raise
            changed = self.model_version is not None
            self.close()
            self.model_version, self.net, self.disabled = None, None, str(error)
            return changed
        self.close()
        self.log = owner.ws.prediction_log(mv, pre, source=owner.source, role="shadow",
                                           flush_rows=owner._flush[0], flush_seconds=owner._flush[1])
        self.model_version, self.preprocess, self.net, self.disabled = mv, pre, net, None
        return True

    def submit(self, owner: Predictor, items: list[Any], ids: list[str], inputs: list[tuple[list[int], np.ndarray]],
               served: pl.DataFrame, source: str | None, when: datetime | None) -> None:
        """:meth:`answer` now, or on the worker thread (``background``) with copies of what the caller may reuse."""
        if self.net is None:
            return
        if not self.background:
            self.answer(owner, items, ids, inputs, served, source, when)
            return
        if self.pool is None:
            from concurrent.futures import ThreadPoolExecutor

            self.pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="cvops-shadow")
        mine = [x.copy() if isinstance(x, np.ndarray) else x for x in items]  # a camera loop may reuse its buffers
        status = served.select("status", "error").clone()
        self.pending = [f for f in self.pending if not f.done()]
        self.pending.append(self.pool.submit(self.answer, owner, mine, ids, inputs, status, source, when))

    def wait(self) -> None:
        """Until the shadow work handed to the worker thread is done (and logged)."""
        for future in self.pending:
            future.result()
        self.pending = []

    def answer(self, owner: Predictor, items: list[Any], ids: list[str], inputs: list[tuple[list[int], np.ndarray]],
               served: pl.DataFrame, source: str | None, when: datetime | None) -> None:
        """Run the shadow on one call's items and log its rows (``shadow_of`` = the served ids); never raises."""
        if self.net is None or self.log is None:
            return
        try:
            rows = self._run(owner, items, inputs, served)
        except Exception as error:  # the shadow's failure is logged, never the caller's problem
            self.failures += 1
            self.last_error = f"{type(error).__name__}: {error}"
            n = len(items)
            rows = _answers(items, [None] * n, [None] * n, [None] * n, [0.0] * n, ["failed"] * n,
                            [f"shadow model failed: {self.last_error}"] * n)
        try:
            owner._log_rows(self.log, items, rows.with_columns(pl.Series("shadow_of", ids, dtype=pl.String)),
                            source, when)
        except Exception as error:
            self.failures += 1
            self.last_error = f"logging the shadow rows failed: {type(error).__name__}: {error}"

    def _run(self, owner: Predictor, items: list[Any], inputs: list[tuple[list[int], np.ndarray]],
             served: pl.DataFrame) -> pl.DataFrame:
        from ..models._inference import run_batches

        assert self.model_version is not None
        classes = list(self.model_version.classes)
        n = len(items)
        predicted: list[str | None] = [None] * n
        score: list[float | None] = [None] * n
        scores: list[list[float] | None] = [None] * n
        latency = [0.0] * n
        status = ["ok"] * n
        error: list[str | None] = [None] * n

        def fill(positions: list[int], res: Any, wall: float) -> None:
            for j, row in zip(res.rows, res.scores):
                k, top = positions[j], int(np.argmax(row))
                predicted[k], score[k], scores[k], latency[k] = classes[top], float(row[top]), row.tolist(), wall
            for j, why in res.failed:
                status[positions[j]], error[positions[j]], latency[positions[j]] = "failed", why, wall

        if self.same_preprocess:  # the very tensors production saw
            for k, (st, why) in enumerate(zip(served["status"].to_list(), served["error"].to_list())):
                if st == "failed":
                    status[k], error[k] = "failed", why
            for positions, batch in inputs:
                t0 = perf_counter()
                for res in run_batches(self.net, None, list(batch), batch_size=max(1, len(batch)),
                                       device=owner.device):
                    fill(positions, res, (perf_counter() - t0) * 1000)
        else:  # through its own preprocessing
            everything = list(range(n))
            t0 = perf_counter()
            for res in run_batches(self.net, self.preprocess, items, batch_size=owner.batch_size,
                                   device=owner.device):
                fill(everything, res, (perf_counter() - t0) * 1000)
                t0 = perf_counter()
        return _answers(items, predicted, score, scores, latency, status, error)

    def flush(self) -> int:
        self.wait()
        return self.log.flush() if self.log is not None else 0

    def close(self) -> None:
        self.wait()
        if self.pool is not None:
            self.pool.shutdown(wait=True)
            self.pool = None
        if self.log is not None:
            try:
                self.log.close()
            except Exception as error:  # closing production's log must not fail for the shadow's
                self.failures += 1
                self.last_error = f"closing the shadow log failed: {type(error).__name__}: {error}"
            self.log = None


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
