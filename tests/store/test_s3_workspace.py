"""A workspace in a bucket (real S3 API: moto's server) does what a local one does, with the same results.

The same steps run on a local workspace as the reference: same image ids, same (content-addressed)
dataset version id, same embedding vectors, same drift statistics, same prediction rows.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from jupyter_cvops import Workspace

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def images(tmp_path: Path, shared_data: Path) -> Path:
    folder = tmp_path / "images"
    folder.mkdir()
    for src in sorted((shared_data / "images" / "neu-surface-defects").iterdir())[:24]:
        shutil.copy(src, folder / src.name)
    return folder


def _steps(ws: Workspace, images: Path) -> dict:
    out: dict = {"added": len(ws.add_images(images, progress=False).added)}
    out["again"] = len(ws.add_images(images, progress=False).unchanged)
    ids = sorted(ws.images()["image_id"].to_list())
    labels = pl.DataFrame([{"image_id": i, "annotator": "ana", "kind": "image",
                            "class_name": ("crazing", "scratch")[k % 2]} for k, i in enumerate(ids)])
    out["labels"] = ws.add_annotations(labels).n_labels_added
    out["taxonomy"] = ws.taxonomy.version
    v = ws.snapshot(name="first", message="first")
    out["version"] = v.id
    out["verify"] = ws.version("first").verify(progress=False).ok
    out["embed"] = ws.embed("imgstats", progress=False).n_computed
    vec = ws.store.read("emb_imgstats_v1").sort("image_id")
    out["vectors"] = np.stack(vec["vector"].to_list())
    drift = ws.drift(ids[:12], ids[12:], by="1d", progress=False, seed=0)
    out["drift"] = drift.select("n", "statistic", "p_value").row(0)
    logged = ws.log_predictions(pl.DataFrame({"image_id": ids[:4], "predicted_class": ["crazing"] * 4}), model="clf")
    out["predictions"] = logged.height
    out["ids"] = ids
    return out


def test_s3_workspace_matches_a_local_one(s3_bucket, tmp_path: Path, images: Path, monkeypatch) -> None:
    local = _steps(Workspace.create(tmp_path / "local-ws"), images)
    uri = s3_bucket.uri("team-ws")
    for var in ("AWS_ENDPOINT", "AWS_ENDPOINT_URL", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.delenv(var)  # storage_options alone reach the bucket
    ws = Workspace.create(uri, storage_options=s3_bucket.storage_options)
    assert ws.store.storage_options["endpoint"] == s3_bucket.server.endpoint
    remote = _steps(ws, images)
    np.testing.assert_allclose(remote.pop("vectors"), local.pop("vectors"), rtol=0, atol=0)
    assert local["drift"][0] == 12 and local["drift"][1] is not None
    assert remote.pop("drift") == pytest.approx(local.pop("drift"))
    assert remote == local and remote["added"] == 24 and remote["again"] == 24 and remote["verify"]
    # the dataset version is a Lance tag in the bucket; nothing of the workspace is written locally
    assert any(k.startswith("team-ws/") and "/_refs/tags/" in k for k in s3_bucket.keys())
    assert not (Path.cwd() / "team-ws").exists() and not (Path.home() / "team-ws").exists()
    for k, v in s3_bucket.server.env().items():
        monkeypatch.setenv(k, v)
    viewer = Workspace.open(uri, readonly=True)  # the environment alone, as LanceDB reads it
    assert viewer.version("first").id == remote["version"] and viewer.images().height == 24


def test_cli_and_magics_on_an_s3_workspace(s3_bucket, images: Path, tmp_path: Path) -> None:
    uri = s3_bucket.uri("ws")
    env = {**os.environ, **s3_bucket.server.env(), "HOME": str(tmp_path / "home"), "PYTHONPATH": str(REPO)}
    cvops = [sys.executable, "-m", "jupyter_cvops.cli"]
    Workspace.create(uri)
    run = subprocess.run([*cvops, "-w", uri, "add-images", str(images)], env=env, capture_output=True, text=True,
                         timeout=120)
    assert run.returncode == 0 and "added=24" in run.stdout, run.stderr[-2000:]
    from IPython import get_ipython
    from IPython.testing.globalipapp import start_ipython

    ip = start_ipython() or get_ipython()
    ip.run_line_magic("load_ext", "jupyter_cvops")
    ip.run_line_magic("cvops", f"use {uri}")
    ip.run_line_magic("cvops", "snapshot --name base -m 'from the magic'")
    versions = ip.run_line_magic("cvops", "versions")
    assert versions["name"].to_list() == ["base"] and versions["n_images"].to_list() == [24]
    run = subprocess.run([*cvops, "-w", uri, "verify", "base"], env=env, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0 and "24 checked" in run.stdout, run.stdout + run.stderr[-2000:]
