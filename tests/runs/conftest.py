"""A small real workspace for runs: 30 NEU surface-defect images, labels from their file names, two
dataset versions; and a clean notebook context (no notebook path leaking in from other tests)."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import polars as pl
import pytest

from jupyter_cvops import Workspace


@pytest.fixture(autouse=True)
def no_notebook(monkeypatch: pytest.MonkeyPatch) -> None:
    """Runs look for a notebook in $JPY_SESSION_NAME and an IPython shell's namespace: start with neither."""
    monkeypatch.delenv("JPY_SESSION_NAME", raising=False)
    ipython = sys.modules.get("IPython")
    shell = ipython.get_ipython() if ipython is not None else None
    if shell is not None:
        for key in ("__session__", "__vsc_ipynb_file__"):
            if key in shell.user_ns:
                monkeypatch.delitem(shell.user_ns, key)


@pytest.fixture
def ws(tmp_path: Path, shared_data: Path) -> Workspace:
    imgs = tmp_path / "imgs"
    shutil.copytree(shared_data / "images" / "neu-surface-defects", imgs)
    ws = Workspace.create(tmp_path / "ws")
    ws.add_images(imgs, progress=False)
    images = ws.images()
    classes = [Path(p).name.rsplit("_", 1)[0] for p in images["path"]]
    ws.taxonomy.ensure(sorted(set(classes)))
    ws.add_annotations(pl.DataFrame({"image_id": images["image_id"], "annotator": ["ana"] * images.height,
                                     "class_name": classes, "kind": ["image"] * images.height}))
    ws.snapshot(name="baseline", message="first labelled batch")
    ws.snapshot(name="half", splits={"train": 0.5, "val": 0.5})
    return ws
