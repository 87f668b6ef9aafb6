"""Benchmark: MMD permutation test, 5k vs 5k x 512, 1000 permutations: jupyter-cvops vs alibi-detect.

Both run on the same float32 data in one invocation: ours in this process,
alibi-detect's ``MMDDrift`` (PyTorch backend, same number of permutations,
median-heuristic RBF kernel) in a subprocess of its own virtual environment
(``.venv-bench-alibi``, built on first use, so its pins cannot touch ours).
Each side's time is the whole test from arrays to p-value after a warm-up,
without interpreter start-up or imports. Target (issue 4): ours >= 5x faster,
with consistent p-values (both are Monte Carlo estimates of the same
permutation p-value: they should agree within a few standard errors).

The current sample is the reference distribution shifted by ``--shift`` (a
mean shift of that Euclidean length along a random direction): 0.15 puts the
p-value near 0.05, where a disagreement would show.

Run: ``python bench/bench_drift.py`` (``--n 2000 --perms 200`` for a quick look).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
ALIBI_VENV = REPO / ".venv-bench-alibi"
TORCH_PIN = "torch==2.14.1"

ALIBI_RUNNER = r"""
import json, sys, time, warnings
warnings.filterwarnings("ignore")
import numpy as np, torch
from alibi_detect.cd import MMDDrift
x = np.load(sys.argv[1]); y = np.load(sys.argv[2]); perms = int(sys.argv[3]); seed = int(sys.argv[4])
warm = MMDDrift(x[:64], backend="pytorch", n_permutations=10, device="cpu")  # warm-up, like ours
warm.predict(y[:64])
torch.manual_seed(seed)
t0 = time.perf_counter()
cd = MMDDrift(x, backend="pytorch", p_val=0.05, n_permutations=perms, device="cpu")
pred = cd.predict(y, return_p_val=True, return_distance=True)
seconds = time.perf_counter() - t0
sigma = float(cd._detector.kernel.sigma.detach().cpu().numpy().ravel()[0])
print(json.dumps({"seconds": seconds, "p_value": float(pred["data"]["p_val"]),
                  "statistic": float(pred["data"]["distance"]), "sigma": sigma,
                  "torch": torch.__version__, "threads": torch.get_num_threads()}))
"""


def make_data(n: int, d: int, shift: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, d), dtype=np.float32)
    y = rng.standard_normal((n, d), dtype=np.float32)
    u = rng.standard_normal(d)
    y += (shift * u / np.linalg.norm(u)).astype(np.float32)
    return x, y


def ensure_alibi_venv() -> tuple[Path | None, str]:
    """Python of the alibi-detect venv (created on first use), or None and the reason it failed."""
    py = ALIBI_VENV / "bin" / "python"
    check = [str(py), "-c", "import alibi_detect.cd, torch"]
    if py.exists() and subprocess.run(check, capture_output=True).returncode == 0:
        return py, ""
    steps = [[sys.executable, "-m", "venv", str(ALIBI_VENV)],
             [str(py), "-m", "pip", "install", "-q", TORCH_PIN],
             [str(py), "-m", "pip", "install", "-q", "alibi-detect[torch]"]]
    for cmd in steps:
        r = subprocess.run(cmd, capture_output=True, text=True)
        if r.returncode != 0:
            return None, f"{' '.join(cmd[-2:])} failed: {(r.stderr or r.stdout).strip()[-600:]}"
    r = subprocess.run(check, capture_output=True, text=True)
    return (py, "") if r.returncode == 0 else (None, f"alibi-detect does not import: {r.stderr.strip()[-600:]}")


def run_ours(x: np.ndarray, y: np.ndarray, perms: int, seed: int, dtype: str) -> dict:
    from jupyter_cvops.drift.two_sample import mmd_test

    mmd_test(x[:64], y[:64], 10, dtype=dtype, witness=False)  # warm-up (torch kernels, thread pool)
    t0 = time.perf_counter()
    res = mmd_test(x, y, perms, seed, dtype=dtype, witness=False)
    seconds = time.perf_counter() - t0
    return {"seconds": seconds, "p_value": res.p_value, "statistic": res.statistic, "sigma": res.bandwidth}


def run_alibi(py: Path, x: np.ndarray, y: np.ndarray, perms: int, seed: int) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        fx, fy = Path(tmp) / "x.npy", Path(tmp) / "y.npy"
        np.save(fx, x)
        np.save(fy, y)
        r = subprocess.run([str(py), "-c", ALIBI_RUNNER, str(fx), str(fy), str(perms), str(seed)],
                           capture_output=True, text=True, env={**os.environ, "PYTHONWARNINGS": "ignore"})
    if r.returncode != 0:
        raise RuntimeError(f"alibi-detect run failed:\n{r.stderr[-2000:]}")
    return json.loads(r.stdout.strip().splitlines()[-1])


def consistent(p1: float, p2: float, perms: int) -> bool:
    """Two Monte Carlo permutation p-values agree within 4 standard errors (plus the +1 convention)."""
    p = min(max((p1 + p2) / 2, 1 / perms), 1 - 1 / perms)
    return abs(p1 - p2) <= 4 * math.sqrt(2 * p * (1 - p) / perms) + 2 / perms


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=5000, help="rows per sample")
    ap.add_argument("--dim", type=int, default=512)
    ap.add_argument("--perms", type=int, default=1000)
    ap.add_argument("--shift", type=float, default=0.15, help="length of the mean shift of the current sample")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--skip-alibi", action="store_true")
    args = ap.parse_args()

    import torch

    x, y = make_data(args.n, args.dim, args.shift, args.seed)
    dev = "cuda" if torch.cuda.is_available() else "cpu"
    print(f"MMD permutation test: {args.n} vs {args.n} x {args.dim}, {args.perms} permutations, "
          f"shift {args.shift}, device {dev}, torch threads {torch.get_num_threads()}")
    rows = [("jupyter-cvops float32", run_ours(x, y, args.perms, args.seed, "float32"))]
    rows.append(("jupyter-cvops float64", run_ours(x, y, args.perms, args.seed, "float64")))
    note = ""
    if not args.skip_alibi:
        py, why = ensure_alibi_venv()
        if py is None:
            note = f"alibi-detect not run: {why}"
        else:
            rows.append(("alibi-detect MMDDrift (pytorch)", run_alibi(py, x, y, args.perms, args.seed)))
    print(f"{'implementation':34s} {'seconds':>9s} {'MMD^2':>12s} {'sigma':>8s} {'p-value':>8s}")
    for name, r in rows:
        print(f"{name:34s} {r['seconds']:9.2f} {r['statistic']:12.4e} {r['sigma']:8.3f} {r['p_value']:8.4f}")
    if note:
        print(note)
        return 0
    if len(rows) == 3:
        alibi = rows[2][1]
        for name, r in rows[:2]:
            ratio = alibi["seconds"] / r["seconds"]
            ok = consistent(r["p_value"], alibi["p_value"], args.perms)
            print(f"{name}: {ratio:.1f}x faster than alibi-detect (target >= 5x: {'met' if ratio >= 5 else 'MISSED'}); "
                  f"p-values {r['p_value']:.4f} vs {alibi['p_value']:.4f}: {'consistent' if ok else 'INCONSISTENT'}")
        print("(alibi-detect's p-value is #{perm >= obs} / B, ours (1 + #{perm >= obs}) / (1 + B); its bandwidth "
              "comes from reference pairs only, ours from the pooled sample)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
