"""Reading embeddings back: nearest neighbours (exact or through the ANN index) and whole matrices.

Examples
--------
>>> ws.neighbors(ws.images()["image_id"][0], k=5)          # doctest: +SKIP
>>> load_vectors(ws, "imgstats").vectors.shape               # doctest: +SKIP
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np
import polars as pl
import pyarrow as pa

from . import _backends as eb
from . import _index as ix
from . import _pipeline as pipeline
from ._backends import EmbeddingBackend, EmbeddingError
from ._index import quote as _quote
from ._records import Images, _resolve, _targets
from ..images._hashing import hash_file

if TYPE_CHECKING:
    from ..workspace import Workspace

__all__ = ["Vectors", "load_vectors", "neighbors"]


class Vectors(NamedTuple):
    """Embeddings as arrays: ``image_ids[i]`` has ``vectors[i]``; ``feature_names`` for imgstats."""

    image_ids: list[str]
    vectors: np.ndarray
    table: str
    feature_names: list[str] | None


def _stored_vector(tbl: Any, image_id: str) -> np.ndarray | None:
    got = tbl.search().where(f"image_id = {_quote(image_id)}").select(["vector"]).limit(1).to_arrow()
    if not got.num_rows:
        return None
    return np.asarray(got.column("vector")[0].values, dtype=np.float32)


def _rebuild(rec: dict[str, Any], model: str | EmbeddingBackend | None, pretrained: str | None) -> EmbeddingBackend:
    """The backend that embeds a new query image for table ``rec``.

    Weights come only from the caller (``model`` as a backend, or ``pretrained``) or from a
    local checkpoint matching the table's recorded hash (:func:`~._backends.backend_from_record`);
    a workspace's stored spec never makes anything download.
    """
    if model is not None and not isinstance(model, str):
        return eb.backend_from_spec(model)[0]
    if pretrained is not None:
        name = rec["spec"].get("model") if model in (None, rec["table"]) else model
        return eb.backend_from_spec(name, pretrained)[0]
    return eb.backend_from_record(rec)


def _query(ws: Workspace, rec: dict[str, Any], what: Any, model: str | EmbeddingBackend | None = None,
           pretrained: str | None = None) -> tuple[np.ndarray, str | None]:
    """Query vector(s) for an image id, a path or an array; plus the image id (if any)."""
    if isinstance(what, (np.ndarray, list, tuple)) and not isinstance(what, str):
        arr = np.asarray(what, dtype=np.float32)
        if arr.ndim not in (1, 2) or arr.shape[-1] != rec["dim"]:
            raise ValueError(f"query vectors must have {rec['dim']} columns ({rec['table']}), got {arr.shape}")
        return arr, None
    if not isinstance(what, (str, os.PathLike)):
        raise TypeError(f"expected an image id, a path or a vector, got {type(what).__name__}")
    tbl = ws.store.table(rec["table"])
    text = str(what)
    image_id: str | None = None
    path: str | None = None
    if isinstance(what, str) and ws.store.count("images", f"image_id = {_quote(text)}"):
        image_id = text
    else:
        p = Path(text).expanduser()
        if not p.is_file():
            raise EmbeddingError(f"{text!r} is neither a registered image id nor an image file")
        path = str(p.resolve())
        image_id = hash_file(p)
    vec = _stored_vector(tbl, image_id)
    if vec is not None:
        return vec, image_id
    if path is None:  # registered but not embedded yet: compute it now
        path = ws.store.read("images", where=f"image_id = {_quote(image_id)}", columns=["path"])["path"][0]
    backend = _rebuild(rec, model, pretrained)
    if eb.fingerprint(backend) != rec["fingerprint"]:
        raise EmbeddingError(f"the model of {rec['table']} now preprocesses differently; re-run ws.embed first")
    _, batch, bad = pipeline.load_batch(backend, [(image_id, path)])
    if bad:
        raise EmbeddingError(f"{path}: {bad[0][2]}")
    return backend.forward(batch)[0], image_id


def neighbors(
    ws: Workspace,
    image_or_vector: str | os.PathLike[str] | np.ndarray,
    k: int = 10,
    model: str | EmbeddingBackend | None = None,
    *,
    pretrained: str | None = None,
    include_self: bool = False,
    nprobes: int | None = None,
    refine_factor: int | None = None,
) -> pl.DataFrame:
    """The ``k`` images most similar to an image or a vector (``ws.neighbors``).

    Works at any table size: exact search below the index threshold, the ANN index
    (with re-ranking on full vectors) above it.

    Parameters
    ----------
    ws
        The workspace.
    image_or_vector
        An image id (its stored vector is reused), a path (a registered or any image
        file; embedded on the fly if needed), a vector of the table's dimension, or an
        ``m x dim`` matrix of query vectors (the result then has a ``query`` column).
    k
        Number of neighbours.
    model
        Which embeddings: a model as given to :func:`embed`, a table name, or None for
        the most recently computed table.
    pretrained
        Weights, for an open_clip ``model`` embedded with several weights, and for
        embedding a query image that has no stored vector. Without them the table's own
        weights are reused only from a local checkpoint whose hash matches the recorded
        one: weights a workspace names (a tag, ``hf-hub:``) are never downloaded.
    include_self
        Keep the query image itself in the result (default: left out).
    nprobes, refine_factor
        ANN search knobs (IVF partitions visited; candidates re-ranked per result).
        Default ``nprobes``: the value tuned when the index was built, the fewest
        partitions that reach recall@10 >= 0.97 on a sample of the table's own vectors
        (see :func:`jupyter_cvops.embeddings._index.tune_nprobes`; ``list_embeddings`` shows
        it); default ``refine_factor``: 10.

    Returns
    -------
    polars.DataFrame
        ``image_id, distance, path``, nearest first. Distance is ``1 - cosine
        similarity`` for open_clip, Euclidean for ``imgstats``.

    Examples
    --------
    >>> ws.neighbors(ws.images()["image_id"][0], k=5)            # doctest: +SKIP
    >>> ws.neighbors("new_photo.jpg", k=5, model="imgstats")     # doctest: +SKIP
    """
    if k < 1:
        raise ValueError("k must be >= 1")
    rec = _resolve(ws, model, pretrained)
    tbl = ws.store.table(rec["table"])
    vec, self_id = _query(ws, rec, image_or_vector, model, pretrained)
    extra = 0 if include_self or self_id is None else 1
    q = tbl.search(vec, vector_column_name="vector").distance_type(rec["metric"]).limit(k + extra)
    index = rec.get("index")
    if index and ix.vector_index(tbl) is not None:
        parts = int(index["num_partitions"])
        q = q.nprobes(nprobes or int(index.get("nprobes") or ix.default_nprobes(parts)))
        if index["type"] == "IVF_PQ":
            q = q.refine_factor(refine_factor or int(index.get("refine_factor") or ix.REFINE_FACTOR))
    got = pl.from_arrow(q.select(["image_id", "_distance"]).to_arrow())
    assert isinstance(got, pl.DataFrame)
    multi = vec.ndim == 2
    dist = pl.col("_distance").clip(lower_bound=0.0)
    got = got.with_columns((dist.sqrt() if rec["metric"] == "l2" else dist).cast(pl.Float64).alias("distance"))
    if extra:
        got = got.filter(pl.col("image_id") != self_id)
    if multi:
        got = got.rename({"query_index": "query"}).sort("query", "distance").group_by(
            "query", maintain_order=True).head(k)
    else:
        got = got.sort("distance").head(k)
    out = got.join(ix.paths(ws, got["image_id"].unique().to_list()), on="image_id", how="left",
                   maintain_order="left")
    return out.select((["query"] if multi else []) + ["image_id", "distance", "path"])


def load_vectors(ws: Workspace, model: str | EmbeddingBackend | None = None, images: Images = None, *,
                 pretrained: str | None = None) -> Vectors:
    """Stored embeddings as a numpy matrix, for statistics (drift tests, projections).

    Rows computed with another preprocessing than the table's current one are left out.

    Examples
    --------
    >>> v = load_vectors(ws, "imgstats")                        # doctest: +SKIP
    >>> v.vectors.shape, v.feature_names[:2]                      # doctest: +SKIP
    ((300, 33), ['brightness', 'contrast'])
    """
    rec = _resolve(ws, model, pretrained)
    data = ws.store.table(rec["table"]).search().where(f"fingerprint = '{rec['fingerprint']}'") \
        .select(["image_id", "vector"]).to_arrow()
    ids = data.column("image_id").to_pylist()
    if images is not None:
        wanted, _ = _targets(ws, images)
        keep = set(wanted["image_id"].to_list())
        mask = pa.array([i in keep for i in ids])
        data = data.filter(mask)
        ids = data.column("image_id").to_pylist()
    col = data.column("vector").combine_chunks() if data.num_rows else None
    dim = int(rec["dim"])
    mat = (np.asarray(col.values, dtype=np.float32).reshape(-1, dim) if col is not None
           else np.zeros((0, dim), np.float32))
    return Vectors(ids, mat, rec["table"], rec.get("feature_names"))
