"""Dataset versions: content addressing, splits, verify, diff, taxonomy mapping, export."""

from __future__ import annotations

import shutil
from datetime import datetime, timezone
from pathlib import Path

import polars as pl
import pytest

from jupyter_cvops import Workspace, WorkspaceError

T0 = datetime(2026, 1, 5, tzinfo=timezone.utc)


def _ws(tmp_path: Path, shared_data: Path, name: str = "ws") -> Workspace:
    imgs = tmp_path / f"{name}-imgs"
    if not imgs.exists():
        shutil.copytree(shared_data / "images" / "neu-surface-defects", imgs)
    ws = Workspace.create(tmp_path / name)
    ws.add_images(imgs, progress=False)
    ws.taxonomy.add("ok", definition="no defect")
    ws.taxonomy.add("dent", definition="a depression")
    ws.taxonomy.add("scratch", definition="a line")
    ws.taxonomy.commit("v1", author="lead")
    ids = ws.images()["image_id"].to_list()
    rows = []
    for k, iid in enumerate(ids):
        for ann in ("ana", "ben"):
            cls = ["ok", "dent", "scratch"][(k + (ann == "ben")) % 3]
            rows.append({"image_id": iid, "annotator": ann, "created_at": T0, "class_name": cls, "kind": "image"})
    ws.add_annotations(pl.DataFrame(rows))
    return ws


def test_snapshot_is_content_addressed(tmp_path: Path, shared_data: Path) -> None:
    a = _ws(tmp_path, shared_data, "a")
    b = _ws(tmp_path, shared_data, "b")
    va = a.snapshot(name="first", message="m")
    vb = b.snapshot(name="other-name")
    assert va.id == vb.id  # same content, different workspaces and names
    assert va.n_images == 30 and va.n_labels == 60
    assert sum(va.splits.values()) == 30
    again = a.snapshot(name="alias")
    assert again.id == va.id and a.versions().height == 1
    assert a.version("alias").id == va.id and a.version(va.id[:8]).id == va.id


def test_splits_are_stable_when_images_are_added(tmp_path: Path, shared_data: Path) -> None:
    ws = _ws(tmp_path, shared_data)
    few = ws.images()["image_id"][:20]
    v1 = ws.snapshot(name="twenty", images=few)
    v2 = ws.snapshot(name="all")
    s1 = dict(v1.items().select("image_id", "split").iter_rows())
    s2 = dict(v2.items().select("image_id", "split").iter_rows())
    assert v1.n_images == 20 and v2.n_images == 30
    assert all(s2[i] == s for i, s in s1.items())


def test_old_versions_survive_later_writes_and_diff(tmp_path: Path, shared_data: Path) -> None:
    ws = _ws(tmp_path, shared_data)
    v1 = ws.snapshot(name="v1")
    before = v1.labels()
    iid = ws.images()["image_id"][0]
    ws.add_annotations(pl.DataFrame([{"image_id": iid, "annotator": "chloe", "created_at": T0,
                                      "class_name": "dent", "kind": "image"}]))
    ws.taxonomy.rename("dent", "depression")
    ws.taxonomy.commit("rename dent")
    v2 = ws.snapshot(name="v2")
    assert v2.id != v1.id and v2.taxonomy_version == 2
    assert ws.version("v1").labels().equals(before)
    d = v2.diff("v1")
    added = d.filter(pl.col("change") == "added")
    assert added.height == 1 and added["annotator"][0] == "chloe"
    changed = d.filter(pl.col("change") == "changed")
    assert set(changed["class_before"]) == {"dent"} and set(changed["class_after"]) == {"depression"}
    assert d.filter(pl.col("change") == "removed").height == 0


def test_split_class_labels_need_review(tmp_path: Path, shared_data: Path) -> None:
    ws = _ws(tmp_path, shared_data)
    ws.taxonomy.split("scratch", into=["fine_scratch", "deep_scratch"])
    ws.taxonomy.commit("split scratch")
    v = ws.snapshot()
    labels = v.labels()
    need = labels.filter(pl.col("status") == "needs_review")
    assert need.height == 20 and need["class_id"].null_count() == 20
    assert labels.filter(pl.col("status") == "ok").height == 40


