"""Lineage and blast radius on a real small workspace: images, two annotators, a dataset version,
a registered torch model, logged predictions, imgstats embeddings in LanceDB.

Random weights teach nothing, so "most responsible training images" is tested with planted
near-duplicates: each production image is a lightly noised copy of one training image, which
must come back as its nearest training image.
"""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import polars as pl
import pytest
import torch
from PIL import Image

from jupyter_cvops import Preprocess, Workspace, WorkspaceError
from jupyter_cvops.lineage import impact_tables, select_labels


class Net(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = torch.nn.Conv2d(3, 4, 3)
        self.fc = torch.nn.Linear(4, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.conv(x).relu().mean(dim=(2, 3)))


T0 = datetime(2026, 11, 2, tzinfo=timezone.utc)
T1 = datetime(2026, 11, 20, tzinfo=timezone.utc)


def _image(rng: np.random.Generator, kind: int) -> np.ndarray:
    """Distinct looks (brightness, colour, texture) so image statistics tell images apart."""
    base = rng.integers(0, 255, size=(3,)) * np.ones((32, 32, 3))
    noise = rng.normal(0, 5 + 15 * (kind % 4), size=(32, 32, 3))
    ramp = np.linspace(0, rng.uniform(0, 120), 32)[None, :, None]
    return np.clip(base + noise + ramp, 0, 255).astype(np.uint8)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> dict:
    root = tmp_path_factory.mktemp("lineage")
    rng = np.random.default_rng(11)
    train_dir, prod_dir = root / "train", root / "prod"
    train_dir.mkdir()
    prod_dir.mkdir()
    arrays = []
    for i in range(24):
        a = _image(rng, i)
        arrays.append(a)
        Image.fromarray(a).save(train_dir / f"t{i:02d}.png")
    ws = Workspace.create(root / "ws")
    ws.add_images(train_dir, source="line-1", progress=False)
    imgs = ws.images().sort("path")
    ids = imgs["image_id"].to_list()
    rows = []
    for i, iid in enumerate(ids):
        rows.append({"image_id": iid, "annotator": "ana", "created_at": T0, "class_name": "dent" if i % 2 else "ok",
                     "kind": "image"})
        # eve labels the first 8 images later, and disagrees on some
        if i < 8:
            rows.append({"image_id": iid, "annotator": "eve", "created_at": T1,
                         "class_name": "ok" if i % 3 else "dent", "kind": "image"})
    ws.add_annotations(pl.DataFrame(rows))
    v1 = ws.snapshot(name="before-eve", images=ids[8:])  # versions without eve's images
    v2 = ws.snapshot(name="baseline")
    torch.manual_seed(0)
    pre = Preprocess(16, crop=16, mean=(0.5, 0.5, 0.5), std=(0.25, 0.25, 0.25))
    with ws.run("train", params={"lr": 0.1}) as run:
        run.use("baseline")
        mv = run.register_model("clf", Net().eval(), preprocess=pre, classes=["dent", "ok"])
    ws.set_alias("clf", "production", mv.version, reason="first model")
    old = ws.register_model("clf", Net().eval(), preprocess=pre, classes=["dent", "ok"], dataset_version=v1)
    # production: near-duplicates of training images 3, 10 and 17
    planted = {3: None, 10: None, 17: None}
    for i in planted:
        a = np.clip(arrays[i].astype(float) + rng.normal(0, 2, size=arrays[i].shape), 0, 255).astype(np.uint8)
        p = prod_dir / f"p{i:02d}.png"
        Image.fromarray(a).save(p)
        planted[i] = p
    frame = pl.DataFrame({"path": [str(p) for p in planted.values()], "predicted_class": ["dent", "ok", "dent"],
                          "score": [0.9, 0.8, 0.7]})
    logged = ws.log_predictions(frame, model="clf@production", preprocess=pre)
    ws.log_predictions(pl.DataFrame({"path": [str(planted[3])], "predicted_class": ["ok"], "score": [0.6]}),
                       model="clf", version=old.version)
    ws.embed("imgstats", progress=False)
    return {"ws": ws, "ids": ids, "v1": v1, "v2": v2, "mv": mv, "old": old, "planted": planted,
            "logged": logged}


def test_backward_chain_reaches_the_planted_training_image(world: dict) -> None:
    ws, ids, mv = world["ws"], world["ids"], world["mv"]
    logged = world["logged"].sort("path")
    for (i, _), row in zip(sorted(world["planted"].items()), logged.iter_rows(named=True)):
        chain = ws.lineage(row["prediction_id"], k=3)
        assert chain.prediction["prediction_id"] == row["prediction_id"]
        assert chain.model["version_id"] == mv.version and chain.model["model"] == "clf"
        assert chain.model["aliases"] == ["production"]
        assert chain.run is not None and chain.run["name"] == "train" and chain.run["status"] == "finished"
        assert chain.dataset_version["version_id"] == world["v2"].id
        assert chain.taxonomy is not None and chain.taxonomy["version"] == world["v2"].taxonomy_version
        assert chain.neighbors.height == 3
        assert chain.neighbors["image_id"][0] == ids[i], (i, chain.neighbors)
        assert chain.neighbors["distance"].is_sorted()
        first = chain.neighbors.row(0, named=True)
        assert "ana" in first["annotators"] and first["classes"]
        assert "<-" in chain.summary() and "nearest training images" in chain.summary()


def test_forward_chain_of_a_training_image(world: dict) -> None:
    ws, ids = world["ws"], world["ids"]
    chain = ws.lineage(ids[10])  # in both versions; the production model was trained on baseline
    assert set(chain.versions["version_id"].to_list()) == {world["v1"].id, world["v2"].id}
    assert set(chain.models["version_id"].to_list()) == {world["mv"].version, world["old"].version}
    assert chain.n_model_predictions == 4
    held = dict(zip(chain.models["version_id"].to_list(), chain.models["aliases"].to_list()))
    assert held == {world["mv"].version: ["production"], world["old"].version: []}
    assert chain.predictions.height == 0  # the training image itself was never predicted
    early = ws.lineage(ids[0])  # not in before-eve, so only the run's model used it
    assert early.versions["version_id"].to_list() == [world["v2"].id]
    assert early.models["version_id"].to_list() == [world["mv"].version]


def test_forward_chain_of_a_predicted_image(world: dict) -> None:
    ws = world["ws"]
    pid = ws.images().filter(pl.col("path") == str(world["planted"][3]))["image_id"][0]
    chain = ws.lineage(pid)
    assert chain.predictions.height == 2 and chain.versions.height == 0
    assert set(chain.predictions["model_version"].to_list()) == {world["mv"].version, world["old"].version}


def test_unknown_id_is_a_clear_error(world: dict) -> None:
    with pytest.raises(WorkspaceError, match="no prediction or image 'nope'"):
        world["ws"].lineage("nope")


def test_impact_of_an_annotator(world: dict) -> None:
    ws = world["ws"]
    rep = ws.impact(annotator="eve")
    # eve's 8 labels are in baseline only; the production model was trained on it, the old one was not
    assert rep.dataset_versions["version_id"].to_list() == [world["v2"].id]
    touched = rep.dataset_versions.row(0, named=True)
    assert touched["n_labels_touched"] == 8 and touched["n_images_touched"] == 8
    assert touched["share"] == pytest.approx(8 / world["v2"].n_labels)
    assert rep.model_versions["version_id"].to_list() == [world["mv"].version]
    assert rep.model_versions["aliases"].to_list() == [["production"]]
    assert rep.predictions["n_predictions"].to_list() == [3] and rep.n_predictions == 3
    assert "annotator=eve: 8 labels in 1 dataset versions; 1 model versions; 3 predictions" == rep.summary()
    assert "Blast radius" in rep._repr_html_()


def test_impact_by_class_time_and_images(world: dict) -> None:
    ws, ids = world["ws"], world["ids"]
    by_time = ws.impact(since=datetime(2026, 11, 10, tzinfo=timezone.utc))
    assert by_time.labels["annotator"].unique().to_list() == ["eve"]
    late_images = ws.impact(images=ids[20:])
    assert set(late_images.dataset_versions["version_id"].to_list()) == {world["v1"].id, world["v2"].id}
    assert set(late_images.model_versions["version_id"].to_list()) == {world["mv"].version, world["old"].version}
    assert late_images.n_predictions == 4
    ok = ws.impact(classes="ok", annotator="ana")
    assert ok.labels["class_name"].unique().to_list() == ["ok"]
    assert ok.labels.select(pl.col("label_id").n_unique()).item() == 12
    none = ws.impact(annotator="nobody")
    assert none.dataset_versions.height == 0 and "no label matches" in none.notes[0]
    with pytest.raises(ValueError, match="unknown class 'dnet'"):
        ws.impact(classes=["dnet"])


def test_impact_after_a_rename_follows_the_labels(tmp_path: Path) -> None:
    """Classes are current names: a label made as 'scratch' counts for 'scuff' after the rename."""
    ws = Workspace.create(tmp_path / "ws")
    img = tmp_path / "a.png"
    Image.fromarray(np.full((8, 8, 3), 7, np.uint8)).save(img)
    ws.add_images(img, progress=False)
    iid = ws.images()["image_id"][0]
    ws.add_annotations(pl.DataFrame({"image_id": [iid], "annotator": ["ana"], "class_name": ["scratch"],
                                     "kind": ["image"]}))
    v = ws.snapshot(name="v")
    ws.taxonomy.rename("scratch", "scuff")
    ws.taxonomy.commit("rename")
    rep = ws.impact(classes=["scuff"])
    assert rep.dataset_versions["version_id"].to_list() == [v.id]


def test_impact_tables_is_pure_and_follows_run_inputs() -> None:
    sel = pl.DataFrame({"version_id": ["v1", None], "image_id": ["a", "b"], "label_id": ["l1", "l2"]})
    versions = pl.DataFrame({"version_id": ["v1", "v2"], "name": ["base", "next"], "n_labels": [2, 5]})
    models = pl.DataFrame({"model": ["m", "m", "n"], "version_id": ["a1", "a2", "b1"],
                           "dataset_version": ["v1", "v2", "v2"], "run_id": ["r1", "r2", "r3"]})
    runs = pl.DataFrame({"run_id": ["r1", "r2", "r3"],
                         "inputs": ['[{"version_id": "v1"}]', '[{"version_id": "v2"}, {"version_id": "v1"}]', None]})
    preds = pl.DataFrame({"model": ["m", "m", "n"], "model_version": ["a1", "a2", "b1"], "n_predictions": [1, 2, 4],
                          "n_images": [1, 2, 4], "first": [None, None, None], "last": [None, None, None]})
    out = impact_tables(sel, versions, models, runs, preds)
    assert out["dataset_versions"]["version_id"].to_list() == ["v1"]
    assert out["model_versions"].select("version_id", "via").rows() == [("a1", "dataset"), ("a2", "run input")]
    assert out["predictions"]["n_predictions"].sum() == 3
    t = datetime(2026, 1, 1)
    labels = pl.DataFrame({"annotator": ["a", "b"], "created_at": [t, t], "image_id": ["x", "y"],
                           "class_name": ["c", "d"], "label_taxonomy_version": [1, 2]})
    assert select_labels(labels, taxonomy_version=2)["image_id"].to_list() == ["y"]
    assert select_labels(labels, until=t).height == 0


def test_backward_chains_follow_changes_after_the_cache(tmp_path: Path) -> None:
    """Repeated backward chains read cached references and small tables; an alias move, a new
    dataset name, more training vectors and a predicted image without a vector are all seen."""
    rng = np.random.default_rng(5)
    folder = tmp_path / "imgs"
    folder.mkdir()
    arrays = [_image(rng, i) for i in range(12)]
    for i, a in enumerate(arrays):
        Image.fromarray(a).save(folder / f"t{i:02d}.png")
    ws = Workspace.create(tmp_path / "ws")
    ws.add_images(folder, progress=False)
    ids = ws.images().sort("path")["image_id"].to_list()
    ws.add_annotations(pl.DataFrame({"image_id": ids, "annotator": ["ana"] * 12, "class_name": ["ok", "dent"] * 6,
                                     "kind": ["image"] * 12}))
    version = ws.snapshot(name="base")
    pre = Preprocess(16, crop=16)
    torch.manual_seed(0)
    with ws.run("train") as run:
        run.use("base")
        mv = run.register_model("clf", Net().eval(), preprocess=pre, classes=["dent", "ok"])
    ws.set_alias("clf", "production", mv.version)
    ws.embed("imgstats", images=ids[:6], progress=False)  # half the training images embedded
    p = tmp_path / "p.png"
    Image.fromarray(np.clip(arrays[9].astype(float) + rng.normal(0, 2, arrays[9].shape), 0, 255)
                    .astype(np.uint8)).save(p)
    pid = ws.log_predictions(pl.DataFrame({"path": [str(p)], "predicted_class": ["ok"]}), model="clf@production",
                             preprocess=pre)["prediction_id"][0]
    first = ws.lineage(pid, k=3)  # the predicted image has no vector yet: embedded on the way
    assert first.neighbors.height == 3 and ids[9] not in first.neighbors["image_id"].to_list()
    assert any("searched the 6 of 12" in n for n in first.notes)
    assert first.model["aliases"] == ["production"] and first.dataset_version["name"] == "base"
    again = ws.lineage(pid, k=3)
    assert again.neighbors.equals(first.neighbors) and again.notes == first.notes
    ws.embed("imgstats", images=ids, progress=False)  # the rest of the training images
    ws.set_alias("clf", "candidate", mv.version)
    ws.name_version("frozen", version)
    later = ws.lineage(pid, k=3)
    assert later.neighbors["image_id"][0] == ids[9] and not any("searched" in n for n in later.notes)
    assert later.model["aliases"] == ["candidate", "production"]
    assert later.dataset_version["name"] == "frozen"
    assert later.neighbors.columns == first.neighbors.columns
    assert later.neighbors.row(0, named=True)["path"] == str(folder / "t09.png")


def test_lineage_keeps_prediction_ids_indexed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Past PREDICTION_INDEX_FROM rows a backward chain first indexes the predictions logged since the
    last call (delta segments, merged by a rebuild past MAX_INDEX_SEGMENTS); read-only, it only reads."""
    from jupyter_cvops._store import store as store_module
    from jupyter_cvops.lineage import chain as chain_module

    monkeypatch.setattr(chain_module, "PREDICTION_INDEX_FROM", 1000)
    monkeypatch.setattr(store_module, "MAX_INDEX_SEGMENTS", 3)
    ws = Workspace.create(tmp_path / "ws")
    tbl = ws.store.table("predictions")

    def log(n: int, start: int) -> list[str]:
        frame = pl.DataFrame({"image_id": [f"{i:032x}" for i in range(start, start + n)],
                              "predicted_class": ["ok"] * n})
        return ws.log_predictions(frame, model="clf", version="v1")["prediction_id"].to_list()

    first = log(900, 0)
    assert ws.lineage(first[5]).prediction["image_id"] == f"{5:032x}"
    assert not tbl.list_indices()  # 900 rows: a scan is fine
    start = 900
    for _ in range(6):
        got = log(500, start)
        start += 500
        assert tbl.list_indices() == [] or tbl.index_stats(tbl.list_indices()[0].name).num_unindexed_rows > 0
        chain = ws.lineage(got[-1])
        assert chain.prediction["prediction_id"] == got[-1] and chain.notes  # the model is not registered
        indices = {tuple(i.columns): i.name for i in tbl.list_indices()}
        assert set(indices) == {("prediction_id",), ("image_id",)}  # backward chains and forward lookups
        for name in indices.values():
            stats = tbl.index_stats(name)
            assert stats.num_unindexed_rows == 0 and stats.num_indices <= 3, stats
    assert ws.store.read("predictions", where=f"image_id = '{start - 1:032x}'")["prediction_id"].to_list() == [got[-1]]
    log(500, start)
    ro = Workspace.open(tmp_path / "ws", readonly=True)
    version = ws.store.version("predictions")
    assert ro.lineage(first[0]).prediction["prediction_id"] == first[0]  # unindexed rows scanned, nothing written
    assert ws.store.version("predictions") == version
