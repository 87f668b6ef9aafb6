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


def make_workspace(root: Path, shared_data: Path, *, n_first: int = 30, rest: bool = True) -> Workspace:
    """A workspace of NEU images labelled by file name; ``baseline`` holds the first ``n_first`` images
    and, when that is not all of them (and ``rest``), ``v2`` all 30."""
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
    if rest and n_first < len(files):
        ws.add_images([str(p) for p in files[n_first:]], progress=False)
        label([str(p) for p in files[n_first:]])
        ws.snapshot(name="v2", message="all images")
    return ws


def notebook(cells: list[tuple[str, str, list[str]]]) -> dict[str, object]:
    """An nbformat 4 notebook of (cell_type, source, tags)."""
    return {"nbformat": 4, "nbformat_minor": 5,
            "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
                         "language_info": {"name": "python"}},
            "cells": [{"id": f"cell-{k}", "cell_type": t, "metadata": {"tags": tags} if tags else {}, "source": src,
                       **({"outputs": [], "execution_count": None} if t == "code" else {})}
                      for k, (t, src, tags) in enumerate(cells)]}


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




def reseal(recipe: Recipe, **spec_changes: object) -> None:
    """Rewrite a recipe's ``recipe.yaml`` with changes and a fresh digest and lock hash: a recipe exported
    elsewhere (never how a hand edit looks)."""
    from jupyter_cvops.recipes.recipe import file_hash, write_spec

    spec = dict(recipe.spec)
    env = dict(spec["environment"])
    env["lock_hash"] = file_hash(recipe.lock_path)
    spec["environment"] = env
    spec.update(spec_changes)
    write_spec(recipe.path, spec)


def counts(ws: Workspace) -> tuple[int, int, int]:
    """(runs, model versions, alias rows): what a refused re-run must leave as it was."""
    return ws.store.count("runs"), ws.store.count("model_versions"), ws.store.count("aliases")


def train_cells(ws_uri: str) -> list[tuple[str, str, list[str]]]:
    """A small real training notebook: seeded torch, a few seconds on CPU, registers a model and sets an alias."""
    return [
        ("markdown", "# Train the defect classifier", []),
        ("code", "lr = 0.05\nepochs = 4\nseed = 0", ["parameters"]),
        ("code", f"import torch, polars as pl, jupyter_cvops as cv\nws = cv.Workspace.open({ws_uri!r})\n"
                 "pre = cv.Preprocess(24, crop=24, mean=(0.5, 0.5, 0.5), std=(0.25, 0.25, 0.25))", []),
        ("code", """with ws.run("train-defect-clf", params={"lr": lr, "epochs": epochs}) as run:
    run.seed(seed)
    ds = run.use("baseline")
    labels = ds.labels().select("image_id", "class_name").unique("image_id")
    items = ds.items().join(labels, on="image_id").sort("image_id")
    classes = sorted(set(items["class_name"]))
    x = torch.from_numpy(pre.batch(items["path"].to_list()))
    y = torch.tensor([classes.index(c) for c in items["class_name"]])
    model = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.ReLU(), torch.nn.AdaptiveAvgPool2d(4),
                                torch.nn.Flatten(), torch.nn.Linear(64, len(classes)))
    opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9)
    for epoch in range(epochs):
        for batch in torch.randperm(len(y)).split(8):
            opt.zero_grad()
            loss = torch.nn.functional.cross_entropy(model(x[batch]), y[batch])
            loss.backward()
            opt.step()
        run.log_metrics({"loss": loss.item()}, step=epoch)
    model.eval()
    with torch.no_grad():
        run.log_metrics({"train_accuracy": (model(x).argmax(1) == y).float().mean().item()})
    mv = run.register_model("defect-clf", model, preprocess=pre, classes=classes)
    ws.set_alias("defect-clf", "production", mv, reason="trained by the notebook")
run""", []),
    ]
