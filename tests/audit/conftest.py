"""A small workspace that answers all ten audit questions yes, built through the real verbs.

Images (seeded noise PNGs), two annotators, a versioned taxonomy with a redefined class, a dataset
version, an agreement check, a tiny seeded torch model trained in a notebook's run and exported as a
recipe (a real folder with its environment lock), production set, moved (a gate bypass) and rolled
back, served predictions logged with the model's own preprocessing, imgstats embeddings, an input
drift check. What the shadow and promotion code will write (a shadow report, a recipe ``--check``)
is written as the contract says, through ``record_check``.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import nbformat
import numpy as np
import polars as pl
import pytest
import torch
from PIL import Image

from jupyter_cvops import Preprocess, Workspace
from jupyter_cvops._store import now_utc
from jupyter_cvops.checks import record_check
from jupyter_cvops.recipes import export_recipe
from jupyter_cvops.recipes._table import upsert_recipe


class Net(torch.nn.Module):
    """conv, global average pool, linear: two classes."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = torch.nn.Conv2d(3, 4, 3)
        self.fc = torch.nn.Linear(4, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.conv(x).relu().mean(dim=(2, 3)))


def net(seed: int) -> Net:
    torch.manual_seed(seed)
    return Net().eval()


PRE = Preprocess(16, crop=16, mean=(0.5, 0.5, 0.5), std=(0.25, 0.25, 0.25))


def _png(path: Path, rng: np.random.Generator) -> Path:
    base = rng.integers(0, 255, size=(3,)) * np.ones((24, 24, 3))
    px = np.clip(base + rng.normal(0, 12, size=(24, 24, 3)), 0, 255).astype(np.uint8)
    Image.fromarray(px).save(path)
    return path


@dataclass
class World:
    ws: Workspace
    root: Path
    recipe_path: Path
    mv1: str
    mv2: str
    marks: dict[str, datetime] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)

    def fork(self, where: Path) -> Workspace:
        """A copy of the workspace (the recipe folder and images stay shared)."""
        shutil.copytree(self.root / "ws", where / "ws")
        return Workspace.open(where / "ws")


def build_world(root: Path) -> World:
    rng = np.random.default_rng(7)
    (root / "train").mkdir(parents=True)
    (root / "prod").mkdir()
    train = [_png(root / "train" / f"t{i:02d}.png", rng) for i in range(24)]
    prod = [_png(root / "prod" / f"p{i:02d}.png", rng) for i in range(6)]
    marks: dict[str, datetime] = {"start": now_utc()}
    ws = Workspace.create(root / "ws")
    ws.add_images([str(p) for p in train], source="line-1", progress=False)
    marks["taxonomy"] = now_utc()
    ws.taxonomy.ensure(["dent", "ok"], author="ana", message="first classes")
    ws.taxonomy.redefine("dent", "a dent deeper than 0.5 mm")
    ws.taxonomy.commit("dent: depth threshold", author="ana")
    ids = ws.images().sort("path")["image_id"].to_list()
    rows = [{"image_id": iid, "annotator": a, "class_name": "dent" if (i + (a == "eve") * (i % 5 == 0)) % 2
             else "ok", "kind": "image"} for i, iid in enumerate(ids) for a in ("ana", "eve")]
    ws.add_annotations(pl.DataFrame(rows))
    ws.snapshot(name="baseline")
    marks["agreement"] = now_utc()
    ws.agreement(bootstrap=20)
    nb_path = root / "train.ipynb"
    nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("print('train')")],
                                            metadata={"kernelspec": {"name": "python3", "language": "python",
                                                                     "display_name": "Python 3"}}), nb_path)
    old = os.environ.get("JPY_SESSION_NAME")
    os.environ["JPY_SESSION_NAME"] = str(nb_path)
    try:
        with ws.run("train", params={"lr": 0.1}) as run:
            run.seed(0)
            run.use("baseline")
            mv1 = run.register_model("clf", net(0), preprocess=PRE, classes=["dent", "ok"])
            run.log_metrics({"accuracy": 0.75})
    finally:
        if old is None:
            os.environ.pop("JPY_SESSION_NAME", None)
        else:
            os.environ["JPY_SESSION_NAME"] = old
    recipe = export_recipe(nb_path, root / "recipes" / "train", workspace=ws)
    mv2 = ws.register_model("clf", net(1), preprocess=PRE, classes=["dent", "ok"], dataset_version="baseline")
    marks["alias"] = now_utc()
    ws.set_alias("clf", "production", mv1.version, reason="first model")
    ws.set_alias("clf", "production", mv2.version, reason="hotfix without the gate")
    marks["rollback"] = now_utc()
    ws.rollback("clf", "production", reason="recall dropped")
    marks["predictions"] = now_utc()
    ws.log_predictions(pl.DataFrame({"path": [str(p) for p in prod], "predicted_class": ["dent", "ok"] * 3,
                                     "score": [0.9, 0.8, 0.7, 0.6, 0.95, 0.85]}),
                       model="clf@production", preprocess=PRE, source="line-1")
    ws.embed("imgstats", progress=False)
    marks["drift"] = now_utc()
    ws.drift("baseline", ws.predictions(model="clf"), by="1d", n_permutations=50)
    marks["recipe_check"] = now_utc()
    check = record_check(ws.store, "recipe", recipe.name,
                         parameters={"recipe_id": recipe.id, "mode": "check", "verify": "fast"},
                         result={"ok": True, "run_id": "r" * 32, "models": [{"name": "clf", "version": mv1.version}]},
                         alert=False, summary=f"recipe {recipe.name!r} re-run: reproduced within tolerance")
    upsert_recipe(ws.store, recipe.spec, str(recipe.path), last_check=check)
    marks["shadow"] = now_utc()
    record_check(ws.store, "shadow", "clf", parameters={"candidate": "clf@candidate"},
                 result={"production_version": mv1.version, "candidate_version": mv2.version, "n": 6,
                         "agreement": 0.83, "agreement_ci": [0.5, 1.0], "kappa": 0.66, "kappa_ci": [0.1, 1.0],
                         "reviewed": None, "alert": True},
                 alert=True, summary="candidate agrees with production on 83% of 6 images")
    marks["end"] = now_utc()
    return World(ws, root, recipe.path, mv1.version, mv2.version, marks)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> World:
    return build_world(tmp_path_factory.mktemp("audit"))
