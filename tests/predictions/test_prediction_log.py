"""The buffered prediction log: few commits for many rows, flushed on leaving a ``with`` block, on a
timer, and when dropped; model, alias, version and serving preprocessing recorded with every row."""

from __future__ import annotations

import gc
import json
import threading
import time
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from pathlib import Path

import polars as pl
import pytest
import torch

from jupyter_cvops import Preprocess, Workspace, WorkspaceError
from jupyter_cvops.images._hashing import hash_file

CLASSES = ["ok", "dent", "scratch"]


def ids(n: int, start: int = 0) -> list[str]:
    return [f"{i:032x}" for i in range(start, start + n)]


def test_many_rows_few_commits(ws: Workspace) -> None:
    before = ws.store.version("predictions")
    with ws.prediction_log("clf", version="v1", flush_rows=1000, flush_seconds=None) as plog:
        returned = []
        for k in range(10):
            frame = pl.DataFrame({"image_id": ids(500, 500 * k), "predicted_class": ["ok"] * 500,
                                  "latency_ms": [3.0] * 500})
            returned += plog.log_frame(frame).to_list()
        singles = [plog.log(image_id=f"{i:032x}", predicted_class="dent", score=0.5) for i in range(300)]
        # full buffers are written by the log's writer thread: logging never waits for a commit
        assert plog.pending + plog.written == 5300 and plog.written <= 5000
    assert ws.store.version("predictions") - before == 6 == plog.commits  # 5 full batches + the rest on exit
    rows = ws.predictions()
    assert rows.height == 5300 and rows["prediction_id"].n_unique() == 5300
    assert set(rows["prediction_id"]) == set(returned + singles)
    assert rows["batch_id"].n_unique() == 10 + 300  # one per log_frame call, one per log call
    assert (rows["model"] == "clf").all() and (rows["model_version"] == "v1").all() and (rows["role"] == "served").all()
    with pytest.raises(WorkspaceError, match="closed"):
        plog.log(image_id="a")


def test_rows_are_written_on_leaving_the_block_even_on_error(ws: Workspace) -> None:
    with pytest.raises(RuntimeError, match="model crashed"):
        with ws.prediction_log("clf", flush_seconds=None) as plog:
            plog.log(image_id="a" * 32, predicted_class="ok")
            plog.log(image_id="b" * 32, error="CUDA out of memory")
            assert ws.predictions().height == 0 and plog.pending == 2
            raise RuntimeError("model crashed")
    rows = ws.predictions()
    assert rows.height == 2
    assert rows.select("status", "error").rows() == [("ok", None), ("failed", "CUDA out of memory")]


def test_a_timer_writes_what_waits(ws: Workspace) -> None:
    plog = ws.prediction_log("clf", flush_seconds=0.2)
    plog.log(image_id="a" * 32)
    deadline = time.monotonic() + 10
    while ws.store.count("predictions") == 0 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert ws.store.count("predictions") == 1 and plog.pending == 0
    plog.close()
    assert plog.commits == 1


def test_a_dropped_log_writes_what_waits(ws: Workspace) -> None:
    plog = ws.prediction_log("clf", flush_seconds=None)
    plog.log(image_id="a" * 32)
    del plog
    gc.collect()  # the same finalizer runs at interpreter exit
    assert ws.store.count("predictions") == 1


def test_explicit_flush_and_times(ws: Workspace, make_images: Callable[..., list[Path]]) -> None:
    (path,) = make_images(1)
    naive = datetime(2024, 1, 2, 3, 4, 5)
    with ws.prediction_log("clf", flush_seconds=None, source="cam-1") as plog:
        plog.log(path, predicted_class="ok", time=naive, latency_ms=7)
        plog.log(str(path), predicted_class="ok", source="cam-2", boxes=[{"class": "dent", "score": 0.9,
                                                                          "x0": 1, "y0": 2, "x1": 3, "y1": 4}])
        assert plog.flush() == 2 and plog.flush() == 0
    rows = ws.predictions()
    assert rows["time"][0] == naive.replace(tzinfo=timezone.utc)
    assert rows["image_id"].to_list() == [hash_file(path)] * 2 and rows["source"].to_list() == ["cam-1", "cam-2"]
    assert json.loads(rows["boxes"][1]) == [{"class": "dent", "score": 0.9, "x0": 1, "y0": 2, "x1": 3, "y1": 4}]


