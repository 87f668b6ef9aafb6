"""Image statistics: each feature against a direct reference computation, and exact reproducibility."""

from __future__ import annotations

import math
from concurrent.futures import ThreadPoolExecutor

import cv2
import numpy as np
import pytest

from jupyter_cvops.embeddings import _image_stats as st

NAMES = st.feature_names()


def feats(img: np.ndarray, **kw: bool) -> dict[str, float]:
    return dict(zip(NAMES, st.image_stats(img, **kw).tolist(), strict=True))


@pytest.fixture(scope="module")
def natural() -> np.ndarray:
    """A textured colour image with structure at several scales (seeded)."""
    rng = np.random.default_rng(7)
    yy, xx = np.mgrid[0:192, 0:256].astype(np.float64)
    base = 120 + 60 * np.sin(xx / 9.0) * np.cos(yy / 13.0)
    img = np.stack([base, base * 0.8 + 30, 255 - base], axis=2) + rng.normal(0, 6, (192, 256, 3))
    cv2.circle(img, (80, 90), 40, (250, 40, 40), -1)
    return np.clip(img, 0, 255).astype(np.uint8)


def grating(angle_deg: float, size: int = 256, period: float = 12.0) -> np.ndarray:
    """Sinusoidal stripes whose edges run at ``angle_deg`` (counter-clockwise, as displayed)."""
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float64)
    a = math.radians(angle_deg)
    # distance across the stripes: along the normal of the edge direction (y axis up)
    u = -xx * math.sin(a) + (-yy) * math.cos(a)
    return (127.5 + 100 * np.sin(2 * math.pi * u / period)).astype(np.uint8)


def test_names_unique_and_match_vector(natural: np.ndarray) -> None:
    assert len(NAMES) == len(set(NAMES)) == 33
    assert st.image_stats(natural).shape == (33,)
    assert NAMES[:9] == ["brightness", "contrast", "sharpness", "colorfulness", "saturation", "noise",
                         "edge_density", "orient_cos2", "orient_sin2"]


def test_exactly_reproducible_across_calls_and_threads(natural: np.ndarray) -> None:
    ref = st.image_stats(natural)
    with ThreadPoolExecutor(4) as pool:
        outs = list(pool.map(lambda _: st.image_stats(natural.copy()), range(8)))
    for out in outs:
        assert out.tobytes() == ref.tobytes()


def test_pinned_values(natural: np.ndarray) -> None:
    f = feats(natural)
    # Pinned (6 decimals): a change here changes every stored imgstats vector -> bump VERSION.
    got = {k: round(f[k], 6) for k in ("brightness", "contrast", "sharpness", "colorfulness", "noise")}
    assert got == pytest.approx({"brightness": 0.481735, "contrast": 0.077898, "sharpness": 2.491622,
                                 "colorfulness": 0.380035, "noise": 0.014386}, abs=2e-6)


def test_flat_gray_image() -> None:
    f = feats(np.full((40, 50, 3), 128, np.uint8))
    assert f["brightness"] == pytest.approx(128 / 255)
    for k in ("contrast", "sharpness", "colorfulness", "saturation", "noise", "edge_density",
              "orient_cos2", "orient_sin2"):
        assert f[k] == pytest.approx(0.0, abs=1e-12), k
    assert sum(f[n] for n in NAMES if n.startswith("orient_0") or n.startswith("orient_1")) == 0
    assert all(f[n] == 0 for n in NAMES if n.startswith("hue_"))
    assert f["sat_00_25"] == 1.0 and f["val_50_75"] == 1.0


def test_brightness_contrast_against_numpy(natural: np.ndarray) -> None:
    w = st.to_working_size(natural)
    y = w[..., 0] * 0.299 + w[..., 1] * 0.587 + w[..., 2] * 0.114
    f = feats(natural)
    assert f["brightness"] == pytest.approx(y.mean() / 255, rel=1e-12)
    assert f["contrast"] == pytest.approx(y.std() / 255, rel=1e-12)
    brighter = feats(np.clip(natural.astype(int) + 40, 0, 255).astype(np.uint8))
    assert brighter["brightness"] > f["brightness"] + 0.1


