"""Lineage: from a production prediction back to the images and labels that taught its model,
and from an image forward to every version, model and prediction that used it.

Backward (a prediction id): prediction -> model version -> run -> dataset version ->
taxonomy version -> the training images nearest to the predicted image in an embedding
space (searched in LanceDB through the same cached, indexed reference tables the drift
novelty uses), each with its labels, annotators and review decisions. Forward (an image
id): the dataset versions holding it, the model versions trained on those, the predictions
made on the image itself and how many predictions those models made.
"""

from __future__ import annotations

import copy
import json
import weakref
from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass, field
from html import escape
from typing import TYPE_CHECKING, Any

import numpy as np
import polars as pl

from .._store import WorkspaceError

if TYPE_CHECKING:
    from ..workspace import Workspace


def _quote(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _one(ws: Workspace, table: str, where: str) -> dict[str, Any] | None:
    rows = ws.store.read(table, where=where)
    return rows.row(rows.height - 1, named=True) if rows.height else None


# Store -> (what, tables' versions) -> result: reads of small tables that every backward chain
# repeats (model, run, dataset version, names, aliases, taxonomy, embedding records), kept while
# those tables keep their Lance version (~0.2 ms to check one, ~3 ms to read one).
_MEMO: weakref.WeakKeyDictionary[Any, dict[Any, Any]] = weakref.WeakKeyDictionary()


_SEEN: ContextVar[dict[str, int] | None] = ContextVar("cvops_lineage_versions", default=None)
"""Table versions already checked during the current ``ws.lineage`` call (each checked once per call)."""


def _version(ws: Workspace, table: str) -> int:
    seen = _SEEN.get()
    if seen is None:
        return ws.store.version(table)
    if table not in seen:
        seen[table] = ws.store.version(table)
    return seen[table]


def _memo(ws: Workspace, tables: tuple[str, ...], what: Any, compute: Callable[[], Any]) -> Any:
    per = _MEMO.setdefault(ws.store, {})
    key = (what, tuple(_version(ws, t) for t in tables))
    if key not in per:
        if len(per) > 256:
            per.clear()
        per[key] = compute()
    return copy.deepcopy(per[key])


def _one_memo(ws: Workspace, table: str, where: str) -> dict[str, Any] | None:
    return _memo(ws, (table,), ("one", table, where), lambda: _one(ws, table, where))  # type: ignore[no-any-return]


PREDICTION_INDEX_FROM = 50_000
"""Logged predictions from which ``ws.lineage`` keeps ``prediction_id`` (backward chains) and ``image_id``
(forward: the predictions made on an image) BTREE-indexed, on a writable workspace: a lookup then costs
~5 ms at 1M rows instead of a ~80 ms scan of every id. Kept up here,
not by the log's flushes, so logging pays nothing: the first call after new predictions indexes
them (a delta segment, ~10-50 ms per 10k rows; ~0.3 s to build or merge at 1M rows)."""


def _index_predictions(ws: Workspace) -> None:
    """Index the predictions logged since the last call (once per table version; never when read-only)."""
    store = ws.store
    if store.readonly:
        return
    seen = _MEMO.setdefault(store, {})
    version = store.version("predictions")
    if seen.get("predictions indexed at") == version:
        return
    try:
        for column in ("prediction_id", "image_id"):
            store.index_column("predictions", column, min_rows=PREDICTION_INDEX_FROM, incremental=True)
    except WorkspaceError:  # another process holds the write lock: the lookup scans the new rows meanwhile
        return
    seen["predictions indexed at"] = store.version("predictions")


@dataclass
class Lineage:
    """One chain of provenance (see :func:`lineage`).

    Attributes
    ----------
    start : str
        ``"prediction"`` or ``"image"``.
    prediction, model, run, dataset_version, taxonomy : dict or None
        The nodes of a backward chain (rows of their tables; ``None`` where the chain breaks).
    neighbors : polars.DataFrame
        Training images nearest to the predicted image: ``image_id, distance, path, split,
        classes, annotators, decisions``.
    image : dict or None
        The image a forward chain starts from.
    versions, models, predictions : polars.DataFrame
        Forward: dataset versions holding the image, model versions trained on them, and the
        predictions made on this image.
    n_model_predictions : int
        Forward: predictions made by the models trained on this image (any image).
    notes : list of str
        Where the chain breaks and why (e.g. no embeddings yet).

    Examples
    --------
    >>> Lineage("image").summary()
    'image ?: in 0 dataset versions, 0 model versions trained on them, 0 predictions of it'
    """

    start: str
    prediction: dict[str, Any] | None = None
    model: dict[str, Any] | None = None
    run: dict[str, Any] | None = None
    dataset_version: dict[str, Any] | None = None
    taxonomy: dict[str, Any] | None = None
    neighbors: pl.DataFrame = field(default_factory=pl.DataFrame)
    image: dict[str, Any] | None = None
    versions: pl.DataFrame = field(default_factory=pl.DataFrame)
    models: pl.DataFrame = field(default_factory=pl.DataFrame)
    predictions: pl.DataFrame = field(default_factory=pl.DataFrame)
    n_model_predictions: int = 0
    notes: list[str] = field(default_factory=list)

    def summary(self) -> str:
        """One sentence along the chain."""
        if self.start == "image":
            iid = (self.image or {}).get("image_id", "?")
            return (f"image {iid[:12]}: in {self.versions.height} dataset versions, {self.models.height} model "
                    f"versions trained on them, {self.predictions.height} predictions of it")
        p, m, d = self.prediction or {}, self.model or {}, self.dataset_version or {}
        parts = [f"prediction {str(p.get('prediction_id', '?'))[:12]} ({p.get('predicted_class')})"]
        if m:
            parts.append(f"model {m.get('model')}:{str(m.get('version_id'))[:12]}")
        if self.run:
            parts.append(f"run {self.run.get('name') or str(self.run.get('run_id'))[:12]}")
        if d:
            parts.append(f"dataset {d.get('name') or str(d.get('version_id'))[:12]}")
        if self.taxonomy:
            parts.append(f"taxonomy v{self.taxonomy.get('version')}")
        if self.neighbors.height:
            parts.append(f"{self.neighbors.height} nearest training images")
        return " <- ".join(parts)

    def to_dict(self) -> dict[str, Any]:
        """The chain as JSON-able dicts (frames as lists of rows)."""
        def rows(df: pl.DataFrame) -> list[dict[str, Any]]:
            return json.loads(df.write_json()) if df.height else []

        return {"start": self.start, "prediction": self.prediction, "model": self.model, "run": self.run,
                "dataset_version": self.dataset_version, "taxonomy": self.taxonomy,
                "neighbors": rows(self.neighbors), "image": self.image, "versions": rows(self.versions),
                "models": rows(self.models), "predictions": rows(self.predictions),
                "n_model_predictions": self.n_model_predictions, "notes": self.notes}

    def __repr__(self) -> str:
        return f"<Lineage {self.summary()}>"

    def _repr_html_(self) -> str:
        parts = [f"<div><b>Lineage</b> &mdash; {escape(self.summary())}</div>"]
        frames = [("nearest training images", self.neighbors), ("dataset versions", self.versions),
                  ("model versions", self.models), ("predictions of this image", self.predictions)]
        for title, df in frames:
            if df.height:
                show = df.head(12).select([c for c in df.columns if c not in ("path",)])
                head = "".join(f"<th>{escape(c)}</th>" for c in show.columns)
                body = "".join("<tr>" + "".join(f"<td>{escape(_cell(v))}</td>" for v in r) + "</tr>"
                               for r in show.iter_rows())
                parts.append(f"<div><i>{escape(title)}</i><table><tr>{head}</tr>{body}</table></div>")
        parts += [f"<div>{escape(n)}</div>" for n in self.notes]
        return "".join(parts)


def _cell(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.4g}"
    if isinstance(v, list):
        return ", ".join(_cell(x) for x in v)
    return "" if v is None else str(v)


def lineage(ws: Workspace, id: str, *, k: int = 5, embedding: str | None = None) -> Lineage:
    """Backward from a prediction id, or forward from an image id (``ws.lineage``).

    Parameters
    ----------
    ws
        The workspace.
    id
        A prediction id (from ``ws.predictions()``) or an image id (content hash).
    k
        Nearest training images to return for a prediction.
    embedding
        Embedding table or model (as for ``ws.embed``) to search the training images in;
        default: the most recent one holding vectors of the training images.

    Examples
    --------
    >>> ws.lineage(ws.predictions()["prediction_id"][0]).neighbors   # doctest: +SKIP
    >>> ws.lineage(image_id).models                                    # doctest: +SKIP
    """
    if not isinstance(id, str) or not id:
        raise ValueError(f"lineage needs a prediction id or an image id, got {id!r}")
    _index_predictions(ws)
    pred = _one(ws, "predictions", f"prediction_id = {_quote(id)}")
    if pred is not None:
        token = _SEEN.set({})
        try:
            return _backward(ws, pred, k=k, embedding=embedding)
        finally:
            _SEEN.reset(token)
    image = _one(ws, "images", f"image_id = {_quote(id)}")
    if image is not None:
        return _forward(ws, image)
    raise WorkspaceError(f"no prediction or image {id!r} in this workspace "
                         "(ids come from ws.predictions()['prediction_id'] or ws.images()['image_id'])")


def _backward(ws: Workspace, pred: dict[str, Any], *, k: int, embedding: str | None) -> Lineage:
    out = Lineage("prediction", prediction=pred)
    if not pred.get("model_version"):
        out.notes.append("the prediction names no model version: the chain stops here")
        return out
    name = str(pred["model"])
    out.model = _one_memo(ws, "model_versions", f"model = {_quote(name)} AND "
                                           f"version_id = {_quote(str(pred['model_version']))}")
    if out.model is None:
        out.notes.append(f"model version {pred['model']}:{str(pred['model_version'])[:12]} is not registered here")
        return out
    from .._store import aliases as _shared

    held = _memo(ws, ("aliases",), ("model aliases", name),  # this model's only
                 lambda: _shared.fold(_shared.alias_rows(ws.store, "model", name).iter_rows(named=True))[1])
    out.model["aliases"] = sorted(a for a, s in held.items() if s.version_id == str(out.model["version_id"]))
    if out.model.get("run_id"):
        out.run = _one_memo(ws, "runs", f"run_id = {_quote(str(out.model['run_id']))}")
    dv_id = out.model.get("dataset_version")
    if not dv_id:
        out.notes.append("the model version names no dataset version (registered outside a run?)")
        return out
    version = _one_memo(ws, "dataset_versions", f"version_id = {_quote(str(dv_id))}")
    if version is None:  # an id prefix or a name (older records): resolve it the long way
        v = ws.version(str(dv_id))
        version = {"version_id": v.id, "n_images": v.n_images, "n_labels": v.n_labels,
                   "taxonomy_version": v.taxonomy_version}
    from ..datasets._names import names_by_version

    names = _memo(ws, ("dataset_versions", "meta", "events", "aliases"), "dataset names",
                  lambda: names_by_version(ws.store)).get(str(version["version_id"]), [])
    out.dataset_version = {"version_id": version["version_id"], "name": names[-1] if names else None,
                           "n_images": int(version["n_images"]), "n_labels": int(version["n_labels"]),
                           "taxonomy_version": int(version["taxonomy_version"])}
    tv = out.dataset_version["taxonomy_version"]
    if tv:
        out.taxonomy = _one_memo(ws, "taxonomy_versions", f"version = {int(tv)}")
        if out.taxonomy is not None:
            out.taxonomy = {kk: out.taxonomy[kk] for kk in ("version", "created_at", "author", "message")}
    if pred.get("image_id"):
        out.neighbors = _nearest(ws, str(pred["image_id"]), str(version["version_id"]), k=k, embedding=embedding,
                                 notes=out.notes)
    else:
        out.notes.append("the predicted image could not be read when predicted: no nearest training images")
    return out


_NEIGHBORS: dict[str, Any] = {
    "image_id": pl.String, "distance": pl.Float64, "path": pl.String, "split": pl.String,
    "classes": pl.List(pl.String), "annotators": pl.List(pl.String), "decisions": pl.List(pl.String)}


@dataclass
class _Reference:
    """A dataset version's training vectors as searched (cached per store, see :func:`_reference`)."""

    ids: list[str]  # image ids, in the reference table's row order
    n_items: int
    name: str  # the knnref_ table
    index: dict[str, Any] | None
    metric: str
    mu: np.ndarray | None  # l2: the reference's mean and sd (queries are z-scored by them)
    sd: np.ndarray | None
    emb_version: int  # the embedding table's version these vectors were read at
    items: pl.DataFrame  # image_id, recorded_path, split (a version's items never change)
    labels: pl.DataFrame  # image_id, class_name, annotator


# Store -> (version id, embedding table, fingerprint) -> reference. Reading a version's items and
# labels and its vectors costs ~1-3 s at 100k training images; a lineage call then costs ~20 ms.
_CACHE: weakref.WeakKeyDictionary[Any, dict[tuple[str, str, str], _Reference]] = weakref.WeakKeyDictionary()


def _reference(ws: Workspace, version_id: str, rec: dict[str, Any], emb_version: int) -> _Reference | str:
    """The (cached) reference of ``version_id`` in the embedding table of ``rec``; a note when it has none.

    Valid while the embedding table keeps its version (any write to it, e.g. ``ws.embed`` of more
    training images, reads the vectors again); the version's items and labels are immutable.
    """
    from ..drift._novelty import reference_table, scaled_for_search
    from ..embeddings.tables import load_vectors

    table = str(rec["table"])
    per = _CACHE.setdefault(ws.store, {})
    key = (version_id, table, str(rec["fingerprint"]))
    got = per.get(key)
    if got is not None and got.emb_version == emb_version:
        return got
    if got is not None:
        items, labels = got.items, got.labels
    else:
        where = f"version_id = {_quote(version_id)}"
        items = ws.store.read("dataset_items", where=where, columns=["image_id", "path", "split"]).rename(
            {"path": "recorded_path"})
        labels = ws.store.read("dataset_labels", where=where, columns=["image_id", "class_name", "annotator"])
    ids = items["image_id"].to_list()
    ref = load_vectors(ws, table, images=ids)
    n = ref.vectors.shape[0]
    if n == 0:
        return (f"embeddings {table!r} hold none of the {len(ids)} training images: run ws.embed on them")
    metric = str(rec["metric"])
    ref_s, _ = scaled_for_search(metric, ref.vectors, ref.vectors[:1])
    mu = sd = None
    if metric != "cosine":  # as scaled_for_search scales the queries
        mu, sd = ref.vectors.mean(axis=0), ref.vectors.std(axis=0) + 1e-12
    key_table = {"table": table, "fingerprint": rec["fingerprint"], "metric": metric, "ids": ref.image_ids}
    name, index = reference_table(ws, key_table, ref_s, metric, 2000)
    per[key] = _Reference(ref.image_ids, len(ids), name, index, metric, mu, sd, emb_version, items, labels)
    return per[key]


def _embedded_one(ws: Workspace, version_id: str, rec: dict[str, Any], image_id: str, before: int,
                  after: int) -> None:
    """Keep the cached reference valid across the embedding of one predicted image outside it."""
    got = _CACHE.get(ws.store, {}).get((version_id, str(rec["table"]), str(rec["fingerprint"])))
    if got is not None and got.emb_version == before and not got.items["image_id"].is_in([image_id]).any():
        got.emb_version = after


def _query_vector(ws: Workspace, rec: dict[str, Any], image_id: str) -> np.ndarray | None:
    """The stored vector of ``image_id`` in ``rec``'s table (current fingerprint), or None."""
    got = (ws.store.table(rec["table"]).search()
           .where(f"image_id = {_quote(image_id)} AND fingerprint = {_quote(str(rec['fingerprint']))}")
           .select(["vector"]).limit(1).to_arrow())
    return np.asarray(got.column("vector")[0].values, dtype=np.float32) if got.num_rows else None


def _nearest(ws: Workspace, image_id: str, version_id: str, *, k: int, embedding: str | None,
             notes: list[str]) -> pl.DataFrame:
    """:func:`nearest_training_images` of a dataset version by id, through the per-store cache."""
    from ..embeddings import _index as ix
    from ..embeddings._records import _resolve
    from ..embeddings.tables import embed

    empty = pl.DataFrame(schema=_NEIGHBORS)
    records = _memo(ws, ("meta",), "embedding records", lambda: ix.records(ws))
    if not records:
        notes.append("no embeddings in this workspace: run ws.embed(...) to find the nearest training images")
        return empty
    try:
        # None: the most recently computed embeddings (as load_vectors resolves it)
        rec = (max(records.values(), key=lambda r: r.get("updated_at", "")) if embedding is None
               else _resolve(ws, embedding, None))
        table = str(rec["table"])
        query = _query_vector(ws, rec, image_id)
        if query is None:  # the predicted image has no vector yet: embed it (only it)
            before = ws.store.version(table)
            embed(ws, rec["model"], images=[image_id], progress=False)
            query = _query_vector(ws, rec, image_id)
            _embedded_one(ws, version_id, rec, image_id, before, ws.store.version(table))
        emb_version = ws.store.version(table)
        ref = _reference(ws, version_id, rec, emb_version)
    except Exception as error:  # no such embeddings, weights not at hand, an unreadable image: say so
        notes.append(f"no nearest training images: {error}")
        return empty
    if isinstance(ref, str):
        notes.append(ref)
        return empty
    if query is None:
        notes.append(f"embeddings {table!r} hold {len(ref.ids)} of the {ref.n_items} training images and not "
                     "the predicted image: run ws.embed on them")
        return empty
    if len(ref.ids) < ref.n_items:
        notes.append(f"searched the {len(ref.ids)} of {ref.n_items} training images embedded in {table!r}")
    q = query if ref.mu is None else (query - ref.mu) / ref.sd
    try:
        hits = _search(ws, ref, q.astype(np.float32), k)
    except Exception:  # the cached reference table was pruned meanwhile (another kernel): rebuild it once
        _CACHE.get(ws.store, {}).clear()
        again = _reference(ws, version_id, rec, emb_version)
        if isinstance(again, str):
            notes.append(again)
            return empty
        ref, hits = again, _search(ws, again, q.astype(np.float32), k)
    rows = np.asarray(hits.column("row").to_pylist(), dtype=np.int64)
    dist = np.asarray(hits.column("_distance").to_pylist(), dtype=np.float64)
    return _describe(ws, [ref.ids[r] for r in rows], dist, ref.items, ref.labels)


def _search(ws: Workspace, ref: _Reference, vector: np.ndarray, k: int) -> Any:
    q = ws.store.table(ref.name).search(vector, vector_column_name="vector").distance_type(ref.metric).limit(k)
    if ref.index:
        q = q.nprobes(int(ref.index.get("nprobes", 20)))
        if ref.index.get("type") == "IVF_PQ":  # IVF-FLAT (what reference tables get) has exact distances
            q = q.refine_factor(10)
    return q.select(["row", "_distance"]).to_arrow()


def _describe(ws: Workspace, found_ids: list[str], dist: np.ndarray, items: pl.DataFrame,
              labels: pl.DataFrame) -> pl.DataFrame:
    """The found training images with their current path, split, labels, annotators and review decisions."""
    from ..datasets._verify import locate
    from ..embeddings import _index as ix

    found = pl.DataFrame({"image_id": found_ids, "distance": dist}, schema={"image_id": pl.String,
                                                                             "distance": pl.Float64})
    mine = items.filter(pl.col("image_id").is_in(found_ids))
    if "recorded_path" in mine.columns:  # items() of a version (path: where it is now) or the cached items
        mine = mine.select("image_id", "recorded_path", "split")
    else:
        mine = mine.select("image_id", pl.col("path").alias("recorded_path"), "split")
    where = locate(mine, ix.paths(ws, found_ids) if found_ids else pl.DataFrame(
        schema={"image_id": pl.String, "path": pl.String})).select("image_id", "path", "split")
    lab = (labels.filter(pl.col("image_id").is_in(found_ids))
           .group_by("image_id").agg(pl.col("class_name").drop_nulls().alias("classes"),
                                     pl.col("annotator").drop_nulls().unique().sort().alias("annotators")))
    rev = _memo(ws, ("reviews",), "review decisions",  # read again only after a review is recorded
                lambda: ws.store.read("reviews", columns=["image_id", "decision", "reviewer"]))
    rev = rev.filter(pl.col("image_id").is_in(found_ids))
    dec = rev.group_by("image_id").agg(
        (pl.col("decision") + pl.lit(" by ") + pl.col("reviewer").fill_null("?")).alias("decisions"))
    out = (found.join(where, on="image_id", how="left", maintain_order="left")
           .join(lab, on="image_id", how="left", maintain_order="left")
           .join(dec, on="image_id", how="left", maintain_order="left"))
    return out.with_columns(pl.col("classes").fill_null([]), pl.col("annotators").fill_null([]),
                            pl.col("decisions").fill_null([])).select(list(_NEIGHBORS))


def nearest_training_images(ws: Workspace, image_id: str, items: pl.DataFrame, labels: pl.DataFrame, *, k: int,
                            embedding: str | None = None, notes: list[str] | None = None) -> pl.DataFrame:
    """The ``k`` training images (``items`` of a dataset version) nearest to ``image_id``.

    Searched in LanceDB over the version's vectors (cached as a reference table named after
    their content, indexed when large, shared with drift novelty), with the labels, annotators
    and review decisions of each neighbour.

    Examples
    --------
    >>> v = ws.version("baseline")                                                        # doctest: +SKIP
    >>> nearest_training_images(ws, image_id, v.items(), v.labels(), k=5)                 # doctest: +SKIP
    """
    from ..drift._novelty import reference_table, scaled_for_search
    from ..embeddings import _index as ix
    from ..embeddings.tables import embed, load_vectors

    notes = notes if notes is not None else []
    empty = pl.DataFrame(schema=_NEIGHBORS)
    records = ix.records(ws)
    if not records:
        notes.append("no embeddings in this workspace: run ws.embed(...) to find the nearest training images")
        return empty
    ids = items["image_id"].to_list()
    try:
        ref = load_vectors(ws, embedding, images=ids)  # None: the most recently computed embeddings
        table = ref.table
        query = load_vectors(ws, table, images=[image_id])
        if query.vectors.shape[0] == 0:  # the predicted image has no vector yet: embed it (only it)
            embed(ws, records[table]["model"], images=[image_id], progress=False)
            query = load_vectors(ws, table, images=[image_id])
    except Exception as error:  # no such embeddings, weights not at hand, an unreadable image: say so
        notes.append(f"no nearest training images: {error}")
        return empty
    if ref.vectors.shape[0] == 0 or query.vectors.shape[0] == 0:
        notes.append(f"embeddings {table!r} hold {ref.vectors.shape[0]} of the {len(ids)} training images"
                     f"{'' if query.vectors.shape[0] else ' and not the predicted image'}: run ws.embed on them")
        return empty
    if ref.vectors.shape[0] < len(ids):
        notes.append(f"searched the {ref.vectors.shape[0]} of {len(ids)} training images embedded in {table!r}")
    rec = records[table]
    metric = rec["metric"]
    ref_s, q_s = scaled_for_search(metric, ref.vectors, query.vectors)
    key = {"table": table, "fingerprint": rec["fingerprint"], "metric": metric, "ids": ref.image_ids}
    name, index = reference_table(ws, key, ref_s, metric, 2000)
    q = ws.store.table(name).search(q_s[0], vector_column_name="vector").distance_type(metric).limit(k)
    if index:
        q = q.nprobes(int(index.get("nprobes", 20))).refine_factor(10)
    hits = q.select(["row", "_distance"]).to_arrow()
    rows = np.asarray(hits.column("row").to_pylist(), dtype=np.int64)
    dist = np.asarray(hits.column("_distance").to_pylist(), dtype=np.float64)
    return _describe(ws, [ref.image_ids[r] for r in rows], dist, items, labels)


def _forward(ws: Workspace, image: dict[str, Any]) -> Lineage:
    iid = str(image["image_id"])
    out = Lineage("image", image={k: image[k] for k in ("image_id", "path", "source", "captured_at") if k in image})
    items = ws.store.read("dataset_items", where=f"image_id = {_quote(iid)}", columns=["version_id", "split"])
    names = ws.version_names().select("version_id", "name") if items.height else pl.DataFrame(
        schema={"version_id": pl.String, "name": pl.String})
    out.versions = (items.join(names.group_by("version_id").agg(pl.col("name")), on="version_id", how="left")
                    .rename({"name": "names"}))
    vids = out.versions["version_id"].to_list()
    models = ws.store.read("model_versions", columns=["model", "version_id", "dataset_version", "run_id",
                                                      "created_at"])
    via_runs = set()
    for run_id, inputs in ws.store.read("runs", columns=["run_id", "inputs"]).iter_rows():
        try:
            used = {i.get("version_id") for i in json.loads(inputs or "[]") if isinstance(i, dict)}
        except (ValueError, TypeError):
            continue
        if used & set(vids):
            via_runs.add(run_id)
    from ..models.aliases import current_aliases

    held = current_aliases(ws.store)
    out.models = models.filter(pl.col("dataset_version").is_in(vids) | pl.col("run_id").is_in(list(via_runs)))
    out.models = out.models.with_columns(pl.Series(
        "aliases", [held.get((m, v), []) for m, v in out.models.select("model", "version_id").iter_rows()],
        dtype=pl.List(pl.String)))
    out.predictions = ws.store.read(
        "predictions", where=f"image_id = {_quote(iid)}",
        columns=["prediction_id", "time", "model", "model_version", "alias", "predicted_class", "score", "status"],
    ).sort("time")
    mv = out.models["version_id"].to_list()
    if mv:
        quoted = ", ".join(_quote(v) for v in mv)
        out.n_model_predictions = ws.store.count("predictions", f"model_version IN ({quoted})")
    return out
