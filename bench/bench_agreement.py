"""Benchmark: agreement analytics on 100k items x 5 annotators, side by side with references.

Compares, on the same synthetic data (seeded: 4 classes, per-annotator confusion,
20% missing ratings, labels spread over 8 weeks):

* Krippendorff's alpha (nominal): ``jupyter_cvops.agreement.krippendorff_alpha``
  vs ``krippendorff.alpha`` (values must agree within 1e-9; target >= 10x faster);
* Dawid-Skene: ``jupyter_cvops.agreement._dawid_skene.dawid_skene`` vs crowd-kit's
  ``DawidSkene`` (same iterations and stopping rule; labels and posteriors compared);
* the full report (``agreement_report`` from the long polars frame: Dawid-Skene
  consensus, 1000 bootstrap replicates, pairwise/per-class/confusion, weekly
  windows, drift detector); target < 5 s on 2 cores.

Run ``python bench/bench_agreement.py [--items N] [--repeat R]``; prints a table.
Needs the ``krippendorff`` and ``crowd-kit`` packages (pandas comes with crowd-kit).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

import numpy as np
import polars as pl

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from jupyter_cvops.agreement._dawid_skene import dawid_skene  # noqa: E402
from jupyter_cvops.agreement.metrics import agreement_report, krippendorff_alpha, ratings_from_labels  # noqa: E402

CLASSES = ["dent", "ok", "scratch", "stain"]


def make_data(n_items: int, n_annotators: int = 5, seed: int = 0) -> tuple[np.ndarray, pl.DataFrame]:
    """(reliability matrix annotators x items with NaN, long labels frame)."""
    rng = np.random.default_rng(seed)
    k = len(CLASSES)
    truth = rng.choice(k, size=n_items, p=[0.25, 0.4, 0.2, 0.15])
    acc = np.linspace(0.7, 0.92, n_annotators)
    mat = np.empty((n_annotators, n_items))
    for a in range(n_annotators):
        wrong = rng.random(n_items) > acc[a]
        other = (truth + rng.integers(1, k, n_items)) % k
        mat[a] = np.where(wrong, other, truth)
    mat[rng.random(mat.shape) < 0.2] = np.nan
    a_idx, i_idx = np.nonzero(~np.isnan(mat))
    start = datetime(2026, 1, 5, tzinfo=timezone.utc)
    item_time = rng.integers(0, 8 * 7 * 86400, n_items)
    frame = pl.DataFrame({
        "item": i_idx.astype(np.int64),
        "annotator": np.asarray([f"annotator_{j}" for j in range(n_annotators)])[a_idx],
        "class_name": np.asarray(CLASSES)[mat[a_idx, i_idx].astype(int)],
        "seconds": item_time[i_idx] + rng.integers(0, 3600, a_idx.size),
    })
    frame = frame.select("item", "annotator", "class_name",
                         (pl.lit(start) + pl.duration(seconds=pl.col("seconds"))).alias("created_at"))
    return mat, frame


def best_of(fn: Callable[[], Any], repeat: int) -> tuple[float, Any]:
    """Smallest wall time over ``repeat`` runs (after one warm-up) and the last result."""
    out = fn()
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return min(times), out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--items", type=int, default=100_000)
    ap.add_argument("--annotators", type=int, default=5)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--bootstrap", type=int, default=1000)
    args = ap.parse_args()

    import krippendorff
    import pandas as pd
    from crowdkit.aggregation import DawidSkene

    mat, frame = make_data(args.items, args.annotators)
    n_labels = frame.height
    rows: list[tuple[str, float, float | None, str]] = []

    t_ours, a_ours = best_of(lambda: krippendorff_alpha(mat, "nominal"), args.repeat)
    t_ref, a_ref = best_of(lambda: krippendorff.alpha(mat, level_of_measurement="nominal"), args.repeat)
    rows.append(("krippendorff alpha, nominal", t_ours, t_ref,
                 f"ours {a_ours:.12f} vs krippendorff {float(a_ref):.12f}, |diff| {abs(a_ours - a_ref):.1e}"))
    for level in ("ordinal", "interval"):
        t_o, v_o = best_of(lambda: krippendorff_alpha(mat, level), args.repeat)
        t_r, v_r = best_of(lambda: krippendorff.alpha(mat, level_of_measurement=level), args.repeat)
        rows.append((f"krippendorff alpha, {level}", t_o, t_r, f"|diff| {abs(v_o - v_r):.1e}"))

    r = ratings_from_labels(frame)
    item, ann, lab = r.long()
    kw = dict(n_items=r.n_items, n_annotators=r.n_annotators, n_classes=r.n_classes)
    t_ds, fit = best_of(lambda: dawid_skene(item, ann, lab, **kw), args.repeat)
    df = pd.DataFrame({"task": item, "worker": ann, "label": lab})
    ck = DawidSkene(n_iter=100, tol=1e-5)
    t_ck, ck_labels = best_of(lambda: ck.fit_predict(df), max(1, args.repeat // 2))
    ck_probs = ck.probas_.sort_index()
    ck_probs = ck_probs[sorted(ck_probs.columns)].to_numpy()
    same = float((ck_labels.sort_index().to_numpy() == fit.labels).mean())
    rows.append(("Dawid-Skene EM", t_ds, t_ck,
                 f"{fit.n_iter} vs {len(ck.loss_history_)} iterations; labels equal {same:.4%}; "
                 f"max |posterior diff| {np.abs(ck_probs - fit.probabilities).max():.1e}"))

    t_rep, rep = best_of(lambda: agreement_report(frame, bootstrap=args.bootstrap, seed=0), max(1, args.repeat // 2))
    rows.append((f"full report (frame -> report, {args.bootstrap} bootstraps)", t_rep, None,
                 f"alpha {rep.metric('krippendorff_alpha'):.4f} "
                 f"[{rep.overall['ci_low'][0]:.4f}, {rep.overall['ci_high'][0]:.4f}], "
                 f"{rep.windows.height} windows, {rep.alerts.height} alerts"))

    print(f"\nagreement bench: {args.items:,} items x {args.annotators} annotators, {n_labels:,} labels, "
          f"{len(CLASSES)} classes; {os.cpu_count()} CPUs visible; best of {args.repeat}\n")
    print(f"{'computation':<48} {'ours (s)':>10} {'reference (s)':>14} {'speed-up':>9}  notes")
    print("-" * 130)
    for name, ours, ref, note in rows:
        ratio = f"{ref / ours:8.1f}x" if ref else "        -"
        ref_s = f"{ref:14.4f}" if ref else f"{'-':>14}"
        print(f"{name:<48} {ours:10.4f} {ref_s} {ratio}  {note}")
    ok_alpha = abs(a_ours - a_ref) <= 1e-9 and t_ref / t_ours >= 10
    print(f"\ntargets: alpha >= 10x faster and equal within 1e-9: {'met' if ok_alpha else 'NOT met'}; "
          f"full report < 5 s: {'met' if t_rep < 5 else 'NOT met'} ({t_rep:.2f} s)")


if __name__ == "__main__":
    main()
