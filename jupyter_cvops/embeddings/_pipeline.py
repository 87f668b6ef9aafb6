"""The loading pipeline behind :func:`jupyter_cvops.embeddings.embed`: read, verify, decode
and preprocess images in worker threads while the model runs on the calling thread.

The consumer never waits on a worker. Workers load items ahead, in order, up to
``depth`` batches past the current one; when the consumer reaches a batch, whatever of
it is not finished yet (not started, or still running in a worker) it loads itself. So a
worker starved of CPU (the model keeps every core busy, or another process does) cannot
stall the model: the run is never slower than loading inline, and faster whenever the
workers find idle time.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator, Sequence
from typing import Any, TypeVar

from ._backends import EmbeddingBackend, ImageReadError, read_image

T = TypeVar("T")
R = TypeVar("R")

_PENDING, _WORKER, _DONE, _CONSUMER = 0, 1, 2, 3  # per-item states: not started, a worker's, loaded, the consumer's


class _Raised:
    """An exception raised by ``load`` in a worker, re-raised in the consumer."""

    def __init__(self, exc: BaseException) -> None:
        self.exc = exc


def _lower_priority(nice: int) -> None:
    """Raise this thread's nice value (Linux: a per-thread attribute); a no-op elsewhere."""
    try:
        tid = threading.get_native_id()
        os.setpriority(os.PRIO_PROCESS, tid, min(19, os.getpriority(os.PRIO_PROCESS, tid) + nice))
    except (AttributeError, OSError):
        pass


def prefetch(items: Sequence[T], load: Callable[[T], R], *, batch_size: int, num_workers: int,
             depth: int | None = None, nice: int = 0, wait_running: bool = False) -> Iterator[list[R]]:
    """``[load(x) for x in batch]`` for consecutive batches of ``items``, loaded ahead.

    ``num_workers`` threads load items in order, at most ``depth`` batches (default 2)
    past the one being consumed; the consumer loads whatever of its batch is not done
    yet itself, so it never waits on a worker. An exception from ``load`` is raised in
    the consumer when its batch is reached. ``nice > 0`` lowers the workers' priority:
    when the model keeps every core busy, they then use idle time only. ``num_workers=0``
    loads everything inline. ``wait_running=True``: the consumer waits for an item a worker
    is already loading instead of loading it again (for a model that needs no CPU of its
    own, e.g. ``imgstats``, where the consumer would otherwise redo running items: ~2x CPU).

    Examples
    --------
    >>> list(prefetch(list(range(5)), lambda x: x * 10, batch_size=2, num_workers=2))
    [[0, 10], [20, 30], [40]]
    """
    n = len(items)
    if batch_size < 1:
        raise ValueError("batch_size must be >= 1")
    if num_workers <= 0 or n == 0:
        for start in range(0, n, batch_size):
            yield [load(x) for x in items[start:start + batch_size]]
        return
    ahead = max(1, depth if depth is not None else 2)
    results: list[Any] = [None] * n
    state = bytearray(n)
    cond = threading.Condition()
    shared = {"next": 0, "limit": min(n, (1 + ahead) * batch_size), "stop": False}

    def worker() -> None:
        if nice > 0:
            _lower_priority(nice)
        while True:
            with cond:
                while not shared["stop"] and shared["next"] < n and shared["next"] >= shared["limit"]:
                    cond.wait()
                if shared["stop"] or shared["next"] >= n:
                    return
                i = shared["next"]
                shared["next"] = i + 1
                if state[i] != _PENDING:
                    continue
                state[i] = _WORKER
            try:
                value: Any = load(items[i])
            except BaseException as exc:  # noqa: BLE001 - handed to the consumer
                value = _Raised(exc)
            with cond:
                if state[i] == _WORKER:  # the consumer has not taken it over
                    results[i], state[i] = value, _DONE
                    if wait_running:
                        cond.notify_all()

    threads = [threading.Thread(target=worker, name=f"cvops-embed-{k}", daemon=True) for k in range(num_workers)]
    for t in threads:
        t.start()
    try:
        for start in range(0, n, batch_size):
            end = min(n, start + batch_size)
            with cond:
                shared["limit"] = min(n, end + ahead * batch_size)
                cond.notify_all()
            out: list[R] = []
            running: list[int] = []
            for i in range(start, end):
                with cond:
                    if wait_running and state[i] == _WORKER:
                        running.append(i)  # collected below, once this batch's other items are loaded
                        out.append(None)  # type: ignore[arg-type]
                        continue
                    ready = state[i] == _DONE
                    value: Any = results[i] if ready else None
                    results[i], state[i] = None, _CONSUMER
                if not ready:
                    value = load(items[i])  # not started, or a worker is still on it: do it here
                if isinstance(value, _Raised):
                    raise value.exc
                out.append(value)
            for i in running:
                with cond:
                    while state[i] == _WORKER:
                        cond.wait()
                    value = results[i]
                    results[i], state[i] = None, _CONSUMER
                if isinstance(value, _Raised):
                    raise value.exc
                out[i - start] = value
            yield out
    finally:
        with cond:
            shared["stop"] = True
            cond.notify_all()
        for t in threads:
            t.join()


