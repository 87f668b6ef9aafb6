"""Helpers shared by the format readers and writers: path safety, box checks, parsing.
All pure (no workspace access) and cheap per record, for plain loops over many records."""

from __future__ import annotations

import json
import math
import os
import re
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import defusedxml
import defusedxml.ElementTree as SafeET

from ._files import ESCAPES as ESCAPES  # re-exported: the importer settles these problems (by image_key)
from ._files import MAX_ANNOTATION_BYTES, check_file
from ._files import confined as confined  # re-exported: the one confinement rule
from ._messages import short as short  # re-exported: every reader's messages use it
from ._types import FormatError, ImportResult, RecordProblem

#: Boxes may overflow their image by this many pixels; they are then clipped.
OVERFLOW_TOLERANCE_PX = 1.0
#: Image sides above this (pixels) are not believed (:func:`to_int` gives None).
MAX_SIDE = 2**31 - 1
#: Longest class name the taxonomy takes (``taxonomy._ops.MAX_NAME``; formats may not import it).
MAX_CLASS_NAME = 200
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")

Box = tuple[float, float, float, float]


def check_box(box: Sequence[Any], width: int | None, height: int | None) -> tuple[Box | None, str | None, bool]:
    """Validate a pixel xyxy box against its image size; clip overflow of at most 1 px.

    Returns ``(box, reason, clipped)``; ``box`` is None and ``reason`` says why when
    the box is refused.  Without a known size only the box's own shape is checked.

    Examples
    --------
    >>> check_box((-0.5, 10, 20, 20), 100, 100)
    ((0.0, 10.0, 20.0, 20.0), None, True)
    """
    try:
        x0, y0, x1, y1 = (float(v) for v in box)
    except (TypeError, ValueError):
        return None, f"box is not four numbers: {short(box)}", False
    except OverflowError:  # an integer beyond the float range
        return None, f"box has non-finite coordinates: {short(box)}", False
    if not all(math.isfinite(v) for v in (x0, y0, x1, y1)):
        return None, f"box has non-finite coordinates: {short(box)}", False
    if x1 <= x0 or y1 <= y0:
        return None, f"box has negative or zero size (x0={x0:g}, y0={y0:g}, x1={x1:g}, y1={y1:g})", False
    if not width or not height:
        return (x0, y0, x1, y1), None, False
    b, size = f"box ({x0:g}, {y0:g}, {x1:g}, {y1:g})", f"{width}x{height}"
    if x1 <= 0 or y1 <= 0 or x0 >= width or y0 >= height:
        return None, f"{b} lies outside the {size} image", False
    over = max(-x0, -y0, x1 - width, y1 - height)
    if over > OVERFLOW_TOLERANCE_PX:
        return None, f"{b} extends {over:g} px past the {size} image (more than {OVERFLOW_TOLERANCE_PX:g} px)", False
    if over <= 0:
        return (x0, y0, x1, y1), None, False
    # float noise from normalized formats is clipped without being flagged
    clipped = (max(x0, 0.0), max(y0, 0.0), min(x1, float(width)), min(y1, float(height)))
    return clipped, None, over > 1e-6


def finite_floats(values: Any) -> list[float] | None:
    """``values`` (a list of int/float numbers) as finite floats; None when anything else is in it.

    Booleans, text, NaN, infinities and integers beyond the float range are refused.

    Examples
    --------
    >>> finite_floats([1, 2.5]), finite_floats([1, float("nan")]), finite_floats([10**400]), finite_floats("12")
    ([1.0, 2.5], None, None, None)
    """
    if not isinstance(values, list):
        return None
    out: list[float] = []
    for v in values:
        if not isinstance(v, (int, float)) or isinstance(v, bool):
            return None
        try:
            f = float(v)
        except OverflowError:
            return None
        if not math.isfinite(f):
            return None
        out.append(f)
    return out


