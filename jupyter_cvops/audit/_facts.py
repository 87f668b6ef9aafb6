"""Read what the audit needs from a workspace, as of one time: small frames from the tables and a few
facts only the disk knows (recipe files, dataset files, embedding coverage).

Everything here reads; nothing writes. Rows created after ``as_of`` are left out, so an audit as of
a past time answers as it would have then (files on disk and embeddings are checked as they are now).
The questions themselves (:mod:`jupyter_cvops.audit.questions`) are pure functions of :class:`Facts`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import polars as pl

from .._store import WorkspaceError
from .._store import aliases as _aliases

if TYPE_CHECKING:
    from ..workspace import Workspace

LINEAGE_SAMPLE = 64
"""Training images checked for embeddings (seeded sample) when deciding whether lineage resolves."""
LINEAGE_CANDIDATES = 50
"""Newest served predictions of the production version looked at for one whose image is embedded."""

_PRED_COLUMNS = ["prediction_id", "time", "image_id", "model", "model_version", "preprocess_fingerprint",
                 "status", "role"]


def _quote(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


@dataclass
class Facts:
    """What the ten questions are computed from (see :func:`read_facts`).

    Attributes
    ----------
    as_of, alias, max_age_days
        The audit's time, the alias that means "in production", the age after which a check is stale.
    production : polars.DataFrame
        One row per model whose ``alias`` held a version at ``as_of``: model, version_id, set_at, action.
    model_versions, runs, dataset_versions, taxonomy, checks, recipes : polars.DataFrame
        Rows of those tables created at or before ``as_of`` (dataset versions with their current
        ``names``; recipes with their ``spec`` JSON).
    aliases : polars.DataFrame
        Every model alias row (all aliases, all models) at or before ``as_of``.
    predictions : polars.DataFrame
        Logged predictions of the production models' names, aggregated: model, model_version, role,
        preprocess_fingerprint, status, n, first, last.
    lineage : dict
        Per production model: a served prediction whose image is embedded, and how many of a sample
        of its training images are embedded (see :func:`_lineage_facts`).
    recipe_files, dataset_files : dict
        Per recipe id: whether its folder, notebook and environment lock are on disk and match their
        hashes. Per dataset version id a recipe pins: whether its files verify (fast).
    accuracy : dict
        Per production model: its served predictions (up to ``as_of``) of images with a reviewed label
        (the labels as they are now), how many were right, the Wilson interval, and the accuracy its
        newest evaluation gave (see :func:`_production_accuracy`).

    Examples
    --------
    >>> f = read_facts(ws)                       # doctest: +SKIP
    >>> f.production.select("model", "version_id")  # doctest: +SKIP
    """

    as_of: datetime
    alias: str
    max_age_days: float
    production: pl.DataFrame
    model_versions: pl.DataFrame
    runs: pl.DataFrame
    dataset_versions: pl.DataFrame
    taxonomy: pl.DataFrame
    checks: pl.DataFrame
    recipes: pl.DataFrame
    aliases: pl.DataFrame
    predictions: pl.DataFrame
    lineage: dict[str, dict[str, Any]] = field(default_factory=dict)
    recipe_files: dict[str, dict[str, Any]] = field(default_factory=dict)
    dataset_files: dict[str, dict[str, Any]] = field(default_factory=dict)
    accuracy: dict[str, dict[str, Any]] = field(default_factory=dict)


def _until(frame: pl.DataFrame, column: str, as_of: datetime) -> pl.DataFrame:
    if frame.height == 0 or column not in frame.columns:
        return frame
    return frame.filter(pl.col(column).is_null() | (pl.col(column) <= as_of))


def production_holders(aliases: pl.DataFrame, alias: str, as_of: datetime) -> pl.DataFrame:
    """Which version of each model ``alias`` pointed at, at ``as_of`` (pure: a fold of the alias rows).

    Examples
    --------
    >>> from datetime import timezone
    >>> t = datetime(2026, 1, 1, tzinfo=timezone.utc)
    >>> rows = pl.DataFrame({"target": ["clf", "clf"], "name": ["production"] * 2, "action": ["set", "move"],
    ...                      "version_id": ["v1", "v2"], "created_at": [t, t]})
    >>> production_holders(rows, "production", t).select("model", "version_id").row(0)
    ('clf', 'v2')
    """
    schema: dict[str, Any] = {"model": pl.String, "version_id": pl.String, "set_at": pl.Datetime("us", "UTC"),
                              "action": pl.String}
    out = []
    if aliases.height:
        mine = aliases.filter(pl.col("name") == alias)
        for (target,), group in mine.group_by("target", maintain_order=True):
            _, state = _aliases.fold(group.iter_rows(named=True), until=as_of)
            held = state.get(alias)
            if held is not None:
                out.append((str(target), held.version_id, held.row.get("created_at"), held.row.get("action")))
    return pl.DataFrame(out, schema=schema, orient="row").sort("model")


def read_facts(ws: Workspace, as_of: datetime, *, alias: str = "production", model: str | None = None,
               max_age_days: float = 30.0, verify: str = "fast") -> Facts:
    """Read the frames and disk facts of an audit of ``ws`` as of ``as_of`` (see :class:`Facts`).

    Examples
    --------
    >>> from datetime import datetime, timezone
    >>> read_facts(ws, datetime.now(timezone.utc)).production   # doctest: +SKIP
    """
    from .questions import recipes_for

    store = ws.store
    aliases = _until(_aliases.alias_rows(store, "model", all_targets=True), "created_at", as_of)
    production = production_holders(aliases, alias, as_of)
    if model is not None:
        production = production.filter(pl.col("model") == model)
    names = production["model"].to_list()
    model_versions = _until(store.read("model_versions", columns=[
        "model", "version_id", "created_at", "author", "run_id", "dataset_version", "taxonomy_version",
        "preprocess_fingerprint"]), "created_at", as_of)
    runs = _until(store.read("runs", columns=["run_id", "name", "kind", "status", "created_at", "inputs",
                                              "parent_run_id", "notebook"]), "created_at", as_of)
    dataset_versions = _until(store.read("dataset_versions", columns=[
        "version_id", "created_at", "taxonomy_version", "n_images", "n_labels"]), "created_at", as_of)
    if dataset_versions.height:
        from ..datasets._names import names_by_version

        named = names_by_version(store)
        dataset_versions = dataset_versions.with_columns(pl.Series(
            "names", [named.get(v, []) for v in dataset_versions["version_id"]], dtype=pl.List(pl.String)))
    else:
        dataset_versions = dataset_versions.with_columns(pl.lit(None, dtype=pl.List(pl.String)).alias("names"))
    taxonomy = _until(store.read("taxonomy_versions", columns=[
        "version", "parent", "created_at", "author", "message", "changes"]), "created_at", as_of)
    checks = _until(store.read("checks"), "created_at", as_of).sort("created_at", maintain_order=True)
    recipes = _until(store.read("recipes"), "created_at", as_of)
    predictions = _prediction_counts(ws, names, as_of)
    facts = Facts(as_of=as_of, alias=alias, max_age_days=max_age_days, production=production,
                  model_versions=model_versions, runs=runs, dataset_versions=dataset_versions, taxonomy=taxonomy,
                  checks=checks, recipes=recipes, aliases=aliases, predictions=predictions)
    for name, vid in production.select("model", "version_id").iter_rows():
        facts.lineage[name] = _lineage_facts(ws, facts, name, vid)
        facts.accuracy[name] = _production_accuracy(ws, name, vid, as_of)
        for recipe in recipes_for(facts, name, vid).iter_rows(named=True):
            rid = str(recipe["recipe_id"])
            if rid not in facts.recipe_files:
                facts.recipe_files[rid] = _recipe_files(recipe)
            for pin in facts.recipe_files[rid].get("datasets", []):
                if pin and pin not in facts.dataset_files:
                    facts.dataset_files[pin] = _dataset_files(ws, pin, verify)
    return facts


def _production_accuracy(ws: Workspace, name: str, vid: str, as_of: datetime) -> dict[str, Any]:
    """Served predictions of ``name:vid`` on reviewed images: n, correct, accuracy, Wilson 95% interval, and the
    accuracy of the version's newest evaluation. Only reviewed images are resolved, so a million logged
    predictions cost one column read, not a label resolution each."""
    from ..labels._resolution import resolve_labels
    from ..models.evaluate import ground_truth
    from ..predictions.accuracy import wilson_interval
    from ..recipes._due import expected_accuracy

    store = ws.store
    expected, evaluation = expected_accuracy(store, name, vid)
    out: dict[str, Any] = {"n_reviewed": 0, "accuracy": None, "ci_low": None, "ci_high": None,
                           "evaluation_accuracy": expected, "evaluation_check": evaluation,
                           "show": f"ws.production_accuracy({name!r}, version={vid[:12]!r})"}
    reviewed = store.read("reviews", columns=["image_id", "decision", "created_at"])
    reviewed = _until(reviewed.filter(pl.col("decision").is_in(["accept", "set"])), "created_at", as_of)
    if reviewed.height == 0 or not ws.taxonomy.version:
        return out
    served = _until(store.read("predictions", where=f"model = {_quote(name)} AND model_version = {_quote(vid)}",
                               columns=["image_id", "predicted_class", "role", "status", "time"]), "time", as_of)
    served = served.filter((pl.col("role").fill_null("served") == "served") & (pl.col("status") == "ok")
                           & pl.col("image_id").is_in(reviewed["image_id"].unique().implode()))
    if served.height == 0:
        return out
    labels, _ = resolve_labels(store, ws.taxonomy, served["image_id"].unique(), ws.taxonomy.version)
    truth = ground_truth(labels).filter(pl.col("agreement") == "reviewed").select("image_id", "truth")
    judged = served.join(truth, on="image_id", how="inner")
    n, k = judged.height, int((judged["predicted_class"] == judged["truth"]).sum())
    if n:
        lo, hi = wilson_interval(k, n)
        out |= {"n_reviewed": n, "n_correct": k, "accuracy": k / n, "ci_low": float(lo), "ci_high": float(hi)}
    return out


def _prediction_counts(ws: Workspace, names: list[str], as_of: datetime) -> pl.DataFrame:
    """Predictions of the models ``names`` up to ``as_of``, counted per version, role, fingerprint, status."""
    schema: dict[str, Any] = {"model": pl.String, "model_version": pl.String, "role": pl.String,
                              "preprocess_fingerprint": pl.String, "status": pl.String, "n": pl.UInt32,
                              "first": pl.Datetime("us", "UTC"), "last": pl.Datetime("us", "UTC")}
    if not names:
        return pl.DataFrame(schema=schema)
    rows = ws.store.read("predictions", where=f"model IN ({', '.join(_quote(n) for n in names)})",
                         columns=["time", "model", "model_version", "role", "preprocess_fingerprint", "status"])
    rows = _until(rows, "time", as_of)
    out = (rows.group_by("model", "model_version", "role", "preprocess_fingerprint", "status")
           .agg(pl.len().alias("n"), pl.col("time").min().alias("first"), pl.col("time").max().alias("last")))
    out = out.cast(schema)  # type: ignore[arg-type]
    return out.sort("model", "model_version", "role", "status", "preprocess_fingerprint", nulls_last=True)


def _lineage_facts(ws: Workspace, facts: Facts, name: str, vid: str) -> dict[str, Any]:
    """Whether ``ws.lineage`` of a served prediction of ``name:vid`` reaches its training images.

    Cheap: no nearest-neighbour search. It looks for the newest served predictions whose image has a
    vector in the embedding table ``ws.lineage`` would search (the most recently computed one), and
    counts how many of a seeded sample of the training images have one too."""
    from ..embeddings import _index as ix

    store = ws.store
    out: dict[str, Any] = {"prediction_id": None, "image_id": None, "embedding": None, "embedding_model": None,
                           "prediction_embedded": False,
                           "n_training": 0, "n_sampled": 0, "n_sampled_embedded": 0, "note": None}
    row = facts.model_versions.filter(pl.col("version_id") == vid)
    dv = row["dataset_version"][0] if row.height else None
    where = (f"model = {_quote(name)} AND model_version = {_quote(vid)} AND role = 'served' AND status = 'ok' "
             "AND image_id IS NOT NULL")
    served = _until(store.read("predictions", where=where, columns=["prediction_id", "image_id", "time"]), "time",
                    facts.as_of)
    if served.height == 0:
        out["note"] = "no served prediction of this version with a readable image"
        return out
    served = served.sort("time", "prediction_id", descending=True).head(LINEAGE_CANDIDATES)
    out["prediction_id"], out["image_id"] = served["prediction_id"][0], served["image_id"][0]
    records = ix.records(ws)
    if not records:
        out["note"] = "no embeddings in this workspace"
        return out
    rec = max(records.values(), key=lambda r: r.get("updated_at", ""))
    table = str(rec["table"])
    out["embedding"], out["embedding_model"] = table, rec.get("model")
    fp = _quote(str(rec["fingerprint"]))
    ids = ", ".join(_quote(i) for i in dict.fromkeys(served["image_id"].to_list()))
    hit = store.table(table).search().where(f"image_id IN ({ids}) AND fingerprint = {fp}").select(
        ["image_id"]).limit(LINEAGE_CANDIDATES).to_arrow()
    embedded = set(hit.column("image_id").to_pylist())
    for pid, iid in served.select("prediction_id", "image_id").iter_rows():
        if iid in embedded:
            out["prediction_id"], out["image_id"], out["prediction_embedded"] = pid, iid, True
            break
    if not dv:
        return out
    items = store.read("dataset_items", where=f"version_id = {_quote(str(dv))}", columns=["image_id"])
    if items.height == 0:
        resolved = facts.dataset_versions.filter(pl.col("version_id").str.starts_with(str(dv)))
        if resolved.height == 1:
            items = store.read("dataset_items", where=f"version_id = {_quote(resolved['version_id'][0])}",
                               columns=["image_id"])
    train = sorted(items["image_id"].to_list())
    out["n_training"] = len(train)
    if not train:
        return out
    rng = np.random.default_rng(0)
    pick = [train[i] for i in sorted(rng.choice(len(train), min(LINEAGE_SAMPLE, len(train)), replace=False))]
    got = store.table(table).search().where(
        f"image_id IN ({', '.join(_quote(i) for i in pick)}) AND fingerprint = {fp}").select(["image_id"]).limit(
        4 * len(pick)).to_arrow()
    out["n_sampled"], out["n_sampled_embedded"] = len(pick), len(set(got.column("image_id").to_pylist()))
    return out


def _recipe_files(recipe: dict[str, Any]) -> dict[str, Any]:
    """A recipe's files as they are on disk now: folder, notebook, lock (present, hash as exported)."""
    from ..recipes.recipe import SPEC_FILE, Recipe, file_hash

    spec = json.loads(recipe.get("spec") or "{}")
    env = spec.get("environment") or {}
    out: dict[str, Any] = {"recipe_id": recipe["recipe_id"], "name": recipe.get("name"), "path": recipe.get("path"),
                           "datasets": [str(d.get("version_id")) for d in spec.get("datasets") or []],
                           "folder": False, "lock": None, "lock_present": False, "lock_hash_ok": False,
                           "loads": False, "problem": None}
    path = Path(str(recipe.get("path") or ""))
    folder = path.with_name(path.name[: -len(".zip")]) if path.name.endswith(".zip") else path
    if path.name.endswith(".zip") and path.is_file():
        try:
            folder = Recipe.load(path).path
        except Exception as exc:  # an unreadable archive: say why
            out["problem"] = str(exc)
            return out
    out["folder"] = (folder / SPEC_FILE).is_file()
    if not out["folder"]:
        out["problem"] = f"the recipe folder {folder} is gone (no {SPEC_FILE} there)"
        return out
    lock = folder / str(env.get("lock") or "requirements.lock")
    out["lock"] = str(lock)
    out["lock_present"] = lock.is_file()
    if out["lock_present"]:
        out["lock_hash_ok"] = bool(env.get("lock_hash")) and file_hash(lock) == env.get("lock_hash")
    try:
        Recipe.load(folder)
        out["loads"] = True
    except Exception as exc:  # RecipeError (edited, incomplete) or an unreadable file
        out["problem"] = str(exc)
    return out


def _dataset_files(ws: Workspace, version_id: str, verify: str) -> dict[str, Any]:
    """Whether dataset version ``version_id`` exists and its files verify (``verify``: fast or full)."""
    from ..datasets.versions import _get
    from ..recipes._inputs import verify_version

    try:
        version = _get(ws.store, version_id)
    except WorkspaceError as exc:
        return {"version_id": version_id, "exists": False, "ok": False, "problem": str(exc)}
    check = verify_version(ws.store, version, verify)
    return {"version_id": version.id, "name": version.name, "exists": True, "ok": check.ok, "mode": verify,
            "n_checked": check.n_checked, "n_hashed": check.n_hashed, "n_missing": len(check.missing),
            "n_changed": len(check.changed), "problem": check.problem() or None}
