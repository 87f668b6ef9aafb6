"""Benchmark: ``cv.Predictor`` overhead and ``ws.lineage`` latency (issue 10, section 8).

(a) ``cv.Predictor`` against the bare batched call of the same model on the same images. Model: an
    open_clip ViT-B-32 visual tower (random seeded weights, never downloaded) plus a linear head over
    ``--classes`` classes, registered in a temporary workspace (torch.export; ``--format torchscript``
    where exporting is too slow) with the declarative OpenAI CLIP preprocessing
    ``cv.Preprocess(224, crop=224, resize="bicubic", mean=OPENAI_MEAN, std=OPENAI_STD)``.
    Bare: ``pre.batch(paths)`` + ``net(batch)`` (the same loaded artifact the Predictor runs, under
    ``torch.inference_mode``); ours: ``Predictor(ws, "clf@production")(paths)``, buffered logging (its
    defaults: 10k rows or 2 s per commit; image hashing and registration happen at the flush). Each
    repetition uses a fresh batch of 32 JPEGs for both, interleaved; median per batch after a warm-up,
    and the total wall time of all repetitions including the Predictor's final flush (``close()``).
    Target: overhead <= 5%.
(b) ``ws.lineage(prediction_id, k=5)`` with ``--predictions`` (default 1M) logged predictions and
    ``--train`` (default 100k) training images: image rows appended through the store (no files:
    lineage reads no pixels when vectors exist), one label each through ``ws.add_annotations``, a
    dataset version over them, a run and a registered model aliased ``production``, imgstats-shaped
    vectors (33-d, clustered, seeded) in the ``emb_imgstats_v1`` table with its record, for the
    training images and a pool of production images, and the predictions logged on that pool by
    ``ws.log_predictions`` in 100k-row commits. Cached under
    ``~/.cache/jupyter-cvops-bench/lineage-<params>``. The first call (it indexes the prediction ids
    and builds the cached, indexed reference table of the training vectors) is timed apart; then ``--calls`` random predictions:
    p50 / p95. Target: p95 <= 50 ms.

Run: ``python bench/bench_models.py`` (``--quick``: 10k predictions, 5k training images;
``--skip-predictor`` / ``--skip-lineage``).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import polars as pl

os.environ.setdefault("HF_HUB_OFFLINE", "1")
REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import jupyter_cvops as cv  # noqa: E402
from jupyter_cvops import Workspace  # noqa: E402

CACHE = Path.home() / ".cache" / "jupyter-cvops-bench"
OPENAI_MEAN = (0.48145466, 0.4578275, 0.40821073)
OPENAI_STD = (0.26862954, 0.26130258, 0.27577711)
BUILD = 3  # bump when the cached lineage workspace must be rebuilt


# --------------------------------------------------------------------------- (a) Predictor overhead
def make_images(folder: Path, n: int, seed: int = 0) -> list[str]:
    """``n`` distinct 320x240 JPEGs (smooth texture + noise, camera-like sizes)."""
    import cv2

    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:240, 0:320].astype(np.float32)
    paths = []
    for i in range(n):
        f = rng.uniform(5, 40, 3)
        img = np.stack([127 + 100 * np.sin(xx / f[c] + i) * np.cos(yy / f[(c + 1) % 3]) for c in range(3)], axis=2)
        img += rng.normal(0, 8, img.shape)
        p = folder / f"im_{i:05d}.jpg"
        cv2.imwrite(str(p), np.clip(img, 0, 255).astype(np.uint8), [cv2.IMWRITE_JPEG_QUALITY, 90])
        paths.append(str(p))
    return paths


def bench_predictor(work: Path, *, n_classes: int, batch: int, reps: int, fmt: str, device: str) -> dict:
    import open_clip
    import torch

    torch.manual_seed(0)
    clip, _, _ = open_clip.create_model_and_transforms("ViT-B-32", pretrained=None)
    visual = clip.visual.eval()
    head = torch.nn.Linear(int(visual.output_dim), n_classes)
    net = torch.nn.Sequential(visual, head).eval()
    pre = cv.Preprocess(224, crop=224, resize="bicubic", mean=OPENAI_MEAN, std=OPENAI_STD)
    classes = [f"c{i:03d}" for i in range(n_classes)]
    ws = Workspace.create(work / "ws")
    t = time.perf_counter()
    example = torch.from_numpy(pre.batch([np.zeros((240, 320, 3), np.uint8)] * 2))
    if fmt == "torchscript":
        with torch.no_grad():
            scripted = torch.jit.trace(net, example)
        mv = ws.register_model("clf", scripted, preprocess=pre, classes=classes, format="torchscript")
    else:
        mv = ws.register_model("clf", net, preprocess=pre, classes=classes, example_input=example, format=fmt)
    register_s = time.perf_counter() - t
    ws.set_alias("clf", "production", mv.version)
    paths = make_images(work / "imgs", batch * (reps + 1))
    batches = [paths[i:i + batch] for i in range(0, len(paths), batch)]
    predictor = cv.Predictor(ws, "clf@production", batch_size=batch, device=None if device == "cpu" else device)
    bare_net = predictor.net  # the very artifact the Predictor runs
    dev = torch.device(device)

    def bare(paths_: list[str]) -> tuple[float, float]:
        t0, c0 = time.perf_counter(), time.process_time()
        x = torch.from_numpy(pre.batch(paths_)).to(dev)
        with torch.inference_mode():
            out = bare_net(x)
        out.cpu().numpy()
        return time.perf_counter() - t0, time.process_time() - c0

    def ours(paths_: list[str]) -> tuple[float, float]:
        t0, c0 = time.perf_counter(), time.process_time()
        got = predictor(paths_)
        seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
        assert got.height == len(paths_) and (got["status"] == "ok").all()
        return seconds, cpu

    bare(batches[0])  # warm-up: allocator, thread pools, file cache
    ours(batches[0])
    b_runs, p_runs = [], []
    for i, b in enumerate(batches[1:]):
        if i % 2:  # interleave the order: a shared machine drifts
            p_runs.append(ours(b))
            b_runs.append(bare(b))
        else:
            b_runs.append(bare(b))
            p_runs.append(ours(b))
    t, c = time.perf_counter(), time.process_time()
    predictor.close()  # the last buffered rows (hashing, registration, one commit)
    close_s, close_cpu = time.perf_counter() - t, time.process_time() - c
    logged = ws.store.count("predictions")
    assert logged == len(paths), logged
    # the Predictor's own cost per batch, apart from the model: the same images through a model
    # that costs nothing (pool + linear), bare vs Predictor (timed flushes included as they fall)
    tiny = torch.nn.Sequential(torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten(), torch.nn.Linear(3, n_classes))
    mv0 = ws.register_model("tiny", tiny.eval(), preprocess=pre, classes=classes)
    ws.set_alias("tiny", "production", mv0.version)
    predictor = cv.Predictor(ws, "tiny@production", batch_size=batch, device=None if device == "cpu" else device,
                             source="tiny")
    bare_net = predictor.net
    own = []
    for _ in range(2):
        for b in batches:
            own.append(ours(b)[0] - bare(b)[0])
    predictor.close()
    b_times, p_times = [r[0] for r in b_runs], [r[0] for r in p_runs]
    return {"register_s": register_s, "bare_med": statistics.median(b_times), "ours_med": statistics.median(p_times),
            "paired": statistics.median(p / b for p, b in zip(p_times, b_times)),
            "bare_total": sum(b_times), "ours_total": sum(p_times) + close_s,
            "bare_cpu": sum(r[1] for r in b_runs), "ours_cpu": sum(r[1] for r in p_runs) + close_cpu,
            "own_ms": statistics.median(own) * 1000, "own_mean_ms": statistics.fmean(own) * 1000,
            "close_s": close_s, "logged": logged, "threads": torch.get_num_threads(), "format": fmt,
            "batches": len(b_times)}


def report_predictor(r: dict, batch: int, device: str) -> None:
    over_med = r["ours_med"] / r["bare_med"] - 1
    over_tot = r["ours_total"] / r["bare_total"] - 1
    print(f"\n(a) cv.Predictor vs bare model call: ViT-B-32 + linear head, batch {batch}, {device} "
          f"({r['threads']} torch threads), {r['format']} artifact (registered in {r['register_s']:.1f} s), "
          f"{r['batches']} batches after a warm-up")
    print(f"{'':58s}{'s/batch':>9s}{'img/s':>8s}{'overhead':>10s}{'target':>9s}")
    print(f"{'bare: pre.batch(paths) + net(batch) (median)':58s}{r['bare_med']:9.3f}{batch / r['bare_med']:8.1f}")
    label = 'cv.Predictor(ws, "clf@production")(paths) (median)'
    print(f"{label:58s}{r['ours_med']:9.3f}"
          f"{batch / r['ours_med']:8.1f}{over_med * 100:9.1f}%{'<= 5%':>9s}")
    n = r["batches"]
    print(f"{'total of all batches, bare':58s}{r['bare_total'] / n:9.3f}{batch * n / r['bare_total']:8.1f}")
    print(f"{'total of all batches, Predictor + final flush':58s}{r['ours_total'] / n:9.3f}"
          f"{batch * n / r['ours_total']:8.1f}{over_tot * 100:9.1f}%{'<= 5%':>9s}")
    print(f"{'median of per-batch ratios (ours / bare, same images)':58s}{'':17s}{(r['paired'] - 1) * 100:9.1f}%"
          f"{'<= 5%':>9s}")
    print(f"{'CPU seconds of all batches (process, all threads): bare':58s}{r['bare_cpu']:9.2f}")
    print(f"{'CPU seconds, Predictor + final flush':58s}{r['ours_cpu']:9.2f}{'':8s}"
          f"{(r['ours_cpu'] / r['bare_cpu'] - 1) * 100:9.1f}%")
    print(f"{'Predictor own cost per batch (pool+linear model), median':58s}{r['own_ms'] / 1000:9.3f}{'':8s}"
          f"{r['own_ms'] / 10 / r['bare_med']:9.1f}%  (mean {r['own_mean_ms']:.0f} ms; % of the ViT bare batch)")
    print(f"(logged {r['logged']} predictions; close() flushed the last ones in {r['close_s'] * 1000:.0f} ms; "
          f"throughput ratio ours/bare {r['bare_med'] / r['ours_med']:.3f}x)")


# --------------------------------------------------------------------------- (b) lineage
def _ids(prefix: str, n: int) -> list[str]:
    """Distinct 32-hex ids (look like XXH3-128 content hashes)."""
    import xxhash

    return [xxhash.xxh3_128_hexdigest(f"{prefix}{i}".encode()) for i in range(n)]


def _vectors(rng: np.random.Generator, centres: np.ndarray, n: int) -> np.ndarray:
    which = rng.integers(0, len(centres), size=n)
    return (centres[which] + rng.normal(0, 0.3, size=(n, centres.shape[1]))).astype(np.float32)


def build_lineage_ws(root: Path, n_train: int, n_pred: int, n_pool: int, seed: int = 0) -> Workspace:
    """The lineage workspace (see the module docstring); returns it opened."""
    import torch

    from jupyter_cvops.embeddings import _backends as eb
    from jupyter_cvops.embeddings import _index as ix
    from jupyter_cvops.embeddings import tables as E

    rng = np.random.default_rng(seed)
    t_all = time.perf_counter()
    ws = Workspace.create(root)
    now = datetime.now(timezone.utc)
    train_ids, pool_ids = _ids("train-", n_train), _ids("prod-", n_pool)

    def image_rows(ids: list[str], folder: str, source: str) -> pl.DataFrame:
        n = len(ids)
        return pl.DataFrame({
            "image_id": ids, "path": [f"/data/{folder}/{i:07d}.jpg" for i in range(n)],
            "width": pl.Series([640] * n, dtype=pl.Int32), "height": pl.Series([480] * n, dtype=pl.Int32),
            "channels": pl.Series([3] * n, dtype=pl.Int16), "format": ["JPEG"] * n,
            "bytes": rng.integers(40_000, 90_000, size=n), "mtime_ns": np.full(n, 1_700_000_000 * 10**9),
            "source": [source] * n, "registered_at": [now] * n,
        })

    ws.store.append("images", image_rows(train_ids, "train", "line-1"))
    ws.store.append("images", image_rows(pool_ids, "prod", "line-1"))
    ws.store.index_column("images", "image_id")  # what registration keeps
    classes = ["ok", "dent", "scratch", "stain", "crack"]
    t0 = datetime(2026, 10, 1, tzinfo=timezone.utc)
    annotators = np.array(["ana", "bob", "eve"])
    ws.add_annotations(pl.DataFrame({
        "image_id": train_ids, "annotator": annotators[rng.integers(0, 3, size=n_train)],
        "created_at": [t0] * n_train, "class_name": np.array(classes)[rng.integers(0, 5, size=n_train)],
        "kind": ["image"] * n_train,
    }))
    print(f"  images and labels: {time.perf_counter() - t_all:.1f} s", flush=True)
    version = ws.snapshot(name="train", images=train_ids)
    print(f"  + dataset version ({version.n_images} images): {time.perf_counter() - t_all:.1f} s", flush=True)
    torch.manual_seed(0)
    pre = cv.Preprocess(16, crop=16, mean=(0.5, 0.5, 0.5), std=(0.25, 0.25, 0.25))
    net = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(3 * 16 * 16, len(classes))).eval()
    with ws.run("train", params={"lr": 0.1}) as run:
        run.use("train")
        mv = run.register_model("clf", net, preprocess=pre, classes=classes)
    ws.set_alias("clf", "production", mv.version, reason="bench")
    # imgstats-shaped vectors for training and production images, with the table's own record
    backend, _ = eb.backend_from_spec("imgstats")
    table = "emb_" + backend.table_slug
    fp = eb.fingerprint(backend)
    ws.store.ensure_table(table, E._schema(backend))
    ix.put_record(ws, E._record_for(backend, table, fp) | {"updated_at": now.isoformat(), "index": None})
    centres = rng.normal(0, 1, size=(200, backend.dim)) * 3
    for ids in (train_ids, pool_ids):
        for s in range(0, len(ids), 100_000):
            part = ids[s:s + 100_000]
            ws.store.append(table, E._rows(part, _vectors(rng, centres, len(part)), fp, backend.dim))
    ix.maintain_index(ws, table, E.INDEX_THRESHOLD)
    print(f"  + model, {n_train + n_pool} vectors: {time.perf_counter() - t_all:.1f} s", flush=True)
    # the predictions, in 100k-row commits through the real logging path
    start = datetime(2026, 11, 1, tzinfo=timezone.utc)
    for s in range(0, n_pred, 100_000):
        n = min(100_000, n_pred - s)
        logits = rng.normal(size=(n, len(classes))).astype(np.float32)
        scores = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
        frame = pl.DataFrame({
            "image_id": np.array(pool_ids)[rng.integers(0, n_pool, size=n)],
            "predicted_class": np.array(classes)[scores.argmax(axis=1)],
            "score": scores.max(axis=1).astype(np.float64),
            "scores": pl.Series("scores", scores).cast(pl.List(pl.Float32)),
            "latency_ms": rng.gamma(4.0, 3.0, size=n),
            "time": pl.datetime_range(start + timedelta(seconds=s), start + timedelta(seconds=s + n - 1), "1s",
                                      eager=True, time_zone="UTC"),
            "source": np.array(["line-1", "line-2"])[rng.integers(0, 2, size=n)],
        })
        ws.log_predictions(frame, model="clf@production", preprocess=pre)
    print(f"  + {n_pred:,} predictions: {time.perf_counter() - t_all:.1f} s", flush=True)
    (root / ".bench-complete").write_text("ok")
    return ws


def bench_lineage(n_train: int, n_pred: int, calls: int, k: int, rebuild: bool) -> dict:
    n_pool = max(1000, n_train)  # production images predicted (each ~n_pred/n_pool times)
    root = CACHE / f"lineage-t{n_train}-p{n_pred}-b{BUILD}"
    if rebuild or not (root / ".bench-complete").exists():
        shutil.rmtree(root, ignore_errors=True)
        root.parent.mkdir(parents=True, exist_ok=True)
        print(f"building {root} ...", flush=True)
        t = time.perf_counter()
        ws = build_lineage_ws(root, n_train, n_pred, n_pool)
        print(f"built in {time.perf_counter() - t:.0f} s", flush=True)
    ws = Workspace.open(root)
    for name in [t for t in ws.store.table_names() if t.startswith("knnref_")]:  # time the first call honestly
        ws.store.drop_table(name)
    assert ws.store.count("predictions") == n_pred
    rng = np.random.default_rng(1)
    ids = ws.store.read("predictions", columns=["prediction_id"])["prediction_id"]
    picks = [ids[int(i)] for i in rng.integers(0, len(ids), size=calls + 1)]
    t = time.perf_counter()
    chain = ws.lineage(picks[0], k=k)
    first = time.perf_counter() - t
    assert chain.neighbors.height == k and chain.run is not None and chain.taxonomy is not None, chain.notes
    times = []
    for pid in picks[1:]:
        t = time.perf_counter()
        chain = ws.lineage(pid, k=k)
        times.append(time.perf_counter() - t)
        assert chain.neighbors.height == k, chain.notes
    ms = np.array(times) * 1000
    return {"first_ms": first * 1000, "p50": float(np.percentile(ms, 50)), "p95": float(np.percentile(ms, 95)),
            "max": float(ms.max()), "calls": calls, "root": root, "summary": chain.summary()}


def report_lineage(r: dict, n_train: int, n_pred: int, k: int) -> None:
    print(f"\n(b) ws.lineage(prediction_id, k={k}): {n_pred:,} predictions, {n_train:,} training images "
          f"(workspace {r['root']})")
    print(f"{'':48s}{'ms':>9s}{'ratio to target':>17s}{'target':>9s}")
    print(f"{'first call (indexes ids, builds the reference)':48s}{r['first_ms']:9.1f}")
    print(f"{'p50 of ' + str(r['calls']) + ' random predictions':48s}{r['p50']:9.1f}{r['p50'] / 50:16.2f}x")
    print(f"{'p95':48s}{r['p95']:9.1f}{r['p95'] / 50:16.2f}x{'<= 50 ms':>9s}")
    print(f"{'max':48s}{r['max']:9.1f}")
    print(f"(last chain: {r['summary']})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="10k predictions, 5k training images, fewer batches")
    parser.add_argument("--predictions", type=int, default=1_000_000)
    parser.add_argument("--train", type=int, default=100_000)
    parser.add_argument("--calls", type=int, default=200, help="timed ws.lineage calls")
    parser.add_argument("--k", type=int, default=5)
    parser.add_argument("--rebuild", action="store_true", help="rebuild the cached lineage workspace")
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--reps", type=int, default=None, help="timed Predictor batches (default 8, quick 4)")
    parser.add_argument("--classes", type=int, default=10)
    parser.add_argument("--format", default="torch.export", choices=["torch.export", "torchscript"])
    parser.add_argument("--device", default=None, help="default: cuda when available, else cpu")
    parser.add_argument("--skip-predictor", action="store_true")
    parser.add_argument("--skip-lineage", action="store_true")
    args = parser.parse_args()
    if args.quick:
        args.predictions, args.train = 10_000, 5_000
    reps = args.reps or (4 if args.quick else 8)
    import torch

    device = args.device or ("cuda" if torch.cuda.is_available() else "cpu")
    print(f"{os.cpu_count()} CPUs, torch {torch.__version__}, device {device}")
    if not args.skip_predictor:
        with tempfile.TemporaryDirectory(prefix="cvops-bench-models-") as tmp:
            r = bench_predictor(Path(tmp), n_classes=args.classes, batch=args.batch, reps=reps, fmt=args.format,
                                device=device)
        report_predictor(r, args.batch, device)
    if not args.skip_lineage:
        r = bench_lineage(args.train, args.predictions, args.calls, args.k, args.rebuild)
        report_lineage(r, args.train, args.predictions, args.k)


if __name__ == "__main__":
    main()
