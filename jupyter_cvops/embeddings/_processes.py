"""Worker processes for the in-process ``imgstats`` engine (``ws.embed("imgstats")``, ``engine="local"``).

Why processes and not threads: the statistics are ~40 short OpenCV and numpy calls per image, each of
which releases and retakes the GIL. Two loader threads of one process then hand the GIL back and forth
~15 times per image (futex calls, cache lines bouncing between cores), which cost 25-40% more CPU per
image than the same work in two processes, and 1.5x the wall time (measured on 2 CPUs: 2.6-3.0 ms
against 2.05-2.2 ms of CPU per image).

The workers fork from :mod:`multiprocessing`'s fork server ("spawn" where there is none), which is
started once per session with this module preloaded: nothing of the notebook's state (LanceDB's
threads, torch) is ever forked, and a new pool starts in milliseconds. Each worker reads, verifies,
decodes and measures images exactly as a loader thread would (:func:`._pipeline.load_one`, OpenCV
single-threaded) and sends back 33 floats per image: the vectors are bit-identical to the threads'.
The workspace's ``storage_options`` and the caller's ``AWS_*`` (and other credential) variables, as
they are at the call, travel to the workers for ``s3://`` images. Unlike other
multiprocessing code, it needs no ``if __name__ == "__main__":`` guard in the user's script: the workers
do not re-run ``__main__`` (:func:`_without_main`).

Small jobs (fewer than :data:`MIN_IMAGES`) stay on threads: a pool is not worth starting for them.
A worker that dies (killed, out of memory) ends the run with :class:`EmbeddingError`; the vectors of
the batches finished before it are kept (every stored row is whole) and a rerun computes the rest.

Examples
--------
>>> from jupyter_cvops.embeddings._backends import ImageStatsBackend
>>> wanted(ImageStatsBackend(), n_images=10, workers=2)      # too few images for a pool
False
"""

from __future__ import annotations

import multiprocessing as mp
import multiprocessing.spawn as mp_spawn
import os
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any

from . import _backends as eb
from . import _pipeline as pipeline
from ._backends import EmbeddingBackend, EmbeddingError
from ..images import _objects
from ..images._ray import forwardable_env

MIN_IMAGES = 256
"""Jobs with fewer images run on loader threads (a pool costs ~50-100 ms to start)."""

CHUNK = 16
"""Images per task sent to a worker (~30 ms of work: the messages cost well under 1%)."""

_IN_FLIGHT = 4
"""Tasks queued per worker ahead of the batch being consumed."""

_CPU_LOCK = threading.Lock()
_CPU_DONE = [0.0]

_WORKER: dict[str, EmbeddingBackend] = {}  # in a worker: its backend, built once by _init


def wanted(backend: EmbeddingBackend, *, n_images: int, workers: int) -> bool:
    """Whether :func:`batches` (processes) should run this job rather than loader threads.

    Only the built-in ``imgstats`` backend, at least :data:`MIN_IMAGES` images and 2 workers.

    Examples
    --------
    >>> from jupyter_cvops.embeddings._backends import ImageStatsBackend
    >>> wanted(ImageStatsBackend(), n_images=10_000, workers=2), wanted(ImageStatsBackend(), n_images=10_000, workers=1)
    (True, False)
    """
    return type(backend) is eb.ImageStatsBackend and n_images >= MIN_IMAGES and workers >= 2


def worker_cpu_seconds() -> float:
    """CPU seconds used by the worker processes of every finished :func:`batches` run in this process.

    The workers fork from the fork server, not from this process, so ``RUSAGE_CHILDREN`` does not
    see them: each reports its own CPU time with every task (benchmarks add this to their own).

    Examples
    --------
    >>> worker_cpu_seconds() >= 0.0
    True
    """
    with _CPU_LOCK:
        return _CPU_DONE[0]


def _without_main(get: Callable[[str], dict[str, Any]]) -> Callable[[str], dict[str, Any]]:
    """``multiprocessing.spawn.get_preparation_data`` that leaves out the main module for our workers.

    A new process of the fork server or spawn method re-runs the parent's ``__main__`` script first
    (so that functions defined there unpickle): a script without an ``if __name__ == "__main__":``
    guard would run again in every worker, and call ``embed`` from there. Our workers need nothing
    from ``__main__`` (their code is this module), so processes started by this thread while
    :data:`_STARTING` is set skip that step; every other process is prepared as usual.
    """
    def prepare(name: str) -> dict[str, Any]:
        data = get(name)
        if getattr(_STARTING, "ours", False):
            data.pop("init_main_from_path", None)
            data.pop("init_main_from_name", None)
        return data

    prepare.__wrapped__ = get  # type: ignore[attr-defined]
    return prepare


