"""LabelMe JSON (one file per image, written by wkentaro/labelme): reader.

What each ``shape_type`` becomes (every kept shape is an object, ``kind="box"``):

* ``rectangle``: its two corners, in any order (four corners, as some labelme
  derivatives write, give their extent), are the box.
* ``polygon`` (also a shape without ``shape_type``, as labelme < 3 wrote them): kept
  as ``polygon`` (one flat ring, pixels) with its extent as ``bbox``; at least 3 points.
* ``oriented_rectangle`` (labelme >= 6): its 4 corners are kept as the polygon, its
  extent is the box; ``attributes["shape"] = "oriented_rectangle"``.
* ``circle`` (centre, then a point on the circle): the enclosing box of the circle,
  clipped to the image (a circle drawn at the border naturally reaches past it;
  ``attributes["clipped"]`` says so when more than 1 px was cut);
  ``attributes["shape"] = "circle"``.
* ``line``, ``linestrip``, ``point``, ``points`` and ``mask`` are not objects we
  store: skipped with a problem each.

A shape's ``group_id`` (when set), ``description`` (when not empty) and ``flags``
(``{name: true/false}``) go to ``attributes``.  Image-level ``flags`` are labelme's
image classification (``labelme --flags cat,dog``): each flag set to ``true`` becomes an
image label (``kind="image"``, class = the flag's name); ``flags_as_labels=False``
reads no image labels.  Names of the form ``__name__`` are labelme's reserved names
(``__ignore__``: an image or region to leave out), not classes: such flags are not
read and such shapes are skipped with a problem.  LabelMe names no annotator or time: ``annotator`` is used.  The
embedded ``imageData`` is not extracted: the file named by ``imagePath`` is the image.
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any

from ._common import check_box, image_size, load_json, polygon_bbox
from ._files import ESCAPES, MAX_PER_IMAGE_BYTES, ImageResolver, Scope
from ._types import AnnotationRecord, FormatError, ImageRef, ImportResult, RecordProblem

_UNSUPPORTED = {"line": "lines", "linestrip": "line strips", "point": "points", "points": "point sets",
                "mask": "masks"}
_MAX_SIZE = 2**31 - 1
_NOT_LABELME = "not a LabelMe file (expected a JSON object with 'shapes' and 'imagePath')"
_Points = list[tuple[float, float]]


def read(
    path: str | Path,
    *,
    data_root: str | Path | None = None,
    annotator: str | None = None,
    flags_as_labels: bool = True,
) -> ImportResult:
    """Read LabelMe JSON: one file, or every ``*.json`` in a folder and its subfolders.

    Image keys are the JSON's path relative to the folder read, without ``.json``
    (``"sub/0001"``; the file stem for one file).  ``imagePath`` is relative to the
    JSON's folder and is looked up under ``data_root`` (default: the folder read, or
    the JSON's folder for one file); a path leaving ``data_root`` (``..`` too far, an
    absolute path elsewhere) is refused.  A file not found there is looked for, by
    ``imagePath`` and by its base name, in the JSON's folder, the same relative folder
    under ``data_root`` (annotations kept apart from the images) and ``data_root``.
    Image sizes are ``imageWidth`` / ``imageHeight`` (else the image file's header).

    A file that is not valid JSON raises :class:`FormatError`, as does a folder with no
    JSON files, a single file that is not a LabelMe file, or a LabelMe file whose
    ``shapes`` is not a list.  In a folder, other JSON files (class lists, COCO
    conversions) are skipped with a problem each; hidden files and folders are not read.

    Parameters
    ----------
    path : one LabelMe JSON file or a folder of them.
    data_root : where image files may be; names resolving outside it are refused.
    annotator : annotator id for every label.
    flags_as_labels : turn image-level flags set to true into image labels.

    Examples
    --------
    >>> res = read("examples/bbox_detection/data_annotated")            # doctest: +SKIP
    >>> res.images[0].key, res.annotations[0].class_name, res.annotations[1].bbox  # doctest: +SKIP
    ('2011_000003', 'person', (365.0, 83.0, 500.0, 333.0))
    """
    path = Path(path)
    # every JSON read lies, symlinks resolved, in the folder read (the file's folder) or data_root
    scope = Scope([path if path.is_dir() else path.parent, data_root])
    files, base = _files(path, scope)
    root = Path(data_root) if data_root is not None else base
    resolver = ImageResolver(root)
    out = ImportResult("labelme", str(path), [], [], [], scope.problems, data_root=resolver.root)
    seen: set[str] = set()
    for f in files:
        rel = f.relative_to(base).as_posix()
        data = _load(f)
        if not isinstance(data, dict) or "shapes" not in data or "imagePath" not in data:
            if path.is_file():
                got = "" if isinstance(data, dict) else f", got {_type(data)}"
                raise FormatError(f"{f.name}: {_NOT_LABELME}{got}")
            out.problems.append(RecordProblem(rel, f"{_NOT_LABELME}; skipped"))
            continue
        if not isinstance(data["shapes"], list):
            raise FormatError(f"{f.name}: shapes: expected a list, got {_type(data['shapes'])}")
        key = rel[: -len(f.suffix)]
        if key in seen:
            out.problems.append(RecordProblem(rel, f"duplicate image key {key!r} (file path without .json)"))
            continue
        seen.add(key)
        _read_file(data, f, rel, key, base, resolver, annotator, flags_as_labels, out)
    return out


def _files(path: Path, scope: Scope) -> tuple[list[Path], Path]:
    """The JSON files to read (those symlinked out of the scope refused), and the folder their keys are
    relative to."""
    if path.is_file():
        scope.given(path)
        return [path], path.parent
    if not path.is_dir():
        raise FormatError(f"{path.name}: no such file or folder")
    files: list[Path] = []
    for dirpath, dirnames, filenames in os.walk(path):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        files.extend(Path(dirpath) / n for n in sorted(filenames)
                     if n.lower().endswith(".json") and not n.startswith("."))
    if not files:
        raise FormatError(f"{path.name}: no LabelMe JSON files found")
    return scope.keep(files, path), path


def _load(f: Path) -> Any:
    try:
        return load_json(f, MAX_PER_IMAGE_BYTES)
    except ValueError as e:  # not a JSONDecodeError: an integer with too many digits
        if isinstance(e, FormatError):
            raise
        raise FormatError(f"{f.name}: malformed JSON ({e})") from None


def _type(value: Any) -> str:
    return "null" if value is None else type(value).__name__


def _read_file(
    data: dict[str, Any], f: Path, rel: str, key: str, base: Path, resolver: ImageResolver,
    annotator: str | None, flags_as_labels: bool, out: ImportResult,
) -> None:
    name = data["imagePath"]
    if not isinstance(name, str) or not name.strip():
        out.problems.append(RecordProblem(rel, f"imagePath: expected a file name, got {name!r:.60}; file skipped"))
        return
    found = _find_image(name, f, base, resolver, rel, key, out)
    w, h = _size(data, rel, out)
    if (w is None or h is None) and found is not None:
        w, h = image_size(found)
    out.images.append(ImageRef(key, name, found, w, h))
    for i, shape in enumerate(data["shapes"]):
        where = f"{rel}:shapes[{i}]"
        rec, reason = _shape(shape, key, w, h, annotator, where)
        if rec is None:
            out.problems.append(RecordProblem(where, reason or "invalid shape"))
            continue
        _add(rec, out)
    flags = data.get("flags")
    if flags is not None and not isinstance(flags, dict):
        got = _type(flags)
        out.problems.append(RecordProblem(f"{rel}:flags", f"expected an object of name: true/false, got {got}"))
    elif flags and flags_as_labels:
        for flag, value in flags.items():
            if value is True and flag.strip() and not _reserved(flag.strip()):
                rec = AnnotationRecord(key, flag.strip(), "image", annotator=annotator, record=f"{rel}:flags.{flag}")
                _add(rec, out)


def _reserved(name: str) -> bool:
    """labelme's reserved names (``__ignore__``), which are not classes."""
    return len(name) > 4 and name.startswith("__") and name.endswith("__")


def _add(rec: AnnotationRecord, out: ImportResult) -> None:
    if rec.class_name not in out.categories:
        out.categories.append(rec.class_name)
    out.annotations.append(rec)


def _find_image(
    name: str, f: Path, base: Path, resolver: ImageResolver, rel: str, key: str, out: ImportResult
) -> Path | None:
    """The image file: ``imagePath`` from the JSON's folder (or its mirror under the root), else its base name."""
    root = resolver.root
    json_dir = os.path.realpath(f.parent)
    mirror = os.path.normpath(os.path.join(root, os.path.relpath(f.parent, base)))
    first = json_dir if resolver.inside(json_dir) else mirror
    found, escaped = resolver.find(name, [first])
    if escaped:
        out.problems.append(RecordProblem(rel, f"{ESCAPES}: {name}", image_key=key))
        return None
    if found is None:
        short = name.replace("\\", "/").rsplit("/", 1)[-1]
        bases = [b for b in dict.fromkeys([first, mirror, root]) if resolver.inside(b)]
        for cand in dict.fromkeys([name, short] if short not in ("", ".", "..") else [name]):
            found, _ = resolver.find(cand, bases)  # the resolver never returns a path outside the root
            if found is not None:
                break
    return found


def _size(data: dict[str, Any], rel: str, out: ImportResult) -> tuple[int | None, int | None]:
    """``imageWidth`` / ``imageHeight`` when both are positive integers; else a problem and (None, None)."""
    sizes: list[int | None] = []
    for k in ("imageWidth", "imageHeight"):
        v = data.get(k)
        if isinstance(v, float) and math.isfinite(v) and v.is_integer():
            v = int(v)
        if v is None:
            sizes.append(None)
        elif isinstance(v, int) and not isinstance(v, bool) and 0 < v <= _MAX_SIZE:
            sizes.append(v)
        else:
            out.problems.append(RecordProblem(rel, f"{k}: expected a positive integer, got {v!r:.40}; "
                                                   "the image file's size is used"))
            return None, None
    return sizes[0], sizes[1]


def _shape(
    shape: Any, key: str, w: int | None, h: int | None, annotator: str | None, where: str
) -> tuple[AnnotationRecord | None, str | None]:
    if not isinstance(shape, dict):
        return None, f"expected a shape object, got {_type(shape)}"
    stype = shape.get("shape_type")
    stype = "polygon" if stype is None else stype
    if not isinstance(stype, str):
        return None, f"shape_type: expected text, got {_type(stype)}"
    if stype in _UNSUPPORTED:
        return None, f"{_UNSUPPORTED[stype]} are not supported (skipped)"
    if stype not in ("rectangle", "polygon", "oriented_rectangle", "circle"):
        return None, f"unknown shape_type {stype!r:.40} (skipped)"
    label = shape.get("label")
    if not isinstance(label, str) or not label.strip():
        return None, f"label: expected a class name, got {label!r:.40}"
    if _reserved(label.strip()):
        return None, f"label {label.strip()!r:.40} is reserved by labelme (a region to ignore), not a class (skipped)"
    points = _points(shape.get("points"))
    if isinstance(points, str):
        return None, f"points: {points}"
    attrs = _attributes(shape)
    rec = AnnotationRecord(key, label.strip(), annotator=annotator, attributes=attrs, record=where)
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    if stype == "rectangle":
        if len(points) not in (2, 4):
            return None, f"points: a rectangle needs 2 corners, got {len(points)} points"
        box: tuple[float, float, float, float] = (min(xs), min(ys), max(xs), max(ys))
    elif stype == "circle":
        if len(points) != 2:
            return None, f"points: a circle needs its centre and a point on it, got {len(points)} points"
        (cx, cy), (px, py) = points
        r = math.hypot(px - cx, py - cy)
        box = (cx - r, cy - r, cx + r, cy + r)
        attrs["shape"] = "circle"
        if w and h and r > 0 and math.isfinite(r):
            clipped = (max(box[0], 0.0), max(box[1], 0.0), min(box[2], float(w)), min(box[3], float(h)))
            if max(abs(a - b) for a, b in zip(box, clipped, strict=True)) > 1.0:
                attrs["clipped"] = True
            box = clipped
    else:
        if stype == "oriented_rectangle" and len(points) != 4:
            return None, f"points: an oriented rectangle needs 4 corners, got {len(points)} points"
        if len(points) < 3:
            return None, f"points: a polygon needs at least 3 points, got {len(points)}"
        rec.polygon = [[v for p in points for v in p]]
        box = polygon_bbox(rec.polygon) or (0.0, 0.0, 0.0, 0.0)
        if stype == "oriented_rectangle":
            attrs["shape"] = stype
    checked, reason, clipped_box = check_box(box, w, h)
    if checked is None:
        return None, reason
    if clipped_box:
        attrs["clipped"] = True
    rec.bbox = checked
    return rec, None


def _points(value: Any) -> _Points | str:
    """``[[x, y], ...]`` as float pairs, or why not."""
    if not isinstance(value, list) or not value:
        return f"expected a list of [x, y] pairs, got {'an empty list' if isinstance(value, list) else _type(value)}"
    out: _Points = []
    for j, p in enumerate(value):
        if not isinstance(p, list) or len(p) != 2 or not all(
            isinstance(v, (int, float)) and not isinstance(v, bool) for v in p
        ):
            return f"point {j} is not an [x, y] pair of numbers: {p!r:.40}"
        try:
            x, y = float(p[0]), float(p[1])
        except OverflowError:
            return f"point {j} has a coordinate too large for a float"
        if not (math.isfinite(x) and math.isfinite(y)):
            return f"point {j} has non-finite coordinates: {p!r:.40}"
        out.append((x, y))
    return out


def _attributes(shape: dict[str, Any]) -> dict[str, Any]:
    attrs: dict[str, Any] = {}
    gid = shape.get("group_id")
    if (isinstance(gid, int) and not isinstance(gid, bool) and abs(gid) < 2**63) or (
        isinstance(gid, str) and gid
    ):
        attrs["group_id"] = gid
    desc = shape.get("description")
    if isinstance(desc, str) and desc.strip():
        attrs["description"] = desc
    flags = shape.get("flags")
    if isinstance(flags, dict):
        kept = {str(k): v for k, v in flags.items() if isinstance(v, bool)}
        if kept:
            attrs["flags"] = kept
    return attrs
