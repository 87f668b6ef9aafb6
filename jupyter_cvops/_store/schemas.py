"""Arrow schemas of every workspace table.

Times are UTC microseconds. JSON-ish payloads (class lists, attributes, environment)
are stored as JSON strings so the schema stays stable while they evolve.
"""

from __future__ import annotations

import pyarrow as pa

TS = pa.timestamp("us", tz="UTC")
BOX = [pa.field(n, pa.float64()) for n in ("x0", "y0", "x1", "y1")]

IMAGES = pa.schema(
    [
        pa.field("image_id", pa.string(), nullable=False),
        pa.field("path", pa.string()),
        pa.field("width", pa.int32()),
        pa.field("height", pa.int32()),
        pa.field("channels", pa.int16()),
        pa.field("format", pa.string()),
        pa.field("bytes", pa.int64()),
        pa.field("mtime_ns", pa.int64()),
        pa.field("source", pa.string()),
        pa.field("captured_at", TS),
        pa.field("registered_at", TS),
    ]
)

ANNOTATIONS = pa.schema(
    [
        pa.field("ann_id", pa.string(), nullable=False),
        pa.field("image_id", pa.string(), nullable=False),
        pa.field("annotator", pa.string()),
        pa.field("created_at", TS),
        pa.field("taxonomy_version", pa.int32()),
        pa.field("class_id", pa.string()),
        pa.field("kind", pa.string()),
        *BOX,
        pa.field("polygon", pa.list_(pa.list_(pa.float64()))),
        pa.field("rle", pa.string()),
        pa.field("attributes", pa.string()),
        pa.field("source_file", pa.string()),
        pa.field("import_batch", pa.string()),
    ]
)

REVIEWS = pa.schema(
    [
        pa.field("review_id", pa.string(), nullable=False),
        pa.field("decision_id", pa.string(), nullable=False),  # rows of one decision share it
        pa.field("image_id", pa.string(), nullable=False),
        pa.field("reviewer", pa.string()),
        pa.field("created_at", TS),
        pa.field("taxonomy_version", pa.int32()),
        pa.field("decision", pa.string()),  # accept | set | flag | comment | clear
        pa.field("class_id", pa.string()),
        pa.field("kind", pa.string()),
        *BOX,
        pa.field("accepted_annotator", pa.string()),
        pa.field("resolved_ann_ids", pa.list_(pa.string())),
        pa.field("reason", pa.string()),  # flag reason: bad_image | out_of_scope | other
        pa.field("comment", pa.string()),
    ]
)

TAXONOMY_VERSIONS = pa.schema(
    [
        pa.field("version", pa.int32(), nullable=False),
        pa.field("parent", pa.int32()),
        pa.field("created_at", TS),
        pa.field("author", pa.string()),
        pa.field("message", pa.string()),
        pa.field("classes", pa.string()),  # JSON list of class dicts
        pa.field("changes", pa.string()),  # JSON list of operations
    ]
)

DATASET_VERSIONS = pa.schema(
    [
        pa.field("version_id", pa.string(), nullable=False),
        pa.field("name", pa.string()),
        pa.field("message", pa.string()),
        pa.field("author", pa.string()),
        pa.field("created_at", TS),
        pa.field("taxonomy_version", pa.int32()),
        pa.field("n_images", pa.int64()),
        pa.field("n_labels", pa.int64()),
        pa.field("splits", pa.string()),  # JSON: spec and counts
        pa.field("policy", pa.string()),  # label resolution policy
        pa.field("table_versions", pa.string()),  # JSON: source table versions/tags
    ]
)

DATASET_NAMES = pa.schema(
    # append-only history of dataset version names (aliases of content ids); rows are never changed
    [
        pa.field("name", pa.string(), nullable=False),
        pa.field("action", pa.string()),  # set | move | remove
        pa.field("version_id", pa.string()),  # where the name points after this row (null: removed)
        pa.field("previous_version_id", pa.string()),  # where it pointed before (move, remove)
        pa.field("author", pa.string()),
        pa.field("created_at", TS),
        pa.field("message", pa.string()),
    ]
)