_STARTING = threading.local()
if not hasattr(mp_spawn.get_preparation_data, "__wrapped__"):
    mp_spawn.get_preparation_data = _without_main(mp_spawn.get_preparation_data)  # type: ignore[assignment]


def _context() -> Any:
    """The fork server context (preloading this module), or spawn where there is no fork server."""
    if "forkserver" in mp.get_all_start_methods():
        ctx = mp.get_context("forkserver")
        ctx.set_forkserver_preload([__name__])  # no effect once the server runs: it already has it
        return ctx
    return mp.get_context("spawn")


def _init(spec: dict[str, Any], buckets: dict[str | None, dict[str, str]], env: dict[str, str]) -> None:
    """Worker start: the caller's credential variables as they are now (the fork server kept those of
    its own start), OpenCV single-threaded (the pool spreads images over the cores), storage options,
    the backend rebuilt from its spec."""
    import cv2

    for k in forwardable_env().keys() - env.keys():
        del os.environ[k]
    os.environ.update(env)
    cv2.setNumThreads(1)
    for bucket, options in buckets.items():
        _objects.use_storage_options(options, bucket)
    _WORKER["backend"] = eb.backend_from_spec(spec["model"], spec.get("pretrained"), device="cpu")[0]


def _load_chunk(pairs: Sequence[tuple[str, str]]) -> tuple[list[pipeline.Loaded], int, float]:
    """In a worker: :func:`._pipeline.load_one` of each pair, with this process's id and CPU seconds so far."""
    backend = _WORKER["backend"]
    return [pipeline.load_one(backend, p) for p in pairs], os.getpid(), time.process_time()


def batches(backend: EmbeddingBackend, pairs: Sequence[tuple[str, str]], *, batch_size: int, workers: int
            ) -> Iterator[tuple[list[str], Any, list[tuple[str, str, str]]]]:
    """:func:`._pipeline.batches` computed by ``workers`` processes: ``(ok_ids, batch, failures)`` per
    consecutive chunk of ``batch_size`` pairs, in order.

    Examples
    --------
    >>> from jupyter_cvops.embeddings._backends import ImageStatsBackend
    >>> [b[2] for b in batches(ImageStatsBackend(), [("x", "/no.png")], batch_size=4, workers=2)]
    [[('x', '/no.png', 'file not found')]]
    """
    if batch_size < 1:
        raise ValueError("batch_size must be >= 1")
    n = len(pairs)
    step = max(1, min(CHUNK, batch_size))
    tasks = [(start, min(start + step, end)) for b0 in range(0, n, batch_size)
             for end in [min(n, b0 + batch_size)] for start in range(b0, end, step)]
    spec = backend.spec()
    buckets = {k: dict(v) for k, v in _objects._OPTIONS.items()}
    env = forwardable_env()
    cpu: dict[int, float] = {}
    pool = ProcessPoolExecutor(workers, mp_context=_context(), initializer=_init, initargs=(spec, buckets, env))
    queued: deque[tuple[int, int, Future[tuple[list[pipeline.Loaded], int, float]]]] = deque()
    todo = iter(tasks)
    try:
        for b0 in range(0, n, batch_size):
            end = min(n, b0 + batch_size)
            loaded: list[pipeline.Loaded] = []
            while len(loaded) < end - b0:
                while len(queued) < _IN_FLIGHT * workers and (task := next(todo, None)) is not None:
                    _STARTING.ours = True  # submit starts the workers: none re-runs __main__
                    try:
                        queued.append((*task, pool.submit(_load_chunk, pairs[task[0]:task[1]])))
                    finally:
                        _STARTING.ours = False
                start, stop, fut = queued.popleft()
                assert start == b0 + len(loaded) and stop <= end
                got, pid, seconds = fut.result()
                cpu[pid] = max(cpu.get(pid, 0.0), seconds)
                loaded += got
            yield pipeline.collate(backend, pairs[b0:end], loaded)
    except BrokenProcessPool as exc:  # from result(), or from submit() once the pool knows it is broken
        raise EmbeddingError(
            f"an imgstats worker process died (killed, out of memory, or it could not start: {exc}); "
            "the vectors of the batches finished before it are kept: run embed again to compute "
            "the rest") from exc
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
        with _CPU_LOCK:
            _CPU_DONE[0] += sum(cpu.values())
