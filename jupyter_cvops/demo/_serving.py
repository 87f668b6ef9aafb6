"""The demo's model story: train a defect classifier in a run, register it, alias it, evaluate it,
serve line-1 through ``cv.Predictor`` and line-2 outside it with a planted preprocessing skew.

Line-2's server loads the same model version but preprocesses with its own ``Preprocess``:
OpenCV's bilinear resize, which does not antialias, where training used PIL's (which does).
It logs its answers with ``ws.log_predictions(..., preprocess=<its Preprocess>)``, so the
workspace holds the serving fingerprint beside the training one; the ground truth names the
fields that differ, for ``ws.skew`` (and its tests) to find.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

import numpy as np
import polars as pl

from . import model as _model  # the demo model (imports torch)
from ._render import CLASSES
from ._scenario import LINE2

if TYPE_CHECKING:
    from ..datasets.versions import DatasetVersion
    from ..workspace import Workspace
    from ._scenario import Scenario

MODEL_NAME = "defect-clf"
ALIAS = "production"
RUN_NAME = "train-defect-clf"


def train_model(ws: Workspace, dataset: str | DatasetVersion, config: _model.TrainConfig, *,
                name: str = MODEL_NAME, run_name: str = RUN_NAME) -> tuple[Any, Any, list[dict[str, float]]]:
    """Train :class:`~jupyter_cvops.demo.model.DefectNet` on ``dataset`` inside ``ws.run`` and register it.

    The run records the dataset version (``run.use``), the config as params, the seed, and per
    epoch ``loss``, ``train_accuracy`` and ``val_accuracy``; the model is registered with its
    preprocessing (``config.side``, PIL bilinear with antialias).

    Returns
    -------
    (run, model_version, history)

    Examples
    --------
    >>> run, mv, history = train_model(ws, "demo-train", TrainConfig.for_image_size(160))   # doctest: +SKIP
    >>> mv.version[:12], history[-1]["val_accuracy"]                                          # doctest: +SKIP
    """
    pre = _model.training_preprocess(config.side)
    with ws.run(run_name, params=config.params()) as run:
        ds = run.use(dataset)
        run.seed(config.seed)
        data = _model.training_data(ds, pre)
        net, history = _model.train_defect_net(data, config, log=run.log_metrics)
        mv = run.register_model(name, net, preprocess=pre, classes=list(CLASSES))
    return run, mv, history


def _true_accuracy(rows: pl.DataFrame, truth: pl.DataFrame) -> float | None:
    joined = rows.join(truth, on="path")
    if joined.height == 0:
        return None
    hits = (joined["predicted_class"] == joined["true_class"]).to_numpy()
    return float(hits.mean())


def serve_line1(ws: Workspace, scenario: Scenario, ref: str) -> pl.DataFrame:
    """Predict every line-1 production day with ``cv.Predictor`` (the model's own preprocessing), one call a day.

    Examples
    --------
    >>> serve_line1(ws, scenario, "defect-clf@production").height   # doctest: +SKIP
    """
    from ..predictions.predictor import Predictor

    camera = scenario.params["camera"]
    prod = scenario.production.filter(pl.col("source") == camera).sort("captured_at")
    out = []
    with Predictor(ws, ref, source=camera, batch_size=64) as predictor:
        for _, day in prod.group_by("day", maintain_order=True):
            out.append(predictor(day["path"].to_list()))
    return pl.concat(out) if out else pl.DataFrame()


def serve_line2(ws: Workspace, scenario: Scenario, ref: str, side: int) -> pl.DataFrame:
    """Serve line-2 outside the Predictor, as another team's server would: load the model, preprocess with
    its own (skewed) ``Preprocess``, and log the answers with ``ws.log_predictions`` (one commit).

    Each prediction's time is its image's capture time plus its latency.

    Examples
    --------
    >>> serve_line2(ws, scenario, "defect-clf@production", 64)["status"].unique().to_list()   # doctest: +SKIP
    ['ok']
    """
    line2 = scenario.production.filter(pl.col("source") == LINE2).sort("captured_at")
    if line2.height == 0:
        return pl.DataFrame()
    mv = ws.model(ref)
    net = mv.load()
    skewed = _model.skewed_preprocess(side)
    frame = _model.predict(net, skewed, line2["path"].to_list(), classes=list(mv.classes))
    frame = frame.with_columns(line2["captured_at"].alias("time")).with_columns(
        pl.col("time") + pl.duration(microseconds=(pl.col("latency_ms") * 1000).round(0).cast(pl.Int64)))
    return ws.log_predictions(frame, model=ref, preprocess=skewed, source=LINE2)


def build_model_story(ws: Workspace, scenario: Scenario, *, dataset: str, seed: int,
                      config: _model.TrainConfig | None = None) -> dict[str, Any]:
    """Train, register, alias, evaluate and serve the demo model; return its facts and the planted skew.

    Returns ``{"model": {...}, "serving_skew": {...}, "timings": {...}}``: the first two join the
    demo's ground truth.

    Examples
    --------
    >>> facts = build_model_story(ws, scenario, dataset="demo-train", seed=0)   # doctest: +SKIP
    >>> facts["serving_skew"]["fields"]                                          # doctest: +SKIP
    ['antialias', 'library']
    """
    t0 = time.perf_counter()
    size = int(scenario.params["image_size"])
    config = config or _model.TrainConfig.for_image_size(size, seed=seed)
    run, mv, history = train_model(ws, dataset, config)
    t1 = time.perf_counter()
    ws.set_alias(MODEL_NAME, ALIAS, mv.version,
                 reason=f"first defect classifier: val accuracy {history[-1]['val_accuracy']:.2f} on {dataset}")
    ref = f"{MODEL_NAME}@{ALIAS}"
    evaluation = ws.evaluate(ref, dataset, split="test", progress=False)
    t2 = time.perf_counter()
    served1 = serve_line1(ws, scenario, ref)
    served2 = serve_line2(ws, scenario, ref, config.side)
    t3 = time.perf_counter()

    truth = scenario.production.select("path", "true_class", "source", "day", "lighting_shift")
    camera = scenario.params["camera"]
    clean = truth.filter((pl.col("source") == camera) & ~pl.col("lighting_shift"))
    lit = truth.filter((pl.col("source") == camera) & pl.col("lighting_shift"))
    test_truth = evaluation.predictions.filter(pl.col("truth").is_not_null())
    majority = (test_truth["truth"].value_counts(sort=True)["count"][0] / test_truth.height
                if test_truth.height else None)
    train_pre, serve_pre = _model.training_preprocess(config.side), _model.skewed_preprocess(config.side)
    train_spec, serve_spec = train_pre.to_spec(), serve_pre.to_spec()
    fields = sorted(k for k in train_spec if train_spec[k] != serve_spec[k])
    model_facts = {
        "name": MODEL_NAME, "alias": ALIAS, "ref": ref, "version": mv.version, "run_id": run.id,
        "run_name": RUN_NAME, "classes": list(CLASSES), "dataset": dataset, "params": config.params(),
        "preprocess_fingerprint": train_pre.fingerprint, "input_side": config.side,
        "history": [{k: round(v, 6) for k, v in h.items() if k != "epoch_s"} for h in history],
        "test_accuracy": evaluation.overall["accuracy"], "test_macro_f1": evaluation.overall["macro_f1"],
        "test_n": evaluation.overall["n"], "test_majority_baseline": majority,
        "evaluation_check_id": evaluation.check_id,
        "served": {camera: served1.height, LINE2: served2.height},
        "accuracy_vs_true_class": {
            f"{camera} before the lighting change": _true_accuracy(served1, clean),
            f"{camera} new lamp": _true_accuracy(served1, lit),
            f"{LINE2} (skewed preprocessing)": _true_accuracy(served2, truth),
        },
        "note": "line-1 is served by cv.Predictor with the model's own preprocessing (no skew); its inputs "
                "drift from the lighting change on, which is input drift, not skew",
    }
    skew = {
        "kind": "resize_antialias", "model": ref, "version": mv.version, "source": LINE2,
        "served_by": "ws.log_predictions", "n_predictions": served2.height, "fields": fields,
        "training": {k: train_spec[k] for k in fields} | {"resize": train_spec["resize"]},
        "serving": {k: serve_spec[k] for k in fields} | {"resize": serve_spec["resize"]},
        "training_fingerprint": train_pre.fingerprint, "serving_fingerprint": serve_pre.fingerprint,
        "clean_sources": [camera],
        "sentence": f"{LINE2} resizes with OpenCV bilinear (INTER_LINEAR) without antialias; training used "
                    "PIL bilinear with antialias",
    }
    if served2.height:
        replay = _replay_difference(train_pre, serve_pre, served2["path"].to_list()[:50])
        skew["mean_abs_diff_levels"] = replay
    timings = {"train_s": t1 - t0, "evaluate_s": t2 - t1, "serve_s": t3 - t2}
    return {"model": model_facts, "serving_skew": skew, "timings": timings}


def _replay_difference(train: Any, serve: Any, paths: list[str]) -> float:
    """Mean absolute difference, in 0-255 grey levels, between the two pipelines' outputs on ``paths``."""
    a, b = train.batch(paths), serve.batch(paths)
    std = np.asarray(train.std, np.float32)[None, :, None, None]
    return round(float(np.abs((a - b) * std).mean() * 255.0), 4)

