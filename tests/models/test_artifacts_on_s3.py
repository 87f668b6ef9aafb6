"""A workspace in a bucket keeps its model artifacts there: another machine loads them, hash-checked."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch
from tiny_nets import tiny

from jupyter_cvops import Preprocess, Workspace
from jupyter_cvops.models import ArtifactIntegrityError

CLASSES = ["dent", "scuff", "ok"]


def test_a_model_registered_in_an_s3_workspace_loads_back_on_another_machine(
        s3_bucket: Any, pre: Preprocess, batch: torch.Tensor, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path / "machine-a"))  # each "machine" has its own local cache
    ws = Workspace.create(s3_bucket.uri("ws"), storage_options=s3_bucket.storage_options)
    model = tiny(seed=5)
    mv = ws.register_model("clf", model, preprocess=pre, classes=CLASSES, format="torchscript")
    key = f"ws/.cvops/artifacts/{mv.artifact_hash}/model.ts"
    assert key in s3_bucket.keys("ws/.cvops/artifacts/")
    monkeypatch.setenv("HOME", str(tmp_path / "machine-b"))
    other = Workspace.open(s3_bucket.uri("ws"), storage_options=s3_bucket.storage_options)
    loaded = other.model("clf").load()
    with torch.no_grad():
        assert torch.equal(loaded(batch), model(batch))
    # the bucket's copy changed behind the registry's back: refused before anything is loaded
    s3_bucket.put(key, s3_bucket.client().get_object(Bucket=s3_bucket.name, Key=key)["Body"].read() + b"x")
    monkeypatch.setenv("HOME", str(tmp_path / "machine-c"))
    third = Workspace.open(s3_bucket.uri("ws"), storage_options=s3_bucket.storage_options)
    with pytest.raises(ArtifactIntegrityError, match=f"s3://{s3_bucket.name}/ws/.cvops/artifacts/"):
        third.model("clf").load()
