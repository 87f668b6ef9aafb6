"""The prediction log: buffered, batched appends to the ``predictions`` table, and reading it back.

A :class:`PredictionLog` collects rows in memory and writes them as one Lance commit per flush: when
``flush_rows`` rows wait, ``flush_seconds`` after the first of them (a timer thread, or the next call),
on ``flush()``, on ``close()`` / leaving a ``with`` block, and at interpreter exit. So a server logging
one prediction per request makes a few commits a minute, not one per request. Commits (and any image
hashing) happen on the log's writer thread: a serving thread only appends to the buffer.
"""

from __future__ import annotations

import queue
import threading
import time
import uuid
import weakref
from collections.abc import Callable
from datetime import date, datetime, timezone
from typing import TYPE_CHECKING, Any

import numpy as np
import polars as pl
import pyarrow as pa

from ..checks.results import time_bound
from .._store import Store, WorkspaceError, to_arrow
from .._store.schemas import PREDICTIONS
from ._frames import normalize, prepare, row_frame
from ._images import resolve_images
from ._model import ModelRef, quote

if TYPE_CHECKING:
    from .._store.statcache import StatCache

ROLES = ("served", "shadow")
KEEP = ("prediction_id", "batch_id")  # the log's own columns, given to every row before it is buffered
_QUEUED = 2  # full buffers waiting for the writer thread before a caller waits
_ID_LEN = 32  # a prediction id: the log's 20-hex prefix and a 12-digit sequence number
_DIGITS = 10 ** np.arange(_ID_LEN - 21, -1, -1, dtype=np.int64)


