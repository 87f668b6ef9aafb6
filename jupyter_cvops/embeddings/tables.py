"""Image embeddings in LanceDB: compute incrementally, find nearest neighbours.

One table per embedding model, ``emb_<model slug>``, keyed by image id (the content
hash), with a fixed-size float32 ``vector`` column, the ``fingerprint`` of the
decoding/preprocessing/weights that produced each row, and ``computed_at``:

==============================================  ==========================================
model                                           table
==============================================  ==========================================
``"imgstats"``                                  ``emb_imgstats_v1``
``"open_clip:ViT-B-32"``, tag ``laion2b_s34b_b79k``  ``emb_openclip_vit_b_32_laion2b_s34b_b79k``
``"open_clip:ViT-B-32"``, a checkpoint file     ``emb_openclip_vit_b_32_<xxh3 of file, 8 hex>``
==============================================  ==========================================

The model id, rebuild spec, dimension, metric, preprocessing description and
fingerprint are recorded in the workspace ``meta`` table under ``embedding:<table>``
(:func:`list_embeddings` shows them). Once a table holds ``index_threshold`` rows
(default :data:`INDEX_THRESHOLD`) an ANN index is built on ``vector`` (IVF-PQ; IVF-flat
for short vectors such as ``imgstats``) and kept up to date; smaller tables are searched
exactly.

Examples
--------
>>> rep = ws.embed(model="imgstats")                     # doctest: +SKIP
>>> ws.neighbors(ws.images()["image_id"][0], k=5)          # doctest: +SKIP
"""

from __future__ import annotations

import json
import sys
import time
from contextlib import nullcontext
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import polars as pl
import pyarrow as pa

from . import _backends as eb
from . import _index as ix
from . import _pipeline as pipeline
from . import _processes as processes
from ._backends import EmbeddingBackend, EmbeddingError
from ._image_stats import feature_names
from ._records import Images, _resolve, _targets, table_name
from ._stat_buffers import opencv_single_threaded
from .search import Vectors, load_vectors, neighbors
from .._store import now_utc

if TYPE_CHECKING:
    from ..workspace import Workspace

__all__ = ["INDEX_THRESHOLD", "EmbedReport", "EmbeddingBackend", "EmbeddingError", "Vectors", "build_index",
           "embed", "feature_names", "list_embeddings", "load_vectors", "neighbors", "table_name"]

INDEX_THRESHOLD = 100_000
"""Rows from which an embedding table gets an ANN index (below it, search is exact)."""

COMMIT_EVERY = 8192
"""Vectors per commit while embedding: an interrupted run keeps what it committed."""


@dataclass
class EmbedReport:
    """What :func:`embed` did.

    Attributes
    ----------
    model, table : str
        Model id and the LanceDB table holding its vectors.
    dim : int
        Vector length.
    device : str
        Where the model ran.
    n_requested, n_computed, n_skipped : int
        Images asked for; embedded now; already embedded (same fingerprint) and skipped.
    failures : list of (image_id, path, reason)
        Images that could not be embedded (missing, corrupt, changed, unknown id).
    seconds : float
        Wall time of the run.
    index : str or None
        What happened to the ANN index (``"created ..."``, ``"updated"``) or None.
    notice : str or None
        A one-line note, e.g. that ``imgstats`` was used because no weights are configured.
    """

    model: str
    table: str
    dim: int
    device: str
    n_requested: int = 0
    n_computed: int = 0
    n_skipped: int = 0
    failures: list[tuple[str, str, str]] = field(default_factory=list)
    seconds: float = 0.0
    index: str | None = None
    notice: str | None = None

    @property
    def ok(self) -> bool:
        """True when every requested image has an embedding."""
        return not self.failures

    @property
    def images_per_second(self) -> float:
        """Throughput of the images computed in this run."""
        return self.n_computed / self.seconds if self.seconds > 0 else 0.0

    def failures_frame(self) -> pl.DataFrame:
        """Failures as a frame (image_id, path, reason)."""
        return pl.DataFrame(self.failures, schema={"image_id": pl.String, "path": pl.String,
                                                   "reason": pl.String}, orient="row")

    def to_dict(self) -> dict[str, Any]:
        """Counts and failures as plain JSON."""
        return {"model": self.model, "table": self.table, "dim": self.dim, "device": self.device,
                "requested": self.n_requested, "computed": self.n_computed, "skipped": self.n_skipped,
                "failures": [{"image_id": i, "path": p, "reason": r} for i, p, r in self.failures],
                "seconds": round(self.seconds, 3), "index": self.index}

    def __repr__(self) -> str:
        s = (f"<EmbedReport {self.model} -> {self.table}: computed={self.n_computed} skipped={self.n_skipped} "
             f"failed={len(self.failures)} ({self.images_per_second:.1f} images/s on {self.device})>")
        for image_id, path, reason in self.failures[:10]:
            s += f"\n  {path or image_id}: {reason}"
        if len(self.failures) > 10:
            s += f"\n  ... and {len(self.failures) - 10} more (see .failures_frame())"
        return s