def polygon_bbox(rings: Sequence[Sequence[float]]) -> Box | None:
    """Enclosing xyxy box of flat ``[x0, y0, x1, y1, ...]`` rings (None if empty).

    Examples
    --------
    >>> polygon_bbox([[1, 2, 3, 4, 6, 5]])
    (1.0, 2.0, 6.0, 5.0)
    """
    xs = [float(v) for r in rings for v in r[0::2]]
    ys = [float(v) for r in rings for v in r[1::2]]
    return (min(xs), min(ys), max(xs), max(ys)) if xs and ys else None


def polygon_area(rings: Sequence[Sequence[float]]) -> float:
    """Sum of the shoelace areas of flat rings.

    Examples
    --------
    >>> polygon_area([[0, 0, 2, 0, 2, 1, 0, 1]])
    2.0
    """
    total = 0.0
    for r in rings:
        xs, ys = r[0::2], r[1::2]
        n = min(len(xs), len(ys))
        total += abs(sum(xs[i] * ys[(i + 1) % n] - xs[(i + 1) % n] * ys[i] for i in range(n))) / 2.0
    return total


def rle_area(rle: dict[str, Any]) -> float:
    """Foreground pixel count of a COCO RLE (uncompressed list or compressed string).

    Examples
    --------
    >>> rle_area({"size": [10, 5], "counts": [0, 20, 30]})
    20.0
    """
    counts: Any = rle.get("counts")
    counts = _decode_rle_string(counts) if isinstance(counts, str) else counts
    try:
        return float(sum(counts[1::2]))
    except TypeError:  # not a list of numbers
        return 0.0


def _decode_rle_string(s: str) -> list[int]:
    # pycocotools' compressed counts: 5-bit groups with a continuation bit, deltas from i-2
    counts: list[int] = []
    p = 0
    while p < len(s):
        x, k, more = 0, 0, True
        while more and p < len(s):
            c = ord(s[p]) - 48
            x |= (c & 0x1F) << (5 * k)
            more = bool(c & 0x20)
            p, k = p + 1, k + 1
            if not more and (c & 0x10):
                x |= -1 << (5 * k)
        if len(counts) > 2:
            x += counts[-2]
        counts.append(x)
    return counts


def rotated_bbox(x: float, y: float, w: float, h: float, degrees: float, *, about_center: bool) -> Box:
    """Axis-aligned box enclosing a ``w`` x ``h`` rectangle at ``(x, y)`` rotated clockwise.

    Label Studio rotates about the top-left corner, CVAT about the centre.

    Examples
    --------
    >>> [round(v, 6) for v in rotated_bbox(0, 0, 2, 1, 90, about_center=False)]
    [-1.0, 0.0, 0.0, 2.0]
    """
    t = math.radians(degrees)
    c, s = math.cos(t), math.sin(t)
    px, py = (x + w / 2, y + h / 2) if about_center else (x, y)
    xs, ys = [], []
    for cx, cy in ((x, y), (x + w, y), (x + w, y + h), (x, y + h)):
        dx, dy = cx - px, cy - py
        xs.append(px + dx * c - dy * s)
        ys.append(py + dx * s + dy * c)
    return min(xs), min(ys), max(xs), max(ys)


def parse_time(value: Any) -> datetime | None:
    """Parse an ISO-8601 time (``Z`` or offset; naive means UTC); None when absent or unreadable.

    Examples
    --------
    >>> parse_time("2022-12-27T13:36:25.747398Z").isoformat()
    '2022-12-27T13:36:25.747398+00:00'
    """
    if not isinstance(value, (datetime, str)) or not value:
        return None
    try:
        t = value if isinstance(value, datetime) else datetime.fromisoformat(
            value[:-1] + "+00:00" if value.endswith(("Z", "z")) else value)
    except ValueError:
        return None
    return t.replace(tzinfo=timezone.utc) if t.tzinfo is None else t


def format_time(t: datetime | None) -> str | None:
    """ISO-8601 text of ``t`` in UTC (naive means UTC), or None.

    Examples
    --------
    >>> format_time(datetime(2026, 1, 2, 3, 4, 5))
    '2026-01-02T03:04:05+00:00'
    """
    if t is None:
        return None
    return (t.replace(tzinfo=timezone.utc) if t.tzinfo is None else t.astimezone(timezone.utc)).isoformat()


