"""``ws.shadow``: pick logged production answers, get the candidate's answers on the same images (re-run
offline through its own stored preprocessing, or the shadow rows ``cv.Predictor(..., shadow=)`` logged),
pair them, add reviewed labels, build the report and record it as a check (kind ``shadow``)."""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

import numpy as np
import polars as pl

from .._store import WorkspaceError
from ..predictions.log import read_predictions
from .report import SKIPPED_SCHEMA, ShadowReport, build_report

if TYPE_CHECKING:
    from ..models.version import ModelVersion
    from ..workspace import Workspace

NO_BOX = "<no box>"
"""The image-level class of a detector's answer without any box."""


def model_version(ws: Workspace, name: str, ref: Any, what: str) -> ModelVersion:
    """``ref`` of model ``name``: ``"name@alias"``, ``"@alias"``, a version id (or 6+ character prefix), or a
    model version object.

    Examples
    --------
    >>> model_version(ws, "defect-clf", "@candidate", "candidate").alias   # doctest: +SKIP
    'candidate'
    """
    from ..models.version import ModelVersion

    if isinstance(ref, ModelVersion):
        if ref.name != name:
            raise WorkspaceError(f"{what} {ref.ref} is a version of {ref.name!r}, not of {name!r}")
        return ref
    if not isinstance(ref, str) or not ref.strip():
        raise WorkspaceError(f"{what} must be 'name@alias', '@alias' or a version id of {name!r}, got {ref!r}")
    if ref.startswith("@"):
        return ws.model(name + ref)
    if "@" in ref:
        other = ref.partition("@")[0]
        if other != name:
            raise WorkspaceError(f"{what} {ref!r} names model {other!r}; the comparison is of {name!r}")
        return ws.model(ref)
    return ws.model(name, version=ref)


def check_pair(prod: ModelVersion, cand: ModelVersion) -> None:
    """Errors for a comparison that cannot mean anything: one version twice, different classes."""
    if prod.version == cand.version:
        raise WorkspaceError(f"candidate and production are the same version ({prod.short_version}) of "
                             f"{prod.name!r}: nothing to compare")
    if prod.task != cand.task:
        raise WorkspaceError(f"production is a {prod.task} model and the candidate a {cand.task} model")
    only_p, only_c = sorted(set(prod.classes) - set(cand.classes)), sorted(set(cand.classes) - set(prod.classes))
    if only_p or only_c:
        parts = ([f"only production has {only_p}"] if only_p else []) + (
            [f"only the candidate has {only_c}"] if only_c else [])
        raise WorkspaceError(f"{prod.name}: the candidate's classes differ from production's ({'; '.join(parts)}); "
                             "a shadow comparison needs the same classes (compared by name)")


def _ids(values: Any, what: str) -> list[str]:
    if isinstance(values, pl.DataFrame):
        col = "image_id" if "image_id" in values.columns else None
        if col is None:
            raise WorkspaceError(f"{what} frame needs an image_id column, has {values.columns}")
        values = values[col]
    if isinstance(values, str):
        values = [values]
    out = [str(v) for v in (values.to_list() if isinstance(values, pl.Series) else list(values)) if v is not None]
    if not out:
        raise WorkspaceError(f"{what} is empty")
    return out


def select_served(ws: Workspace, prod: ModelVersion, *, since: datetime | date | str | None,
                  until: datetime | date | str | None, source: str | None, images: Any,
                  predictions: pl.DataFrame | None) -> pl.DataFrame:
    """Served, successful predictions of the production version in the selection (every row, oldest first).

    ``images``: image ids or paths; ``predictions``: a frame with ``prediction_id`` (or ``image_id``).
    """
    served = read_predictions(ws.store, model=prod.name, version=prod.version, since=since, until=until,
                              source=source)
    served = served.filter((pl.col("role").is_null() | (pl.col("role") == "served")) & (pl.col("status") == "ok")
                           & pl.col("image_id").is_not_null())
    if images is not None:
        keys = pl.Series(_ids(images, "images"), dtype=pl.String).implode()
        served = served.filter(pl.col("image_id").is_in(keys) | pl.col("path").is_in(keys))
    if predictions is not None:
        if not isinstance(predictions, pl.DataFrame):
            raise WorkspaceError(f"predictions must be a polars DataFrame (e.g. from ws.predictions()), got "
                                 f"{type(predictions).__name__}")
        if "prediction_id" in predictions.columns:
            served = served.filter(pl.col("prediction_id").is_in(predictions["prediction_id"].implode()))
        else:
            served = served.filter(pl.col("image_id").is_in(pl.Series(_ids(predictions, "predictions")).implode()))
    if served.height == 0:
        where = ", ".join(f"{k}={v!r}" for k, v in (("since", since), ("until", until), ("source", source))
                          if v is not None)
        picked = " in the given images/predictions" if images is not None or predictions is not None else ""
        raise WorkspaceError(f"no logged served predictions of {prod.name} {prod.short_version} (production)"
                             f"{' with ' + where if where else ''}{picked}: serve it with cv.Predictor or "
                             "ws.log_predictions first")
    return served


