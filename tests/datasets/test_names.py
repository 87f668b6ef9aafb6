"""Dataset version names are aliases of content ids: naming unchanged content adds the name (and says so),
a name in use for other content is refused unless moved, and every set/move/remove is kept as history.
Workspaces from before the name history (names in ``dataset_versions.name`` and ``alias:`` meta rows)
keep resolving, read-only too."""

from __future__ import annotations

import json
import shutil
from datetime import datetime, timedelta, timezone
from pathlib import Path

import lancedb
import polars as pl
import pytest

from jupyter_cvops import Workspace, WorkspaceError
from jupyter_cvops.datasets._names import NameInUseError, check_name
from jupyter_cvops.datasets.versions import name_version, remove_version_name, take_snapshot, version_names


@pytest.fixture
def ws(tmp_path: Path, shared_data: Path) -> Workspace:
    shutil.copytree(shared_data / "images" / "neu-surface-defects", tmp_path / "imgs")
    w = Workspace.create(tmp_path / "ws")
    w.add_images(tmp_path / "imgs", progress=False)
    return w


def _snap(ws: Workspace, name: str | None, *, images: list[str] | None = None, move: bool = False,
          message: str | None = None):  # noqa: ANN202
    """``ws.snapshot`` with ``move`` (until the workspace verb forwards it)."""
    ids = None if images is None else pl.Series("image_id", images, dtype=pl.String)
    return take_snapshot(ws.store, ws.taxonomy, name=name, message=message, splits=None, image_ids=ids,
                         author=None, move=move)


def test_a_new_name_on_unchanged_content_is_added_and_said(ws: Workspace) -> None:
    first = ws.snapshot(name="magic-snap")
    again = ws.snapshot(name="imgs-only", message="same images, another handle")
    assert again.id == first.id
    assert again.name == "imgs-only" and again.names == ("magic-snap", "imgs-only")
    assert f"named 'imgs-only' (content unchanged since {first.short_id})" in repr(again)
    assert again.to_dict()["note"] == again.note
    listed = ws.versions()
    assert listed.height == 1 and listed["names"].to_list() == [["magic-snap", "imgs-only"]]
    assert listed["name"].to_list() == ["imgs-only"]
    assert ws.version("imgs-only").id == first.id and ws.version("magic-snap").id == first.id
    assert ws.version("imgs-only").name == "imgs-only"
    hist = version_names(ws.store, history=True, name="imgs-only")
    assert hist.select("action", "version_id", "message").rows() == [("set", first.id, "same images, another handle")]


def test_same_name_same_content_and_no_name_say_unchanged(ws: Workspace) -> None:
    v = ws.snapshot(name="baseline")
    same = ws.snapshot(name="baseline")
    assert same.id == v.id and "already named 'baseline'" in same.note
    plain = ws.snapshot()
    assert plain.id == v.id and plain.name == "baseline" and "no new version" in plain.note
    assert version_names(ws.store, history=True).height == 1  # nothing recorded twice


def test_a_name_in_use_for_other_content_is_refused_unless_moved(ws: Workspace) -> None:
    v1 = ws.snapshot(name="baseline")
    few = ws.images()["image_id"].to_list()[:10]
    with pytest.raises(NameInUseError, match=r"'baseline' already points at dataset version "
                                             rf"{v1.short_id} \(other content\); .*move=True"):
        ws.snapshot(name="baseline", images=few)
    assert ws.versions().height == 1  # refused before anything of the new version was written
    assert ws.store.count("dataset_items") == 30
    assert ws.version("baseline").id == v1.id
    v2 = _snap(ws, "baseline", images=few, move=True, message="ten images are the new baseline")
    assert v2.id != v1.id and v2.n_images == 10 and f"moved from {v1.short_id}" in v2.note
    assert ws.version("baseline").id == v2.id  # the current holder, not "ambiguous"
    assert ws.versions().filter(pl.col("id") == v1.id)["names"].to_list() == [[]]
    hist = version_names(ws.store, history=True, name="baseline")
    assert hist.select("action", "version_id", "previous_version_id").rows() == [
        ("set", v1.id, None), ("move", v2.id, v1.id)]
    assert hist["message"][-1] == "ten images are the new baseline"


