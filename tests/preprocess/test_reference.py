"""Each path of a declarative ``Preprocess`` equals its reference library: PIL (through torchvision v1 on PIL
images), OpenCV (``cv2.imread`` + ``cv2.resize``), torchvision v2 on tensors, torchvision's ``ToTensor`` +
``Normalize``, Pillow's grey conversion and EXIF transpose."""

from __future__ import annotations

import io
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from PIL import Image, ImageOps
from torchvision import transforms as T
from torchvision.transforms import v2

from jupyter_cvops.preprocess import Preprocess

MEAN, STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
PIL_MODES = {"nearest": T.InterpolationMode.NEAREST, "bilinear": T.InterpolationMode.BILINEAR,
             "bicubic": T.InterpolationMode.BICUBIC, "lanczos": T.InterpolationMode.LANCZOS}


@pytest.mark.parametrize("interp", sorted(PIL_MODES))
def test_pil_path_equals_torchvision_v1_on_pil_images(images: list[Path], interp: str) -> None:
    pre = Preprocess(256, resize=interp, crop=224, dtype="uint8", scale=None, layout="HWC")
    ref = T.Compose([T.Resize(256, interpolation=PIL_MODES[interp]), T.CenterCrop(224)])
    for p in images:
        expected = np.asarray(ref(Image.open(p).convert("RGB")))
        np.testing.assert_array_equal(pre(p), expected, err_msg=f"{p.name} {interp}")


def test_pil_exact_size_equals_pil_resize(images: list[Path]) -> None:
    pre = Preprocess((97, 61), resize="bicubic", dtype="uint8", scale=None, layout="HWC")
    for p in images:
        expected = np.asarray(Image.open(p).convert("RGB").resize((61, 97), Image.Resampling.BICUBIC))
        np.testing.assert_array_equal(pre(p), expected)


def test_normalized_output_equals_totensor_normalize_bit_for_bit(images: list[Path]) -> None:
    pre = Preprocess(256, resize="bicubic", crop=224, mean=MEAN, std=STD)
    ref = T.Compose([T.Resize(256, interpolation=T.InterpolationMode.BICUBIC), T.CenterCrop(224), T.ToTensor(),
                     T.Normalize(MEAN, STD)])
    for p in images:
        out = pre(p)
        assert out.dtype == np.float32 and out.shape == (3, 224, 224)
        np.testing.assert_array_equal(out, ref(Image.open(p).convert("RGB")).numpy())


@pytest.mark.parametrize("interp,flag", [("bilinear", cv2.INTER_LINEAR), ("bicubic", cv2.INTER_CUBIC),
                                         ("area", cv2.INTER_AREA), ("nearest", cv2.INTER_NEAREST),
                                         ("lanczos", cv2.INTER_LANCZOS4)])
def test_opencv_path_equals_cv2_resize(images: list[Path], interp: str, flag: int) -> None:
    pre = Preprocess((160, 192), resize=interp, library="opencv", decode="opencv", color="BGR", dtype="uint8",
                     scale=None, layout="HWC")
    for p in images:
        expected = cv2.resize(cv2.imread(str(p)), (192, 160), interpolation=flag)
        np.testing.assert_array_equal(pre(p), expected)


def test_opencv_shorter_side_uses_torchvision_rounding(images: list[Path]) -> None:
    pre = Preprocess(224, library="opencv", dtype="uint8", scale=None, layout="HWC")
    for p in images:
        rgb = np.asarray(Image.open(p).convert("RGB"))
        h, w = rgb.shape[:2]
        expected_hw = v2.functional.resize(torch.zeros(1, h, w), [224]).shape[1:]
        out = pre(p)
        assert out.shape[:2] == tuple(expected_hw)
        np.testing.assert_array_equal(out, cv2.resize(rgb, (out.shape[1], out.shape[0]),
                                                      interpolation=cv2.INTER_LINEAR))