Loaded = tuple[str, Any, str | None]
"""``(image_id, preprocessed item or None, failure reason or None)``."""


def load_one(backend: EmbeddingBackend, pair: tuple[str, str]) -> Loaded:
    """Read, verify, decode and preprocess one ``(image_id, path)``; never raises for bad data.

    Examples
    --------
    >>> from jupyter_cvops.embeddings._backends import ImageStatsBackend
    >>> load_one(ImageStatsBackend(), ("x", "/no/such.png"))
    ('x', None, 'file not found')
    """
    image_id, path = pair
    try:
        return image_id, backend.load(read_image(path, image_id, getattr(backend, "decode_min_side", None))), None
    except ImageReadError as exc:
        return image_id, None, str(exc)
    except Exception as exc:  # a preprocessing failure on one image must not stop the run
        return image_id, None, f"preprocessing failed: {type(exc).__name__}: {exc}"


def collate(backend: EmbeddingBackend, chunk: Sequence[tuple[str, str]], loaded: Sequence[Loaded]
            ) -> tuple[list[str], Any, list[tuple[str, str, str]]]:
    """``(ok_ids, batch, failures)`` of loaded items; the batch is None when none loaded.

    Examples
    --------
    >>> from jupyter_cvops.embeddings._backends import ImageStatsBackend
    >>> collate(ImageStatsBackend(), [("x", "/a.png")], [("x", None, "file not found")])
    ([], None, [('x', '/a.png', 'file not found')])
    """
    ids: list[str] = []
    items: list[Any] = []
    failures: list[tuple[str, str, str]] = []
    for (image_id, path), (_, item, reason) in zip(chunk, loaded, strict=True):
        if reason is None:
            ids.append(image_id)
            items.append(item)
        else:
            failures.append((image_id, path, reason))
    return ids, (backend.collate(items) if items else None), failures


def load_batch(backend: EmbeddingBackend, chunk: Sequence[tuple[str, str]]
               ) -> tuple[list[str], Any, list[tuple[str, str, str]]]:
    """Read, decode and preprocess ``(image_id, path)`` pairs inline: ``(ok_ids, batch, failures)``.

    A failure is ``(image_id, path, reason)``; the batch holds the good images only
    (``None`` when there are none).

    Examples
    --------
    >>> from jupyter_cvops.embeddings._backends import ImageStatsBackend
    >>> load_batch(ImageStatsBackend(), [("x", "/no/such.png")])
    ([], None, [('x', '/no/such.png', 'file not found')])
    """
    return collate(backend, chunk, [load_one(backend, p) for p in chunk])


def batches(backend: EmbeddingBackend, pairs: Sequence[tuple[str, str]], *, batch_size: int,
            num_workers: int, nice: int = 0, wait_running: bool = False
            ) -> Iterator[tuple[list[str], Any, list[tuple[str, str, str]]]]:
    """:func:`load_batch` of consecutive chunks of ``pairs``, loaded ahead by :func:`prefetch`.

    Examples
    --------
    >>> from jupyter_cvops.embeddings._backends import ImageStatsBackend
    >>> [b[2] for b in batches(ImageStatsBackend(), [("x", "/no.png")], batch_size=4, num_workers=1)]
    [[('x', '/no.png', 'file not found')]]
    """
    loaded = prefetch(pairs, lambda p: load_one(backend, p), batch_size=batch_size, num_workers=num_workers,
                      nice=nice, wait_running=wait_running)
    for start, got in zip(range(0, len(pairs), batch_size), loaded, strict=False):
        yield collate(backend, pairs[start:start + batch_size], got)
