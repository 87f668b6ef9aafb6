"""ws.run(...): everything a run records, failures, nesting and threads, lookups, older rows."""

from __future__ import annotations

import json
import os
import platform
import sys
import threading
from datetime import datetime, timezone
from importlib import metadata

import polars as pl
import pytest

from jupyter_cvops import Workspace, WorkspaceError
from jupyter_cvops.runs import Run
from jupyter_cvops.runs._records import run_metrics


def test_a_run_records_everything(ws: Workspace, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CVOPS_USER", "ana")
    before = datetime.now(timezone.utc)
    with ws.run("train-defect-clf", params={"lr": 1e-3, "epochs": 5, "size": (224, 224), "opt": "adam"}) as run:
        row = ws.store.read("runs", where=f"run_id = '{run.id}'").row(0, named=True)
        assert row["status"] == "running" and row["ended_at"] is None  # written at the start
        ds = run.use("baseline")
        run.use("baseline")  # recorded once
        run.use(ws.version("half"))
        run.seed(123)
        for step in range(5):
            run.log_metrics({"loss": 1.0 / (step + 1)})
        run.log_metrics({"val_accuracy": 0.94}, step=3)
    after = datetime.now(timezone.utc)
    baseline, half = ws.version("baseline"), ws.version("half")
    assert ds.id == baseline.id

    stored = ws.get_run(run.id)
    assert isinstance(stored, Run) and stored.id == run.id and len(run.id) == 32
    assert (stored.kind, stored.name, stored.status, stored.user, stored.error) == (
        "run", "train-defect-clf", "finished", "ana", None)
    assert stored.params == {"lr": 1e-3, "epochs": 5, "size": [224, 224], "opt": "adam"}
    assert stored.inputs == [
        {"version_id": baseline.id, "name": "baseline", "taxonomy_version": baseline.taxonomy_version},
        {"version_id": half.id, "name": "half", "taxonomy_version": half.taxonomy_version},
    ]
    assert baseline.taxonomy_version == 1
    assert stored.metrics == {"loss": 0.2, "val_accuracy": 0.94}  # the last value of each
    assert stored.metric_steps == {"loss": 4, "val_accuracy": 3}
    assert stored.seeds["seed"] == 123 and stored.seeds["seeded"] == {"python": 123, "numpy": 123, "torch": 123}
    import torch

    assert stored.seeds["torch_initial_seed"] == 123 == torch.initial_seed()
    assert before <= stored.started_at <= stored.ended_at <= after
    assert stored.duration_s == pytest.approx((stored.ended_at - stored.started_at).total_seconds())
    env = stored.environment
    assert env["python"] == platform.python_version() and env["platform"] == platform.platform()
    assert env["packages"]["polars"] == metadata.version("polars")
    assert env["torch"] == torch.__version__ and env["cuda"] == torch.version.cuda
    assert stored.info["workspace"] == ws.uri and stored.info["outer_run_id"] is None
    assert stored.notebook is None and stored.info["notebook"] is None  # not in a notebook

    row = ws.store.read("runs", where=f"run_id = '{run.id}'").row(0, named=True)
    assert row["dataset_version"] == baseline.id and row["taxonomy_version"] == 1  # the first input
    assert json.loads(row["metrics"]) == {"loss": 0.2, "val_accuracy": 0.94}

    frame = ws.run_metrics(run.id)
    assert frame.columns == ["key", "step", "value", "time"]
    assert frame.filter(pl.col("key") == "loss")["step"].to_list() == [0, 1, 2, 3, 4]
    assert frame.filter(pl.col("key") == "val_accuracy").select("step", "value").rows() == [(3, 0.94)]
    assert run.metrics_frame().equals(frame)

    listed = ws.runs()
    assert listed.height == 1
    r = listed.row(0, named=True)
    assert (r["name"], r["status"], r["user"], r["inputs"], r["input_names"]) == (
        "train-defect-clf", "finished", "ana", [baseline.id, half.id], ["baseline", "half"])
    assert r["params.lr"] == 1e-3 and r["params.epochs"] == 5 and r["params.opt"] == "adam"
    assert r["params.size"] == "[224, 224]" and r["metrics.val_accuracy"] == 0.94
    assert r["duration_s"] == pytest.approx(stored.duration_s)


def test_a_failing_block_is_recorded_as_failed_and_re_raised(ws: Workspace) -> None:
    error = ValueError("loss is nan at step 3")
    with pytest.raises(ValueError) as raised:
        with ws.run("diverges", params={"lr": 10.0}) as run:
            run.use("baseline")
            run.log_metrics({"loss": 2.5}, step=0)
            raise error
    assert raised.value is error
    stored = ws.get_run(run.id)
    assert stored.status == "failed" and stored.error == "ValueError: loss is nan at step 3"
    assert stored.ended_at is not None and stored.metrics == {"loss": 2.5}
    assert ws.run_metrics(run.id)["value"].to_list() == [2.5]  # logged before the failure, kept
    assert not run.active
    with pytest.raises(WorkspaceError, match="is failed, not running"):
        run.log_metrics({"loss": 1.0})
    assert ws.runs()["error"].to_list() == ["ValueError: loss is nan at step 3"]


def test_keyboard_interrupt_is_a_failure_too(ws: Workspace) -> None:
    with pytest.raises(KeyboardInterrupt):
        with ws.run("interrupted") as run:
            raise KeyboardInterrupt
    assert (ws.get_run(run.id).status, ws.get_run(run.id).error) == ("failed", "KeyboardInterrupt: ")


def test_nested_runs_record_the_outer_one(ws: Workspace) -> None:
    with ws.run("sweep") as outer:
        for lr in (0.1, 0.01):
            with ws.run("trial", params={"lr": lr}) as inner:
                inner.log_metrics({"acc": lr * 5})
        with pytest.raises(RuntimeError):
            with ws.run("trial", params={"lr": 1.0}):
                raise RuntimeError("out of memory")
        outer.log_metrics({"best_acc": 0.5})
    listed = ws.runs()
    assert listed["name"].to_list() == ["sweep", "trial", "trial", "trial"]
    assert listed["status"].to_list() == ["finished", "finished", "finished", "failed"]
    trials = [ws.get_run(i) for i in listed["run_id"][1:]]
    assert {t.info["outer_run_id"] for t in trials} == {outer.id}
    assert ws.get_run(outer.id).info["outer_run_id"] is None
    assert listed["params.lr"].to_list() == [None, 0.1, 0.01, 1.0]
    assert ws.get_run("trial").id == trials[-1].id  # a name finds the latest run of that name


def test_runs_in_threads_keep_their_own_metrics(ws: Workspace) -> None:
    errors: list[BaseException] = []
    ids: dict[int, str] = {}

    def train(k: int) -> None:
        try:
            with ws.run(f"worker-{k}", params={"k": k}) as run:
                ids[k] = run.id
                for step in range(2000):
                    run.log_metrics({"value": float(k * 10_000 + step)})
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=train, args=(k,)) for k in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    for k, run_id in ids.items():
        stored = ws.get_run(run_id)
        assert stored.status == "finished" and stored.info["outer_run_id"] is None
        values = ws.run_metrics(run_id)
        assert values["step"].to_list() == list(range(2000))
        assert values["value"].to_list() == [float(k * 10_000 + s) for s in range(2000)]
    assert ws.store.count("run_metrics") == 6000