def latest_per_image(frame: pl.DataFrame, sample: int | None, seed: int) -> pl.DataFrame:
    """One row per image (its latest), optionally a seeded sample of ``sample`` images, in time order."""
    one = frame.sort("time", maintain_order=True).unique(subset="image_id", keep="last", maintain_order=True)
    if sample is not None:
        if not isinstance(sample, int) or sample < 1:
            raise WorkspaceError(f"sample must be a positive number of images, got {sample!r}")
        if sample < one.height:
            one = one.sample(n=sample, seed=seed).sort("time", "prediction_id")
    return one


def _top_box_class(boxes: str | None) -> str:
    items = json.loads(boxes) if boxes else []
    if not items:
        return NO_BOX
    return str(max(items, key=lambda b: float(b.get("score") or 0.0)).get("class"))


def _image_class(frame: pl.DataFrame, cls: str, boxes: str) -> pl.DataFrame:
    """Detectors logged without a class: the class of the most confident box (``<no box>`` for none)."""
    if frame[cls].null_count() == 0 or frame[boxes].null_count() == frame.height:
        return frame
    filled = [c if c is not None else _top_box_class(b) for c, b in zip(frame[cls].to_list(), frame[boxes].to_list())]
    return frame.with_columns(pl.Series(cls, filled, dtype=pl.String))


def _readable(served: str | None, registered: str | None) -> str | None:
    """Where to read an image: where it was served, unless that file is gone and the workspace knows
    where it is now (a moved image)."""
    if served is None or ("://" not in served and registered and not os.path.exists(served)):
        return registered
    return served


