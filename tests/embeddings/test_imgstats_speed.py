"""The fast ``imgstats`` computation against the first (v1) implementation, kept here as the reference.

The statistics behind ``imgstats-v1`` were first computed feature by feature with plain numpy
(:class:`Reference` below is that code, copied unchanged but for docstrings). The package now
computes them with shared buffers, fused OpenCV reductions and float32 filters on whole numbers
(1000 x luma). Stored ``imgstats_v1`` vectors mix the computations, so every statistic must agree:

* exactly for the counting features (``edge_density``, the ``hue_*`` / ``sat_*`` / ``val_*``
  fractions, ``saturation``) and for the bin of every pixel's edge direction;
* within ``TOL = 1e-9`` (absolute) for the others, which differ by summation order only
  (observed: <= 3e-14). Stored vectors are float32 (relative resolution 6e-8), so the two
  computations give the same stored vectors up to the last bit in rare ties.
"""

from __future__ import annotations

import math
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import cv2
import numpy as np
import pytest

from jupyter_cvops.embeddings import _image_stats as st
from jupyter_cvops.embeddings import _orientation as so
from jupyter_cvops.embeddings import _stat_buffers as sb

TOL = 1e-9
"""Documented tolerance (absolute) between the fast and the reference computation."""

EXACT = {"saturation", "edge_density"} | {n for n in st.FEATURE_NAMES if n[:4] in ("hue_", "sat_", "val_")}