# --------------------------------------------------------------------------- naming / records
def _schema(backend: EmbeddingBackend) -> pa.Schema:
    info = json.dumps({"model": backend.model_id, "dim": backend.dim, "metric": backend.metric})
    return pa.schema([
        pa.field("image_id", pa.string(), nullable=False),
        pa.field("vector", pa.list_(pa.float32(), backend.dim)),
        pa.field("fingerprint", pa.string()),
        pa.field("computed_at", pa.timestamp("us", tz="UTC")),
    ], metadata={"cvops.embedding": info})


def _record_for(backend: EmbeddingBackend, table: str, fp: str) -> dict[str, Any]:
    rec: dict[str, Any] = {"table": table, "model": backend.model_id, "spec": backend.spec(), "dim": backend.dim,
                           "metric": backend.metric, "fingerprint": fp, "preprocessing": backend.describe()}
    if isinstance(backend, eb.ImageStatsBackend):
        rec["feature_names"] = backend.feature_names()
    return rec


def list_embeddings(ws: Workspace) -> pl.DataFrame:
    """Embedding tables of a workspace: table, model, dim, metric, rows, indexed, index
    parameters (type, partitions, tuned ``nprobes`` and the recall@10 it reached), updated_at.

    Examples
    --------
    >>> list_embeddings(ws).select("table", "rows")          # doctest: +SKIP
    """
    rows = []
    for name, rec in sorted(ix.records(ws).items()):
        tbl = ws.store.table(name)
        indexed = ix.vector_index(tbl) is not None
        idx = (rec.get("index") or {}) if indexed else {}
        rows.append({"table": name, "model": rec["model"], "dim": rec["dim"], "metric": rec["metric"],
                     "rows": tbl.count_rows(), "indexed": indexed, "index_type": idx.get("type"),
                     "partitions": idx.get("num_partitions"), "nprobes": idx.get("nprobes"),
                     "tuned_recall": idx.get("tuned_recall"), "updated_at": rec.get("updated_at")})
    schema = {"table": pl.String, "model": pl.String, "dim": pl.Int64, "metric": pl.String, "rows": pl.Int64,
              "indexed": pl.Boolean, "index_type": pl.String, "partitions": pl.Int64, "nprobes": pl.Int64,
              "tuned_recall": pl.Float64, "updated_at": pl.String}
    return pl.DataFrame(rows, schema=schema)