def load_json(path: Path, max_bytes: int = MAX_ANNOTATION_BYTES) -> Any:
    """Read a JSON file of at most ``max_bytes`` bytes; a larger, malformed or unreadable file raises
    :class:`FormatError` naming the file (and the cap).

    Examples
    --------
    >>> load_json(Path("/no/such.json"))
    Traceback (most recent call last):
    ...
    jupyter_cvops.formats._types.FormatError: such.json: cannot read file (No such file or directory)
    """
    check_file(path, max_bytes)
    try:
        with open(path, "rb") as f:
            return json.load(f)
    except json.JSONDecodeError as e:
        raise FormatError(f"{path.name}: malformed JSON ({e.msg} at line {e.lineno}, column {e.colno})") from None
    except UnicodeDecodeError as e:
        raise FormatError(f"{path.name}: not UTF-8 text ({e.reason})") from None
    except RecursionError:
        raise FormatError(f"{path.name}: JSON nested too deeply") from None
    except OSError as e:
        raise FormatError(f"{path.name}: cannot read file ({e.strerror})") from None
    except ValueError as e:  # "Exceeds the limit (4300 digits) for integer string conversion"
        why = "an integer with too many digits" if "integer string conversion" in str(e) else short(str(e))
        raise FormatError(f"{path.name}: malformed JSON ({why})") from None


def load_xml(path: Path | str, root_tag: str, *, text: str | None = None,
             max_bytes: int = MAX_ANNOTATION_BYTES) -> ET.Element:
    """Parse an XML file (of at most ``max_bytes`` bytes) or ``text`` whose root must be ``root_tag``;
    else :class:`FormatError`.

    Parsing goes through ``defusedxml``, whatever the system's libexpat: entity
    declarations (entity bombs) and external entities or DTDs are refused with a
    :class:`FormatError`, never expanded or fetched.  So are unknown or multi-byte
    encodings named in the XML declaration.

    Examples
    --------
    >>> load_xml("x.xml", "annotation", text="<annotation>")
    Traceback (most recent call last):
    ...
    jupyter_cvops.formats._types.FormatError: x.xml: malformed XML (no element found: line 1, column 12)
    """
    name = Path(path).name
    if text is None:
        check_file(Path(path), max_bytes)
    try:
        root: ET.Element = SafeET.fromstring(text) if text is not None else SafeET.parse(path).getroot()
    except ET.ParseError as e:
        raise FormatError(f"{name}: malformed XML ({e})") from None
    except defusedxml.DefusedXmlException as e:
        raise FormatError(f"{name}: refused XML ({type(e).__name__}: entities and external references "
                          "are not allowed)") from None
    except OSError as e:
        raise FormatError(f"{name}: cannot read file ({e.strerror})") from None
    except (LookupError, ValueError) as e:  # unknown or multi-byte encoding in the XML declaration
        raise FormatError(f"{name}: unreadable XML ({short(str(e))})") from None
    except RecursionError:
        raise FormatError(f"{name}: XML nested too deeply") from None
    if root.tag != root_tag:
        raise FormatError(f"{name}: expected a <{root_tag}> root element, found <{root.tag}>")
    return root


def to_int(value: Any) -> int | None:
    """A positive int (at most :data:`MAX_SIDE`) from text or number, else None.

    Examples
    --------
    >>> to_int("2445"), to_int("1485.0"), to_int(""), to_int(-3)
    (2445, 1485, None, None)
    """
    try:
        v = int(float(value))
    except (TypeError, ValueError, OverflowError):
        return None
    return v if 0 < v <= MAX_SIDE else None


def image_size(path: Path | None) -> tuple[int | None, int | None]:
    """Width and height from an image file's header (no decoding), or ``(None, None)``.

    Examples
    --------
    >>> image_size(None)
    (None, None)
    """
    if path is None:
        return None, None
    from PIL import Image

    try:
        with Image.open(path) as im:
            return int(im.width), int(im.height)
    except (OSError, ValueError, Image.DecompressionBombError):  # unreadable: the size stays unknown
        return None, None


