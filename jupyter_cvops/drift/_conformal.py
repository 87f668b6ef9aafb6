"""Per-image novelty: kNN distances, conformal p-values and clusters of novel images.

Distances can come from anywhere (LanceDB search, FAISS, this module's exact
:func:`knn_distances`); the conformal step only needs the reference's own
leave-one-out scores and the current images' scores, computed the same way
(same metric, same ``k``, same reduction).

Examples
--------
>>> import numpy as np
>>> conformal_p_values(np.array([1.0, 2.0, 3.0]), np.array([0.5, 2.5, 9.0])).round(2).tolist()
[1.0, 0.5, 0.25]
"""

from __future__ import annotations

from typing import Any, Literal, TypedDict

import numpy as np
import polars as pl
import torch

from ._machinery import BLOCK_ROWS, as_matrix, pick_device, sq_dists

Metric = Literal["euclidean", "sqeuclidean", "cosine"]
Reduce = Literal["kth", "mean"]


class _ClusterRow(TypedDict):
    size: int
    members: list[int]
    exemplar: int
    mean_p: float


def knn_distances(query: Any, reference: Any = None, *, k: int = 5, metric: Metric = "euclidean",
                  reduce: Reduce = "kth", device: str | torch.device | None = None) -> np.ndarray:
    """Exact kNN distance of every query row to a reference set (torch, blocked; small data).

    Parameters
    ----------
    query
        (n, d) array.
    reference
        (m, d) array. ``None``: leave-one-out within ``query`` (each row's
        neighbours are the other rows), the reference calibration scores.
    k
        Neighbour whose distance is the score (``reduce="kth"``), or how many
        neighbours are averaged (``reduce="mean"``).
    metric
        ``"euclidean"``, ``"sqeuclidean"`` (LanceDB's ``"l2"``) or ``"cosine"``
        (``1 - cos``).
    reduce
        ``"kth"`` (distance to the k-th neighbour) or ``"mean"`` (of the k nearest).
    device
        Torch device; ``None`` picks CUDA when available.

    Returns
    -------
    numpy.ndarray
        (n,) float64 scores; larger means farther from the reference.

    Examples
    --------
    >>> ref = np.array([[0.0], [1.0], [2.0], [10.0]])
    >>> knn_distances(np.array([[1.2], [6.0]]), ref, k=1).round(2).tolist()
    [0.2, 4.0]
    >>> knn_distances(ref, k=1).tolist()
    [1.0, 1.0, 1.0, 8.0]
    """
    if metric not in ("euclidean", "sqeuclidean", "cosine"):
        raise ValueError(f"metric must be 'euclidean', 'sqeuclidean' or 'cosine', got {metric!r}")
    if reduce not in ("kth", "mean"):
        raise ValueError(f"reduce must be 'kth' or 'mean', got {reduce!r}")
    loo = reference is None
    q = as_matrix(query, "query")
    r = q if loo else as_matrix(reference, "reference")
    if q.shape[1] != r.shape[1]:
        raise ValueError(f"query has {q.shape[1]} features, reference {r.shape[1]}")
    available = r.shape[0] - (1 if loo else 0)
    if not 1 <= k <= available:
        raise ValueError(f"k must be between 1 and {available} (reference rows{' - 1' if loo else ''}), got {k}")
    dev = pick_device(device)
    qt = torch.from_numpy(q).to(dev)
    rt = qt if loo else torch.from_numpy(r).to(dev)
    if metric == "cosine":
        qt = torch.nn.functional.normalize(qt, dim=1)
        rt = qt if loo else torch.nn.functional.normalize(rt, dim=1)
    out = np.empty(q.shape[0])
    for s in range(0, q.shape[0], BLOCK_ROWS):
        d = sq_dists(qt[s:s + BLOCK_ROWS], rt)
        if loo:
            rows = torch.arange(d.shape[0], device=dev)
            d[rows, rows + s] = float("inf")
        if metric == "euclidean":
            d.sqrt_()
        elif metric == "cosine":
            d.mul_(0.5)  # |a - b|^2 = 2 - 2cos for unit vectors
        near = torch.topk(d, k, dim=1, largest=False).values
        vals = near[:, -1] if reduce == "kth" else near.mean(1)
        out[s:s + BLOCK_ROWS] = vals.cpu().numpy()
    return out


