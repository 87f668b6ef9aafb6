"""Model aliases: set, move, rollback (a stack: again steps further back), remove, the history (never
overwritten), what an alias pointed at in the past, clear errors; dataset names share the table."""

from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone

import polars as pl
import pytest
from tiny_nets import tiny

from jupyter_cvops import Preprocess, Workspace
from jupyter_cvops._store.aliases import fold
from jupyter_cvops.models import ModelError, ModelVersion

CLASSES = ["dent", "scuff", "ok"]


@pytest.fixture
def versions(ws: Workspace, pre: Preprocess) -> list[ModelVersion]:
    return [ws.register_model("defect-clf", tiny(seed=s), preprocess=pre, classes=CLASSES) for s in range(4)]


def test_set_move_and_the_history(ws: Workspace, versions: list[ModelVersion],
                                  monkeypatch: pytest.MonkeyPatch) -> None:
    v1, v2, v3, _ = versions
    monkeypatch.setenv("CVOPS_USER", "ana")
    first = ws.set_alias("defect-clf", "production", v1.version, reason="first rollout")
    assert first.version == v1.version and first.alias == "production" and first.note == "'production' set"
    monkeypatch.setenv("CVOPS_USER", "ben")
    moved = ws.set_alias("defect-clf", "production", v2, reason="better recall", evidence={"check": "c-1"})
    assert moved.note == f"'production' moved from {v1.short_version}"
    same = ws.set_alias("defect-clf", "production", v2.version[:10])
    assert same.note == "'production' already points here"
    ws.set_alias("defect-clf", "candidate", v3)
    assert ws.model("defect-clf@production").version == v2.version
    assert ws.model("defect-clf@candidate").version == v3.version
    hist = ws.alias_history("defect-clf")
    assert hist.columns == ["model", "alias", "action", "version", "previous_version", "author", "created_at",
                            "message", "evidence"]
    assert hist.select("alias", "action", "version", "previous_version", "author", "message").rows() == [
        ("production", "set", v1.version, None, "ana", "first rollout"),
        ("production", "move", v2.version, v1.version, "ben", "better recall"),
        ("candidate", "set", v3.version, None, "ben", None)]
    assert hist["evidence"][1] == '{"check": "c-1"}'
    assert ws.alias_history("defect-clf", alias="candidate").height == 1
    listed = ws.models()
    assert dict(zip(listed["version"], listed["aliases"].to_list()))[v2.version] == ["production"]
    assert ws.model("defect-clf", version=v3.version).aliases == ("candidate",)


def test_rollback_steps_back_one_holder_at_a_time(ws: Workspace, versions: list[ModelVersion]) -> None:
    v1, v2, v3, v4 = versions
    for v in (v1, v2, v3):
        ws.set_alias("defect-clf", "production", v)
    back = ws.rollback("defect-clf", "production", reason="v3 regressed")
    assert back.version == v2.version and back.note == f"rolled back from {v3.short_version}"
    assert ws.rollback("defect-clf", "production").version == v1.version  # again: further back
    with pytest.raises(ModelError, match=rf"cannot roll back defect-clf@production: it points at {v1.short_version} "
                                         "and no earlier version held it"):
        ws.rollback("defect-clf", "production")
    ws.set_alias("defect-clf", "production", v4)
    assert ws.rollback("defect-clf", "production").version == v1.version  # v4 was pushed on what was left
    hist = ws.alias_history("defect-clf")
    assert hist.select("action", "version", "previous_version").rows() == [
        ("set", v1.version, None), ("move", v2.version, v1.version), ("move", v3.version, v2.version),
        ("rollback", v2.version, v3.version), ("rollback", v1.version, v2.version),
        ("move", v4.version, v1.version), ("rollback", v1.version, v4.version)]
    assert hist["message"][3] == "v3 regressed"


def test_rollback_moving_back_to_an_earlier_holder_is_a_move(ws: Workspace, versions: list[ModelVersion]) -> None:
    v1, v2, _, _ = versions
    ws.set_alias("defect-clf", "production", v1)
    ws.set_alias("defect-clf", "production", v2)
    ws.set_alias("defect-clf", "production", v1)  # stack v1, v2, v1
    assert ws.rollback("defect-clf", "production").version == v2.version
    assert ws.rollback("defect-clf", "production").version == v1.version


