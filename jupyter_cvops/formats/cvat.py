"""CVAT for images 1.1 XML (task, job or project export): reader.

Boxes (also rotated ones: their enclosing box, with ``attributes["rotation"]``),
polygons (box = their extent), masks (box = the mask's extent) and tags (image-level
labels) are read; polylines, points, ellipses, cuboids and skeletons are skipped with
a problem each.  CVAT records no annotator per shape: the ``annotator`` argument is
used when given, else the task's assignee, else its owner (``<meta>``).  CVAT records
no time per shape either, so ``created_at`` stays None (stable ids on re-import).
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

from ._common import ESCAPES, ImageResolver, check_box, load_xml, polygon_bbox, rotated_bbox, to_int
from ._types import AnnotationRecord, ImageRef, ImportResult, RecordProblem

_SHAPES = {"box", "polygon", "mask", "tag"}
_UNSUPPORTED = {
    "polyline": "polylines", "points": "points", "ellipse": "ellipses",
    "cuboid": "cuboids", "skeleton": "skeletons", "track": "tracks (video annotations)",
}


def read(
    path: str | Path, *, data_root: str | Path | None = None, annotator: str | None = None
) -> ImportResult:
    """Read a CVAT for images 1.1 ``annotations.xml``.

    Images are looked up under ``data_root`` (default: the XML's folder) in
    ``images/<subset>/``, ``images/``, ``<subset>/`` and the root.  Image keys are the
    CVAT image id, prefixed by ``"<subset>/"`` when the image names a subset (project
    exports number images per task).  Labels must be declared in ``<meta>`` when it
    declares any.

    Parameters
    ----------
    path : the XML file.
    data_root : where image files may be; names resolving outside it are refused.
    annotator : annotator id for every label (default: task assignee, else owner).

    Examples
    --------
    >>> res = read("annotations.xml", data_root="frames")              # doctest: +SKIP
    >>> len(res.images), len(res.annotations), res.annotations[0].annotator  # doctest: +SKIP
    (48, 1030, 'anishgoyal1108')
    """
    path = Path(path)
    root_el = load_xml(path, "annotations")
    root = Path(data_root) if data_root is not None else path.parent
    out = ImportResult("cvat", str(path), [], [], [])
    meta = root_el.find("meta")
    labels, people = _meta(meta) if meta is not None else ([], {})
    out.categories = list(labels)
    known = set(labels)
    resolvers: dict[str, ImageResolver] = {}
    seen: set[str] = set()
    for i, im in enumerate(root_el.iter("image")):
        where = f"image[{i}]"
        iid, name = im.get("id"), im.get("name")
        if iid is None or not name:
            out.problems.append(RecordProblem(where, "image without an 'id' and a 'name'"))
            continue
        subset = im.get("subset") or ""
        key = f"{subset}/{iid}" if subset else iid
        if key in seen:
            out.problems.append(RecordProblem(where, f"duplicate image id {key!r}"))
            continue
        seen.add(key)
        w, h = to_int(im.get("width")), to_int(im.get("height"))
        res = resolvers.get(subset)
        if res is None:
            res = resolvers[subset] = ImageResolver(root, [f"images/{subset}", "images", subset, ""])
        found, escaped = res.find(name)
        if escaped:
            out.problems.append(RecordProblem(where, f"{ESCAPES}: {name}"))
        out.images.append(ImageRef(key, name, found, w, h))
        who = annotator or people.get(im.get("task_id") or "") or people.get("")
        for j, shape in enumerate(im):
            rec_where = f"{where}/{shape.tag}[{j}]"
            rec, reason = _shape(shape, key, w, h, who, rec_where)
            if rec is None:
                if reason:
                    out.problems.append(RecordProblem(rec_where, reason))
                continue
            if known and rec.class_name not in known:
                out.problems.append(RecordProblem(rec_where, f"label {rec.class_name!r} is not declared in <meta>"))
                continue
            if rec.class_name not in out.categories:
                out.categories.append(rec.class_name)
            if subset:
                rec.attributes["subset"] = subset
            out.annotations.append(rec)
    for t, _track in enumerate(root_el.findall("track")):
        out.problems.append(RecordProblem(f"track[{t}]", f"{_UNSUPPORTED['track']} are not supported (skipped)"))
    return out


def _meta(meta: ET.Element) -> tuple[list[str], dict[str, str]]:
    """Declared label names, and the annotator guess per task id ('' = the export's default)."""
    labels: list[str] = []
    for lab in meta.iter("label"):
        name = (lab.findtext("name") or "").strip()
        if name and name not in labels:
            labels.append(name)
    people: dict[str, str] = {}
    for task in [*meta.iter("task"), *meta.iter("job"), *meta.iter("project")]:
        who = _username(task.find("assignee")) or _username(task.find("owner"))
        tid = (task.findtext("id") or "").strip()
        if who:
            people.setdefault(tid, who)
            people.setdefault("", who)
    return labels, people


def _username(el: ET.Element | None) -> str | None:
    if el is None:
        return None
    name = (el.findtext("username") or el.text or "").strip()
    return name or None


def _shape(
    el: ET.Element, key: str, w: int | None, h: int | None, who: str | None, where: str
) -> tuple[AnnotationRecord | None, str | None]:
    if el.tag in _UNSUPPORTED:
        return None, f"{_UNSUPPORTED[el.tag]} are not supported (skipped)"
    if el.tag not in _SHAPES:
        return None, f"unknown element <{el.tag}> (skipped)"
    label = el.get("label") or ""
    if not label:
        return None, f"<{el.tag}> without a label"
    attrs = _attributes(el)
    rec = AnnotationRecord(key, label, annotator=who, attributes=attrs, record=where)
    if el.tag == "tag":
        rec.kind = "image"
        return rec, None
    try:
        box = _geometry(el, rec)
    except (TypeError, ValueError):
        return None, f"<{el.tag}> has missing or non-numeric coordinates"
    if box is None:
        return None, f"<{el.tag}> has no points"
    checked, reason, clipped = check_box(box, w, h)
    if checked is None:
        return None, reason
    if clipped:
        attrs["clipped"] = True
    rec.bbox = checked
    return rec, None


def _geometry(el: ET.Element, rec: AnnotationRecord) -> Any:
    if el.tag == "box":
        x0, y0, x1, y1 = (float(el.get(k) or "") for k in ("xtl", "ytl", "xbr", "ybr"))
        angle = float(el.get("rotation") or 0.0)
        if angle:
            rec.attributes["rotation"] = angle
            return rotated_bbox(x0, y0, x1 - x0, y1 - y0, angle, about_center=True)
        return x0, y0, x1, y1
    if el.tag == "mask":
        left, top, width, height = (float(el.get(k) or "") for k in ("left", "top", "width", "height"))
        rec.attributes["shape"] = "mask"
        return left, top, left + width, top + height
    ring = [float(v) for pair in (el.get("points") or "").split(";") if pair for v in pair.split(",")]
    if len(ring) < 6 or len(ring) % 2:
        return None
    rec.polygon = [ring]
    return polygon_bbox(rec.polygon)


def _attributes(el: ET.Element) -> dict[str, Any]:
    attrs: dict[str, Any] = {}
    if el.get("occluded") in ("1", "true"):
        attrs["occluded"] = True
    if el.get("z_order") not in (None, "0"):
        z = el.get("z_order") or ""
        attrs["z_order"] = int(z) if z.lstrip("-").isdigit() else z
    if el.get("source"):
        attrs["source"] = el.get("source")
    if el.get("group_id") not in (None, "0"):
        attrs["group_id"] = el.get("group_id")
    for a in el.findall("attribute"):
        name = a.get("name")
        if name:
            attrs[name] = a.text or ""
    return attrs