def test_preprocess_spec_is_stored_once_per_fingerprint(ws: Workspace) -> None:
    pre, other = Preprocess(32), Preprocess(32, resize="nearest")
    for _ in range(2):
        ws.log_predictions(pl.DataFrame({"image_id": ids(3)}), model="clf", preprocess=pre)
    ws.log_predictions(pl.DataFrame({"image_id": ids(2)}), model="clf", preprocess=other)
    ws.log_predictions(pl.DataFrame({"image_id": ids(1)}), model="clf", preprocess=pre.fingerprint)
    specs = ws.store.read("preprocess_specs")
    assert sorted(specs["fingerprint"]) == sorted([pre.fingerprint, other.fingerprint])
    record = json.loads(specs.filter(pl.col("fingerprint") == pre.fingerprint)["record"][0])
    assert record == pre.to_record() and Preprocess.from_record(record) == pre
    assert ws.predictions()["preprocess_fingerprint"].to_list() == [pre.fingerprint] * 6 + [other.fingerprint] * 2 \
        + [pre.fingerprint]
    with pytest.raises(WorkspaceError, match="cv.Preprocess"):
        ws.prediction_log("clf", preprocess=object())


class _Head(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc = torch.nn.Linear(3, len(CLASSES))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(x.mean(dim=(2, 3)))


def test_model_alias_and_version_through_the_registry(ws: Workspace) -> None:
    torch.manual_seed(0)
    pre = Preprocess(16)
    v1 = ws.register_model("defect-clf", _Head().eval(), preprocess=pre, classes=CLASSES)
    torch.manual_seed(1)
    v2 = ws.register_model("defect-clf", _Head().eval(), preprocess=pre, classes=CLASSES)
    ws.set_alias("defect-clf", "production", v1.version)
    frame = pl.DataFrame({"image_id": ids(2), "scores": [[0.1, 0.7, 0.2], [0.6, 0.3, 0.1]]})
    rows = ws.log_predictions(frame, model="defect-clf@production", preprocess=pre)
    assert rows.select("model", "model_version", "alias").unique().rows() == [("defect-clf", v1.version, "production")]
    assert rows["predicted_class"].to_list() == ["dent", "ok"] and rows["score"].to_list() == pytest.approx([0.7, 0.6])
    with ws.prediction_log("defect-clf@production", flush_seconds=None) as plog:  # resolved once, when opened
        ws.set_alias("defect-clf", "production", v2.version)
        plog.log(image_id="c" * 32, scores=[0.1, 0.2, 0.7])
    assert plog.model.version == v1.version
    later = ws.log_predictions(frame, model=ws.model("defect-clf@production"))  # a model version object
    assert set(later["model_version"]) == {v2.version} and set(later["alias"]) == {"production"}
    by_version = ws.log_predictions(frame, model="defect-clf", version=v1.version, alias="canary")
    assert set(by_version["model_version"]) == {v1.version} and set(by_version["alias"]) == {"canary"}
    with pytest.raises(WorkspaceError, match="staging"):
        ws.log_predictions(frame, model="defect-clf@staging")
    elsewhere = ws.log_predictions(frame, model="triton-det", version="2024.05", alias="prod")  # not registered
    assert elsewhere.select("model", "model_version", "alias").unique().rows() == [("triton-det", "2024.05", "prod")]
    assert ws.predictions(model="defect-clf@production").height == 5
    assert ws.predictions(model="defect-clf", version=v1.version).height == 5


def test_predictions_filters(ws: Workspace) -> None:
    t0 = datetime(2024, 3, 1, tzinfo=timezone.utc)
    for k, (model, alias, source) in enumerate([("a", "prod", "cam-1"), ("a", "cand", "cam-2"), ("b", None, "cam-1")]):
        frame = pl.DataFrame({"image_id": ids(4, 10 * k), "time": [t0 + timedelta(days=d) for d in range(4)]})
        ws.log_predictions(frame, model=model, alias=alias, source=source)
    assert ws.predictions().height == 12 and ws.predictions()["time"].is_sorted()
    assert ws.predictions(model="a").height == 8 and ws.predictions(model="a@cand").height == 4
    assert ws.predictions(source="cam-1").height == 8 and ws.predictions(model="b", source="cam-2").height == 0
    assert ws.predictions(since=t0 + timedelta(days=2)).height == 6
    assert ws.predictions(since="2024-03-02", until=datetime(2024, 3, 3)).height == 3
    with pytest.raises(WorkspaceError, match="ISO"):
        ws.predictions(since="yesterday")


def test_threads_log_into_one_log(ws: Workspace) -> None:

    plog = ws.prediction_log("clf", flush_rows=700, flush_seconds=None)
    got: list[list[str]] = [[] for _ in range(4)]

    def serve(k: int) -> None:
        for i in range(500):
            got[k].append(plog.log(image_id=f"{k:016x}{i:016x}", latency_ms=float(i)))

    threads = [threading.Thread(target=serve, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    plog.close()
    rows = ws.predictions()
    assert rows.height == 2000 and rows["prediction_id"].n_unique() == 2000
    assert set(rows["prediction_id"]) == {p for ids_ in got for p in ids_} and plog.commits == 3


def test_a_failed_write_keeps_the_rows(ws: Workspace, monkeypatch: pytest.MonkeyPatch) -> None:
    plog = ws.prediction_log("clf", flush_seconds=None)
    plog.log_frame(pl.DataFrame({"image_id": ids(3)}))
    real = ws.store.append

    def broken(name: str, rows: object) -> int:
        raise OSError("disk full")

    monkeypatch.setattr(ws.store, "append", broken)
    with pytest.raises(OSError, match="disk full"):
        plog.flush()
    assert plog.pending == 3 and ws.store.count("predictions") == 0
    monkeypatch.setattr(ws.store, "append", real)
    assert plog.flush() == 3 and ws.predictions()["image_id"].to_list() == ids(3)
    plog.close()


def test_rows_are_written_at_interpreter_exit(ws: Workspace) -> None:
    import subprocess
    import sys

    code = ("import jupyter_cvops as cv\n"
            f"plog = cv.Workspace.open({ws.uri!r}).prediction_log('clf', flush_seconds=None)\n"
            "plog.log(image_id='a' * 32, predicted_class='ok')\n")  # never closed: the interpreter exits
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert ws.predictions()["predicted_class"].to_list() == ["ok"]


def test_logging_goes_on_while_a_full_buffer_is_written(ws: Workspace, monkeypatch: pytest.MonkeyPatch) -> None:
    """A full buffer is committed by the log's writer thread: callers (and the timer) never wait for it."""
    real, entered, release = ws.store.append, threading.Event(), threading.Event()

    def slow(name: str, rows: object) -> int:
        entered.set()
        assert release.wait(60)
        return real(name, rows)

    monkeypatch.setattr(ws.store, "append", slow)
    plog = ws.prediction_log("clf", flush_rows=3, flush_seconds=None)
    plog.log_frame(pl.DataFrame({"image_id": ids(3)}))  # full: handed to the writer thread
    assert entered.wait(60)
    more = plog.log_frame(pl.DataFrame({"image_id": ids(2, 3)}))  # the commit is still in flight
    assert more.len() == 2 and not release.is_set() and plog.written == 0 and plog.pending == 5
    release.set()
    assert plog.flush() == 5 and plog.pending == 0 and plog.commits == 2
    assert sorted(ws.predictions()["image_id"].to_list()) == ids(5)
    plog.close()


def test_a_failed_background_write_is_retried_and_reported(ws: Workspace, monkeypatch: pytest.MonkeyPatch) -> None:
    real = ws.store.append
    monkeypatch.setattr(ws.store, "append", lambda name, rows: (_ for _ in ()).throw(OSError("disk full")))
    plog = ws.prediction_log("clf", flush_rows=2, flush_seconds=None)
    plog.log_frame(pl.DataFrame({"image_id": ids(2)}))  # written (and failing) in the background
    plog._w.queue.join()
    with pytest.raises(WorkspaceError, match="background write .* failed: disk full"):
        plog.log(image_id="c" * 32)
    assert plog.pending == 2 and ws.store.count("predictions") == 0  # nothing lost
    monkeypatch.setattr(ws.store, "append", real)
    plog.log(image_id="c" * 32)
    assert plog.flush() == 3 and ws.predictions()["image_id"].to_list() == [*ids(2), "c" * 32]
    plog.close()
