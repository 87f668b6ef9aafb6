"""Metrics per step are buffered: a tight training loop makes a few commits, not one per step."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from jupyter_cvops import Workspace
from jupyter_cvops._store import Store
from jupyter_cvops.runs._metrics import MetricBuffer, check_metrics, metric_value


def test_ten_thousand_steps_make_only_a_few_commits(ws: Workspace) -> None:
    before = ws.store.version("run_metrics")
    started = time.monotonic()
    with ws.run("tight-loop") as run:
        for step in range(10_000):
            run.log_metrics({"loss": 1.0 / (step + 1), "lr": 1e-3})
    elapsed = time.monotonic() - started
    commits = ws.store.version("run_metrics") - before
    assert 1 <= commits <= 2 + int(elapsed)  # at most one a second, plus the final flush
    values = ws.run_metrics(run.id)
    assert values.height == 20_000
    assert values.filter(values["key"] == "loss")["step"].to_list() == list(range(10_000))
    assert ws.get_run(run.id).metrics == {"loss": 1.0 / 10_000, "lr": 1e-3}


def test_rows_reach_the_table_within_about_a_second_without_ending(tmp_path: Path) -> None:
    store = Store.create(tmp_path / "ws")
    buf = MetricBuffer(store, "r1", interval=0.2)
    buf.add({"acc": 0.5}, 0)
    assert buf.pending() == 1 and store.count("run_metrics") == 0
    deadline = time.monotonic() + 10
    while buf.commits == 0 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert store.count("run_metrics") == 1 and buf.pending() == 0 and buf.commits == 1
    buf.close()


def test_a_slow_loop_flushes_as_it_goes(tmp_path: Path) -> None:
    store = Store.create(tmp_path / "ws")
    buf = MetricBuffer(store, "r1", interval=0.1)
    for step in range(6):
        buf.add({"loss": float(step)}, step)
        time.sleep(0.12)
    buf.close()
    assert store.count("run_metrics") == 6 and 3 <= buf.commits <= 7


def test_a_failed_flush_keeps_its_rows(tmp_path: Path) -> None:
    store = Store.create(tmp_path / "ws")
    buf = MetricBuffer(store, "r1", interval=60)
    buf.add({"loss": 1.0}, 0)
    readonly = Store.open(tmp_path / "ws", readonly=True)
    buf.store = readonly
    with pytest.raises(Exception, match="read-only"):
        buf.flush()
    assert buf.pending() == 1
    buf.store = store
    buf.add({"loss": 0.5}, 1)
    assert buf.flush() == 2
    assert store.read("run_metrics")["step"].to_list() == [0, 1]
    buf.close()


def test_values_of_numpy_and_torch_are_numbers() -> None:
    import numpy as np
    import torch

    values = check_metrics({"a": np.float32(0.5), "b": np.int64(3), "c": torch.tensor(0.25), "d": np.array(2.0)})
    assert values == {"a": 0.5, "b": 3.0, "c": 0.25, "d": 2.0}
    assert all(type(v) is float for v in values.values())
    with pytest.raises(TypeError, match="must be one number"):
        metric_value("e", torch.ones(3))
    with pytest.raises(TypeError, match="must be a number, got list"):
        metric_value("f", [1.0])
    with pytest.raises(TypeError, match="non-empty strings"):
        check_metrics({"": 1.0})
    with pytest.raises(TypeError, match="a dict of name -> number"):
        check_metrics([("a", 1.0)])  # type: ignore[arg-type]


def test_steps_default_to_the_next_one(ws: Workspace) -> None:
    with ws.run("steps") as run:
        run.log_metrics({"a": 1.0})
        run.log_metrics({"a": 2.0})
        run.log_metrics({"b": 5.0}, step=10)
        run.log_metrics({"a": 3.0})
    steps = ws.run_metrics(run.id).select("key", "step").rows()
    assert steps == [("a", 0), ("a", 1), ("a", 11), ("b", 10)]