def test_use_of_an_unknown_name_says_which_one_was_meant(ws: Workspace) -> None:
    with ws.run("typo") as run:
        with pytest.raises(WorkspaceError, match="did you mean 'baseline'"):
            run.use("baseline2")
        with pytest.raises(TypeError, match="dataset version name, id or DatasetVersion"):
            run.use(42)
    assert ws.get_run(run.id).inputs == []


def test_bad_arguments_are_clear(ws: Workspace) -> None:
    with pytest.raises(ValueError, match="needs a name"):
        ws.run("")
    with pytest.raises(TypeError, match="params must be a dict"):
        ws.run("x", params=[("lr", 1)])  # type: ignore[arg-type]
    assert ws.runs().height == 0  # nothing written for refused runs
    with ws.run("x") as run:
        with pytest.raises(TypeError, match="metric 'acc' must be a number, got str"):
            run.log_metrics({"acc": "high"})
        with pytest.raises(TypeError, match="step must be an integer"):
            run.log_metrics({"acc": 1.0}, step=1.5)  # type: ignore[arg-type]
        with pytest.raises(ValueError, match=r"in \[0, 2\*\*32\)"):
            run.seed(-3)
    assert ws.get_run(run.id).metrics == {}


def test_get_run_by_prefix_and_unknown_names(ws: Workspace) -> None:
    with pytest.raises(WorkspaceError, match="no runs yet"):
        ws.get_run("train")
    with ws.run("train-defect-clf") as run:
        pass
    assert ws.get_run(run.id[:8]).id == run.id
    with pytest.raises(WorkspaceError, match="did you mean 'train-defect-clf'"):
        ws.get_run("train-defect-cls")
    with pytest.raises(WorkspaceError, match="no run with id or name"):
        ws.run_metrics("x' OR '1'='1")
    with pytest.raises(WorkspaceError, match="not a run id"):  # never pasted into a filter
        run_metrics(ws.store, "x' OR '1'='1")


def test_a_run_ended_by_hand_and_a_later_end_refused(ws: Workspace) -> None:
    run = ws.run("manual", params={"batch": 8})
    run.log_params({"batch": 16, "workers": 2})
    run.log_metrics({"acc": 0.5})
    assert ws.get_run(run.id).status == "running"
    run.end()
    stored = ws.get_run(run.id)
    assert stored.status == "finished" and stored.params == {"batch": 16, "workers": 2}
    assert stored.metrics == {"acc": 0.5}
    with pytest.raises(WorkspaceError, match="is finished, not running in this process: cannot end"):
        run.end()
    with pytest.raises(WorkspaceError, match="cannot log metrics"):
        stored.log_metrics({"acc": 1.0})  # a run read back cannot be written to


