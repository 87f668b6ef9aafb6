"""The five known image skews (OpenCV vs PIL antialias, BGR vs RGB, EXIF in one path only, uint8 vs float
scaling, centre crop vs resize): each changes the fingerprint, is named by ``spec_differences``, shows on the
golden images and in a replay, and is said in one sentence."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from jupyter_cvops.preprocess import (
    GOLDEN_NAMES, Preprocess, compare_golden, compare_outputs, describe_skew, skew_report, spec_differences,
)
from jupyter_cvops.preprocess import spec as spec_module

MEAN, STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
TRAIN = Preprocess(256, crop=224, mean=MEAN, std=STD)


def _fields(a: Preprocess, b: Preprocess) -> list[str]:
    return [d.field for d in spec_differences(a, b)]


def _levels(a: Preprocess, b: Preprocess, images: list[Path]) -> float:
    return compare_outputs([a(p) for p in images], [b(p) for p in images], unit=a.grey_level).mean_levels


def test_identical_pipelines_are_ok(images: list[Path]) -> None:
    twin = Preprocess(256, crop=224, mean=MEAN, std=STD)
    r = skew_report(TRAIN, twin, images=images[:3])
    assert r.ok and r.differences == [] and r.golden.ok and r.outputs is not None and r.outputs.max_levels == 0
    assert "are the same" in r.sentence


def test_opencv_without_antialias_vs_pil(images: list[Path]) -> None:
    serve = Preprocess(256, crop=224, mean=MEAN, std=STD, library="opencv")
    assert serve.fingerprint != TRAIN.fingerprint
    assert _fields(TRAIN, serve) == ["antialias", "library"]
    golden = compare_golden(TRAIN, serve)
    rows = {r.image: r for r in golden.rows}
    assert golden.differing == ["checkerboard.png"]
    assert rows["checkerboard.png"].max_abs_diff / TRAIN.grey_level > 60  # aliasing: tens of grey levels
    big = [p for p in images if min(Image.open(p).size) > 300]
    r = skew_report(TRAIN, serve, images=big)
    assert not r.ok and r.outputs is not None and r.outputs.mean_levels > 0.5
    assert r.sentence.startswith("serving resizes with OpenCV INTER_LINEAR without antialias; training resizes "
                                 "with PIL bilinear with antialias: mean |diff| ")
    assert f"on {len(big)} images" in r.sentence and "golden images differ on checkerboard.png" in r.sentence


def test_opencv_area_is_close_to_pil_when_shrinking(images: list[Path]) -> None:
    """Control: OpenCV's INTER_AREA does filter, so its difference to PIL is far smaller than INTER_LINEAR's."""
    big = images[6:8]
    linear = _levels(Preprocess(128), Preprocess(128, library="opencv"), big)
    area = _levels(Preprocess(128, resize="area"), Preprocess(128, resize="area", library="opencv"), big)
    assert area < linear / 2


def test_bgr_vs_rgb(images: list[Path]) -> None:
    serve = Preprocess(256, crop=224, mean=MEAN, std=STD, color="BGR")
    assert serve.fingerprint != TRAIN.fingerprint and _fields(TRAIN, serve) == ["color"]
    golden = compare_golden(TRAIN, serve)
    assert {"gradient_noise.png", "exif_orientation6.jpg", "rgba.png"} <= set(golden.differing)
    assert _levels(TRAIN, serve, images[:4]) > 10
    assert describe_skew(TRAIN, serve).startswith("serving feeds BGR; training feeds RGB")


def test_bgr_array_from_cv2_imread_needs_color_bgr(images: list[Path]) -> None:
    p = images[0]
    bgr = cv2.imread(str(p))
    np.testing.assert_array_equal(TRAIN(bgr, color="BGR"), TRAIN(p))
    wrong = compare_outputs([TRAIN(p)], [TRAIN(bgr)], unit=TRAIN.grey_level)  # the classic mistake
    assert wrong.mean_levels > 10


def test_exif_applied_in_one_path_only() -> None:
    serve = Preprocess(256, crop=224, mean=MEAN, std=STD, exif=False)
    assert _fields(TRAIN, serve) == ["exif"]
    golden = compare_golden(TRAIN, serve)
    assert golden.differing == ["exif_orientation6.jpg"]  # every other golden image is bit-identical
    assert all(r.status == "identical" for r in golden.rows if r.image != "exif_orientation6.jpg")
    assert "serving ignores the EXIF orientation; training applies the EXIF orientation" in describe_skew(TRAIN, serve)


def test_uint8_vs_float_scaling(images: list[Path]) -> None:
    serve = Preprocess(256, crop=224, mean=(123.675, 116.28, 103.53), std=STD, scale=None)
    assert _fields(TRAIN, serve) == ["scale", "mean"]
    assert set(compare_golden(TRAIN, serve).differing) == set(GOLDEN_NAMES)
    assert _levels(TRAIN, serve, images[:2]) > 100
    text = describe_skew(TRAIN, serve)
    assert "serving keeps 0-255 values, normalizes with mean (124, 116, 104)" in text
    assert "training scales by 1/255" in text


def test_center_crop_vs_resize(images: list[Path]) -> None:
    serve = Preprocess((224, 224), mean=MEAN, std=STD)
    assert set(_fields(TRAIN, serve)) == {"size", "resize_mode", "crop"}
    golden = compare_golden(TRAIN, serve)
    assert "gradient_noise.png" in golden.differing and "checkerboard.png" in golden.differing
    non_square = [p for p in images if len(set(Image.open(p).size)) == 2]
    assert _levels(TRAIN, serve, non_square) > 5
    text = describe_skew(TRAIN, serve)
    assert "serving resizes to 224x224 with PIL bilinear with antialias, does not crop" in text
    assert "training resizes the shorter side to 256 with PIL bilinear with antialias, center-crops 224x224" in text


def test_library_upgrade_that_changes_resize_is_caught_by_golden_outputs(monkeypatch: pytest.MonkeyPatch) -> None:
    """Same spec, a new library version: the fingerprint says which library changed, and the golden outputs
    say whether its results changed (here a simulated release whose bilinear became bicubic)."""
    record = TRAIN.to_record()
    real_versions, real_resize = spec_module.library_versions, spec_module._ops.resize

    def upgraded(names: list[str]) -> dict[str, str]:
        return {k: ("99.0" if k == "pillow" else v) for k, v in real_versions(names).items()}

    monkeypatch.setattr(spec_module, "library_versions", upgraded)
    same_results = Preprocess(256, crop=224, mean=MEAN, std=STD)
    r = skew_report(record, same_results)
    assert r.ok and [d.field for d in r.differences] == ["versions.pillow"]
    assert "computes with pillow 99.0" in r.sentence and "still agree" in r.sentence

    monkeypatch.setattr(spec_module._ops, "resize",
                        lambda rgb, hw, interp, aa, lib: real_resize(rgb, hw, "bicubic", aa, lib))
    changed = Preprocess(256, crop=224, mean=MEAN, std=STD)
    r = skew_report(record, changed)
    assert not r.ok and r.golden.differing and [d.field for d in r.differences] == ["versions.pillow"]


def test_golden_tolerance_passes_one_grey_level_and_catches_two() -> None:
    rng = np.random.default_rng(3)
    base = TRAIN.golden_outputs()
    unit = TRAIN.grey_level
    assert unit is not None
    std = np.asarray(STD, np.float32)[:, None, None]
    one = {k: v + rng.integers(-1, 2, v.shape) / 255 / std for k, v in base.items()}  # another CPU's rounding
    two = {k: v + (np.arange(v.size).reshape(v.shape) % 97 == 0) * 2 / 255 / std for k, v in base.items()}
    assert compare_golden(base, one).ok
    assert not compare_golden(base, two).ok
    summary = TRAIN.golden_summary()  # the stored form: summaries bound the difference from below
    assert compare_golden(summary, base).ok and all(r.status == "identical" for r in compare_golden(summary, base).rows)
    assert compare_golden(summary, one).ok
    shifted = {k: v + 3 / 255 / std for k, v in base.items()}
    assert not compare_golden(summary, shifted).ok


def test_compare_outputs_reports_shape_mismatches() -> None:
    c = compare_outputs([np.zeros((3, 4, 4)), np.zeros((3, 4, 4))], [np.ones((3, 4, 4)), np.zeros((3, 5, 4))])
    assert c.n == 2 and c.shape_mismatches == 1 and c.max_levels == 1.0
    assert "1 with outputs of different shapes" in c.sentence()
    with pytest.raises(ValueError, match="same images"):
        compare_outputs([np.zeros(1)], [])


def test_wrapped_pipelines_name_the_step_that_differs() -> None:
    import open_clip

    a = Preprocess.wrap(open_clip.image_transform(224, is_train=False))
    b = Preprocess.wrap(open_clip.image_transform(256, is_train=False))
    assert describe_skew(a, b) == ("serving runs Resize size=256, CenterCrop size=[256, 256]; "
                                   "training runs Resize size=224, CenterCrop size=[224, 224]")
    assert describe_skew(TRAIN, a).startswith("serving wraps an open_clip transform; training uses a declarative")
    r = skew_report(a, b)
    assert not r.ok and set(r.golden.differing) == set(GOLDEN_NAMES)  # 224 vs 256 outputs: shapes differ


def test_grey_levels_versus_output_units() -> None:
    raw = compare_outputs([np.zeros((2, 2))], [np.full((2, 2), 3.0)])
    assert raw.unit is None and "3 (output units)" in raw.sentence()
    u8 = Preprocess(8, dtype="uint8", scale=None)
    assert u8.grey_level == 1.0
    levels = compare_outputs([np.zeros((2, 2))], [np.full((2, 2), 3.0)], unit=u8.grey_level)
    assert "mean |diff| 3 grey levels on 1 image (max 3)" == levels.sentence()
