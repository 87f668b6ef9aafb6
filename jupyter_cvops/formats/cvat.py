"""CVAT for images 1.1 XML (task, job or project export): reader.

Boxes (also rotated ones: their enclosing box, with ``attributes["rotation"]``),
polygons (box = their extent), masks (box = the mask's extent) and tags (image-level
labels) are read; polylines, points, ellipses, cuboids and skeletons are skipped with
a problem each.  CVAT records no annotator per shape: the ``annotator`` argument is
used when given, else the task's assignee, else its owner (``<meta>``).  CVAT records
no time per shape either, so ``created_at`` stays None (stable ids on re-import).
"""

from __future__ import annotations

import math
import os
import xml.etree.ElementTree as ET
from collections.abc import Mapping, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from ._common import (
    check_box,
    check_writer_input,
    load_xml,
    polygon_bbox,
    rotated_bbox,
    safe_name,
    to_int,
    unique_name,
)
from ._files import ESCAPES, ImageResolver, Scope
from ._types import AnnotationRecord, ExportImage, ImageRef, ImportResult, RecordProblem
from ._writing import (
    CopyImages, attribute_text, group_by_image, number, place_image, relative_path, single_ring,
)

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
    if path.is_file():  # a symlink out of its folder (and data_root) is not read
        Scope([path.parent, data_root]).given(path)
    root_el = load_xml(path, "annotations")
    root = Path(data_root) if data_root is not None else path.parent
    out = ImportResult("cvat", str(path), [], [], [], data_root=os.path.realpath(root))
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
            # our exports name images relative to the XML: also under another data root holding it
            res = resolvers[subset] = ImageResolver(
                root, [f"images/{subset}", "images", subset, relative_path(path.parent, root), ""])
        found, escaped = res.find(name)
        if escaped:
            out.problems.append(RecordProblem(where, f"{ESCAPES}: {name}", image_key=key))
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
    if not all(math.isfinite(v) for v in ring):
        raise ValueError("non-finite polygon coordinates")
    rec.polygon = [ring]
    return polygon_bbox(rec.polygon)


def _attributes(el: ET.Element) -> dict[str, Any]:
    attrs: dict[str, Any] = {}
    if el.get("occluded") in ("1", "true"):
        attrs["occluded"] = True
    if el.get("z_order") not in (None, "0"):
        z = el.get("z_order") or ""
        digits = z.removeprefix("-")  # ASCII digits only: int() refuses "²" and 5,000-digit text
        attrs["z_order"] = int(z) if digits.isascii() and digits.isdigit() and len(digits) <= 18 else z
    if el.get("source"):
        attrs["source"] = el.get("source")
    if el.get("group_id") not in (None, "0"):
        attrs["group_id"] = el.get("group_id")
    for a in el.findall("attribute"):
        name = a.get("name")
        if name:
            attrs[name] = a.text or ""
    return attrs


# -- writer ------------------------------------------------------------------------------------------------
#: Attributes written as XML attributes of the shape (the reader reads them back from there).
_XML_ATTRS = ("occluded", "z_order", "source", "group_id")
#: Attributes that describe where a label came from in its source file, not the label: not written.
_NOT_WRITTEN = {"subset", "clipped"}


