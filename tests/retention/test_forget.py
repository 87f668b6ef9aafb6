"""``ws.forget``: an image leaves every table (and old untagged versions with purge), the audit record and
the event stay, dataset versions that held it say so in ``verify``; dry runs, errors, ``cvops forget``."""

from __future__ import annotations

import json
from datetime import timedelta

import polars as pl
import pyarrow as pa
import pytest

from jupyter_cvops import Workspace, WorkspaceError
from jupyter_cvops.cli._app import main

TABLES = ("images", "annotations", "reviews", "predictions", "dataset_items", "dataset_labels", "emb_imgstats_v1")


def _where(image_id: str) -> str:
    return f"image_id = '{image_id}'"


def _counts(ws: Workspace, image_id: str) -> dict[str, int]:
    return {t: ws.store.count(t, _where(image_id)) for t in TABLES}


def _versions_holding(ws: Workspace, table: str, image_id: str) -> list[int]:
    """Every version of ``table`` still on disk that holds a row of ``image_id``."""
    out = []
    for v in ws.store.table(table).to_lance().versions():
        tbl = ws.store._db.open_table(table)
        tbl.checkout(int(v["version"]))
        if tbl.count_rows(_where(image_id)):
            out.append(int(v["version"]))
    return out


def _plant_cache(ws: Workspace) -> None:
    """A drift reference cache table (vectors by row number), as ``ws.drift`` leaves one."""
    schema = pa.schema([pa.field("row", pa.int32()), pa.field("vector", pa.list_(pa.float32(), 2))])
    ws.store.ensure_table("knnref_demo", schema)
    ws.store.upsert("meta", "key", [{"key": "knnref:knnref_demo", "value": json.dumps({"created_at": "x"})}])


def test_forget_with_purge_removes_the_image_everywhere_and_keeps_the_record(ws: Workspace) -> None:
    ids = sorted(ws.images()["image_id"].to_list())
    gone, kept = ids[0], ids[1:]
    before_other = {i: _counts(ws, i) for i in kept}
    assert all(_counts(ws, gone)[t] >= 1 for t in TABLES) and _counts(ws, gone)["predictions"] == 4
    _plant_cache(ws)
    path = ws.images().filter(pl.col("image_id") == gone)["path"][0]

    dry = ws.forget([gone], reason="consent withdrawn", dry_run=True)
    assert dry.dry_run and dry.removed["predictions"] == 4 and dry.removed["reviews"] == 1
    assert dry.removed["emb_imgstats_v1"] == 1 and dry.dropped_tables == ["knnref_demo"]
    assert _counts(ws, gone)["images"] == 1 and ws.forgotten().height == 0 and ws.store.has_table("knnref_demo")
    assert "would forget 1 image" in repr(dry) and "predictions 4" in repr(dry)

    rep = ws.forget(gone, reason="consent withdrawn", purge=True, actor="dpo")

    assert rep.image_ids == [gone] and rep.purged and rep.bytes_freed > 0 and rep.files_kept == [path]
    assert all(c == 0 for c in _counts(ws, gone).values())
    assert {i: _counts(ws, i) for i in kept} == before_other  # nothing else touched
    assert not ws.store.has_table("knnref_demo")
    # the record: that it existed, why, when, who and which dataset versions held it (no path)
    record = ws.forgotten().row(0, named=True)
    vid = ws.version("base").id
    assert (record["image_id"], record["reason"], record["actor"], record["dataset_versions"], record["purged"]) == \
        (gone, "consent withdrawn", "dpo", [vid], True)
    assert json.loads(record["removed"])["predictions"] == 4 and "path" not in record
    event = ws.events().filter(pl.col("op") == "image.forget").row(0, named=True)
    assert json.loads(event["details"])["dataset_versions"] == [vid] and event["actor"] == "dpo"
    # the dataset version explains the image it no longer holds
    check = ws.version("base").verify(progress=False)
    assert not check.ok and check.n_checked == 6 and check.missing["image_id"].to_list() == [gone]
    day = record["forgotten_at"].strftime("%Y-%m-%d")
    assert check.missing["reason"].to_list() == [f"image forgotten on {day}: consent withdrawn"]
    assert ws.version("base").items().height == 5
    assert f"1 missing (1 forgotten: image forgotten on {day}: consent withdrawn), 0 changed>" in repr(check)
    # old untagged versions no longer hold it; the snapshot's tagged versions do (and are reported)
    for table in TABLES:
        holding = _versions_holding(ws, table, gone)
        tagged = {int(v["version"]) for v in ws.store.table(table).tags.list().values()}
        assert set(holding) <= tagged, (table, holding)
    assert {(h["table"], h["rows"]) for h in rep.held} == {("images", 1), ("annotations", 1), ("reviews", 1)}
    assert all(h["why"].startswith("tag ds-") for h in rep.held)
    # the pixels never lived in the workspace: the user's file is still there, not the workspace's to delete
    assert ws.store.local_root is not None and __import__("os").path.isfile(path)


