"""Pure pixel operations of a declarative ``Preprocess``: output size, resize in three libraries, crop, pad,
colour, scaling and normalisation, layout. Arrays in, arrays out; no state.

Sizes follow torchvision exactly (shorter side: the long side is ``int(size * long / short)``; centre crop:
``int(round((h - ch) / 2))``, zero padding when the crop is larger), so the PIL path equals
``torchvision.transforms.Resize`` + ``CenterCrop`` on PIL images pixel for pixel.
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np

from ._errors import PreprocessError

Interpolation = Literal["nearest", "bilinear", "bicubic", "area", "lanczos"]
Library = Literal["pil", "opencv", "torch"]
ResizeMode = Literal["shorter", "exact", "longer-pad"]

INTERPOLATIONS: tuple[str, ...] = ("nearest", "bilinear", "bicubic", "area", "lanczos")
LIBRARIES: tuple[str, ...] = ("pil", "opencv", "torch")

PIL_NAMES = {"nearest": "NEAREST", "bilinear": "BILINEAR", "bicubic": "BICUBIC", "area": "BOX",
             "lanczos": "LANCZOS"}
CV2_NAMES = {"nearest": "INTER_NEAREST", "bilinear": "INTER_LINEAR", "bicubic": "INTER_CUBIC",
             "area": "INTER_AREA", "lanczos": "INTER_LANCZOS4"}
TORCH_NAMES = {"nearest": "NEAREST", "bilinear": "BILINEAR", "bicubic": "BICUBIC"}


def natural_antialias(library: str, interpolation: str) -> bool:
    """Whether a library's resize filters out high frequencies when shrinking (its default behaviour).

    PIL always does (its filters widen with the scale factor) except for ``nearest``; OpenCV never does
    except with ``INTER_AREA``; torchvision does by default for bilinear and bicubic.

    Examples
    --------
    >>> natural_antialias("pil", "bilinear"), natural_antialias("opencv", "bilinear")
    (True, False)
    """
    if interpolation == "nearest":
        return False
    if library == "opencv":
        return interpolation == "area"
    return True


def supported_antialias(library: str, interpolation: str) -> tuple[bool, ...]:
    """The antialias settings a library can honour for an interpolation.

    Examples
    --------
    >>> supported_antialias("torch", "bilinear")
    (True, False)
    >>> supported_antialias("opencv", "bilinear")
    (False,)
    """
    if library == "torch" and interpolation in ("bilinear", "bicubic"):
        return (True, False)
    return (natural_antialias(library, interpolation),)


def output_size(height: int, width: int, size: tuple[int, int] | int, mode: str) -> tuple[int, int]:
    """(height, width) after resizing an image of ``height`` x ``width``.

    ``"shorter"``: the shorter side becomes ``size`` (torchvision's rule: the longer one is truncated);
    ``"exact"``: ``size`` as (h, w); ``"longer-pad"``: the longer side becomes ``size`` (rounded), the rest
    is padded later.

    Examples
    --------
    >>> output_size(61, 97, 224, "shorter")
    (224, 356)
    >>> output_size(61, 97, (32, 48), "exact")
    (32, 48)
    >>> output_size(61, 97, 224, "longer-pad")
    (141, 224)
    """
    if mode == "exact":
        return (size, size) if isinstance(size, int) else (int(size[0]), int(size[1]))
    if not isinstance(size, int):
        raise PreprocessError(f"resize_mode={mode!r} needs one integer size, not {size!r}")
    if mode == "shorter":
        if width <= height:
            return int(size * height / width), size
        return size, int(size * width / height)
    if mode == "longer-pad":
        s = size / max(height, width)
        return max(1, int(round(height * s))), max(1, int(round(width * s)))
    raise PreprocessError(f"unknown resize_mode {mode!r}")


def resize(rgb: np.ndarray, hw: tuple[int, int], interpolation: str, antialias: bool,
           library: str) -> np.ndarray:
    """Resize (H, W, 3) uint8 RGB pixels to ``hw`` with one library; returns (h, w, 3) uint8.

    Examples
    --------
    >>> a = np.arange(48, dtype=np.uint8).reshape(4, 4, 3)
    >>> [resize(a, (2, 2), "bilinear", aa, lib).shape for lib, aa in [("pil", True), ("opencv", False),
    ...                                                                  ("torch", True)]]
    [(2, 2, 3), (2, 2, 3), (2, 2, 3)]
    """
    h, w = hw
    if library == "pil":
        from PIL import Image

        resample = getattr(Image.Resampling, PIL_NAMES[interpolation])
        return np.asarray(Image.fromarray(rgb).resize((w, h), resample=resample), dtype=np.uint8).copy()
    if library == "opencv":
        import cv2

        return cv2.resize(rgb, (w, h), interpolation=getattr(cv2, CV2_NAMES[interpolation]))
    if library == "torch":
        import torch
        from torchvision.transforms import InterpolationMode
        from torchvision.transforms.v2 import functional as F

        t = torch.from_numpy(np.ascontiguousarray(rgb)).permute(2, 0, 1)
        r = F.resize(t, [h, w], interpolation=getattr(InterpolationMode, TORCH_NAMES[interpolation]),
                     antialias=antialias)
        return np.ascontiguousarray(r.permute(1, 2, 0).numpy())
    raise PreprocessError(f"unknown library {library!r}")


def center_crop(arr: np.ndarray, hw: tuple[int, int]) -> np.ndarray:
    """Centre crop (H, W, C) to ``hw`` as torchvision's ``CenterCrop`` does (zero padding when larger).

    Examples
    --------
    >>> center_crop(np.arange(25).reshape(5, 5, 1), (2, 2))[:, :, 0].tolist()
    [[12, 13], [17, 18]]
    >>> center_crop(np.ones((1, 1, 1)), (3, 2))[:, :, 0].tolist()
    [[0.0, 0.0], [1.0, 0.0], [0.0, 0.0]]
    """
    ch, cw = hw
    h, w = arr.shape[:2]
    if cw > w or ch > h:
        left, top = ((cw - w) // 2 if cw > w else 0), ((ch - h) // 2 if ch > h else 0)
        right, bottom = ((cw - w + 1) // 2 if cw > w else 0), ((ch - h + 1) // 2 if ch > h else 0)
        arr = np.pad(arr, ((top, bottom), (left, right), (0, 0)))
        h, w = arr.shape[:2]
        if (h, w) == (ch, cw):
            return arr
    top = int(round((h - ch) / 2.0))
    left = int(round((w - cw) / 2.0))
    return arr[top:top + ch, left:left + cw]


def pad_to(arr: np.ndarray, side: int, value: int) -> np.ndarray:
    """Pad (H, W, C) to ``side`` x ``side`` with ``value``, the image centred (extra pixel right/bottom).

    Examples
    --------
    >>> pad_to(np.ones((1, 3, 1), np.uint8), 3, 0)[:, :, 0].tolist()
    [[0, 0, 0], [1, 1, 1], [0, 0, 0]]
    """
    h, w = arr.shape[:2]
    top, left = (side - h) // 2, (side - w) // 2
    return np.pad(arr, ((top, side - h - top), (left, side - w - left), (0, 0)), constant_values=value)


def convert_color(rgb: np.ndarray, color: str) -> np.ndarray:
    """RGB (H, W, 3) uint8 -> the output channel order: ``"RGB"``, ``"BGR"`` or ``"L"`` (H, W, 1).

    ``"L"`` uses Pillow's ITU-R 601-2 luma in the same fixed-point arithmetic, so it equals
    ``Image.convert("L")``.

    Examples
    --------
    >>> px = np.array([[[255, 0, 0]]], np.uint8)
    >>> convert_color(px, "BGR").tolist(), convert_color(px, "L").tolist()
    ([[[0, 0, 255]]], [[[76]]])
    """
    if color == "RGB":
        return rgb
    if color == "BGR":
        return np.ascontiguousarray(rgb[:, :, ::-1])
    if color == "L":
        c = rgb.astype(np.uint32)
        luma = (c[:, :, 0] * 19595 + c[:, :, 1] * 38470 + c[:, :, 2] * 7471 + 0x8000) >> 16
        return luma.astype(np.uint8)[:, :, None]
    raise PreprocessError(f"unknown color {color!r}")


def to_output(pixels: np.ndarray, *, scale: float | None, mean: tuple[float, ...] | None,
              std: tuple[float, ...] | None, dtype: str, layout: str) -> np.ndarray:
    """Scale, normalise, cast and lay out (H, W, C) uint8 pixels.

    Computed in float32 as torchvision does (``x / 255`` when ``scale`` is ``1/255``, then ``(x - mean) / std``),
    so the result equals ``ToTensor()`` + ``Normalize`` bit for bit.

    Examples
    --------
    >>> px = np.full((1, 1, 3), 255, np.uint8)
    >>> to_output(px, scale=1 / 255, mean=(0.5,) * 3, std=(0.5,) * 3, dtype="float32", layout="CHW").ravel()
    array([1., 1., 1.], dtype=float32)
    """
    if dtype == "uint8":
        x: np.ndarray = pixels
    else:
        x = pixels.astype(np.float32)
        if scale is not None:
            inverse = 1.0 / scale
            if abs(inverse - round(inverse)) < 1e-9 * inverse:
                x = x / np.float32(round(inverse))
            else:
                x = x * np.float32(scale)
        if mean is not None and std is not None:
            x = (x - np.asarray(mean, np.float32)) / np.asarray(std, np.float32)
        x = x.astype(np.dtype(dtype), copy=False)
    if layout == "CHW":
        x = x.transpose(2, 0, 1)
    return np.ascontiguousarray(x)


def describe_resize(library: str, interpolation: str, antialias: bool) -> str:
    """How a resize is done, in words (``"OpenCV INTER_LINEAR without antialias"``).

    Examples
    --------
    >>> describe_resize("pil", "bilinear", True)
    'PIL bilinear with antialias'
    """
    if library == "opencv":
        name = f"OpenCV {CV2_NAMES[interpolation]}"
    elif library == "torch":
        name = f"torchvision {interpolation}"
    else:
        name = f"PIL {interpolation}"
    return f"{name} {'with' if antialias else 'without'} antialias"


def as_hw(value: Any, what: str) -> tuple[int, int]:
    """An int or (h, w) pair -> (h, w) of positive ints.

    Examples
    --------
    >>> as_hw(224, "crop"), as_hw([32, 48], "size")
    ((224, 224), (32, 48))
    """
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        pair = (int(value), int(value))
    elif isinstance(value, (tuple, list)) and len(value) == 2 and all(
            isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in value):
        pair = (int(value[0]), int(value[1]))
    else:
        raise PreprocessError(f"{what} must be an int or an (height, width) pair of ints, not {value!r}")
    if min(pair) < 1:
        raise PreprocessError(f"{what} must be positive, not {value!r}")
    return pair
