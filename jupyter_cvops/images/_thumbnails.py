"""Thumbnails for the widgets: read an image file, size it down, encode it (pure, deterministic).

The same file and options give the same bytes (OpenCV's encoders are deterministic).
Pixels are read as stored: EXIF orientation is ignored, so the thumbnail's axes match
the width/height the workspace registered and the box coordinates annotators made.
"""

from __future__ import annotations

import io
import struct
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path
from typing import Any, BinaryIO, Literal

import cv2
import numpy as np
from PIL import Image

from ._hashing import FileChangedError
from ._objects import is_uri, open_any, read_and_hash_any, stat_any
from ._probe import _PNG_SIG, _open_lazy
from .scan import DEFAULT_MAX_PIXELS

__all__ = ["DECODE_BUDGET", "Thumbnail", "encode_array", "make_thumbnail"]

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
    placeholder
        None for a real thumbnail; for a placeholder tile (file changed, missing, too
        large to preview) the short reason drawn on it.

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
    placeholder: str | None = None

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


PLACEHOLDER_CHANGED = "file changed since registration"
PLACEHOLDER_MISSING = "file missing"

DECODE_BUDGET = 64 << 20
"""Largest decoded size (width x height x bands x bytes per sample) decoded whole, as before;
larger images are decoded reduced (JPEG), in row strips (PNG) or shown as a placeholder."""

_STRIP_BYTES = 8 << 20  # filtered PNG rows decoded at once in the strip path
_IDAT_PIECE = 1 << 20


