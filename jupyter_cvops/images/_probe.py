"""Identifying and probing one image file: format, size, channels, completeness, capture time.

Pure per-file work used by :func:`jupyter_cvops.images.scan_images`; never decodes a
file whose header announces more than ``max_pixels`` pixels.
"""

from __future__ import annotations

import io
import os
import stat
import struct
from datetime import datetime, timezone
from typing import Any, BinaryIO

from PIL import Image

from ._hashing import FileChangedError, read_and_hash

Fresh = tuple[str | None, dict[str, Any], "os.stat_result | None", int]

READ_WHOLE_LIMIT = 64 << 20
"""Files up to this size are read once, hashed and probed from memory; larger ones are
hashed in 1 MiB chunks and probed from the file."""

_FORMATS = {"JPEG": "jpeg", "MPO": "jpeg", "DIB": "bmp"}
_END = {"jpeg": (b"\xff\xd9", "JPEG end-of-image marker"), "png": (b"IEND\xaeB`\x82", "PNG IEND")}
_TAIL = 1024
_ORDER: dict[int, list[str]] = {}  # plugin count -> format names in the order tried
_OS_ERRORS = {FileNotFoundError: "no such file", PermissionError: "permission denied",
              IsADirectoryError: "not a regular file", FileChangedError: "file changed while read"}


# ----------------------------------------------------------------------------- probing
def _plugin_order() -> list[str]:
    """Pillow's formats, common camera formats first (re-sorted if a plugin registers)."""
    Image.init()
    if len(Image.ID) not in _ORDER:
        first = [f for f in ("JPEG", "PNG", "TIFF", "WEBP", "BMP", "GIF") if f in Image.ID]
        _ORDER.clear()
        _ORDER[len(Image.ID)] = first + [f for f in Image.ID if f not in first]
    return _ORDER[len(Image.ID)]


def _open_lazy(fp: BinaryIO) -> tuple[Any, dict[str, Any]]:
    """``PIL.Image.open`` minus its process-global bomb check (``max_pixels`` is ours)."""
    prefix, failure = fp.read(16), {"kind": "other", "reason": "not an image (unknown format)"}
    for fmt in _plugin_order():
        factory, accept = Image.OPEN[fmt]
        ok = accept(prefix) if accept else True
        if not ok or isinstance(ok, str):
            continue
        fp.seek(0)
        try:
            return factory(fp, ""), {}
        except Image.DecompressionBombError as err:
            return None, {"kind": "bomb", "reason": f"decompression bomb ({_msg(err)})"}
        except Exception as err:  # Pillow's parsers raise many types on malformed input
            if accept is not None and failure["kind"] == "other":
                why, fmt = f"corrupt image data ({_msg(err)})", _FORMATS.get(fmt, fmt.lower())
                failure = {"kind": "corrupt", "reason": why, "fmt": fmt}
    return None, failure


def _msg(err: BaseException) -> str:
    return " ".join(str(err).split()) or type(err).__name__  # one line, never empty


def _complete(fp: BinaryIO, fmt: str) -> bool | None:
    """Whether a JPEG/PNG ends with its end marker (None: format without this check)."""
    if fmt not in _END:
        return None
    if isinstance(fp, io.BytesIO):
        return _END[fmt][0] in fp.getbuffer()[-_TAIL:].tobytes()
    where = fp.tell()
    fp.seek(max(0, fp.seek(0, os.SEEK_END) - _TAIL))
    tail = fp.read()
    fp.seek(where)
    return _END[fmt][0] in tail


def _captured_at(im: Any) -> str | None:
    if "exif" not in im.info and im.format != "TIFF":
        return None  # PNG's getexif() would decode the image to look for late EXIF
    try:
        sub = im.getexif().get_ifd(0x8769)  # the Exif IFD
        tags = (0x9003, 0x9011, 0x9291)  # DateTimeOriginal, OffsetTimeOriginal, SubSec...
        raw, offset, subsec = (str(sub.get(t) or "").strip("\x00 ") for t in tags)
        when = datetime.strptime(raw[:19], "%Y:%m:%d %H:%M:%S")
        if subsec.isdigit():
            when = when.replace(microsecond=int((subsec + "00000")[:6]))
        tz = datetime.strptime(offset, "%z").tzinfo if offset else timezone.utc
        return when.replace(tzinfo=tz).astimezone(timezone.utc).isoformat()
    except Exception:  # unreadable metadata never makes an image unusable
        return None


def _probe(fp: BinaryIO, check: str, max_pixels: int | None) -> dict[str, Any]:
    im, problem = _open_lazy(fp)
    if im is None:
        if _complete(fp, problem.pop("fmt", "")) is False:
            return {"kind": "truncated", "reason": "truncated file (header cut short)"}
        return problem
    with im:
        fmt, (w, h), mode = _FORMATS.get(im.format, str(im.format).lower()), im.size, im.mode
        if max_pixels is not None and w * h > max_pixels:
            return {"kind": "bomb", "width": w, "height": h}
        palette = {"P": 4 if "transparency" in im.info else 3, "PA": 4}  # as decoded to RGB(A)
        channels = palette.get(mode) or Image.getmodebands(mode)
        complete = _complete(fp, fmt)
        if check == "decode" or complete is False:  # a missing end marker: decoding decides
            try:
                im.load()
            except Exception as err:  # any decoder failure is this file's problem alone
                if complete is False or "truncated" in str(err):
                    why = f"no {_END[fmt][1]}" if complete is False else "decoder ran out of data"
                    return {"kind": "truncated", "reason": f"truncated file ({why})"}
                return {"kind": "corrupt", "reason": f"corrupt image data ({_msg(err)})"}
        when = _captured_at(im)
    return {"width": w, "height": h, "channels": channels, "format": fmt, "captured_at": when,
            "check": check}