DATASET_ITEMS = pa.schema(
    [
        pa.field("version_id", pa.string(), nullable=False),
        pa.field("image_id", pa.string(), nullable=False),
        pa.field("path", pa.string()),  # where the file was at snapshot time (items() says where it is now)
        pa.field("bytes", pa.int64()),
        pa.field("width", pa.int32()),
        pa.field("height", pa.int32()),
        pa.field("split", pa.string()),
    ]
)

DATASET_LABELS = pa.schema(
    [
        pa.field("version_id", pa.string(), nullable=False),
        pa.field("image_id", pa.string(), nullable=False),
        pa.field("label_id", pa.string()),  # ann_id or review_id it came from
        pa.field("annotator", pa.string()),
        pa.field("origin", pa.string()),  # review | annotator
        pa.field("status", pa.string()),  # ok | needs_review | flagged
        pa.field("class_id", pa.string()),
        pa.field("class_name", pa.string()),
        pa.field("kind", pa.string()),
        *BOX,
        pa.field("created_at", TS),
        pa.field("label_taxonomy_version", pa.int32()),
    ]
)

EVENTS = pa.schema(
    [
        pa.field("event_id", pa.string(), nullable=False),
        pa.field("time", TS),
        pa.field("actor", pa.string()),
        pa.field("op", pa.string()),
        pa.field("details", pa.string()),  # JSON
    ]
)

RUNS = pa.schema(
    # one row per run, upserted by run_id as it starts and ends (snapshot records are runs of kind "snapshot")
    [
        pa.field("run_id", pa.string(), nullable=False),
        pa.field("created_at", TS),
        pa.field("kind", pa.string()),  # snapshot | run | recipe
        pa.field("dataset_version", pa.string()),  # the first input (older rows: the only one)
        pa.field("taxonomy_version", pa.int32()),
        pa.field("notebook", pa.string()),
        pa.field("user", pa.string()),
        pa.field("info", pa.string()),  # JSON: kernel, environment, parameters
        pa.field("name", pa.string()),
        pa.field("status", pa.string()),  # running | finished | failed
        pa.field("started_at", TS),
        pa.field("ended_at", TS),
        pa.field("params", pa.string()),  # JSON
        pa.field("inputs", pa.string()),  # JSON list: {version_id, name, taxonomy_version}
        pa.field("seeds", pa.string()),  # JSON
        pa.field("metrics", pa.string()),  # JSON: last value of each metric
        pa.field("git_commit", pa.string()),
        pa.field("environment", pa.string()),  # JSON: python, platform, packages, torch/CUDA
        pa.field("error", pa.string()),
        pa.field("parent_run_id", pa.string()),  # a recipe re-run: the run it reproduces
    ]
)

RUN_METRICS = pa.schema(
    [
        pa.field("run_id", pa.string(), nullable=False),
        pa.field("key", pa.string(), nullable=False),
        pa.field("value", pa.float64()),
        pa.field("step", pa.int64()),
        pa.field("time", TS),
    ]
)

ALIASES = pa.schema(
    # append-only history of movable names: dataset version names (kind "dataset", target null)
    # and model aliases (kind "model", target = the model's name); rows are never changed
    [
        pa.field("kind", pa.string(), nullable=False),  # dataset | model
        pa.field("target", pa.string()),  # the model name (null for dataset names)
        pa.field("name", pa.string(), nullable=False),  # the alias / dataset version name
        pa.field("action", pa.string()),  # set | move | remove | rollback
        pa.field("version_id", pa.string()),  # where the name points after this row (null: removed)
        pa.field("previous_version_id", pa.string()),
        pa.field("author", pa.string()),
        pa.field("created_at", TS),
        pa.field("message", pa.string()),  # why
        pa.field("evidence", pa.string()),  # JSON: checks that justified the move (promotion gate)
    ]
)

MODEL_VERSIONS = pa.schema(
    [
        pa.field("model", pa.string(), nullable=False),  # the model's name
        pa.field("version_id", pa.string(), nullable=False),  # hash of weights, preprocessing spec, class list
        pa.field("created_at", TS),
        pa.field("author", pa.string()),
        pa.field("run_id", pa.string()),
        pa.field("dataset_version", pa.string()),
        pa.field("taxonomy_version", pa.int32()),
        pa.field("classes", pa.string()),  # JSON list, in output order
        pa.field("framework", pa.string()),  # torch.export | torchscript | torch-state-dict | skops | ...
        pa.field("task", pa.string()),  # classification | detection
        pa.field("artifact", pa.string()),  # path relative to the workspace's artifact folder
        pa.field("artifact_hash", pa.string()),
        pa.field("artifact_bytes", pa.int64()),
        pa.field("preprocess_fingerprint", pa.string()),
        pa.field("metrics", pa.string()),  # JSON
        pa.field("card", pa.string()),  # Markdown
        pa.field("info", pa.string()),  # JSON: signature, adapter, library versions
    ]
)

