"""ws.evaluate: metrics against scikit-learn, ground truth from reviews and majorities, slices,
unreadable images counted, the result stored as a check."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import polars as pl
import pytest
import torch
from PIL import Image
from sklearn.metrics import accuracy_score, confusion_matrix, f1_score, precision_recall_fscore_support

from jupyter_cvops import Preprocess, Workspace
from jupyter_cvops.models._metrics import confusion, per_class, summary
from jupyter_cvops.models.evaluate import ground_truth


class Brightness(torch.nn.Module):
    """'bright' when the mean input is above 0, else 'dark': a model whose answers are known."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        m = x.mean(dim=(1, 2, 3))
        return torch.stack([-m * 10, m * 10], dim=1)


def test_metrics_match_scikit_learn() -> None:
    rng = np.random.default_rng(0)
    classes = ["a", "b", "c", "d"]
    y_true = rng.choice(classes[:3], 300).tolist()  # 'd' is never true: zero support
    y_pred = rng.choice(classes, 300).tolist()
    m = confusion(y_true, y_pred, classes)
    assert (m == confusion_matrix(y_true, y_pred, labels=classes)).all()
    table = per_class(m, classes)
    p, r, f, s = precision_recall_fscore_support(y_true, y_pred, labels=classes, zero_division=0)
    assert np.allclose(table["precision"].to_numpy(), p) and np.allclose(table["recall"].to_numpy(), r)
    assert np.allclose(table["f1"].to_numpy(), f) and (table["support"].to_numpy() == s).all()
    out = summary(m)
    assert out["accuracy"] == pytest.approx(accuracy_score(y_true, y_pred))
    assert out["macro_f1"] == pytest.approx(f1_score(y_true, y_pred, labels=classes[:3], average="macro",
                                                     zero_division=0))


def test_ground_truth_prefers_reviews_then_majority() -> None:
    labels = pl.DataFrame({
        "image_id": ["a", "a", "a", "b", "b", "c", "c"],
        "annotator": ["x", "y", "z", "x", "qa", "x", "y"],
        "origin": ["annotator", "annotator", "annotator", "annotator", "review", "annotator", "annotator"],
        "status": ["ok", "ok", "ok", "ok", "ok", "ok", "needs_review"],
        "kind": ["image"] * 7,
        "class_name": ["dent", "dent", "ok", "dent", "ok", "ok", "dent"],
    })
    assert ground_truth(labels).sort("image_id").rows() == [
        ("a", "dent", "majority"), ("b", "ok", "reviewed"), ("c", "ok", "unanimous")]


@pytest.fixture
def world(tmp_path: Path) -> dict:
    rng = np.random.default_rng(5)
    folder = tmp_path / "imgs"
    folder.mkdir()
    truth = {}
    for i in range(20):
        bright = i % 2 == 0
        level = 200 if bright else 40
        a = np.clip(rng.normal(level, 10, size=(12, 12, 3)), 0, 255).astype(np.uint8)
        Image.fromarray(a).save(folder / f"i{i:02d}.png")
        truth[f"i{i:02d}.png"] = "bright" if bright else "dark"
    ws = Workspace.create(tmp_path / "ws")
    ws.add_images(folder, source="line-1", captured_at=datetime(2026, 11, 3, tzinfo=timezone.utc), progress=False)
    imgs = ws.images().with_columns(pl.col("path").str.split("/").list.last().alias("name"))
    rows = []
    for r in imgs.iter_rows(named=True):
        label = truth[r["name"]]
        # i00..i03: the annotators mislabel as the wrong class (the model will "miss" them); i19: a tie
        if r["name"] in {"i00.png", "i01.png", "i02.png", "i03.png"}:
            label = "dark" if label == "bright" else "bright"
        rows.append({"image_id": r["image_id"], "annotator": "ana", "class_name": label, "kind": "image"})
        second = ("bright" if label == "dark" else "dark") if r["name"] == "i19.png" else label
        rows.append({"image_id": r["image_id"], "annotator": "ben", "class_name": second, "kind": "image"})
    ws.add_annotations(pl.DataFrame(rows))
    v = ws.snapshot(name="eval", splits={"train": 0.5, "test": 0.5})
    pre = Preprocess(12, crop=12, mean=(0.5, 0.5, 0.5), std=(0.25, 0.25, 0.25))
    mv = ws.register_model("bright", Brightness(), preprocess=pre, classes=["dark", "bright"], dataset_version=v)
    return {"ws": ws, "mv": mv, "v": v, "folder": folder}


def test_evaluate_a_model_with_known_answers(world: dict) -> None:
    ws, mv = world["ws"], world["mv"]
    rep = ws.evaluate("bright", "eval", version=mv.version, progress=False)
    assert rep.overall["n"] == 19 and rep.overall["n_no_truth"] == 1 and rep.overall["n_failed"] == 0
    assert rep.overall["accuracy"] == pytest.approx(15 / 19)  # the four mislabelled images are the misses
    pred = rep.predictions
    assert (pred["truth"] == pred["predicted"]).sum() == 15
    assert rep.confusion.sum() == 19 and rep.per_class["class"].to_list() == ["dark", "bright"]
    by_agreement = rep.slices.filter(pl.col("slice") == "agreement")
    assert by_agreement["value"].to_list() == ["unanimous"]  # the one tie is left out, not a slice
    assert rep.slices.filter(pl.col("slice") == "source")["value"].to_list() == ["line-1"]
    checks = ws.checks(kind="evaluation")
    assert checks.height == 1 and checks["target"][0] == f"bright:{mv.version}"
    assert checks["check_id"][0] == rep.check_id and "accuracy 0.789" in rep.summary()


def test_evaluate_a_split_and_unreadable_images(world: dict) -> None:
    ws, mv, v = world["ws"], world["mv"], world["v"]
    test_ids = v.items().filter(pl.col("split") == "test")
    rep = ws.evaluate(mv, v, split="test", progress=False)
    assert rep.overall["n"] + rep.overall["n_no_truth"] + rep.overall["n_failed"] == test_ids.height
    Path(test_ids["path"][0]).write_bytes(b"broken")
    again = ws.evaluate(mv, v, split="test", progress=False)
    assert again.overall["n_failed"] == 1 and again.failures[0][0] == test_ids["image_id"][0]
    with pytest.raises(ValueError, match="no split 'holdout'; splits: test, train"):
        ws.evaluate(mv, v, split="holdout", progress=False)
