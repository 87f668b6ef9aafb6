"""Any input (path, bytes, PIL image, numpy array) -> one 8-bit RGB array, with a pixel cap and clear errors.

Every ``Preprocess`` starts here, so training and serving decode the same way: the decoder (Pillow or
OpenCV), EXIF orientation applied or not, palette/grey/alpha images made RGB (alpha dropped, not
composited), 16-bit images scaled to 8 bits (``round(v / 257)``).
"""

from __future__ import annotations

import io
import os
import warnings
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from ..images import DEFAULT_MAX_PIXELS
from ..images._objects import read_bytes
from ._errors import ImageDecodeError, PreprocessError

if TYPE_CHECKING:
    from PIL import Image

Decoder = Literal["pil", "opencv"]
InputColor = Literal["RGB", "BGR"]


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _check_pixels(width: int, height: int, max_pixels: int | None) -> None:
    if max_pixels is not None and width * height > max_pixels:
        raise ImageDecodeError(
            f"image is {width} x {height} = {width * height / 1e6:,.1f} megapixels, over the cap of "
            f"{max_pixels / 1e6:,.1f} megapixels (a decompression bomb or a mistake); not decoded")


def _pil_to_rgb(im: Image.Image) -> np.ndarray:
    """A loaded PIL image of any mode -> (H, W, 3) uint8 RGB."""
    if im.mode == "RGB":
        return np.asarray(im, dtype=np.uint8).copy()
    if im.mode.startswith("I") or im.mode == "F":
        arr = np.asarray(im)
        if im.mode == "F":
            grey = np.rint(np.clip(arr.astype(np.float64), 0.0, 1.0) * 255.0).astype(np.uint8)
        else:
            grey = np.rint(np.clip(arr.astype(np.float64), 0, 65535) / 257.0).astype(np.uint8)
        return np.repeat(grey[..., None], 3, axis=2)
    return np.asarray(im.convert("RGB"), dtype=np.uint8).copy()


def _from_array(arr: np.ndarray, color: str) -> np.ndarray:
    if color not in ("RGB", "BGR"):
        raise PreprocessError(f"color of an input array must be 'RGB' or 'BGR', not {color!r}")
    if arr.dtype != np.uint8:
        raise ImageDecodeError(
            f"arrays must be uint8 pixels (H, W[, C]), not {arr.dtype}: scale them to 0-255 first "
            "(or pass the file path or bytes)")
    if arr.ndim == 3 and arr.shape[2] == 1:
        arr = arr[:, :, 0]
    if arr.ndim == 2:
        return np.repeat(arr[:, :, None], 3, axis=2)
    if arr.ndim != 3 or arr.shape[2] not in (3, 4):
        raise ImageDecodeError(f"array of shape {arr.shape} is no image: expected (H, W), (H, W, 3) or (H, W, 4)")
    rgb = arr[:, :, :3]
    if color == "BGR":
        rgb = rgb[:, :, ::-1]
    return np.ascontiguousarray(rgb)


def _read(x: str | os.PathLike[str]) -> bytes:
    try:
        return read_bytes(x)  # a file or an s3:// object
    except FileNotFoundError:
        raise ImageDecodeError(f"file not found: {os.fspath(x)}") from None
    except IsADirectoryError:
        raise ImageDecodeError(f"is a folder, not an image file: {os.fspath(x)}") from None
    except OSError as exc:
        raise ImageDecodeError(f"cannot read {os.fspath(x)}: {exc.strerror or exc}") from None