def test_moving_a_name_to_unchanged_content(ws: Workspace) -> None:
    few = ws.images()["image_id"].to_list()[:10]
    small = ws.snapshot(name="small", images=few)
    ws.snapshot(name="baseline")
    with pytest.raises(NameInUseError):
        ws.snapshot(name="baseline", images=few)
    moved = _snap(ws, "baseline", images=few, move=True)
    assert moved.id == small.id and "moved from" in moved.note and "content unchanged" in moved.note
    assert ws.version("baseline").id == small.id


def test_name_version_move_and_remove(ws: Workspace) -> None:
    v1 = ws.snapshot(name="v1")
    v2 = ws.snapshot(name="v2", images=ws.images()["image_id"].to_list()[:5])
    prod = name_version(ws.store, "production", "v1", message="first rollout")
    assert prod.id == v1.id and prod.name == "production" and prod.names == ("v1", "production")
    assert name_version(ws.store, "production", v1).note == "already named 'production'"
    with pytest.raises(NameInUseError, match="move=True"):
        name_version(ws.store, "production", v2)
    assert name_version(ws.store, "production", v2, move=True, author="qa").id == v2.id
    assert ws.version("production").id == v2.id
    now = version_names(ws.store)
    assert now.filter(pl.col("name") == "production").select("version_id", "set_by").rows() == [(v2.id, "qa")]
    gone = remove_version_name(ws.store, "production", message="rolled back")
    assert gone.id == v2.id and gone.names == ("v2",)
    with pytest.raises(WorkspaceError, match=rf"'production' now: the name was removed from {v2.short_id} .*"
                                             rf"ws.version\('{v2.short_id}'\) still reads"):
        ws.version("production")
    assert ws.version(v2.short_id).id == v2.id
    with pytest.raises(WorkspaceError, match="no dataset version is named 'production'"):
        remove_version_name(ws.store, "production")
    actions = version_names(ws.store, history=True, name="production")["action"].to_list()
    assert actions == ["set", "move", "remove"]
    name_version(ws.store, "production", v1)  # a removed name can be set again
    assert ws.version("production").id == v1.id


@pytest.mark.parametrize("bad", ["", " baseline", "base\nline", "tab\t"])
def test_bad_names_are_refused_before_any_work(ws: Workspace, bad: str) -> None:
    with pytest.raises(WorkspaceError, match="dataset version name"):
        ws.snapshot(name=bad)
    assert ws.versions().height == 0
    with pytest.raises(WorkspaceError):
        check_name(bad)


def test_an_ambiguous_id_prefix_names_the_candidates(ws: Workspace) -> None:
    now = datetime.now(timezone.utc)
    ws.store.append("dataset_versions", [
        {"version_id": "abcdef" + c * 26, "created_at": now, "taxonomy_version": 0, "n_images": 0, "n_labels": 0,
         "splits": "{}", "policy": "{}"} for c in "01"])
    with pytest.raises(WorkspaceError, match=r"'abcdef' is ambiguous: 2 dataset version ids start with it "
                                             r"\(abcdef000000, abcdef111111\); give more characters"):
        ws.version("abcdef")
    assert ws.version("abcdef1").id == "abcdef" + "1" * 26