def write(
    out_dir: str | Path,
    images: Sequence[ExportImage],
    annotations: Sequence[AnnotationRecord],
    categories: Sequence[str],
    *,
    copy_images: CopyImages = False,
    meta: Mapping[str, Any] | None = None,
) -> Path:
    """Write CVAT for images 1.1 XML: ``annotations.xml`` (and ``images/`` when copying).

    Boxes are ``<box>`` (coordinates at full float precision, ``source="manual"``), an
    object whose polygon is one ring spanning its box is a ``<polygon>``, image-level
    labels are ``<tag>``; other attributes become ``<attribute>`` children, declared per
    label in ``<meta>`` as text attributes.

    CVAT keeps no annotator per shape; :func:`read` takes it from the task's assignee.
    So labels of one annotator give a **task** export (``<meta><task>`` with that owner
    and assignee, images flat under ``images/``), labels of several a **project**
    export: one task per (annotator, split) with that assignee, one ``<image>`` per
    (image, annotator) linked to its task by ``task_id`` and carrying its split as
    ``subset`` (images without labels go to the first annotator's task).  CVAT keeps no
    time per shape either: ``created_at`` is not written.  ``meta`` (e.g. the dataset
    version id) goes to ``<meta><cvops>`` and into the task name.

    Copied images (``copy_images=True``; ``"link"``: hard links) go where CVAT's own
    exports put them (``images/<name>``, in a project ``images/<subset>/<name>``) and
    ``name`` is the file name (re-imported by :func:`read` and workspaces with no
    options); otherwise no bytes are copied and ``name`` is the image's path relative
    to the XML's folder (``../../imgs/a.jpg``): readers refuse paths that leave the
    export, so read it with ``data_root`` set to a folder holding both the export and
    the images (their common ancestor), or into a workspace that has registered the
    images.  CVAT matches uploaded annotations to a task's frames by name, else by the
    ``<image id>`` (frame number, in image order).

    Returns
    -------
    Path
        The XML file (hand it to :func:`read`).

    Examples
    --------
    >>> img = ExportImage("k1", Path("/data/a.jpg"), "a.jpg", 640, 480, split="train")
    >>> rec = AnnotationRecord("k1", "dent", bbox=(10, 20, 110, 70), annotator="ana")
    >>> write("out", [img], [rec], ["dent"])                          # doctest: +SKIP
    PosixPath('out/annotations.xml')
    """
    check_writer_input(images, annotations, categories)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    per_image = group_by_image(annotations)
    people = sorted({a.annotator or "" for a in annotations}) or [""]
    project = len(people) > 1
    # one <image> per (image, annotator); a project has one task per (annotator, split), as CVAT's own
    elements: list[tuple[ExportImage, str, list[AnnotationRecord]]] = []
    for im in images:
        recs = per_image.get(im.key, [])
        for who in [w for w in people if any((a.annotator or "") == w for a in recs)] or [people[0]]:
            elements.append((im, who, [a for a in recs if (a.annotator or "") == who]))
    task_of: dict[tuple[str, str], str] = {}
    for im, who, _ in sorted(elements, key=lambda e: (e[1], e[0].split or "")):
        task_of.setdefault((who, im.split or "") if project else ("", ""), str(len(task_of) + 1))

    root = ET.Element("annotations")
    ET.SubElement(root, "version").text = "1.1"
    meta_el = ET.SubElement(root, "meta")
    version = meta.get("dataset_version") if meta else None
    title = "jupyter-cvops export" + (f" of dataset version {version}" if version else "")
    now = datetime.now(timezone.utc).isoformat(sep=" ")
    if not project:
        owner = _write_task(meta_el, "1", title, len(images), people[0], "", now)
    else:
        owner = ET.SubElement(meta_el, "project")
        for tag, text in (("id", "1"), ("name", title), ("created", now), ("updated", now)):
            ET.SubElement(owner, tag).text = text
        tasks = ET.SubElement(owner, "tasks")
        subsets: set[str] = set()
        for (who, split), tid in task_of.items():
            size = sum(1 for im, w, _ in elements if w == who and (im.split or "") == split)
            name = f"{title}: {who or 'unknown annotator'}" + (f", {split}" if split else "")
            _write_task(tasks, tid, name, size, who, "" if split in subsets else split, now)
            subsets.add(split)
    _write_labels(owner, categories, _declared_attributes(annotations))
    ET.SubElement(meta_el, "dumped").text = now
    if meta:
        cv = ET.SubElement(meta_el, "cvops")
        for k, v in meta.items():
            ET.SubElement(cv, "".join(c if c.isalnum() else "_" for c in str(k)) or "_").text = (
                "" if v is None else attribute_text(v))

    names: dict[str, str] = {}
    taken: dict[str, set[str]] = {}
    for n, (im, who, recs) in enumerate(elements):
        if im.key not in names:
            # a task's images sit in images/, a project's in images/<subset>/ (CVAT's layouts)
            folder = f"images/{safe_name(im.split)}" if project and im.split else "images"
            if copy_images:
                names[im.key] = unique_name(im.file_name, str(im.key), taken.setdefault(folder, set()))
                place_image(im.path, out_dir, f"{folder}/{names[im.key]}", copy_images)
            else:
                names[im.key] = place_image(im.path, out_dir, "", False)
        el = ET.SubElement(root, "image", {"id": str(n), "name": names[im.key], "width": str(im.width),
                                            "height": str(im.height)})
        if project:
            if im.split:
                el.set("subset", im.split)
            el.set("task_id", task_of[(who, im.split or "")])
        for a in recs:
            _write_shape(el, a)
    ET.indent(root)
    out = out_dir / "annotations.xml"
    ET.ElementTree(root).write(out, encoding="utf-8", xml_declaration=True)
    return out