def test_nan_and_infinite_metrics_round_trip(ws: Workspace) -> None:
    with ws.run("nan") as run:
        run.log_metrics({"loss": float("nan"), "grad": float("inf")})
    stored = ws.get_run(run.id)
    assert stored.metrics["grad"] == float("inf") and stored.metrics["loss"] != stored.metrics["loss"]
    json.dumps(stored.to_dict(), allow_nan=False)  # the card payload stays strict JSON


def test_snapshot_records_and_older_rows_with_nulls_are_listed(ws: Workspace) -> None:
    v = ws.version("baseline")
    new_id = ws.record_run("snapshot", dataset_version=v.id, taxonomy_version=1,
                           info={"env": {"python": "3.11.0", "packages": {"a": "1"}}, "via": "test"})
    # a row as the first release wrote it: none of the run columns
    ws.store.append("runs", [{"run_id": "0" * 32, "created_at": datetime(2020, 1, 1, tzinfo=timezone.utc),
                              "kind": "snapshot", "dataset_version": v.id, "taxonomy_version": 1,
                              "user": "old", "info": json.dumps({"env": {"python": "3.10.1", "packages": {}}})}])
    listed = ws.runs()
    assert listed["run_id"].to_list() == ["0" * 32, new_id]  # oldest first, by created_at for old rows
    old = listed.row(0, named=True)
    assert old["status"] is None and old["name"] is None and old["duration_s"] is None
    assert old["started_at"] == datetime(2020, 1, 1, tzinfo=timezone.utc)
    assert old["inputs"] == [v.id] and old["dataset_version"] == v.id
    new = listed.row(1, named=True)
    assert new["status"] == "finished" and new["duration_s"] == 0.0 and new["inputs"] == [v.id]
    assert ws.get_run(new_id).environment == {"python": "3.11.0", "packages": {"a": "1"}}
    assert ws.get_run(new_id).info == {"via": "test"}  # the environment is not stored twice
    old_run = ws.get_run("0" * 32)
    assert old_run.environment["python"] == "3.10.1" and old_run.inputs[0]["version_id"] == v.id
    assert "snapshot" in old_run._repr_mimebundle_()["text/plain"]


def test_a_read_only_workspace_refuses_to_start_a_run(ws: Workspace) -> None:
    ro = Workspace.open(ws.uri, readonly=True)
    with pytest.raises(WorkspaceError, match="read-only"):
        ro.run("nope")
    assert ro.runs().height == 0


def test_register_model_passes_the_run_to_the_registry(ws: Workspace) -> None:
    import importlib.util

    if importlib.util.find_spec("jupyter_cvops.models.registry") is None:
        pytest.skip("jupyter_cvops.models.registry is not written yet")
    import torch

    with ws.run("train-defect-clf", params={"lr": 1e-3}) as run:
        run.seed(0)
        ds = run.use("baseline")
        run.log_metrics({"val_accuracy": 0.94}, step=3)
        classes = ws.taxonomy.classes(ds.taxonomy_version, include_retired=False)["name"].to_list()
        model = torch.nn.Linear(4, len(classes))
        mv = run.register_model("defect-clf", model, example_input=torch.zeros(2, 4))
    row = ws.store.read("model_versions").row(0, named=True)
    assert row["run_id"] == run.id and row["version_id"] == mv.version
    assert row["dataset_version"] == ds.id and row["taxonomy_version"] == ds.taxonomy_version
    assert json.loads(row["metrics"])["val_accuracy"] == 0.94
    assert ws.get_run(run.id).models == [{"name": "defect-clf", "version": mv.version}]
    assert f"defect-clf {mv.version[:12]}" in ws.get_run(run.id)._repr_mimebundle_()["text/plain"]


def test_the_environment_is_the_processes_own(ws: Workspace) -> None:
    with ws.run("env") as run:
        pass
    env = ws.get_run(run.id).environment
    assert env["executable"] == sys.executable
    assert set(env["packages"]) >= {"numpy", "polars", "pyarrow", "lancedb"}
    assert os.path.basename(env["executable"]).startswith("python")


def test_an_interrupt_while_the_run_starts_leaves_it_failed_not_running(
        ws: Workspace, monkeypatch: pytest.MonkeyPatch) -> None:
    # a Ctrl-C (or a server's cancel) landing just after the "running" row was committed, before the
    # with-block is entered: nothing would ever end that run
    real = type(ws.store).upsert
    calls: list[str] = []

    def upsert_then_interrupted(store, name, on, rows):  # type: ignore[no-untyped-def]
        out = real(store, name, on, rows)
        if name == "runs" and not calls:
            calls.append(name)
            raise KeyboardInterrupt
        return out

    monkeypatch.setattr(type(ws.store), "upsert", upsert_then_interrupted)
    with pytest.raises(KeyboardInterrupt):
        with ws.run("train"):
            raise AssertionError("the block never runs")
    runs = ws.runs()
    assert runs.height == 1 and calls == ["runs"]
    assert (runs["status"][0], runs["error"][0]) == ("failed", "KeyboardInterrupt: interrupted while the run started")
    with ws.run("next") as nxt:  # nothing of the interrupted run is left on the stack of active runs
        pass
    assert ws.get_run(nxt.id).info["outer_run_id"] is None