def _placeholder(reason: str, *, max_side: int, format: ThumbFormat, quality: int,
                 source: tuple[int, int] | None = None) -> Thumbnail:
    """A gray tile carrying ``reason`` (aspect of ``source`` = (width, height) when known)."""
    side = max(16, min(max_side, 320))
    if source and source[0] > 0 and source[1] > 0:
        s = side / max(source)
        tw, th = max(1, round(source[0] * s)), max(1, round(source[1] * s))
    else:
        tw = th = side
    tile = np.full((th, tw, 3), 224, np.uint8)
    cv2.rectangle(tile, (0, 0), (tw - 1, th - 1), (160, 160, 160), 1)
    font, scale = cv2.FONT_HERSHEY_SIMPLEX, max(0.3, tw / 640)
    lines: list[str] = []
    for word in reason.split():
        trial = f"{lines[-1]} {word}" if lines else word
        if lines and cv2.getTextSize(trial, font, scale, 1)[0][0] <= tw - 8:
            lines[-1] = trial
        else:
            lines.append(word)
    step = cv2.getTextSize("Ag", font, scale, 1)[0][1] * 2
    y = max(step, (th - step * (len(lines) - 1)) // 2)
    for line in lines:
        cv2.putText(tile, line, (4, y), font, scale, (64, 64, 64), 1, cv2.LINE_AA)
        y += step
    t = encode_array(tile, max_side=max(tw, th), format=format, quality=quality)
    sw, sh = source if source else (tw, th)
    return replace(t, source_width=sw, source_height=sh, placeholder=reason)


def _header(fp: BinaryIO) -> tuple[str, int, int, int, int, dict[str, Any]]:
    """(format, width, height, bands, bytes per sample, info) from the header alone."""
    im, problem = _open_lazy(fp)
    if im is None:
        raise ValueError(str(problem.get("reason", "not an image")))
    with im:
        fmt, (w, h), mode = str(im.format), im.size, im.mode
        info = dict(im.info)
        bands = 4 if mode in ("P", "PA", "LA") else Image.getmodebands(mode)
        depth = 4 if mode in ("I", "F") else 2 if mode.startswith("I;16") else 1
        if fmt == "PNG" and isinstance(fp, io.BytesIO):
            ihdr = fp.getbuffer()[24:26].tobytes()
            depth = 2 if ihdr[:1] == b"\x10" else depth
        elif fmt == "PNG":
            fp.seek(24)
            depth = 2 if fp.read(1) == b"\x10" else depth
    return fmt, w, h, bands, depth, info


def _png_chunks(fp: BinaryIO) -> Iterator[tuple[bytes, bytes]]:
    """(type, data) of a PNG's chunks, IDAT data in pieces of at most 1 MiB."""
    fp.seek(8)
    while len(head := fp.read(8)) == 8:
        n, kind = struct.unpack(">I", head[:4])[0], head[4:]
        if kind == b"IDAT":
            while n > 0:
                piece = fp.read(min(n, _IDAT_PIECE))
                if not piece:
                    return
                n -= len(piece)
                yield kind, piece
        else:
            yield kind, fp.read(n)
        fp.read(4)  # CRC (the strip PNGs get their own)
        if kind == b"IEND":
            return


def _chunk(kind: bytes, data: bytes) -> bytes:
    return b"".join((struct.pack(">I", len(data)), kind, data, struct.pack(">I", zlib.crc32(data, zlib.crc32(kind)))))


_RAW_ORDER = {0: [0], 2: [2, 1, 0], 4: [0, 3], 6: [2, 1, 0, 3]}  # PNG samples from OpenCV's BGR(A)


def _png_strips(fp: BinaryIO, w: int, h: int, k: int) -> np.ndarray:
    """Decode a non-interlaced 8/16-bit PNG in strips of rows, each reduced ``k`` times.

    Each strip is re-wrapped as a small PNG (its first row the previous strip's last row,
    unfiltered) so OpenCV's decoder undoes the row filters; memory stays a few strips.
    """
    ihdr = b""
    inflate, raw = zlib.decompressobj(), bytearray()
    prev: bytes | None = None
    parts: list[np.ndarray] = []
    ctype = depth = stride = rows = 0

    def strip(data: bytes | memoryview, n: int) -> None:
        nonlocal prev
        head = struct.pack(">IIBBBBB", w, n + (prev is not None), depth * 8, ctype, 0, 0, 0)
        deflate = zlib.compressobj(0)
        body = (deflate.compress(b"\x00" + prev) if prev is not None else b"") + deflate.compress(data) + deflate.flush()
        png = b"".join((_PNG_SIG, _chunk(b"IHDR", head), _chunk(b"IDAT", body), _chunk(b"IEND", b"")))
        img = cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_UNCHANGED)
        if img is None:
            raise ValueError("OpenCV cannot decode a strip of the PNG")
        img = img[1:] if prev is not None else img
        last = img[-1] if img.ndim == 3 else img[-1][:, None]
        samples = np.ascontiguousarray(last[:, _RAW_ORDER[ctype]])
        prev = samples.astype(">u2").tobytes() if depth == 2 else samples.tobytes()
        bgr = _to_bgr8(img)
        size = (max(1, round(w / k)), max(1, round(img.shape[0] / k)))
        parts.append(cv2.resize(bgr, size, interpolation=cv2.INTER_AREA) if k > 1 else bgr)

    for kind, data in _png_chunks(fp):
        if kind == b"IHDR":
            ihdr = data
            depth, ctype = data[8] // 8, data[9]
            stride = 1 + w * depth * len(_RAW_ORDER[ctype])
            rows = max(k, _STRIP_BYTES // stride // k * k)
        elif kind == b"IDAT":
            while data:
                raw += inflate.decompress(data, _STRIP_BYTES)
                data = inflate.unconsumed_tail
                done = 0
                while len(raw) - done >= rows * stride:
                    strip(memoryview(raw)[done : done + rows * stride], rows)
                    done += rows * stride
                del raw[:done]
    raw += inflate.flush()
    if not ihdr:
        raise ValueError("PNG without a header")
    n = len(raw) // stride
    if n:
        strip(bytes(raw[: n * stride]), n)
    if not parts:
        raise ValueError("PNG without image data")
    return np.vstack(parts)


def _decode_large(fp: BinaryIO, fmt: str, w: int, h: int, info: dict[str, Any], max_side: int) -> np.ndarray | str:
    """A reduced array of a large image, or the reason it is not previewed."""
    k = max(1, max(w, h) // max_side)
    too_large = f"too large to preview ({w} x {h})"
    if fmt == "JPEG":
        if info.get("progressive") or info.get("progression"):
            return too_large  # libjpeg keeps all coefficients of a progressive JPEG
        reduced = next(flag for f, flag in ((8, cv2.IMREAD_REDUCED_COLOR_8), (4, cv2.IMREAD_REDUCED_COLOR_4),
                                            (2, cv2.IMREAD_REDUCED_COLOR_2), (1, cv2.IMREAD_COLOR)) if k >= f)
        fp.seek(0)
        img = cv2.imdecode(np.frombuffer(fp.read(), np.uint8), reduced)
        if img is None:
            raise ValueError("OpenCV cannot decode the JPEG")
        return img
    if fmt == "PNG":
        fp.seek(24)
        depth, ctype, _, _, interlace = fp.read(5)
        if interlace == 0 and depth in (8, 16) and ctype in _RAW_ORDER and "transparency" not in info:
            return _png_strips(fp, w, h, k)
    return too_large


def make_thumbnail(
    path: str | Path, *, image_id: str | None = None, max_pixels: int | None = DEFAULT_MAX_PIXELS,
    max_side: int = 768, format: ThumbFormat = "jpeg", quality: int = 85,
) -> Thumbnail:
    """Read an image file, check it, size it down to ``max_side`` and encode it.

    Checks come before any pixel is decoded: with ``image_id`` the file's XXH3-128 must
    still equal it (else a placeholder tile says "file changed since registration"; a
    missing file gives "file missing"), and the header's width x height must be within
    ``max_pixels`` (else "too large to preview (W x H)"). Images whose decoded size is
    within :data:`DECODE_BUDGET` are decoded whole through :func:`cv2.imdecode`
    (``IMREAD_UNCHANGED``), as always; larger JPEGs are decoded reduced
    (``IMREAD_REDUCED_COLOR_2/4/8``), larger 8/16-bit non-interlaced PNGs in row strips,
    anything else gets a placeholder: memory stays bounded. EXIF orientation is not
    applied (see the module notes).

    Parameters
    ----------
    path
        An image file OpenCV can decode (PNG, JPEG, TIFF, WebP, BMP, ...).
    image_id
        The registered image id (XXH3-128 of the file's bytes); None skips the check.
    max_pixels
        Largest width x height previewed (the registration cap by default); None: no cap.
    max_side, format, quality
        As in :func:`encode_array`.

    Returns
    -------
    Thumbnail
        ``placeholder`` holds the reason when it is a placeholder tile.

    Raises
    ------
    FileNotFoundError
        If ``path`` is not a file and no ``image_id`` was given.
    ValueError
        If the file cannot be decoded.

    Examples
    --------
    >>> import tempfile
    >>> from jupyter_cvops.images._hashing import hash_file
    >>> p = Path(tempfile.mkdtemp()) / "gray.png"
    >>> _ = cv2.imwrite(str(p), np.full((300, 600), 200, np.uint8))
    >>> t = make_thumbnail(p, max_side=150, image_id=hash_file(p))
    >>> (t.width, t.height, t.source_width, t.source_height, t.placeholder)
    (150, 75, 600, 300, None)
    >>> make_thumbnail(p, max_side=150).data == t.data
    True
    >>> make_thumbnail(p, image_id="0" * 32).placeholder
    'file changed since registration'
    >>> make_thumbnail(p, max_pixels=1000).placeholder
    'too large to preview (600 x 300)'
    """
    remote = is_uri(path)  # an s3:// object: read through the bucket (one GET, ranged reads when huge)
    p: Any = path if remote else Path(path)
    tile = partial(_placeholder, max_side=max_side, format=format, quality=quality)
    if not remote and not p.is_file():
        if image_id is None:
            raise FileNotFoundError(f"image file not found: {p}")
        return tile(PLACEHOLDER_MISSING)
    try:
        data, digest, st, _ = read_and_hash_any(p)
    except FileNotFoundError:
        if image_id is None:
            raise
        return tile(PLACEHOLDER_MISSING)
    except FileChangedError:
        return tile(PLACEHOLDER_CHANGED)
    if image_id is not None and digest != image_id.lower():
        return tile(PLACEHOLDER_CHANGED)
    if not st.st_size:
        raise ValueError(f"OpenCV cannot decode {p}")
    with (io.BytesIO(data) if data is not None else open_any(p, st if remote else None)) as fp:
        try:
            fmt, w, h, bands, depth, info = _header(fp)
        except ValueError as err:
            if data is None:
                raise ValueError(f"OpenCV cannot decode {p}: {err}") from err
            fmt, w, h, bands, depth, info = "", 0, 0, 0, 0, {}  # let OpenCV try, as before
        if max_pixels is not None and w * h > max_pixels:
            return tile(f"too large to preview ({w} x {h})", source=(w, h))
        if fmt and w * h * bands * depth > DECODE_BUDGET:
            fp.seek(0)
            large = _decode_large(fp, fmt, w, h, info, max_side)
            if isinstance(large, str):
                return tile(large, source=(w, h))
            now = stat_any(p) if data is None else st
            if (now.st_mtime_ns, now.st_size) != (st.st_mtime_ns, st.st_size):
                return tile(PLACEHOLDER_CHANGED)
            t = encode_array(large, max_side=max_side, format=format, quality=quality)
            return replace(t, source_width=w, source_height=h)
        fp.seek(0)
        raw = np.frombuffer(fp.read(), np.uint8)
    img = cv2.imdecode(raw, cv2.IMREAD_UNCHANGED) if raw.size else None
    if img is None:
        raise ValueError(f"OpenCV cannot decode {p}")
    return encode_array(img, max_side=max_side, format=format, quality=quality)
