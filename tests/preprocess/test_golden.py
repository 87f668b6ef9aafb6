"""The golden images ship with the package, are what the generator writes, and their summaries bound the
real differences from below."""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
from PIL import Image

from jupyter_cvops.preprocess import GOLDEN_NAMES, Preprocess
from jupyter_cvops.preprocess import _golden

REPO = Path(__file__).resolve().parents[2]
FOLDER = REPO / "jupyter_cvops" / "preprocess" / "golden"


def test_shipped_golden_images_are_what_the_generator_writes(tmp_path: Path) -> None:
    _golden.make_golden(tmp_path)
    for name in GOLDEN_NAMES:
        shipped, fresh = Image.open(FOLDER / name), Image.open(tmp_path / name)
        assert (shipped.mode, shipped.size) == (fresh.mode, fresh.size)
        a, b = np.asarray(shipped, np.int16), np.asarray(fresh, np.int16)
        tol = 2 if name.endswith(".jpg") else 0  # another libjpeg may encode a little differently
        assert np.abs(a - b).max() <= tol, name
    assert Image.open(FOLDER / "exif_orientation6.jpg").getexif()[0x0112] == 6


def test_golden_images_are_package_data_tracked_by_git() -> None:
    assert list(_golden.golden_images()) == list(GOLDEN_NAMES)
    tracked = subprocess.run(["git", "ls-files", "jupyter_cvops/preprocess/golden"], cwd=REPO, capture_output=True,
                             text=True, check=True).stdout.split()
    assert sorted(Path(t).name for t in tracked) == sorted(GOLDEN_NAMES)
    ignored = subprocess.run(["git", "check-ignore", *[str(FOLDER / n) for n in GOLDEN_NAMES]], cwd=REPO,
                             capture_output=True, text=True).stdout
    assert ignored == ""  # hatch puts every non-ignored file of the package into the wheel


def test_summary_statistics_match_numpy() -> None:
    rng = np.random.default_rng(11)
    arr = rng.normal(size=(3, 37, 53)).astype(np.float32)
    s = _golden.summarize(arr, axis=0)
    np.testing.assert_allclose(s["mean"], arr.mean(axis=(1, 2)), rtol=1e-6)
    np.testing.assert_allclose(s["std"], arr.std(axis=(1, 2)), rtol=1e-5)
    np.testing.assert_allclose(s["max"], arr.max(axis=(1, 2)), rtol=1e-6)
    thumb = np.asarray(s["thumb"]).reshape(8, 8, 3)
    np.testing.assert_allclose(thumb[0, 0], arr[:, :4, :6].mean(axis=(1, 2)), rtol=1e-5)
    assert s["sha256"] == _golden.summarize(arr.copy(), axis=0)["sha256"]


def test_summary_difference_never_exceeds_the_true_difference() -> None:
    rng = np.random.default_rng(5)
    for _ in range(20):
        a = rng.normal(size=(3, 24, 30))
        b = a + rng.normal(scale=rng.uniform(0.01, 1), size=a.shape)
        full = _golden.compare_golden_outputs({"x": a}, {"x": b}, atol=1.0).rows[0]
        approx = _golden.compare_golden_outputs({"x": _golden.summarize(a, 0)}, {"x": b}, atol=1.0).rows[0]
        assert approx.max_abs_diff <= full.max_abs_diff + 1e-6 and not approx.exact


def test_golden_outputs_cover_every_image_and_are_deterministic() -> None:
    pre = Preprocess(64, crop=64)
    a, b = pre.golden_outputs(), pre.golden_outputs()
    assert list(a) == list(GOLDEN_NAMES)
    for k in a:
        np.testing.assert_array_equal(a[k], b[k])
    red = a["exif_orientation6.jpg"][0] - a["exif_orientation6.jpg"][1]  # red minus green
    assert red[2:10, 42:58].mean() > 0.5 > red[2:10, 2:20].mean()  # the top-left red block, rotated to top-right
    unrotated = Preprocess(64, crop=64, exif=False).golden_outputs()["exif_orientation6.jpg"]
    assert (unrotated[0] - unrotated[1])[6:22, 0:12].mean() > 0.5  # still top-left without EXIF
