"""ws.export after a class split: labels needing review are left out with an ExportWarning (and the count),
or written with include_needs_review=True."""

from __future__ import annotations

import json
import shutil
from datetime import datetime, timezone
from pathlib import Path

import polars as pl
import pytest

from jupyter_cvops import Workspace
from jupyter_cvops.datasets._export import ExportWarning

T0 = datetime(2026, 1, 5, tzinfo=timezone.utc)


def _ws(tmp_path: Path, shared_data: Path) -> Workspace:
    imgs = tmp_path / "imgs"
    shutil.copytree(shared_data / "images" / "neu-surface-defects", imgs)
    ws = Workspace.create(tmp_path / "ws")
    ws.add_images(imgs, progress=False)
    for name in ("ok", "dent", "scratch"):
        ws.taxonomy.add(name, definition=name)
    ws.taxonomy.commit("v1", author="lead")
    rows = []
    for k, iid in enumerate(ws.images()["image_id"].to_list()):
        for j, ann in enumerate(("ana", "ben")):
            rows.append({"image_id": iid, "annotator": ann, "created_at": T0, "kind": "box",
                         "class_name": ["ok", "dent", "scratch"][(k + j) % 3],
                         "x0": 1.0, "y0": 1.0, "x1": 10.0 + j, "y1": 10.0 + j})
    ws.add_annotations(pl.DataFrame(rows))
    return ws


def _n_annotations(path: Path) -> int:
    """Annotations in a COCO export (``path``: the file or the folder holding it)."""
    files = [path] if path.is_file() else sorted(path.rglob("*.json"))
    return sum(len(json.loads(f.read_text()).get("annotations", [])) for f in files)


def test_export_warns_about_left_out_labels(tmp_path: Path, shared_data: Path) -> None:
    ws = _ws(tmp_path, shared_data)
    clean = ws.snapshot(name="before-split")
    first = ws.export(clean, tmp_path / "clean")  # nothing needs review: no warning (warnings are errors here)
    assert _n_annotations(first) == clean.n_labels == 60

    ws.taxonomy.split("scratch", into=["fine_scratch", "deep_scratch"])
    ws.taxonomy.commit("split scratch")
    v = ws.snapshot(name="after-split")
    labels = v.labels()
    need = labels.filter(pl.col("status") == "needs_review").height
    assert need == 20 and labels.height == 60

    with pytest.warns(ExportWarning, match=r"^20 of the version's 60 labels need review.*include_needs_review=True"):
        out = ws.export(v, tmp_path / "coco")
    assert _n_annotations(out) == labels.height - need

    out_all = ws.export(v, tmp_path / "coco-all", include_needs_review=True)
    assert _n_annotations(out_all) == labels.height
