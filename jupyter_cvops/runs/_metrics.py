"""Metric values of a run: checked, buffered, and written to ``run_metrics`` at most once a second.

A training loop may log every step; a Lance commit per step would slow it and fragment
the table. :class:`MetricBuffer` keeps rows in memory and appends them in one commit when
a second has passed since the last one (checked at each log, and by a timer so rows never
wait much longer than that), and when the run ends.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Mapping
from typing import Any

from .._store import Store, now_utc


def metric_value(key: str, value: Any) -> float:
    """``value`` as a float: Python and numpy numbers, 0-d arrays and one-element tensors.

    Examples
    --------
    >>> metric_value("acc", 1), metric_value("acc", True)
    (1.0, 1.0)
    >>> metric_value("acc", "0.9")
    Traceback (most recent call last):
    ...
    TypeError: metric 'acc' must be a number, got str '0.9'
    """
    if isinstance(value, (str, bytes)):
        raise TypeError(f"metric {key!r} must be a number, got {type(value).__name__} {value!r}")
    item = getattr(value, "item", None)
    if callable(item) and not isinstance(value, (int, float)):
        try:
            value = item()  # numpy scalars, 0-d arrays, one-element torch tensors (moved to the CPU)
        except (ValueError, RuntimeError):
            raise TypeError(f"metric {key!r} must be one number, got {type(value).__name__} "
                            f"of shape {getattr(value, 'shape', '?')}") from None
    try:
        return float(value)
    except (TypeError, ValueError):
        raise TypeError(f"metric {key!r} must be a number, got {type(value).__name__} {value!r}") from None


def check_metrics(metrics: Mapping[str, Any]) -> dict[str, float]:
    """Keys as non-empty strings, values as floats (NaN and infinities are kept).

    Examples
    --------
    >>> check_metrics({"loss": 0.5, "acc": 1})
    {'loss': 0.5, 'acc': 1.0}
    """
    if not isinstance(metrics, Mapping):
        raise TypeError(f"log_metrics takes a dict of name -> number, got {type(metrics).__name__}")
    out: dict[str, float] = {}
    for key, value in metrics.items():
        if not isinstance(key, str) or not key:
            raise TypeError(f"metric names must be non-empty strings, got {key!r}")
        out[key] = metric_value(key, value)
    return out


def json_number(value: float) -> float | str:
    """A float JSON can carry: NaN and infinities as the strings ``"nan"``, ``"inf"``, ``"-inf"``.

    Examples
    --------
    >>> json_number(0.5), json_number(float("nan")), json_number(float("-inf"))
    (0.5, 'nan', '-inf')
    """
    if math.isfinite(value):
        return value
    return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")


class MetricBuffer:
    """Rows of one run's metrics, appended to ``run_metrics`` at most every ``interval`` seconds.

    Thread-safe: a training thread may log while a timer flushes. A flush that fails in the
    timer keeps its rows; the next :meth:`flush` retries them and raises if it fails again.

    Examples
    --------
    >>> import tempfile
    >>> st = Store.create(tempfile.mkdtemp() + "/ws")
    >>> buf = MetricBuffer(st, "run-1")
    >>> for step in range(1000):
    ...     buf.add({"loss": 1 / (step + 1)}, step)
    >>> buf.flush(), st.count("run_metrics")
    (1000, 1000)
    >>> buf.close()
    """

    def __init__(self, store: Store, run_id: str, *, interval: float = 1.0) -> None:
        self.store = store
        self.run_id = run_id
        self.interval = interval
        self.commits = 0  # appends made (one Lance commit each)
        self._rows: list[dict[str, Any]] = []
        self._lock = threading.Lock()  # guards _rows and _timer
        self._flush_lock = threading.Lock()  # one flush at a time, in order
        self._timer: threading.Timer | None = None
        self._last = time.monotonic()
        self._error: BaseException | None = None
        self._closed = False

    def add(self, values: Mapping[str, float], step: int) -> None:
        """Buffer one step's values; flush when ``interval`` has passed since the last flush."""
        stamp = now_utc()
        rows = [{"run_id": self.run_id, "key": k, "value": v, "step": step, "time": stamp} for k, v in values.items()]
        with self._lock:
            self._rows.extend(rows)
            due = time.monotonic() - self._last >= self.interval
        if due:
            self.flush()
        else:
            self._schedule()

    def pending(self) -> int:
        """Rows buffered and not yet written."""
        with self._lock:
            return len(self._rows)

    def _schedule(self) -> None:
        with self._lock:
            if self._timer is not None or self._closed or not self._rows:
                return
            wait = max(0.0, self.interval - (time.monotonic() - self._last))
            self._timer = threading.Timer(wait, self._timed_flush)
            self._timer.daemon = True
            self._timer.start()

    def _timed_flush(self) -> None:
        try:
            self.flush()
        except BaseException as exc:  # kept for the next foreground flush to report
            self._error = exc

    def flush(self) -> int:
        """Write the buffered rows now (one commit); returns how many were written."""
        with self._flush_lock:
            with self._lock:
                rows, self._rows = self._rows, []
                if self._timer is not None and self._timer is not threading.current_thread():
                    self._timer.cancel()
                self._timer = None
            if not rows:
                self._last = time.monotonic()
                return 0
            try:
                self.store.append("run_metrics", rows)
            except BaseException:
                with self._lock:
                    self._rows[:0] = rows  # keep them, in order, for the next try
                raise
            self.commits += 1
            self._last = time.monotonic()
            self._error = None
            return len(rows)

    def close(self) -> None:
        """Flush what is left and stop the timer; later adds still buffer and flush on demand."""
        self.flush()
        with self._lock:
            self._closed = True
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None
