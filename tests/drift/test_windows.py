"""ws.drift on the demo: flags the planted lighting change and camera tilt in the right
windows, names matching image statistics, and leaves the clean windows alone."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from jupyter_cvops import Workspace, WorkspaceError
from jupyter_cvops.demo.build import build_demo
from jupyter_cvops.embeddings import EmbeddingError

LIGHTING = {"brightness", "contrast", "colorfulness", "saturation"}


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Workspace, dict]:
    path = tmp_path_factory.mktemp("drift") / "ws"
    rep = build_demo(path, seed=0, n_train=400, n_production=420, image_size=96, progress=False)
    return Workspace.open(path), rep.ground_truth


@pytest.mark.slow
def test_demo_drift_is_found_where_it_was_planted(demo: tuple[Workspace, dict]) -> None:
    ws, truth = demo
    d = ws.drift("demo-train", by="1d", progress=False, seed=0)
    lighting_day = truth["production_drift"][0]["from_day"]
    tilt_day = truth["production_drift"][1]["from_day"]
    assert d.height == truth["production_period"]["days"]
    day = {w: i + 1 for i, w in enumerate(d["window"].to_list())}
    rows = {day[r["window"]]: r for r in d.iter_rows(named=True)}
    for k in truth["clean_days"]:
        assert not rows[k]["drifted"], f"clean day {k} flagged"
    for k in range(lighting_day, len(rows) + 1):
        assert rows[k]["drifted"], f"day {k} missed"
    def lighting_like(f: str) -> bool:
        return f in LIGHTING or f.split("_")[0] in {"hue", "sat", "val"}

    assert all(lighting_like(f) for f in rows[lighting_day]["top_features"][:3])
    assert any(f.startswith("orient") for f in rows[tilt_day]["new_features"])
    assert not any(f.startswith("orient") for k in range(lighting_day, tilt_day) for f in rows[k]["new_features"])
    novel = rows[lighting_day]["top_novel"]
    assert novel and all(len(i) == 32 for i in novel)
    # per-image novelty (kNN through LanceDB): about alpha on clean days, most images after the change
    clean = d.filter(pl.col("window").is_in([w for w, k in day.items() if k in truth["clean_days"]]))
    assert clean["novel_frac"].mean() < 0.12
    assert rows[lighting_day + 1]["novel_frac"] > 0.5
    assert any(t.startswith("knnref_") for t in ws.store.table_names())


@pytest.mark.slow
def test_drift_images_attribute_the_drift_to_images(demo: tuple[Workspace, dict]) -> None:
    ws, _ = demo
    d = ws.drift("demo-train", by="1d", progress=False, seed=0)
    im = ws.drift_images("demo-train", by="1d", progress=False, seed=0)
    assert im.height == d["n"].sum() and im["image_id"].n_unique() == im.height
    assert im.columns == ["image_id", "window", "captured_at", "window_drifted", "witness", "novelty_p",
                          "knn_distance"]
    for row in d.iter_rows(named=True):  # same tests, same seeds: the window's top witnesses lead
        mine = im.filter(pl.col("window") == row["window"])
        assert mine["window_drifted"].all() == row["drifted"]
        assert mine["image_id"].head(len(row["top_witness"])).to_list() == row["top_witness"]
        assert mine["witness"].mean() == pytest.approx(row["witness_mean"])
    by = im.group_by("window_drifted").agg(pl.col("witness").mean(), (pl.col("novelty_p") <= 0.05).mean())
    drifted, clean = (by.filter(pl.col("window_drifted") == f).row(0, named=True) for f in (True, False))
    assert drifted["witness"] > 5 * clean["witness"] and drifted["novelty_p"] > 0.8 > 0.15 > clean["novelty_p"]


def test_drift_needs_a_reference(demo: tuple[Workspace, dict]) -> None:
    ws, _ = demo
    with pytest.raises(WorkspaceError, match="reference images"):
        ws.drift(pl.col("image_id") == "nope")


def test_novel_regions_come_from_the_drifted_days(demo: tuple[Workspace, dict]) -> None:
    ws, truth = demo
    regions = ws.novel_regions("demo-train", progress=False)
    assert regions.height >= 1
    members = [i for ids in regions["image_ids"].to_list() for i in ids]
    assert regions["size"].sum() == len(members) and all(e in members for e in regions["exemplar"])
    start = ws.images().filter(pl.col("source").is_not_null())
    lit = truth["production_drift"][0]["from"]
    times = dict(zip(start["image_id"], start["captured_at"]))
    after = sum(times[i] >= lit for i in members)
    assert after / len(members) > 0.9  # novel images are the ones after the lighting change


def test_current_never_includes_reference_images(demo: tuple[Workspace, dict]) -> None:
    """The README's ``pl.col("source") == "line-1"`` matched the reference's line-1 images too
    (54 windows instead of the production period's 14): current images exclude the reference."""
    from jupyter_cvops.drift._windows import _current_ids, _reference_ids

    ws, truth = demo
    ref = _reference_ids(ws, "demo-train")
    sources = ws.images()["source"].unique().to_list()
    for src in sources:
        cur = _current_ids(ws, pl.col("source") == src, ref)
        assert not set(cur) & set(ref)
    every = _current_ids(ws, None, ref)
    assert set(_current_ids(ws, pl.lit(True), ref)) == set(every)
    assert _current_ids(ws, [ref[0], every[0], every[0]], ref) == [every[0]]
    days = ws.images().filter(pl.col("image_id").is_in(every))["captured_at"].dt.date().n_unique()
    assert days == truth["production_period"]["days"]


def test_read_only_drift_uses_what_is_stored_and_writes_nothing(demo: tuple[Workspace, dict]) -> None:
    """A read-only open computes the same windows from stored embeddings (the novelty reference in
    memory), records nothing, and says what to do when embeddings are missing."""
    ws, _ = demo
    want = ws.drift("demo-train", by="2d", progress=False, seed=0)  # embeds and caches the reference (writable)
    from jupyter_cvops.drift import _novelty

    for t in [t for t in ws.store.table_names() if t.startswith(_novelty.PREFIX)]:
        ws.store.drop_table(t)  # a reference table no writable open made yet: built in memory
    before = {t: ws.store.version(t) for t in ws.store.table_names()}
    got = Workspace.open(ws.uri, readonly=True).drift("demo-train", by="2d", progress=False, seed=0)
    assert {t: ws.store.version(t) for t in ws.store.table_names()} == before
    assert got.select("window", "n", "statistic", "p_value", "drifted", "novel_frac").equals(
        want.select("window", "n", "statistic", "p_value", "drifted", "novel_frac"))
    import numpy as np
    from PIL import Image

    new = Path(ws.uri).parent / "new-frame.png"  # registered after the embeddings were computed
    Image.fromarray(np.random.default_rng(3).integers(0, 255, (48, 48, 3), dtype=np.uint8)).save(new)
    ws.add_images([new], source="line-1", progress=False)
    with pytest.raises(EmbeddingError, match="1 of .* images have no imgstats-v1 embedding yet .* read-only"):
        Workspace.open(ws.uri, readonly=True).drift("demo-train", by="2d", progress=False, seed=0)
