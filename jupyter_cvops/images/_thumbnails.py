"""Thumbnails for the widgets: read an image file, size it down, encode it (pure, deterministic).

The same file and options give the same bytes (OpenCV's encoders are deterministic).
Pixels are read as stored: EXIF orientation is ignored, so the thumbnail's axes match
the width/height the workspace registered and the box coordinates annotators made.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import cv2
import numpy as np

__all__ = ["Thumbnail", "encode_array", "make_thumbnail"]

ThumbFormat = Literal["jpeg", "webp"]
_EXT = {"jpeg": ".jpg", "webp": ".webp"}
_QUALITY_FLAG = {"jpeg": cv2.IMWRITE_JPEG_QUALITY, "webp": cv2.IMWRITE_WEBP_QUALITY}


@dataclass(frozen=True)
class Thumbnail:
    """Encoded bytes of a sized-down image and the sizes needed to overlay boxes on it.

    Attributes
    ----------
    data
        The encoded image (JPEG or WebP).
    mime
        ``"image/jpeg"`` or ``"image/webp"``.
    width, height
        Size of the encoded image in pixels.
    source_width, source_height
        Size of the file's pixels; box coordinates in this space scale by
        ``width / source_width``.

    Examples
    --------
    >>> t = encode_array(np.zeros((40, 80, 3), np.uint8), max_side=20)
    >>> (t.width, t.height, t.source_width, t.source_height, t.mime)
    (20, 10, 80, 40, 'image/jpeg')
    >>> round(t.scale, 2)
    0.25
    """

    data: bytes
    mime: str
    width: int
    height: int
    source_width: int
    source_height: int

    @property
    def scale(self) -> float:
        """Thumbnail pixels per source pixel (1.0 when the image was small enough).

        Examples
        --------
        >>> encode_array(np.zeros((100, 400), np.uint8), max_side=200).scale
        0.5
        """
        return self.width / self.source_width if self.source_width else 1.0


def _to_bgr8(img: np.ndarray) -> np.ndarray:
    """Any array OpenCV decodes (gray, BGRA, 16-bit, float) as 8-bit BGR."""
    if img.dtype != np.uint8:
        if img.dtype == np.uint16:
            img = (img >> 8).astype(np.uint8)
        else:
            f = img.astype(np.float64)
            lo, hi = float(np.nanmin(f)), float(np.nanmax(f))
            f = (f - lo) / (hi - lo) * 255.0 if hi > lo else np.zeros_like(f)
            img = np.nan_to_num(f).round().astype(np.uint8)
    if img.ndim == 2:
        return cv2.cvtColor(img, cv2.COLOR_GRAY2BGR)
    if img.shape[2] == 1:
        return cv2.cvtColor(img[:, :, 0], cv2.COLOR_GRAY2BGR)
    if img.shape[2] == 4:
        # Composite on white: transparent regions stay readable under the box overlay.
        alpha = img[:, :, 3:4].astype(np.float32) / 255.0
        rgb = img[:, :, :3].astype(np.float32) * alpha + 255.0 * (1.0 - alpha)
        composited: np.ndarray = rgb.round().astype(np.uint8)
        return composited
    return img[:, :, :3]


def encode_array(
    img: np.ndarray, *, max_side: int = 768, format: ThumbFormat = "jpeg", quality: int = 85
) -> Thumbnail:
    """Size an image array (as OpenCV holds it: BGR, BGRA or gray) down and encode it.

    Parameters
    ----------
    img
        ``H x W``, ``H x W x 1``, ``H x W x 3`` (BGR) or ``H x W x 4`` (BGRA) array of
        any numeric dtype; 16-bit and float arrays are scaled to 8 bits.
    max_side
        Longest side of the result; smaller images keep their size (never upscaled).
    format
        ``"jpeg"`` (default) or ``"webp"``.
    quality
        Encoder quality, 1..100.

    Returns
    -------
    Thumbnail

    Examples
    --------
    >>> t = encode_array(np.full((1000, 500), 128, np.uint8), max_side=100)
    >>> (t.width, t.height), t.data[:2] == b"\\xff\\xd8"
    ((50, 100), True)
    >>> encode_array(np.zeros((8, 8, 3), np.uint8)).data == encode_array(np.zeros((8, 8, 3), np.uint8)).data
    True
    """
    if format not in _EXT:
        raise ValueError(f"format must be one of {sorted(_EXT)}, not {format!r}")
    if max_side < 1:
        raise ValueError(f"max_side must be >= 1, not {max_side}")
    if not 1 <= quality <= 100:
        raise ValueError(f"quality must be in 1..100, not {quality}")
    if img.ndim not in (2, 3) or img.shape[0] == 0 or img.shape[1] == 0:
        raise ValueError(f"not an image array: shape {img.shape}")
    bgr = _to_bgr8(img)
    h, w = bgr.shape[:2]
    scale = min(1.0, max_side / max(h, w))
    if scale < 1.0:
        size = (max(1, round(w * scale)), max(1, round(h * scale)))
        bgr = cv2.resize(bgr, size, interpolation=cv2.INTER_AREA)
    ok, buf = cv2.imencode(_EXT[format], np.ascontiguousarray(bgr), [_QUALITY_FLAG[format], int(quality)])
    if not ok:
        raise ValueError(f"OpenCV could not encode a {bgr.shape} image as {format}")
    th, tw = bgr.shape[:2]
    return Thumbnail(data=buf.tobytes(), mime=f"image/{format}", width=tw, height=th,
                     source_width=w, source_height=h)


def make_thumbnail(
    path: str | Path, *, max_side: int = 768, format: ThumbFormat = "jpeg", quality: int = 85
) -> Thumbnail:
    """Read an image file with OpenCV, size it down to ``max_side`` and encode it.

    Reads through :func:`numpy.fromfile` + :func:`cv2.imdecode` (``IMREAD_UNCHANGED``), so
    any path works (non-ASCII names included) and EXIF orientation is not applied (see
    the module notes).

    Parameters
    ----------
    path
        An image file OpenCV can decode (PNG, JPEG, TIFF, WebP, BMP, ...).
    max_side, format, quality
        As in :func:`encode_array`.

    Returns
    -------
    Thumbnail

    Raises
    ------
    FileNotFoundError
        If ``path`` is not a file.
    ValueError
        If OpenCV cannot decode it.

    Examples
    --------
    >>> import tempfile
    >>> p = Path(tempfile.mkdtemp()) / "gray.png"
    >>> _ = cv2.imwrite(str(p), np.full((300, 600), 200, np.uint8))
    >>> t = make_thumbnail(p, max_side=150)
    >>> (t.width, t.height, t.source_width, t.source_height)
    (150, 75, 600, 300)
    >>> make_thumbnail(p, max_side=150).data == t.data
    True
    """
    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"image file not found: {p}")
    raw = np.fromfile(p, dtype=np.uint8)
    img = cv2.imdecode(raw, cv2.IMREAD_UNCHANGED) if raw.size else None
    if img is None:
        raise ValueError(f"OpenCV cannot decode {p}")
    return encode_array(img, max_side=max_side, format=format, quality=quality)