_PNG_SIG = b"\x89PNG\r\n\x1a\n"
_PNG_BANDS = {0: 1, 2: 3, 4: 2, 6: 4}  # colour type -> bands as Pillow reports them
_SOF = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}
_U32, _U32X2 = struct.Struct(">I").unpack_from, struct.Struct(">II").unpack_from


def _fast_header(data: bytes) -> dict[str, Any] | None:
    """Size, bands and completeness of an in-memory PNG or JPEG without Pillow.

    Covers the common case (no EXIF block to read a capture time from) in a few
    microseconds; returns None whenever Pillow must decide (EXIF present, unusual
    structure, incomplete file), so results always equal the Pillow path.

    Examples
    --------
    >>> import cv2, numpy as np
    >>> ok, buf = cv2.imencode(".png", np.zeros((3, 5, 3), np.uint8))
    >>> _fast_header(buf.tobytes())["width"], _fast_header(buf.tobytes())["channels"]
    (5, 3)
    """
    if data.startswith(_PNG_SIG) and len(data) > 33 and data[12:16] == b"IHDR":
        w, h = _U32X2(data, 16)
        ctype, trns, i, n = data[25], False, 8, len(data)
        while i + 8 <= n:  # walk the chunks before the image data (few and small)
            kind = data[i + 4 : i + 8]
            if kind == b"IDAT":
                break
            if kind == b"eXIf":
                return None
            trns = trns or kind == b"tRNS"
            i += 12 + _U32(data, i)[0]
        else:
            return None
        bands = (4 if trns else 3) if ctype == 3 else _PNG_BANDS.get(ctype, 0)
        tail = max(0, n - _TAIL)  # the last _TAIL bytes, searched without copying them
        if not bands or not w or not h or data.find(b"eXIf", tail) >= 0 or data.find(_END["png"][0], tail) < 0:
            return None
        return {"width": w, "height": h, "channels": bands, "format": "png"}
    if data[:2] == b"\xff\xd8" and _END["jpeg"][0] in data[-_TAIL:]:
        i, n = 2, len(data)
        while i + 4 <= n:
            if data[i] != 0xFF:
                return None
            marker = data[i + 1]
            if marker == 0xFF:  # fill byte
                i += 1
                continue
            seg = int.from_bytes(data[i + 2 : i + 4], "big")
            if marker == 0xE1 and data[i + 4 : i + 8] == b"Exif":
                return None  # a capture time may be in there: Pillow reads it
            if marker in _SOF and i + 10 <= n:
                h, w = int.from_bytes(data[i + 5 : i + 7], "big"), int.from_bytes(data[i + 7 : i + 9], "big")
                comps = data[i + 9]
                if comps not in (1, 3, 4) or not w or not h:
                    return None
                return {"width": w, "height": h, "channels": comps, "format": "jpeg"}
            if marker == 0xDA:
                return None
            i += 2 + seg
    return None


def probe_bytes(data: bytes, check: str, max_pixels: int | None) -> dict[str, Any]:
    """Probe an image held in memory: the info a scan records, or ``{"kind", "reason"}``.

    Examples
    --------
    >>> import cv2, numpy as np
    >>> ok, buf = cv2.imencode(".png", np.zeros((3, 5, 3), np.uint8))
    >>> probe_bytes(buf.tobytes(), "header", None)["width"]
    5
    """
    fast = _fast_header(data) if check == "header" else None
    if fast is not None and (max_pixels is None or fast["width"] * fast["height"] <= max_pixels):
        fast["captured_at"], fast["check"] = None, check
        return fast
    return _probe(io.BytesIO(data), check, max_pixels)


def _read_and_probe(path: str, check: str, max_pixels: int | None) -> Fresh:
    """Hash and probe one file: (hash or None, info or problem, fstat, read-done time)."""
    try:
        data, digest, st, done = read_and_hash(path, keep_limit=READ_WHOLE_LIMIT)
        if not stat.S_ISREG(st.st_mode) or st.st_size == 0:
            why = "zero-byte file" if stat.S_ISREG(st.st_mode) else "not a regular file"
            return None, {"reason": why}, None, 0
        if data is not None:
            return digest, probe_bytes(data, check, max_pixels), st, done
        with open(path, "rb") as f:
            return digest, _probe(f, check, max_pixels), st, done
    except OSError as err:
        why = _OS_ERRORS.get(type(err), f"cannot read file ({err.strerror or _msg(err)})")
        return None, {"reason": why}, None, 0