def test_what_an_alias_pointed_at_then(ws: Workspace, versions: list[ModelVersion]) -> None:
    v1, v2, v3, _ = versions
    times = []
    for v in (v1, v2, v3):
        ws.set_alias("defect-clf", "production", v)
        times.append(datetime.now(timezone.utc))
        time.sleep(0.002)
    ws.rollback("defect-clf", "production")
    times.append(datetime.now(timezone.utc))
    at = [ws.model("defect-clf@production", at=t).version for t in times]
    assert at == [v1.version, v2.version, v3.version, v2.version]
    naive_local = times[0].astimezone().replace(tzinfo=None)  # a naive datetime is local time
    assert ws.model("defect-clf@production", at=naive_local).version == v1.version
    before = ws.alias_history("defect-clf")["created_at"][0] - timedelta(seconds=1)
    with pytest.raises(ModelError, match="defect-clf@production did not exist at .* UTC: it was first set"):
        ws.model("defect-clf@production", at=before)
    assert ws.model("defect-clf", at=times[0]).version == versions[-1].version  # newest registered by then
    with pytest.raises(ModelError, match="had no version yet"):
        ws.model("defect-clf", at=datetime(2000, 1, 1, tzinfo=timezone.utc))


def test_remove_and_errors(ws: Workspace, versions: list[ModelVersion]) -> None:
    v1, v2, _, _ = versions
    ws.set_alias("defect-clf", "production", v1)
    ws.set_alias("defect-clf", "candidate", v2)
    with pytest.raises(ModelError, match=r"model 'defect-clf' has no alias 'prodution'; did you mean 'production'\? "
                                         r"Aliases of 'defect-clf': candidate, production"):
        ws.model("defect-clf@prodution")
    with pytest.raises(ModelError, match=r"no model named 'defect-cls'; did you mean 'defect-clf'\?"):
        ws.model("defect-cls@production")
    with pytest.raises(ModelError, match="no model named 'nope'"):
        ws.set_alias("nope", "production", v1.version)
    with pytest.raises(ModelError, match="that version belongs to model 'defect-clf', not 'other'"):
        ws.set_alias("other", "production", v1)
    with pytest.raises(ModelError, match="no version 'ffffffff'"):
        ws.set_alias("defect-clf", "production", "ffffffff")
    with pytest.raises(ModelError, match="an alias must not contain '@'"):
        ws.set_alias("defect-clf", "prod@1", v1)
    with pytest.raises(ModelError, match="has no alias 'staging'"):
        ws.rollback("defect-clf", "staging")
    removed = ws.remove_alias("defect-clf", "candidate", reason="shadow test over")
    assert removed.version == v2.version and removed.note == "alias 'candidate' removed"
    with pytest.raises(ModelError, match="defect-clf@candidate points at no version: it was removed"):
        ws.model("defect-clf@candidate")
    with pytest.raises(ModelError, match="defect-clf@candidate points at no version: it was removed"):
        ws.rollback("defect-clf", "candidate")
    assert ws.alias_history("defect-clf")["action"].to_list() == ["set", "set", "remove"]
    with pytest.raises(ModelError, match="no model named 'defect'"):
        ws.alias_history("defect")
    assert ws.models().filter(pl.col("version") == v2.version)["aliases"].to_list() == [[]]


def test_aliases_of_two_models_are_separate(ws: Workspace, pre: Preprocess, versions: list[ModelVersion]) -> None:
    other = ws.register_model("seg", tiny(seed=9), preprocess=pre, classes=CLASSES)
    ws.set_alias("defect-clf", "production", versions[0])
    ws.set_alias("seg", "production", other)
    assert ws.model("seg@production").version == other.version
    assert ws.model("defect-clf@production").version == versions[0].version
    assert ws.alias_history().height == 2 and ws.alias_history("seg").height == 1


def test_dataset_names_and_model_aliases_share_one_table(tmp_path: object, shared_data: object,
                                                          ws: Workspace, versions: list[ModelVersion]) -> None:
    ws.set_alias("defect-clf", "production", versions[0])
    # a dataset version named "production" is another row kind in the same table: neither sees the other
    now = datetime.now(timezone.utc)
    ws.store.append("dataset_versions", [{"version_id": "d" * 32, "created_at": now, "taxonomy_version": 0,
                                          "n_images": 0, "n_labels": 0, "splits": "{}", "policy": "{}"}])
    ws.name_version("production", "d" * 32, message="the data in production")
    rows = ws.store.read("aliases")
    assert sorted(zip(rows["kind"], rows["target"], rows["name"])) == [
        ("dataset", None, "production"), ("model", "defect-clf", "production")]
    assert ws.version("production").id == "d" * 32
    assert ws.model("defect-clf@production").version == versions[0].version
    assert ws.version_names()["name"].to_list() == ["production"] and ws.alias_history().height == 1


def test_the_fold_is_pure_and_ignores_a_rollback_with_nothing_below() -> None:
    rows = [{"name": "p", "action": "set", "version_id": "a"}, {"name": "p", "action": "rollback", "version_id": "z"},
            {"name": "p", "action": "remove", "version_id": None}, {"name": "p", "action": "set", "version_id": "b"}]
    applied, state = fold(rows)
    assert len(applied) == 4 and state["p"].stack == ["b"] and state["p"].previous is None
    assert "p" not in fold(rows[:3])[1]
