"""Helpers shared by the format writers: where an exported image goes, how the export names it,
and which geometry a box-and-polygon tool can carry without losing the box.

Exports name images by **relative** paths, from the folder of the file that names them: copied
(or linked) images sit inside the export, others are reached with ``..`` from it, so an export
and its image tree move together.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

from ._types import AnnotationRecord

#: ``False``: point at the files where they are; ``True``: copy them into the export;
#: ``"link"``: hard-link them into the export (a copy where the file system cannot link).
CopyImages = bool | Literal["link"]

#: A polygon stands for its object only when its extent is the object's box within this (pixels).
POLYGON_BOX_TOLERANCE = 1e-6


def check_copy_images(copy_images: object) -> None:
    """Refuse anything but ``False``, ``True`` or ``"link"``.

    Examples
    --------
    >>> check_copy_images("link")
    >>> check_copy_images("symlink")
    Traceback (most recent call last):
    ...
    ValueError: copy_images must be False, True or 'link', got 'symlink'
    """
    if not (copy_images is True or copy_images is False or copy_images == "link"):
        raise ValueError(f"copy_images must be False, True or 'link', got {copy_images!r}")


def relative_path(target: str | Path, start: str | Path) -> str:
    """POSIX path of ``target`` relative to the folder ``start`` (absolute where none exists, e.g. another drive).

    Examples
    --------
    >>> relative_path("/data/imgs/a.jpg", "/data/exports/cvat")
    '../../imgs/a.jpg'
    """
    target_abs, start_abs = os.path.abspath(target), os.path.abspath(start)
    try:
        return Path(os.path.relpath(target_abs, start_abs)).as_posix()
    except ValueError:  # no relative path between drives
        return Path(target_abs).as_posix()


def place_image(src: Path, out_dir: Path, dest_rel: str, copy_images: CopyImages, *,
                relative_to: Path | None = None) -> str:
    """Copy or link ``src`` to ``out_dir/dest_rel`` when asked; return where the image is, relative to
    ``relative_to`` (default ``out_dir``).

    ``"link"`` makes a hard link (the bytes are not duplicated) and falls back to a copy
    across file systems.  Symbolic links are never made: readers refuse links that point
    out of their data root.  An existing file at the destination is replaced.

    Examples
    --------
    >>> place_image(Path("/data/a.jpg"), Path("/data/out"), "images/a.jpg", False)
    '../a.jpg'
    """
    check_copy_images(copy_images)
    target = src
    if copy_images:
        target = out_dir / dest_rel
        target.parent.mkdir(parents=True, exist_ok=True)
        if target.exists() or target.is_symlink():
            if target.exists() and os.path.samefile(src, target):
                return relative_path(target, relative_to or out_dir)
            target.unlink()
        if copy_images == "link":
            try:
                os.link(src, target)
            except OSError:  # another file system, or links not allowed: copy
                shutil.copy2(src, target)
        else:
            shutil.copy2(src, target)
    return relative_path(target, relative_to or out_dir)


def single_ring(rec: AnnotationRecord) -> list[float] | None:
    """The record's polygon when it is one ring whose extent is the record's box, else None.

    A tool that derives the box from the polygon then gives the same box back; other
    shapes (several rings, a box wider than its polygon) are written as boxes.

    Examples
    --------
    >>> single_ring(AnnotationRecord("k", "a", bbox=(0, 0, 4, 2), polygon=[[0, 0, 4, 0, 4, 2]]))
    [0.0, 0.0, 4.0, 0.0, 4.0, 2.0]
    >>> single_ring(AnnotationRecord("k", "a", bbox=(0, 0, 5, 2), polygon=[[0, 0, 4, 0, 4, 2]])) is None
    True
    """
    if rec.bbox is None or not rec.polygon or len(rec.polygon) != 1:
        return None
    ring = [float(v) for v in rec.polygon[0]]
    if len(ring) < 6 or len(ring) % 2:
        return None
    extent = (min(ring[0::2]), min(ring[1::2]), max(ring[0::2]), max(ring[1::2]))
    if max(abs(a - float(b)) for a, b in zip(extent, rec.bbox, strict=True)) > POLYGON_BOX_TOLERANCE:
        return None
    return ring


def attribute_text(value: Any) -> str:
    """Text of an attribute value for formats whose attributes are strings (CVAT).

    Examples
    --------
    >>> attribute_text("v3"), attribute_text(True), attribute_text(2.5), attribute_text({"a": 1})
    ('v3', 'true', '2.5', '{"a": 1}')
    """
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    return json.dumps(value, sort_keys=True, default=str)


def number(v: float) -> str:
    """Shortest text that reads back as exactly ``v`` (coordinates in XML attributes).

    Examples
    --------
    >>> number(1201.2), number(3.0), number(1 / 3)
    ('1201.2', '3', '0.3333333333333333')
    """
    text = repr(float(v))
    return text[:-2] if text.endswith(".0") else text


def group_by_image(annotations: Sequence[AnnotationRecord]) -> dict[str, list[AnnotationRecord]]:
    """Records per image key, in their order.

    Examples
    --------
    >>> recs = [AnnotationRecord("a", "x"), AnnotationRecord("b", "y"), AnnotationRecord("a", "z")]
    >>> {k: [r.class_name for r in v] for k, v in group_by_image(recs).items()}
    {'a': ['x', 'z'], 'b': ['y']}
    """
    out: dict[str, list[AnnotationRecord]] = {}
    for a in annotations:
        out.setdefault(a.image_key, []).append(a)
    return out
