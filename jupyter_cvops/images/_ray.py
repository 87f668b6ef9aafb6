"""Ray, the optional engine for bulk jobs (``engine="ray"``): import, connect, quiet settings.

Shared by ``ws.embed(..., engine="ray")`` (:mod:`jupyter_cvops.embeddings._ray`). Ray is an optional
dependency (``pip install jupyter-cvops[ray]``); nothing here imports it at module level.

Worker processes are started by Ray's raylet, never forked from the notebook's process, and they
open no LanceDB handle (they only read image files and compute); the driver alone writes, through
the store. The local daemons that ``ray.init()`` launches are forked and immediately exec'ed, so
LanceDB's "fork support is experimental" and Lance's "not fork-safe" warnings do not apply to them
and are silenced for that call only.
"""

from __future__ import annotations

import logging
import os
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import pyarrow as pa

INSTALL_HINT = "pip install jupyter-cvops[ray]"
"""How to get the optional Ray dependency."""

FORWARDED_ENV = ("AWS_", "GOOGLE_", "AZURE_", "HF_HUB_OFFLINE", "CVOPS_")
"""Prefixes of driver environment variables handed to Ray workers (object-store credentials, offline flags)."""


class RayUnavailable(ImportError):
    """``engine="ray"`` was asked for but Ray (``ray[data]``) is not installed."""


def require_ray() -> Any:
    """Import and return ``ray`` (with ``ray.data``), or raise :class:`RayUnavailable` naming the extra.

    Examples
    --------
    >>> ray = require_ray()           # doctest: +SKIP
    """
    try:
        import ray
        import ray.data  # noqa: F401 - the Data library is what the engine uses
    except ImportError as exc:
        raise RayUnavailable(f"engine='ray' needs Ray Data, which is not installed: {INSTALL_HINT} "
                             f"({exc})") from None
    return ray


def connect(address: str | None = None, num_cpus: int | None = None) -> Any:
    """Make sure this process is connected to a Ray cluster; return the ``ray`` module.

    An existing connection (``ray.init`` called before, e.g. by the notebook) is reused. Otherwise
    ``address=None`` starts a local Ray instance (``num_cpus``, default all CPUs; no dashboard, worker
    logs not copied to the notebook); ``"auto"`` joins the cluster this machine belongs to (``ray start``);
    ``"ray://head:10001"`` connects a Ray client to a remote head.

    Examples
    --------
    >>> ray = connect()                          # doctest: +SKIP
    >>> ray = connect("ray://head-node:10001")   # doctest: +SKIP
    """
    ray = require_ray()
    if ray.is_initialized():
        return ray
    kwargs: dict[str, Any] = {"include_dashboard": False, "log_to_driver": False,
                              "logging_level": logging.WARNING, "ignore_reinit_error": True}
    if address is None:
        kwargs["num_cpus"] = num_cpus or max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity")
                                             else (os.cpu_count() or 1))
    with warnings.catch_warnings():  # the daemons exec right after the fork (see the module docstring)
        warnings.filterwarnings("ignore", message=".*fork support is experimental.*", category=RuntimeWarning)
        warnings.filterwarnings("ignore", message="lance is not fork-safe", category=UserWarning)
        ray.init(address=address, **kwargs)
    if address is None:  # a local instance: its workers inherit this environment as it is now
        _STARTED_WITH.clear()
        _STARTED_WITH.update(forwardable_env())
    return ray


_STARTED_WITH: dict[str, str] = {}


def forwardable_env() -> dict[str, str]:
    """This process's environment variables that worker processes need (:data:`FORWARDED_ENV` prefixes).

    Examples
    --------
    >>> all(k.startswith(FORWARDED_ENV) for k in forwardable_env())
    True
    """
    return {k: v for k, v in os.environ.items() if k.startswith(FORWARDED_ENV)}


def worker_env() -> dict[str, str]:
    """Driver environment variables workers need (credentials, endpoints, offline flags).

    For a local Ray instance started by :func:`connect`, only those set or changed since (its
    workers inherited the rest): an empty result lets Ray reuse its pooled worker processes.

    Examples
    --------
    >>> isinstance(worker_env(), dict)
    True
    """
    return {k: v for k, v in forwardable_env().items() if _STARTED_WITH.get(k) != v}


@contextmanager
def quiet_data() -> Iterator[Any]:
    """Ray Data's context with its own progress bars and INFO logs off (the caller shows one bar).

    Examples
    --------
    >>> with quiet_data() as ctx:   # doctest: +SKIP
    ...     ds.materialize()
    """
    import ray.data

    ctx = ray.data.DataContext.get_current()
    saved = (ctx.enable_progress_bars, getattr(ctx, "print_on_execution_start", None))
    loggers = [logging.getLogger(n) for n in ("ray.data", "ray")]
    levels = [lg.level for lg in loggers]
    ctx.enable_progress_bars = False
    if saved[1] is not None:
        ctx.print_on_execution_start = False
    for lg in loggers:  # ERROR: not even Ray Data's notice that its progress bars are off
        lg.setLevel(logging.ERROR)
    try:
        yield ctx
    finally:
        ctx.enable_progress_bars = saved[0]
        if saved[1] is not None:
            ctx.print_on_execution_start = saved[1]
        for lg, level in zip(loggers, levels, strict=True):
            lg.setLevel(level)