PREPROCESS_SPECS = pa.schema(
    [
        pa.field("fingerprint", pa.string(), nullable=False),
        pa.field("created_at", TS),
        pa.field("record", pa.string()),  # JSON: Preprocess.to_record() (spec, libraries, golden summary)
    ]
)

PREDICTIONS = pa.schema(
    [
        pa.field("prediction_id", pa.string(), nullable=False),
        pa.field("time", TS),
        pa.field("image_id", pa.string()),  # content hash (null: the image could not be read)
        pa.field("path", pa.string()),  # where it was (path or URI), kept, not copied
        pa.field("source", pa.string()),
        pa.field("model", pa.string()),
        pa.field("model_version", pa.string()),
        pa.field("alias", pa.string()),  # the alias it was resolved through, at that moment
        pa.field("preprocess_fingerprint", pa.string()),  # the serving side's
        pa.field("predicted_class", pa.string()),
        pa.field("score", pa.float64()),
        pa.field("scores", pa.list_(pa.float32())),  # in the model's class order
        pa.field("boxes", pa.string()),  # JSON, detectors: [{class, score, x0, y0, x1, y1}]
        pa.field("latency_ms", pa.float64()),
        pa.field("status", pa.string()),  # ok | failed
        pa.field("error", pa.string()),
        pa.field("batch_id", pa.string()),
        pa.field("role", pa.string()),  # served | shadow
        pa.field("shadow_of", pa.string()),  # a shadow row: the prediction_id of the served answer it shadows
    ]
)

CHECKS = pa.schema(
    # every check that ran (agreement, label/input drift, skew, evaluation, shadow, recipe): what, on what, result
    [
        pa.field("check_id", pa.string(), nullable=False),
        pa.field("kind", pa.string()),
        pa.field("target", pa.string()),
        pa.field("parameters", pa.string()),  # JSON
        pa.field("result", pa.string()),  # JSON summary
        pa.field("alert", pa.bool_()),
        pa.field("summary", pa.string()),  # one sentence
        pa.field("created_at", TS),
        pa.field("author", pa.string()),
    ]
)

RECIPES = pa.schema(
    # one row per exported retrain recipe (upserted by recipe_id when it is re-run or checked)
    [
        pa.field("recipe_id", pa.string(), nullable=False),
        pa.field("name", pa.string()),
        pa.field("path", pa.string()),  # the recipe folder (or archive) as last exported or re-run
        pa.field("created_at", TS),
        pa.field("author", pa.string()),
        pa.field("notebook_hash", pa.string()),  # content hash of the recipe's notebook (outputs stripped)
        pa.field("workspace", pa.string()),
        pa.field("spec", pa.string()),  # JSON: recipe.yaml as exported
        pa.field("last_check", pa.string()),  # check_id of the last `cvops retrain --check` (kind "recipe")
    ]
)

META = pa.schema([pa.field("key", pa.string(), nullable=False), pa.field("value", pa.string())])

TABLES: dict[str, pa.Schema] = {
    "meta": META,
    "images": IMAGES,
    "annotations": ANNOTATIONS,
    "reviews": REVIEWS,
    "taxonomy_versions": TAXONOMY_VERSIONS,
    "dataset_versions": DATASET_VERSIONS,
    "dataset_names": DATASET_NAMES,
    "dataset_items": DATASET_ITEMS,
    "dataset_labels": DATASET_LABELS,
    "events": EVENTS,
    "runs": RUNS,
    "run_metrics": RUN_METRICS,
    "aliases": ALIASES,
    "model_versions": MODEL_VERSIONS,
    "preprocess_specs": PREPROCESS_SPECS,
    "predictions": PREDICTIONS,
    "checks": CHECKS,
    "recipes": RECIPES,
}
