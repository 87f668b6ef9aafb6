"""Pascal VOC XML (one ``<annotation>`` per image): reader.

Boxes are read as written (``xmin ymin xmax ymax`` are used as pixel xyxy, the
convention of datumaro and CVAT); ``pose``, ``truncated``, ``difficult``,
``occluded`` and ``actions`` go to ``attributes``.  Object parts (``<part>``) are
skipped with a problem each.  VOC names no annotator or time: ``annotator`` is used.
"""

from __future__ import annotations

import os
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

from ._common import check_box, image_size, load_xml, to_int
from ._files import ESCAPES, MAX_PER_IMAGE_BYTES, ImageResolver, Scope
from ._types import AnnotationRecord, FormatError, ImageRef, ImportResult, RecordProblem

_FLAGS = ("truncated", "difficult", "occluded")


def read(
    path: str | Path, *, data_root: str | Path | None = None, annotator: str | None = None
) -> ImportResult:
    """Read Pascal VOC: a dataset folder with ``Annotations/``, a folder of XML files, or one XML.

    Image keys are the XML file stems.  Images are looked up under ``data_root``
    (default: the dataset folder, i.e. the parent of ``Annotations/``, else the XML
    folder) in ``JPEGImages/`` or ``images/`` (any letter case), the XML folder and
    the root, by ``<filename>`` (also ``<folder>/<filename>``, and any image suffix
    when ``<filename>`` has none).  Without ``<size>``, the image file's header gives
    the size.

    Parameters
    ----------
    path : dataset folder, folder of XML files, or one XML file.
    data_root : where image files may be; names resolving outside it are refused.
    annotator : annotator id for every label.

    Examples
    --------
    >>> res = read("voc-neu-det")                                        # doctest: +SKIP
    >>> len(res.images), len(res.annotations), res.categories[:2]        # doctest: +SKIP
    (300, 681, ['crazing', 'inclusion'])
    """
    path = Path(path)
    # every file opened lies, symlinks resolved, in the dataset folder (or the folder named) or data_root
    scope = Scope([path if path.is_dir() else path.parent, data_root])
    files, root = _files(path, scope)
    data_root = Path(data_root) if data_root is not None else root
    real = os.path.realpath(data_root)
    img_dirs = [d.name for d in _subdirs(data_root) if d.name.lower() in ("jpegimages", "images")]
    xml_dirs = {os.path.relpath(os.path.realpath(f.parent), real) for f in files}
    resolver = ImageResolver(data_root, [*img_dirs, *sorted(xml_dirs), ""])
    out = ImportResult("voc", str(path), [], [], [], scope.problems, data_root=real)
    seen: set[str] = set()
    for f in files:
        ann = load_xml(f, "annotation", max_bytes=MAX_PER_IMAGE_BYTES)
        key = f.stem
        if key in seen:
            out.problems.append(RecordProblem(f.name, f"duplicate image key {key!r} (file stem)"))
            continue
        seen.add(key)
        _read_file(f, ann, key, resolver, annotator, out)
    return out


def _subdirs(p: Path) -> list[Path]:
    return sorted(d for d in p.iterdir() if d.is_dir()) if p.is_dir() else []


def _files(path: Path, scope: Scope) -> tuple[list[Path], Path]:
    """The XML files to read (those symlinked out of the scope refused), and the dataset's natural root."""
    if path.is_file():
        folder = path.parent
        scope.given(path)
        return [path], folder.parent if folder.name.lower() == "annotations" else folder
    if not path.is_dir():
        raise FormatError(f"{path.name}: no such file or folder")
    ann_dir = next((d for d in _subdirs(path) if d.name.lower() == "annotations"), None)
    if ann_dir is not None:
        root, folder = path, ann_dir
    else:
        folder = path
        root = path.parent if path.name.lower() == "annotations" else path
    files = sorted(f for f in folder.iterdir() if f.suffix.lower() == ".xml" and f.is_file())
    if not files:
        raise FormatError(f"{path.name}: no VOC XML files found")
    scope.add(root)
    return scope.keep(files, path), root


def _read_file(
    f: Path, ann: ET.Element, key: str, resolver: ImageResolver, annotator: str | None, out: ImportResult
) -> None:
    name = (ann.findtext("filename") or "").strip()
    if not name:
        out.problems.append(RecordProblem(f.name, "missing required <filename>; file skipped"))
        return
    found, escaped = resolver.find(name)
    folder = (ann.findtext("folder") or "").strip()
    if found is None and not escaped and folder:
        found, escaped = resolver.find(f"{folder}/{name}")
    if found is None and not escaped and not Path(name).suffix:
        found, escaped = resolver.find_stem([""], name)  # real exports omit the extension
    if escaped:
        out.problems.append(RecordProblem(f.name, f"{ESCAPES}: {name}", image_key=key))
        found = None
    size = ann.find("size")
    w = to_int(size.findtext("width")) if size is not None else None
    h = to_int(size.findtext("height")) if size is not None else None
    if (w is None or h is None) and found is not None:
        w, h = image_size(found)
    out.images.append(ImageRef(key, name, found, w, h))
    for i, obj in enumerate(ann.findall("object")):
        where = f"{f.name}:object[{i}]"
        rec, reason = _object(obj, key, w, h, annotator, where)
        if rec is None:
            out.problems.append(RecordProblem(where, reason or "invalid object"))
            continue
        if rec.class_name not in out.categories:
            out.categories.append(rec.class_name)
        out.annotations.append(rec)
        for j, _ in enumerate(obj.findall("part")):
            out.problems.append(RecordProblem(f"{where}/part[{j}]", "object parts are not supported (skipped)"))


def _object(
    obj: ET.Element, key: str, w: int | None, h: int | None, annotator: str | None, where: str
) -> tuple[AnnotationRecord | None, str | None]:
    name = (obj.findtext("name") or "").strip()
    if not name:
        return None, "missing required <name>"
    bb = obj.find("bndbox")
    if bb is None:
        return None, "missing required <bndbox>"
    try:
        box = tuple(float(bb.findtext(k) or "") for k in ("xmin", "ymin", "xmax", "ymax"))
    except ValueError:
        return None, "<bndbox> needs numeric xmin, ymin, xmax and ymax"
    checked, reason, clipped = check_box(box, w, h)
    if checked is None:
        return None, reason
    attrs: dict[str, Any] = {}
    pose = (obj.findtext("pose") or "").strip()
    if pose and pose != "Unspecified":
        attrs["pose"] = pose
    for flag in _FLAGS:
        if (obj.findtext(flag) or "").strip() in ("1", "true"):
            attrs[flag] = True
    actions = obj.find("actions")
    if actions is not None:
        attrs["actions"] = sorted(a.tag for a in actions if (a.text or "").strip() in ("1", "true"))
    if clipped:
        attrs["clipped"] = True
    return AnnotationRecord(key, name, bbox=checked, annotator=annotator, attributes=attrs, record=where), None
