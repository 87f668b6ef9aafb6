"""Thumbnails check the content hash and the pixel cap before decoding, and decode large
images with bounded memory (reduced JPEG, PNG in row strips, or a placeholder tile)."""

from __future__ import annotations

import struct
import subprocess
import sys
import textwrap
import zlib
from pathlib import Path
from typing import Any, NoReturn

import cv2
import numpy as np
import pytest

from jupyter_cvops.images import _thumbnails as thumbs
from jupyter_cvops.images._hashing import hash_file
from jupyter_cvops.images._thumbnails import encode_array, make_thumbnail


def _forbid_decoding(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make every pixel decoder (OpenCV and Pillow) fail if it is called."""
    from PIL import Image, ImageFile

    def boom(*args: Any, **kwargs: Any) -> NoReturn:
        raise AssertionError("decoded an image that must not be decoded")

    monkeypatch.setattr(cv2, "imdecode", boom)
    monkeypatch.setattr(cv2, "imread", boom)
    monkeypatch.setattr(ImageFile.ImageFile, "load", boom)
    monkeypatch.setattr(Image.Image, "load", boom)


def _old_thumbnail(path: Path, **kw: Any) -> bytes:
    """What ``make_thumbnail`` produced before the checks (decode whole, then encode)."""
    img = cv2.imdecode(np.fromfile(path, dtype=np.uint8), cv2.IMREAD_UNCHANGED)
    assert img is not None
    return encode_array(img, **kw).data


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def _header_only_png(path: Path, width: int, height: int, interlace: int = 0) -> None:
    """A tiny PNG whose header declares ``width x height`` RGB pixels (data mostly absent)."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, interlace)
    idat = zlib.compress(b"\x00" * (1 + 3 * width) * 64, 9)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", ihdr) + _png_chunk(b"IDAT", idat)
                     + _png_chunk(b"IEND", b""))


# -- content hash ------------------------------------------------------------------------------
def test_a_file_changed_since_registration_is_a_placeholder_not_decoded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    p = tmp_path / "a.png"
    cv2.imwrite(str(p), np.full((60, 80, 3), 90, np.uint8))
    registered = hash_file(p)
    cv2.imwrite(str(p), np.full((60, 80, 3), 200, np.uint8))  # swapped after registration
    _forbid_decoding(monkeypatch)
    t = make_thumbnail(p, image_id=registered, max_side=64)
    assert t.placeholder == "file changed since registration"
    assert t.data[:2] == b"\xff\xd8" and t.mime == "image/jpeg"  # a real tile the widgets can show


def test_a_missing_file_with_an_image_id_is_a_placeholder(tmp_path: Path) -> None:
    t = make_thumbnail(tmp_path / "gone.png", image_id="0" * 32, max_side=64)
    assert t.placeholder == "file missing" and t.width > 0


