"""Benchmark: a shadow report over 100k logged prediction pairs, model inference excluded.

A generated workspace holds ``--n`` served predictions of a production version and, beside each, the
shadow row of a candidate (``shadow_of`` = the served id), as ``cv.Predictor(..., shadow=)`` logs them;
``--reviewed`` of the images carry a review decision. Timed: ``ws.shadow(name, candidate=...,
logged=True)`` end to end (read and select the served rows, pair the shadow rows, resolve the reviewed
labels, agreement/kappa with 1000 bootstrap replicates, flip matrix, McNemar, disagreements, the check
written), best of ``--repeat``.

Target (issue 12): <= 5 s at 100k pairs.

Run: ``python bench/bench_shadow.py`` (``--n 10000`` for a quick look).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import polars as pl
import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from jupyter_cvops import Preprocess, Workspace  # noqa: E402

CLASSES = ["ok", "dent", "scratch", "stain", "crack"]


class Tiny(torch.nn.Module):
    def __init__(self, seed: int) -> None:
        super().__init__()
        torch.manual_seed(seed)
        self.fc = torch.nn.Linear(3, len(CLASSES))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(x.mean(dim=(2, 3)))


def build(root: Path, n: int, reviewed: int, seed: int = 0) -> tuple[Workspace, str]:
    rng = np.random.default_rng(seed)
    ws = Workspace.create(root / "ws")
    pre = Preprocess(16, crop=16)
    prod = ws.register_model("clf", Tiny(0).eval(), preprocess=pre, classes=CLASSES)
    cand = ws.register_model("clf", Tiny(1).eval(), preprocess=pre, classes=CLASSES)
    ws.set_alias("clf", "production", prod.version)
    ids = pl.Series("image_id", rng.integers(0, 2**63, size=n, dtype=np.int64)).cast(pl.String).str.zfill(32)
    served_cls = rng.integers(0, len(CLASSES), n)
    cand_cls = np.where(rng.random(n) < 0.92, served_cls, rng.integers(0, len(CLASSES), n))
    t0 = datetime(2026, 11, 1, tzinfo=timezone.utc)
    times = pl.datetime_range(t0, t0 + timedelta(seconds=n - 1), "1s", eager=True, time_zone="UTC")
    served = ws.log_predictions(pl.DataFrame({
        "image_id": ids, "predicted_class": np.array(CLASSES)[served_cls], "score": rng.uniform(0.3, 1.0, n),
        "latency_ms": rng.gamma(4.0, 3.0, n), "time": times}), "clf@production", preprocess=pre, source="line-1")
    ws.log_predictions(pl.DataFrame({
        "image_id": ids, "predicted_class": np.array(CLASSES)[cand_cls], "score": rng.uniform(0.3, 1.0, n),
        "latency_ms": rng.gamma(4.0, 3.0, n), "time": times, "shadow_of": served["prediction_id"]}),
        cand, preprocess=pre, role="shadow", source="line-1")
    if reviewed:
        class_ids = ws.taxonomy.ensure(CLASSES)
        pick = rng.choice(n, size=reviewed, replace=False)
        truth = np.where(rng.random(reviewed) < 0.85, served_cls[pick], rng.integers(0, len(CLASSES), reviewed))
        now = datetime.now(timezone.utc)
        rows = [{"review_id": uuid.uuid4().hex, "decision_id": uuid.uuid4().hex, "image_id": ids[int(i)],
                 "reviewer": "bench", "created_at": now, "taxonomy_version": ws.taxonomy.version, "decision": "set",
                 "class_id": class_ids[CLASSES[int(c)]], "kind": "image"} for i, c in zip(pick, truth)]
        ws.store.append("reviews", rows)
    return ws, cand.version


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=100_000)
    ap.add_argument("--reviewed", type=int, default=2_000)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        t = time.perf_counter()
        ws, cand = build(Path(tmp), args.n, args.reviewed)
        print(f"generated {args.n:,} served + {args.n:,} shadow rows, {args.reviewed:,} reviewed images in "
              f"{time.perf_counter() - t:.1f} s")
        best = float("inf")
        for _ in range(args.repeat):
            t = time.perf_counter()
            rep = ws.shadow("clf", candidate=cand, logged=True, bootstrap=1000)
            best = min(best, time.perf_counter() - t)
        print(rep.summary)
        verdict = "meets" if best <= 5.0 else "MISSES"
        print(f"ws.shadow(logged=True) over {rep.n:,} pairs: {best:.2f} s (best of {args.repeat}); target <= 5 s: "
              f"{verdict}")


if __name__ == "__main__":
    main()
