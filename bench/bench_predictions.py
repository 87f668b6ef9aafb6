"""Benchmark: logging 1M predictions vs writing the same rows to Parquet with pyarrow.

The limit is ``pyarrow.parquet.write_table`` of exactly the rows the log stores (the ``predictions``
schema, built once beforehand, so it pays neither id generation nor validation). Ours is the whole
logging path from a polars frame of served predictions (image ids known to the server, 5 class
scores, latency, time, source) to rows committed in the workspace:

* one shot: ``ws.log_predictions(frame, ...)`` (one commit);
* buffered: ``ws.prediction_log(..., flush_rows=...)`` fed ``--chunk`` rows per ``log_frame`` call, the
  way a server hands over its request batches, with ``flush_rows=10_000`` (100 commits for
  1M rows) and with the default 100k (10 commits; rows still land within ``flush_seconds``). Full
  buffers are committed by the log's writer thread while the caller goes on logging, so the buffered
  path overlaps conversion and commits with the caller's own work; each Lance commit still costs
  ~15-25 ms whatever its size. The context line writes the same rows to Parquet as one file per 10k rows.

Target (issue 10): ours >= 0.5x the speed of the Parquet write (ratio = parquet seconds / ours).
Each timing is the best of ``--repeat`` runs in fresh workspaces (the first run also warms imports).

Run: ``python bench/bench_predictions.py`` (``--n 100000`` for a quick look).
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import polars as pl
import pyarrow.parquet as pq

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from jupyter_cvops import Workspace  # noqa: E402
from jupyter_cvops._store import to_arrow  # noqa: E402
from jupyter_cvops._store.schemas import PREDICTIONS  # noqa: E402

CLASSES = ["ok", "dent", "scratch", "stain", "crack"]


def make_frame(n: int, seed: int = 0) -> pl.DataFrame:
    """``n`` served predictions: known image ids, class, score and 5 scores, latency, time, source."""
    rng = np.random.default_rng(seed)
    logits = rng.normal(size=(n, len(CLASSES))).astype(np.float32)
    scores = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    top = scores.argmax(axis=1)
    t0 = datetime(2024, 6, 1, tzinfo=timezone.utc)
    ids = pl.Series("image_id", rng.integers(0, 2**63, size=n, dtype=np.int64)).cast(pl.String).str.zfill(32)
    return pl.DataFrame({
        "image_id": ids,
        "predicted_class": pl.Series(np.array(CLASSES)[top]),
        "score": scores.max(axis=1).astype(np.float64),
        "scores": pl.Series("scores", scores).cast(pl.List(pl.Float32)),
        "latency_ms": rng.gamma(4.0, 3.0, size=n),
        "time": pl.datetime_range(t0, t0 + timedelta(microseconds=n - 1), "1us", eager=True, time_zone="UTC"),
        "source": pl.Series(np.array(["line-1", "line-2"])[rng.integers(0, 2, size=n)]),
    })


def stored_table(frame: pl.DataFrame) -> object:
    """The rows as the log stores them (ids and constants filled in), for the Parquet limit."""
    n = frame.height
    full = frame.with_columns(
        pl.format("{}{}", pl.lit("0" * 20), pl.int_range(n).cast(pl.String).str.zfill(12)).alias("prediction_id"),
        pl.lit("clf").alias("model"), pl.lit("v1").alias("model_version"), pl.lit("production").alias("alias"),
        pl.lit("f" * 32).alias("preprocess_fingerprint"), pl.lit("ok").alias("status"),
        pl.lit("b" * 32).alias("batch_id"), pl.lit("served").alias("role"),
    )
    return to_arrow(full, PREDICTIONS)


def time_parquet(table: object, work: Path, batch: int | None = None) -> float:
    """``pq.write_table`` of all rows to one file (or, with ``batch``, one file per ``batch`` rows)."""
    n = table.num_rows  # type: ignore[attr-defined]
    parts = [table] if batch is None else [table.slice(k, batch) for k in range(0, n, batch)]  # type: ignore[attr-defined]
    t = time.perf_counter()
    for i, part in enumerate(parts):
        pq.write_table(part, work / f"predictions-{i}.parquet")
    seconds = time.perf_counter() - t
    for i in range(len(parts)):
        (work / f"predictions-{i}.parquet").unlink()
    return seconds


def time_one_shot(frame: pl.DataFrame, work: Path) -> float:
    ws = Workspace.create(work / "ws-one")
    t = time.perf_counter()
    ws.log_predictions(frame, model="clf", version="v1", alias="production", preprocess="f" * 32)
    seconds = time.perf_counter() - t
    assert ws.store.count("predictions") == frame.height
    shutil.rmtree(work / "ws-one")
    return seconds


def time_buffered(frame: pl.DataFrame, work: Path, chunk: int, flush_rows: int) -> tuple[float, int]:
    ws = Workspace.create(work / "ws-buf")
    chunks = [frame.slice(k, chunk) for k in range(0, frame.height, chunk)]
    t = time.perf_counter()
    with ws.prediction_log("clf", version="v1", alias="production", preprocess="f" * 32, flush_rows=flush_rows,
                           flush_seconds=None) as plog:
        for part in chunks:
            plog.log_frame(part)
    seconds = time.perf_counter() - t
    assert ws.store.count("predictions") == frame.height
    shutil.rmtree(work / "ws-buf")
    return seconds, plog.commits


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1_000_000, help="predictions logged (default 1M)")
    parser.add_argument("--chunk", type=int, default=1000, help="rows per log_frame call, buffered mode")
    parser.add_argument("--repeat", type=int, default=3, help="runs per timing (best kept)")
    args = parser.parse_args()
    frame = make_frame(args.n)
    table = stored_table(frame)
    with tempfile.TemporaryDirectory(prefix="cvops-bench-pred-") as tmp:
        work = Path(tmp)
        parquet = min(time_parquet(table, work) for _ in range(args.repeat))
        parquet_10k = min(time_parquet(table, work, 10_000) for _ in range(args.repeat))
        one = min(time_one_shot(frame, work) for _ in range(args.repeat))
        buffered = {}
        for rows in (10_000, 100_000):
            runs = [time_buffered(frame, work, args.chunk, rows) for _ in range(args.repeat)]
            buffered[rows] = (min(r[0] for r in runs), runs[0][1])
    rate = args.n / 1e6
    print(f"{args.n:,} predictions ({table.nbytes / 1e6:.0f} MB in Arrow), best of {args.repeat}")  # type: ignore[attr-defined]
    print(f"{'':52s}{'seconds':>9s}{'M rows/s':>10s}{'ratio':>8s}{'target':>9s}")
    print(f"{'pyarrow.parquet.write_table, one file (the limit)':52s}{parquet:9.3f}{rate / parquet:10.2f}"
          f"{'1.00x':>8s}")
    print(f"{'ws.log_predictions (one commit)':52s}{one:9.3f}{rate / one:10.2f}{parquet / one:7.2f}x{'>= 0.5x':>9s}")
    for rows, (seconds, commits) in buffered.items():
        label = f"prediction_log, flush_rows={rows:,} ({commits} commits)"
        print(f"{label:52s}{seconds:9.3f}{rate / seconds:10.2f}{parquet / seconds:7.2f}x{'>= 0.5x':>9s}")
    print(f"{'context: parquet, one file per 10k rows':52s}{parquet_10k:9.3f}{rate / parquet_10k:10.2f}"
          f"{parquet / parquet_10k:7.2f}x")
    print(f"(buffered: {args.chunk}-row log_frame calls; ratio = parquet one-file seconds / these seconds)")


if __name__ == "__main__":
    main()
