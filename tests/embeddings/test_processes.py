"""``imgstats`` in worker processes (``embeddings/_processes.py``): the same vectors as the loader threads,
per-image reasons, ``s3://`` images with the workspace's storage options, and a worker killed mid-job."""

from __future__ import annotations

import os
import signal
import subprocess
import textwrap
import sys
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import psutil
import pytest

from _embed_workspaces import bucket_and_local, write_images

from jupyter_cvops import Workspace
from jupyter_cvops.embeddings import _processes as processes
from jupyter_cvops.embeddings import tables as E



def vectors(ws: Workspace, table: str) -> dict[str, np.ndarray]:
    t = ws.store.table(table).to_arrow()
    return dict(zip(t["image_id"].to_pylist(), t["vector"].to_numpy(zero_copy_only=False), strict=True))


def test_processes_give_the_threads_vectors_and_reasons(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    paths = write_images(tmp_path / "imgs", 37, size=(40, 52))
    cpu0 = processes.worker_cpu_seconds()
    ws_p = Workspace.create(tmp_path / "p")
    ws_p.add_images(tmp_path / "imgs", progress=False)
    ws_t = Workspace.create(tmp_path / "t")
    ws_t.add_images(tmp_path / "imgs", progress=False)
    paths[3].unlink()  # after registration: missing
    paths[5].write_bytes(paths[5].read_bytes()[:40])  # truncated: changed
    monkeypatch.setattr(processes, "MIN_IMAGES", 1)
    rep_p = E.embed(ws_p, "imgstats", batch_size=8, num_workers=1, progress=False)
    assert processes.worker_cpu_seconds() > cpu0  # the workers ran (and reported their CPU)
    monkeypatch.setattr(processes, "MIN_IMAGES", 10**9)
    cpu1 = processes.worker_cpu_seconds()
    rep_t = E.embed(ws_t, "imgstats", batch_size=8, num_workers=1, progress=False)
    assert processes.worker_cpu_seconds() == cpu1  # threads
    assert (rep_p.n_computed, rep_t.n_computed) == (35, 35)
    assert sorted((i, r) for i, _, r in rep_p.failures) == sorted((i, r) for i, _, r in rep_t.failures)
    assert {r.split(" (")[0] for _, _, r in rep_p.failures} >= {"file not found"}
    got, want = vectors(ws_p, rep_p.table), vectors(ws_t, rep_t.table)
    assert sorted(got) == sorted(want) and len(got) == 35
    assert all(np.array_equal(got[k], want[k]) for k in want)  # bit-identical
    assert E.embed(ws_p, "imgstats", progress=False).n_computed == 0  # incremental as ever


def test_wanted_only_for_imgstats_jobs_worth_a_pool() -> None:
    from jupyter_cvops.embeddings._backends import ImageStatsBackend

    class Custom(ImageStatsBackend):  # a user's subclass: its own code, which a rebuilt spec would lose
        pass

    assert processes.wanted(ImageStatsBackend(), n_images=processes.MIN_IMAGES, workers=2)
    assert not processes.wanted(ImageStatsBackend(), n_images=processes.MIN_IMAGES - 1, workers=2)
    assert not processes.wanted(ImageStatsBackend(), n_images=10**6, workers=1)
    assert not processes.wanted(Custom(), n_images=10**6, workers=8)


def test_images_in_a_bucket_reach_the_workers_with_the_storage_options(
        tmp_path: Path, s3_bucket: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    ws, ref = bucket_and_local(tmp_path, s3_bucket, monkeypatch, prefix="line-2", n=6, seed=4)
    monkeypatch.setattr(processes, "MIN_IMAGES", 1)
    rep = E.embed(ws, "imgstats", batch_size=4, num_workers=1, progress=False)
    E.embed(ref, "imgstats", progress=False)
    got, want = vectors(ws, rep.table), vectors(ref, rep.table)
    assert (rep.n_computed, rep.ok) == (6, True) and sorted(got) == sorted(want)
    assert all(np.array_equal(got[k], want[k]) for k in want)


def _workers() -> list[psutil.Process]:
    """This process's pool workers: the fork server's children."""
    out = []
    for child in psutil.Process().children():
        try:
            if "forkserver" in " ".join(child.cmdline()):
                out += child.children()
        except psutil.NoSuchProcess:
            pass
    return out


def test_worker_killed_mid_job_keeps_whole_rows_and_a_rerun_finishes(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    n = 1500
    write_images(tmp_path / "imgs", n, size=(16, 16))
    ws = Workspace.create(tmp_path / "ws")
    ws.add_images(tmp_path / "imgs", progress=False)
    monkeypatch.setattr(processes, "MIN_IMAGES", 1)
    monkeypatch.setattr(E, "COMMIT_EVERY", 64)
    table = "emb_imgstats_v1"
    errors: list[BaseException] = []

    def run() -> None:
        try:
            E.embed(ws, "imgstats", batch_size=32, num_workers=1, progress=False)
        except BaseException as exc:  # noqa: BLE001 - checked below
            errors.append(exc)

    job = threading.Thread(target=run)
    job.start()
    deadline = time.monotonic() + 120
    killed = None
    while killed is None and job.is_alive() and time.monotonic() < deadline:
        if ws.store.has_table(table) and ws.store.count(table) >= 64:
            for w in _workers():
                w.send_signal(signal.SIGKILL)
                killed = w.pid
                break
        time.sleep(0.005)
    job.join(120)
    assert killed is not None, "the job ended before a worker could be killed"
    assert len(errors) == 1 and isinstance(errors[0], E.EmbeddingError), errors
    assert "worker process died" in str(errors[0])
    kept = vectors(ws, table)
    assert 64 <= len(kept) < n  # the batches committed before the kill; every stored row is whole
    rep = E.embed(ws, "imgstats", progress=False)  # threads or processes: the same vectors
    assert (rep.n_computed, rep.n_skipped) == (n - len(kept), len(kept))
    ref = Workspace.create(tmp_path / "ref")
    ref.add_images(tmp_path / "imgs", progress=False)
    monkeypatch.setattr(processes, "MIN_IMAGES", 10**9)
    E.embed(ref, "imgstats", progress=False)
    got, want = vectors(ws, table), vectors(ref, table)
    assert sorted(got) == sorted(want) and all(np.array_equal(got[k], want[k]) for k in want)


def test_a_pool_broken_between_batches_is_an_embedding_error_at_the_next_submit(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # the race CI met: the worker died while the caller committed a batch, so the pool knew it was broken
    # before the next submit(), which raises BrokenProcessPool itself (no future's result() does)
    from concurrent.futures import ProcessPoolExecutor

    from jupyter_cvops.embeddings._backends import EmbeddingError, ImageStatsBackend
    from jupyter_cvops.images._hashing import hash_bytes

    pools: list[ProcessPoolExecutor] = []

    class Recorded(ProcessPoolExecutor):  # the real pool, kept so the test can see when it knows it is broken
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            pools.append(self)

    monkeypatch.setattr(processes, "ProcessPoolExecutor", Recorded)
    paths = write_images(tmp_path / "imgs", 8 * processes.CHUNK, size=(16, 16))
    pairs = [(hash_bytes(p.read_bytes()), str(p)) for p in paths]  # an image's id is its content hash
    gen = processes.batches(ImageStatsBackend(), pairs, batch_size=processes.CHUNK, workers=1)
    ok, _, failures = next(gen)
    assert (len(ok), failures) == (processes.CHUNK, [])
    for w in _workers():
        w.send_signal(signal.SIGKILL)
    deadline = time.monotonic() + 60
    while not pools[0]._broken and time.monotonic() < deadline:  # type: ignore[attr-defined]
        time.sleep(0.01)
    assert pools[0]._broken  # type: ignore[attr-defined]
    with pytest.raises(EmbeddingError, match="worker process died"):
        next(gen)


def test_worker_side_imports_stay_light() -> None:
    # the fork server preloads this module: no LanceDB, polars or torch in it (nor in any worker)
    code = ("import sys, jupyter_cvops.embeddings._processes; "
            "print(sorted(m for m in ('lancedb', 'polars', 'torch', 'pyarrow') if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "[]"


def test_a_script_without_a_main_guard_runs_once(tmp_path: Path) -> None:
    """Workers never re-run the user's ``__main__`` (multiprocessing's default for new processes would run
    this unguarded script again in each worker, and embed from there); other processes still do."""
    write_images(tmp_path / "imgs", 20)
    script = tmp_path / "unguarded.py"
    script.write_text(textwrap.dedent(f"""
        import multiprocessing.spawn
        from jupyter_cvops import Workspace
        from jupyter_cvops.embeddings import _processes
        _processes.MIN_IMAGES = 1
        ws = Workspace.create({str(tmp_path / "ws")!r})
        ws.add_images({str(tmp_path / "imgs")!r}, progress=False)
        cpu = _processes.worker_cpu_seconds()
        print("embedded", ws.embed("imgstats", progress=False, num_workers=1).n_computed,
              _processes.worker_cpu_seconds() > cpu)
        print("others keep main", "init_main_from_path" in multiprocessing.spawn.get_preparation_data("x"))
    """))
    done = subprocess.run([sys.executable, "-W", "error::UserWarning", str(script)], capture_output=True, text=True,
                          timeout=300, check=False, cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.split("\n")[:2] == ["embedded 20 True", "others keep main True"], done.stdout


def test_credentials_set_after_the_fork_server_started_reach_the_workers(
        tmp_path: Path, s3_server: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(processes, "MIN_IMAGES", 1)
    for k in [k for k in os.environ if k.startswith("AWS_")]:
        monkeypatch.delenv(k)
    ws0 = Workspace.create(tmp_path / "ws0")  # the fork server starts now, without any AWS_* variable
    ws0.add_images(write_images(tmp_path / "first", 4)[0].parent, progress=False)
    E.embed(ws0, "imgstats", num_workers=1, progress=False)
    bucket = s3_server.new_bucket()
    for i, p in enumerate(write_images(tmp_path / "imgs", 5, seed=6)):
        bucket.put(f"line-3/{i}.png", p.read_bytes())
    for k, v in s3_server.env().items():  # credentials and endpoint only in the environment, set now
        monkeypatch.setenv(k, v)
    ws = Workspace.create(tmp_path / "ws")  # a local workspace, images in the bucket
    ws.add_images(bucket.uri("line-3/"), progress=False)
    rep = E.embed(ws, "imgstats", num_workers=1, progress=False)
    assert (rep.n_computed, rep.failures) == (5, [])
