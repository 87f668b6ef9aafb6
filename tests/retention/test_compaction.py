"""Compaction of the append-heavy tables and cleanup of old versions: every row kept, tagged and recorded
versions still check out, untagged old versions gone; the ``cvops compact`` command."""

from __future__ import annotations

import json
from datetime import timedelta

import polars as pl
import pytest

from jupyter_cvops import Workspace, WorkspaceError
from jupyter_cvops._store.compaction import kept_versions
from jupyter_cvops.cli._app import main


def _rows_at(ws: Workspace, table: str, version: int | str) -> int:
    tbl = ws.store._db.open_table(table)
    tbl.checkout(version)
    return int(tbl.count_rows())


def _versions(ws: Workspace, table: str) -> list[int]:
    return [int(v["version"]) for v in ws.store.table(table).to_lance().versions()]


def test_compaction_keeps_rows_and_tagged_and_recorded_versions(ws: Workspace) -> None:
    ids = sorted(ws.images()["image_id"].to_list())
    store = ws.store
    for k in range(3):  # more image versions after the snapshot's tagged one
        store.delete("images", f"image_id = '{ids[k]}'")
    tag, = store.table("images").tags.list()
    tagged = int(store.table("images").tags.list()[tag]["version"])
    recorded = json.loads(store.read("dataset_versions")["table_versions"][0])["versions"]
    before = {t: store.count(t) for t in ("predictions", "events", "images")}
    old_images = _versions(ws, "images")
    preds = {r["prediction_id"]: r["score"] for r in ws.predictions().iter_rows(named=True)}

    rep = ws.compact(["predictions", "events", "images"], older_than=timedelta(0))

    by = {t.table: t for t in rep.tables}
    assert by["predictions"].fragments_before == 4 and by["predictions"].fragments_after == 1
    old_preds = set(range(1, by["predictions"].versions_before + 1))
    assert by["predictions"].rows == 24 and old_preds <= set(by["predictions"].versions_removed)
    assert len(_versions(ws, "predictions")) == 1  # only the newest is left
    assert {r["prediction_id"]: r["score"] for r in ws.predictions().iter_rows(named=True)} == preds
    assert store.count("images") == before["images"] == 3 and store.count("predictions") == before["predictions"]
    assert store.count("events") == before["events"] + 1  # the store.compact event
    # the snapshot's tagged (and recorded) images version survives and still reads its six rows
    assert by["images"].versions_kept == {tagged: f"tag {tag}"} and recorded["images"] == tagged
    assert _rows_at(ws, "images", tag) == _rows_at(ws, "images", tagged) == 6
    for t in ("annotations", "reviews"):
        assert _rows_at(ws, t, recorded[t]) == store.count(t)
    left = _versions(ws, "images")
    assert left == [tagged, left[-1]] and set(old_images) - {tagged} <= set(by["images"].versions_removed)
    assert set(by["images"].versions_removed) == set(range(1, left[-1])) - {tagged}
    assert not set(by["images"].versions_removed) & set(left)
    for gone in by["images"].versions_removed:
        with pytest.raises(Exception):
            _rows_at(ws, "images", gone)
    assert by["predictions"].bytes_freed > 0 and rep.bytes_freed >= by["predictions"].bytes_freed
    assert ws.version("base").verify(progress=False).ok
    text = repr(rep)
    assert text.startswith("<CompactionReport: 3 tables") and f"v{tagged}: tag {tag}" in text
    again = ws.compact(["predictions"], older_than=timedelta(0))
    assert again.tables[0].fragments_before == again.tables[0].fragments_after == 1 and again.tables[0].rows == 24


def test_a_recorded_version_is_kept_even_without_its_tag(ws: Workspace) -> None:
    store = ws.store
    tbl = store.table("images")
    tag, = tbl.tags.list()
    recorded = json.loads(store.read("dataset_versions")["table_versions"][0])["versions"]["images"]
    tbl.tags.delete(tag)  # a tag lost (an older release, a hand edit): the dataset version's record still counts
    store.delete("images", "image_id = '" + ws.images()["image_id"][0] + "'")
    vid = store.read("dataset_versions")["version_id"][0]
    assert kept_versions(store, ["images"])["images"] == {recorded: f"dataset version {vid[:12]}"}
    rep = ws.compact(["images"], older_than=timedelta(0))
    assert recorded in rep.tables[0].versions_kept and _rows_at(ws, "images", recorded) == 6