def test_laplacian_variance_against_direct_convolution(natural: np.ndarray) -> None:
    y = st.luma(st.to_working_size(natural))
    p = np.pad(y, 1, mode="reflect")  # reflect == OpenCV BORDER_REFLECT_101
    lap = p[:-2, 1:-1] + p[2:, 1:-1] + p[1:-1, :-2] + p[1:-1, 2:] - 4 * p[1:-1, 1:-1]
    assert st.laplacian_variance(y) == pytest.approx(lap.var(), rel=1e-10)
    assert feats(natural)["sharpness"] == pytest.approx(math.log10(1 + lap.var()), rel=1e-10)
    blurred = cv2.GaussianBlur(natural, (0, 0), 3)
    assert feats(blurred)["sharpness"] < feats(natural)["sharpness"] - 0.5


def test_colorfulness_hasler_suesstrunk(natural: np.ndarray) -> None:
    rgb = st.to_working_size(natural).astype(np.float64)  # the paper's 0-255 formulation
    rg = rgb[..., 0] - rgb[..., 1]
    yb = 0.5 * (rgb[..., 0] + rgb[..., 1]) - rgb[..., 2]
    m = np.sqrt(rg.std() ** 2 + yb.std() ** 2) + 0.3 * np.sqrt(rg.mean() ** 2 + yb.mean() ** 2)
    assert feats(natural)["colorfulness"] == pytest.approx(m / 255, rel=1e-10)
    gray = cv2.cvtColor(cv2.cvtColor(natural, cv2.COLOR_RGB2GRAY), cv2.COLOR_GRAY2RGB)
    assert feats(gray)["colorfulness"] == pytest.approx(0.0, abs=1e-12)


def test_colorfulness_is_exact_on_large_images() -> None:
    # integer sums (no float accumulation) up to the last rounding, on an image whose squared sums pass 2**32
    from fractions import Fraction

    rng = np.random.default_rng(11)
    rgb = rng.integers(0, 256, (900, 1200, 3), dtype=np.uint8)
    rgb[:450, :, 0] = 255  # a skewed mean
    r, g, b = (rgb[..., k].astype(np.int64) for k in range(3))
    n = r.size
    rg, yb = r - g, r + g - 2 * b
    var = Fraction(n * int((rg * rg).sum()) - int(rg.sum()) ** 2, n * n * 255 ** 2) \
        + Fraction(n * int((yb * yb).sum()) - int(yb.sum()) ** 2, n * n * 510 ** 2)
    mean2 = Fraction(int(rg.sum()), n * 255) ** 2 + Fraction(int(yb.sum()), n * 510) ** 2
    assert st.colorfulness(rgb) == pytest.approx(math.sqrt(var) + 0.3 * math.sqrt(mean2), rel=1e-15)


def test_brightness_and_contrast_are_exact_on_nearly_flat_images() -> None:
    # one pixel one grey level off: the variance is ~1e-5 of a level squared, where float sums cancel
    from fractions import Fraction

    img = np.full((256, 256, 3), 200, np.uint8)
    img[7, 9] = (201, 200, 199)
    y = [Fraction(299 * int(r) + 587 * int(g) + 114 * int(b), 1000) for r, g, b in img.reshape(-1, 3).tolist()]
    n = len(y)
    mean = sum(y) / n
    var = sum((v - mean) ** 2 for v in y) / n
    f = feats(img, resize=False)
    assert f["brightness"] == pytest.approx(float(mean / 255), rel=1e-15)
    assert f["contrast"] == pytest.approx(math.sqrt(var) / 255, rel=1e-15)
    assert feats(np.full((9, 9, 3), 77, np.uint8))["contrast"] == 0.0