def rerun(ws: Workspace, cand: ModelVersion, served: pl.DataFrame, *, batch_size: int, device: str | None,
          progress: bool) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The candidate's class and score per served row (re-run through its own preprocessing); the rows it
    could not answer, with the reason."""
    from tqdm.auto import tqdm

    from ..models._inference import run_batches

    if cand.task != "classification":
        raise WorkspaceError(f"re-running a {cand.task} model offline is not supported: log its answers as shadow "
                             "rows (role 'shadow', shadow_of=the served prediction_id) and use logged=True")
    pre = cand.preprocess
    if pre is None:
        raise WorkspaceError(f"{cand.ref} was registered without preprocessing: it cannot be re-run on served images")
    if not pre.runnable:
        raise WorkspaceError(f"{cand.ref}'s preprocessing is a wrapped transform that cannot be rebuilt from its "
                             "record; re-run it yourself and log shadow rows, then use logged=True")
    known = ws.store.read("images", columns=["image_id", "path"]).filter(
        pl.col("image_id").is_in(served["image_id"].implode())).unique("image_id", keep="last")
    frame = served.join(known.rename({"path": "registered_path"}), on="image_id", how="left")
    paths = [_readable(s, r) for s, r in zip(frame["path"].to_list(), frame["registered_path"].to_list())]
    todo = [k for k, p in enumerate(paths) if p is not None]
    skipped: list[tuple[int, str]] = [(k, "no stored path: the image was logged from bytes or an array")
                                      for k, p in enumerate(paths) if p is None]
    classes = list(cand.classes)
    cls: list[str | None] = [None] * len(paths)
    score: list[float | None] = [None] * len(paths)
    net = cand.load()
    if device:
        move = getattr(net, "to", None)
        if not callable(move):
            raise WorkspaceError(f"{cand.ref} cannot be moved to {device!r} (no .to())")
        net = move(device)
    bar = tqdm(total=len(todo), desc=f"shadow {cand.name} {cand.short_version}", unit="image",
               disable=not progress or len(todo) < 64)
    items = [paths[k] for k in todo]
    for res in run_batches(net, pre, items, batch_size=batch_size, device=device):
        for j, row in zip(res.rows, res.scores):
            top = int(np.argmax(row))
            cls[todo[j]], score[todo[j]] = classes[top], float(row[top])
        skipped += [(todo[j], f"cannot read the image: {why}") for j, why in res.failed]
        bar.update(len(res.rows) + len(res.failed))
    bar.close()
    answered = frame.with_columns(pl.Series("candidate_class", cls, dtype=pl.String),
                                  pl.Series("candidate_score", score, dtype=pl.Float64),
                                  pl.Series("path", paths, dtype=pl.String))
    left = pl.DataFrame({"row": [k for k, _ in skipped], "reason": [r for _, r in skipped]},
                        schema={"row": pl.UInt32, "reason": pl.String})
    lost = answered.with_row_index("row").join(left, on="row").select(*SKIPPED_SCHEMA)
    return answered.filter(pl.col("candidate_class").is_not_null()), lost


def logged_pairs(ws: Workspace, cand: ModelVersion, served: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The shadow rows the candidate logged beside ``served`` (joined by ``shadow_of``); failed ones, with why."""
    shadow = read_predictions(ws.store, model=cand.name, version=cand.version).filter(
        (pl.col("role") == "shadow") & pl.col("shadow_of").is_in(served["prediction_id"].implode()))
    if shadow.height == 0:
        raise WorkspaceError(f"no shadow rows of {cand.name} {cand.short_version} were logged beside the selected "
                             "served predictions: serve with cv.Predictor(ws, 'name@production', shadow=...) or "
                             "re-run the candidate offline (logged=False)")
    shadow = shadow.sort("time", maintain_order=True).unique(subset="shadow_of", keep="last", maintain_order=True)
    joined = served.join(shadow.select(pl.col("shadow_of").alias("prediction_id"),
                                       pl.col("predicted_class").alias("candidate_class"),
                                       pl.col("score").alias("candidate_score"),
                                       pl.col("boxes").alias("candidate_boxes"),
                                       pl.col("status").alias("shadow_status"),
                                       pl.col("error").alias("shadow_error")), on="prediction_id", how="inner")
    joined = _image_class(joined, "candidate_class", "candidate_boxes")
    bad = joined.filter((pl.col("shadow_status") != "ok") | pl.col("candidate_class").is_null())
    lost = bad.select("prediction_id", "image_id", "path",
                      pl.concat_str(pl.lit("the shadow model failed: "),
                                    pl.col("shadow_error").fill_null("no answer")).alias("reason"))
    return joined.filter((pl.col("shadow_status") == "ok") & pl.col("candidate_class").is_not_null()), lost


