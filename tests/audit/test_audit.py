"""``ws.audit()``: a workspace built through the real verbs answers all ten questions yes; one planted
change per question flips its answer (and only the cause is checked, with the evidence naming it)."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import polars as pl
import pytest
from conftest import PRE, World, net

from jupyter_cvops import Preprocess, Workspace, WorkspaceError
from jupyter_cvops._store import now_utc
from jupyter_cvops.audit import AUDIT_MIME, QUESTIONS
from jupyter_cvops.checks import record_check


def answers(ws: Workspace, **options: object) -> dict[int, str]:
    return {a.number: a.answer for a in ws.audit(**options).answers}  # type: ignore[arg-type]


def test_the_built_workspace_scores_ten(world: World) -> None:
    rep = world.ws.audit()
    assert rep.score == 10, rep.text()
    assert [a.number for a in rep.answers] == list(range(1, 11))
    assert all(a.next_step is None for a in rep.answers)
    one = rep.answer(1).evidence
    assert one["version"] == world.mv1 and one["dataset_names"] == ["baseline"] and one["run"]["status"] == "finished"
    assert rep.answer(2).evidence["show"].startswith("ws.lineage(")
    chain = world.ws.lineage(rep.answer(2).evidence["prediction_id"], k=2)  # the evidence is a working call
    assert chain.dataset_version["version_id"] == one["dataset_version"] and chain.neighbors.height == 2
    assert rep.answer(3).evidence["definition_changes"] == 1
    assert rep.answer(5).evidence["served"] == rep.answer(5).evidence["matching"] == 6
    assert rep.answer(9).evidence["rollbacks"] == 1
    ten = rep.answer(10).evidence
    assert ten["lock_hash_ok"] and ten["datasets"][0]["ok"] and ten["datasets"][0]["n_checked"] == 24
    assert [x["points"] for x in rep.areas] == [2, 2, 3, 3]


def test_gate_bypasses_show_in_8_and_9_without_flipping_them(world: World) -> None:
    rep = world.ws.audit()
    for n in (8, 9):
        ev = rep.answer(n).evidence
        assert ev["gate_bypasses"] == 2
        assert [m["action"] for m in ev["bypassed_moves"]] == ["set", "move"]
        assert ev["bypassed_moves"][1]["message"] == "hotfix without the gate"


def test_as_of_is_deterministic_and_later_rows_do_not_count(world: World) -> None:
    at = world.marks["end"]
    first = world.ws.audit(as_of=at).to_dict()
    assert world.ws.audit(as_of=at.isoformat()).to_dict() == first
    assert first["score"] == 10 and first["as_of"] == at.isoformat()
    json.dumps(first)  # JSON as is


def test_empty_workspace_scores_zero_with_a_next_step_each(tmp_path: Path) -> None:
    rep = Workspace.create(tmp_path / "ws").audit()
    assert rep.score == 0 and rep.n_partial == 0
    steps = [a.next_step for a in rep.answers]
    assert all(steps) and len(set(steps)) == 10  # one concrete step per question, not one for all
    assert "cv.Predictor" in steps[4] and "ws.agreement()" in steps[3] and "ws.export_recipe" in steps[6]


# -------------------------------------------------------------------------- one planted flip per question
def test_1_a_production_model_without_its_data_is_no(world: World, tmp_path: Path) -> None:
    ws = world.fork(tmp_path)
    mv = ws.register_model("clf", net(3), preprocess=PRE, classes=["dent", "ok"])  # outside a run, no data
    ws.set_alias("clf", "production", mv.version, reason="trained elsewhere")
    a = ws.audit().answer(1)
    assert a.answer == "no" and a.evidence["version"] == mv.version and "names no dataset version" in a.next_step


def test_2_before_any_prediction_was_logged_is_no(world: World) -> None:
    a = world.ws.audit(as_of=world.marks["predictions"]).answer(2)
    assert a.answer == "no" and a.evidence["prediction_id"] is None and "cv.Predictor" in a.next_step
    assert world.ws.audit(as_of=world.marks["drift"]).answer(2).answer == "yes"


def test_3_taxonomy(world: World, tmp_path: Path) -> None:
    a = world.ws.audit(as_of=world.marks["taxonomy"]).answer(3)
    assert a.answer == "no" and a.evidence["versions"] == 0
    ws = world.fork(tmp_path)  # a version written by hand: no record of what changed
    ws.store.append("taxonomy_versions", [{"version": 3, "parent": 2, "created_at": now_utc(), "author": None,
                                           "message": "edited", "classes": "[]", "changes": "[]"}])
    a = ws.audit().answer(3)
    assert a.answer == "partial" and a.evidence["versions_without_record"] == [3]


def test_4_agreement_checks_missing_or_stale(world: World) -> None:
    assert world.ws.audit(as_of=world.marks["agreement"]).answer(4).answer == "no"
    stale = world.ws.audit(as_of=world.marks["end"] + timedelta(days=31)).answer(4)
    assert stale.answer == "partial" and stale.evidence["last"]["age_days"] > 30 and "days old" in stale.next_step
    assert world.ws.audit(as_of=world.marks["end"] + timedelta(days=31), max_age_days=60).answer(4).answer == "yes"


def test_4_one_annotator_is_partial(world: World, tmp_path: Path) -> None:
    ws = world.fork(tmp_path)
    record_check(ws.store, "agreement", "annotations", parameters={}, alert=False, summary="one annotator",
                 result={"metrics": {}, "n_alerts": 0, "alerts": [], "annotators": ["ana"]})
    a = ws.audit().answer(4)
    assert a.answer == "partial" and a.evidence["annotators"] == 1


def test_5_other_preprocessing_in_serving_then_a_skew_check(world: World, tmp_path: Path) -> None:
    ws = world.fork(tmp_path)
    other = Preprocess(20, crop=16, mean=(0.5, 0.5, 0.5), std=(0.25, 0.25, 0.25))
    prod = sorted((world.root / "prod").iterdir())[:2]
    ws.log_predictions(pl.DataFrame({"path": [str(p) for p in prod], "predicted_class": ["ok", "ok"],
                                     "score": [0.5, 0.6]}), model="clf@production", preprocess=other)
    a = ws.audit().answer(5)
    assert a.answer == "no" and a.evidence["other_preprocessing"] == 2 and a.evidence["matching"] == 6
    assert a.evidence["serving_fingerprints"] == {other.fingerprint[:12]: 2} and "ws.skew" in a.next_step
    target = f"clf:{world.mv1}"
    record_check(ws.store, "skew", target, parameters={}, result={"ok": False}, alert=True, summary="resize differs")
    assert ws.audit().answer(5).answer == "partial"
    record_check(ws.store, "skew", target, parameters={}, result={"ok": True}, alert=False, summary="same now")
    a = ws.audit().answer(5)
    assert a.answer == "yes" and a.evidence["skew_checks"] == 2


def test_6_carries_production_accuracy_on_reviewed_images(world: World, tmp_path: Path) -> None:
    """Reviewed production images give the production model's accuracy (what ws.production_accuracy says),
    beside its evaluation's, in question 6's evidence; reviews after as_of do not count."""
    ws = world.fork(tmp_path)
    assert ws.audit().answer(6).evidence["production_accuracy"]["clf"]["n_reviewed"] == 0
    served = ws.predictions(model="clf").sort("path")
    before = now_utc()
    for image_id, said in served.select("image_id", "predicted_class").head(4).iter_rows():
        ws.decide(image_id, "set", class_name=said if image_id != served["image_id"][0] else
                  ("ok" if said == "dent" else "dent"), reviewer="rita")  # 3 of 4 right
    record_check(ws.store, "evaluation", f"clf:{world.mv1}", parameters={}, result={"overall": {"accuracy": 0.9}},
                 alert=False, summary="accuracy 0.9")
    acc = ws.audit().answer(6).evidence["production_accuracy"]["clf"]
    assert (acc["n_reviewed"], acc["n_correct"], acc["accuracy"], acc["evaluation_accuracy"]) == (4, 3, 0.75, 0.9)
    want = ws.production_accuracy("clf", roles=("served",), version=world.mv1).overall.row(0, named=True)
    assert (acc["ci_low"], acc["ci_high"]) == pytest.approx((want["ci_low"], want["ci_high"]))
    assert ws.audit(as_of=before).answer(6).evidence["production_accuracy"]["clf"]["n_reviewed"] == 0


def test_6_drift_monitoring_missing_or_stale(world: World) -> None:
    a = world.ws.audit(as_of=world.marks["drift"]).answer(6)
    assert a.answer == "no" and "ws.drift('baseline'" in a.next_step
    a = world.ws.audit(as_of=world.marks["end"] + timedelta(days=45)).answer(6)
    assert a.answer == "partial" and a.evidence["reference"] == "baseline"


def test_7_a_failed_recipe_check_is_partial(world: World, tmp_path: Path) -> None:
    ws = world.fork(tmp_path)
    recipe = ws.recipes().row(0, named=True)
    assert world.ws.audit(as_of=world.marks["recipe_check"]).answer(7).answer == "partial"  # never checked
    record_check(ws.store, "recipe", recipe["name"], parameters={"recipe_id": recipe["recipe_id"], "mode": "check"},
                 result={"ok": False, "models": []}, alert=True, summary="accuracy 0.75 -> 0.41")
    a = ws.audit().answer(7)
    assert a.answer == "partial" and "did not reproduce" in a.next_step and a.evidence["last_check"]["ok"] is False
    assert world.ws.audit(as_of=world.marks["alias"]).answer(7).answer == "no"  # not in production yet


def test_8_shadow_report_missing_stale_or_about_other_versions(world: World, tmp_path: Path) -> None:
    assert world.ws.audit(as_of=world.marks["shadow"]).answer(8).answer == "no"
    stale = world.ws.audit(as_of=world.marks["end"] + timedelta(days=40)).answer(8)
    assert stale.answer == "partial" and stale.evidence["last"]["candidate_version"] == world.mv2
    ws = world.fork(tmp_path)
    record_check(ws.store, "shadow", "clf", parameters={}, alert=False, summary="two other versions",
                 result={"production_version": "a" * 32, "candidate_version": "b" * 32, "n": 10, "agreement": 1.0})
    a = ws.audit().answer(8)
    assert a.answer == "partial" and "neither side" in a.next_step


def test_9_rollback_never_exercised_is_partial_and_a_dry_run_counts(world: World, tmp_path: Path) -> None:
    a = world.ws.audit(as_of=world.marks["rollback"]).answer(9)
    assert a.answer == "partial" and a.evidence["would_roll_back_to"] == world.mv1
    ws = world.fork(tmp_path)
    mv = ws.register_model("det", net(5), preprocess=PRE, classes=["dent", "ok"], dataset_version="baseline")
    ws.set_alias("det", "production", mv.version)
    assert ws.audit(model="det").answer(9).answer == "no"  # one holder: nothing to roll back to
    record_check(ws.store, "rollback", "det@production", parameters={"dry_run": True}, alert=False,
                 result={"to": None}, summary="dry run: serving would fall back")
    assert ws.audit(model="det").answer(9).answer == "yes"
    both = ws.audit()  # two models in production: the weakest answer counts, each model's evidence listed
    assert set(both.answer(1).evidence["models"]) == {"clf", "det"}
    assert both.answer(7).answer == "no" and both.answer(7).next_step.startswith("det: ")


def test_10_a_missing_environment_lock_is_partial_with_the_reason(world: World) -> None:
    lock = world.recipe_path / "requirements.lock"
    kept = lock.read_bytes()
    lock.unlink()
    try:
        a = world.ws.audit().answer(10)
        assert a.answer == "partial" and a.evidence["lock_present"] is False
        assert "requirements.lock is missing" in a.evidence["reason"] and "export the recipe again" in a.next_step
        lock.write_bytes(kept + b"# edited\n")
        a = world.ws.audit().answer(10)
        assert a.answer == "partial" and "no longer matches" in a.evidence["reason"]
    finally:
        lock.write_bytes(kept)
    assert world.ws.audit().answer(10).answer == "yes"


def test_10_a_changed_training_file_is_partial(world: World, tmp_path: Path) -> None:
    ws = world.fork(tmp_path)
    img = sorted((world.root / "train").iterdir())[3]
    kept = img.read_bytes()
    img.write_bytes(kept[:-8] + b"changed!")
    try:
        a = ws.audit().answer(10)
        assert a.answer == "partial" and a.evidence["datasets"][0]["n_changed"] == 1 and "baseline" in a.next_step
        assert ws.audit(verify="full").answer(10).answer == "partial"
    finally:
        img.write_bytes(kept)


# ---------------------------------------------------------------------------------------- rendering, input
def test_report_renders_as_text_html_and_mime(world: World) -> None:
    rep = world.ws.audit()
    bundle = rep._repr_mimebundle_()
    assert set(bundle) == {AUDIT_MIME, "text/plain", "text/html"}
    payload = bundle[AUDIT_MIME]
    assert payload == json.loads(json.dumps(payload)) and payload["score"] == 10 and len(payload["answers"]) == 10
    assert [a["question"] for a in payload["answers"]] == [q for _, q, _ in QUESTIONS]
    text = bundle["text/plain"]
    assert text.splitlines()[0].endswith("10/10 yes, 0 partial") and "shown by: ws.lineage(" in text
    assert bundle["text/html"].count("<tr data-answer='yes'>") == 10
    assert repr(rep).startswith("<AuditReport 10/10 yes")


@pytest.mark.parametrize(("options", "message"), [
    ({"verify": "quick"}, "verify must be one of fast, full"),
    ({"max_age_days": 0}, "max_age_days must be a positive number"),
    ({"alias": "clf@production"}, "alias must be an alias name"),
    ({"as_of": "last tuesday"}, "as_of must be a datetime or an ISO date/time string"),
])
def test_bad_input_is_one_clear_error(world: World, options: dict[str, object], message: str) -> None:
    with pytest.raises(WorkspaceError, match=message):
        world.ws.audit(**options)  # type: ignore[arg-type]


def test_a_promotion_through_the_gate_is_not_a_bypass(world: World, tmp_path: Path) -> None:
    ws = world.fork(tmp_path)
    record_check(ws.store, "shadow", "clf", parameters={}, alert=False, summary="clean shadow week",
                 result={"production_version": world.mv1, "candidate_version": world.mv2, "n": 6, "agreement": 1.0,
                         "alert": False})
    ws.promote("clf", world.mv2, to="production", reason="clean shadow week")
    rep = ws.audit()
    ev = rep.answer(8).evidence
    assert ev["version"] == world.mv2 and ev["promotions"] == 1 and ev["gate_bypasses"] == 2
    assert rep.answer(8).answer == "yes" and rep.answer(9).answer == "yes"
    assert rep.answer(7).answer == "no"  # no recipe made mv2: the audit follows the alias