def test_without_purge_old_versions_hold_the_rows_until_compact(ws: Workspace) -> None:
    gone = sorted(ws.images()["image_id"].to_list())[2]
    rep = ws.forget([gone], reason="duplicate of a customer photo")
    assert not rep.purged and "until ws.compact()" in repr(rep)
    assert _counts(ws, gone)["predictions"] == 0 and _versions_holding(ws, "predictions", gone)
    ws.compact(["predictions", "emb_imgstats_v1"], older_than=timedelta(0))
    assert _versions_holding(ws, "predictions", gone) == [] and _versions_holding(ws, "emb_imgstats_v1", gone) == []


def test_unknown_and_bad_ids_and_a_missing_reason(ws: Workspace) -> None:
    before = ws.store.version("events")
    with pytest.raises(WorkspaceError, match="needs a reason"):
        ws.forget(["0" * 32], reason=" ")
    with pytest.raises(WorkspaceError, match="not an image id: 'img-1.png'"):
        ws.forget(["img-1.png"], reason="x")
    with pytest.raises(WorkspaceError, match="no image ids"):
        ws.forget([], reason="x")
    rep = ws.forget(["0" * 32], reason="x")
    assert rep.unknown == ["0" * 32] and rep.image_ids == [] and ws.forgotten().height == 0
    assert ws.store.version("events") == before  # nothing written
    ro = Workspace.open(ws.uri, readonly=True)
    some = ws.images()["image_id"][0]
    with pytest.raises(WorkspaceError, match="read-only"):
        ro.forget([some], reason="x")
    assert ro.forget([some], reason="x", dry_run=True).removed["images"] == 1


def test_forgetting_again_keeps_what_the_first_record_knew(ws: Workspace) -> None:
    gone = sorted(ws.images()["image_id"].to_list())[4]
    ws.forget(gone, reason="first")
    ws.forget(gone, reason="second")  # nothing left to remove: the dataset versions and counts are kept
    record = ws.forgotten().row(0, named=True)
    assert ws.forgotten().height == 1 and record["reason"] == "second"
    assert record["dataset_versions"] == [ws.version("base").id] and json.loads(record["removed"])["predictions"] == 4


def test_cli_forget(ws: Workspace, capsys: pytest.CaptureFixture[str]) -> None:
    gone = sorted(ws.images()["image_id"].to_list())[3]
    assert main(["-w", ws.uri, "forget", gone, "--reason", "asked", "--dry-run", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["removed"]["images"] == 1
    assert main(["-w", ws.uri, "forget", gone, "--reason", "asked"]) == 0
    assert capsys.readouterr().out.startswith("<ForgetReport: forgot 1 image ('asked')")
    assert ws.forgotten()["image_id"].to_list() == [gone]
    assert main(["-w", ws.uri, "forget", "nope", "--reason", "x"]) == 1
    with pytest.raises(SystemExit) as exit_info:
        main(["-w", ws.uri, "forget", gone])
    assert exit_info.value.code == 2
    capsys.readouterr()
    assert main(["-w", ws.uri, "verify", "base", "--json"]) == 3
    missing = json.loads(capsys.readouterr().out)["missing"]
    assert [m["image_id"] for m in missing] == [gone] and missing[0]["reason"].endswith(": asked")


def test_forget_on_object_storage(s3_bucket, template) -> None:  # noqa: ANN001
    ws = Workspace.create(s3_bucket.uri("ws"), storage_options=s3_bucket.storage_options)
    ws.add_images(str(template.parent / "images" / "*.png"), progress=False)
    ids = sorted(ws.images()["image_id"].to_list())
    ws.add_annotations(pl.DataFrame({"image_id": ids[:2], "annotator": ["ana"] * 2, "class_name": ["dent"] * 2,
                                     "kind": ["image"] * 2}))
    vid = ws.snapshot(name="base").id
    rep = ws.forget(ids[0], reason="asked", purge=True)
    assert rep.purged and ws.store.count("images") == 5 and ws.store.count("annotations", _where(ids[0])) == 0
    assert ws.forgotten()["dataset_versions"].to_list() == [[vid]]
    assert ws.version("base").verify(progress=False).missing["reason"].to_list()[0].endswith(": asked")
    assert {h["table"] for h in rep.held} == {"images", "annotations"}