# --------------------------------------------------------------------------- registration
def dataset_from_tables(ray: Any, tables: list[pa.Table]) -> Any:
    """A Ray Dataset of the driver's Arrow ``tables``, one block each.

    ``ray.data.from_arrow`` runs a remote task per table to read its metadata, and a job's first task
    waits for a worker process: ~3 s of every job's start-up on a 2-CPU machine (measured). The
    metadata of tables in hand is computed here instead (``from_blocks``, where this Ray has it).

    Examples
    --------
    >>> ds = dataset_from_tables(connect(), [pa.table({"x": [1, 2]})])      # doctest: +SKIP
    >>> ds.count()                                                          # doctest: +SKIP
    2
    """
    from_blocks = getattr(ray.data, "from_blocks", None)
    return from_blocks(tables) if from_blocks is not None else ray.data.from_arrow(tables)


def _scan_batch(batch: dict[str, np.ndarray], *, source: str | None, max_pixels: int | None,
                check: str) -> dict[str, np.ndarray]:
    """Hash and probe one chunk of files on a worker: ``i`` (input position), ``item`` (an
    :class:`~jupyter_cvops.images.scan.ImageInfo` or :class:`~jupyter_cvops.images.scan.FileProblem`), ``hashed``."""
    from .scan import scan_images

    index = [int(i) for i in batch["i"]]
    paths = [str(p) for p in batch["path"]]
    res = scan_images(paths, cache=None, source=source, max_pixels=max_pixels, check=check,  # type: ignore[arg-type]
                      workers=1, progress=False)
    where = {p: i for p, i in zip(paths, index, strict=True)}
    items: list[Any] = [*res.images, *res.problems]
    pos = [where.get(str(x.path), index[-1]) for x in items]
    hashed = [res.n_hashed] + [0] * (len(items) - 1)
    return {"i": np.array(pos, dtype=np.int64), "item": np.array(items + [None], dtype=object)[:-1],
            "hashed": np.array(hashed, dtype=np.int64)}


def scan_on_ray(paths_or_glob: Any, *, source: str | None = None, max_pixels: int | None = None,
                check: str = "header", progress: bool = True, address: str | None = None,
                chunk: int = 256) -> Any:
    """:func:`~jupyter_cvops.images.scan.scan_images` with the reading, hashing and probing in Ray Data tasks.

    The driver lists the files (:func:`~jupyter_cvops.images.scan.expand_paths`); workers scan chunks of
    ``chunk`` files with the same function as in-process registration; the driver puts the results back
    in input order (content repeated across chunks: a duplicate of its first path) for one commit by
    ``register_scan``. No stat cache: for a first registration of a very large folder; re-adding is
    cheaper in-process, where unchanged files are not read. ``s3://`` arguments: use the default engine.

    Examples
    --------
    >>> scan = scan_on_ray("/data/line-1", source="line-1", address="auto")   # doctest: +SKIP
    """
    import pyarrow as pa
    from tqdm.auto import tqdm

    from .scan import ScanResult, collect, expand_paths, scan_images

    items = [paths_or_glob] if isinstance(paths_or_glob, (str, os.PathLike)) else list(paths_or_glob)
    if any(str(p).startswith("s3://") for p in items):
        raise ValueError("engine='ray' registers files, folders and globs; register s3:// images with the "
                         "default engine (parallel GETs, and re-adds read no bodies)")
    files = [str(p) for p in expand_paths(items)]
    if not files:  # nothing to spread: the usual scan names the problem
        return scan_images(items, cache=None, source=source, max_pixels=max_pixels, check=check,  # type: ignore[arg-type]
                           progress=False)
    ray = connect(address)
    table = pa.table({"i": pa.array(range(len(files)), pa.int64()), "path": pa.array(files, pa.string())})
    blocks = [table.slice(k, chunk) for k in range(0, table.num_rows, chunk)]
    got: list[tuple[int, int, Any]] = []
    hashed = 0
    env = worker_env()
    with quiet_data(), tqdm(total=len(files), desc="register (ray)", unit="file", disable=not progress) as bar:
        ds = dataset_from_tables(ray, blocks).map_batches(
            _scan_batch, batch_size=chunk, batch_format="numpy",
            fn_kwargs={"source": source, "max_pixels": max_pixels, "check": check},
            runtime_env={"env_vars": env} if env else None)
        for out in ds.iter_batches(batch_size=None, batch_format="numpy"):
            got += [(int(i), len(got) + k, item) for k, (i, item) in enumerate(zip(out["i"], out["item"], strict=True))]
            hashed += int(np.sum(out["hashed"]))
            bar.update(len({int(i) for i in out["i"]}))
    got.sort(key=lambda t: (t[0], t[1]))
    return collect([item for _, _, item in got], ScanResult(n_hashed=hashed))
