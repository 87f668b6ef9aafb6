"""Benchmark 1: register + snapshot a folder of 10k images vs `dvc add`, then again unchanged.

Both tools run in this process through their Python APIs on the same folder, with
cold caches of their own (fresh workspace / fresh DVC repo), so the ratio compares
the work each does, not interpreter start-up. Targets (issue 2): first
registration >= 5x faster than `dvc add`; unchanged re-snapshot >= 20x.

Run: ``make bench`` (or ``python bench/bench_register.py --n 10000``).
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np


def make_images(folder: Path, n: int, size: int, seed: int = 0) -> int:
    """Write ``n`` distinct PNGs (random texture + gradient); returns total bytes."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    base = rng.integers(0, 255, (size, size, 3), dtype=np.uint8)
    total = 0
    for i in range(n):
        img = base.copy()
        img[i % size, :, :] = (i * 7) % 255
        img[:, (i // size) % size, 1] = (i * 13) % 255
        ok, buf = cv2.imencode(".png", img, [cv2.IMWRITE_PNG_COMPRESSION, 1])
        assert ok
        (folder / f"sub{i // 1000:02d}").mkdir(exist_ok=True)
        (folder / f"sub{i // 1000:02d}" / f"img_{i:06d}.png").write_bytes(buf.tobytes())
        total += len(buf)
    return total


def time_cvops(images: Path, work: Path) -> tuple[float, float]:
    from jupyter_cvops import Workspace

    ws = Workspace.create(work / "ws")
    t0 = time.perf_counter()
    rep = ws.add_images(images, progress=False)
    ws.snapshot(name="bench")
    first = time.perf_counter() - t0
    assert len(rep.added) > 0 and rep.ok, rep
    t0 = time.perf_counter()
    rep2 = ws.add_images(images, progress=False)
    ws.snapshot(name="bench-again")
    again = time.perf_counter() - t0
    assert rep2.n_hashed == 0 and not rep2.added, rep2
    t0 = time.perf_counter()
    ws.snapshot(name="bench-snapshot-only")
    snap_only = time.perf_counter() - t0
    return first, again, snap_only


def time_dvc(images: Path, work: Path) -> tuple[float, float]:
    from dvc.repo import Repo

    repo_dir = work / "dvcrepo"
    repo_dir.mkdir()
    target = repo_dir / "images"
    shutil.copytree(images, target)  # dvc moves data into its cache: give it its own copy
    repo = Repo.init(str(repo_dir), no_scm=True)
    cwd = os.getcwd()
    os.chdir(repo_dir)
    try:
        t0 = time.perf_counter()
        repo.add("images")
        first = time.perf_counter() - t0
        t0 = time.perf_counter()
        repo.add("images")
        again = time.perf_counter() - t0
    finally:
        os.chdir(cwd)
        repo.close()
    return first, again


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=10_000)
    ap.add_argument("--size", type=int, default=96)
    ap.add_argument("--keep", action="store_true")
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="cvops-bench-"))
    try:
        t0 = time.perf_counter()
        nbytes = make_images(work / "images", args.n, args.size)
        print(f"generated {args.n} PNGs ({nbytes / 1e6:.0f} MB) in {time.perf_counter() - t0:.1f} s")
        c1, c2, c3 = time_cvops(work / "images", work)
        d1, d2 = time_dvc(work / "images", work)
        print(f"{'':36s}{'jupyter-cvops':>15s}{'dvc add':>12s}{'ratio':>9s}{'target':>9s}")
        print(f"{'register + snapshot':36s}{c1:14.2f}s{d1:11.2f}s{d1 / c1:8.1f}x{'>= 5x':>9s}")
        print(f"{'unchanged: re-register + snapshot':36s}{c2:14.3f}s{d2:11.2f}s{d2 / c2:8.1f}x{'>= 20x':>9s}")
        print(f"{'unchanged: snapshot only':36s}{c3:14.3f}s{d2:11.2f}s{d2 / c3:8.1f}x{'':>9s}")
        print("(dvc add always re-checks the folder; 're-register + snapshot' is the like-for-like row)")
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
