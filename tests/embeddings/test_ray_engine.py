"""``ws.embed(..., engine="ray")``: real Ray (one local instance for the module, 2 CPUs), the same vectors,
ids and failures as the in-process engine (imgstats, and a tiny open_clip model loaded from a checkpoint
file in every actor), incremental runs, and a worker killed mid-job (retried; or the job fails with
nothing written)."""

from __future__ import annotations

import json
import os
import signal
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from _embed_workspaces import bucket_and_local, write_images

from jupyter_cvops import Workspace
from jupyter_cvops._store import streamed
from jupyter_cvops.embeddings import _backends as eb
from jupyter_cvops.embeddings import tables as E
from jupyter_cvops.images import _ray as rayx

os.environ["HF_HUB_OFFLINE"] = "1"

TINY = "cvops-ray-tiny-vit"


@pytest.fixture(scope="module")
def image_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("rayimgs")
    write_images(d / "a", 10)
    return d


def make_ws(root: Path, images: Path) -> Workspace:
    ws = Workspace.create(root)
    ws.add_images(images / "a", progress=False)
    return ws


@pytest.fixture(scope="module")
def tiny_clip(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Path]:
    """A tiny ViT registered in this process only, random weights saved to a checkpoint file."""
    import open_clip
    import torch

    d = tmp_path_factory.mktemp("rayclip")
    cfg = {"embed_dim": 16, "vision_cfg": {"image_size": 32, "layers": 1, "width": 64, "patch_size": 8},
           "text_cfg": {"context_length": 8, "vocab_size": 100, "width": 16, "heads": 2, "layers": 1}}
    (d / f"{TINY}.json").write_text(json.dumps(cfg))
    open_clip.add_model_config(d / f"{TINY}.json")
    torch.manual_seed(0)
    ckpt = d / "tiny.pt"
    torch.save(open_clip.create_model(TINY, pretrained=None).state_dict(), ckpt)
    return TINY, ckpt


def vectors(ws: Workspace, table: str) -> dict[str, np.ndarray]:
    v = E.load_vectors(ws, table)
    return dict(zip(v.image_ids, v.vectors, strict=True))


def test_imgstats_on_ray_equals_in_process_and_is_incremental(ray_local: Any, image_dir: Path, tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(streamed, "FLUSH_BYTES", 1)  # every Ray batch written to its own file; still one commit
    local, remote = make_ws(tmp_path / "local", image_dir), make_ws(tmp_path / "ray", image_dir)
    extra = write_images(tmp_path / "gone", 1, seed=9)
    for w in (local, remote):  # one registered image whose file is gone: the same failure either way
        w.add_images(extra, progress=False)
    extra[0].unlink()
    a = E.embed(local, "imgstats", batch_size=3, progress=False)
    b = E.embed(remote, "imgstats", batch_size=3, progress=False, engine="ray")
    assert (b.n_computed, b.n_skipped, b.table) == (a.n_computed, a.n_skipped, a.table) == (10, 0, "emb_imgstats_v1")
    assert sorted(b.failures) == sorted(a.failures) and b.failures[0][2] == "file not found"
    assert b.device.startswith("ray: 1 x cpu")  # 11 images: one imgstats batch (>= 256), so one actor
    va, vb = vectors(local, a.table), vectors(remote, b.table)
    assert sorted(va) == sorted(vb) and remote.store.count(b.table) == local.store.count(a.table) == 10
    for k in va:
        np.testing.assert_allclose(vb[k], va[k], rtol=0, atol=1e-6)
    # one commit for the whole job; a re-run computes nothing and writes nothing
    version = remote.store.version(b.table)
    again = E.embed(remote, "imgstats", progress=False, engine="ray")
    assert (again.n_computed, again.n_skipped) == (0, 10) and remote.store.version(b.table) == version
    # new images: only those are computed
    write_images(tmp_path / "more", 4, seed=1)
    remote.add_images(tmp_path / "more", progress=False)
    more = E.embed(remote, "imgstats", batch_size=3, progress=False, engine="ray", num_workers=1)
    assert (more.n_computed, more.n_skipped) == (4, 10) and remote.store.count(b.table) == 14
    assert remote.store.version(b.table) == version + 1
    assert len(remote.store.table(b.table).to_lance().get_fragments()) >= 2  # each job wrote its own files


def test_open_clip_checkpoint_on_ray_equals_in_process(ray_local: Any, image_dir: Path, tmp_path: Path,
                                                       tiny_clip: tuple[str, Path]) -> None:
    name, ckpt = tiny_clip
    local, remote = make_ws(tmp_path / "local", image_dir), make_ws(tmp_path / "ray", image_dir)
    kw: dict[str, Any] = {"model": f"open_clip:{name}", "pretrained": str(ckpt), "batch_size": 4, "progress": False}
    a = E.embed(local, **kw)
    b = E.embed(remote, **kw, engine="ray", num_workers=1)
    assert (b.table, b.n_computed, b.dim) == (a.table, a.n_computed, a.dim) == (a.table, 10, 16)
    va, vb = vectors(local, a.table), vectors(remote, b.table)
    assert sorted(va) == sorted(vb)
    for k in va:
        np.testing.assert_allclose(vb[k], va[k], rtol=0, atol=1e-5)


def killing_backend(marker: Path | None) -> eb.EmbeddingBackend:
    """imgstats that SIGKILLs the Ray worker running it: once (``marker`` file), or every time (None)."""
    driver = os.getpid()

    class Killer(eb.ImageStatsBackend):  # local class: shipped to the actors by value
        def __init__(self) -> None:
            super().__init__()
            self.model_id, self.table_slug = "imgstats-killtest", "imgstats_killtest"

        def forward(self, batch: Any) -> np.ndarray:
            if os.getpid() != driver and (marker is None or not marker.exists()):
                if marker is not None:
                    marker.touch()
                os.kill(os.getpid(), signal.SIGKILL)
            return super().forward(batch)

    return Killer()


def test_worker_killed_once_is_retried(ray_local: Any, image_dir: Path, tmp_path: Path) -> None:
    ws = make_ws(tmp_path / "ws", image_dir)
    rep = E.embed(ws, killing_backend(tmp_path / "killed"), batch_size=4, progress=False, engine="ray",
                  num_workers=1)
    assert (tmp_path / "killed").exists() and (rep.n_computed, rep.ok) == (10, True)
    ref = E.embed(ws, "imgstats", progress=False)
    got, want = vectors(ws, rep.table), vectors(ws, ref.table)
    assert sorted(got) == sorted(want)
    assert all(np.array_equal(got[k], want[k]) for k in want)


def test_worker_killed_every_time_fails_cleanly(ray_local: Any, image_dir: Path, tmp_path: Path) -> None:
    ws = make_ws(tmp_path / "ws", image_dir)
    table = "emb_imgstats_killtest"
    E.embed(ws, killing_backend(None), images=ws.images()["image_id"][:2], progress=False)  # in-process: no kill
    before = (ws.store.count(table), ws.store.version(table))
    with pytest.raises(E.EmbeddingError, match="Ray job .* failed; nothing was written"):
        E.embed(ws, killing_backend(None), batch_size=4, progress=False, engine="ray", num_workers=1,
                ray_options={"max_retries": 1})
    assert (ws.store.count(table), ws.store.version(table)) == before == (2, before[1])


def test_missing_ray_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)
    with pytest.raises(rayx.RayUnavailable, match=r"pip install jupyter-cvops\[ray\]"):
        rayx.require_ray()