# --------------------------------------------------------------------------- embedding
def embed(
    ws: Workspace,
    model: str | EmbeddingBackend | None = None,
    images: Images = None,
    batch_size: int = 64,
    device: str | None = None,
    num_workers: int | None = None,
    progress: bool = True,
    *,
    pretrained: str | None = None,
    precision: Literal["auto", "fp32", "bf16", "fp16"] = "auto",
    index_threshold: int = INDEX_THRESHOLD,
    engine: Literal["local", "ray"] = "local",
    ray_address: str | None = None,
    ray_options: dict[str, Any] | None = None,
) -> EmbedReport:
    """Compute image embeddings into the workspace, incrementally (``ws.embed``).

    Only images without a vector for this model (same weights and preprocessing) are
    computed, so a re-run computes nothing. Files are read by worker threads that decode
    and preprocess the next batches while the model runs on the current one; vectors are
    committed every :data:`COMMIT_EVERY` images, so an interrupted run keeps its work.
    Missing, corrupt or changed files get one reason each in the report; the rest proceed.

    Parameters
    ----------
    ws
        The workspace.
    model
        ``"imgstats"``: 33 named image statistics (brightness, contrast, sharpness,
        colorfulness, saturation, noise, edge density, edge orientation, HSV histograms;
        see :func:`feature_names`), no weights needed.
        ``"open_clip:<arch>"`` (e.g. ``"open_clip:ViT-B-32"``) with ``pretrained``.
        None (default): open_clip when ``$CVOPS_CLIP_WEIGHTS`` (a checkpoint path or tag,
        architecture from ``$CVOPS_CLIP_MODEL``, default ViT-B-32) is set, else
        ``imgstats`` with a one-line notice. A custom :class:`EmbeddingBackend` also works.
    images
        Which images: None (all registered), image ids, a frame with ``image_id``, a
        polars expression over ``ws.images()`` columns, or a dataset version.
    batch_size
        Images per forward pass.
    device
        ``"cuda"``, ``"cpu"``, ...; default: CUDA when available, else CPU.
    num_workers
        Loader threads (decode + preprocess), ``0`` to load inline. Default: one per CPU but one for
        ``imgstats`` (the calling thread loads too; from 256 images on, ``imgstats`` runs in
        ``num_workers + 1`` worker processes instead, whose statistics do not contend for the GIL:
        ~1.5x the images per second of threads); up to 8 on a GPU; half the CPUs at the lowest scheduling priority
        when the model runs on the CPU (it keeps every core busy already, so loading
        fills idle time instead of preempting the model's threads).
    progress
        Show a progress bar (and the default-model notice).
    pretrained
        open_clip weights: a local checkpoint file, or a pretrained tag such as
        ``"laion2b_s34b_b79k"`` (only then may open_clip try a download). Without
        weights an open_clip model is refused with a message naming ``model="imgstats"``.
    precision
        GPU autocast: ``"auto"`` (bf16 where supported, else fp16), ``"bf16"``,
        ``"fp16"`` or ``"fp32"``. The CPU always computes in fp32.
    index_threshold
        Build or refresh the ANN index once the table holds this many rows.
    engine
        ``"local"`` (this process) or ``"ray"``: the same loading and model code in Ray Data actors
        (``num_workers`` actors; one GPU each for open_clip when the cluster has GPUs); the vectors are
        written as they come (new Lance files, invisible until committed) and committed once at the end,
        so a failed job changes nothing and the driver holds ~64 MB of them at a time
        (``pip install jupyter-cvops[ray]``).
    ray_address
        With ``engine="ray"``: None (an existing ``ray.init`` connection, else a local Ray), ``"auto"``
        or ``"ray://head:10001"``.
    ray_options
        With ``engine="ray"``: ``max_retries`` (restarts of a killed actor, default 3), ``num_cpus`` /
        ``num_gpus`` per actor.

    Returns
    -------
    EmbedReport

    Examples
    --------
    >>> rep = ws.embed(model="imgstats")                                   # doctest: +SKIP
    >>> rep.n_computed, rep.failures_frame()                               # doctest: +SKIP
    >>> ws.embed(model="open_clip:ViT-B-32", pretrained="/models/vit_b_32.pt")  # doctest: +SKIP
    >>> ws.embed(model="imgstats", engine="ray", ray_address="auto")      # doctest: +SKIP
    """
    t0 = time.perf_counter()
    if engine not in ("local", "ray"):
        raise ValueError(f"engine must be 'local' or 'ray', got {engine!r}")
    backend, notice = eb.backend_from_spec(model, pretrained, device=device, precision=precision)
    if notice and progress:
        print(f"jupyter-cvops: {notice}", file=sys.stderr)
    table = "emb_" + backend.table_slug
    fp = eb.fingerprint(backend)
    store = ws.store
    if store.readonly and not store.has_table(table):
        raise EmbeddingError(f"no {backend.model_id} embeddings in this read-only workspace: run "
                             f"ws.embed({model!r}) on a writable one (Workspace.open(path)) first")
    tbl = store.table(table) if store.readonly else store.ensure_table(table, _schema(backend))
    report = EmbedReport(model=backend.model_id, table=table, dim=backend.dim, device=backend.device,
                         notice=notice)
    targets, unknown = _targets(ws, images)
    report.failures += [(i, "", "not a registered image") for i in unknown]
    report.n_requested = targets.height + len(unknown)
    done = pl.from_arrow(tbl.search().select(["image_id"]).where(f"fingerprint = '{fp}'").to_arrow()) \
        if tbl.count_rows() else pl.DataFrame(schema={"image_id": pl.String})
    todo = targets.join(done, on="image_id", how="anti", maintain_order="left")  # type: ignore[arg-type]
    report.n_skipped = targets.height - todo.height
    if store.readonly:  # nothing is computed or written: what is stored must do
        if todo.height:
            raise EmbeddingError(f"{todo.height} of {targets.height} images have no {backend.model_id} embedding "
                                 f"yet and this workspace is open read-only: run ws.embed({model!r}) on a "
                                 "writable one (Workspace.open(path)) first")
        report.seconds = time.perf_counter() - t0
        return report
    record = _record_for(backend, table, fp)
    old = ix.records(ws).get(table)
    if todo.height or old is None or {k: old.get(k) for k in record} != record:
        ix.put_record(ws, record | {"updated_at": now_utc().isoformat(), "index": (old or {}).get("index")})
    if todo.height and engine == "ray":  # computed on Ray, written as it comes, committed once: a failed job
        from ._ray import compute as compute_on_ray  # leaves the table as it was

        got = compute_on_ray(backend, fp, todo, report, batch_size=batch_size, num_workers=num_workers,
                             device=device, precision=precision, progress=progress, address=ray_address,
                             options=ray_options)
        store.stream_upsert(table, "image_id", (_rows(ids, vecs, fp, backend.dim) for ids, vecs in got))
    elif todo.height:  # imgstats workers spread images over the cores: OpenCV's own threads would only spin
        with opencv_single_threaded() if isinstance(backend, eb.ImageStatsBackend) else nullcontext():
            _compute(ws, backend, table, fp, todo, report, batch_size=batch_size, num_workers=num_workers,
                     progress=progress)
    report.index = ix.maintain_index(ws, table, index_threshold)
    report.seconds = time.perf_counter() - t0
    if report.n_computed or report.failures:
        store.event("embeddings.compute", report.to_dict() | {"failures": len(report.failures)})
    return report