def conformal_p_values(ref_scores: Any, cur_scores: Any) -> np.ndarray:
    """Conformal p-values ``(1 + #{ref >= d}) / (n_ref + 1)`` of current scores ``d``.

    See :func:`jupyter_cvops.drift.conformal_novelty` (the public name).

    Examples
    --------
    >>> conformal_p_values([0.1, 0.2], [0.2]).tolist()
    [0.6666666666666666]
    """
    ref = np.asarray(ref_scores, dtype=np.float64).ravel()
    cur = np.asarray(cur_scores, dtype=np.float64).ravel()
    if ref.size == 0:
        raise ValueError("ref_knn_dist_loo is empty")
    if not (np.isfinite(ref).all() and np.isfinite(cur).all()):
        raise ValueError("kNN distances must be finite")
    srt = np.sort(ref)
    at_least = ref.size - np.searchsorted(srt, cur, side="left")
    return (1.0 + at_least) / (ref.size + 1.0)


def novel_clusters(embeddings: Any, p_values: Any, *, alpha: float = 0.05, max_points: int = 2000,
                   n_clusters: int | None = None, scores: Any = None, seed: int = 0) -> pl.DataFrame:
    """Group the novel images (conformal p <= alpha) into regions of embedding space (k-means).

    Parameters
    ----------
    embeddings
        (n, d) embeddings of the current images.
    p_values
        (n,) conformal novelty p-values (:func:`conformal_p_values`).
    alpha
        Images with ``p <= alpha`` are novel.
    max_points
        At most this many of the most novel images are clustered (smallest p,
        ties broken by the larger ``scores``).
    n_clusters
        Number of clusters; ``None`` picks ``clip(round(sqrt(n_novel / 2)), 1, 8)``.
    scores
        Optional (n,) kNN distances, used to break ties between equal p-values.
    seed
        Seed of k-means (``sklearn.cluster.KMeans``, k-means++ init, 4 starts).

    Returns
    -------
    polars.DataFrame
        One row per cluster, largest first: ``cluster``, ``size``, ``members``
        (list of row indices into ``embeddings``, most novel first),
        ``exemplar`` (member closest to the cluster center) and ``mean_p``.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> emb = np.vstack([rng.normal(0, 1, (20, 2)), rng.normal(8, 0.1, (5, 2))])
    >>> p = np.r_[np.full(20, 0.5), np.full(5, 0.01)]
    >>> novel_clusters(emb, p, n_clusters=1)["members"].to_list()
    [[20, 21, 22, 23, 24]]
    """
    from sklearn.cluster import KMeans

    emb = as_matrix(embeddings, "embeddings")
    p = np.asarray(p_values, dtype=np.float64).ravel()
    if p.shape[0] != emb.shape[0]:
        raise ValueError(f"{p.shape[0]} p-values for {emb.shape[0]} embeddings")
    tie = np.zeros(p.shape) if scores is None else -np.asarray(scores, dtype=np.float64).ravel()
    novel = np.flatnonzero(p <= alpha)
    novel = novel[np.lexsort((tie[novel], p[novel]))][:max_points]
    empty = pl.DataFrame(schema={"cluster": pl.Int64, "size": pl.Int64, "members": pl.List(pl.Int64),
                                 "exemplar": pl.Int64, "mean_p": pl.Float64})
    if novel.size == 0:
        return empty
    k = n_clusters if n_clusters is not None else int(np.clip(round(np.sqrt(novel.size / 2)), 1, 8))
    k = max(1, min(int(k), novel.size))
    pts = emb[novel]
    km = KMeans(n_clusters=k, n_init=4, random_state=seed).fit(pts)
    rows: list[_ClusterRow] = []
    for c in range(k):
        sel = np.flatnonzero(km.labels_ == c)
        if sel.size == 0:
            continue
        members = novel[sel]
        center_d = ((pts[sel] - km.cluster_centers_[c]) ** 2).sum(1)
        rows.append({"size": int(sel.size), "members": [int(i) for i in members],
                     "exemplar": int(members[int(np.argmin(center_d))]), "mean_p": float(p[members].mean())})
    rows.sort(key=lambda r: (-r["size"], r["mean_p"], r["exemplar"]))
    frame = pl.DataFrame(rows, schema={"size": pl.Int64, "members": pl.List(pl.Int64),
                                       "exemplar": pl.Int64, "mean_p": pl.Float64})
    return frame.with_row_index("cluster").with_columns(pl.col("cluster").cast(pl.Int64)).select(empty.columns)