class _Writer:
    """The buffer and the writes of one log (what the finalizer flushes; holds no reference to the log).

    Callers only touch the buffer (under ``lock``, a fraction of a millisecond). A full buffer, or one
    whose first row is ``flush_seconds`` old, is handed whole to a background thread that converts
    it, resolves its images (hashing files when needed) and commits it, so neither a serving thread
    nor a timer waits for a commit while others log. At most ``_QUEUED`` full buffers wait for that
    thread (then a caller waits: memory stays bounded). ``flush()`` and ``close()`` wait until
    everything logged before them is written. A failed write puts its rows back at the head of the
    buffer (nothing is lost) and the error is raised by the next call.
    """

    def __init__(self, store: Store, cache: Callable[[], StatCache | None], model: ModelRef,
                 fingerprint: str | None, source: str | None, role: str, flush_rows: int,
                 flush_seconds: float | None) -> None:
        self.store, self.cache, self.model, self.fingerprint = store, cache, model, fingerprint
        self.source, self.role, self.flush_rows, self.flush_seconds = source, role, flush_rows, flush_seconds
        self.prefix = uuid.uuid4().hex[:20]
        self.seq = 0
        self.batches = 0
        self.rows: list[dict[str, Any]] = []
        self.frames: list[pl.DataFrame] = []
        self.buffered = 0  # rows in ``rows`` + ``frames`` (what the next hand-over takes)
        self.pending = 0  # rows logged and not yet written (buffered, queued or being written)
        self.first: float | None = None
        self.lock = threading.RLock()  # the buffer
        self.counts = threading.Lock()  # pending / written / commits / error (the writer thread's side)
        self.queue: queue.Queue[list[pl.DataFrame] | None] = queue.Queue(maxsize=_QUEUED)
        self.thread: threading.Thread | None = None
        self.timer: threading.Timer | None = None
        self.error: BaseException | None = None
        self.retry: list[pl.DataFrame] = []  # frames of failed writes, oldest first, written before the buffer
        self.closed = False
        self.written = 0
        self.commits = 0
        self.keep = False  # keep each written table in ``kept`` (the one-shot ``ws.log_predictions``)
        self.kept: list[pl.DataFrame] = []

    # -- ids ---------------------------------------------------------------------------------------
    def next_ids(self, n: int) -> tuple[int, str]:
        start, self.seq = self.seq, self.seq + n
        self.batches += 1
        return start, f"{self.prefix}b{self.batches:011d}"

    def ids(self, start: int, n: int) -> pl.Series:
        """Prediction ids ``start .. start + n - 1``: the log's prefix and a 12-digit sequence number."""
        seq = np.arange(start, start + n, dtype=np.int64)
        text = np.empty((n, _ID_LEN), dtype=np.uint8)
        text[:, :len(self.prefix)] = np.frombuffer(self.prefix.encode(), dtype=np.uint8)
        text[:, len(self.prefix):] = seq[:, None] // _DIGITS % 10 + ord("0")
        offsets = np.arange(0, _ID_LEN * (n + 1), _ID_LEN, dtype=np.int32)
        ids = pa.StringArray.from_buffers(n, pa.py_buffer(offsets), pa.py_buffer(text))
        return pl.Series("prediction_id", ids)

    # -- buffering ---------------------------------------------------------------------------------
    def check(self) -> None:
        with self.counts:
            error, self.error = self.error, None
        if error is not None:
            raise WorkspaceError(f"a background write of the prediction log failed: {error}") from error
        if self.closed:
            raise WorkspaceError("this prediction log is closed; open another with ws.prediction_log(...)")

    def added(self, n: int) -> None:
        """Account for ``n`` new rows; hand the buffer over or arm the timer as due. Called under ``lock``."""
        self.buffered += n
        with self.counts:
            self.pending += n
        now = time.monotonic()
        if self.first is None:
            self.first = now
        due = self.flush_seconds is not None and now - self.first >= self.flush_seconds
        if self.buffered >= self.flush_rows or due:
            self.hand_over()
        elif self.flush_seconds is not None and self.timer is None:
            self.timer = threading.Timer(self.flush_seconds, self.timed)
            self.timer.daemon = True
            self.timer.start()

    def take(self) -> list[pl.DataFrame]:
        """Empty the buffer (under ``lock``): its frames, oldest first, with failed writes before them."""
        if self.timer is not None and self.timer is not threading.current_thread():
            self.timer.cancel()
        self.timer = None
        if self.rows:
            self.frames.append(row_frame(self.rows))
            self.rows = []
        frames, self.frames, self.buffered, self.first = self.frames, [], 0, None
        with self.counts:
            retry, self.retry = self.retry, []
        return retry + frames

    def hand_over(self) -> None:
        """Queue the buffer for the writer thread (under ``lock``)."""
        frames = self.take()
        if not frames:
            return
        if self.thread is None or not self.thread.is_alive():
            self.thread = threading.Thread(target=self.work, name="cvops-prediction-log", daemon=True)
            self.thread.start()
        self.queue.put(frames)

    def timed(self) -> None:
        with self.lock:
            if self.timer is threading.current_thread() and not self.closed:  # not cancelled meanwhile
                self.hand_over()

    def work(self) -> None:
        """The writer thread: write queued buffers in order until told to stop (``None``)."""
        while True:
            frames = self.queue.get()
            if frames is None:
                self.queue.task_done()
                return
            try:
                self.write(frames)
            except BaseException as error:  # the rows go back; the next call raises
                with self.counts:
                    self.retry = self.retry + frames  # failures happen oldest first
                    self.error = error
            finally:
                self.queue.task_done()

    # -- writing -----------------------------------------------------------------------------------
    def write(self, frames: list[pl.DataFrame]) -> int:
        """Write ``frames`` as one commit (plus one to register new images); returns the rows written."""
        groups: dict[tuple[tuple[str, pl.DataType], ...], list[pl.DataFrame]] = {}
        for part in frames:  # frames of one shape (the usual case: all) are converted together
            groups.setdefault(tuple(part.schema.items()), []).append(part)
        parts = [normalize(g[0] if len(g) == 1 else pl.concat(g, rechunk=True), keep=KEEP)
                 for g in groups.values()]
        rows = self.rows_to_store(parts[0] if len(parts) == 1 else pl.concat(parts))
        table = to_arrow(rows, PREDICTIONS)
        self.store.append("predictions", table)
        n: int = table.num_rows
        with self.counts:
            if self.keep:
                self.kept.append(rows)
            self.pending -= n
            self.written += n
            self.commits += 1
        return n

    def flush(self) -> int:
        """Write everything logged so far; returns the rows written meanwhile (raises a failed write's error)."""
        with self.lock:
            with self.counts:
                before, self.error = self.written, None  # a failed write's rows are retried now
            self.hand_over()
        self.queue.join()
        with self.counts:
            error, self.error = self.error, None
            written = self.written - before
        if error is not None:
            raise error
        return written

    def rows_to_store(self, batch: pl.DataFrame) -> pl.DataFrame:
        """The stored rows of a normalised batch: images resolved, the log's constants filled in."""
        batch = batch.with_columns(pl.col("source").fill_null(pl.lit(self.source, dtype=pl.String)))
        needs = batch.filter(pl.col("image_id").is_null() & (pl.col("path").is_not_null()
                                                            | pl.col("bytes").is_not_null()
                                                            | (pl.col("status") != "failed")))
        if needs.height:
            found = resolve_images(self.store, self.cache(), batch, source=self.source)
            batch = batch.with_columns(
                pl.Series("image_id", found.image_ids, dtype=pl.String),
                pl.Series("path", found.paths, dtype=pl.String),
                pl.coalesce(pl.col("error"), pl.Series("e", found.errors, dtype=pl.String)).alias("error"),
            ).with_columns(pl.when(pl.col("error").is_not_null()).then(pl.lit("failed"))
                           .otherwise(pl.col("status")).alias("status"))
        m = self.model
        if m.classes is not None:  # a class from the scores when the caller gave scores only
            k = len(m.classes)
            top = (pl.when(pl.col("scores").list.len() == k).then(pl.col("scores").list.arg_max())
                   .replace_strict(list(range(k)), list(m.classes), default=None, return_dtype=pl.String))
            batch = batch.with_columns(pl.coalesce("predicted_class", top).alias("predicted_class"))
        consts = [pl.lit(v, dtype=pl.String).alias(k) for k, v in (
            ("model", m.name), ("model_version", m.version), ("alias", m.alias),
            ("preprocess_fingerprint", self.fingerprint), ("role", self.role))]
        return batch.with_columns(consts).select(PREDICTIONS.names)

    def close(self) -> None:
        """Write what waits, stop the writer thread (idempotent); raises a failed write's error."""
        with self.lock:
            if self.closed:
                return
            self.closed = True
        try:
            self.flush()
        finally:
            if self.thread is not None and self.thread.is_alive():
                self.queue.put(None)
                self.thread.join()