def _write_task(parent: ET.Element, tid: str, name: str, size: int, who: str, subset: str, now: str) -> ET.Element:
    task = ET.SubElement(parent, "task")
    for tag, text in (("id", tid), ("name", name), ("size", str(size)), ("mode", "annotation"),
                      ("overlap", "0"), ("created", now), ("updated", now)):
        ET.SubElement(task, tag).text = text
    if subset:
        ET.SubElement(task, "subset").text = subset
    for role in ("owner", "assignee"):
        el = ET.SubElement(task, role)
        if who:
            ET.SubElement(el, "username").text = who
            ET.SubElement(el, "email").text = ""
    return task


def _declared_attributes(annotations: Sequence[AnnotationRecord]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for a in annotations:
        names = out.setdefault(a.class_name, [])
        for k in a.attributes:
            if k not in _XML_ATTRS and k not in _NOT_WRITTEN and k not in names:
                names.append(k)
    return out


def _write_labels(parent: ET.Element, categories: Sequence[str], declared: dict[str, list[str]]) -> None:
    labels = ET.SubElement(parent, "labels")
    for c in categories:
        lab = ET.SubElement(labels, "label")
        ET.SubElement(lab, "name").text = c
        ET.SubElement(lab, "type").text = "any"
        attrs = ET.SubElement(lab, "attributes")
        for k in declared.get(c, []):
            at = ET.SubElement(attrs, "attribute")
            for tag, text in (("name", k), ("mutable", "False"), ("input_type", "text"),
                              ("default_value", ""), ("values", "")):
                ET.SubElement(at, tag).text = text


def _write_shape(image_el: ET.Element, a: AnnotationRecord) -> None:
    attrs = a.attributes
    xml: dict[str, str] = {"label": a.class_name, "source": str(attrs.get("source") or "manual")}
    if a.kind == "image" or a.bbox is None:
        el = ET.SubElement(image_el, "tag", xml)
    else:
        xml["occluded"] = "1" if attrs.get("occluded") in (True, "1", "true") else "0"
        ring = single_ring(a)
        if ring is not None:
            xml["points"] = ";".join(f"{number(x)},{number(y)}" for x, y in zip(ring[0::2], ring[1::2], strict=True))
            tag = "polygon"
        else:
            x0, y0, x1, y1 = (float(v) for v in a.bbox)
            xml.update(xtl=number(x0), ytl=number(y0), xbr=number(x1), ybr=number(y1))
            tag = "box"
        xml["z_order"] = str(attrs.get("z_order", 0))
        el = ET.SubElement(image_el, tag, xml)
    if attrs.get("group_id") not in (None, "", "0", 0):
        el.set("group_id", str(attrs["group_id"]))
    for k, v in attrs.items():
        if k not in _XML_ATTRS and k not in _NOT_WRITTEN:
            ET.SubElement(el, "attribute", {"name": k}).text = attribute_text(v)
