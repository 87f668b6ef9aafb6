"""Embeddings: per-model LanceDB tables, incremental runs, open_clip through its real loading code
(a tiny random-weight model saved to a local checkpoint), failures per image, ANN index, neighbours."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import cv2
import numpy as np
import polars as pl
import pyarrow as pa
import pytest
from PIL import Image

from _embed_workspaces import write_images

from jupyter_cvops import Workspace
from jupyter_cvops.embeddings import _backends as eb
from jupyter_cvops.embeddings import _index as ix
from jupyter_cvops.embeddings import _pipeline as pipeline
from jupyter_cvops.embeddings import tables as E
from jupyter_cvops.embeddings._image_stats import image_stats

os.environ["HF_HUB_OFFLINE"] = "1"  # before anything imports huggingface_hub: no hub, fail fast

TINY = "cvops-test-tiny-vit"


@pytest.fixture(autouse=True)
def _offline(monkeypatch: pytest.MonkeyPatch) -> None:
    import huggingface_hub.constants

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)  # in case it was imported earlier
    monkeypatch.delenv("CVOPS_CLIP_WEIGHTS", raising=False)
    monkeypatch.delenv("CVOPS_CLIP_MODEL", raising=False)


@pytest.fixture
def ws(tmp_path: Path) -> Workspace:
    w = Workspace.create(tmp_path / "ws")
    write_images(tmp_path / "imgs", 8)
    w.add_images(tmp_path / "imgs", progress=False)
    return w


@pytest.fixture(scope="module")
def tiny_clip(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Path, object]:
    """A registered tiny ViT config with random weights saved as a plain state_dict checkpoint."""
    import open_clip
    import torch

    d = tmp_path_factory.mktemp("clip")
    cfg = {"embed_dim": 32, "vision_cfg": {"image_size": 32, "layers": 2, "width": 64, "patch_size": 8},
           "text_cfg": {"context_length": 16, "vocab_size": 1000, "width": 32, "heads": 2, "layers": 1}}
    (d / f"{TINY}.json").write_text(json.dumps(cfg))
    open_clip.add_model_config(d / f"{TINY}.json")
    torch.manual_seed(0)
    model = open_clip.create_model(TINY, pretrained=None).eval()
    ckpt = d / "tiny.pt"
    torch.save(model.state_dict(), ckpt)
    return TINY, ckpt, model


def vectors_by_id(ws: Workspace, model: str, **kw: str) -> dict[str, np.ndarray]:
    v = E.load_vectors(ws, model, **kw)
    return dict(zip(v.image_ids, v.vectors, strict=True))


# --------------------------------------------------------------------------- imgstats
def test_imgstats_table_vectors_and_record(ws: Workspace) -> None:
    rep = E.embed(ws, model="imgstats", progress=False, batch_size=3)
    assert (rep.table, rep.n_computed, rep.n_skipped, rep.ok) == ("emb_imgstats_v1", 8, 0, True)
    tbl = ws.store.table("emb_imgstats_v1")
    assert tbl.schema.field("vector").type == pa.list_(pa.float32(), 33)
    got = vectors_by_id(ws, "imgstats")
    for row in ws.images().iter_rows(named=True):
        rgb = cv2.cvtColor(cv2.imread(row["path"]), cv2.COLOR_BGR2RGB)
        assert got[row["image_id"]].tobytes() == image_stats(rgb).astype(np.float32).tobytes()
    rec = json.loads(ws.store.read("meta", where="key = 'embedding:emb_imgstats_v1'")["value"][0])
    assert rec["model"] == "imgstats-v1" and rec["metric"] == "l2" and rec["dim"] == 33
    assert rec["feature_names"][:3] == ["brightness", "contrast", "sharpness"]
    assert rec["preprocessing"]["fingerprint"]["working_size"] == 256
    assert E.load_vectors(ws, "imgstats").feature_names == rec["feature_names"]


def test_incremental_rerun_computes_and_writes_nothing(ws: Workspace, tmp_path: Path) -> None:
    E.embed(ws, model="imgstats", progress=False)
    versions = (ws.store.version("emb_imgstats_v1"), ws.store.version("meta"), ws.store.version("events"))
    again = E.embed(ws, model="imgstats", progress=False)
    assert (again.n_computed, again.n_skipped) == (0, 8)
    assert versions == (ws.store.version("emb_imgstats_v1"), ws.store.version("meta"), ws.store.version("events"))
    write_images(tmp_path / "more", 3, seed=1)
    ws.add_images(tmp_path / "more", progress=False)
    more = E.embed(ws, model="imgstats", progress=False)
    assert (more.n_computed, more.n_skipped) == (3, 8)
    assert ws.store.count("emb_imgstats_v1") == 11


def test_stale_fingerprint_rows_are_recomputed_in_place(ws: Workspace) -> None:
    E.embed(ws, model="imgstats", progress=False)
    ids = ws.images()["image_id"].to_list()[:2]
    stale = ws.store.read("emb_imgstats_v1", where=f"image_id IN ('{ids[0]}', '{ids[1]}')")
    ws.store.upsert("emb_imgstats_v1", "image_id", stale.with_columns(pl.lit("0" * 16).alias("fingerprint")))
    rep = E.embed(ws, model="imgstats", progress=False)
    assert rep.n_computed == 2 and ws.store.count("emb_imgstats_v1") == 8


def test_images_selection_and_unknown_ids(ws: Workspace) -> None:
    first = ws.images()["image_id"].to_list()[:3]
    rep = E.embed(ws, model="imgstats", images=first + ["not-an-id"], progress=False)
    assert rep.n_computed == 3 and rep.failures == [("not-an-id", "", "not a registered image")]
    rep = E.embed(ws, model="imgstats", images=pl.col("path").str.contains("0007"), progress=False)
    assert rep.n_computed == 1
    v = ws.snapshot(name="all")
    rep = E.embed(ws, model="imgstats", images=v, progress=False)
    assert (rep.n_computed, rep.n_skipped) == (4, 4)


def test_missing_changed_and_corrupt_files_get_reasons(ws: Workspace, tmp_path: Path) -> None:
    corrupt = bytearray(Path(write_images(tmp_path / "c", 1, seed=5)[0]).read_bytes())
    for i in range(len(corrupt) // 3, len(corrupt) // 3 + 40):
        corrupt[i] ^= 0x5A
    (tmp_path / "c" / "corrupt.png").write_bytes(bytes(corrupt))
    ws.add_images(tmp_path / "c" / "corrupt.png", progress=False)
    paths = sorted(p for p in ws.images()["path"].to_list() if "/imgs/" in p)
    Path(paths[0]).unlink()
    Path(paths[1]).write_bytes(Path(paths[2]).read_bytes())  # content changed since registration
    rep = E.embed(ws, model="imgstats", progress=False)
    reasons = {Path(p).name: r for _, p, r in rep.failures}
    assert reasons[Path(paths[0]).name] == "file not found"
    assert reasons[Path(paths[1]).name].startswith("file changed since it was registered")
    assert reasons["corrupt.png"].startswith("cannot decode image")
    assert rep.n_computed == 9 - 3 and not rep.ok
    assert set(rep.failures_frame().columns) == {"image_id", "path", "reason"}
    assert "file not found" in repr(rep)


def test_default_model_is_imgstats_with_notice(ws: Workspace, capsys: pytest.CaptureFixture[str]) -> None:
    rep = E.embed(ws, progress=True)
    assert rep.table == "emb_imgstats_v1" and "imgstats" in (rep.notice or "")
    assert "no open_clip weights configured" in capsys.readouterr().err


# --------------------------------------------------------------------------- open_clip
def direct_forward(model: object, paths: list[str]) -> np.ndarray:
    import open_clip
    import torch
    from PIL import Image

    _, _, preprocess = open_clip.create_model_and_transforms(TINY, pretrained=None)
    x = torch.stack([preprocess(Image.open(p).convert("RGB")) for p in paths])
    with torch.no_grad():
        return model.encode_image(x, normalize=True).numpy()  # type: ignore[attr-defined]


def test_open_clip_checkpoint_through_real_loading_code(ws: Workspace, tiny_clip, monkeypatch,
                                                        tmp_path: Path) -> None:
    import open_clip.factory

    def no_hub(*a: object, **k: object) -> None:
        raise AssertionError("a model hub was reached for")

    monkeypatch.setattr(open_clip.factory, "download_pretrained", no_hub)
    monkeypatch.setattr(open_clip.factory, "download_pretrained_from_hf", no_hub)
    name, ckpt, model = tiny_clip
    rep = E.embed(ws, model=f"open_clip:{name}", pretrained=str(ckpt), batch_size=3, progress=False)
    digest = eb.file_hash(str(ckpt))
    assert rep.table == f"emb_openclip_cvops_test_tiny_vit_{digest[:8]}" and rep.n_computed == 8
    assert rep.model == f"open_clip:{name}@file:{digest}" and rep.dim == 32
    images = ws.images()
    got = vectors_by_id(ws, f"open_clip:{name}", pretrained=str(ckpt))
    ours = np.stack([got[i] for i in images["image_id"]])
    ref = direct_forward(model, images["path"].to_list())
    np.testing.assert_allclose(ours, ref, rtol=0, atol=2e-6)
    assert np.allclose(np.linalg.norm(ours, axis=1), 1.0, atol=1e-5)
    rec = json.loads(ws.store.read("meta", where=f"key = 'embedding:{rep.table}'")["value"][0])
    assert "Normalize" in rec["preprocessing"]["fingerprint"]["transform"]
    assert rec["metric"] == "cosine" and rec["spec"]["pretrained"] == str(ckpt)
    # determinism: a fresh workspace over the same files gives bit-identical vectors
    ws2 = Workspace.create(tmp_path / "ws2")
    ws2.add_images(images["path"].to_list(), progress=False)
    E.embed(ws2, model=f"open_clip:{name}", pretrained=str(ckpt), batch_size=3, progress=False)
    got2 = vectors_by_id(ws2, rep.table)
    assert all(got2[i].tobytes() == got[i].tobytes() for i in got)
    assert E.embed(ws, model=f"open_clip:{name}", pretrained=str(ckpt), progress=False).n_computed == 0


def test_default_model_from_environment(ws: Workspace, tiny_clip, monkeypatch) -> None:
    name, ckpt, _ = tiny_clip
    monkeypatch.setenv("CVOPS_CLIP_MODEL", name)
    monkeypatch.setenv("CVOPS_CLIP_WEIGHTS", str(ckpt))
    rep = E.embed(ws, progress=False)
    assert rep.table.startswith("emb_openclip_cvops_test_tiny_vit_") and rep.notice is None


def test_missing_weights_name_the_fallback(ws: Workspace, tiny_clip, tmp_path: Path) -> None:
    with pytest.raises(E.EmbeddingError, match="model='imgstats'"):
        E.embed(ws, model="open_clip:ViT-B-32", progress=False)
    with pytest.raises(E.EmbeddingError, match="checkpoint file not found.*imgstats"):
        E.embed(ws, model="open_clip:ViT-B-32", pretrained=str(tmp_path / "nope.pt"), progress=False)
    with pytest.raises(E.EmbeddingError, match="neither a file nor a pretrained tag"):
        E.embed(ws, model="open_clip:ViT-B-32", pretrained="no_such_tag", progress=False)
    with pytest.raises(E.EmbeddingError, match="unknown model"):
        E.embed(ws, model="resnet", progress=False)
    assert not any(n.startswith("emb_openclip_vit") for n in ws.store._table_names())


def test_named_tag_fails_offline_with_clear_message(ws: Workspace) -> None:
    t0 = time.perf_counter()
    with pytest.raises(E.EmbeddingError, match=r"laion2b_s34b_b79k.*model hub.*model='imgstats'"):
        E.embed(ws, model="open_clip:ViT-B-32", pretrained="laion2b_s34b_b79k", progress=False)
    assert time.perf_counter() - t0 < 20


# --------------------------------------------------------------------------- neighbours
def test_neighbors_exact_search(ws: Workspace, tmp_path: Path) -> None:
    E.embed(ws, model="imgstats", progress=False)
    v = E.load_vectors(ws, "imgstats")
    mat = v.vectors.astype(np.float64)
    q = 2
    d = np.sqrt(((mat - mat[q]) ** 2).sum(axis=1))
    order = [i for i in np.argsort(d, kind="stable") if i != q][:4]
    got = E.neighbors(ws, v.image_ids[q], k=4)
    assert got.columns == ["image_id", "distance", "path"]
    assert got["image_id"].to_list() == [v.image_ids[i] for i in order]
    np.testing.assert_allclose(got["distance"].to_numpy(), d[order], rtol=1e-5)
    with_self = E.neighbors(ws, v.image_ids[q], k=4, include_self=True)
    assert with_self["image_id"][0] == v.image_ids[q] and with_self["distance"][0] < 1e-6
    path = ws.images().filter(pl.col("image_id") == v.image_ids[q])["path"][0]
    assert E.neighbors(ws, path, k=4)["image_id"].to_list() == got["image_id"].to_list()
    by_vec = E.neighbors(ws, v.vectors[q], k=5)
    assert by_vec["image_id"][0] == v.image_ids[q]
    multi = E.neighbors(ws, v.vectors[:3], k=2)
    assert multi.columns[0] == "query" and multi.height == 6
    assert multi.filter(pl.col("query") == 1)["image_id"][0] == v.image_ids[1]
    assert E.neighbors(ws, v.image_ids[q], k=50).height == 7  # fewer rows than k
    new = write_images(tmp_path / "new", 1, seed=9)[0]  # an unregistered file: embedded on the fly
    assert E.neighbors(ws, str(new), k=3).height == 3
    with pytest.raises(ValueError, match="33 columns"):
        E.neighbors(ws, np.zeros(5), k=3)
    with pytest.raises(E.EmbeddingError, match="neither a registered image id nor an image file"):
        E.neighbors(ws, "nothing-here", k=3)


def test_neighbors_paths_through_the_image_id_index(ws: Workspace, tmp_path: Path, monkeypatch) -> None:
    from jupyter_cvops.images import _register

    E.embed(ws, model="imgstats", progress=False)
    ids = ws.images()["image_id"].to_list()
    direct = E.neighbors(ws, ids[0], k=7)
    monkeypatch.setattr(_register, "ID_INDEX_FROM", 0)  # as in a large workspace
    moved = tmp_path / "moved.png"
    Path(direct["path"][0]).rename(moved)
    ws.add_images(moved, progress=False)  # registration creates the index, then keeps it
    assert [i.columns for i in ws.store.table("images").list_indices()] == [["image_id"]]
    again = E.neighbors(ws, ids[0], k=7)
    assert again["image_id"].equals(direct["image_id"]) and again["path"].null_count() == 0
    assert again["path"][0] == str(moved.resolve())


def test_neighbors_of_registered_image_not_embedded_yet(ws: Workspace) -> None:
    ids = ws.images()["image_id"].to_list()
    E.embed(ws, model="imgstats", images=ids[:5], progress=False)
    got = E.neighbors(ws, ids[7], k=3)
    assert got.height == 3 and ids[7] not in got["image_id"].to_list()


def test_neighbors_picks_most_recent_table_and_cosine(ws: Workspace, tiny_clip) -> None:
    with pytest.raises(E.EmbeddingError, match="no embeddings yet"):
        E.neighbors(ws, ws.images()["image_id"][0])
    E.embed(ws, model="imgstats", progress=False)
    name, ckpt, _ = tiny_clip
    rep = E.embed(ws, model=f"open_clip:{name}", pretrained=str(ckpt), progress=False)
    v = E.load_vectors(ws, rep.table)
    got = E.neighbors(ws, v.image_ids[0], k=3)  # model=None: the open_clip table, computed last
    cos = 1 - v.vectors @ v.vectors[0]
    order = [i for i in np.argsort(cos, kind="stable") if i != 0][:3]
    assert got["image_id"].to_list() == [v.image_ids[i] for i in order]
    np.testing.assert_allclose(got["distance"].to_numpy(), cos[order], atol=1e-5)
    assert set(E.list_embeddings(ws)["table"]) == {"emb_imgstats_v1", rep.table}


# --------------------------------------------------------------------------- ANN index
class ProjectionBackend:
    """A custom backend (the protocol): a fixed random projection of the pixels to 64 dims."""

    model_id, table_slug, dim, metric, device = "test-projection-64", "test_projection_64", 64, "cosine", "cpu"

    def __init__(self) -> None:
        self.proj = np.random.default_rng(0).standard_normal((8 * 8 * 3, 64))

    def describe(self) -> dict[str, object]:
        return {"fingerprint": {"projection": "seed0"}}

    def spec(self) -> dict[str, object]:
        return {"model": "test-projection"}

    def load(self, image: object) -> np.ndarray:
        px = cv2.resize(np.asarray(image), (8, 8), interpolation=cv2.INTER_AREA).astype(np.float64) / 255
        return (px.ravel() - 0.5) @ self.proj

    def collate(self, items: list[np.ndarray]) -> np.ndarray:
        return np.stack(items)

    def forward(self, batch: np.ndarray) -> np.ndarray:
        return (batch / np.linalg.norm(batch, axis=1, keepdims=True)).astype(np.float32)


def test_ann_index_built_past_threshold_and_kept_up_to_date(tmp_path: Path) -> None:
    ws = Workspace.create(tmp_path / "ws")
    write_images(tmp_path / "a", 300, seed=2, size=(8, 8))
    ws.add_images(tmp_path / "a", progress=False)
    backend = ProjectionBackend()
    rep = E.embed(ws, model=backend, index_threshold=1000, progress=False)
    assert rep.index is None and not E.list_embeddings(ws)["indexed"][0]
    v = E.load_vectors(ws, rep.table)
    exact = E.neighbors(ws, v.image_ids[0], k=10)
    rep = E.embed(ws, model=backend, index_threshold=200, progress=False)  # nothing new, but past threshold
    assert rep.n_computed == 0 and rep.index is not None and rep.index.startswith("created IVF_PQ")
    assert E.list_embeddings(ws)["indexed"][0]
    ann = E.neighbors(ws, v.image_ids[0], k=10)
    assert len(set(ann["image_id"]) & set(exact["image_id"])) >= 9
    write_images(tmp_path / "b", 20, seed=3, size=(8, 8))
    ws.add_images(tmp_path / "b", progress=False)
    rep = E.embed(ws, model=backend, index_threshold=200, progress=False)
    assert rep.n_computed == 20 and rep.index == "updated"
    tbl = ws.store.table(rep.table)
    assert tbl.index_stats(ix.vector_index(tbl).name).num_unindexed_rows == 0
    assert E.build_index(ws, rep.table)["rows_at_build"] == 320


class FailingBackend(ProjectionBackend):
    """Fails on its second batch, like a run interrupted half-way."""

    def __init__(self) -> None:
        super().__init__()
        self.calls = 0

    def forward(self, batch: np.ndarray) -> np.ndarray:
        self.calls += 1
        if self.calls == 2:
            raise KeyboardInterrupt
        return super().forward(batch)


def test_interrupted_run_keeps_committed_vectors(ws: Workspace) -> None:
    with pytest.raises(KeyboardInterrupt):
        E.embed(ws, model=FailingBackend(), batch_size=3, num_workers=0, progress=False)
    assert ws.store.count("emb_test_projection_64") == 3
    rep = E.embed(ws, model=ProjectionBackend(), batch_size=3, progress=False)
    assert (rep.n_computed, rep.n_skipped) == (5, 3)


# --------------------------------------------------------------------------- pipeline
def test_prefetch_keeps_order_and_propagates_errors() -> None:
    def load(x: int) -> int:
        time.sleep(0.002 * (3 - x % 3))  # later items finish first
        if x == 12:
            raise RuntimeError("boom")
        return x

    got = list(pipeline.prefetch(list(range(12)), load, batch_size=2, num_workers=3))
    assert got == [[0, 1], [2, 3], [4, 5], [6, 7], [8, 9], [10, 11]]
    with pytest.raises(RuntimeError, match="boom"):
        list(pipeline.prefetch(list(range(14)), load, batch_size=2, num_workers=3))
    gen = pipeline.prefetch(list(range(100)), load, batch_size=2, num_workers=2)
    next(gen)
    gen.close()  # early exit does not hang
    assert list(pipeline.prefetch([], load, batch_size=2, num_workers=2)) == []
    assert list(pipeline.prefetch([1, 2, 3], load, batch_size=2, num_workers=0)) == [[1, 2], [3]]


def test_prefetch_never_waits_on_a_stalled_worker() -> None:
    """A worker stuck on an item (starved of CPU) does not hold up the consumer: it loads
    that item itself, and every item comes back exactly once, in order."""
    import threading

    release = threading.Event()
    calls: list[tuple[int, str]] = []

    def load(x: int) -> int:
        calls.append((x, threading.current_thread().name))
        if x == 1 and threading.current_thread().name.startswith("cvops-embed"):
            release.wait(10)  # this worker is stuck until the test ends
        return x * 2

    t0 = time.perf_counter()
    gen = pipeline.prefetch(list(range(40)), load, batch_size=4, num_workers=1)
    got = [next(gen) for _ in range(10)]
    waited = time.perf_counter() - t0
    release.set()
    assert list(gen) == []  # then it ends, joining the worker
    assert [v for b in got for v in b] == [2 * i for i in range(40)]
    assert waited < 5  # the consumer never waited for the stuck worker
    assert (1, threading.current_thread().name) in calls  # item 1 was loaded by the consumer


def test_prefetch_workers_stay_within_depth() -> None:
    seen: list[int] = []

    def load(x: int) -> int:
        seen.append(x)
        return x

    gen = pipeline.prefetch(list(range(100)), load, batch_size=5, num_workers=2, depth=2)
    first = next(gen)
    time.sleep(0.2)  # workers run ahead while the "model" works on the first batch
    assert first == [0, 1, 2, 3, 4] and max(seen) < 15  # at most 2 batches past the current one
    gen.close()


def test_read_image_modes(tmp_path: Path) -> None:
    p16 = tmp_path / "g16.png"
    cv2.imwrite(str(p16), np.full((4, 5), 300 * 257 // 2, np.uint16))
    im = eb.read_image(str(p16))
    assert im.mode == "RGB" and im.size == (5, 4)
    assert np.asarray(im)[0, 0, 0] == round(300 * 257 // 2 / 257)
    empty = tmp_path / "e.png"
    empty.write_bytes(b"")
    with pytest.raises(eb.ImageReadError, match="zero-byte"):
        eb.read_image(str(empty))


def test_imgstats_on_real_steel_images_follow_a_lighting_change(shared_data: Path, tmp_path: Path) -> None:
    src = sorted((shared_data / "images" / "neu-surface-defects").glob("*.jpg"))[:12]
    bright = tmp_path / "bright"
    bright.mkdir()
    for p in src:  # a copy under a brighter light, as a new camera batch would look
        img = cv2.imread(str(p), cv2.IMREAD_GRAYSCALE)
        cv2.imwrite(str(bright / p.name), cv2.convertScaleAbs(img, alpha=1.0, beta=40))
    ws = Workspace.create(tmp_path / "ws")
    ws.add_images([str(p) for p in src], source="line-1", progress=False)
    ws.add_images(bright, source="line-1-bright", progress=False)
    rep = E.embed(ws, model="imgstats", progress=False)
    assert rep.ok and rep.n_computed == 2 * len(src)
    v = E.load_vectors(ws, "imgstats")
    f = pl.DataFrame(v.vectors, schema=v.feature_names, orient="row").with_columns(
        pl.Series("image_id", v.image_ids)).join(ws.images().select("image_id", "source"), on="image_id")
    means = f.group_by("source").agg(pl.col("brightness", "saturation", "contrast").mean()).sort("source")
    assert means["brightness"][1] > means["brightness"][0] + 0.1  # line-1-bright sorts after line-1
    assert means["saturation"].max() < 0.01  # grayscale steel


def test_large_jpegs_decode_at_reduced_scale_close_to_full_decode(tmp_path: Path) -> None:
    """A JPEG >= 2x ``min_side`` decodes DCT-scaled (both sides >= min_side); after the model's
    resize the pixels stay within a few grey levels of a full decode. PNGs and small JPEGs decode whole."""
    yy, xx = np.mgrid[0:1200, 0:1600].astype(np.float32)
    img = np.stack([127 + 100 * np.sin(xx / (37 + 5 * c)) * np.cos(yy / (23 + 3 * c)) for c in range(3)], axis=2)
    img = np.clip(img, 0, 255).astype(np.uint8)
    cv2.imwrite(str(tmp_path / "big.jpg"), img, [cv2.IMWRITE_JPEG_QUALITY, 92])
    cv2.imwrite(str(tmp_path / "big.png"), img)
    cv2.imwrite(str(tmp_path / "small.jpg"), img[:500, :700], [cv2.IMWRITE_JPEG_QUALITY, 92])
    reduced = eb.read_image(str(tmp_path / "big.jpg"), min_side=448)
    full = eb.read_image(str(tmp_path / "big.jpg"))
    assert full.size == (1600, 1200) and reduced.size == (800, 600)  # 1/2: 1/4 would be < 448
    assert eb.read_image(str(tmp_path / "big.png"), min_side=448).size == (1600, 1200)
    assert eb.read_image(str(tmp_path / "small.jpg"), min_side=448).size == (700, 500)
    a = np.asarray(full.resize((299, 224), Image.BICUBIC), dtype=np.float32)
    b = np.asarray(reduced.resize((299, 224), Image.BICUBIC), dtype=np.float32)
    assert np.abs(a - b).mean() < 1.5 and np.abs(a - b).max() < 40


def test_open_clip_fingerprint_records_reduced_decoding(tiny_clip: tuple[str, Path, object]) -> None:
    arch, ckpt, _ = tiny_clip
    backend, _ = eb.backend_from_spec(f"open_clip:{arch}", str(ckpt))
    assert backend.decode_min_side == 2 * max(backend.image_size)  # type: ignore[attr-defined]
    assert "DCT-scaled" in backend.describe()["fingerprint"]["decode"]
