"""``ws.gc_artifacts``: planted orphans (an artifact folder no version records, an interrupted write's
temporary folder, an embedding table without a record) are listed with sizes and removed; referenced
artifacts and recorded tables are kept; recent orphans wait for ``min_age``; ``cvops gc``."""

from __future__ import annotations

import json
import os
from datetime import timedelta

import pyarrow as pa
import pytest
import torch

from jupyter_cvops import Workspace, WorkspaceError
from jupyter_cvops.cli._app import main

OLD = 1_600_000_000


def _plant(ws: Workspace) -> dict[str, object]:
    root = ws.store.local_root / ".cvops" / "artifacts"  # type: ignore[operator]
    orphan = root / ("f" * 64)
    orphan.mkdir(parents=True)
    (orphan / "model.pt").write_bytes(b"x" * 3000)
    tmp = root / ".tmp-abc123"
    tmp.mkdir()
    (tmp / "part").write_bytes(b"y" * 100)
    for path in (orphan / "model.pt", orphan, tmp / "part", tmp):
        os.utime(path, (OLD, OLD))
    schema = pa.schema([pa.field("image_id", pa.string()), pa.field("vector", pa.list_(pa.float32(), 2))])
    ws.store.ensure_table("emb_removed_model", schema)  # an embedding table nothing records
    return {"orphan": str(orphan), "tmp": str(tmp)}


def _model(ws: Workspace) -> object:
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(12, 2))
    return ws.register_model("clf", net, classes=["ok", "dent"], format="torchscript",
                             example_input=torch.zeros(1, 3, 2, 2))


def test_gc_lists_then_removes_orphans_and_keeps_what_is_referenced(ws: Workspace) -> None:
    mv = _model(ws)
    ws.set_alias("clf", "production", mv.version)  # type: ignore[attr-defined]
    planted = _plant(ws)
    root = ws.store.local_root
    assert root is not None
    kept_artifact = root / ".cvops" / "artifacts" / mv.artifact_hash  # type: ignore[attr-defined]

    recent = ws.gc_artifacts()  # the embedding table was just created: left for now (a job may be writing it)
    assert {i["kind"] for i in recent.items} == {"artifact", "temporary"}
    assert any("emb_removed_model" in n for n in recent.notes)

    dry = ws.gc_artifacts(min_age=timedelta(0))
    by = {i["kind"]: i for i in dry.items}
    assert set(by) == {"artifact", "temporary", "embedding table"} and dry.dry_run
    assert (by["artifact"]["what"], by["artifact"]["bytes"]) == (planted["orphan"], 3000)
    assert (by["temporary"]["what"], by["temporary"]["bytes"]) == (planted["tmp"], 100)
    assert by["embedding table"]["what"] == "emb_removed_model"
    assert dry.kept == 2  # the model's artifact and the recorded imgstats table
    assert os.path.isdir(planted["orphan"]) and ws.store.has_table("emb_removed_model")  # a dry run
    assert "would be removed" in repr(dry)

    done = ws.gc_artifacts(dry_run=False, min_age=timedelta(0))
    assert done.bytes == dry.bytes and not done.dry_run
    assert not os.path.exists(planted["orphan"]) and not os.path.exists(planted["tmp"])
    assert not ws.store.has_table("emb_removed_model") and ws.store.has_table("emb_imgstats_v1")
    assert kept_artifact.is_dir()
    loaded = ws.model("clf@production").load()
    assert loaded(torch.zeros(1, 3, 2, 2)).shape == (1, 2)
    event = ws.events().filter(ws.events()["op"] == "store.gc").row(0, named=True)
    assert len(json.loads(event["details"])["removed"]) == 3
    assert ws.gc_artifacts(min_age=timedelta(0)).items == []


def test_read_only_and_cli(ws: Workspace, capsys: pytest.CaptureFixture[str]) -> None:
    _plant(ws)
    ro = Workspace.open(ws.uri, readonly=True)
    with pytest.raises(WorkspaceError, match="read-only"):
        ro.gc_artifacts(dry_run=False)
    assert len(ro.gc_artifacts().items) == 2
    assert main(["-w", ws.uri, "gc", "--json"]) == 0
    assert len(json.loads(capsys.readouterr().out)["items"]) == 2
    assert main(["-w", ws.uri, "gc", "--apply", "--min-age-hours", "0"]) == 0
    assert capsys.readouterr().out.startswith("<GcReport: 3 items removed")


def test_gc_in_a_bucket(s3_bucket, tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: ANN001
    monkeypatch.setenv("HOME", str(tmp_path / "machine"))  # this "machine"'s artifact cache
    ws = Workspace.create(s3_bucket.uri("ws"), storage_options=s3_bucket.storage_options)
    mv = _model(ws)
    s3_bucket.put("ws/.cvops/artifacts/" + "e" * 64 + "/model.ts", b"z" * 500)  # an orphan in the bucket
    dry = ws.gc_artifacts(min_age=timedelta(0))
    assert [(i["what"], i["bytes"]) for i in dry.items] == [(s3_bucket.uri("ws/.cvops/artifacts/" + "e" * 64), 500)]
    ws.gc_artifacts(dry_run=False, min_age=timedelta(0))
    left = s3_bucket.keys("ws/.cvops/artifacts/")
    assert left and all(mv.artifact_hash in k for k in left)  # type: ignore[attr-defined]
    assert Workspace.open(s3_bucket.uri("ws")).model("clf").load()(torch.zeros(1, 3, 2, 2)).shape == (1, 2)