def unique_name(name: str, key: str, taken: set[str]) -> str:
    """The last component of ``name`` (exports never climb out of their folder), made unique
    within ``taken`` (which is updated) by appending ``key``.

    Examples
    --------
    >>> taken = {"a.jpg"}
    >>> unique_name("../x/a.jpg", "k9", taken), unique_name("b.jpg", "k1", taken)
    ('a_k9.jpg', 'b.jpg')
    """
    name = safe_name(name)
    p, tag, i = Path(name), "".join(c if c.isalnum() or c in "-_" else "_" for c in key)[:12], 0
    while name in taken:
        i += 1
        name = f"{p.stem}_{tag}{p.suffix}" if i == 1 else f"{p.stem}_{tag}_{i}{p.suffix}"
    taken.add(name)
    return name


def safe_name(name: str) -> str:
    """One harmless path component from ``name`` (its last part; never empty, ``.`` or ``..``).

    Examples
    --------
    >>> safe_name("../x/a.jpg"), safe_name("..")
    ('a.jpg', '_')
    """
    name = Path(name.replace("\\", "/")).name
    return name if name not in ("", ".", "..") else "_"


def _storable(text: str) -> bool:
    """Whether ``text`` can be written as UTF-8 (JSON's ``"\\ud800"`` gives a lone surrogate, which cannot)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def class_name_problem(name: str) -> str | None:
    r"""Why the taxonomy would refuse ``name`` as a class name, or None.

    Examples
    --------
    >>> class_name_problem("dent"), class_name_problem(" dent")
    (None, "class name ' dent' has leading or trailing whitespace")
    >>> class_name_problem("a\tb")
    "class name 'a\\tb' contains a control character"
    """
    if not name.strip():
        return "class name is empty"
    if name != name.strip():
        return f"class name {short(name)} has leading or trailing whitespace"
    if _CONTROL.search(name):
        return f"class name {short(name)} contains a control character"
    if len(name) > MAX_CLASS_NAME:
        return f"class name is longer than {MAX_CLASS_NAME} characters: {short(name, 50)}"
    if not _storable(name):
        return f"class name {short(name)} is not valid Unicode (a lone surrogate)"
    return None


def screen_records(result: ImportResult) -> ImportResult:
    r"""Skip, with a problem each, the labels a workspace could not store: a class name the taxonomy
    refuses (:func:`class_name_problem`) or an annotator that is not valid Unicode; such names also
    leave ``categories``.  Every reader's result passes through here (:func:`formats.read`).

    Examples
    --------
    >>> from jupyter_cvops.formats import AnnotationRecord
    >>> res = ImportResult("coco", "a.json", ["ok", "a\tb"], [], [AnnotationRecord("1", "a\tb", record="ann[0]")])
    >>> res = screen_records(res)
    >>> res.categories, res.annotations, res.problems[0].reason
    (['ok'], [], "class name 'a\\tb' contains a control character")
    """
    keep = []
    for rec in result.annotations:
        why = class_name_problem(rec.class_name)
        if why is None and rec.annotator is not None and not _storable(rec.annotator):
            why = f"annotator {short(rec.annotator)} is not valid Unicode (a lone surrogate)"
        if why is None:
            keep.append(rec)
        else:
            result.problems.append(RecordProblem(rec.record or f"image {rec.image_key}", why))
    result.annotations = keep
    result.categories = [c for c in result.categories if class_name_problem(c) is None]
    return result


def check_writer_input(images: Sequence[Any], annotations: Sequence[Any], categories: Sequence[str]) -> None:
    """Raise ValueError when annotations name unknown images/classes or boxes lack a bbox.

    Examples
    --------
    >>> check_writer_input([], [], ["a"])
    """
    keys = {im.key for im in images}
    if len(keys) != len(images):
        raise ValueError("export images have duplicate keys")
    cats = set(categories)
    for i, a in enumerate(annotations):
        if a.image_key not in keys:
            raise ValueError(f"annotations[{i}] refers to image {a.image_key!r}, which is not exported")
        if a.class_name not in cats:
            raise ValueError(f"annotations[{i}] has class {a.class_name!r}, which is not in categories")
        if a.kind == "box" and a.bbox is None:
            raise ValueError(f"annotations[{i}] is a box label without a bbox")
