"""``ws.embed(..., engine="ray")``: the same loading and model code, run in Ray Data actors.

The driver (the notebook) decides what to compute exactly as the in-process engine does (only
images without a vector for this model's fingerprint), hands ``(image_id, path)`` blocks to Ray
Data, and receives the vectors as they come; :func:`jupyter_cvops.embeddings.tables.embed` writes them
through the store into new Lance files, ~64 MB at a time (invisible until committed), and makes them
visible in ONE commit at the end (:func:`jupyter_cvops._store.streamed.stream_upsert`). A job that fails
(a worker killed more often than its restarts allow, a model that cannot be loaded on a node) therefore
leaves the table exactly as it was, and the driver never holds all the vectors.

Each actor rebuilds the model itself from the backend's spec (``imgstats``, or open_clip from the
same local checkpoint path, whose hash must match: a node with another file at that path is
refused), never from a pickled torch module; an open_clip architecture registered in the driver
(``open_clip.add_model_config``) is registered in the actors too. Reading, hash check, decoding and
preprocessing are :func:`jupyter_cvops.embeddings._pipeline.load_one` (files, or ``s3://`` objects read
with the workspace's ``storage_options``, which travel with the actor class, and the driver's ``AWS_*``
variables), the model call is the backend's ``forward``: the vectors equal the in-process ones. A custom
:class:`~jupyter_cvops.embeddings.EmbeddingBackend` object is shipped to the actors by pickle.

On a cluster with GPUs, open_clip actors take one GPU each (``num_gpus=1``) and a few CPUs for
loading; on CPUs, one actor per CPU.
"""

from __future__ import annotations

import functools
import os
from contextlib import nullcontext
import socket
import tempfile
import time
import warnings
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa

from . import _backends as eb
from . import _pipeline as pipeline
from ._backends import EmbeddingBackend, EmbeddingError
from ._stat_buffers import opencv_single_threaded
from ..images import _objects
from ..images._ray import connect, dataset_from_tables, quiet_data, worker_env

if TYPE_CHECKING:
    import polars as pl

MAX_RETRIES = 3
"""Default restarts of a killed actor (and retries of its batch) before the job fails."""

LAST_JOB: dict[str, float] = {}
"""Timings of this process's last Ray embedding job (for benchmarks): ``actors``, ``images``, ``seconds``,
``first_batch_s`` (start-up: actors importing the package and building the model, plus one batch),
``steady_images_per_s`` (from the first batch back to the last), ``busy_s`` (the actors' seconds spent
in their batches, summed) and ``per_worker_images_per_s`` (images per busy second of one actor)."""

IMGSTATS_RAY_BATCH = 256
"""Images per Ray batch at least, for ``imgstats`` (~0.5 s of work: Ray's per-batch cost stays small)."""

GPU_ACTOR_CPUS = 4
"""CPUs (loader threads) an open_clip GPU actor takes at most."""


def _builtin(backend: EmbeddingBackend) -> bool:
    return type(backend) in (eb.ImageStatsBackend, eb.OpenClipBackend)


def _clip_config(backend: EmbeddingBackend) -> dict[str, Any] | None:
    """The driver's open_clip config of the backend's architecture (registered ones included)."""
    if not isinstance(backend, eb.OpenClipBackend) or backend.arch.startswith(("hf-hub:", "local-dir:")):
        return None
    import open_clip

    cfg: dict[str, Any] | None = open_clip.get_model_config(backend.arch)
    return cfg


