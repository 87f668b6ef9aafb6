"""Helpers of the recipe tests: workspaces of NEU images, notebooks, runs recorded as a kernel records them."""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path

import polars as pl
import pytest

from jupyter_cvops import Workspace
from jupyter_cvops.recipes import Recipe


def make_workspace(root: Path, shared_data: Path, *, n_first: int = 30) -> Workspace:
    """A workspace of NEU images labelled by file name; ``baseline`` holds the first ``n_first`` images
    and, when that is not all of them, ``v2`` all 30."""
    imgs = root / "imgs"
    shutil.copytree(shared_data / "images" / "neu-surface-defects", imgs)
    files = sorted(imgs.iterdir())
    ws = Workspace.create(root / "ws")
    ws.add_images([str(p) for p in files[:n_first]], progress=False)
    classes = sorted({p.name.rsplit("_", 1)[0] for p in files})
    ws.taxonomy.ensure(classes)

    def label(paths: list[str]) -> None:
        images = ws.images().filter(pl.col("path").is_in(paths))
        ws.add_annotations(pl.DataFrame({
            "image_id": images["image_id"], "annotator": ["ana"] * images.height,
            "class_name": [Path(p).name.rsplit("_", 1)[0] for p in images["path"]],
            "kind": ["image"] * images.height}))

    label([str(p) for p in files[:n_first]])
    ws.snapshot(name="baseline", message="first labelled batch")
    if n_first < len(files):
        ws.add_images([str(p) for p in files[n_first:]], progress=False)
        label([str(p) for p in files[n_first:]])
        ws.snapshot(name="v2", message="all images")
    return ws


def notebook(cells: list[tuple[str, str, list[str]]]) -> dict[str, object]:
    """An nbformat 4 notebook of (cell_type, source, tags)."""
    return {"nbformat": 4, "nbformat_minor": 5,
            "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
                         "language_info": {"name": "python"}},
            "cells": [{"cell_type": t, "metadata": {"tags": tags} if tags else {}, "source": src,
                       **({"outputs": [], "execution_count": None} if t == "code" else {})}
                      for t, src, tags in cells]}


def write_notebook(path: Path, nb: dict[str, object]) -> Path:
    path.write_text(json.dumps(nb, indent=1) + "\n", encoding="utf-8")
    return path


@dataclass
class Small:
    ws: Workspace
    notebook: Path
    recipe: Recipe
    root: Path


def record_run(ws: Workspace, nb_path: Path, monkeypatch: pytest.MonkeyPatch, *, use: str | None = "baseline",
               fail: bool = False, metrics: dict[str, float] | None = None) -> str:
    """A run recorded as the notebook's kernel would record it; its id."""
    monkeypatch.setenv("JPY_SESSION_NAME", str(nb_path))
    try:
        with ws.run("train", params={"lr": 0.1, "epochs": 2}) as run:
            run.seed(0)
            if use:
                run.use(use)
            run.log_metrics(metrics or {"accuracy": 0.75, "loss": 0.5})
            if fail:
                raise RuntimeError("loss is nan")
    except RuntimeError:
        pass
    finally:
        monkeypatch.delenv("JPY_SESSION_NAME")
    return run.id


SMALL_CELLS = [
    ("markdown", "# train", []),
    ("code", "lr = 0.1\nepochs = 2\nseed = 0", ["parameters"]),
    ("code", "import jupyter_cvops as cv\nprint(lr, epochs)", []),
]


