"""Workspace format versions: older workspaces migrate in place, newer ones are refused for writing.

The fixtures ``data/workspace-<commit>.tar.gz`` were written by earlier commits of this project
with ``data/make_workspace.py`` (see its docstring): ``db07667`` predates review decisions
(its ``reviews`` table lacks ``decision_id``, ``accepted_annotator`` and ``reason``), ``ec674e8``
is the last commit that wrote workspace format 1.
"""

from __future__ import annotations

import tarfile
from pathlib import Path

import lancedb
import polars as pl
import pytest

from jupyter_cvops import Workspace, WorkspaceError
from jupyter_cvops._store import Store
from jupyter_cvops._store._migrations import FORMAT_VERSION


def tree(root: Path) -> dict[str, tuple[int, int]]:
    """Every file under ``root``: size and mtime (a read must change none, add none)."""
    return {str(p.relative_to(root)): (p.stat().st_size, p.stat().st_mtime_ns) for p in sorted(root.rglob("*"))}

DATA = Path(__file__).parent / "data"
COMMITS = ["db07667", "ec674e8"]


def unpack(commit: str, dest: Path) -> Path:
    with tarfile.open(DATA / f"workspace-{commit}.tar.gz") as tar:
        tar.extractall(dest, filter="data")
    return dest


def set_format(ws_path: Path, value: str) -> None:
    lancedb.connect(ws_path).open_table("meta").merge_insert("key").when_matched_update_all() \
        .when_not_matched_insert_all().execute([{"key": "format", "value": value}])


@pytest.mark.parametrize("commit", COMMITS)
def test_older_workspace_reads_read_only_without_writing(commit: str, tmp_path: Path) -> None:
    root = unpack(commit, tmp_path)
    before = tree(root / "ws")
    ro = Workspace.open(root / "ws", readonly=True)
    assert ro.store.format == 1
    reviews = ro.reviews()
    assert reviews.height == 1 and reviews["decision_id"].to_list() == reviews["review_id"].to_list()
    assert {"accepted_annotator", "reason"} <= set(reviews.columns)
    assert ro.version("baseline").labels().height == 24
    assert ro.annotations()["class_name"].value_counts().height == 2
    assert tree(root / "ws") == before


@pytest.mark.parametrize("commit", COMMITS)
def test_older_workspace_migrates_in_place_and_keeps_working(commit: str, tmp_path: Path) -> None:
    root = unpack(commit, tmp_path)
    ws = Workspace.open(root / "ws")
    assert ws.store.format == FORMAT_VERSION and ws.store.meta()["format"] == str(FORMAT_VERSION)
    mig = ws.store.migration
    assert mig is not None and (mig.from_format, mig.to_format) == (1, FORMAT_VERSION)
    if commit == "db07667":
        assert {"reviews.decision_id", "reviews.reason", "reviews.accepted_annotator"} <= set(mig.added_columns)
    events = ws.events().filter(pl.col("op") == "workspace.migrate")
    assert events.height == 1
    # everything an older workspace holds still reads, and writes work
    assert ws.images().height == 12 and ws.annotations().height == 24
    base = ws.version("baseline")
    assert base.labels().height == 24 and base.items().height == 12
    assert ws.agreement().overall.height > 0
    iid = ws.images().sort("path")["image_id"][1]
    decision = ws.decide(iid, "accept", annotator="ana")
    assert ws.reviews().filter(pl.col("decision_id") == decision).height >= 1
    v2 = ws.snapshot(name="after-migration")
    assert v2.n_labels == 23  # the accepted decision replaces both annotators' labels of that image
    # a second writable open finds nothing to do
    again = Workspace.open(root / "ws")
    assert again.store.migration is None
    assert again.events().filter(pl.col("op") == "workspace.migrate").height == 1


def test_missing_column_of_an_older_release_reads_and_migrates(tmp_path: Path, shared_data: Path) -> None:
    """The issue's report: an older workspace failed with ``KeyError: 'Field "source" does not exist'``."""
    ws = Workspace.create(tmp_path / "ws")
    ws.add_images(str(shared_data / "images" / "neu-surface-defects" / "*" / "*.jpg"), source="line-1",
                  progress=False)
    n = ws.images().height
    db = lancedb.connect(tmp_path / "ws")
    db.open_table("images").drop_columns(["source"])
    set_format(tmp_path / "ws", "1")
    ro = Workspace.open(tmp_path / "ws", readonly=True)
    assert ro.images()["source"].null_count() == n
    ws = Workspace.open(tmp_path / "ws")
    assert ws.store.migration is not None and "images.source" in ws.store.migration.added_columns
    assert ws.images()["source"].null_count() == n
    report = ws.add_images(str(shared_data / "images" / "neu-surface-defects" / "*" / "*.jpg"), source="line-2",
                           progress=False)
    assert report is not None
    assert set(ws.images()["source"].drop_nulls().to_list()) <= {"line-2"}


def test_interrupted_migration_completes_on_next_open(tmp_path: Path) -> None:
    root = unpack("db07667", tmp_path)
    import pyarrow as pa

    # as if a migration stopped after its first column: one added, the format row not yet written
    lancedb.connect(root / "ws").open_table("reviews").add_columns([pa.field("reason", pa.string())])
    ws = Workspace.open(root / "ws")
    assert ws.store.migration is not None
    assert "reviews.reason" not in ws.store.migration.added_columns
    assert "reviews.decision_id" in ws.store.migration.added_columns
    assert ws.store.format == FORMAT_VERSION
    assert ws.reviews()["decision_id"].null_count() == 0


def test_newer_format_is_refused_for_writing(tmp_path: Path) -> None:
    ws = Workspace.create(tmp_path / "ws")
    set_format(tmp_path / "ws", str(FORMAT_VERSION + 7))
    before = tree(tmp_path / "ws")
    with pytest.raises(WorkspaceError, match=rf"newer jupyter-cvops \(workspace format {FORMAT_VERSION + 7}"):
        Workspace.open(tmp_path / "ws")
    with pytest.raises(WorkspaceError, match="readonly=True"):
        Workspace.create(tmp_path / "ws", exist_ok=True)
    with pytest.raises(WorkspaceError, match="newer"):
        Store.open(tmp_path / "ws")
    assert tree(tmp_path / "ws") == before
    ro = Workspace.open(tmp_path / "ws", readonly=True)  # reading still works
    assert ro.images().height == 0 and ro.store.format == FORMAT_VERSION + 7
    del ws


def test_unreadable_format_is_a_clear_error(tmp_path: Path) -> None:
    Workspace.create(tmp_path / "ws")
    set_format(tmp_path / "ws", "banana")
    with pytest.raises(WorkspaceError, match="unreadable workspace format 'banana'"):
        Workspace.open(tmp_path / "ws")


def test_new_workspace_is_written_at_the_current_format(tmp_path: Path) -> None:
    ws = Workspace.create(tmp_path / "ws")
    assert ws.store.meta()["format"] == str(FORMAT_VERSION)
    assert Workspace.open(tmp_path / "ws").store.migration is None
