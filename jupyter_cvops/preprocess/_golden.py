"""Golden images shipped in the package, compact summaries of a pipeline's outputs on them, and the
comparison within a tolerance that catches a library whose resize changed while the spec did not.

The images are small and deterministic (``python -m jupyter_cvops.preprocess._golden`` rewrites them from a
seed); each one catches one kind of difference:

================================  =====================================================================
``gradient_noise.png`` 97 x 61    odd sizes and noise: rounding of sizes and of interpolation
``exif_orientation6.jpg`` 64 x 40 EXIF orientation 6 (shown 40 x 64): rotation applied in one path only
``grey.png`` 53 x 71 (L)          grey input made RGB
``rgba.png`` 45 x 45 (RGBA)       alpha dropped or composited
``checkerboard.png`` 400 x 300    1-pixel checkerboard: resize without antialias aliases
================================  =====================================================================
"""

from __future__ import annotations

import functools
import hashlib
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

GOLDEN_NAMES = ("gradient_noise.png", "exif_orientation6.jpg", "grey.png", "rgba.png", "checkerboard.png")
_THUMB = 8


def make_golden(folder: str | Path) -> list[Path]:
    """Write the golden images into ``folder`` (deterministic: seed 0) and return their paths.

    Examples
    --------
    >>> import tempfile
    >>> [p.name for p in make_golden(tempfile.mkdtemp())] == list(GOLDEN_NAMES)
    True
    """
    from PIL import Image

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    y, x = np.mgrid[0:61, 0:97]
    grad = np.stack([x * 255 // 96, y * 255 // 60, rng.integers(0, 256, (61, 97))], axis=2).astype(np.uint8)
    grad[2:9, 2:14] = (255, 255, 0)  # an asymmetric marker near the top-left corner
    Image.fromarray(grad).save(folder / GOLDEN_NAMES[0], optimize=False)

    y, x = np.mgrid[0:40, 0:64]
    photo = np.stack([x * 4, y * 6, 255 - x * 2], axis=2).astype(np.uint8)
    photo[3:15, 3:20] = (230, 20, 20)  # red block top-left: where it lands tells the rotation
    im = Image.fromarray(photo)
    exif = im.getexif()
    exif[0x0112] = 6  # orientation: rotate 90 degrees clockwise to display
    im.save(folder / GOLDEN_NAMES[1], format="JPEG", quality=92, exif=exif.tobytes())

    y, x = np.mgrid[0:71, 0:53]
    radial = np.hypot(x - 20.0, y - 30.0)
    Image.fromarray((np.cos(radial / 3.0) * 120 + 128).astype(np.uint8), mode="L").save(folder / GOLDEN_NAMES[2])

    y, x = np.mgrid[0:45, 0:45]
    rgba = np.stack([x * 5, 255 - y * 5, (x + y) * 2, x * 255 // 44], axis=2).astype(np.uint8)
    Image.fromarray(rgba, mode="RGBA").save(folder / GOLDEN_NAMES[3])

    y, x = np.mgrid[0:300, 0:400]
    checker = (((x + y) % 2) * 255).astype(np.uint8)
    checker_rgb = np.stack([checker, checker, checker], axis=2)
    checker_rgb[:, 300:, 0] = ((x[:, 300:] // 2) % 2 * 255).astype(np.uint8)  # 2-pixel stripes in red
    Image.fromarray(checker_rgb).save(folder / GOLDEN_NAMES[4])
    return [folder / n for n in GOLDEN_NAMES]


@functools.lru_cache(maxsize=1)
def golden_images() -> dict[str, bytes]:
    """The shipped golden images: ``{file name: encoded bytes}`` (read once per process).

    Examples
    --------
    >>> list(golden_images()) == list(GOLDEN_NAMES)
    True
    """
    root = resources.files(__package__ or "jupyter_cvops.preprocess") / "golden"
    return {name: (root / name).read_bytes() for name in GOLDEN_NAMES}


def _bins(n: int) -> np.ndarray:
    k = min(_THUMB, n)
    return np.linspace(0, n, k + 1).astype(np.int64)[:-1]


def channel_axis(shape: tuple[int, ...], layout: str | None = None) -> int | None:
    """Which axis of an output holds the channels: from the layout, else guessed (a side of 1, 3 or 4).

    Examples
    --------
    >>> channel_axis((3, 224, 224)), channel_axis((224, 224, 3)), channel_axis((224, 224, 3), "CHW")
    (0, 2, 0)
    """
    if len(shape) != 3:
        return None
    if layout in ("CHW", "HWC"):
        return 0 if layout == "CHW" else 2
    return 0 if shape[0] in (1, 3, 4) and shape[2] not in (1, 3, 4) else 2


def _hwc(arr: np.ndarray, axis: int | None) -> np.ndarray:
    a = np.asarray(arr, dtype=np.float64)
    if a.ndim == 2:
        return a[:, :, None]
    if a.ndim == 3 and axis is not None:
        return np.moveaxis(a, axis, 2)
    return a.reshape(1, -1, 1)


def _round(values: np.ndarray) -> list[Any]:
    return [float(f"{v:.7g}") for v in np.asarray(values, dtype=np.float64).ravel()]


def summarize(arr: np.ndarray, axis: int | None = None) -> dict[str, Any]:
    """A compact, JSON-able summary of one output: shape, dtype, SHA-256 of the bytes, per-channel
    min/max/mean/std and an 8 x 8 area-averaged thumbnail per channel.

    Every statistic moves by at most the largest pixel difference, so comparing summaries gives a lower
    bound of the true difference (and the hash says whether the outputs are bit-identical).

    Examples
    --------
    >>> s = summarize(np.zeros((3, 16, 16), np.float32), axis=0)
    >>> s["shape"], s["mean"], len(s["thumb"])
    ([3, 16, 16], [0.0, 0.0, 0.0], 192)
    """
    a = np.ascontiguousarray(arr)
    hwc = _hwc(a, axis)
    flat = hwc.reshape(-1, hwc.shape[2])
    thumb = np.add.reduceat(np.add.reduceat(hwc, _bins(hwc.shape[0]), axis=0), _bins(hwc.shape[1]), axis=1)
    counts = np.outer(np.diff(np.append(_bins(hwc.shape[0]), hwc.shape[0])),
                      np.diff(np.append(_bins(hwc.shape[1]), hwc.shape[1])))
    return {
        "shape": list(a.shape), "dtype": str(a.dtype), "channel_axis": axis,
        "sha256": hashlib.sha256(a.tobytes()).hexdigest(),
        "min": _round(flat.min(axis=0)), "max": _round(flat.max(axis=0)),
        "mean": _round(flat.mean(axis=0)), "std": _round(flat.std(axis=0)),
        "thumb": _round(thumb / counts[:, :, None]),
    }


@dataclass(frozen=True)
class GoldenRow:
    """One golden image compared: ``status`` is ``"identical"``, ``"within tolerance"``, ``"differs"``,
    ``"shape differs"`` or ``"missing"``; differences are in output units (lower bounds when ``exact`` is
    False, i.e. when one side was only a stored summary)."""

    image: str
    status: str
    max_abs_diff: float
    mean_abs_diff: float
    exact: bool
    note: str = ""


@dataclass(frozen=True)
class GoldenComparison:
    """The golden outputs of two pipelines compared image by image (see :func:`compare_golden`)."""

    rows: tuple[GoldenRow, ...]
    atol: float

    @property
    def ok(self) -> bool:
        """Every image identical or within tolerance."""
        return all(r.status in ("identical", "within tolerance") for r in self.rows)

    @property
    def differing(self) -> list[str]:
        """Names of the images outside the tolerance (or of another shape, or missing)."""
        return [r.image for r in self.rows if r.status not in ("identical", "within tolerance")]

    def __repr__(self) -> str:
        lines = [f"GoldenComparison({'ok' if self.ok else 'DIFFERS'}, atol={self.atol:.4g})"]
        for r in self.rows:
            lines.append(f"  {r.image:<24} {r.status:<17} max |diff| {r.max_abs_diff:.4g}, "
                         f"mean {r.mean_abs_diff:.4g}{'' if r.exact else ' (from summaries)'}"
                         f"{'  ' + r.note if r.note else ''}")
        return "\n".join(lines)


Golden = Mapping[str, Any]


def _summary_diff(a: Mapping[str, Any], b: Mapping[str, Any]) -> tuple[float, float]:
    diffs = [np.abs(np.asarray(a[k], np.float64) - np.asarray(b[k], np.float64)) for k in
             ("min", "max", "mean", "std", "thumb")]
    return max(float(d.max()) for d in diffs), float(diffs[-1].mean())


def default_atol(golden: Golden) -> float:
    """1.5 grey levels in output units: 1.5 x (largest minus smallest output value) / 255, so one grey level
    of rounding (another CPU's SIMD resize path) passes and two do not.

    Examples
    --------
    >>> default_atol({"a": np.array([0.0, 255.0])})
    1.5
    """
    lo, hi = np.inf, -np.inf
    for v in golden.values():
        if isinstance(v, np.ndarray):
            if v.size:
                lo, hi = min(lo, float(v.min())), max(hi, float(v.max()))
        else:
            lo, hi = min(lo, min(v["min"])), max(hi, max(v["max"]))
    return 1.5 * (hi - lo) / 255.0 if np.isfinite(hi - lo) and hi > lo else 1e-6


def compare_golden_outputs(a: Golden, b: Golden, *, atol: float | None = None) -> GoldenComparison:
    """Compare two sets of golden outputs (full arrays, or summaries from :func:`summarize`).

    Examples
    --------
    >>> x = {"a.png": np.zeros((2, 2, 3), np.float32)}
    >>> compare_golden_outputs(x, {"a.png": x["a.png"] + 0.5}, atol=0.1).differing
    ['a.png']
    """
    tol = default_atol(a) if atol is None else float(atol)
    rows = []
    for name in dict.fromkeys([*a, *b]):
        if name not in a or name not in b:
            rows.append(GoldenRow(name, "missing", float("nan"), float("nan"), True,
                                  f"only in {'the first' if name in a else 'the second'}"))
            continue
        x, y = a[name], b[name]
        if isinstance(x, np.ndarray) and isinstance(y, np.ndarray):
            if x.shape != y.shape:
                rows.append(GoldenRow(name, "shape differs", float("inf"), float("inf"), True,
                                      f"{tuple(x.shape)} vs {tuple(y.shape)}"))
                continue
            d = np.abs(x.astype(np.float64) - y.astype(np.float64))
            mx, exact, same = float(d.max(initial=0.0)), True, not bool(np.any(d)) and x.dtype == y.dtype
            mean = float(d.mean()) if d.size else 0.0
        else:
            sx = x if not isinstance(x, np.ndarray) else summarize(x, y["channel_axis"])
            sy = y if not isinstance(y, np.ndarray) else summarize(y, x["channel_axis"])
            if list(sx["shape"]) != list(sy["shape"]):
                rows.append(GoldenRow(name, "shape differs", float("inf"), float("inf"), False,
                                      f"{tuple(sx['shape'])} vs {tuple(sy['shape'])}"))
                continue
            (mx, mean), exact = _summary_diff(sx, sy), False
            same = sx["sha256"] == sy["sha256"] and sx["dtype"] == sy["dtype"]
        status = "identical" if same else ("within tolerance" if mx <= tol else "differs")
        rows.append(GoldenRow(name, status, mx, mean, exact))
    return GoldenComparison(tuple(rows), tol)


if __name__ == "__main__":  # python -m jupyter_cvops.preprocess._golden [FOLDER]
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).with_name("golden")
    for p in make_golden(target):
        print(p, p.stat().st_size, "bytes")