def actor_class(backend: EmbeddingBackend, fp: str, *, device: str, precision: str, threads: int) -> type:
    """The Ray Data callable class that embeds ``{"image_id", "path"}`` batches.

    Its constructor rebuilds ``backend`` in the actor (from its spec for the built-in backends) and
    checks the fingerprint; a call returns ``image_id``, ``vector`` (``n x dim`` float32, zeros for
    failed images), ``reason`` (empty, or why the image could not be embedded) and ``busy_s`` (the
    actor's seconds per image on this batch). The settings
    live in the class itself (not in constructor arguments), so a restarted actor needs nothing
    from the object store.

    Examples
    --------
    >>> cls = actor_class(eb.ImageStatsBackend(), eb.fingerprint(eb.ImageStatsBackend()),
    ...                   device="cpu", precision="auto", threads=0)
    >>> out = cls()({"image_id": np.array(["x"], object), "path": np.array(["/no.png"], object)})
    >>> out["reason"].tolist(), out["vector"].shape
    (['file not found'], (1, 33))
    """
    spec = backend.spec() if _builtin(backend) else None
    shipped = None if _builtin(backend) else backend
    clip_cfg = _clip_config(backend)
    dim = int(backend.dim)
    buckets = {k: dict(v) for k, v in _objects._OPTIONS.items()}  # the workspace's storage_options, for s3:// images

    class EmbedActor:
        def __init__(self) -> None:
            for bucket, options in buckets.items():
                _objects.use_storage_options(options, bucket)
            if shipped is not None:
                self.backend: EmbeddingBackend = shipped
            else:
                assert spec is not None
                if clip_cfg is not None:  # an architecture registered in the driver only
                    _skip_transformers(clip_cfg)
                    _register_clip_config(str(spec["model"]).split(":", 1)[1], clip_cfg)
                self.backend = eb.backend_from_spec(spec["model"], spec.get("pretrained"), device=device,
                                                    precision=precision)[0]
                got = eb.fingerprint(self.backend)
                if got != fp:
                    raise EmbeddingError(
                        f"the model built on Ray worker {socket.gethostname()} differs from the driver's "
                        f"(fingerprint {got} != {fp}): every node needs the same checkpoint file and "
                        "library versions")
            self.imgstats = isinstance(self.backend, eb.ImageStatsBackend)

        def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
            t0 = time.perf_counter()
            ids = [str(x) for x in batch["image_id"]]
            pairs = list(zip(ids, [str(p) for p in batch["path"]], strict=True))
            vectors = np.zeros((len(ids), dim), np.float32)
            reasons = [""] * len(ids)
            if pairs:
                with opencv_single_threaded() if self.imgstats else nullcontext():
                    loaded = next(pipeline.prefetch(pairs, functools.partial(pipeline.load_one, self.backend),
                                                    batch_size=len(pairs), num_workers=threads,
                                                    wait_running=True))
                    ok, x, failures = pipeline.collate(self.backend, pairs, loaded)
                    if ok:
                        vecs = np.asarray(self.backend.forward(x), dtype=np.float32)
                        if vecs.shape != (len(ok), dim):
                            raise EmbeddingError(f"{self.backend.model_id} returned shape {vecs.shape}, "
                                                 f"expected {(len(ok), dim)}")
                        where = {i: k for k, i in enumerate(ids)}
                        vectors[[where[i] for i in ok]] = vecs
                for image_id, _, reason in failures:
                    reasons[ids.index(image_id)] = reason
            busy = np.full(len(ids), (time.perf_counter() - t0) / max(1, len(ids)))  # seconds per image
            return {"image_id": np.array(ids, dtype=object), "vector": vectors,
                    "reason": np.array(reasons, dtype=object), "busy_s": busy}

    EmbedActor.__qualname__ = EmbedActor.__name__ = "EmbedActor"
    return EmbedActor


def _skip_transformers(cfg: dict[str, Any]) -> None:
    """In an actor about to build an open_clip model of ``cfg`` with no Hugging Face tower: make
    ``import transformers`` fail, as if it were not installed, before open_clip is first imported.

    open_clip imports transformers at its own import when it is installed, only for HF towers; that is
    ~1 s of every actor's start-up (it is not a dependency of ours or of open_clip's). The actor's
    process serves this actor alone; nothing is changed where open_clip (or transformers) is loaded already.
    """
    import json
    import sys

    if "open_clip" not in sys.modules and "transformers" not in sys.modules and '"hf_' not in json.dumps(cfg):
        sys.modules["transformers"] = None  # type: ignore[assignment]