def _default_workers(backend: EmbeddingBackend) -> int:
    n = eb.cpu_count()
    if isinstance(backend, eb.ImageStatsBackend):
        return max(1, n - 1)  # the calling thread loads too: one loader per CPU
    if backend.device.startswith("cpu"):
        return max(1, n // 2)
    return min(8, n)


def _compute(ws: Workspace, backend: EmbeddingBackend, table: str, fp: str, todo: pl.DataFrame,
             report: EmbedReport, *, batch_size: int, num_workers: int | None, progress: bool) -> None:
    from tqdm.auto import tqdm

    if batch_size < 1:
        raise ValueError("batch_size must be >= 1")
    workers = _default_workers(backend) if num_workers is None else int(num_workers)
    pairs = list(zip(todo["image_id"].to_list(), todo["path"].to_list(), strict=True))
    ids_buf: list[str] = []
    vec_buf: list[np.ndarray] = []
    writer = ThreadPoolExecutor(1, thread_name_prefix="cvops-embed-write")
    pending: Future[int] | None = None

    def flush() -> None:
        nonlocal pending, ids_buf, vec_buf
        if pending is not None:
            pending.result()
            pending = None
        if ids_buf:
            data = _rows(ids_buf, np.concatenate(vec_buf), fp, backend.dim)
            pending = writer.submit(ws.store.upsert, table, "image_id", data)
            ids_buf, vec_buf = [], []

    bar = tqdm(total=len(pairs), desc=f"embed {backend.model_id}", unit="img", disable=not progress)
    try:
        cpu_model = backend.device.startswith("cpu") and not isinstance(backend, eb.ImageStatsBackend)
        procs = workers + 1  # the calling thread's share goes to a process too
        if processes.wanted(backend, n_images=len(pairs), workers=procs):  # imgstats only
            loaded = processes.batches(backend, pairs, batch_size=batch_size, workers=procs)
        else:
            loaded = pipeline.batches(backend, pairs, batch_size=batch_size, num_workers=workers,
                                      nice=19 if cpu_model else 0,
                                      wait_running=isinstance(backend, eb.ImageStatsBackend))
        for ids, batch, failures in loaded:
            report.failures += failures
            if ids:
                vecs = np.asarray(backend.forward(batch), dtype=np.float32)
                if vecs.shape != (len(ids), backend.dim):
                    raise EmbeddingError(f"{backend.model_id} returned shape {vecs.shape}, "
                                         f"expected {(len(ids), backend.dim)}")
                ids_buf += ids
                vec_buf.append(vecs)
                report.n_computed += len(ids)
            bar.update(len(ids) + len(failures))
            if len(ids_buf) >= COMMIT_EVERY:
                flush()
    finally:
        bar.close()
        try:
            flush()  # also on interrupt: keep the vectors computed so far
            if pending is not None:
                pending.result()
        finally:
            writer.shutdown(wait=True)


def _rows(ids: list[str], vectors: np.ndarray, fp: str, dim: int) -> pa.Table:
    flat = pa.array(np.ascontiguousarray(vectors, dtype=np.float32).ravel(), type=pa.float32())
    n = len(ids)
    return pa.table({
        "image_id": pa.array(ids, pa.string()),
        "vector": pa.FixedSizeListArray.from_arrays(flat, dim),
        "fingerprint": pa.array([fp] * n, pa.string()),
        "computed_at": pa.array([now_utc()] * n, pa.timestamp("us", tz="UTC")),
    })


# --------------------------------------------------------------------------- ANN index
def build_index(ws: Workspace, model: str | EmbeddingBackend | None = None, *,
                pretrained: str | None = None) -> dict[str, Any]:
    """(Re)build the ANN index of an embedding table now, whatever its size.

    :func:`embed` does this by itself past ``index_threshold`` rows; call it to index a
    smaller table or after choosing other parameters. Returns the index parameters.

    Examples
    --------
    >>> build_index(ws, "imgstats")         # doctest: +SKIP
    {'type': 'IVF_FLAT', 'num_partitions': 317, 'rows_at_build': 100480, ...}
    """
    rec = _resolve(ws, model, pretrained)
    return ix.create_index(ws, rec)