def test_verify_reports_missing_and_changed(tmp_path: Path, shared_data: Path) -> None:
    ws = _ws(tmp_path, shared_data)
    v = ws.snapshot(name="v")
    assert v.verify(progress=False).ok
    paths = sorted(v.items()["path"].to_list())
    Path(paths[0]).unlink()
    with open(paths[1], "ab") as f:
        f.write(b"\x00")
    rep = v.verify(progress=False)
    assert not rep.ok and rep.missing["path"].to_list() == [paths[0]]
    assert rep.changed["path"].to_list() == [paths[1]]


def test_crash_before_the_version_row_leaves_no_version(tmp_path: Path, shared_data: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    ws = _ws(tmp_path, shared_data)
    store = ws.store
    real_append = store.append

    def failing(name, rows):  # noqa: ANN001, ANN202
        if name == "dataset_versions":
            raise OSError("disk full")
        return real_append(name, rows)

    monkeypatch.setattr(store, "append", failing)
    with pytest.raises(OSError):
        ws.snapshot(name="doomed")
    monkeypatch.setattr(store, "append", real_append)
    assert ws.versions().height == 0
    with pytest.raises(WorkspaceError, match="no dataset versions"):
        ws.version("doomed")
    v = ws.snapshot(name="retry")
    assert v.items().height == 30 and v.labels().height == 60  # orphaned rows were not doubled


def test_export_coco_and_yolo_round_trip(tmp_path: Path, shared_data: Path) -> None:
    ws = Workspace.create(tmp_path / "ws")
    ws.import_annotations(shared_data / "formats" / "voc-neu-det", format="voc", annotator="neu", progress=False)
    v = ws.snapshot(name="neu")
    out = ws.export(v, tmp_path / "coco", format="coco", copy_images=True)
    assert out.exists()
    ws2 = Workspace.create(tmp_path / "ws2")
    files = sorted((tmp_path / "coco").rglob("*.json"))
    total = 0
    for f in files:
        r = ws2.import_annotations(f, format="coco", progress=False)
        total += r.n_labels_added
    assert total == v.n_labels
    assert set(ws2.annotations()["annotator"]) == {"neu"}
    v2 = ws2.snapshot(name="neu")
    assert v2.n_images == v.n_images and v2.n_labels == v.n_labels
    yolo = ws.export(v, tmp_path / "yolo", format="yolo", copy_images=True)
    ws3 = Workspace.create(tmp_path / "ws3")
    r = ws3.import_annotations(yolo, format="yolo", progress=False)
    assert r.n_labels_added == v.n_labels, r
    v3 = ws3.snapshot(name="neu")
    assert set(ws3.annotations()["annotator"]) == {"neu"}
    cols = ["image_id", "class_name", *(pl.col(c).round(2) for c in ("x0", "y0", "x1", "y1"))]
    a, b = v.labels().select(cols), v3.labels().select(cols)
    assert a.join(b, on=a.columns, how="anti").height == 0
    assert b.join(a, on=a.columns, how="anti").height == 0


def test_manifest_hash_is_the_xxh3_of_its_documented_lines() -> None:
    """The hash is computed in polars; this spells the bytes out in Python (ids must never change)."""
    import json

    import xxhash

    from jupyter_cvops.datasets.versions import LABEL_COLUMNS, manifest_hash

    items = pl.DataFrame({"image_id": ["b" * 32, "a" * 32, "c" * 32], "split": ["val", "train", None]},
                         schema={"image_id": pl.String, "split": pl.String})
    cols = [c for c in LABEL_COLUMNS if c != "created_at"]
    labels = pl.DataFrame({c: (["a" * 32, "b" * 32] if c == "image_id" else [1.23456, None] if c == "x0"
                               else [None, None] if c in ("y0", "x1", "y1") else ["z", "y"]) for c in LABEL_COLUMNS},
                          schema_overrides={"x0": pl.Float64, "y0": pl.Float64, "x1": pl.Float64, "y1": pl.Float64,
                                            "created_at": pl.String})
    h = xxhash.xxh3_128()
    h.update(json.dumps({"t": 1}, sort_keys=True).encode())
    h.update(b"\x00items\x00" + f"{'a' * 32}\ttrain\n{'b' * 32}\tval\n{'c' * 32}\tNone".encode())
    rows = ["\t".join("1.235" if c == "x0" and k == 0 else "" if c in ("x0", "y0", "x1", "y1")
                      else (["a" * 32, "b" * 32][k] if c == "image_id" else ["z", "y"][k]) for c in cols)
            for k in range(2)]
    h.update(b"\x00labels\x00" + "\n".join(sorted(rows)).encode())
    assert manifest_hash(items, labels, {"t": 1}) == h.hexdigest()[:32]