def test_hsv_quarters_count_every_pixel() -> None:
    rng = np.random.default_rng(12)
    rgb = rng.integers(0, 256, (300, 257, 3), dtype=np.uint8)
    hsv = cv2.cvtColor(rgb, cv2.COLOR_RGB2HSV).astype(np.int64)
    mean_s, hue, sat, val = st.hsv_histograms(rgb)
    n = rgb.shape[0] * rgb.shape[1]
    assert sat.tolist() == (np.bincount(hsv[..., 1].ravel() // 64, minlength=4) / n).tolist()
    assert val.tolist() == (np.bincount(hsv[..., 2].ravel() // 64, minlength=4) / n).tolist()
    assert mean_s == hsv[..., 1].sum() / n / 255.0


def test_noise_estimate_recovers_sigma() -> None:
    rng = np.random.default_rng(3)
    for sigma in (3.0, 10.0):
        img = np.clip(128 + rng.normal(0, sigma, (256, 256)), 0, 255).astype(np.uint8)
        assert feats(img, resize=False)["noise"] * 255 == pytest.approx(sigma, rel=0.1)
    # smooth structure is (almost) ignored: a ramp has ~no noise
    ramp = np.tile(np.linspace(0, 255, 256), (256, 1)).astype(np.uint8)
    assert feats(ramp)["noise"] * 255 < 0.5


@pytest.mark.parametrize("angle", [0, 30, 60, 90, 120, 150])
def test_dominant_orientation_of_gratings(angle: float) -> None:
    f = feats(grating(angle))
    est = math.degrees(math.atan2(f["orient_sin2"], f["orient_cos2"])) / 2 % 180
    assert min(abs(est - angle), 180 - abs(est - angle)) < 2.0
    assert math.hypot(f["orient_cos2"], f["orient_sin2"]) > 0.9  # coherent
    bins = np.array([f[n] for n in NAMES if n.startswith("orient_") and n[7:].isdigit()])
    assert bins.sum() == pytest.approx(1.0)
    centre = int(np.argmax(bins)) * 22.5
    assert min(abs(centre - angle), 180 - abs(centre - angle)) <= 11.25 + 1e-9


def test_orientation_follows_a_camera_tilt() -> None:
    # rotate content counter-clockwise by 20 degrees: the dominant orientation turns by 20
    img = grating(10)
    h, w = img.shape
    rot = cv2.warpAffine(img, cv2.getRotationMatrix2D((w / 2, h / 2), 20, 1.0), (w, h),
                         borderMode=cv2.BORDER_REFLECT_101)
    f0, f1 = feats(img), feats(rot[64:192, 64:192])
    a0 = math.degrees(math.atan2(f0["orient_sin2"], f0["orient_cos2"])) / 2
    a1 = math.degrees(math.atan2(f1["orient_sin2"], f1["orient_cos2"])) / 2
    assert a1 - a0 == pytest.approx(20, abs=2.0)


def test_edge_density() -> None:
    flat = np.full((64, 64), 90, np.uint8)
    board = (np.indices((64, 64)).sum(axis=0) // 8 % 2 * 255).astype(np.uint8)
    assert feats(flat)["edge_density"] == 0.0
    assert 0.05 < feats(board)["edge_density"] < 0.5
    assert st.edge_density(board) == np.count_nonzero(cv2.Canny(board, 50, 150, L2gradient=True)) / board.size


@pytest.mark.parametrize(("rgb", "bin_name"), [((255, 0, 0), "hue_000"), ((255, 255, 0), "hue_045"),
                                                ((0, 255, 255), "hue_180"), ((0, 0, 255), "hue_225"),
                                                ((255, 0, 255), "hue_315")])
def test_hue_bins(rgb: tuple[int, int, int], bin_name: str) -> None:
    f = feats(np.full((16, 16, 3), rgb, np.uint8))
    assert f[bin_name] == 1.0
    assert sum(f[n] for n in NAMES if n.startswith("hue_")) == 1.0
    assert f["saturation"] == 1.0 and f["sat_75_100"] == 1.0 and f["val_75_100"] == 1.0


def test_histograms_are_fractions(natural: np.ndarray) -> None:
    f = feats(natural)
    for prefix in ("sat_", "val_"):
        assert sum(f[n] for n in NAMES if n.startswith(prefix)) == pytest.approx(1.0)
    hue = sum(f[n] for n in NAMES if n.startswith("hue_"))
    assert 0 < hue <= 1.0


def test_working_size_makes_resolution_irrelevant(natural: np.ndarray) -> None:
    big = cv2.resize(natural, (512, 384), interpolation=cv2.INTER_CUBIC)
    small = cv2.resize(big, (256, 192), interpolation=cv2.INTER_AREA)
    assert st.to_working_size(big).shape == (192, 256, 3)
    assert st.image_stats(big).tobytes() == st.image_stats(small).tobytes()


def test_input_conversions() -> None:
    gray = np.full((10, 12), 100, np.uint8)
    assert np.array_equal(st.image_stats(gray), st.image_stats(np.dstack([gray] * 3)))
    rgba = np.dstack([gray] * 3 + [np.zeros_like(gray)])
    assert np.array_equal(st.image_stats(rgba), st.image_stats(gray))
    assert np.array_equal(st.as_rgb8(np.full((2, 2), 100 * 257, np.uint16)), st.as_rgb8(np.full((2, 2), 100, np.uint8)))
    assert st.as_rgb8(np.full((2, 2), 1.0))[0, 0, 0] == 255
    with pytest.raises(ValueError):
        st.image_stats(np.zeros((4, 4, 2), np.uint8))
    with pytest.raises(ValueError):
        st.image_stats(np.zeros((0, 4), np.uint8))
