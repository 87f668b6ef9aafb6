"""Format 2 -> 3: dataset version names move into the ``aliases`` table model aliases share.

``tests/store/data/workspace-7632015.tar.gz`` was written by commit 7632015 (the last commit writing
format 2) with ``tests/store/data/make_workspace.py``: names ``baseline`` (set, then moved onto the
six-image version ``small``), ``golden`` and ``small`` live in its ``dataset_names`` table.
"""

from __future__ import annotations

import tarfile
from pathlib import Path

import lancedb
import polars as pl
import pytest

from jupyter_cvops import Workspace
from jupyter_cvops._store._migrations import FORMAT_VERSION, STEPS
from jupyter_cvops.datasets.versions import version_names

DATA = Path(__file__).parents[1] / "store" / "data"


def unpack(dest: Path) -> Path:
    with tarfile.open(DATA / "workspace-7632015.tar.gz") as tar:
        tar.extractall(dest, filter="data")
    return dest / "ws"


def tree(root: Path) -> dict[str, tuple[int, int]]:
    return {str(p.relative_to(root)): (p.stat().st_size, p.stat().st_mtime_ns) for p in sorted(root.rglob("*"))}


def expected_names(ws: Workspace) -> dict[str, str]:
    return dict(version_names(ws.store).select("name", "version_id").iter_rows())


def test_format_2_workspace_reads_its_names_read_only_without_writing(tmp_path: Path) -> None:
    root = unpack(tmp_path)
    before = tree(root)
    ro = Workspace.open(root, readonly=True)
    assert ro.store.format == 2
    small, full = ro.version("small"), ro.version("golden")
    assert small.n_images == 6 and full.n_images == 12
    assert ro.version("baseline").id == small.id  # the move is read from dataset_names
    hist = version_names(ro.store, history=True)
    assert hist.select("name", "action", "source").rows() == [
        ("baseline", "set", "dataset_names"), ("golden", "set", "dataset_names"),
        ("small", "set", "dataset_names"), ("baseline", "move", "dataset_names")]
    assert hist["previous_version_id"][-1] == full.id and hist["author"].unique().to_list() == ["fixture"]
    assert ro.models().height == 0 and ro.alias_history().height == 0
    assert tree(root) == before


def test_format_2_workspace_migrates_its_names_into_aliases(tmp_path: Path) -> None:
    root = unpack(tmp_path)
    before = version_names(Workspace.open(root, readonly=True).store, history=True).drop("source")
    ws = Workspace.open(root)
    mig = ws.store.migration
    assert mig is not None and (mig.from_format, mig.to_format) == (2, FORMAT_VERSION) and "step 2->3" in mig.steps
    assert ws.store.meta()["format"] == str(FORMAT_VERSION) == "3"
    rows = ws.store.read("aliases")
    assert rows.height == 4 and set(rows["kind"]) == {"dataset"} and rows["target"].null_count() == 4
    after = version_names(ws.store, history=True)
    assert set(after["source"]) == {"aliases"}
    assert after.drop("source").equals(before)  # same history, same times, authors and messages
    assert ws.version("baseline").n_images == 6 and ws.version("golden").n_images == 12
    # names keep working, now written to the shared table; the old table is left as it was
    ws.name_version("baseline", "golden", move=True, message="back to all twelve")
    assert ws.version("baseline").n_images == 12
    assert ws.store.count("aliases") == 5 and ws.store.count("dataset_names") == 4
    again = Workspace.open(root)
    assert again.store.migration is None and again.store.count("aliases") == 5


def test_an_interrupted_name_migration_reruns_without_copying_twice(tmp_path: Path) -> None:
    root = unpack(tmp_path)
    ro = Workspace.open(root, readonly=True)
    names = expected_names(ro)
    # as if the copy landed but the process died before the format row: the format is still 2
    ws = Workspace.open(root)
    db = lancedb.connect(root)
    db.open_table("meta").update(where="key = 'format'", values={"value": "2"})
    again = Workspace.open(root)
    assert again.store.migration is not None and again.store.format == FORMAT_VERSION
    assert again.store.count("aliases") == 4
    assert expected_names(again) == names
    # the step alone is idempotent too
    STEPS[2](again.store)
    assert again.store.count("aliases") == 4
    del ws


def test_a_partial_copy_is_completed(tmp_path: Path) -> None:
    root = unpack(tmp_path)
    names = expected_names(Workspace.open(root, readonly=True))
    ws = Workspace.open(root)
    db = lancedb.connect(root)
    db.open_table("aliases").delete("name = 'small' OR action = 'move'")  # only part of the copy landed
    db.open_table("meta").update(where="key = 'format'", values={"value": "2"})
    again = Workspace.open(root)
    assert again.store.count("aliases") == 4
    assert expected_names(again) == names
    assert version_names(again.store, history=True)["action"].to_list() == ["set", "set", "set", "move"]
    del ws


@pytest.mark.parametrize("commit", ["db07667", "ec674e8"])
def test_format_1_workspaces_still_migrate_to_3(commit: str, tmp_path: Path) -> None:
    with tarfile.open(DATA / f"workspace-{commit}.tar.gz") as tar:
        tar.extractall(tmp_path, filter="data")
    ws = Workspace.open(tmp_path / "ws")
    assert ws.store.format == 3 and ws.version("baseline").n_images == 12
    ws.name_version("golden", "baseline")
    assert ws.store.read("aliases").filter(pl.col("kind") == "dataset")["name"].to_list() == ["golden"]