@pytest.mark.parametrize("antialias", [True, False])
@pytest.mark.parametrize("interp", ["bilinear", "bicubic"])
def test_torch_path_equals_torchvision_v2_on_tensors(images: list[Path], antialias: bool, interp: str) -> None:
    pre = Preprocess(256, resize=interp, antialias=antialias, library="torch", crop=224, mean=MEAN, std=STD)
    mode = T.InterpolationMode.BILINEAR if interp == "bilinear" else T.InterpolationMode.BICUBIC
    ref = v2.Compose([v2.ToImage(), v2.Resize(256, interpolation=mode, antialias=antialias), v2.CenterCrop(224),
                      v2.ToDtype(torch.float32, scale=True), v2.Normalize(MEAN, STD)])
    for p in images:
        expected = ref(Image.open(p).convert("RGB")).numpy()
        np.testing.assert_allclose(pre(p), expected, rtol=0, atol=1e-6)


def test_grey_output_equals_pillow_convert_l(images: list[Path]) -> None:
    pre = Preprocess(100, color="L", dtype="uint8", scale=None, layout="HWC")
    for p in images:
        expected = np.asarray(T.Resize(100)(Image.open(p).convert("RGB")).convert("L"))
        np.testing.assert_array_equal(pre(p)[:, :, 0], expected)


def test_center_crop_larger_than_image_pads_like_torchvision(images: list[Path]) -> None:
    pre = Preprocess(None, crop=(70, 120), dtype="uint8", scale=None, layout="HWC")
    small = images[5]  # 33 x 41
    expected = np.asarray(T.CenterCrop((70, 120))(Image.open(small).convert("RGB")))
    np.testing.assert_array_equal(pre(small), expected)


def test_longer_pad_letterboxes(images: list[Path]) -> None:
    pre = Preprocess(128, resize_mode="longer-pad", pad=114, dtype="uint8", scale=None, layout="HWC")
    p = images[1]  # 300 x 451 (h x w)
    out = pre(p)
    assert out.shape == (128, 128, 3)
    nh = round(300 * 128 / 451)
    top = (128 - nh) // 2
    resized = np.asarray(Image.open(p).convert("RGB").resize((128, nh), Image.Resampling.BILINEAR))
    np.testing.assert_array_equal(out[top:top + nh], resized)
    assert (out[:top] == 114).all() and (out[top + nh:] == 114).all()


def _exif_jpeg(orientation: int) -> bytes:
    rgb = np.zeros((40, 64, 3), np.uint8)
    rgb[3:15, 3:20] = (230, 20, 20)
    im = Image.fromarray(rgb)
    exif = im.getexif()
    exif[0x0112] = orientation
    buf = io.BytesIO()
    im.save(buf, format="JPEG", quality=95, exif=exif.tobytes())
    return buf.getvalue()


@pytest.mark.parametrize("orientation", [3, 6, 8])
def test_exif_orientation_equals_pillow_and_opencv(tmp_path: Path, orientation: int) -> None:
    data = _exif_jpeg(orientation)
    (tmp_path / "x.jpg").write_bytes(data)
    kw = dict(dtype="uint8", scale=None, layout="HWC")
    pil_ref = np.asarray(ImageOps.exif_transpose(Image.open(io.BytesIO(data))).convert("RGB"))
    np.testing.assert_array_equal(Preprocess(None, **kw)(data), pil_ref)  # type: ignore[arg-type]
    np.testing.assert_array_equal(Preprocess(None, exif=False, **kw)(data),  # type: ignore[arg-type]
                                  np.asarray(Image.open(io.BytesIO(data)).convert("RGB")))
    cv_ref = cv2.imread(str(tmp_path / "x.jpg"))[:, :, ::-1]  # OpenCV applies the orientation by default
    np.testing.assert_array_equal(Preprocess(None, decode="opencv", **kw)(data), cv_ref)  # type: ignore[arg-type]
    assert Preprocess(None, **kw)(data).shape[:2] == ((40, 64) if orientation == 3 else (64, 40))  # type: ignore[arg-type]


def test_sixteen_bit_png_scaled_by_257(tmp_path: Path) -> None:
    arr = (np.arange(256 * 4, dtype=np.uint32).reshape(16, 64) * 64).astype(np.uint16)
    p = tmp_path / "g16.png"
    assert cv2.imwrite(str(p), arr)
    out = Preprocess(None, dtype="uint8", scale=None, layout="HWC")(p)
    np.testing.assert_array_equal(out[:, :, 0], np.rint(arr / 257.0).astype(np.uint8))
    assert (out[:, :, 0] == out[:, :, 2]).all()