def test_default_age_keeps_recent_versions_and_dry_run_changes_nothing(ws: Workspace) -> None:
    store = ws.store
    versions = _versions(ws, "predictions")
    dry = ws.compact(dry_run=True, older_than=timedelta(0))
    assert dry.dry_run and dry.tables[0].fragments_after is None and dry.tables[0].versions_removed == versions[:-1]
    assert dry.tables[0].bytes_freed > 0 and "would be removed" in repr(dry)
    assert _versions(ws, "predictions") == versions and len(store.table("predictions").to_lance().get_fragments()) == 4
    rep = ws.compact()  # default: versions younger than 7 days stay (a reader elsewhere may be on one)
    assert rep.versions_removed == 0 and rep.tables[0].fragments_after == 1
    assert set(versions) <= set(_versions(ws, "predictions"))


def test_bad_requests_are_refused(ws: Workspace) -> None:
    with pytest.raises(WorkspaceError, match="no table 'nope'"):
        ws.compact(["nope"])
    with pytest.raises(WorkspaceError, match="must not be negative"):
        ws.compact(older_than=timedelta(days=-1))
    ro = Workspace.open(ws.uri, readonly=True)
    with pytest.raises(WorkspaceError, match="read-only"):
        ro.compact()
    assert ro.compact(dry_run=True).versions_removed == 0


def test_cli_compact(ws: Workspace, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["-w", ws.uri, "compact", "--older-than", "0", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["tables"][0]["table"] == "predictions" and out["tables"][0]["fragments_after"] == 1
    assert main(["-w", ws.uri, "compact", "--dry-run"]) == 0
    assert capsys.readouterr().out.startswith("<CompactionReport (dry run)")
    with pytest.raises(SystemExit) as exit_info:
        main(["-w", ws.uri, "compact", "--older-than", "-1"])
    assert exit_info.value.code == 2
    assert main(["-w", ws.uri, "compact", "--tables", "nope"]) == 1


def test_compaction_on_object_storage(s3_bucket) -> None:  # noqa: ANN001
    ws = Workspace.create(s3_bucket.uri("ws"), storage_options=s3_bucket.storage_options)
    for k in range(3):
        ws.store.event("demo", {"k": k})
    ws.store.tag("events", "keep-me")
    ws.store.event("demo", {"k": 3})
    tagged = int(ws.store.table("events").tags.list()["keep-me"]["version"])
    rep = ws.compact(["events"], older_than=timedelta(0))
    t = rep.tables[0]
    assert (t.rows, t.fragments_before, t.fragments_after) == (4, 4, 1) and t.versions_kept == {tagged: "tag keep-me"}
    assert t.versions_removed and t.bytes_freed > 0
    assert ws.store.count("events") == 5 and _rows_at(ws, "events", "keep-me") == 3


def test_store_compact_covers_every_built_in_table(ws: Workspace) -> None:
    counts = {t: ws.store.count(t) for t in ("images", "annotations", "predictions", "dataset_items")}
    ws.store.compact()
    assert {t: ws.store.count(t) for t in counts} == counts
    assert len(ws.store.table("predictions").to_lance().get_fragments()) == 1
    assert ws.version("base").verify(progress=False).ok


def test_an_incrementally_indexed_log_is_compacted_too(ws: Workspace) -> None:
    store = ws.store
    ids = sorted(ws.images()["image_id"].to_list())
    for k in range(3):  # an index segment per batch, as ws.lineage keeps a large log indexed
        ws.log_predictions(pl.DataFrame({"image_id": ids, "predicted_class": ["dent"] * 6}), model="clf")
        store.index_column("predictions", "image_id", incremental=True)
    tbl = store.table("predictions")
    name = tbl.list_indices()[0].name
    assert tbl.index_stats(name).num_indices > 1
    rep = ws.compact(["predictions"], older_than=timedelta(0))
    assert (rep.tables[0].fragments_before, rep.tables[0].fragments_after) == (7, 1)
    assert tbl.index_stats(name).num_indices == 1 and tbl.index_stats(name).num_unindexed_rows == 0
    assert store.count("predictions", f"image_id = '{ids[2]}'") == 7 and store.count("predictions") == 42
