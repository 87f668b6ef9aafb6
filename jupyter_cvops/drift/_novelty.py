"""Per-image novelty through LanceDB: kNN distances of current images to a reference set,
calibrated by the reference's own leave-one-out kNN distances (conformal p-values).

The reference vectors (z-scored against the reference for image statistics, as stored
for cosine models) are written once to a LanceDB table named after their content
(embedding table, preprocessing fingerprint, reference ids), so drift runs, novel
regions and the drift explorer over the same reference share it. Past
:data:`INDEX_FROM` rows it gets an IVF-FLAT index with ``nprobes`` tuned for recall 0.99,
so scoring stays fast as the reference grows; below, LanceDB searches exhaustively. At most :data:`CALIBRATION_MAX` reference rows (seeded) are scored
leave-one-out: a random subset of exchangeable scores keeps the p-values valid.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa
import xxhash

from ..embeddings import _index as ix
from ._conformal import conformal_p_values
from .._store import now_utc

if TYPE_CHECKING:
    from ..workspace import Workspace

PREFIX = "knnref_"
CALIBRATION_MAX = 2000
KEEP = 4  # reference tables kept per workspace; older ones are dropped ...
MIN_AGE = timedelta(hours=1)  # ... but never one created within the hour (another kernel may be using it)
META_PREFIX = "knnref:"
TARGET_RECALL = 0.99
REFINE_FACTOR = 40  # PQ candidates re-ranked per neighbour (indices of older releases)
INDEX_FROM = 2000
"""Reference rows from which the reference table is indexed (IVF-FLAT). LanceDB answers a
batch of queries one by one, so exhaustive search of every current image gets slow early:
50k x 33 references, 5k queries: 17.9 s without an index, 1.3 s with it (0.5 s cached)."""


@dataclass(frozen=True)
class Novelty:
    """kNN novelty of current images against a reference.

    Attributes
    ----------
    calibration : numpy.ndarray
        Leave-one-out k-th neighbour distances of (up to :data:`CALIBRATION_MAX`)
        reference rows.
    distances : numpy.ndarray
        k-th neighbour distance of every current row to the reference.
    p_values : numpy.ndarray
        Conformal p-values of the current rows (small: unlike the reference).
    table : str
        The LanceDB table holding the reference vectors.
    """

    calibration: np.ndarray
    distances: np.ndarray
    p_values: np.ndarray
    table: str


def scaled_for_search(metric: str, ref: np.ndarray, cur: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Vectors as searched: z-scored by the reference for l2 (named statistics live on very
    different scales), unchanged for cosine.

    Examples
    --------
    >>> r, c = scaled_for_search("l2", np.array([[0.0, 10.0], [2.0, 30.0]]), np.array([[1.0, 20.0]]))
    >>> c.round(3).tolist()
    [[0.0, 0.0]]
    """
    if metric == "cosine":
        return ref.astype(np.float32), cur.astype(np.float32)
    mu, sd = ref.mean(axis=0), ref.std(axis=0) + 1e-12
    return ((ref - mu) / sd).astype(np.float32), ((cur - mu) / sd).astype(np.float32)


def reference_table(ws: Workspace, key: dict[str, Any], vectors: np.ndarray, metric: str,
                    index_threshold: int) -> tuple[str, dict[str, Any] | None]:
    """The LanceDB table of these reference ``vectors`` (created on first use, indexed past
    ``index_threshold`` rows) and its index parameters.

    Examples
    --------
    >>> reference_table(ws, {"ids": ids}, vecs, "l2", 100_000)   # doctest: +SKIP
    ('knnref_3f2a...', None)
    """
    digest = xxhash.xxh3_64_hexdigest(json.dumps(key, sort_keys=True).encode())
    name = PREFIX + digest
    store = ws.store
    n, dim = vectors.shape
    schema = pa.schema([pa.field("row", pa.int32()), pa.field("vector", pa.list_(pa.float32(), dim))])
    meta_key = META_PREFIX + name
    with store.lock:
        if store.has_table(name) and store.count(name) != n:
            store.drop_table(name)  # half-written by an interrupted run: rebuild
        if not store.has_table(name):
            store.ensure_table(name, schema)
            flat = pa.array(np.ascontiguousarray(vectors, dtype=np.float32).ravel(), type=pa.float32())
            store.append(name, pa.table({"row": pa.array(np.arange(n, dtype=np.int32)),
                                         "vector": pa.FixedSizeListArray.from_arrays(flat, dim)}))
            store.upsert("meta", "key", [{"key": meta_key, "value": json.dumps({"created_at": now_utc().isoformat()})}])
            _prune(ws, keep=name)  # only a new table can push the count past KEEP
    got = store.read("meta", where=f"key = {ix.quote(meta_key)}")
    info: dict[str, Any] = json.loads(got["value"][0]) if got.height else {}
    if n >= index_threshold and not (info.get("index") and ix.vector_index(store.table(name)) is not None):
        # Outside the lock (minutes at 1M rows); the k-th distance needs all k neighbours, so
        # tune for a stricter recall than ws.neighbors, on full vectors (IVF-FLAT: with PQ the
        # re-ranking reads of thousands of queries cost 6x more and still miss neighbours).
        info["index"] = ix.index_table(store.table(name), dim, metric, id_column="row", target=TARGET_RECALL,
                                       flat=True)
        store.upsert("meta", "key", [{"key": meta_key, "value": json.dumps(info)}])
    return name, info.get("index")


