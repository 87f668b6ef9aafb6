"""Benchmark: `cvops retrain RECIPE` vs `papermill` on the same notebook, and the fast data verify at 10k images.

1. A seeded training notebook (notebook 05's: the demo's DefectNet on a small demo workspace) is run
   once, exported as a recipe, then executed alternately by ``cvops retrain RECIPE --check`` and by
   ``papermill NOTEBOOK OUT --cwd DIR`` (the recipe's own notebook, the same parameters), each a
   fresh process with a fresh kernel, ``--repeat`` times. The overhead is cvops' time over
   papermill's; the target (issue 11) is <= 10% plus the data verify. The parts of the overhead
   are timed in this process: the recipe read, the environment diff, the input verify.
2. The fast verify (``--verify fast``: one stat per file, re-hash only what changed) of a dataset
   version of 10k images, against the full re-hash; target <= 0.5 s. The images are the 16x16
   PNGs of ``bench_register`` (``~/.cache/jupyter-cvops-bench/png16`` or ``$CVOPS_BENCH_CACHE``),
   generated there once if missing.

Run: ``make bench`` (installs papermill), or ``python bench/bench_recipes.py [--quick] [--repeat N]
[--epochs E] [--n-verify 10000]``. Timings swing with machine load: read the medians.
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

HERE = Path(__file__).resolve().parent
BIN = Path(sys.executable).parent


def _nb(cells: list[tuple[str, str]]) -> dict[str, Any]:
    out = []
    for k, (kind, source) in enumerate(cells):
        cell: dict[str, Any] = {"id": f"c{k}", "cell_type": "markdown" if kind == "markdown" else "code",
                                "metadata": {"tags": ["parameters"]} if kind == "parameters" else {},
                                "source": source}
        if cell["cell_type"] == "code":
            cell |= {"outputs": [], "execution_count": None}
        out.append(cell)
    return {"nbformat": 4, "nbformat_minor": 5, "cells": out,
            "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
                         "language_info": {"name": "python"}}}


def train_notebook(epochs: int, image_size: int) -> dict[str, Any]:
    """The training notebook of example notebook 05 (relative workspace ``ws``)."""
    return _nb([
        ("markdown", "# Train defect-clf on demo-train"),
        ("parameters", f"epochs = {epochs}\nwidth = 8\nseed = 0"),
        ("code", "import jupyter_cvops as cv\nfrom jupyter_cvops.demo.model import TrainConfig, train_defect_net, "
                 "training_data\n\nws = cv.Workspace.open(\"ws\")\n"
                 f"config = TrainConfig.for_image_size({image_size}, epochs=epochs, width=width, seed=seed)\n"
                 "pre = cv.Preprocess(config.side, resize=\"bilinear\", library=\"pil\", mean=(0.5, 0.5, 0.5), "
                 "std=(0.25, 0.25, 0.25))"),
        ("code", "def log(metrics, step):\n"
                 "    run.log_metrics({k: v for k, v in metrics.items() if k != \"epoch_s\"}, step=step)\n\n"
                 "with ws.run(\"train-defect-clf\", params=config.params()) as run:\n"
                 "    ds = run.use(\"demo-train\")\n    run.seed(seed)\n"
                 "    net, history = train_defect_net(training_data(ds, pre), config, log=log)\n"
                 "    mv = run.register_model(\"defect-clf\", net, preprocess=pre)\nrun"),
    ])


def setup_recipe(root: Path, *, n_train: int, image_size: int, epochs: int) -> tuple[Path, Path]:
    """A demo workspace, the training notebook run once (its run recorded) and exported; (recipe, notebook)."""
    import nbformat
    from nbclient import NotebookClient

    import jupyter_cvops as cv
    from jupyter_cvops.demo import build_demo

    build_demo(root / "ws", seed=0, n_train=n_train, n_production=14, image_size=image_size, progress=False)
    nb_path = root / "train.ipynb"
    nb = nbformat.from_dict(train_notebook(epochs, image_size))  # type: ignore[no-untyped-call]
    NotebookClient(nb, timeout=1800, kernel_name="python3", resources={"metadata": {"path": str(root)}}).execute(
        env={**os.environ, "JPY_SESSION_NAME": str(nb_path)}, stderr=subprocess.DEVNULL)
    nbformat.write(nb, nb_path)
    recipe = cv.export_recipe(nb_path, root / "recipe", name="bench-train", workspace=root / "ws")
    return recipe.path, nb_path


def _timed(cmd: list[str], cwd: Path) -> float:
    t0 = time.perf_counter()
    p = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)
    dt = time.perf_counter() - t0
    if p.returncode != 0:
        raise SystemExit(f"{' '.join(cmd[:3])} failed ({p.returncode}):\n{p.stdout[-2000:]}\n{p.stderr[-3000:]}")
    return dt


def overhead_parts(recipe_dir: Path) -> dict[str, float]:
    """The steps cvops adds before the kernel starts, timed in this process."""
    import warnings

    from jupyter_cvops.recipes import Recipe
    from jupyter_cvops.recipes._export import open_store
    from jupyter_cvops.recipes._inputs import resolve_inputs, verify_inputs
    from jupyter_cvops.recipes.rerun import check_environment

    out: dict[str, float] = {}
    t0 = time.perf_counter()
    r = Recipe.load(recipe_dir)
    store = open_store(r.workspace)
    out["read recipe + open workspace"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        check_environment(r, strict=False)
    out["environment diff"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    checks = verify_inputs(store, resolve_inputs(store, r), "fast")
    out[f"verify fast ({sum(c.n_checked for c in checks)} files)"] = time.perf_counter() - t0
    return out


def bench_retrain(work: Path, *, repeat: int, epochs: int, n_train: int, image_size: int) -> dict[str, Any]:
    t0 = time.perf_counter()
    recipe_dir, nb_path = setup_recipe(work, n_train=n_train, image_size=image_size, epochs=epochs)
    print(f"setup (demo workspace of {n_train} images, first run, export): {time.perf_counter() - t0:.1f} s")
    notebook = recipe_dir / nb_path.name  # the recipe's own (stripped) notebook, the same parameters
    cvops = [str(BIN / "cvops"), "retrain", str(recipe_dir), "--check"]
    times: dict[str, list[float]] = {"cvops": [], "papermill": []}
    for k in range(repeat):
        order = ["cvops", "papermill"] if k % 2 == 0 else ["papermill", "cvops"]  # alternate: load drifts
        for tool in order:
            if tool == "cvops":
                times[tool].append(_timed(cvops, work))
            else:
                out = work / "papermill" / f"out-{k}.ipynb"
                out.parent.mkdir(exist_ok=True)
                times[tool].append(_timed([str(BIN / "papermill"), str(notebook), str(out), "--cwd", str(work),
                                           "-k", "python3", "--no-progress-bar", "--log-level", "WARNING"], work))
        print(f"  round {k + 1}: cvops retrain {times['cvops'][-1]:.2f} s, papermill {times['papermill'][-1]:.2f} s",
              flush=True)
    parts = overhead_parts(recipe_dir)
    return {"times": times, "parts": parts}


def bench_verify(n: int, work: Path) -> dict[str, float]:
    sys.path.insert(0, str(HERE))
    from bench_register import make_scale_images, scale_cache  # type: ignore[import-not-found]

    from jupyter_cvops import Workspace
    from jupyter_cvops.recipes._inputs import verify_version

    root = scale_cache()
    gen = make_scale_images(root, n)
    print(f"verify images: {root} ({'generated in %.0f s' % gen if gen else 'cached'}); first {n:,}")
    files: list[str] = []
    for sub in sorted((root / "part0").iterdir()):  # 1000 per folder: list only the folders needed
        if len(files) >= n:
            break
        files += sorted(str(p) for p in sub.glob("*.png"))
    files = files[:n]
    assert len(files) == n, f"{len(files)} cached images, {n} wanted"
    ws = Workspace.create(work / "verify-ws")
    t0 = time.perf_counter()
    ws.add_images(files, progress=False)
    version = ws.snapshot(name="verify")
    print(f"  register + snapshot {n:,}: {time.perf_counter() - t0:.2f} s")
    out: dict[str, float] = {}
    for mode in ("fast", "fast", "full"):
        t0 = time.perf_counter()
        check = verify_version(ws.store, version, mode)
        dt = time.perf_counter() - t0
        assert check.ok and check.n_checked == n, check
        assert mode == "full" or check.n_hashed == 0, check  # fast: the stat cache vouches for every file
        key = mode if mode == "full" else "fast (warm)" if "fast (first)" in out else "fast (first)"
        out[key] = dt
    return out


def _med(xs: list[float]) -> str:
    return f"{statistics.median(xs):.2f} s" + (f" [{min(xs):.2f}-{max(xs):.2f}]" if len(xs) > 1 else "")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="one round, 4 epochs: validates the benchmark")
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--epochs", type=int, default=12)
    ap.add_argument("--n-train", type=int, default=300)
    ap.add_argument("--image-size", type=int, default=96)
    ap.add_argument("--n-verify", type=int, default=10_000)
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--keep", action="store_true")
    args = ap.parse_args()
    if args.quick:
        args.repeat, args.epochs, args.n_train = 1, 4, 200
    if shutil.which("papermill", path=str(BIN)) is None:
        raise SystemExit(f"papermill is not installed in {BIN}: `{sys.executable} -m pip install papermill`")
    work = Path(tempfile.mkdtemp(prefix="cvops-bench-recipes-"))
    try:
        print(f"cvops retrain vs papermill: {args.repeat} round(s), {args.epochs} epochs, {args.n_train} images "
              f"of {args.image_size} px, {os.cpu_count()} CPUs")
        r = bench_retrain(work, repeat=args.repeat, epochs=args.epochs, n_train=args.n_train,
                          image_size=args.image_size)
        v = bench_verify(args.n_verify, work)
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    cv_t, pm_t = statistics.median(r["times"]["cvops"]), statistics.median(r["times"]["papermill"])
    verify_in_run = next((t for k, t in r["parts"].items() if k.startswith("verify")), 0.0)
    over = cv_t - pm_t
    budget = 0.10 * pm_t + verify_in_run
    fast = v.get("fast (warm)", v["fast (first)"])
    print("\n== cvops retrain RECIPE --check vs papermill NOTEBOOK (same notebook, same parameters) ==")
    print(f"cvops retrain   {_med(r['times']['cvops'])}")
    print(f"papermill       {_med(r['times']['papermill'])}")
    print(f"ratio           {cv_t / pm_t:.3f}x  (overhead {over:+.2f} s = {100 * over / pm_t:+.1f}%; budget 10% + "
          f"verify = {budget:.2f} s: {'OK' if over <= budget else 'OVER'})")
    print("parts of the overhead (this process, warm):")
    for key, t in r["parts"].items():
        print(f"  {key:<34} {t:.3f} s")
    print(f"\n== data verify, {args.n_verify:,} images ==")
    for key, t in v.items():
        print(f"  {key:<14} {t:.3f} s")
    print(f"fast verify {fast:.3f} s vs target 0.5 s: {'OK' if fast <= 0.5 else 'OVER'}; "
          f"full / fast = {v['full'] / fast:.1f}x")
    if args.json:
        print(json.dumps({"retrain": r, "verify": v}, default=str))


if __name__ == "__main__":
    main()
