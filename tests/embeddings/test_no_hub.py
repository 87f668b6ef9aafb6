"""A workspace's stored embedding spec never makes ``neighbors`` fetch weights: only a model
the caller names, or a local checkpoint whose hash matches the recorded one, is loaded."""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest

from jupyter_cvops import Workspace
from jupyter_cvops.embeddings import _backends as eb
from jupyter_cvops.embeddings import _index as ix
from jupyter_cvops.embeddings import tables as E

os.environ["HF_HUB_OFFLINE"] = "1"

TINY = "cvops-test-tiny-vit-nohub"


@pytest.fixture
def fetched(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every download function of open_clip and huggingface_hub, recording instead of fetching."""
    import huggingface_hub
    import huggingface_hub.constants
    import open_clip.factory
    import open_clip.pretrained

    calls: list[str] = []

    def recorder(name: str) -> Any:
        def fetch(*a: object, **k: object) -> None:
            calls.append(f"{name}{a}")
            raise AssertionError(f"{name} was called: a model hub was reached for")
        return fetch

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    monkeypatch.delenv("CVOPS_CLIP_WEIGHTS", raising=False)
    monkeypatch.delenv("CVOPS_CLIP_MODEL", raising=False)
    for mod in (open_clip.factory, open_clip.pretrained):
        for fn in ("download_pretrained", "download_pretrained_from_hf", "download_pretrained_from_url",
                   "hf_hub_download"):
            if hasattr(mod, fn):
                monkeypatch.setattr(mod, fn, recorder(fn))
    for fn in ("hf_hub_download", "snapshot_download"):
        monkeypatch.setattr(huggingface_hub, fn, recorder(fn))
    return calls


@pytest.fixture(scope="module")
def tiny_ckpt(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A registered tiny ViT config with random weights saved as a local checkpoint."""
    import open_clip
    import torch

    d = tmp_path_factory.mktemp("clip")
    cfg = {"embed_dim": 16, "vision_cfg": {"image_size": 32, "layers": 1, "width": 64, "patch_size": 16},
           "text_cfg": {"context_length": 8, "vocab_size": 100, "width": 16, "heads": 2, "layers": 1}}
    (d / f"{TINY}.json").write_text(json.dumps(cfg))
    open_clip.add_model_config(d / f"{TINY}.json")
    torch.manual_seed(0)
    ckpt = d / "tiny.pt"
    torch.save(open_clip.create_model(TINY, pretrained=None).state_dict(), ckpt)
    return ckpt


@pytest.fixture
def ws(tmp_path: Path) -> Workspace:
    w = Workspace.create(tmp_path / "ws")
    (tmp_path / "imgs").mkdir()
    rng = np.random.default_rng(0)
    for i in range(6):
        cv2.imwrite(str(tmp_path / "imgs" / f"{i}.png"), rng.integers(0, 256, (24, 32, 3), dtype=np.uint8))
    w.add_images(tmp_path / "imgs", progress=False)
    return w


def _tamper(ws: Workspace, table: str, **spec: object) -> None:
    rec = ix.records(ws)[table]
    ix.put_record(ws, rec | {"spec": spec})


@pytest.mark.parametrize("spec", [
    {"model": "open_clip:ViT-B-32", "pretrained": "laion2b_s34b_b79k"},
    {"model": "open_clip:hf-hub:evil/model", "pretrained": None},
    {"model": "open_clip:hf-hub:evil/model"},
])
def test_hostile_spec_downloads_nothing_and_says_how_to_pass_the_model(
        ws: Workspace, tiny_ckpt: Path, fetched: list[str], spec: dict[str, object]) -> None:
    ids = ws.images()["image_id"].to_list()
    rep = E.embed(ws, model=f"open_clip:{TINY}", pretrained=str(tiny_ckpt), images=ids[:4], progress=False)
    _tamper(ws, rep.table, **spec)
    with pytest.raises(E.EmbeddingError) as err:
        E.neighbors(ws, ids[5], k=2)
    assert fetched == []  # checked first: no download function was even called
    assert re.search(rf"{rep.table} was built with open_clip:{TINY}@file:.*does not load or download.*"
                     r"ws\.neighbors\(\.\.\., model=", str(err.value)), str(err.value)
    # the caller naming the model is what loads it
    got = E.neighbors(ws, ids[5], k=2, model=f"open_clip:{TINY}", pretrained=str(tiny_ckpt))
    assert got.height == 2 and fetched == []
    # a stored image id needs no model at all
    assert E.neighbors(ws, ids[0], k=2).height == 2


def test_local_checkpoint_is_reused_only_while_its_hash_matches(
        ws: Workspace, tiny_ckpt: Path, fetched: list[str], tmp_path: Path) -> None:
    ckpt = tmp_path / "copy.pt"
    shutil.copy(tiny_ckpt, ckpt)
    ids = ws.images()["image_id"].to_list()
    rep = E.embed(ws, model=f"open_clip:{TINY}", pretrained=str(ckpt), images=ids[:4], progress=False)
    assert E.neighbors(ws, ids[4], k=2).height == 2  # the recorded checkpoint, unchanged
    eb._CACHE.clear()
    ckpt.write_bytes(b"not the checkpoint the table was built with")
    with pytest.raises(E.EmbeddingError, match=rf"{rep.table} was built with .*pretrained="):
        E.neighbors(ws, ids[5], k=2)
    assert fetched == []


def test_record_rebuild_refuses_tags_and_keeps_imgstats() -> None:
    assert isinstance(eb.backend_from_record({"table": "emb_imgstats_v1", "spec": {"model": "imgstats"}}),
                      eb.ImageStatsBackend)
    with pytest.raises(eb.EmbeddingError, match="emb_x was built with unknown-model"):
        eb.backend_from_record({"table": "emb_x", "model": "unknown-model", "spec": {"model": "unknown-model"}})