def test_bad_engine_is_refused(tmp_path: Path) -> None:
    ws = Workspace.create(tmp_path / "ws")
    with pytest.raises(ValueError, match="engine must be 'local' or 'ray'"):
        E.embed(ws, "imgstats", engine="spark", progress=False)  # type: ignore[arg-type]


def test_workspace_and_images_in_a_bucket(ray_local: Any, tmp_path: Path, s3_bucket: Any,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """The multi-node layout: workspace and images on S3; the actors get the workspace's storage_options."""
    ws, ref = bucket_and_local(tmp_path, s3_bucket, monkeypatch, prefix="line-1", n=6, seed=3)
    rep = E.embed(ws, "imgstats", progress=False, engine="ray", num_workers=1)
    E.embed(ref, "imgstats", progress=False)
    got, want = vectors(ws, rep.table), vectors(ref, rep.table)
    assert (rep.n_computed, rep.ok) == (6, True) and sorted(got) == sorted(want)
    assert all(np.array_equal(got[k], want[k]) for k in want)


def _fresh_python(code: str) -> str:
    """Run ``code`` in a fresh interpreter (what an actor's process is) and return its stdout."""
    import subprocess

    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout.strip()


def test_actor_side_imports_stay_light() -> None:
    # an actor unpickles EmbedActor, which imports these modules: no LanceDB or polars (1-2 s per actor)
    out = _fresh_python("import sys, jupyter_cvops.embeddings._ray, jupyter_cvops.embeddings._pipeline; "
                        "print(sorted(m for m in ('lancedb', 'polars', 'torch', 'ray') if m in sys.modules))")
    assert out == "[]"
    # the package's names still resolve, lazily
    from jupyter_cvops import embeddings

    assert embeddings.embed is E.embed and "neighbors" in dir(embeddings)
    with pytest.raises(AttributeError):
        embeddings.no_such_name  # noqa: B018


def test_actor_skips_transformers_only_without_hf_towers() -> None:
    pytest.importorskip("transformers")
    cfg = json.dumps({"embed_dim": 8, "vision_cfg": {"image_size": 32}, "text_cfg": {"width": 8}})
    hf = json.dumps({"embed_dim": 8, "text_cfg": {"hf_model_name": "x"}})
    probe = ("import json, sys; from jupyter_cvops.embeddings._ray import _skip_transformers; "
             "_skip_transformers(json.loads({!r})); import open_clip; "
             "print(sys.modules.get('transformers') is not None)")
    assert _fresh_python(probe.format(cfg)) == "False"  # open_clip imported without it
    assert _fresh_python(probe.format(hf)) == "True"  # an HF text tower needs it