class PredictionLog:
    """Buffered logging of predictions for one model (and one serving preprocessing).

    Get one from ``ws.prediction_log(model=..., preprocess=...)``; log rows with :meth:`log` (one) or
    :meth:`log_frame` (many). Rows are written in batches, one commit each (see the module docstring);
    use it as a context manager (or call :meth:`close`) so the last rows are written.
    Thread-safe: a server may log from several threads.

    Examples
    --------
    >>> with ws.prediction_log(model="clf@production", preprocess=pre) as plog:   # doctest: +SKIP
    ...     pid = plog.log("/data/in/0001.png", predicted_class="dent", score=0.93, latency_ms=12.5)
    """

    def __init__(self, writer: _Writer) -> None:
        self._w = writer
        self._finalizer = weakref.finalize(self, writer.close)  # at exit too, when not closed before

    @property
    def model(self) -> ModelRef:
        """The model (name, version, alias, classes) every row is logged for."""
        return self._w.model

    @property
    def preprocess_fingerprint(self) -> str | None:
        """The serving preprocessing's fingerprint recorded with every row."""
        return self._w.fingerprint

    @property
    def pending(self) -> int:
        """Rows logged but not yet written."""
        return self._w.pending

    @property
    def written(self) -> int:
        """Rows written so far."""
        return self._w.written

    @property
    def commits(self) -> int:
        """Appends made so far (one per flush that had rows)."""
        return self._w.commits

    def log(
        self,
        image: Any = None,
        *,
        image_id: str | None = None,
        predicted_class: str | None = None,
        score: float | None = None,
        scores: Any = None,
        boxes: Any = None,
        latency_ms: float | None = None,
        time: datetime | None = None,
        source: str | None = None,
        error: str | None = None,
    ) -> str:
        """Log one prediction; returns its ``prediction_id`` (the row is written with the next flush).

        ``image`` is a path or URI (``str``/``os.PathLike``) or the encoded bytes; ``image_id`` its hash
        when known (then the file is not read). ``error`` logs a prediction that failed while serving.

        Examples
        --------
        >>> plog.log(b"...png bytes...", predicted_class="ok", scores=[0.9, 0.1])   # doctest: +SKIP
        """
        row: dict[str, Any] = {"prediction_id": None, "batch_id": None, "image_id": image_id, "predicted_class": predicted_class, "score": score,
                               "scores": None if scores is None else [float(v) for v in scores],
                               "boxes": boxes, "latency_ms": latency_ms, "time": time_bound(time, "time"),
                               "source": source, "error": error, "status": "failed" if error else None}
        if isinstance(image, (bytes, bytearray, memoryview)):
            row["bytes"] = bytes(image)
        elif image is not None:
            row["path"] = image
        w = self._w
        with w.lock:
            w.check()
            start, row["batch_id"] = w.next_ids(1)
            row["prediction_id"] = pid = f"{w.prefix}{start:012d}"
            if row["time"] is None:
                row["time"] = datetime.now(timezone.utc)
            w.rows.append(row)
            w.added(1)
        return pid

    def log_frame(self, frame: pl.DataFrame) -> pl.Series:
        """Log a frame of predictions (columns: see ``jupyter_cvops.predictions.INPUT_COLUMNS``); returns
        their ``prediction_id``\\ s in row order.

        Examples
        --------
        >>> plog.log_frame(pl.DataFrame({"image_id": ids, "predicted_class": classes}))   # doctest: +SKIP
        """
        if not isinstance(frame, pl.DataFrame):
            raise WorkspaceError(f"log_frame takes a polars DataFrame, got {type(frame).__name__}")
        given = [c for c in KEEP if c in frame.columns]
        if given:
            raise WorkspaceError(f"{' and '.join(given)} are given by the log; drop those columns")
        w = self._w
        now = datetime.now(timezone.utc)
        with w.lock:
            w.check()
            start, batch_id = w.next_ids(frame.height)
            ids = w.ids(start, frame.height)
            rows = prepare(frame, ids=ids, batch_id=batch_id, now=now)
            w.frames.append(rows)
            w.added(rows.height)
        return ids

    def flush(self) -> int:
        """Write the waiting rows now (one commit); returns how many were written.

        Examples
        --------
        >>> plog.flush()                                   # doctest: +SKIP
        128
        """
        if self._w.closed:
            self._w.check()
        return self._w.flush()

    def close(self) -> None:
        """Write the waiting rows and close the log (idempotent; later logging raises).

        Examples
        --------
        >>> plog.close()                                   # doctest: +SKIP
        """
        self._finalizer()  # writes what waits (and what a failed background write put back); raises its error

    def __enter__(self) -> PredictionLog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        m = self.model
        name = m.name + (f"@{m.alias}" if m.alias else "") + (f" {m.version[:12]}" if m.version else "")
        state = "closed" if self._w.closed else f"{self.pending} pending"
        return f"<PredictionLog {name}: {self.written} written in {self.commits} commits, {state}>"


def read_predictions(
    store: Store,
    *,
    model: str | None = None,
    version: str | None = None,
    since: datetime | date | str | None = None,
    until: datetime | date | str | None = None,
    source: str | None = None,
) -> pl.DataFrame:
    """Logged predictions, oldest first; ``model`` is ``"name"`` or ``"name@alias"``; ``since`` inclusive,
    ``until`` exclusive.

    Examples
    --------
    >>> import tempfile
    >>> read_predictions(Store.create(tempfile.mkdtemp() + "/ws"), model="clf@production").height
    0
    """
    where: list[str] = []
    if model is not None:
        name, _, alias = model.partition("@")
        where.append(f"model = {quote(name)}")
        if alias:
            where.append(f"alias = {quote(alias)}")
    if version is not None:
        where.append(f"model_version = {quote(version)}")
    if source is not None:
        where.append(f"source = {quote(source)}")
    frame = store.read("predictions", where=" AND ".join(where) or None)
    start, end = time_bound(since, "since"), time_bound(until, "until")
    if start is not None:
        frame = frame.filter(pl.col("time") >= start)
    if end is not None:
        frame = frame.filter(pl.col("time") < end)
    return frame.sort("time", maintain_order=True)
