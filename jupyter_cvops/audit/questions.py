"""The ten questions, one pure function each: :class:`~jupyter_cvops.audit._facts.Facts` in, an
:class:`~jupyter_cvops.audit.report.Answer` out (yes / partial / no, the evidence, the next step).

Nothing here reads a table or a file: :func:`jupyter_cvops.audit._facts.read_facts` gathered it all as
of one time, so the same facts always give the same answers. Questions about the production model are
answered for each model whose alias (default ``production``) held a version at that time; with several
such models the weakest answer counts and the evidence lists each model.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import polars as pl

from .report import Answer

if TYPE_CHECKING:
    from ._facts import Facts

QUESTIONS: tuple[tuple[int, str, str], ...] = (
    (1, "Can you point to the exact dataset version that trained the model in production?", "models"),
    (2, "Can you trace a specific prediction back to the training images that taught it?", "models"),
    (3, "Is the label taxonomy version-controlled, with a record of when each class definition changed?", "data"),
    (4, "Do automated checks flag when annotation consistency drops between reviewers?", "data"),
    (5, "Is production preprocessing literally the same code as training preprocessing?", "serving"),
    (6, "Is there drift monitoring on production inputs that alerts when the distribution shifts?", "serving"),
    (7, "Can the model be retrained end-to-end with one command from version-controlled artifacts?", "operations"),
    (8, "Is there a staging/shadow mode where a new model predicts on production traffic?", "serving"),
    (9, "Is there a documented, working rollback?", "operations"),
    (10, "Could another engineer retrain from scratch using only what is in the system?", "operations"),
)
"""(number, question, area) of the ten questions (DESIGN.md's self-audit)."""

DEFINITION_OPS = ("rename", "redefine", "merge", "split", "deprecate", "set_parent")
"""Taxonomy operations that change what a class means (``add`` creates one; ``set_color`` only looks)."""
MAX_LISTED = 10
_RANK = {"no": 0, "partial": 1, "yes": 2}

Verdict = tuple[str, dict[str, Any], str | None]  # answer, evidence, next step


def _ask(number: int, answer: str, evidence: dict[str, Any], next_step: str | None) -> Answer:
    _, question, area = QUESTIONS[number - 1]
    return Answer(number, question, area, answer, evidence, next_step)


def _age_days(when: datetime | None, as_of: datetime) -> float | None:
    return None if when is None else round((as_of - when).total_seconds() / 86400, 2)


def _json(text: Any) -> Any:
    try:
        return json.loads(text) if text else {}
    except (TypeError, ValueError):
        return {}


def _short(vid: Any) -> str:
    return str(vid)[:12] if vid else "-"


def _checks(f: Facts, kind: str, target: str | None = None) -> pl.DataFrame:
    ch = f.checks.filter(pl.col("kind") == kind) if f.checks.height else f.checks
    return ch.filter(pl.col("target") == target) if target is not None and ch.height else ch


def _check_brief(row: dict[str, Any], as_of: datetime) -> dict[str, Any]:
    return {"check_id": row["check_id"], "ran": row["created_at"], "age_days": _age_days(row["created_at"], as_of),
            "alert": bool(row["alert"]), "summary": row.get("summary")}


_WITHOUT_PRODUCTION = {
    1: "train it inside a run that uses a dataset version (with ws.run('train') as run: run.use('<dataset>'); "
       "run.register_model('<name>', model, preprocess=pre))",
    2: "then log what it predicts (cv.Predictor) and embed the training images (ws.embed) so ws.lineage reaches them",
    5: "then serve through cv.Predictor(ws, '<name>@production'): it applies the model's own preprocessing and "
       "logs its fingerprint with every prediction",
    7: "export the notebook that trains it as a recipe (ws.export_recipe) and check it: cvops retrain RECIPE --check",
    8: "then shadow each candidate on production traffic before it replaces it: ws.shadow('<name>', "
       "candidate='<name>@candidate')",
    9: "then move it only through ws.promote (recorded in the alias history) and exercise ws.rollback once",
    10: "export its training notebook as a recipe: the notebook, its pinned dataset versions and an environment lock",
}


def _no_production(number: int, f: Facts) -> Answer:
    models = sorted(set(f.model_versions["model"].to_list())) if f.model_versions.height else []
    others = sorted(set(f.aliases["name"].to_list())) if f.aliases.height else []
    evidence = {"alias": f.alias, "models_with_alias": 0, "registered_models": models[:MAX_LISTED],
                "other_aliases": others[:MAX_LISTED], "show": "ws.models()"}
    first = (f"point {f.alias!r} at a version of {models[0]!r} (ws.set_alias({models[0]!r}, {f.alias!r}, version), "
             "or through the promotion gate)" if models else f"no model is registered or in {f.alias!r}")
    return _ask(number, "no", evidence, f"{first}; {_WITHOUT_PRODUCTION[number]}")


def _per_model(number: int, f: Facts, judge: Callable[[Facts, str, str], Verdict]) -> Answer:
    """Answer ``number`` for each production model; the weakest answer counts."""
    if f.production.height == 0:
        return _no_production(number, f)
    found = [(name, *judge(f, name, vid)) for name, vid in f.production.select("model", "version_id").iter_rows()]
    if len(found) == 1:
        _, answer, evidence, step = found[0]
        return _ask(number, answer, evidence, step)
    worst = min(found, key=lambda x: _RANK[x[1]])
    evidence = {"models": {name: ev for name, _, ev, _ in found}, "show": worst[2].get("show")}
    return _ask(number, worst[1], evidence, f"{worst[0]}: {worst[3]}" if worst[3] else None)


def _version_row(f: Facts, name: str, vid: str) -> dict[str, Any]:
    rows = f.model_versions.filter((pl.col("model") == name) & (pl.col("version_id") == vid))
    return rows.row(0, named=True) if rows.height else {"model": name, "version_id": vid}


def _dataset_of(f: Facts, mv: dict[str, Any]) -> tuple[str | None, dict[str, Any] | None]:
    """The dataset version id a model version names (or its run's first input) and its row, if it exists."""
    dv = mv.get("dataset_version")
    if not dv and mv.get("run_id") and f.runs.height:
        run = f.runs.filter(pl.col("run_id") == mv["run_id"])
        inputs = _json(run["inputs"][0]) if run.height else []
        dv = next((i.get("version_id") for i in inputs if isinstance(i, dict) and i.get("version_id")), None)
    if not dv:
        return None, None
    rows = f.dataset_versions.filter(pl.col("version_id").str.starts_with(str(dv)))
    return str(dv), (rows.row(0, named=True) if rows.height == 1 else None)


# ------------------------------------------------------------------------------------------ 1, 2: models
def _training_data(f: Facts, name: str, vid: str) -> Verdict:
    mv = _version_row(f, name, vid)
    ev: dict[str, Any] = {"model": name, "version": vid, "run_id": mv.get("run_id"),
                          "show": f"ws.model({name + '@' + f.alias!r}).dataset_version"}
    run = f.runs.filter(pl.col("run_id") == mv["run_id"]) if mv.get("run_id") and f.runs.height else f.runs.clear()
    if run.height:
        ev["run"] = {"name": run["name"][0], "status": run["status"][0]}
    dv, row = _dataset_of(f, mv)
    if dv is None:
        return "no", ev, (f"{name}:{_short(vid)} names no dataset version: register it inside a run that uses its "
                          "data (with ws.run('train') as run: run.use('<dataset>'); run.register_model(...)) or "
                          "with register_model(..., dataset_version='<dataset>')")
    ev["dataset_version"] = dv
    if row is None:
        return "partial", ev, (f"{name}:{_short(vid)} names dataset version {_short(dv)}, which is not in this "
                               "workspace: snapshot the training data (ws.snapshot) and retrain from it")
    ev.update(dataset_version=row["version_id"], dataset_names=row["names"], n_images=row["n_images"],
              n_labels=row["n_labels"], taxonomy_version=row["taxonomy_version"])
    return "yes", ev, None


def q1_training_data(f: Facts) -> Answer:
    """1: the production model -> its run -> the dataset version it was trained on (which must exist)."""
    return _per_model(1, f, _training_data)


def _traceable(f: Facts, name: str, vid: str) -> Verdict:
    lin = f.lineage.get(name, {})
    mv = _version_row(f, name, vid)
    dv, row = _dataset_of(f, mv)
    ev: dict[str, Any] = {"model": name, "version": vid, "prediction_id": lin.get("prediction_id"),
                          "image_id": lin.get("image_id"), "dataset_version": row["version_id"] if row else dv,
                          "embedding": lin.get("embedding"), "prediction_embedded": lin.get("prediction_embedded"),
                          "training_images": lin.get("n_training"),
                          "training_sample_embedded": f"{lin.get('n_sampled_embedded', 0)}/{lin.get('n_sampled', 0)}"}
    if lin.get("prediction_id"):
        ev["show"] = f"ws.lineage({lin['prediction_id']!r})"
    if row is None:
        return "no", ev, ("the chain stops at the model: it names no dataset version in this workspace "
                          "(see question 1)")
    if not lin.get("prediction_id"):
        return "no", ev, (f"log what production predicts: serve through cv.Predictor(ws, {name + '@' + f.alias!r}) "
                          f"or ws.log_predictions(frame, model={name + '@' + f.alias!r}, preprocess=pre)")
    embed = (f"ws.embed({lin.get('embedding_model') or 'imgstats'!r}, "
             f"images=ws.version({str(row['version_id'])[:12]!r}).items()['image_id'].to_list())")
    if not lin.get("embedding"):
        return "partial", ev, (f"lineage reaches dataset version {_short(row['version_id'])} but not its images: "
                               f"embed them, {embed}")
    if lin.get("n_sampled_embedded", 0) < lin.get("n_sampled", 0):
        return "partial", ev, (f"training images of {_short(row['version_id'])} lack vectors in "
                               f"{lin['embedding']!r} (sampled {ev['training_sample_embedded']}): {embed}")
    if not lin.get("prediction_embedded") and lin.get("embedding_model") != "imgstats":
        return "partial", ev, (f"the predicted images have no vectors in {lin['embedding']!r}: embed them, "
                               f"ws.embed({lin.get('embedding_model')!r}, images=ws.predictions(model="
                               f"{name + '@' + f.alias!r}))")
    return "yes", ev, None


def q2_lineage(f: Facts) -> Answer:
    """2: a served prediction of the production version whose lineage reaches embedded training images."""
    return _per_model(2, f, _traceable)


# ------------------------------------------------------------------------------------------- 3, 4: data
def q3_taxonomy(f: Facts) -> Answer:
    """3: taxonomy versions, each with its recorded changes (who, when, which operations)."""
    tax = f.taxonomy.sort("version")
    if tax.height == 0:
        return _ask(3, "no", {"versions": 0, "show": "ws.taxonomy.history()"},
                    "put the classes under version control: ws.taxonomy.ensure(['scratch', 'dent', ...]) (or "
                    "ws.taxonomy.add(...) and ws.taxonomy.commit('why')); later changes go through "
                    "rename/redefine/merge/split and commit")
    ops: dict[str, int] = {}
    unrecorded, last_definition = [], None
    for row in tax.iter_rows(named=True):
        changes = _json(row["changes"]) or []
        if not changes or not row.get("author") or row.get("created_at") is None:
            unrecorded.append(int(row["version"]))
        for c in changes:
            op = str(c.get("op")) if isinstance(c, dict) else "?"
            ops[op] = ops.get(op, 0) + 1
            if op in DEFINITION_OPS:
                last_definition = row["created_at"]
    ev: dict[str, Any] = {"versions": tax.height, "current": int(tax["version"].max()),  # type: ignore[arg-type]
                          "first": tax["created_at"].min(), "last": tax["created_at"].max(), "operations": ops,
                          "definition_changes": sum(ops.get(o, 0) for o in DEFINITION_OPS),
                          "last_definition_change": last_definition, "show": "ws.taxonomy.history()"}
    unversioned = []
    for name, vid in f.production.select("model", "version_id").iter_rows():
        _, dv_row = _dataset_of(f, _version_row(f, name, vid))
        if dv_row is not None and not dv_row["taxonomy_version"]:
            unversioned.append(str(dv_row["version_id"]))
    if unrecorded:
        ev["versions_without_record"] = unrecorded[:MAX_LISTED]
        return _ask(3, "partial", ev, (f"taxonomy version(s) {', '.join(map(str, unrecorded[:5]))} carry no record "
                                       "of what changed (or by whom): make class changes only through ws.taxonomy "
                                       "(rename/redefine/merge/split, then commit('why')) so each is recorded"))
    if unversioned:
        ev["training_data_without_taxonomy"] = unversioned
        return _ask(3, "partial", ev, (f"the production model's training data ({_short(unversioned[0])}) was "
                                       "snapshotted before the taxonomy was versioned: snapshot it again and retrain"))
    return _ask(3, "yes", ev, None)


def q4_annotation_checks(f: Facts) -> Answer:
    """4: agreement checks (label-drift alerts between annotators) recorded recently, over 2+ annotators."""
    ch = _checks(f, "agreement")
    step = ("ws.agreement() measures agreement between annotators and raises label-drift alerts (recorded as a "
            "check); run it on every new batch of labels (nightly: cvops agreement)")
    if ch.height == 0:
        return _ask(4, "no", {"checks": 0, "max_age_days": f.max_age_days, "show": "ws.checks(kind='agreement')"},
                    step)
    last = ch.row(ch.height - 1, named=True)
    result = _json(last["result"])
    window = ch.filter(pl.col("created_at") >= f.as_of - timedelta(days=f.max_age_days))
    alerts = ch.filter(pl.col("alert"))
    alpha = ((result.get("metrics") or {}).get("krippendorff_alpha") or {}).get("value")
    annotators = list(result.get("annotators") or [])
    ev: dict[str, Any] = {"checks": ch.height, "last": _check_brief(last, f.as_of), "max_age_days": f.max_age_days,
                          "krippendorff_alpha": alpha, "annotators": len(annotators),
                          "label_drift_alerts_last": result.get("n_alerts"), "checks_in_window": window.height,
                          "alerting_checks": alerts.height,
                          "last_alert": alerts["created_at"][-1] if alerts.height else None,
                          "show": "ws.checks(kind='agreement')"}
    if ev["last"]["age_days"] > f.max_age_days:
        return _ask(4, "partial", ev, f"the last agreement check is {ev['last']['age_days']:g} days old (max "
                                      f"{f.max_age_days:g}): {step}")
    if len(annotators) < 2:
        return _ask(4, "partial", ev, ("the last agreement check saw one annotator: nothing to compare; have a second "
                                       "annotator label an overlapping sample, then run ws.agreement()"))
    return _ask(4, "yes", ev, None)


# ---------------------------------------------------------------------------------------- 5, 6, 8: serving
def _total(counts: pl.DataFrame) -> int:
    return int(counts["n"].cast(pl.Int64).sum()) if counts.height else 0


def _same_preprocessing(f: Facts, name: str, vid: str) -> Verdict:
    mv = _version_row(f, name, vid)
    fp = mv.get("preprocess_fingerprint")
    p = f.predictions
    served = p.filter((pl.col("model") == name) & (pl.col("model_version") == vid) & (pl.col("role") == "served")) \
        if p.height else p
    mismatch = served.filter(pl.col("preprocess_fingerprint").is_null() | (pl.col("preprocess_fingerprint") != fp)) \
        if fp else served
    by_fp = mismatch.group_by("preprocess_fingerprint").agg(pl.col("n").sum()).sort("n", descending=True)
    skew = _checks(f, "skew", f"{name}:{vid}")
    newest = mismatch["last"].max() if mismatch.height else None
    ev: dict[str, Any] = {"model": name, "version": vid, "training_fingerprint": fp,
                          "served": _total(served), "matching": _total(served) - _total(mismatch),
                          "other_preprocessing": _total(mismatch),
                          "serving_fingerprints": {_short(k) if k else "none": int(n)
                                                   for k, n in by_fp.head(MAX_LISTED).iter_rows()},
                          "newest_mismatch": newest, "skew_checks": skew.height,
                          "show": f"ws.skew({name + '@' + f.alias!r})"}
    if skew.height:
        ev["last_skew_check"] = _check_brief(skew.row(skew.height - 1, named=True), f.as_of)
    if not fp:
        return "no", ev, (f"{name}:{_short(vid)} records no preprocessing: register it with preprocess=cv.Preprocess"
                          "(...) and serve through cv.Predictor, which applies that same preprocessing")
    if ev["served"] == 0:
        return "no", ev, (f"no served prediction of {name}:{_short(vid)} is logged: serve through cv.Predictor(ws, "
                          f"{name + '@' + f.alias!r}) (it logs the preprocessing fingerprint with each prediction)")
    if ev["other_preprocessing"] == 0:
        return "yes", ev, None
    passed = skew.filter(~pl.col("alert")) if skew.height else skew
    if passed.height and newest is not None and passed["created_at"].max() >= newest:  # type: ignore[operator]
        ev["explained_by"] = passed["check_id"][-1]
        return "yes", ev, None
    fix = (f"serve with ws.model({name + '@' + f.alias!r}).preprocess (or cv.Predictor) and run "
           f"ws.skew({name + '@' + f.alias!r}) again")
    if skew.height:
        return "partial", ev, (f"{ev['other_preprocessing']} served predictions used other preprocessing and no "
                               f"passing skew check came after them: {fix}")
    return "no", ev, (f"{ev['other_preprocessing']} served predictions used other preprocessing "
                      f"({', '.join(ev['serving_fingerprints'])}) and no skew check ran: ws.skew("
                      f"{name + '@' + f.alias!r}) names what differs; then {fix}")


def q5_preprocessing(f: Facts) -> Answer:
    """5: fingerprints of served predictions equal the model's, or a passing skew check came after the mismatches."""
    return _per_model(5, f, _same_preprocessing)


def q6_drift_monitoring(f: Facts) -> Answer:
    """6: input-drift checks recorded recently (when it last ran, what it compared, the alerts); the evidence also
    carries each production model's accuracy on reviewed production images beside its evaluation's."""
    ch = _checks(f, "input_drift")
    name = f.production["model"][0] if f.production.height else "<model>"
    ref = "'<training dataset>'"
    if f.production.height:
        _, row = _dataset_of(f, _version_row(f, name, f.production["version_id"][0]))
        if row is not None:
            ref = repr((row["names"] or [str(row["version_id"])[:12]])[-1])
    step = (f"monitor production inputs: ws.drift({ref}, ws.predictions(model={name + '@' + f.alias!r}), by='1d') "
            "(records a check that alerts on a drifted window; nightly: cvops drift)")
    if ch.height == 0:
        return _ask(6, "no", {"checks": 0, "max_age_days": f.max_age_days, "show": "ws.checks(kind='input_drift')"},
                    step)
    last = ch.row(ch.height - 1, named=True)
    params, result = _json(last["parameters"]), _json(last["result"])
    window = ch.filter(pl.col("created_at") >= f.as_of - timedelta(days=f.max_age_days))
    alerts = ch.filter(pl.col("alert"))
    ev: dict[str, Any] = {"checks": ch.height, "last": _check_brief(last, f.as_of), "max_age_days": f.max_age_days,
                          "reference": params.get("reference", last["target"]), "current": params.get("current"),
                          "windows": result.get("n_windows"), "drifted_windows": result.get("n_drifted"),
                          "checks_in_window": window.height, "alerts_in_window": int(window["alert"].sum()),
                          "last_alert": alerts["created_at"][-1] if alerts.height else None,
                          "production_accuracy": {m: {k: v for k, v in a.items() if k != "evaluation_check"}
                                                  for m, a in f.accuracy.items()},
                          "show": "ws.checks(kind='input_drift')"}
    if ev["last"]["age_days"] > f.max_age_days:
        return _ask(6, "partial", ev, f"drift last ran {ev['last']['age_days']:g} days ago (max "
                                      f"{f.max_age_days:g}): {step}")
    return _ask(6, "yes", ev, None)


def gate_bypasses(f: Facts, name: str) -> list[dict[str, Any]]:
    """Moves of ``name@alias`` made without the promotion gate (a plain ``set_alias``: set/move, no evidence).

    Examples
    --------
    >>> gate_bypasses(facts, "defect-clf")   # doctest: +SKIP
    [{'at': ..., 'action': 'move', 'version': 'ab12...', 'author': 'ana', 'message': 'hotfix'}]
    """
    rows = _alias_rows(f, name)
    rows = rows.filter(pl.col("action").is_in(["set", "move"]) & pl.col("evidence").is_null()) if rows.height else rows
    return [{"at": r["created_at"], "action": r["action"], "version": r["version_id"],
             "previous": r["previous_version_id"], "author": r["author"], "message": r["message"]}
            for r in rows.iter_rows(named=True)]


def _alias_rows(f: Facts, name: str) -> pl.DataFrame:
    a = f.aliases
    return a.filter((pl.col("target") == name) & (pl.col("name") == f.alias)) if a.height else a


def _shadowed(f: Facts, name: str, vid: str) -> Verdict:
    reports = _checks(f, "shadow", name)
    p = f.predictions
    shadow = p.filter((pl.col("model") == name) & (pl.col("role") == "shadow")) if p.height else p
    bypass = gate_bypasses(f, name)
    ev: dict[str, Any] = {"model": name, "version": vid, "shadow_reports": reports.height,
                          "shadow_predictions": _total(shadow),
                          "last_shadow_prediction": shadow["last"].max() if shadow.height else None,
                          "max_age_days": f.max_age_days, "gate_bypasses": len(bypass),
                          "bypassed_moves": bypass[-MAX_LISTED:],
                          "promotions": int(_alias_rows(f, name)["evidence"].is_not_null().sum())
                          if f.aliases.height else 0,
                          "show": f"ws.checks(kind='shadow', target={name!r})"}
    step = (f"predict with the next candidate on production traffic before it replaces {name}@{f.alias}: "
            f"ws.shadow({name!r}, candidate={name + '@candidate'!r}) (or cv.Predictor(ws, {name + '@' + f.alias!r}, "
            f"shadow={name + '@candidate'!r}) to log both)")
    if reports.height == 0:
        if ev["shadow_predictions"]:
            return "partial", ev, f"shadow predictions are logged but no shadow report was made: {step}"
        return "no", ev, step
    last = reports.row(reports.height - 1, named=True)
    result = _json(last["result"])
    ev["last"] = _check_brief(last, f.as_of) | {
        "production_version": result.get("production_version"), "candidate_version": result.get("candidate_version"),
        "n": result.get("n"), "agreement": result.get("agreement")}
    if ev["last"]["age_days"] > f.max_age_days:
        return "partial", ev, f"the last shadow report is {ev['last']['age_days']:g} days old (max " \
                              f"{f.max_age_days:g}): {step}"
    if vid not in (result.get("production_version"), result.get("candidate_version")):
        return "partial", ev, (f"the last shadow report compares neither side with the production version "
                               f"{_short(vid)}: {step}")
    return "yes", ev, None


def q8_shadow(f: Facts) -> Answer:
    """8: a shadow report (check kind ``shadow``) of the production model within ``max_age_days``; gate bypasses
    listed."""
    return _per_model(8, f, _shadowed)


# ---------------------------------------------------------------------------------- 7, 9, 10: operations
def recipes_for(f: Facts, name: str, vid: str) -> pl.DataFrame:
    """Recipes that made model version ``name:vid``: they pin it, reproduce the run that registered it, or
    one of their re-runs registered it. Newest first.

    Examples
    --------
    >>> recipes_for(facts, "defect-clf", version).select("name", "path")   # doctest: +SKIP
    """
    rec = f.recipes
    if rec.height == 0:
        return rec
    mv = _version_row(f, name, vid)
    rerun = set()
    for row in _checks(f, "recipe").iter_rows(named=True):
        models = _json(row["result"]).get("models") or []
        if any(m.get("name") == name and m.get("version") == vid for m in models if isinstance(m, dict)):
            rerun.add(_json(row["parameters"]).get("recipe_id"))
    keep = []
    for row in rec.iter_rows(named=True):
        spec = _json(row["spec"])
        pins = any(m.get("name") == name and m.get("version") == vid for m in spec.get("models") or []
                   if isinstance(m, dict))
        source = (spec.get("source_run") or {}).get("run_id")
        keep.append(pins or row["recipe_id"] in rerun or (bool(source) and source == mv.get("run_id")))
    return rec.filter(pl.Series(keep, dtype=pl.Boolean)).sort("created_at", descending=True)


def _recipe_checks(f: Facts, recipe: dict[str, Any]) -> pl.DataFrame:
    ch = _checks(f, "recipe", recipe["name"])
    if ch.height == 0:
        return ch
    keep = [(_json(p).get("recipe_id") in (None, recipe["recipe_id"])) and _json(p).get("mode") == "check"
            for p in ch["parameters"]]
    return ch.filter(pl.Series(keep, dtype=pl.Boolean))


def _retrainable(f: Facts, name: str, vid: str) -> Verdict:
    recs = recipes_for(f, name, vid)
    ev: dict[str, Any] = {"model": name, "version": vid, "recipes": [
        {"recipe_id": r["recipe_id"], "name": r["name"], "path": r["path"]} for r in recs.head(MAX_LISTED).iter_rows(
            named=True)]}
    if recs.height == 0:
        ev["show"] = "ws.recipes()"
        return "no", ev, (f"export the notebook that trained {name}:{_short(vid)} as a recipe (ws.export_recipe("
                          "'train.ipynb') or %cvops recipe export), then check it: cvops retrain RECIPE --check")
    best, best_check = recs.row(0, named=True), None
    for r in recs.iter_rows(named=True):
        ch = _recipe_checks(f, r)
        if ch.height:
            last = ch.row(ch.height - 1, named=True)
            if best_check is None or (not last["alert"] and best_check["alert"]):
                best, best_check = r, last
    ev["show"] = f"cvops retrain {best['path']} --check"
    if best_check is None:
        return "partial", ev, (f"recipe {best['name']!r} was never checked: run `cvops retrain {best['path']} "
                               "--check` (re-runs the notebook headless and compares its metrics)")
    result = _json(best_check["result"])
    ev["last_check"] = _check_brief(best_check, f.as_of) | {"ok": result.get("ok"), "run_id": result.get("run_id")}
    if best_check["alert"] or result.get("ok") is False:
        return "partial", ev, (f"the last --check of recipe {best['name']!r} did not reproduce "
                               f"({best_check['summary']}): fix it and run `cvops retrain {best['path']} --check`")
    return "yes", ev, None


def q7_retrain(f: Facts) -> Answer:
    """7: a recipe for the production model whose last ``cvops retrain --check`` passed."""
    return _per_model(7, f, _retrainable)


def _rollback(f: Facts, name: str, vid: str) -> Verdict:
    from .._store import aliases as _aliases

    rows = _alias_rows(f, name)
    rollbacks = rows.filter(pl.col("action") == "rollback") if rows.height else rows
    drills = _checks(f, "rollback")
    drills = drills.filter(pl.col("target").is_in([name, f"{name}@{f.alias}"]) & ~pl.col("alert")) \
        if drills.height else drills
    _, state = _aliases.fold(rows.iter_rows(named=True), until=f.as_of)
    held = state.get(f.alias)
    bypass = gate_bypasses(f, name)
    ev: dict[str, Any] = {"model": name, "version": vid, "history_rows": rows.height,
                          "holders": len(set(rows["version_id"].drop_nulls().to_list())) if rows.height else 0,
                          "rollbacks": rollbacks.height, "dry_runs": drills.height,
                          "would_roll_back_to": held.previous if held else None, "gate_bypasses": len(bypass),
                          "bypassed_moves": bypass[-MAX_LISTED:],
                          "show": f"ws.alias_history({name!r}, alias={f.alias!r})"}
    if rollbacks.height:
        last = rollbacks.row(rollbacks.height - 1, named=True)
        ev["last_rollback"] = {"at": last["created_at"], "from": last["previous_version_id"],
                               "to": last["version_id"], "author": last["author"], "message": last["message"]}
        return "yes", ev, None
    if drills.height:
        ev["last_dry_run"] = _check_brief(drills.row(drills.height - 1, named=True), f.as_of)
        return "yes", ev, None
    if ev["would_roll_back_to"]:
        return "partial", ev, (f"a rollback of {name}@{f.alias} was never exercised: drill it with "
                               f"ws.rollback({name!r}, {f.alias!r}, dry_run=True) (loads the previous version, "
                               "moves nothing, records the drill)")
    return "no", ev, (f"only one version ever held {name}@{f.alias}: there is nothing to roll back to; promote the "
                      f"next version through the gate (ws.promote) and exercise ws.rollback({name!r}, {f.alias!r})")


def q9_rollback(f: Facts) -> Answer:
    """9: the production alias's history holds an exercised rollback (or a recorded dry run: a passing check of
    kind ``rollback`` on the model); gate bypasses listed."""
    return _per_model(9, f, _rollback)


def _from_scratch(f: Facts, name: str, vid: str) -> Verdict:
    recs = recipes_for(f, name, vid)
    ev: dict[str, Any] = {"model": name, "version": vid}
    if recs.height == 0:
        ev["show"] = "ws.recipes()"
        return "no", ev, (f"no recipe made {name}:{_short(vid)}: export its training notebook as one "
                          "(ws.export_recipe('train.ipynb')): notebook, pinned data and an environment lock")
    files = [f.recipe_files.get(str(r["recipe_id"]), {}) for r in recs.iter_rows(named=True)]
    ok = [x for x in files if x.get("loads")]
    rf = ok[0] if ok else files[0]
    datasets = [f.dataset_files.get(d, {"version_id": d, "exists": False, "ok": False}) for d in rf.get("datasets", [])]
    ev.update(recipe={"recipe_id": rf.get("recipe_id"), "name": rf.get("name"), "path": rf.get("path")},
              lock=rf.get("lock"), lock_present=rf.get("lock_present"), lock_hash_ok=rf.get("lock_hash_ok"),
              datasets=[{k: d.get(k) for k in ("version_id", "name", "exists", "ok", "mode", "n_checked",
                                                "n_missing", "n_changed")} for d in datasets],
              show=f"cvops retrain {rf.get('path')} --check")
    again = "export the recipe again (ws.export_recipe on the training notebook, overwrite=True)"
    if not rf.get("folder"):
        return "partial", ev, f"{rf.get('problem')}: {again}"
    if not rf.get("lock_present"):
        ev["reason"] = f"the environment lock {rf.get('lock')} is missing"
        return "partial", ev, f"{ev['reason']}: another engineer cannot rebuild the environment; {again}"
    if not rf.get("lock_hash_ok"):
        ev["reason"] = f"the environment lock {rf.get('lock')} no longer matches the hash recorded at export"
        return "partial", ev, f"{ev['reason']}: {again}"
    if not rf.get("loads"):
        ev["reason"] = rf.get("problem")
        return "partial", ev, str(rf.get("problem"))
    if not datasets:
        return "partial", ev, f"the recipe pins no dataset version: {again}"
    bad = [d for d in datasets if not d.get("ok")]
    if bad:
        ev["reason"] = bad[0].get("problem") or f"dataset version {_short(bad[0].get('version_id'))} does not verify"
        return "partial", ev, str(ev["reason"])
    return "yes", ev, None


def q10_from_scratch(f: Facts) -> Answer:
    """10: the recipe's environment lock is on disk and hash-verified, and its dataset versions exist and verify."""
    return _per_model(10, f, _from_scratch)


ASK: tuple[Callable[[Facts], Answer], ...] = (q1_training_data, q2_lineage, q3_taxonomy, q4_annotation_checks,
                                             q5_preprocessing, q6_drift_monitoring, q7_retrain, q8_shadow,
                                             q9_rollback, q10_from_scratch)
"""The ten question functions, in order."""


def answer_all(f: Facts) -> list[Answer]:
    """All ten answers from one set of facts (pure).

    Examples
    --------
    >>> [a.answer for a in answer_all(read_facts(ws, as_of))]   # doctest: +SKIP
    """
    return [ask(f) for ask in ASK]
