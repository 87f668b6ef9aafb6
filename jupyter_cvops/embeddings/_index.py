"""ANN index upkeep, workspace records and id -> path lookups for embedding tables.

Private helpers of :mod:`jupyter_cvops.embeddings`: the ``embedding:<table>`` records in
the workspace ``meta`` table, building and refreshing the IVF index of a table, and
finding the current paths of result images quickly in large workspaces.
"""

from __future__ import annotations

import json
import math
from typing import TYPE_CHECKING, Any

import numpy as np
import polars as pl

from ._backends import EmbeddingError

if TYPE_CHECKING:
    from ..workspace import Workspace

META_PREFIX = "embedding:"
REFINE_FACTOR = 10  # PQ candidates re-ranked on full vectors, per result


def quote(value: str) -> str:
    """A SQL string literal for Lance filters.

    Examples
    --------
    >>> quote("it's")
    "'it''s'"
    """
    return "'" + value.replace("'", "''") + "'"


def records(ws: Workspace) -> dict[str, dict[str, Any]]:
    """Every embedding table's record (model, spec, dim, metric, fingerprint, index), by table.

    Examples
    --------
    >>> sorted(records(ws))        # doctest: +SKIP
    ['emb_imgstats_v1']
    """
    meta = ws.store.read("meta", where=f"key LIKE '{META_PREFIX}%'")
    return {r["key"][len(META_PREFIX):]: json.loads(r["value"]) for r in meta.to_dicts()}


def put_record(ws: Workspace, record: dict[str, Any]) -> None:
    """Insert or replace the record of ``record["table"]`` (one commit to ``meta``).

    Examples
    --------
    >>> put_record(ws, records(ws)["emb_imgstats_v1"])   # doctest: +SKIP
    """
    ws.store.upsert("meta", "key", [{"key": META_PREFIX + record["table"],
                                     "value": json.dumps(record, sort_keys=True, default=str)}])


# --------------------------------------------------------------------------- ANN index
def vector_index(tbl: Any) -> Any:
    """The index on a LanceDB table's ``vector`` column, or None.

    Examples
    --------
    >>> vector_index(ws.store.table("emb_imgstats_v1"))   # doctest: +SKIP
    """
    for idx in tbl.list_indices():
        if list(idx.columns) == ["vector"]:
            return idx
    return None