def _readonly_reference(ws: Workspace, key: dict[str, Any], vectors: np.ndarray,
                        ) -> tuple[Any, str, dict[str, Any] | None]:
    """A read-only workspace's reference table: the cached one when a writable open made it, else
    the same rows in an in-memory LanceDB table (searched without an index; nothing is written)."""
    digest = xxhash.xxh3_64_hexdigest(json.dumps(key, sort_keys=True).encode())
    name = PREFIX + digest
    store = ws.store
    n, dim = vectors.shape
    if store.has_table(name) and store.count(name) == n:
        got = store.read("meta", where=f"key = {ix.quote(META_PREFIX + name)}")
        info: dict[str, Any] = json.loads(got["value"][0]) if got.height else {}
        return store.table(name), name, info.get("index")
    import lancedb

    flat = pa.array(np.ascontiguousarray(vectors, dtype=np.float32).ravel(), type=pa.float32())
    data = pa.table({"row": pa.array(np.arange(n, dtype=np.int32)),
                     "vector": pa.FixedSizeListArray.from_arrays(flat, dim)})
    return lancedb.connect("memory://").create_table(name, data=data), name, None


def _prune(ws: Workspace, keep: str) -> None:
    """Drop the oldest reference tables beyond :data:`KEEP`, sparing those younger than :data:`MIN_AGE`."""
    store = ws.store
    names = sorted(t for t in store.table_names() if t.startswith(PREFIX) and t != keep)
    if len(names) < KEEP:
        return
    meta = store.read("meta", where=f"key LIKE '{META_PREFIX}%'")
    born = {r["key"][len(META_PREFIX):]: json.loads(r["value"]).get("created_at") for r in meta.to_dicts()}
    epoch = "1970-01-01T00:00:00+00:00"  # tables of older releases carry no creation time
    created = {t: datetime.fromisoformat(born.get(t) or epoch) for t in names}
    cutoff = now_utc() - MIN_AGE
    for t in sorted(names, key=lambda t: created[t])[: len(names) - (KEEP - 1)]:
        if created[t] <= cutoff:
            store.drop_table(t)
            store.upsert("meta", "key", [{"key": META_PREFIX + t, "value": "{}"}])


def _kth(tbl: Any, queries: np.ndarray, k: int, metric: str, index: dict[str, Any] | None,
         own: np.ndarray | None) -> np.ndarray:
    """k-th neighbour distance of each query row (leaving out row ``own[i]`` when given)."""
    nprobes = refine = None
    if index:
        nprobes = int(index["nprobes"])
        if index["type"] == "IVF_PQ":
            refine = int(index.get("refine_factor") or REFINE_FACTOR)
    d = ix.search_distances(tbl, queries, k, metric, id_column="row", own=own, nprobes=nprobes, refine_factor=refine)
    kth: np.ndarray = np.maximum(d[:, k - 1], 0.0)  # fewer than k results: inf, far away
    return np.sqrt(kth) if metric == "l2" else kth


def reference_novelty(ws: Workspace, table: str, ref_ids: list[str], ref_x: np.ndarray, cur_x: np.ndarray, *,
                      k: int = 5, seed: int = 0, index_threshold: int | None = None) -> Novelty:
    """Conformal kNN novelty of ``cur_x`` against ``ref_x`` (rows of embedding ``table``), via LanceDB.

    Parameters
    ----------
    ws
        The workspace (the reference table is cached there).
    table
        The embedding table the vectors come from (its metric and fingerprint key the cache).
    ref_ids
        Image ids of the reference rows, in row order.
    ref_x, cur_x
        Reference and current vectors.
    k
        The score is the distance to the k-th nearest reference image.
    seed
        Picks the calibration rows when the reference is larger than :data:`CALIBRATION_MAX`.
    index_threshold
        Index the reference table from this many rows (default :data:`INDEX_FROM`).

    Returns
    -------
    Novelty

    Examples
    --------
    >>> nov = reference_novelty(ws, "emb_imgstats_v1", ref_ids, ref_x, cur_x, k=5)  # doctest: +SKIP
    >>> (nov.p_values <= 0.05).mean()                                             # doctest: +SKIP
    """
    rec = ix.records(ws)[table]
    metric = rec["metric"]
    n = len(ref_ids)
    if ref_x.shape[0] != n:
        raise ValueError(f"{len(ref_ids)} reference ids for {ref_x.shape[0]} vectors")
    if not 1 <= k < n:
        raise ValueError(f"k must be between 1 and {n - 1} (reference rows - 1), got {k}")
    ref_s, cur_s = scaled_for_search(metric, np.asarray(ref_x, np.float32), np.asarray(cur_x, np.float32))
    key = {"table": table, "fingerprint": rec["fingerprint"], "metric": metric, "ids": ref_ids}
    if ws.store.readonly:
        tbl, name, index = _readonly_reference(ws, key, ref_s)
    else:
        name, index = reference_table(ws, key, ref_s, metric,
                                      INDEX_FROM if index_threshold is None else index_threshold)
        tbl = ws.store.table(name)
    rows = np.arange(n) if n <= CALIBRATION_MAX else \
        np.sort(np.random.default_rng([seed, 7]).choice(n, CALIBRATION_MAX, replace=False))
    calibration = _kth(tbl, ref_s[rows], k, metric, index, own=rows)
    distances = _kth(tbl, cur_s, k, metric, index, own=None) if len(cur_s) else np.zeros(0)
    return Novelty(calibration, distances, conformal_p_values(calibration, distances), name)
