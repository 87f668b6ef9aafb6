"""The promotion gate: an alias moves only when recorded evidence holds; a refusal moves nothing and says
why; the move keeps its evidence in the alias history; rollback still steps back one holder."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from tiny_nets import tiny

from jupyter_cvops import Preprocess, PromotionRefused, Workspace
from jupyter_cvops.checks.results import record_check
from jupyter_cvops.models import ModelError, ModelVersion
from jupyter_cvops.models.promotion import judge

CLASSES = ["dent", "scuff", "ok"]


@pytest.fixture
def versions(ws: Workspace, pre: Preprocess) -> list[ModelVersion]:
    return [ws.register_model("defect-clf", tiny(seed=s), preprocess=pre, classes=CLASSES) for s in range(3)]


def shadow_check(ws: Workspace, candidate: str, production: str, *, agreement: float = 0.97, alert: bool = False,
                 reviewed: dict[str, Any] | None = None) -> str:
    """A shadow check as ``ws.shadow`` records it (ShadowReport.result())."""
    return record_check(ws.store, "shadow", "defect-clf", parameters={"candidate": candidate},
                        result={"production_version": production, "candidate_version": candidate, "n": 200,
                                "agreement": agreement, "kappa": 0.9, "reviewed": reviewed, "alert": alert,
                                "alert_reasons": ["agreement below 0.9"] if alert else []},
                        alert=alert, summary="shadow")


def test_judge_each_requirement() -> None:
    shadow = {"check_id": "s1", "result": {"agreement": 0.93, "alert": False, "reviewed": {
        "n": 40, "accuracy_production": 0.90, "accuracy_candidate": 0.80, "mcnemar_p": 0.01}}}
    table = judge({"shadow": True, "min_agreement": 0.95, "no_worse_on_reviewed": True, "min_reviewed": 30},
                  {"holder": "v1", "shadow": shadow})
    assert dict(zip(table["requirement"], table["passed"])) == {
        "shadow": True, "min_agreement": False, "no_worse_on_reviewed": False, "min_reviewed": True}
    assert table.filter(table["requirement"] == "no_worse_on_reviewed")["why"][0].startswith("significantly worse")
    assert set(table["check_id"]) == {"s1"}
    # not significantly worse (p >= 0.05) passes even with a lower point estimate
    shadow["result"]["reviewed"]["mcnemar_p"] = 0.2  # type: ignore[index]
    assert judge({"no_worse_on_reviewed": True}, {"holder": "v1", "shadow": shadow})["passed"].to_list() == [True]
    # the first holder: nothing to compare with
    first = judge({"shadow": True, "min_agreement": 0.99}, {"holder": None, "shadow": None})
    assert first["passed"].all() and first["why"][0].startswith("not applicable")
    missing = judge({"recipe_check": True, "no_skew": True, "min_metric": {"accuracy": 0.9}}, {"holder": "v1"})
    assert not missing["passed"].any() and missing["requirement"].to_list() == [
        "recipe_check", "no_skew", "min_metric.accuracy"]
    found = judge({"no_skew": True, "min_metric": {"accuracy": 0.9, "macro_f1": 0.5}},
                  {"holder": "v1", "skew": {"check_id": "k", "alert": True, "summary": "BGR"},
                   "evaluation": {"check_id": "e", "result": {"overall": {"accuracy": 0.92}}}})
    assert found.select("requirement", "passed").rows() == [
        ("no_skew", False), ("min_metric.accuracy", True), ("min_metric.macro_f1", False)]
    assert "no 'macro_f1'" in found["why"][2]
    with pytest.raises(ModelError, match="unknown promotion requirement"):
        judge({"min_agreemnt": 0.9}, {"holder": "v1"})


def test_refused_then_promoted_with_evidence_then_rolled_back(ws: Workspace, versions: list[ModelVersion]) -> None:
    v1, v2, _ = versions
    ws.set_alias("defect-clf", "production", v1, reason="first rollout")
    with pytest.raises(PromotionRefused, match="no recent shadow report") as refused:
        ws.promote("defect-clf", v2, reason="looks better", require={"min_agreement": 0.95})
    assert refused.value.promotion.failed == ["min_agreement"]
    assert ws.model("defect-clf@production").version == v1.version  # nothing moved
    assert ws.last_check("promotion")["alert"] is True  # type: ignore[index]

    shadow_check(ws, v2.version, v1.version, agreement=0.91)
    with pytest.raises(PromotionRefused, match="agreement 0.910 with the holder is below 0.95"):
        ws.promote("defect-clf", v2, reason="looks better", require={"min_agreement": 0.95})
    dry = ws.promote("defect-clf", v2, reason="x", require={"min_agreement": 0.9}, dry_run=True)
    assert dry.passed and dry.model_version is None and "would pass" in dry.summary
    assert ws.model("defect-clf@production").version == v1.version

    sid = shadow_check(ws, v2.version, v1.version, agreement=0.97)
    done = ws.promote("defect-clf", v2.version[:10], reason="shadow week clean", require={"min_agreement": 0.95})
    assert done.passed and done.model_version is not None and done.model_version.version == v2.version
    assert ws.model("defect-clf@production").version == v2.version
    last = ws.alias_history("defect-clf").row(-1, named=True)
    assert (last["action"], last["version"], last["previous_version"], last["message"]) == (
        "promote", v2.version, v1.version, "shadow week clean")
    evidence = json.loads(last["evidence"])
    assert evidence["gate"] == "promote" and evidence["checks"] == [sid] and evidence["passed"]
    check = ws.last_check("promotion")
    assert check is not None and check["alert"] is False and check["target"] == "defect-clf@production"

    back = ws.rollback("defect-clf", "production", reason="complaints")  # rollback: still one call
    assert back.version == v1.version


def test_only_evidence_about_this_pair_and_recent_counts(ws: Workspace, versions: list[ModelVersion]) -> None:
    v1, v2, v3 = versions
    ws.set_alias("defect-clf", "production", v1)
    shadow_check(ws, v3.version, v1.version)  # another candidate
    shadow_check(ws, v2.version, v3.version)  # against another holder
    with pytest.raises(PromotionRefused):
        ws.promote("defect-clf", v2, reason="r")
    shadow_check(ws, v2.version, v1.version, alert=True)
    with pytest.raises(PromotionRefused, match="raised an alert: agreement below 0.9"):
        ws.promote("defect-clf", v2, reason="r")
    with pytest.raises(PromotionRefused):  # an old report does not count
        shadow_check(ws, v2.version, v1.version)
        ws.promote("defect-clf", v2, reason="r", max_age_days=-1)
    assert ws.promote("defect-clf", v2, reason="r").passed


def test_first_promotion_and_errors(ws: Workspace, versions: list[ModelVersion]) -> None:
    v1, v2, _ = versions
    first = ws.promote("defect-clf", v1, reason="first rollout", require={"shadow": True, "min_agreement": 0.9})
    assert first.passed and ws.model("defect-clf@production").version == v1.version
    with pytest.raises(ModelError, match="needs a reason"):
        ws.promote("defect-clf", v2, reason=" ")
    with pytest.raises(ModelError, match="already points at"):
        ws.promote("defect-clf", v1, reason="again")
    with pytest.raises(ModelError, match="unknown promotion requirement"):
        ws.promote("defect-clf", v2, reason="r", require={"agreement": 0.9})
    assert ws.model("defect-clf@production").version == v1.version


def test_recipe_check_and_skew_evidence(ws: Workspace, versions: list[ModelVersion]) -> None:
    v1, v2, _ = versions
    ws.set_alias("defect-clf", "production", v1)
    require = {"recipe_check": True, "no_skew": True}
    with pytest.raises(PromotionRefused, match="no passing recipe --check"):
        ws.promote("defect-clf", v2, reason="r", require=require)
    # as cv.retrain records them: a --check that reproduced a run registering v2
    record_check(ws.store, "recipe", "train", parameters={"mode": "retrain"},
                 result={"ok": True, "models": [{"name": "defect-clf", "version": v2.version}]}, alert=False,
                 summary="re-run")
    rid = record_check(ws.store, "recipe", "train", parameters={"mode": "check"},
                       result={"ok": True, "models": [{"name": "defect-clf", "version": v2.version}]}, alert=False,
                       summary="reproduced")
    # as ws.skew records it, for the holder: v2 shares its preprocessing, so the holder's serving skew is v2's
    kid = record_check(ws.store, "skew", f"defect-clf:{v1.version}", parameters={}, result={"ok": True},
                       alert=False, summary="serving matches training preprocessing")
    done = ws.promote("defect-clf", v2, reason="reproducible, no skew", require=require)
    assert done.requirements.select("requirement", "passed", "check_id").rows() == [
        ("recipe_check", True, rid), ("no_skew", True, kid)]


def test_rollback_drill_moves_nothing_and_is_recorded(ws: Workspace, versions: list[ModelVersion]) -> None:
    v1, v2, _ = versions
    ws.set_alias("defect-clf", "production", v1)
    with pytest.raises(ModelError, match="cannot roll back"):
        ws.rollback("defect-clf", "production", dry_run=True)
    ws.set_alias("defect-clf", "production", v2)
    rows = ws.alias_history("defect-clf").height
    drill = ws.rollback("defect-clf", "production", reason="quarterly drill", dry_run=True)
    assert drill.version == v1.version and drill.note == f"dry run: would roll back to {v1.version[:12]}, which loads"
    assert ws.model("defect-clf@production").version == v2.version and ws.alias_history("defect-clf").height == rows
    check = ws.last_check("rollback")
    assert check is not None and check["target"] == "defect-clf@production" and check["alert"] is False
    assert check["result"]["to"] == v1.version
    # the version a rollback would return to no longer loads: the drill says so (and still moves nothing)
    path = v1.artifact_path / Path(v1.artifact).name
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    bad = ws.rollback("defect-clf", "production", dry_run=True)
    assert "cannot be loaded (ArtifactIntegrityError" in str(bad.note)
    assert ws.last_check("rollback")["alert"] is True  # type: ignore[index]
    assert ws.model("defect-clf@production").version == v2.version