def test_a_crash_before_the_name_row_leaves_an_unnamed_version_that_a_retry_names(
        ws: Workspace, monkeypatch: pytest.MonkeyPatch) -> None:
    real = ws.store.append

    def failing(name, rows):  # noqa: ANN001, ANN202
        if name == "aliases":
            raise OSError("disk full")
        return real(name, rows)

    monkeypatch.setattr(ws.store, "append", failing)
    with pytest.raises(OSError):
        ws.snapshot(name="baseline")
    monkeypatch.setattr(ws.store, "append", real)
    with pytest.raises(WorkspaceError, match="no dataset version named"):
        ws.version("baseline")  # the name row lands last: no name without its row
    v = ws.snapshot(name="baseline")
    assert v.n_images == 30 and "named 'baseline' (content unchanged" in v.note
    assert ws.versions()["names"].to_list() == [["baseline"]]


# -- workspaces from before the name history ------------------------------------------------------
def _legacy(ws: Workspace) -> tuple[Path, str, str]:
    """Rewrite ``ws`` as an older release left it: two versions both named 'baseline' (reuse was
    accepted), an ``alias:`` meta row with its event, no name history table (neither ``dataset_names``
    nor ``aliases``) and workspace format 1."""
    few = ws.images()["image_id"].to_list()[:10]
    v1 = ws.snapshot().id
    v2 = ws.snapshot(images=few).id
    root = Path(ws.uri)
    db = lancedb.connect(root)
    t0 = datetime(2026, 1, 5, tzinfo=timezone.utc)
    versions = db.open_table("dataset_versions")
    versions.update(where=f"version_id = '{v1}'", values={"name": "baseline", "created_at": t0})
    versions.update(where=f"version_id = '{v2}'", values={"name": "baseline", "created_at": t0 + timedelta(days=2)})
    db.open_table("meta").add([{"key": "alias:golden", "value": v1}])
    ws.store.event("dataset.alias", {"version_id": v1, "name": "golden"}, "ana")
    db.drop_table("dataset_names")
    db.drop_table("aliases")
    db.open_table("meta").update(where="key = 'format'", values={"value": "1"})
    return root, v1, v2


def test_names_of_an_older_workspace_resolve_read_only(ws: Workspace) -> None:
    root, v1, v2 = _legacy(ws)
    ro = Workspace.open(root, readonly=True)
    assert ro.version("baseline").id == v2  # the later of the two: not "ambiguous"
    assert ro.version("golden").id == v1 and ro.version("golden").name == "golden"
    listed = ro.versions()
    assert dict(zip(listed["id"], listed["names"].to_list())) == {v1: ["golden"], v2: ["baseline"]}
    hist = version_names(ro.store, history=True)
    assert hist.select("name", "action", "version_id", "previous_version_id", "source").rows() == [
        ("baseline", "set", v1, None, "dataset_versions"),
        ("baseline", "move", v2, v1, "dataset_versions"),
        ("golden", "set", v1, None, "meta"),
    ]
    assert hist.filter(pl.col("name") == "golden")["author"].to_list() == ["ana"]
    with pytest.raises(WorkspaceError, match="read-only"):
        name_version(ro.store, "rc", v1)
    assert not {"dataset_names", "aliases"} & set(lancedb.connect(root).list_tables().tables)


def test_names_of_an_older_workspace_continue_after_a_writable_open(ws: Workspace) -> None:
    root, v1, v2 = _legacy(ws)
    rw = Workspace.open(root)
    assert {"dataset_names", "aliases"} <= set(lancedb.connect(root).list_tables().tables)
    with pytest.raises(NameInUseError):
        name_version(rw.store, "baseline", v1)
    name_version(rw.store, "baseline", v1, move=True, message="back to all images")
    assert rw.version("baseline").id == v1
    hist = version_names(rw.store, history=True, name="baseline")
    assert hist.select("action", "version_id", "previous_version_id").rows()[-1] == ("move", v1, v2)
    assert hist.height == 3
    again = rw.snapshot(name="golden")  # the legacy alias is a name like any other
    assert again.id == v1 and "already named 'golden'" in again.note
    assert json.loads(rw.events().filter(pl.col("op") == "dataset.alias")["details"][0])["name"] == "golden"