class Reference:
    """The original ``imgstats-v1`` implementation (numpy, one feature at a time)."""

    LUMA = np.array([0.299, 0.587, 0.114])
    IMMERKAER = np.array([[1, -2, 1], [-2, 4, -2], [1, -2, 1]], dtype=np.float64)

    @staticmethod
    def as_rgb8(image: np.ndarray) -> np.ndarray:
        a = np.asarray(image)
        if a.ndim == 3 and a.shape[2] == 1:
            a = a[:, :, 0]
        if a.dtype == np.uint16:
            a = ((a.astype(np.uint32) + 128) // 257).astype(np.uint8)
        elif a.dtype.kind == "f":
            a = np.clip(np.rint(a.astype(np.float64) * 255.0), 0, 255).astype(np.uint8)
        elif a.dtype == np.bool_:
            a = a.astype(np.uint8) * 255
        elif a.dtype != np.uint8:
            a = np.clip(a, 0, 255).astype(np.uint8)
        if a.ndim == 2:
            a = np.repeat(a[:, :, None], 3, axis=2)
        return np.ascontiguousarray(a[:, :, :3])

    @staticmethod
    def to_working_size(rgb: np.ndarray, size: int = 256) -> np.ndarray:
        h, w = rgb.shape[:2]
        scale = size / max(h, w)
        nh, nw = max(1, round(h * scale)), max(1, round(w * scale))
        if (nh, nw) == (h, w):
            return rgb
        interp = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
        return cv2.resize(rgb, (nw, nh), interpolation=interp)

    @classmethod
    def colorfulness(cls, rgb: np.ndarray) -> float:
        f = rgb.astype(np.float64) / 255.0
        rg = f[:, :, 0] - f[:, :, 1]
        yb = 0.5 * (f[:, :, 0] + f[:, :, 1]) - f[:, :, 2]
        spread = math.sqrt(float(np.var(rg)) + float(np.var(yb)))
        mean = math.sqrt(float(np.mean(rg)) ** 2 + float(np.mean(yb)) ** 2)
        return spread + 0.3 * mean

    @classmethod
    def noise_sigma(cls, y: np.ndarray) -> float:
        h, w = y.shape
        if h < 3 or w < 3:
            return 0.0
        r = cv2.filter2D(y, cv2.CV_64F, cls.IMMERKAER, borderType=cv2.BORDER_REFLECT_101)[1:-1, 1:-1]
        return float(math.sqrt(math.pi / 2) * np.abs(r).sum() / (6.0 * (w - 2) * (h - 2)))

    @staticmethod
    def orientation_bins(gx: np.ndarray, gy: np.ndarray, bins: int = 8) -> np.ndarray:
        phi = np.mod(np.arctan2(gy, gx) + math.pi / 2, math.pi)
        width = math.pi / bins
        out: np.ndarray = np.floor((phi + width / 2) / width).astype(np.int64) % bins
        return out

    @classmethod
    def orientation(cls, y: np.ndarray, bins: int = 8) -> tuple[float, float, np.ndarray]:
        gx = cv2.Sobel(y, cv2.CV_64F, 1, 0, ksize=3, borderType=cv2.BORDER_REFLECT_101)
        gy = -cv2.Sobel(y, cv2.CV_64F, 0, 1, ksize=3, borderType=cv2.BORDER_REFLECT_101)
        gxx, gyy, gxy = float(np.sum(gx * gx)), float(np.sum(gy * gy)), float(np.sum(gx * gy))
        energy = gxx + gyy
        hist = np.zeros(bins, dtype=np.float64)
        if energy <= 0.0:
            return 0.0, 0.0, hist
        cos2, sin2 = (gyy - gxx) / energy + 0.0, (-2.0 * gxy) / energy + 0.0
        mag = np.sqrt(gx * gx + gy * gy)
        idx = cls.orientation_bins(gx, gy, bins)
        weighted = np.bincount(idx.ravel(), weights=mag.ravel(), minlength=bins).astype(np.float64)
        total = float(weighted.sum())
        return cos2, sin2, weighted / total if total > 0 else weighted

    @staticmethod
    def hsv_histograms(rgb: np.ndarray) -> tuple[float, np.ndarray, np.ndarray, np.ndarray]:
        hsv = cv2.cvtColor(rgb, cv2.COLOR_RGB2HSV)
        h = hsv[:, :, 0].astype(np.int64) * 2
        s = hsv[:, :, 1].astype(np.int64)
        v = hsv[:, :, 2].astype(np.int64)
        n = float(h.size)
        chroma = (s >= round(0.15 * 255)) & (v >= round(0.15 * 255))
        hue_idx = ((h + 22) // 45) % 8
        hue = np.bincount(hue_idx[chroma], minlength=8).astype(np.float64) / n
        quarter = np.array([0, 64, 128, 192, 256])
        sat = np.histogram(s, bins=quarter)[0].astype(np.float64) / n
        val = np.histogram(v, bins=quarter)[0].astype(np.float64) / n
        return float(s.mean()) / 255.0, hue, sat, val

    @classmethod
    def image_stats(cls, image: np.ndarray, *, resize: bool = True) -> np.ndarray:
        rgb = cls.as_rgb8(image)
        if resize:
            rgb = cls.to_working_size(rgb)
        y = rgb.astype(np.float64) @ cls.LUMA
        y8 = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
        cos2, sin2, orient_hist = cls.orientation(y)
        mean_s, hue, sat, val = cls.hsv_histograms(rgb)
        lap = cv2.Laplacian(y, cv2.CV_64F, ksize=1, borderType=cv2.BORDER_REFLECT_101)
        edges = cv2.Canny(y8, 50, 150, L2gradient=True)
        scalars = [
            float(np.mean(y)) / 255.0,
            float(np.std(y)) / 255.0,
            math.log10(1.0 + float(np.var(lap))),
            cls.colorfulness(rgb),
            mean_s,
            cls.noise_sigma(y) / 255.0,
            float(np.count_nonzero(edges)) / edges.size,
            cos2,
            sin2,
        ]
        return np.concatenate([np.asarray(scalars, dtype=np.float64), orient_hist, hue, sat, val])


def assert_same(image: np.ndarray, *, resize: bool = True, label: str = "") -> None:
    got, ref = st.image_stats(image, resize=resize), Reference.image_stats(image, resize=resize)
    assert got.shape == ref.shape == (len(st.FEATURE_NAMES),)
    for name, g, r in zip(st.FEATURE_NAMES, got.tolist(), ref.tolist(), strict=True):
        if name in EXACT:
            assert g == r, f"{label}: {name} {g!r} != {r!r}"
        else:
            assert abs(g - r) <= TOL, f"{label}: {name} {g!r} vs {r!r} (|d| = {abs(g - r):.3g})"


# --------------------------------------------------------------------------- varied images
def synthetic() -> dict[str, np.ndarray]:
    """Seeded noise, gradients, gratings, shapes and edge cases of size, channels and dtype."""
    rng = np.random.default_rng(20261206)
    yy, xx = np.mgrid[0:200, 0:200].astype(np.float64)
    out: dict[str, np.ndarray] = {
        "uniform_noise": rng.integers(0, 256, (200, 200, 3), dtype=np.uint8),
        "gaussian_noise": np.clip(rng.normal(128, 30, (180, 240, 3)), 0, 255).astype(np.uint8),
        "ramp_x": np.repeat(np.tile(np.linspace(0, 255, 200), (200, 1))[:, :, None], 3, 2).astype(np.uint8),
        "ramp_y": np.tile(np.linspace(0, 255, 150)[:, None], (1, 300)).astype(np.uint8),  # grayscale 2-D
        "ramp_diag": ((xx + yy) / 398 * 255).astype(np.uint8),
        "radial": (127 + 120 * np.cos(np.hypot(xx - 100, yy - 100) / 6)).astype(np.uint8),
        "checker": (((xx // 8 + yy // 8) % 2) * 255).astype(np.uint8),
        # the largest filter responses there are (whole-number float32 filtering must stay below 2**24)
        "pixel_checker_256": np.repeat(((np.add.outer(np.arange(256), np.arange(256)) % 2) * 255)
                                       .astype(np.uint8)[:, :, None], 3, 2),
        "colour_pixel_checker_256": np.where((np.add.outer(np.arange(256), np.arange(256)) % 2)[:, :, None] == 1,
                                             np.array([255, 255, 0], np.uint8), np.array([0, 0, 255], np.uint8)),
        "flat_gray": np.full((64, 64, 3), 128, np.uint8),
        "black": np.zeros((50, 70, 3), np.uint8),
        "white_rgba": np.full((40, 40, 4), 255, np.uint8),
        "rgba_noise": rng.integers(0, 256, (120, 90, 4), dtype=np.uint8),
        "uint16": rng.integers(0, 65536, (100, 130, 3), dtype=np.uint16),
        "float01": rng.random((90, 110)),
        "bool": rng.random((60, 60)) > 0.5,
        "gray_hw1": rng.integers(0, 256, (70, 50, 1), dtype=np.uint8),
        "tiny_1x1": np.array([[[200, 10, 30]]], np.uint8),
        "tiny_2x3": rng.integers(0, 256, (2, 3, 3), dtype=np.uint8),
        "tiny_3x3": rng.integers(0, 256, (3, 3, 3), dtype=np.uint8),
        "thin_5x700": rng.integers(0, 256, (5, 700, 3), dtype=np.uint8),
        "large_1500x1100": cv2.GaussianBlur(rng.integers(0, 256, (1100, 1500, 3), dtype=np.uint8), (0, 0), 3),
    }
    for angle in (0, 11.25, 22.5, 33.75, 45, 90, 101.25, 135):  # incl. exactly on bin boundaries
        a = math.radians(angle)
        u = -xx * math.sin(a) - yy * math.cos(a)
        out[f"grating_{angle}"] = (127.5 + 100 * np.sin(2 * math.pi * u / 11.0)).astype(np.uint8)
    colours = np.zeros((200, 200, 3), np.uint8)
    for k in range(12):  # discs of saturated hues at every bin boundary and centre
        hue = np.uint8(k * 15)
        rgb = cv2.cvtColor(np.array([[[hue, 255, 255]]], np.uint8), cv2.COLOR_HSV2RGB)[0, 0]
        cv2.circle(colours, (20 + (k % 4) * 50, 30 + (k // 4) * 60), 22, tuple(int(c) for c in rgb), -1)
    out["hue_discs"] = colours
    return out


SYNTHETIC = synthetic()


@pytest.mark.parametrize("name", sorted(SYNTHETIC))
def test_synthetic_images_match_reference(name: str) -> None:
    assert_same(SYNTHETIC[name], label=name)


def real_images(shared_data: Path) -> list[Path]:
    neu = sorted((shared_data / "images" / "neu-surface-defects").glob("*.jpg"))
    big = sorted((shared_data / "formats" / "cvat-export-concretenet").rglob("*.png"))[:2]
    assert len(neu) == 30 and big
    return neu + big


def test_real_images_match_reference(shared_data: Path) -> None:
    from jupyter_cvops.embeddings._backends import read_image  # the decoder embed() uses

    for path in real_images(shared_data):
        rgb = np.asarray(read_image(str(path)))
        assert_same(rgb, label=path.name)
        assert_same(rgb[:, :, 0], label=f"{path.name} (one channel)")


def test_without_resize_matches_reference() -> None:
    img = SYNTHETIC["gaussian_noise"]
    assert_same(img, resize=False, label="resize=False")
    big = cv2.resize(SYNTHETIC["radial"], (700, 600))  # above the per-thread buffer limit
    assert big.size > sb._SCRATCH_MAX_PIXELS
    assert_same(big, resize=False, label="large, resize=False")


def test_numpy_histogram_path_for_huge_images_matches(monkeypatch: pytest.MonkeyPatch) -> None:
    # images over 2**24 pixels (calcHist counts in float32) take the numpy path: same values
    monkeypatch.setattr(st, "_CALCHIST_MAX", 0)
    for name in ("hue_discs", "uniform_noise", "flat_gray"):
        assert_same(SYNTHETIC[name], label=f"{name} (numpy histograms)")


def test_per_feature_functions_match_reference() -> None:
    rgb = st.to_working_size(SYNTHETIC["gaussian_noise"])
    y = rgb.astype(np.float64) @ Reference.LUMA
    assert np.array_equal(st.luma(rgb), y)
    assert st.colorfulness(rgb) == pytest.approx(Reference.colorfulness(rgb), abs=TOL)
    assert st.noise_sigma(y) == pytest.approx(Reference.noise_sigma(y), abs=TOL)
    lap = cv2.Laplacian(y, cv2.CV_64F, ksize=1, borderType=cv2.BORDER_REFLECT_101)
    assert st.laplacian_variance(y) == pytest.approx(float(np.var(lap)), rel=1e-12)
    c, s, h = so.orientation(y)
    rc, rs, rh = Reference.orientation(y)
    assert (c, s) == pytest.approx((rc, rs), abs=TOL) and np.allclose(h, rh, rtol=0, atol=TOL)
    got, ref = st.hsv_histograms(rgb), Reference.hsv_histograms(rgb)
    assert got[0] == ref[0] and all(np.array_equal(a, b) for a, b in zip(got[1:], ref[1:], strict=True))


# --------------------------------------------------------------------------- orientation bins
def test_orientation_bins_equal_the_arctan2_definition() -> None:
    rng = np.random.default_rng(5)
    width = math.pi / 8
    # random gradients, integer gradients (axis-aligned and diagonal ties), zeros, signed zeros,
    # and directions within 1e-12 .. 1e-3 rad of every bin boundary
    boundary = np.array([(k + 0.5) * width - math.pi / 2 for k in range(16)])
    eps = np.concatenate([-np.logspace(-12, -3, 10), np.logspace(-12, -3, 10)])
    angles = (boundary[:, None] + eps[None, :]).ravel()
    r = rng.uniform(0.01, 500, angles.size)
    gx = np.concatenate([rng.normal(0, 50, 40000), np.round(rng.normal(0, 3, 20000)),
                         np.array([0.0, -0.0, 0.0, -0.0, 5.0, -5.0]), r * np.cos(angles)])
    gy = np.concatenate([rng.normal(0, 50, 40000), np.round(rng.normal(0, 3, 20000)),
                         np.array([0.0, 0.0, -0.0, -0.0, -0.0, -0.0]), r * np.sin(angles)])
    gx, gy = gx.reshape(1, -1), gy.reshape(1, -1)
    phase_only = np.floor(cv2.phase(gx, gy) / width + 4.5).astype(np.int64) % 8
    assert np.count_nonzero(phase_only != Reference.orientation_bins(gx, gy)) > 50  # the cases are hard
    for bins in (8, 6, 12):
        ref = Reference.orientation_bins(gx, gy, bins).ravel()
        got = so._orientation_bins(gx, gy, bins, st._Fresh())
        assert np.array_equal(got, ref), bins
        # as histogram slots: 4 lanes by pixel index, each slot's bin is its number mod bins
        slots = so._orientation_bins(gx, gy, bins, st._Fresh(), lanes=True)
        lane, slot = np.divmod(slots, so._slots(bins))
        assert np.array_equal(slot % bins, ref) and np.array_equal(lane, np.arange(slots.size) % 4), bins


def test_whole_number_gradients_in_float32_give_the_same_bins() -> None:
    # image_stats hands cv2.phase float32 copies of its whole-number gradients: same bins
    rng = np.random.default_rng(6)
    gx = np.round(np.concatenate([rng.normal(0, 3, 30000), rng.normal(0, 4e5, 30000)])).reshape(1, -1)
    gy = np.round(np.concatenate([rng.normal(0, 3, 30000), rng.normal(0, 4e5, 30000)])).reshape(1, -1)
    fx, fy = gx.astype(np.float32), gy.astype(np.float32)
    assert np.array_equal(fx, gx) and np.array_equal(fy, gy)
    for bins in (8, 6):
        got = so._orientation_bins(gx, gy, bins, st._Fresh(), fx, fy)
        assert np.array_equal(got, Reference.orientation_bins(gx, gy, bins).ravel()), bins
        slots = so._orientation_bins(gx, gy, bins, st._Fresh(), fx, fy, lanes=True)
        assert np.array_equal(slots % so._slots(bins) % bins, got), bins


def test_luma_times_1000_filters_exactly_in_float32() -> None:
    # the premise of the float32 path: 1000 Y and its filters are whole numbers below 2**24
    rgb = SYNTHETIC["colour_pixel_checker_256"]
    y32 = st._luma(rgb, st._Fresh())
    y = rgb.astype(np.int64) @ np.array([299, 587, 114])
    assert y32.dtype == np.float32 and np.array_equal(y32, y)
    for f in (lambda a, d: cv2.Sobel(a, d, 1, 0, ksize=3, borderType=cv2.BORDER_REFLECT_101),
              lambda a, d: cv2.Laplacian(a, d, ksize=1, borderType=cv2.BORDER_REFLECT_101),
              lambda a, d: cv2.sepFilter2D(a, d, st._IMMERKAER_1D, st._IMMERKAER_1D,
                                           borderType=cv2.BORDER_REFLECT_101)):
        assert np.array_equal(f(y32, cv2.CV_32F), f(y.astype(np.float64), cv2.CV_64F))


def test_phase_accuracy_is_inside_the_margin() -> None:
    # exact bins rely on cv2.phase staying well inside the re-binning margin (OpenCV only
    # documents ~0.3 degree; this build measures 1.7e-4 rad): keep a 4x reserve, at all scales
    rng = np.random.default_rng(9)
    angle = rng.uniform(-math.pi, math.pi, 400000)
    r = 10.0 ** rng.uniform(-6, 4, angle.size)
    gx, gy = (r * np.cos(angle)).reshape(1, -1), (r * np.sin(angle)).reshape(1, -1)
    err = np.angle(np.exp(1j * (cv2.phase(gx, gy) - np.arctan2(gy, gx))))
    assert float(np.abs(err).max()) < so._PHASE_MARGIN / 4


# --------------------------------------------------------------------------- buffers and threads
def test_results_never_alias_the_reused_buffers() -> None:
    a, b = SYNTHETIC["gaussian_noise"], SYNTHETIC["radial"]
    va = st.image_stats(a)
    va_copy = va.copy()
    st.image_stats(b)
    assert np.array_equal(va, va_copy)
    y = st.luma(st.to_working_size(a))
    y_copy = y.copy()
    st.image_stats(a)
    assert np.array_equal(y, y_copy)


def test_shared_scratch_memory_changes_no_bit(monkeypatch: pytest.MonkeyPatch) -> None:
    # image_stats lets buffers whose contents are dead share memory (float RGB copy, gradients,
    # Laplacian, HSV, colourfulness, Canny; bin indices in the angles): the same bits as with a
    # fresh array for every intermediate, images of several shapes interleaved on one thread
    names = sorted(SYNTHETIC)
    shared = [st.image_stats(SYNTHETIC[n]) for n in names * 2]
    monkeypatch.setattr(st, "_scratch", lambda h, w: st._Fresh())
    fresh = [st.image_stats(SYNTHETIC[n]) for n in names * 2]
    assert all(a.tobytes() == b.tobytes() for a, b in zip(shared, fresh, strict=True))


def test_threads_and_changing_shapes_give_sequential_results() -> None:
    names = sorted(SYNTHETIC)
    expected = {n: st.image_stats(SYNTHETIC[n]) for n in names}
    jobs = names * 4
    with ThreadPoolExecutor(4) as pool:
        outs = list(pool.map(lambda n: (n, st.image_stats(SYNTHETIC[n])), jobs))
    for n, v in outs:
        assert v.tobytes() == expected[n].tobytes(), n


# --------------------------------------------------------------------------- embed's loading for imgstats
def test_wait_running_loads_every_item_once_in_order() -> None:
    from collections import Counter

    from jupyter_cvops.embeddings._pipeline import prefetch

    calls: Counter[int] = Counter()

    def load(x: int) -> int:
        calls[x] += 1
        time.sleep(0.0005 * (x % 4))  # uneven work, so the consumer meets running items
        return x * 10

    got = [v for batch in prefetch(list(range(120)), load, batch_size=8, num_workers=2, wait_running=True)
           for v in batch]
    assert got == [x * 10 for x in range(120)]
    assert set(calls.values()) == {1}  # nothing loaded twice


def test_opencv_single_threaded_nests_and_restores() -> None:
    before = cv2.getNumThreads()
    with sb.opencv_single_threaded():
        with sb.opencv_single_threaded():
            assert cv2.getNumThreads() == 1
        assert cv2.getNumThreads() == 1
    assert cv2.getNumThreads() == before
