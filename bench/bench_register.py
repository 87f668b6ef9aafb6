"""Benchmark 1: register + snapshot a folder of 10k images vs `dvc add`, then again unchanged.

Both tools run in this process through their Python APIs on the same folder, with
cold caches of their own (fresh workspace / fresh DVC repo), so the ratio compares
the work each does, not interpreter start-up. Targets (issue 2): first
registration >= 5x faster than `dvc add`; unchanged re-snapshot >= 20x.

Run: ``make bench`` (or ``python bench/bench_register.py --n 10000``); ``--repeat 3``
times both tools three times, each pair in a fresh process, and prints medians [min-max]
(the ratio swings with machine load).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

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


def time_cvops(images: Path, work: Path) -> tuple[float, float, float]:
    from jupyter_cvops import Workspace

    work.mkdir(parents=True, exist_ok=True)
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
    repo_dir.mkdir(parents=True)
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


def _fmt(xs: list[float], unit: int = 2) -> str:
    med = statistics.median(xs)
    return f"{med:.{unit}f}s" if len(xs) == 1 else f"{med:.{unit}f}s [{min(xs):.{unit}f}-{max(xs):.{unit}f}]"


def _one_run(images: Path, work: Path) -> tuple[tuple[float, float, float], tuple[float, float]]:
    """Both tools once, in a fresh process (no state carried between runs).

    Even so, dvc's first ``add`` measured 2.1-2.9 s in the first run after the images were
    written and 4-7 s in later runs (cause not found: not ``os.sync``, not memory); ours
    stayed within 10%. Compare single runs (``--repeat 1``) for the conservative ratio.
    """
    out = subprocess.run(
        [sys.executable, __file__, "--_child", str(images), str(work)],
        check=True, capture_output=True, text=True,
    ).stdout
    ours, theirs = json.loads(out.strip().splitlines()[-1])
    return tuple(ours), tuple(theirs)  # type: ignore[return-value]


# ----------------------------------------------------------------------------- scale (--n >= 100k)
SCALE_PARTS = 100_000
"""Images per part of the scale tree: the 100k run registers part 0, the 1M run all ten."""


def scale_cache() -> Path:
    """Where the scale images live between runs: outside the repository, generated once."""
    base = Path(os.environ.get("CVOPS_BENCH_CACHE", Path.home() / ".cache" / "jupyter-cvops-bench"))
    return base / "png16"


def make_scale_images(root: Path, n: int) -> float:
    """``n`` distinct 16x16 PNGs, 1000 per folder, 100 folders per part of 100k (kept between runs)."""
    done = root / ".complete"
    have = int(done.read_text()) if done.exists() else 0
    if have >= n:
        return 0.0
    t0 = time.perf_counter()
    rng = np.random.default_rng(0)
    base = rng.integers(0, 255, (16, 16, 3), dtype=np.uint8)
    for i in range(have, n):
        folder = root / f"part{i // SCALE_PARTS}" / f"sub{(i // 1000) % 100:02d}"
        if i % 1000 == 0:
            folder.mkdir(parents=True, exist_ok=True)
        img = base.copy()
        img[0, :3, :] = np.frombuffer(i.to_bytes(9, "big"), np.uint8).reshape(3, 3)  # distinct bytes
        ok, buf = cv2.imencode(".png", img, [cv2.IMWRITE_PNG_COMPRESSION, 1])
        assert ok
        (folder / f"img_{i:07d}.png").write_bytes(buf.tobytes())
        if i % 100_000 == 99_999:
            print(f"  generated {i + 1:,} PNGs ({time.perf_counter() - t0:.0f} s)", flush=True)
    done.write_text(str(n))
    return time.perf_counter() - t0


def floor_stat(root: Path) -> float:
    """scandir + stat of every file (what any re-check of a folder must do)."""
    t0 = time.perf_counter()
    stack, n = [str(root)], 0
    while stack:
        with os.scandir(stack.pop()) as it:
            for e in it:
                if e.is_dir(follow_symlinks=False):
                    stack.append(e.path)
                else:
                    e.stat(follow_symlinks=False)
                    n += 1
    return time.perf_counter() - t0


def floor_read_hash(root: Path) -> float:
    """Read + XXH3-128 of every file, one thread (what any content check must do)."""
    import xxhash

    paths = []
    for folder, _dirs, files in os.walk(root):
        paths += [os.path.join(folder, f) for f in files if f.endswith(".png")]
    t0 = time.perf_counter()
    h = xxhash.xxh3_128_hexdigest
    for p in paths:
        with open(p, "rb", buffering=0) as f:
            h(f.read())
    return time.perf_counter() - t0


def scale_run(images: Path, work: Path) -> dict[str, float]:
    """Our operations on one tree, fresh workspace; seconds each, with each floor measured right
    before the operation it bounds (at 1M, a minute of registering lets the kernel reclaim the
    inode and page caches of the tree: a floor taken earlier would compare warm with cold)."""
    from jupyter_cvops import Workspace

    ws = Workspace.create(work / "ws")
    out: dict[str, float] = {}

    def timed(key: str, fn: Any) -> Any:
        t0 = time.perf_counter()
        res = fn()
        out[key] = time.perf_counter() - t0
        return res

    floor_read_hash(images)  # warm
    out["read+hash"] = floor_read_hash(images)
    rep = timed("register", lambda: ws.add_images(images, progress=False))
    assert rep.ok and rep.n_hashed == len(rep.added) > 0, rep
    floor_stat(images)  # warm
    out["stat"] = floor_stat(images)
    rep = timed("unchanged re-register", lambda: ws.add_images(images, progress=False))
    assert rep.n_hashed == 0 and not rep.added, rep
    timed("snapshot", lambda: ws.snapshot(name="scale"))
    timed("unchanged re-snapshot", lambda: ws.snapshot(name="scale"))
    ver = ws.version("scale")
    floor_read_hash(images)  # warm
    out["read+hash (before verify)"] = floor_read_hash(images)
    res = timed("verify", lambda: ver.verify(progress=False))
    assert res.ok and res.n_checked == len(rep.unchanged), res
    df = timed("ws.images()", ws.images)
    assert df.height == len(rep.unchanged)
    return out


SCALE_TARGETS = {
    "unchanged re-register": ("stat", 3.0),
    "verify": ("read+hash (before verify)", 1.5),
}


def scale_main(n: int, keep: bool) -> None:
    root = scale_cache()
    gen = make_scale_images(root, n)
    print(f"scale images: {root} ({'generated in %.0f s' % gen if gen else 'cached from an earlier run'})")
    sizes = sorted({min(n, SCALE_PARTS), n})
    rows: dict[int, dict[str, float]] = {}
    for size in sizes:
        tree = root / "part0" if size == SCALE_PARTS else root
        work = Path(tempfile.mkdtemp(prefix="cvops-scale-"))
        try:
            rows[size] = scale_run(tree, work)
        finally:
            if not keep:
                shutil.rmtree(work, ignore_errors=True)
    print("\npage cache: warm (each floor pass runs twice, the second timed, right before the operation it bounds;"
          "\n            the first registration reads the files just after the read+hash floor read them)")
    head = "".join(f"{s:>14,}" for s in sizes)
    print(f"\n{'16x16 PNGs, 1000 per folder':36s}{head}   target")
    for key in ("stat", "read+hash", "read+hash (before verify)"):
        print(f"{'floor: ' + key:36s}" + "".join(f"{rows[s][key]:13.3f}s" for s in sizes))
    for key in ("register", "unchanged re-register", "snapshot", "unchanged re-snapshot", "verify", "ws.images()"):
        cells = ""
        for s in sizes:
            v = rows[s][key]
            cells += f"{v:13.3f}s" if key not in SCALE_TARGETS else f"{v:8.3f}s {v / rows[s][SCALE_TARGETS[key][0]]:4.1f}x"
        target = {"unchanged re-register": "<= 3x stat", "verify": "<= 1.5x read+hash", "snapshot": "<= 5 s at 1M"}
        print(f"{key:36s}{cells}   {target.get(key, '')}")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=10_000)
    ap.add_argument("--size", type=int, default=96)
    ap.add_argument("--repeat", type=int, default=1,
                    help="runs of both tools, each pair in a fresh process; medians [min-max] shown")
    ap.add_argument("--keep", action="store_true")
    ap.add_argument("--_child", nargs=2, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.n >= SCALE_PARTS:
        scale_main(args.n, args.keep)
        return
    if args._child:
        images, work = map(Path, args._child)
        print(json.dumps([time_cvops(images, work / "cvops"), time_dvc(images, work / "dvc")]))
        return
    work = Path(tempfile.mkdtemp(prefix="cvops-bench-"))
    try:
        t0 = time.perf_counter()
        nbytes = make_images(work / "images", args.n, args.size)
        print(f"generated {args.n} PNGs ({nbytes / 1e6:.0f} MB) in {time.perf_counter() - t0:.1f} s")
        ours: list[tuple[float, float, float]] = []
        theirs: list[tuple[float, float]] = []
        for r in range(args.repeat):
            if args.repeat == 1:
                ours.append(time_cvops(work / "images", work / "run0" / "cvops"))
                theirs.append(time_dvc(work / "images", work / "run0" / "dvc"))
            else:
                o, t = _one_run(work / "images", work / f"run{r}")
                ours.append(o)
                theirs.append(t)
            if not args.keep:
                shutil.rmtree(work / f"run{r}", ignore_errors=True)
        c1, c2, c3 = ([o[k] for o in ours] for k in range(3))
        d1, d2 = ([t[k] for t in theirs] for k in range(2))
        m = statistics.median
        w = 15 if args.repeat == 1 else 24
        if args.repeat > 1:
            print(f"median [min-max] of {args.repeat} runs, each a fresh process timing both tools")
        print(f"{'':36s}{'jupyter-cvops':>{w}s}{'dvc add':>{w}s}{'ratio':>9s}{'target':>9s}")
        print(f"{'register + snapshot':36s}{_fmt(c1):>{w}s}{_fmt(d1):>{w}s}{m(d1) / m(c1):8.1f}x{'>= 5x':>9s}")
        print(f"{'unchanged: re-snapshot':36s}{_fmt(c3, 3):>{w}s}{_fmt(d2):>{w}s}{m(d2) / m(c3):8.1f}x{'>= 20x':>9s}")
        print(f"{'unchanged: re-register + re-snapshot':36s}{_fmt(c2, 3):>{w}s}{_fmt(d2):>{w}s}"
              f"{m(d2) / m(c2):8.1f}x{'':>9s}")
        print("(re-snapshot: ws.snapshot from the registered state, the issue's target; dvc add always re-checks\n"
              " the folder, which the re-register row also does: stat every file, hash none; ~13 ms of it is\n"
              " the bare scandir + stat of 10k files in Python)")
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