def _decode_bytes(data: bytes, decoder: str, exif: bool, max_pixels: int | None) -> np.ndarray:
    from PIL import Image, ImageOps, UnidentifiedImageError

    if not data:
        raise ImageDecodeError("zero-byte input: no image")
    try:
        with warnings.catch_warnings():  # the cap below is ours; Pillow's own warning is not needed
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            im = Image.open(io.BytesIO(data))
    except Image.DecompressionBombError as exc:
        raise ImageDecodeError(f"image too large to decode (decompression bomb): {_one_line(exc)}") from None
    except UnidentifiedImageError:
        im = None
        if decoder == "pil":
            raise ImageDecodeError("cannot decode image: not a recognised image format") from None
    except Exception as exc:  # Pillow raises many types for bad headers
        raise ImageDecodeError(f"cannot decode image: {_one_line(exc)}") from None
    if im is not None:
        _check_pixels(im.size[0], im.size[1], max_pixels)
    if decoder == "opencv":
        import cv2

        flags = cv2.IMREAD_COLOR | (0 if exif else cv2.IMREAD_IGNORE_ORIENTATION)
        try:
            bgr = cv2.imdecode(np.frombuffer(data, np.uint8), flags)
        except cv2.error as exc:
            raise ImageDecodeError(f"cannot decode image: {_one_line(exc)}") from None
        if bgr is None:
            raise ImageDecodeError("cannot decode image: OpenCV could not read these bytes")
        _check_pixels(bgr.shape[1], bgr.shape[0], max_pixels)
        return np.ascontiguousarray(bgr[:, :, ::-1])
    assert im is not None
    try:
        with im:
            im.load()
            if exif:
                ImageOps.exif_transpose(im, in_place=True)
            return _pil_to_rgb(im)
    except Exception as exc:  # truncated or corrupt data
        raise ImageDecodeError(f"cannot decode image: {_one_line(exc)}") from None


def to_rgb(x: Any, *, decoder: Decoder = "pil", exif: bool = True, color: InputColor = "RGB",
           max_pixels: int | None = DEFAULT_MAX_PIXELS) -> np.ndarray:
    """Decode one input to an (H, W, 3) uint8 RGB array.

    Parameters
    ----------
    x : str, os.PathLike, bytes, PIL.Image.Image or numpy.ndarray
        A file path, the encoded bytes of a file, a PIL image, or decoded uint8 pixels
        ((H, W), (H, W, 3) or (H, W, 4)).
    decoder : {"pil", "opencv"}
        Which library decodes paths and bytes (JPEG decoders differ by a few grey levels).
    exif : bool
        Apply the EXIF orientation tag (paths, bytes, PIL images; arrays carry none).
    color : {"RGB", "BGR"}
        Channel order of an input array (``cv2.imread`` gives BGR). Ignored for other inputs.
    max_pixels : int or None
        Largest width x height decoded (default: the package's cap, ``images.DEFAULT_MAX_PIXELS``).

    Raises
    ------
    ImageDecodeError
        The file is missing, empty, corrupt, too large, or the array is no 8-bit image.

    Examples
    --------
    >>> to_rgb(np.zeros((2, 3), np.uint8)).shape
    (2, 3, 3)
    >>> to_rgb(np.array([[[1, 2, 3]]], np.uint8), color="BGR").tolist()
    [[[3, 2, 1]]]
    >>> to_rgb(b"not an image")
    Traceback (most recent call last):
    ...
    jupyter_cvops.preprocess._errors.ImageDecodeError: cannot decode image: not a recognised image format
    """
    if decoder not in ("pil", "opencv"):
        raise PreprocessError(f"decode must be 'pil' or 'opencv', not {decoder!r}")
    if isinstance(x, np.ndarray):
        return _from_array(x, color)
    if isinstance(x, (bytes, bytearray, memoryview)):
        return _decode_bytes(bytes(x), decoder, exif, max_pixels)
    if isinstance(x, (str, os.PathLike)):
        return _decode_bytes(_read(x), decoder, exif, max_pixels)
    from PIL import Image, ImageOps

    if isinstance(x, Image.Image):
        _check_pixels(x.size[0], x.size[1], max_pixels)
        try:
            im = ImageOps.exif_transpose(x) if exif else x
            return _pil_to_rgb(im)
        except Exception as exc:
            raise ImageDecodeError(f"cannot decode image: {_one_line(exc)}") from None
    raise PreprocessError(
        f"cannot preprocess a {type(x).__module__}.{type(x).__qualname__}: pass a path, bytes, a PIL image "
        "or a uint8 numpy array")