def index_params(n: int, dim: int) -> dict[str, Any]:
    """IVF with ~sqrt(n) partitions, k-means on 64 samples per partition (25 iterations: the
    build stays minutes, not tens of minutes, at 1M rows on 2 cores); PQ with 16-dimensional
    sub-vectors (re-ranked on full vectors at query time); IVF-flat below 64 dimensions.

    Examples
    --------
    >>> index_params(1_000_000, 512)["num_partitions"], index_params(1_000_000, 512)["num_sub_vectors"]
    (1000, 32)
    >>> index_params(200_000, 33)["type"]
    'IVF_FLAT'
    """
    parts = max(1, min(int(round(math.sqrt(n))), n // 64 or 1))
    common = {"num_partitions": parts, "sample_rate": 64, "max_iterations": 25}
    if dim < 64:
        return {"type": "IVF_FLAT", **common}
    sub = max((d for d in range(1, dim + 1) if dim % d == 0 and dim // d >= 16), default=1)
    return {"type": "IVF_PQ", **common, "num_sub_vectors": sub}


def default_nprobes(parts: int) -> int:
    """Partitions searched per query when an index has no tuned value: 15% (at least 20).

    Examples
    --------
    >>> default_nprobes(1000), default_nprobes(50), default_nprobes(10)
    (150, 20, 10)
    """
    return min(parts, max(MIN_NPROBES, math.ceil(parts * 0.15)))


MIN_NPROBES = 20  # never fewer: 20 partitions cost little at any size


TARGET_RECALL = 0.97
TUNE_SHARES = (0.02, 0.05, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.6)


def recall_at_k(found: list[np.ndarray], truth_kth: np.ndarray, eps: float = 1e-5) -> float:
    """Share of returned neighbours at least as close as the true k-th neighbour.

    Counting by distance rather than by id keeps ties (duplicate vectors) from lowering
    the estimate. ``found[i]`` holds the distances returned for query ``i`` (k of them,
    or fewer: missing results count as misses).

    Examples
    --------
    >>> recall_at_k([np.array([0.1, 0.2, 0.9])], np.array([0.3]))  # 2 of 3 within the true 3rd
    0.6666666666666666
    """
    k = len(found[0]) if found else 0
    hits = sum(int(np.sum(f <= t + eps)) for f, t in zip(found, truth_kth, strict=True))
    return hits / max(1, k * len(found))


def exact_kth(tbl: Any, queries: np.ndarray, query_ids: list[Any], metric: str, k: int,
              batch_rows: int = 65_536, id_column: str = "image_id") -> np.ndarray:
    """Distance from each query to its k-th nearest *other* row, by a full streamed scan.

    Distances are on LanceDB's scale: ``1 - cos`` for cosine, squared Euclidean for l2,
    ``-dot`` for dot, so they compare with a search's ``_distance``.

    Examples
    --------
    >>> exact_kth(tbl, vecs[:3], ids[:3], "cosine", 10)     # doctest: +SKIP
    array([0.21, 0.19, 0.25], dtype=float32)
    """
    q = np.asarray(queries, dtype=np.float32)
    if metric == "cosine":
        q = q / np.maximum(np.linalg.norm(q, axis=1, keepdims=True), 1e-12)
    best = np.full((len(q), k), np.inf, np.float32)
    qsq = np.sum(q * q, axis=1)[:, None]
    own = {rid: i for i, rid in enumerate(query_ids)}
    for batch in tbl.to_lance().to_batches(columns=[id_column, "vector"], batch_size=batch_rows):
        if not batch.num_rows:
            continue
        col = batch.column(1)
        x = np.asarray(col.values, dtype=np.float32).reshape(batch.num_rows, -1)
        dots = q @ x.T
        if metric == "cosine":
            d = 1.0 - dots / np.maximum(np.linalg.norm(x, axis=1), 1e-12)[None, :]
        elif metric == "dot":
            d = -dots
        else:
            d = np.maximum(qsq + np.sum(x * x, axis=1)[None, :] - 2.0 * dots, 0.0)
        for j, rid in enumerate(batch.column(0).to_pylist()):
            i = own.get(rid)
            if i is not None:
                d[i, j] = np.inf  # a query is not its own neighbour
        both = np.concatenate([best, d.astype(np.float32, copy=False)], axis=1)
        best = np.partition(both, k - 1, axis=1)[:, :k]
    return np.sort(best, axis=1)[:, k - 1]


QUERY_CHUNK = 1024


def search_distances(tbl: Any, queries: np.ndarray, k: int, metric: str, *, id_column: str,
                     own: list[Any] | np.ndarray | None = None, nprobes: int | None = None,
                     refine_factor: int | None = None) -> np.ndarray:
    """Distances (LanceDB's ``_distance``) from each query to its ``k`` nearest rows, in one
    batched search per :data:`QUERY_CHUNK` queries; ``own[i]`` (a value of ``id_column``) is
    left out of query ``i``'s neighbours. Missing neighbours are ``inf``.

    Examples
    --------
    >>> search_distances(tbl, vecs[:3], 5, "cosine", id_column="image_id", own=ids[:3])  # doctest: +SKIP
    """
    out = np.full((len(queries), k), np.inf)
    extra = 0 if own is None else 1
    for start in range(0, len(queries), QUERY_CHUNK):
        chunk = queries[start:start + QUERY_CHUNK]
        q = tbl.search(chunk, vector_column_name="vector").distance_type(metric).limit(k + extra)
        if nprobes is not None:
            q = q.nprobes(int(nprobes))
        if refine_factor is not None:
            q = q.refine_factor(int(refine_factor))
        res = pl.from_arrow(q.select([id_column, "_distance"]).to_arrow())
        assert isinstance(res, pl.DataFrame)
        if "query_index" not in res.columns:  # a single query
            res = res.with_columns(pl.lit(0, pl.Int32).alias("query_index"))
        if own is not None:
            mine = pl.DataFrame({"query_index": np.arange(len(chunk), dtype=np.int32),
                                 "own": list(own[start:start + len(chunk)])})
            res = res.join(mine, on="query_index", how="left").filter(pl.col(id_column) != pl.col("own"))
        per = (res.sort("query_index", "_distance").group_by("query_index", maintain_order=True)
               .agg(pl.col("_distance").head(k)))
        for qi, dists in per.iter_rows():
            out[start + int(qi), :len(dists)] = dists
    return out


def tune_nprobes(tbl: Any, params: dict[str, Any], metric: str, *, k: int = 10, sample: int = 100,
                 target: float = TARGET_RECALL, seed: int = 0, id_column: str = "image_id",
                 refine_factor: int = 10) -> dict[str, Any]:
    """The fewest partitions to search for recall@k >= ``target`` on this table's own data.

    ``sample`` rows (seeded) serve as queries; their exact k nearest other rows come from a
    full scan (:func:`exact_kth`), then the index is searched with growing ``nprobes``
    (:data:`TUNE_SHARES` of the partitions, at least :data:`MIN_NPROBES`, re-ranking PQ
    candidates as queries do) until
    the recall estimate reaches ``target``. Clustered data needs few partitions, diffuse
    data many: a fixed share either wastes time or misses neighbours. When even every
    partition misses (PQ's quantisation on near-uniform data), the re-ranking pool grows
    (2x, 4x ``refine_factor``) and the factor that reached ``target`` is returned too. Returns
    ``{"nprobes", "tuned_recall", "tuned_on"}`` (and ``"refine_factor"`` when it grew).

    Examples
    --------
    >>> tune_nprobes(tbl, {"num_partitions": 1000, "type": "IVF_PQ"}, "cosine")   # doctest: +SKIP
    {'nprobes': 150, 'tuned_recall': 0.976, 'tuned_on': 100}
    """
    ds = tbl.to_lance()
    n = ds.count_rows()
    m = min(sample, n - 1)
    parts = int(params["num_partitions"])
    if m < 1 or n <= k:
        return {"nprobes": parts, "tuned_recall": 1.0, "tuned_on": 0}
    rows = np.sort(np.random.default_rng(seed).choice(n, size=m, replace=False))
    got = ds.take(rows.tolist(), columns=[id_column, "vector"])
    ids = got.column(id_column).to_pylist()
    queries = np.asarray(got.column("vector").combine_chunks().values, dtype=np.float32).reshape(m, -1)
    kth = exact_kth(tbl, queries, ids, metric, k, id_column=id_column)
    candidates = sorted({min(parts, max(MIN_NPROBES, math.ceil(parts * s))) for s in TUNE_SHARES})
    recall = 0.0
    for probes in candidates:
        found = search_distances(tbl, queries, k, metric, id_column=id_column, own=ids, nprobes=probes,
                                 refine_factor=refine_factor if params["type"] == "IVF_PQ" else None)
        lists = list(found)
        recall = recall_at_k(lists, kth)
        if recall >= target:
            return {"nprobes": probes, "tuned_recall": round(recall, 4), "tuned_on": m}
    if params["type"] == "IVF_PQ":  # every partition searched and PQ still misses: re-rank more candidates
        for factor in (refine_factor * 2, refine_factor * 4):
            found = search_distances(tbl, queries, k, metric, id_column=id_column, own=ids, nprobes=candidates[-1],
                                     refine_factor=factor)
            recall = recall_at_k(list(found), kth)
            if recall >= target:
                return {"nprobes": candidates[-1], "tuned_recall": round(recall, 4), "tuned_on": m,
                        "refine_factor": factor}
    return {"nprobes": candidates[-1], "tuned_recall": round(recall, 4), "tuned_on": m}


def index_table(tbl: Any, dim: int, metric: str, id_column: str = "image_id",
                target: float = TARGET_RECALL, refine_factor: int = REFINE_FACTOR,
                flat: bool = False) -> dict[str, Any]:
    """Build (or replace) the IVF index on a LanceDB table's ``vector`` column and tune its
    ``nprobes`` (:func:`tune_nprobes`); the parameters, with ``rows_at_build``. ``flat``
    keeps full vectors in the partitions (IVF-FLAT) at any dimension: exact distances
    without re-ranking, for tables searched with many queries at once.

    Examples
    --------
    >>> index_table(ws.store.table("emb_imgstats_v1"), 33, "l2")["type"]   # doctest: +SKIP
    'IVF_FLAT'
    """
    from lancedb.index import IvfFlat, IvfPq

    n = tbl.count_rows()
    if n < 2:
        raise EmbeddingError(f"{tbl.name} has {n} rows: too few to index")
    params = index_params(n, int(dim))
    if flat:
        params = {k: v for k, v in params.items() if k != "num_sub_vectors"} | {"type": "IVF_FLAT"}
    knobs = {k: params[k] for k in ("num_partitions", "sample_rate", "max_iterations")}
    dist: Any = metric  # "l2" | "cosine" | "dot"
    config = (IvfFlat(distance_type=dist, **knobs) if params["type"] == "IVF_FLAT" else
              IvfPq(distance_type=dist, num_sub_vectors=params["num_sub_vectors"], **knobs))
    # Not under the write lock: training takes minutes at 1M rows and Lance commits an
    # index concurrently with appends (rows added meanwhile are searched exactly).
    tbl.create_index("vector", config=config, replace=True)
    params["rows_at_build"] = n
    if params["type"] == "IVF_PQ":
        params["refine_factor"] = refine_factor
    return params | tune_nprobes(tbl, params, metric, id_column=id_column, target=target,
                                 refine_factor=refine_factor)


def create_index(ws: Workspace, rec: dict[str, Any]) -> dict[str, Any]:
    """(Re)build the vector index of ``rec["table"]`` (plus a BTREE on ``image_id``); its parameters.

    Examples
    --------
    >>> create_index(ws, records(ws)["emb_imgstats_v1"])["type"]   # doctest: +SKIP
    'IVF_FLAT'
    """
    tbl = ws.store.table(rec["table"])
    params = index_table(tbl, int(rec["dim"]), rec["metric"])
    ws.store.index_column(rec["table"], "image_id")
    put_record(ws, rec | {"index": params})
    return params


def maintain_index(ws: Workspace, table: str, threshold: int) -> str | None:
    """Create the index past ``threshold`` rows, refresh it for new rows, re-partition after 4x
    growth; what was done, or None.

    Examples
    --------
    >>> maintain_index(ws, "emb_imgstats_v1", 100_000)   # doctest: +SKIP
    'updated'
    """
    rec = records(ws)[table]
    tbl = ws.store.table(table)
    n = tbl.count_rows()
    idx = vector_index(tbl)
    if idx is None or not rec.get("index"):
        if n < threshold:
            return None
        params = create_index(ws, rec)
        return f"created {params['type']} ({params['num_partitions']} partitions)"
    stats = tbl.index_stats(idx.name)
    if stats is None or not stats.num_unindexed_rows:
        return None
    if n >= 4 * int(rec["index"].get("rows_at_build", n)):  # grown a lot: re-partition
        params = create_index(ws, rec)
        return f"rebuilt {params['type']} ({params['num_partitions']} partitions)"
    with ws.store.lock:
        tbl.optimize()  # compacts fragments and adds new rows to the indices
    return "updated"


PATHS_CHUNK = 1000


def paths(ws: Workspace, ids: list[str]) -> pl.DataFrame:
    """``image_id, path`` of ``ids`` (large workspaces answer from the BTREE on ``image_id``
    that registration keeps, in milliseconds at a million images).

    Examples
    --------
    >>> paths(ws, ["0f3a..."])      # doctest: +SKIP
    """
    frames = [ws.store.read("images", where=f"image_id IN ({', '.join(map(quote, ids[i:i + PATHS_CHUNK]))})",
                            columns=["image_id", "path"]) for i in range(0, len(ids), PATHS_CHUNK)]
    if not frames:
        return pl.DataFrame(schema={"image_id": pl.String, "path": pl.String})
    return pl.concat(frames).unique("image_id")
