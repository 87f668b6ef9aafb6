"""Workspace-level drift: pick reference and current images, embed them, test per window."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import numpy as np
import polars as pl

from .._store import WorkspaceError
from ..agreement._over_time import check_duration
from ..embeddings._index import quote

if TYPE_CHECKING:
    from ..datasets.versions import DatasetVersion
    from .two_sample import Correction
    from ..workspace import Workspace


def _did_you_mean(ws: Workspace, name: str) -> str:
    """``"; did you mean 'x'?"`` for the dataset version name or alias closest to ``name``, or ``""``."""
    import difflib

    from ..datasets.versions import _aliases

    names = {n for n in ws.store.read("dataset_versions", columns=["name"])["name"].to_list() if n}
    close = difflib.get_close_matches(name, sorted(names | set(_aliases(ws.store))), n=1)
    return f"; did you mean {close[0]!r}?" if close else ""


def _reference_ids(ws: Workspace, reference: DatasetVersion | str | pl.Expr | Iterable[str]) -> list[str]:
    from ..datasets.versions import DatasetVersion

    if isinstance(reference, str):
        name = reference
        try:
            reference = ws.version(name)
        except WorkspaceError as exc:
            if ws.store.count("images", f"image_id = {quote(name)}"):
                return [name]  # a single image id
            if "ambiguous" in str(exc):
                raise
            raise WorkspaceError(f"no dataset version or image {name!r}{_did_you_mean(ws, name)}") from None
    if isinstance(reference, DatasetVersion):
        return reference.items()["image_id"].to_list()
    if isinstance(reference, pl.Expr):
        return ws.images().filter(reference)["image_id"].to_list()
    return list(reference)


def _current_ids(ws: Workspace, current: pl.Expr | pl.DataFrame | Iterable[str] | None, ref: list[str]) -> list[str]:
    """The current images: those ``current`` selects (default: all), never one of the reference's.

    A frame (e.g. ``ws.predictions()``) selects the distinct ids of its ``image_id`` column, nulls left out.

    A two-sample test needs two samples: an image in both would pull them together (the
    README's ``pl.col("source") == "line-1"`` also matched the reference's own line-1 images).
    """
    images = ws.images().filter(~pl.col("image_id").is_in(ref))
    if current is None:
        return images["image_id"].to_list()
    if isinstance(current, pl.Expr):
        return images.filter(current)["image_id"].to_list()
    if isinstance(current, pl.DataFrame):
        if "image_id" not in current.columns:
            raise WorkspaceError(f"a current frame needs an 'image_id' column; it has {current.columns}")
        current = current["image_id"].drop_nulls()
    in_ref = set(ref)
    return [i for i in dict.fromkeys(current) if i not in in_ref]


def _new_features(windows: pl.Series, times: pl.Series, ref: pl.DataFrame, cur: pl.DataFrame, *,
                  by: str, alpha: float, top_k: int, lookback: int = 3) -> list[list[str]]:
    """Per window, the image statistics that changed against the windows just before it.

    ``top_features`` compare each window with the reference, so a change that
    persists (new lighting) dominates every later window; testing a window against
    its ``lookback`` predecessors names what is new there (e.g. a camera tilt on top
    of the lighting change). The first window is compared with the reference.
    """
    from .two_sample import feature_tests

    win = times.dt.truncate(by).alias("w")
    order = windows.to_list()
    out: list[list[str]] = []
    for i, w in enumerate(order):
        now = cur.filter(win == w)
        before = ref if i == 0 else cur.filter(win.is_in(order[max(0, i - lookback):i]))
        if now.height < 2 or before.height < 2:
            out.append([])
            continue
        ft = feature_tests(before, now, alpha=alpha)
        out.append(ft.filter(pl.col("drifted"))["feature"].head(top_k).to_list())
    return out


def workspace_drift(
    ws: Workspace,
    reference: Any,
    current: Any = None,
    *,
    by: str = "1d",
    model: str | None = "imgstats",
    pretrained: str | None = None,
    alpha: float = 0.05,
    n_permutations: int | None = None,
    seed: int = 0,
    correction: Correction = "holm",
    progress: bool = True,
    per_image: bool = False,
    **options: Any,
) -> pl.DataFrame:
    """Drift of ``current`` images against a ``reference`` per time window (see ``Workspace.drift``);
    with ``per_image``, one row per current image instead (see ``Workspace.drift_images``).

    Windows are corrected with Holm's method by default: a monitoring alarm should
    control the chance of any false alarm, not the false-discovery share.
    """
    from ._novelty import reference_novelty
    from .two_sample import drift_by_window
    from ..embeddings.tables import embed, load_vectors

    check_duration(by, "by")
    ref_ids = _reference_ids(ws, reference)
    cur_ids = _current_ids(ws, current, ref_ids)
    if len(ref_ids) < 10 or not cur_ids:
        raise WorkspaceError(
            f"drift needs >= 10 reference images and some current ones (got {len(ref_ids)} and {len(cur_ids)})")
    both = ref_ids + cur_ids
    embed(ws, model=model, images=both, pretrained=pretrained, progress=progress)
    if model != "imgstats":
        embed(ws, model="imgstats", images=both, progress=progress)
    emb = load_vectors(ws, model, images=both, pretrained=pretrained)
    stats = emb if model == "imgstats" else load_vectors(ws, "imgstats", images=both)

    def rows(v: Any, ids: list[str]) -> tuple[np.ndarray, list[str]]:
        pos = {iid: i for i, iid in enumerate(v.image_ids)}
        keep = [iid for iid in ids if iid in pos]
        return v.vectors[[pos[i] for i in keep]], keep

    ref_x, ref_keep = rows(emb, ref_ids)
    cur_x, cur_keep = rows(emb, cur_ids)
    ref_f, _ = rows(stats, ref_keep)
    cur_f, _ = rows(stats, cur_keep)
    names = stats.feature_names or [f"f{i}" for i in range(ref_f.shape[1])]
    images = ws.images().select("image_id", "path", "captured_at", "registered_at")
    times = (
        pl.DataFrame({"image_id": cur_keep})
        .join(images, on="image_id", how="left")
        .select(pl.coalesce("captured_at", "registered_at").alias("t"))["t"]
    )
    k = int(options.pop("k", 5))
    nov = reference_novelty(ws, emb.table, ref_keep, ref_x, cur_x, k=k, seed=seed)  # kNN through LanceDB
    out = drift_by_window(
        ref_x, cur_x, times, every=by, k=k, ref_knn_dist_loo=nov.calibration, cur_knn_dist=nov.distances,
        ref_features=pl.DataFrame(ref_f, schema=names, orient="row"),
        cur_features=pl.DataFrame(cur_f, schema=names, orient="row"),
        alpha=alpha, n_permutations=n_permutations, seed=seed, correction=correction, **options,
    )
    ids = np.array(cur_keep, dtype=object)
    if per_image:  # the per-window lists (new_features, ids) are not needed
        return _per_image(out, ids, nov.p_values, nov.distances, times)
    out = out.with_columns(pl.Series("new_features", _new_features(
        out["window"], times, pl.DataFrame(ref_f, schema=names, orient="row"),
        pl.DataFrame(cur_f, schema=names, orient="row"), by=by, alpha=alpha,
        top_k=int(options.get("top_k", 5))), dtype=pl.List(pl.String)))

    def to_ids(col: str) -> pl.Expr:
        return pl.col(col).map_elements(lambda idx: [str(ids[i]) for i in idx], return_dtype=pl.List(pl.String))

    return out.with_columns(
        to_ids("top_novel").alias("top_novel"), to_ids("top_witness").alias("top_witness"),
        pl.lit(len(ref_keep)).alias("n_reference"), pl.lit(emb.table).alias("embedding"),
    ).drop("rows", "witness")


def _per_image(out: pl.DataFrame, ids: np.ndarray, novelty_p: np.ndarray, knn: np.ndarray,
               times: pl.Series) -> pl.DataFrame:
    """One row per current image: its window, witness value, novelty p-value and kNN distance."""
    per = out.select("window", "drifted", "rows", "witness").explode("rows", "witness")
    rows = per["rows"].to_numpy()
    return per.select(
        pl.Series("image_id", ids[rows].tolist(), dtype=pl.String),
        "window",
        pl.Series("captured_at", times.gather(rows)),
        pl.col("drifted").alias("window_drifted"),
        "witness",
        pl.Series("novelty_p", novelty_p[rows]),
        pl.Series("knn_distance", knn[rows]),
    ).sort(["window", "witness"], descending=[False, True], nulls_last=True)


def novel_regions(
    ws: Workspace,
    reference: Any,
    current: Any = None,
    *,
    model: str | None = "imgstats",
    pretrained: str | None = None,
    alpha: float = 0.05,
    k: int = 5,
    n_clusters: int | None = None,
    seed: int = 0,
    progress: bool = True,
) -> pl.DataFrame:
    """Regions of embedding space holding the current images the reference never showed.

    Each current image gets a conformal novelty p-value (its kNN distance to the
    reference against the reference's own leave-one-out kNN distances, searched in
    LanceDB: see :func:`jupyter_cvops.drift._novelty.reference_novelty`); the novel
    ones (p <= alpha) are grouped by k-means. Returns one row per region, largest
    first: cluster, size, image_ids (most novel first), exemplar (image id), mean_p.
    """
    from ._conformal import novel_clusters
    from ._novelty import reference_novelty
    from ..embeddings.tables import embed, load_vectors

    ref_ids = _reference_ids(ws, reference)
    cur_ids = _current_ids(ws, current, ref_ids)
    if len(ref_ids) <= k or not cur_ids:
        raise WorkspaceError(f"novel regions need > {k} reference images and some current ones")
    embed(ws, model=model, images=ref_ids + cur_ids, pretrained=pretrained, progress=progress)
    vec = load_vectors(ws, model, images=ref_ids + cur_ids, pretrained=pretrained)
    pos = {iid: i for i, iid in enumerate(vec.image_ids)}
    ref_keep = [i for i in ref_ids if i in pos]
    cur_keep = [i for i in cur_ids if i in pos]
    ref_x, cur_x = vec.vectors[[pos[i] for i in ref_keep]], vec.vectors[[pos[i] for i in cur_keep]]
    mu, sd = ref_x.mean(axis=0), ref_x.std(axis=0) + 1e-12  # scale-free coordinates for the clusters
    cur_z = (cur_x - mu) / sd
    nov = reference_novelty(ws, vec.table, ref_keep, ref_x, cur_x, k=k, seed=seed)  # kNN through LanceDB
    regions = novel_clusters(cur_z, nov.p_values, alpha=alpha, n_clusters=n_clusters, scores=nov.distances,
                             seed=seed)
    ids = np.array(cur_keep, dtype=object)
    return regions.select(
        "cluster", "size",
        pl.col("members").map_elements(lambda m: [str(ids[i]) for i in m], return_dtype=pl.List(pl.String))
        .alias("image_ids"),
        pl.col("exemplar").map_elements(lambda i: str(ids[i]), return_dtype=pl.String).alias("exemplar"),
        "mean_p",
    )