def _register_clip_config(arch: str, cfg: dict[str, Any]) -> None:
    """Register ``cfg`` as open_clip architecture ``arch`` in this process (public API: a JSON file)."""
    import json

    import open_clip

    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, f"{arch}.json")
        with open(path, "w") as f:
            json.dump(cfg, f)
        open_clip.add_model_config(path)


def plan(resources: dict[str, float], backend: EmbeddingBackend, *, n_images: int, batch_size: int,
         num_workers: int | None, device: str | None, options: dict[str, Any]) -> dict[str, Any]:
    """Actors, CPUs/GPUs per actor, device and loader threads for a job on a cluster of ``resources``.

    Examples
    --------
    >>> p = plan({"CPU": 2.0}, eb.ImageStatsBackend(), n_images=1000, batch_size=64, num_workers=None,
    ...          device=None, options={})
    >>> p["actors"], p["num_cpus"], p["num_gpus"], p["device"]
    (2, 1, 0, 'cpu')
    """
    cpus = max(1, int(resources.get("CPU", 1)))
    gpus = int(resources.get("GPU", 0))
    cpu_only = isinstance(backend, eb.ImageStatsBackend) or (device is not None and not device.startswith("cuda"))
    if not _builtin(backend):
        cpu_only = cpu_only or str(getattr(backend, "device", "cpu")).startswith("cpu")
    use_gpu = not cpu_only and gpus > 0
    if device is not None and device.startswith("cuda") and gpus == 0:
        raise EmbeddingError("device='cuda' was asked for but the Ray cluster has no GPUs")
    num_gpus = float(options.get("num_gpus", 1 if use_gpu else 0))
    if use_gpu:
        actors = num_workers or max(1, int(gpus / max(num_gpus, 1e-9)))
        num_cpus = int(options.get("num_cpus", max(1, min(GPU_ACTOR_CPUS, cpus // max(1, actors)))))
        threads = num_cpus
    else:
        num_cpus = int(options.get("num_cpus", 1))
        actors = num_workers or max(1, cpus // num_cpus)
        threads = num_cpus - 1  # the actor's own thread loads too
    actors = max(1, min(int(actors), -(-n_images // batch_size)))
    where = (device or "cuda") if use_gpu else "cpu"
    return {"actors": actors, "num_cpus": num_cpus, "num_gpus": num_gpus if use_gpu else 0, "device": where,
            "threads": threads, "max_retries": int(options.get("max_retries", MAX_RETRIES))}


def compute(backend: EmbeddingBackend, fp: str, todo: pl.DataFrame, report: Any, *, batch_size: int,
            num_workers: int | None, device: str | None, precision: str, progress: bool,
            address: str | None = None, options: dict[str, Any] | None = None
            ) -> Iterator[tuple[list[str], np.ndarray]]:
    """Embed ``todo`` (``image_id``, ``path``) on Ray; yield the embedded ids and their vectors as they come.

    Failures are added to ``report.failures`` and ``report.n_computed`` is counted; nothing is
    written here (the caller writes the batches as they come and commits once, at the end). Raises
    :class:`EmbeddingError` when the job fails.

    Examples
    --------
    >>> for ids, vecs in compute(eb.ImageStatsBackend(), fp, todo, report, batch_size=64, num_workers=None,
    ...                          device=None, precision="auto", progress=False):      # doctest: +SKIP
    ...     print(len(ids), vecs.shape)
    """
    from tqdm.auto import tqdm

    if batch_size < 1:
        raise ValueError("batch_size must be >= 1")
    if isinstance(backend, eb.ImageStatsBackend):  # per-image statistics: a batch only sets Ray's overhead
        batch_size = max(batch_size, IMGSTATS_RAY_BATCH)
    ray = connect(address)
    opts = dict(options or {})
    p = plan(ray.cluster_resources(), backend, n_images=todo.height, batch_size=batch_size,
             num_workers=num_workers, device=device, options=opts)
    report.device = f"ray: {p['actors']} x {p['device']}"
    cls = actor_class(backend, fp, device=p["device"], precision=precision, threads=p["threads"])
    ids_all = todo["image_id"].to_list()
    table = pa.table({"image_id": pa.array(ids_all, pa.string()),
                      "path": pa.array(todo["path"].to_list(), pa.string())})
    rows_per_block = batch_size if batch_size >= IMGSTATS_RAY_BATCH else \
        batch_size * max(1, min(8, todo.height // (batch_size * p["actors"] * 4) or 1))  # small model batches
    blocks = [table.slice(i, rows_per_block) for i in range(0, table.num_rows, rows_per_block)]
    env = worker_env()
    paths: dict[str, str] = {}
    bar = tqdm(total=todo.height, desc=f"embed {backend.model_id}", unit="img", disable=not progress)
    try:
        with quiet_data(), warnings.catch_warnings():
            # Ray 2.60 has no named parameter for actor restarts; max_restarts goes through the
            # (deprecated) remote args until it does. Ray Data's own default is -1 (restart forever):
            # an image that kills its worker every time would never end the job. Ray 2.64 removes
            # **ray_remote_args, so the extras stop below it (pyproject.toml) until a named option exists
            warnings.simplefilter("ignore", DeprecationWarning)
            ds = dataset_from_tables(ray, blocks).map_batches(
                cls, batch_size=batch_size, batch_format="numpy",
                compute=ray.data.ActorPoolStrategy(size=p["actors"]),
                num_cpus=p["num_cpus"], num_gpus=p["num_gpus"] or None,
                runtime_env={"env_vars": env} if env else None,
                max_restarts=p["max_retries"], max_task_retries=p["max_retries"])
            t0 = time.perf_counter()
            t_first, n_first, busy = 0.0, 0, 0.0
            for out in ds.iter_batches(batch_size=None, batch_format="numpy"):
                if not t_first:
                    t_first, n_first = time.perf_counter(), len(out["image_id"])
                ids = [str(i) for i in out["image_id"]]
                reasons = [str(r) for r in out["reason"]]
                keep = np.array([not r for r in reasons], dtype=bool)
                if not keep.all():
                    paths = paths or dict(zip(ids_all, todo["path"].to_list(), strict=True))
                    report.failures += [(i, paths.get(i, ""), r) for i, r in zip(ids, reasons, strict=True) if r]
                report.n_computed += int(keep.sum())
                busy += float(np.sum(out["busy_s"]))
                bar.update(len(ids))
                if keep.any():
                    yield ([i for i, k in zip(ids, keep, strict=True) if k],
                           np.asarray(out["vector"], dtype=np.float32).reshape(len(ids), backend.dim)[keep])
            t_end = time.perf_counter()
            LAST_JOB.clear()
            LAST_JOB.update({"actors": p["actors"], "images": todo.height, "seconds": t_end - t0,
                             "first_batch_s": t_first - t0, "busy_s": busy,
                             "per_worker_images_per_s": todo.height / max(busy, 1e-9),
                             "steady_images_per_s": (todo.height - n_first) / max(t_end - t_first, 1e-9)})
    except (KeyboardInterrupt, EmbeddingError):
        raise
    except Exception as exc:  # Ray wraps worker errors in its own types
        cause = _first_line(exc)
        raise EmbeddingError(f"the Ray job embedding {backend.model_id} failed; nothing was written: {cause}") \
            from exc
    finally:
        bar.close()


def _first_line(exc: BaseException) -> str:
    """A one-line reason from a (possibly nested) Ray exception."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, EmbeddingError):
            return str(seen).splitlines()[0]
        seen = seen.__cause__
    lines = [ln.strip() for ln in str(exc).splitlines() if ln.strip()]
    for ln in lines:
        if "Error" in ln or "died" in ln or "killed" in ln:
            return ln[:300]
    return (lines[0] if lines else type(exc).__name__)[:300]