def test_an_unchanged_file_with_its_image_id_gives_the_same_thumbnail_as_before(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    files = {
        "gray.png": rng.integers(0, 256, (300, 600), dtype=np.uint8),
        "rgb.jpg": cv2.GaussianBlur(rng.integers(0, 256, (480, 640, 3), dtype=np.uint8), (7, 7), 0),
        "rgba.png": rng.integers(0, 256, (200, 150, 4), dtype=np.uint8),
        "deep.png": rng.integers(0, 65536, (120, 900, 3), dtype=np.uint16),
    }
    for name, array in files.items():
        p = tmp_path / name
        assert cv2.imwrite(str(p), array)
        for kw in ({"max_side": 128}, {"max_side": 2000}, {"max_side": 100, "format": "webp"}):
            t = make_thumbnail(p, image_id=hash_file(p), **kw)
            assert t.placeholder is None
            assert t.data == _old_thumbnail(p, **kw) == make_thumbnail(p, **kw).data, (name, kw)
            assert (t.source_height, t.source_width) == array.shape[:2]


# -- pixel cap ---------------------------------------------------------------------------------
def test_a_header_over_the_pixel_cap_is_a_placeholder_not_decoded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    p = tmp_path / "bomb.png"
    _header_only_png(p, 16000, 16000)
    assert p.stat().st_size < 300_000
    image_id = hash_file(p)
    _forbid_decoding(monkeypatch)
    for t in (make_thumbnail(p, max_side=200), make_thumbnail(p, image_id=image_id, max_side=200)):
        assert t.placeholder == "too large to preview (16000 x 16000)"
        assert (t.source_width, t.source_height) == (16000, 16000)
        assert t.width <= 200 and t.width == t.height


def test_the_cap_is_a_parameter(tmp_path: Path) -> None:
    p = tmp_path / "small.png"
    cv2.imwrite(str(p), np.zeros((30, 40), np.uint8))
    assert make_thumbnail(p, max_pixels=1000).placeholder == "too large to preview (40 x 30)"
    assert make_thumbnail(p, max_pixels=None).placeholder is None


# -- bounded decoding --------------------------------------------------------------------------
def _close(a: bytes, b: bytes, tolerance: float) -> bool:
    x, y = (cv2.imdecode(np.frombuffer(d, np.uint8), cv2.IMREAD_COLOR) for d in (a, b))
    assert x is not None and y is not None
    return x.shape == y.shape and float(np.abs(x.astype(np.float64) - y).mean()) < tolerance


@pytest.mark.parametrize(("name", "shape", "dtype"), [
    ("rgba16.png", (700, 1100, 4), np.uint16),
    ("rgb8.png", (901, 1203, 3), np.uint8),
    ("gray16.png", (777, 1000), np.uint16),
    ("photo.jpg", (1200, 1600, 3), np.uint8),
])
def test_large_images_decoded_in_strips_or_reduced_match_the_whole_decode(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str, shape: tuple[int, ...], dtype: Any
) -> None:
    rng = np.random.default_rng(7)
    scale = 257 if dtype == np.uint16 else 1
    # smooth content: a two-stage reduction equals a one-stage one up to resampling noise
    array = cv2.GaussianBlur((rng.integers(0, 256, shape) * scale).astype(dtype), (0, 0), 6)
    if len(shape) == 3 and shape[2] == 4:
        array[..., 3] = np.linspace(0, 65535, shape[1]).astype(np.uint16)  # alpha gradient
    p = tmp_path / name
    assert cv2.imwrite(str(p), array)
    before = _old_thumbnail(p, max_side=200)
    monkeypatch.setattr(thumbs, "DECODE_BUDGET", 1 << 16)  # force the large-image path
    monkeypatch.setattr(thumbs, "_STRIP_BYTES", 100_000)  # many strips
    t = make_thumbnail(p, image_id=hash_file(p), max_side=200)
    assert t.placeholder is None and (t.source_height, t.source_width) == shape[:2]
    assert _close(t.data, before, tolerance=2.0)


def test_an_interlaced_large_png_is_a_placeholder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    p = tmp_path / "interlaced.png"
    _header_only_png(p, 400, 300, interlace=1)  # Adam7: rows cannot be streamed in order
    monkeypatch.setattr(thumbs, "DECODE_BUDGET", 1 << 16)
    assert make_thumbnail(p, max_side=100).placeholder == "too large to preview (400 x 300)"


_MEASURE = textwrap.dedent("""
    import resource, sys, time
    from jupyter_cvops.images._thumbnails import make_thumbnail
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    start = time.perf_counter()
    t = make_thumbnail(sys.argv[1], image_id=sys.argv[2])
    took = time.perf_counter() - start
    peak = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - base) / 1024  # KiB on Linux
    print(peak, took, t.width, t.height, t.source_width, t.source_height, t.placeholder)
""")


@pytest.mark.skipif(sys.platform != "linux", reason="ru_maxrss is in KiB on Linux")
def test_a_144_megapixel_rgba16_png_is_previewed_within_300_mb(tmp_path: Path) -> None:
    p = tmp_path / "huge.png"
    array = np.full((12000, 12000, 4), 40000, np.uint16)
    array[::97, :, 0] = 1000
    array[:, ::89, 1] = 65535
    array[..., 3] = 65535
    assert cv2.imwrite(str(p), array)
    del array
    out = subprocess.run([sys.executable, "-c", _MEASURE, str(p), hash_file(p)],
                         capture_output=True, text=True, timeout=300, check=True).stdout.split()
    peak_mb, seconds = float(out[0]), float(out[1])
    assert out[2:] == ["768", "768", "12000", "12000", "None"], out
    assert peak_mb < 300, f"peak {peak_mb:.0f} MB in {seconds:.1f} s"
