"""Blast radius: every dataset version, model version and prediction touched by a set of labels.

A bad annotator, a wrong class definition or a batch of mislabelled images reaches
further than its labels: the dataset versions that froze those labels, the model
versions trained on those versions (directly or through a run's inputs), and every
prediction those models made. :func:`impact_tables` computes that from plain frames
(pure, tested on dicts); :func:`impact` reads them from a workspace.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from html import escape
from typing import TYPE_CHECKING, Any

import polars as pl

if TYPE_CHECKING:
    from ..workspace import Workspace

_TS = pl.Datetime("us", "UTC")


@dataclass
class ImpactReport:
    """What a selection of labels touched.

    Attributes
    ----------
    selection : dict
        The filters used (annotator, classes, since, until, images, taxonomy_version).
    labels : polars.DataFrame
        The selected labels as frozen in dataset versions (``version_id, image_id, label_id,
        annotator, class_name, created_at``) plus labels in no version yet (``version_id`` null).
    dataset_versions : polars.DataFrame
        ``version_id, name, n_labels_touched, n_labels, share, n_images_touched``.
    model_versions : polars.DataFrame
        ``model, version_id, dataset_version, run_id, via`` (``dataset`` or ``run input``), ``aliases``.
    predictions : polars.DataFrame
        Per model version: ``model, model_version, n_predictions, n_images, first, last``.

    Examples
    --------
    >>> rep = ImpactReport.empty({"annotator": "eve"})
    >>> rep.summary()
    'annotator=eve: 0 labels in 0 dataset versions; 0 model versions; 0 predictions'
    """

    selection: dict[str, Any]
    labels: pl.DataFrame
    dataset_versions: pl.DataFrame
    model_versions: pl.DataFrame
    predictions: pl.DataFrame
    notes: list[str] = field(default_factory=list)

    @classmethod
    def empty(cls, selection: dict[str, Any]) -> ImpactReport:
        """A report that touched nothing."""
        return cls(selection, pl.DataFrame(schema=_LABELS), pl.DataFrame(schema=_VERSIONS),
                   pl.DataFrame(schema=_MODELS), pl.DataFrame(schema=_PREDS))

    @property
    def n_predictions(self) -> int:
        """Predictions made by the model versions touched."""
        return int(self.predictions["n_predictions"].sum()) if self.predictions.height else 0

    def summary(self) -> str:
        """One sentence: what the selection touched."""
        what = ", ".join(f"{k}={_short(v)}" for k, v in self.selection.items() if v is not None) or "all labels"
        n_labels = self.labels.select(pl.col("label_id").n_unique()).item() if self.labels.height else 0
        return (f"{what}: {n_labels} labels in {self.dataset_versions.height} dataset versions; "
                f"{self.model_versions.height} model versions; {self.n_predictions} predictions")

    def to_dict(self) -> dict[str, Any]:
        """Counts and the touched ids, JSON-able."""
        return {
            "selection": {k: _jsonable(v) for k, v in self.selection.items()},
            "n_labels": int(self.labels.select(pl.col("label_id").n_unique()).item()) if self.labels.height else 0,
            "dataset_versions": self.dataset_versions["version_id"].to_list(),
            "model_versions": [f"{m}:{v}" for m, v in self.model_versions.select("model", "version_id").iter_rows()],
            "n_predictions": self.n_predictions,
            "notes": self.notes,
        }

    def __repr__(self) -> str:
        return f"<ImpactReport {self.summary()}>"

    def _repr_html_(self) -> str:
        rows = [("dataset versions", self.dataset_versions, ["version_id", "name", "n_labels_touched", "share"]),
                ("model versions", self.model_versions, ["model", "version_id", "via", "aliases"]),
                ("predictions", self.predictions, ["model", "model_version", "n_predictions", "first", "last"])]
        parts = [f"<div><b>Blast radius</b> &mdash; {escape(self.summary())}</div>"]
        for title, frame, cols in rows:
            if frame.height == 0:
                continue
            head = "".join(f"<th>{escape(c)}</th>" for c in cols)
            body = "".join("<tr>" + "".join(f"<td>{escape(_short(r[c]))}</td>" for c in cols) + "</tr>"
                           for r in frame.head(20).iter_rows(named=True))
            parts.append(f"<div><i>{escape(title)}</i><table><tr>{head}</tr>{body}</table></div>")
        parts += [f"<div>{escape(n)}</div>" for n in self.notes]
        return "".join(parts)


_LABELS: dict[str, pl.DataType | type[pl.DataType]] = {"version_id": pl.String, "image_id": pl.String, "label_id": pl.String, "annotator": pl.String,
           "class_name": pl.String, "created_at": _TS}
_VERSIONS: dict[str, pl.DataType | type[pl.DataType]] = {"version_id": pl.String, "name": pl.String, "n_labels_touched": pl.UInt32, "n_labels": pl.Int64,
             "share": pl.Float64, "n_images_touched": pl.UInt32}
_MODELS: dict[str, pl.DataType | type[pl.DataType]] = {"model": pl.String, "version_id": pl.String, "dataset_version": pl.String, "run_id": pl.String,
           "via": pl.String, "aliases": pl.List(pl.String)}
_PREDS: dict[str, pl.DataType | type[pl.DataType]] = {"model": pl.String, "model_version": pl.String, "n_predictions": pl.UInt32, "n_images": pl.UInt32,
          "first": _TS, "last": _TS}


def _short(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.3g}"
    if isinstance(v, str) and len(v) == 32 and all(c in "0123456789abcdef" for c in v):
        return v[:12]
    if isinstance(v, (list, tuple)):
        return ", ".join(_short(x) for x in v)
    return "" if v is None else str(v)


def _jsonable(v: Any) -> Any:
    if isinstance(v, datetime):
        return v.isoformat()
    if isinstance(v, (list, tuple, set)):
        return [_jsonable(x) for x in v]
    return v


def select_labels(labels: pl.DataFrame, *, annotator: str | Sequence[str] | None = None,
                  classes: Sequence[str] | None = None, class_ids: Sequence[str] | None = None,
                  since: datetime | None = None, until: datetime | None = None,
                  images: Iterable[str] | None = None, taxonomy_version: int | None = None) -> pl.DataFrame:
    """The rows of ``labels`` the filters select (all filters must hold; None: no filter).

    ``labels`` needs ``annotator, created_at, image_id, class_name`` and, for ``class_ids``
    (current ids of ``classes``, labels mapped forward through renames and merges),
    ``current_class_id``; for ``taxonomy_version``, ``label_taxonomy_version``.

    Examples
    --------
    >>> t = datetime(2026, 1, 1)
    >>> df = pl.DataFrame({"annotator": ["ana", "eve", "eve"], "created_at": [t, t, t],
    ...                    "image_id": ["a", "b", "c"], "class_name": ["dent", "dent", "scuff"]})
    >>> select_labels(df, annotator="eve", classes=["dent"])["image_id"].to_list()
    ['b']
    """
    cond = pl.lit(True)
    if annotator is not None:
        who = [annotator] if isinstance(annotator, str) else list(annotator)
        cond &= pl.col("annotator").is_in(who)
    if classes is not None or class_ids is not None:
        by_class = pl.col("class_name").is_in(list(classes or []))
        if class_ids and "current_class_id" in labels.columns:
            by_class |= pl.col("current_class_id").is_in(list(class_ids))
        cond &= by_class
    if since is not None:
        cond &= pl.col("created_at") >= _bound(labels, since)
    if until is not None:
        cond &= pl.col("created_at") < _bound(labels, until)
    if images is not None:
        cond &= pl.col("image_id").is_in(list(images))
    if taxonomy_version is not None:
        cond &= pl.col("label_taxonomy_version") == taxonomy_version
    return labels.filter(cond.fill_null(False))


def _bound(labels: pl.DataFrame, t: datetime) -> datetime:
    """``t`` comparable with ``labels.created_at``: UTC, naive when the column is (naive times are UTC)."""
    from datetime import timezone

    utc = t.replace(tzinfo=timezone.utc) if t.tzinfo is None else t.astimezone(timezone.utc)
    dtype = labels.schema.get("created_at")
    naive = isinstance(dtype, pl.Datetime) and dtype.time_zone is None
    return utc.replace(tzinfo=None) if naive else utc


def impact_tables(selected: pl.DataFrame, versions: pl.DataFrame, models: pl.DataFrame, runs: pl.DataFrame,
                  predictions: pl.DataFrame, aliases: pl.DataFrame | None = None) -> dict[str, pl.DataFrame]:
    """Follow selected dataset labels to versions, model versions and predictions (pure).

    Parameters
    ----------
    selected
        Selected labels as frozen in versions: ``version_id, image_id, label_id`` (``version_id``
        null for labels in no version).
    versions
        ``version_id, name, n_labels``.
    models
        Model versions: ``model, version_id, dataset_version, run_id``.
    runs
        ``run_id, inputs`` (JSON list of ``{"version_id": ...}``), for models trained on several versions.
    predictions
        Per model version counts: ``model, model_version, n_predictions, n_images, first, last``.
    aliases
        Current model aliases: ``target, name, version_id`` (optional).

    Examples
    --------
    >>> sel = pl.DataFrame({"version_id": ["v1", "v1"], "image_id": ["a", "b"], "label_id": ["l1", "l2"]})
    >>> vers = pl.DataFrame({"version_id": ["v1", "v2"], "name": ["base", None], "n_labels": [4, 9]})
    >>> mods = pl.DataFrame({"model": ["clf", "clf"], "version_id": ["m1", "m2"], "dataset_version": ["v1", "v2"],
    ...                      "run_id": [None, "r2"]})
    >>> runs = pl.DataFrame({"run_id": ["r2"], "inputs": ['[{"version_id": "v1"}, {"version_id": "v2"}]']})
    >>> preds = pl.DataFrame({"model": ["clf"], "model_version": ["m2"], "n_predictions": [7], "n_images": [5],
    ...                       "first": [None], "last": [None]})
    >>> out = impact_tables(sel, vers, mods, runs, preds)
    >>> out["dataset_versions"]["share"].to_list(), out["model_versions"]["via"].to_list()
    ([0.5], ['dataset', 'run input'])
    >>> out["predictions"]["n_predictions"].to_list()
    [7]
    """
    in_versions = selected.filter(pl.col("version_id").is_not_null())
    touched = (in_versions.group_by("version_id")
               .agg(pl.col("label_id").n_unique().alias("n_labels_touched"),
                    pl.col("image_id").n_unique().alias("n_images_touched")))
    dv = (touched.join(versions.select("version_id", "name", "n_labels"), on="version_id", how="left")
          .with_columns((pl.col("n_labels_touched") / pl.col("n_labels")).alias("share"))
          .select(list(_VERSIONS)).sort("version_id"))
    ids = set(dv["version_id"].to_list())
    direct = models.filter(pl.col("dataset_version").is_in(list(ids))).with_columns(pl.lit("dataset").alias("via"))
    via_runs: list[str] = []
    for run_id, inputs in runs.select("run_id", "inputs").iter_rows():
        try:
            used = {i.get("version_id") for i in json.loads(inputs or "[]") if isinstance(i, dict)}
        except (ValueError, TypeError):
            continue
        if used & ids:
            via_runs.append(run_id)
    indirect = (models.filter(pl.col("run_id").is_in(via_runs) & ~pl.col("dataset_version").is_in(list(ids)))
                .with_columns(pl.lit("run input").alias("via")))
    mv = pl.concat([direct.select("model", "version_id", "dataset_version", "run_id", "via"),
                    indirect.select("model", "version_id", "dataset_version", "run_id", "via")])
    if aliases is not None and aliases.height:
        names = (aliases.group_by("target", "version_id").agg(pl.col("name").sort().alias("aliases"))
                 .rename({"target": "model"}))
        mv = mv.join(names, on=["model", "version_id"], how="left")
    else:
        mv = mv.with_columns(pl.lit(None, pl.List(pl.String)).alias("aliases"))
    mv = mv.with_columns(pl.col("aliases").fill_null([])).select(list(_MODELS)).sort("model", "version_id")
    keys = mv.select(pl.col("model"), pl.col("version_id").alias("model_version"))
    preds = predictions.join(keys, on=["model", "model_version"], how="semi") if predictions.height else predictions
    preds = preds.cast({k: v for k, v in _PREDS.items() if k in preds.columns}).select(list(_PREDS))
    return {"dataset_versions": dv, "model_versions": mv, "predictions": preds.sort("model", "model_version")}


def impact(ws: Workspace, *, annotator: str | Sequence[str] | None = None, classes: Sequence[str] | str | None = None,
           since: datetime | None = None, until: datetime | None = None, images: Iterable[str] | None = None,
           taxonomy_version: int | None = None) -> ImpactReport:
    """The blast radius of a set of labels (``ws.impact``): see :meth:`Workspace.impact`.

    Examples
    --------
    >>> ws.impact(annotator="eve", since=datetime(2026, 11, 1)).summary()   # doctest: +SKIP
    'annotator=eve, since=...: 412 labels in 3 dataset versions; 2 model versions; 18204 predictions'
    """
    if isinstance(classes, str):
        classes = [classes]
    images = None if images is None else list(images)
    selection = {"annotator": annotator, "classes": list(classes) if classes else None, "since": since,
                 "until": until, "images": None if images is None else f"{len(images)} images",
                 "taxonomy_version": taxonomy_version}
    store = ws.store
    notes: list[str] = []
    class_ids: list[str] | None = None
    if classes:
        current = ws.taxonomy.classes(include_retired=True) if ws.taxonomy.version else pl.DataFrame()
        if current.height:
            known = set(current["name"].to_list())
            unknown = [c for c in classes if c not in known]
            if unknown:
                raise ValueError(f"unknown class {unknown[0]!r}; classes: {', '.join(sorted(known)[:20])}")
            class_ids = current.filter(pl.col("name").is_in(list(classes)))["id"].to_list()
    dl = store.read("dataset_labels", columns=["version_id", "image_id", "label_id", "annotator", "class_id",
                                               "class_name", "created_at", "label_taxonomy_version"])
    if class_ids and dl.height and ws.taxonomy.version:
        mapped = ws.taxonomy.resolve(dl["class_id"], dl["label_taxonomy_version"])
        dl = dl.with_columns(mapped["class_id"].alias("current_class_id"))
    filters = dict(annotator=annotator, classes=classes, class_ids=class_ids, since=since, until=until,
                   images=images, taxonomy_version=taxonomy_version)
    selected = select_labels(dl, **filters)  # type: ignore[arg-type]
    anns = store.read("annotations", columns=["ann_id", "image_id", "annotator", "class_id", "created_at",
                                              "taxonomy_version"])
    if anns.height:
        names = ws.taxonomy.resolve(anns["class_id"], anns["taxonomy_version"]) if ws.taxonomy.version else None
        anns = anns.rename({"ann_id": "label_id", "taxonomy_version": "label_taxonomy_version"}).with_columns(
            (names["class_name"] if names is not None else pl.lit(None, pl.String)).alias("class_name"),
            (names["class_id"] if names is not None else pl.col("class_id")).alias("current_class_id"))
        loose = select_labels(anns, **filters).filter(  # type: ignore[arg-type]
            ~pl.col("label_id").is_in(dl["label_id"].unique().to_list()))
        if loose.height:
            notes.append(f"{loose.height} selected labels are in no dataset version yet")
            selected = pl.concat([selected.select(list(_LABELS)),
                                  loose.with_columns(pl.lit(None, pl.String).alias("version_id"))
                                  .select(list(_LABELS))])
    if selected.height == 0:
        rep = ImpactReport.empty(selection)
        rep.notes = notes or ["no label matches the selection"]
        return rep
    versions = store.read("dataset_versions", columns=["version_id", "n_labels"]).join(
        ws.version_names().select(pl.col("version_id"), pl.col("name")).unique("version_id", keep="last"),
        on="version_id", how="left")
    models = store.read("model_versions", columns=["model", "version_id", "dataset_version", "run_id"])
    runs = store.read("runs", columns=["run_id", "inputs"])
    keys = models["version_id"].unique().to_list()
    predictions = _prediction_counts(ws, keys)
    aliases = _current_model_aliases(ws)
    out = impact_tables(selected, versions, models, runs, predictions, aliases)
    return ImpactReport(selection, selected.select(list(_LABELS)), out["dataset_versions"], out["model_versions"],
                        out["predictions"], notes)


def _prediction_counts(ws: Workspace, model_versions: list[str]) -> pl.DataFrame:
    """Per model version: predictions made (ok or failed), distinct images, first and last time."""
    if not model_versions or ws.store.count("predictions") == 0:
        return pl.DataFrame(schema=_PREDS)
    quoted = ", ".join("'" + v.replace("'", "''") + "'" for v in model_versions)
    rows = ws.store.read("predictions", where=f"model_version IN ({quoted})",
                         columns=["model", "model_version", "image_id", "time"])
    return (rows.group_by("model", "model_version")
            .agg(pl.len().alias("n_predictions"), pl.col("image_id").n_unique().alias("n_images"),
                 pl.col("time").min().alias("first"), pl.col("time").max().alias("last")))


def _current_model_aliases(ws: Workspace) -> pl.DataFrame:
    """``target, name, version_id`` of every model alias in use now."""
    from ..models.aliases import current_aliases

    rows = [{"target": model, "name": alias, "version_id": vid}
            for (model, vid), names in current_aliases(ws.store).items() for alias in names]
    return pl.DataFrame(rows, schema={"target": pl.String, "name": pl.String, "version_id": pl.String})