def _known_classes(answered: pl.DataFrame, classes: list[str]) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Rows whose two answers are both among ``classes``; the others as skipped, with the class named."""
    ok_p, ok_c = pl.col("predicted_class").is_in(classes), pl.col("candidate_class").is_in(classes)
    stray = answered.filter(~(ok_p & ok_c)).select(
        "prediction_id", "image_id", "path",
        pl.when(~ok_p).then(pl.concat_str(pl.lit("production's logged class "), pl.col("predicted_class").fill_null("?"),
                                          pl.lit(" is not one of the model's classes")))
        .otherwise(pl.concat_str(pl.lit("the candidate's class "), pl.col("candidate_class"),
                                 pl.lit(" is not one of the model's classes"))).alias("reason"))
    return answered.filter(ok_p & ok_c), stray


def reviewed_labels(ws: Workspace, image_ids: pl.Series, classes: Sequence[str]) -> pl.DataFrame:
    """``image_id, reviewed_class`` of the images whose latest decisive review gives one of ``classes``.

    The labels are resolved as a snapshot resolves them (``labels._resolution``) and the reviewed one is
    taken as ``ws.evaluate`` takes it (``models.evaluate.ground_truth``).
    """
    from ..labels._resolution import DECISIVE, latest_reviews, resolve_labels
    from ..models.evaluate import ground_truth

    empty = pl.DataFrame(schema={"image_id": pl.String, "reviewed_class": pl.String})
    reviews = ws.store.read("reviews").filter(pl.col("image_id").is_in(image_ids.implode()))
    decided = latest_reviews(reviews).filter(pl.col("decision").is_in(DECISIVE))["image_id"].unique()
    if decided.len() == 0:
        return empty
    labels, _ = resolve_labels(ws.store, ws.taxonomy, decided, ws.taxonomy.version)
    truth = ground_truth(labels.filter(pl.col("origin") == "review"))
    return truth.filter(pl.col("truth").is_in(list(classes))).select("image_id", pl.col("truth").alias("reviewed_class"))


def shadow(ws: Workspace, name: str, candidate: Any = "@candidate", production: Any = "@production", *,
           since: datetime | date | str | None = None, until: datetime | date | str | None = None,
           source: str | None = None, images: Any = None, predictions: pl.DataFrame | None = None,
           sample: int | None = None, seed: int = 0, bootstrap: int = 1000, min_agreement: float = 0.9,
           record: bool = True, logged: bool = False, batch_size: int = 32, device: str | None = None,
           progress: bool = True, iou_threshold: float = 0.5) -> ShadowReport:
    """See :meth:`jupyter_cvops.shadow._verbs.ShadowVerbs.shadow`."""
    from ..checks.results import record_check

    if not isinstance(name, str) or not name or "@" in name:
        raise WorkspaceError(f"name is the model's name (e.g. 'defect-clf'), got {name!r}; give the versions "
                             "as candidate= and production=")
    if candidate is None:
        raise WorkspaceError("candidate= is needed: 'name@alias', '@alias' or a version id")
    prod = model_version(ws, name, production, "production")
    cand = model_version(ws, name, candidate, "candidate")
    check_pair(prod, cand)
    served = select_served(ws, prod, since=since, until=until, source=source, images=images, predictions=predictions)
    if logged:
        answered, lost = logged_pairs(ws, cand, served)
        answered = latest_per_image(answered, sample, seed)
    else:
        answered, lost = rerun(ws, cand, latest_per_image(served, sample, seed), batch_size=batch_size,
                               device=device, progress=progress)
    if answered.height == 0:
        reasons = lost["reason"].unique().head(3).to_list()
        raise WorkspaceError(f"the candidate answered none of the {lost.height} selected images ({'; '.join(reasons)})")
    answered = _image_class(answered.rename({"boxes": "production_boxes"}), "predicted_class", "production_boxes")
    classes = list(prod.classes) + ([NO_BOX] if prod.task != "classification" else [])
    answered, stray = _known_classes(answered, classes)
    lost = pl.concat([lost.select(*SKIPPED_SCHEMA), stray]) if stray.height else lost
    if answered.height == 0:
        raise WorkspaceError(f"no selected image has answers of the model's classes ({stray['reason'][0]})")
    truth = reviewed_labels(ws, answered["image_id"], prod.classes)
    pairs = answered.join(truth, on="image_id", how="left").select(
        "prediction_id", "image_id", "path", pl.col("predicted_class").alias("production_class"),
        pl.col("score").alias("production_score"), "candidate_class", "candidate_score", "reviewed_class",
        "production_boxes", *(["candidate_boxes"] if "candidate_boxes" in answered.columns else []))
    report = build_report(pairs, name=name, production_version=prod.version, candidate_version=cand.version,
                          classes=classes, bootstrap=bootstrap, seed=seed, min_agreement=min_agreement, skipped=lost,
                          mode="logged" if logged else "rerun", iou_threshold=iou_threshold)
    if record and not ws.store.readonly:
        params = {"production": prod.version, "candidate": cand.version, "since": since, "until": until,
                  "source": source, "images": None if images is None else len(_ids(images, "images")),
                  "predictions": None if predictions is None else predictions.height, "sample": sample,
                  "seed": seed, "bootstrap": bootstrap, "min_agreement": min_agreement, "logged": logged}
        report.check_id = record_check(ws.store, "shadow", name, parameters=params, result=report.result(),
                                       alert=report.alert, summary=report.summary)
    return report
