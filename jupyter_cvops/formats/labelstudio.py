"""Label Studio JSON export (list of tasks with annotations): reader.

Every annotation of a task is kept with its own annotator (``completed_by``, else
``last_created_by`` / ``updated_by``: the user's email when the export has it, else
the user id; the ``annotator`` argument only when none is there) and ``created_at``;
``updated_at`` goes to ``attributes``.  Rectangles (rotated ones as their enclosing
box, with ``attributes["rotation"]``), polygons and image-level choices are read;
keypoints, brushes, ellipses, text and other result types are skipped with a problem.
Percent coordinates become pixels with the task's ``original_width`` /
``original_height`` (or the image file's size when those are absent).  Cancelled
annotations and model predictions are not labels and are not read.
"""

from __future__ import annotations

import json
import math
import os
import xml.etree.ElementTree as ET
from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, unquote, urlparse

from ._common import (
    check_box,
    check_writer_input,
    format_time,
    image_size,
    load_json,
    load_xml,
    parse_time,
    polygon_bbox,
    rotated_bbox,
    safe_name,
    short,
    to_int,
    unique_name,
)
from ._files import ESCAPES, MAX_CONFIG_BYTES, ImageResolver, Scope
from ._types import AnnotationRecord, ExportImage, FormatError, ImageRef, ImportResult, Kind, RecordProblem
from ._writing import CopyImages, group_by_image, place_image, relative_path, single_ring

#: Result types that carry labels we read, and the key of their label list.
_READ = {"rectanglelabels": "rectanglelabels", "polygonlabels": "polygonlabels", "choices": "choices",
         "rectangle": "labels", "polygon": "labels"}
_UNSUPPORTED = {"keypointlabels": "keypoints", "keypoint": "keypoints", "brushlabels": "brush masks",
                "brush": "brush masks", "ellipselabels": "ellipses", "ellipse": "ellipses",
                "textarea": "text answers (captions)", "polygonlines": "polylines"}
_CONTROLS = {"rectanglelabels", "polygonlabels", "labels", "choices"}
_USER_KEYS = ("completed_by", "last_created_by", "updated_by")
_NO_SIZE = "image size unknown: percent coordinates cannot be converted"
_Geometry = tuple[Any, "list[list[float]] | None", float]


def read(
    path: str | Path,
    *,
    data_root: str | Path | None = None,
    annotator: str | None = None,
    label_config: str | Path | None = None,
) -> ImportResult:
    """Read a Label Studio JSON export.

    Image keys are task ids.  The task's image URL names the file: ``/data/upload/..``
    and ``/data/local-files/?d=..`` URLs and plain names are looked up under
    ``data_root`` (default: the JSON's folder), also by base name and by
    ``file_upload``; ``http(s)://`` / ``s3://`` images have no local path.  Labels
    are checked against the labeling config (``label_config``: a file or XML text;
    default ``label_config.xml`` beside the export, when there).

    Parameters
    ----------
    path : the export JSON (a list of tasks).
    data_root : where image files may be; names resolving outside it are refused.
    annotator : annotator id for annotations that name no user.
    label_config : labeling config file or XML text.

    Examples
    --------
    >>> res = read("test_export_yolo/data.json")                      # doctest: +SKIP
    >>> sorted({a.annotator for a in res.annotations}), len(res.annotations)  # doctest: +SKIP
    (['1', '2'], 6)
    """
    path = Path(path)
    # the export, and the labeling config found beside it, lie (symlinks resolved) in its folder or data_root
    scope = Scope([path.parent, data_root])
    if path.is_file():
        scope.given(path)
    tasks = load_json(path)
    if not isinstance(tasks, list):
        raise FormatError(f"{path.name}: expected a JSON list of tasks, got {type(tasks).__name__}")
    controls = _config(path, label_config, scope)
    allowed = {v for vals in controls.values() for v in vals}
    out = ImportResult("labelstudio", str(path), [], [], [], scope.problems)
    for vals in controls.values():
        out.categories.extend(v for v in vals if v not in out.categories)
    root = data_root if data_root is not None else path.parent
    # our exports name images relative to the JSON: also under another data root holding it
    resolver = ImageResolver(root, ["", "upload", "media/upload", relative_path(path.parent, root)])
    out.data_root = resolver.root
    seen_tasks: set[Any] = set()
    seen_anns: set[Any] = set()
    for i, task in enumerate(tasks):
        where = f"tasks[{i}]"
        tid = task.get("id") if isinstance(task, dict) else None
        if not isinstance(tid, (int, str)) or not isinstance(task.get("data"), dict):
            out.problems.append(RecordProblem(where, "task without an 'id' and 'data'"))
            continue
        key = str(task["id"])
        if key in seen_tasks:  # 7 and "7" are one key
            out.problems.append(RecordProblem(where, f"duplicate task id {short(task['id'])}"))
            continue
        seen_tasks.add(key)
        ref = _image(task, key, resolver, out.problems, where)
        out.images.append(ref)
        anns = task.get("annotations")
        if not isinstance(anns, list):
            if anns not in (None, "", {}):
                out.problems.append(RecordProblem(f"{where}.annotations", "'annotations' is not a list"))
            anns = []
        for j, ann in enumerate(anns):
            awhere = f"{where}.annotations[{j}]"
            if not isinstance(ann, dict) or not isinstance(ann.get("result", []), list):
                out.problems.append(RecordProblem(awhere, "annotation without a 'result' list"))
                continue
            if isinstance(ann.get("id"), (int, str)):
                if ann["id"] in seen_anns:
                    out.problems.append(RecordProblem(awhere, f"duplicate annotation id {ann['id']!r}"))
                    continue
                seen_anns.add(ann["id"])
            if ann.get("was_cancelled"):
                out.problems.append(RecordProblem(awhere, "annotation was cancelled (skipped)"))
                continue
            _annotation(ann, ref, controls, allowed, annotator, awhere, out)
    return out


def _config(path: Path, label_config: str | Path | None, scope: Scope) -> dict[str, list[str]]:
    """Label values per control name of the labeling config ({} without a config).

    The default ``label_config.xml`` is read only when it lies in the scope (a symlink out is a
    problem, and the labels go unchecked); a config the caller names is the caller's choice.
    """
    if label_config is None:
        default = path.parent / CONFIG_FILE
        if not default.is_file():
            return {}
        if not scope.ok(default):
            scope.refuse(CONFIG_FILE, CONFIG_FILE)
            return {}
        label_config = default
    text = str(label_config)
    if text.lstrip().startswith("<"):
        root = load_xml("label_config", "View", text=text)
    else:
        root = load_xml(Path(label_config), "View", max_bytes=MAX_CONFIG_BYTES)
    controls: dict[str, list[str]] = {}
    # one pass in document order, each Label/Choice going to its innermost control: a walk per
    # control would be quadratic on a deeply nested config
    stack: list[tuple[Any, list[str] | None]] = [(root, None)]
    while stack:
        el, vals = stack.pop()
        if el.tag.lower() in _CONTROLS:
            vals = controls[el.get("name") or el.tag] = []
        if vals is not None and el.tag in ("Label", "Choice") and el.get("value"):
            vals.append(el.get("value") or "")
        stack.extend((c, vals) for c in reversed(el))
    return controls


def _image(task: dict[str, Any], key: str, resolver: ImageResolver, problems: list[RecordProblem],
           where: str) -> ImageRef:
    data = task["data"]
    url = data.get("image")
    if not isinstance(url, str):
        url = next((v for v in data.values() if isinstance(v, str)), "")
    try:
        parsed = urlparse(url)
    except ValueError:  # e.g. "http://[::1": not a URL, no local file
        parsed = urlparse("invalid:")
    names: list[str] = []
    if parsed.scheme in ("", "file"):
        if parsed.path.startswith("/data/local-files"):
            names = parse_qs(parsed.query).get("d", [])
        else:
            rel = unquote(parsed.path).removeprefix("/data/").lstrip("/")
            names = [rel, os.path.basename(rel)] if rel else []
    if isinstance(task.get("file_upload"), str):
        names.append(task["file_upload"])
    found = None
    for name in dict.fromkeys(names):
        found, escaped = resolver.find(name)
        if escaped:
            problems.append(RecordProblem(where, f"{ESCAPES}: {name}", image_key=key))
            break
        if found is not None:
            break
    w = h = None
    anns = task.get("annotations")
    for ann in anns if isinstance(anns, list) else []:
        results = ann.get("result") if isinstance(ann, dict) else None
        for r in results if isinstance(results, list) else []:
            if isinstance(r, dict) and to_int(r.get("original_width")) and to_int(r.get("original_height")):
                w, h = to_int(r["original_width"]), to_int(r["original_height"])
                break
        if w:
            break
    if w is None:
        w, h = image_size(found)
    return ImageRef(key, url, found, w, h)


def _annotation(ann: dict[str, Any], ref: ImageRef, controls: dict[str, list[str]], allowed: set[str],
                annotator: str | None, where: str, out: ImportResult) -> None:
    who: Any = next((ann[k] for k in _USER_KEYS if ann.get(k) not in (None, "")), None)
    if isinstance(who, dict):
        who = who.get("email") or who.get("id")
    who = str(who) if isinstance(who, (str, int)) and not isinstance(who, bool) and who != "" else annotator
    created = parse_time(ann.get("created_at"))
    updated = ann.get("updated_at") if isinstance(ann.get("updated_at"), str) else None
    region_labels: dict[str, Any] = {}
    results = ann.get("result", [])  # a list (checked by the caller), or absent
    for r in results:
        if isinstance(r, dict) and r.get("type") == "labels" and isinstance(r.get("value"), dict):
            region_labels[str(r.get("id"))] = r["value"].get("labels")
    for k, r in enumerate(results):
        rwhere = f"{where}.result[{k}]"
        raw_type = r.get("type") if isinstance(r, dict) else None
        rtype = raw_type if isinstance(raw_type, str) else None
        if rtype == "labels":
            continue
        if rtype in _UNSUPPORTED:
            out.problems.append(RecordProblem(rwhere, f"{_UNSUPPORTED[rtype]} are not supported (skipped)"))
            continue
        value = r.get("value") if isinstance(r, dict) else None
        if rtype not in _READ or not isinstance(value, dict):
            out.problems.append(RecordProblem(rwhere, f"result type {short(raw_type)} is not supported (skipped)"))
            continue
        labels = value.get(_READ[rtype]) or region_labels.get(str(r.get("id"))) or []
        labels = [labels] if isinstance(labels, str) else labels
        if not isinstance(labels, list) or not labels:
            out.problems.append(RecordProblem(rwhere, "result without a label"))
            continue
        if not all(isinstance(label, str) and label for label in labels):
            out.problems.append(RecordProblem(rwhere, f"labels are not all non-empty text: {short(labels)}"))
            continue
        w = to_int(r.get("original_width")) or ref.width
        h = to_int(r.get("original_height")) or ref.height
        checked, polygon, rotation, clipped = None, None, 0.0, False
        if rtype != "choices":
            if not w or not h:
                out.problems.append(RecordProblem(rwhere, _NO_SIZE))
                continue
            geometry = _geometry(rtype, value, w, h)
            if isinstance(geometry, str):
                out.problems.append(RecordProblem(rwhere, geometry))
                continue
            box, polygon, rotation = geometry
            checked, reason, clipped = check_box(box, w, h)
            if checked is None:
                out.problems.append(RecordProblem(rwhere, reason or "invalid box"))
                continue
        from_name = r.get("from_name")
        own = controls.get(from_name) if isinstance(from_name, str) else None
        for label in labels:
            if controls and label not in (own if own is not None else allowed):
                out.problems.append(RecordProblem(rwhere, f"label {short(label)} is not in the labeling config"))
                continue
            attrs: dict[str, Any] = {"updated_at": updated} if updated else {}
            if clipped:
                attrs["clipped"] = True
            if rotation:
                attrs["rotation"] = rotation
            kind: Kind = "image" if rtype == "choices" else "box"
            rec = AnnotationRecord(ref.key, str(label), kind, checked, polygon, annotator=who, created_at=created,
                                   attributes=attrs, record=rwhere)
            if rec.class_name not in out.categories:
                out.categories.append(rec.class_name)
            out.annotations.append(rec)


def _geometry(rtype: str, value: dict[str, Any], w: int, h: int) -> _Geometry | str:
    """``(box, polygon, rotation)`` in pixels, or why the result cannot be read."""
    try:
        if rtype.startswith("rectangle"):
            x, y = float(value["x"]) * w / 100.0, float(value["y"]) * h / 100.0
            bw, bh = float(value["width"]) * w / 100.0, float(value["height"]) * h / 100.0
            rotation = float(value.get("rotation") or 0.0)
            if rotation:
                return rotated_bbox(x, y, bw, bh, rotation, about_center=False), None, rotation
            return (x, y, x + bw, y + bh), None, 0.0
        ring = [float(c) * (w if n % 2 == 0 else h) / 100.0 for pt in value["points"] for n, c in enumerate(pt[:2])]
    except (KeyError, TypeError, ValueError, IndexError, OverflowError):
        return f"{rtype} result with missing or non-numeric coordinates"
    if len(ring) < 6:
        return "polygon with fewer than 3 points"
    if not all(math.isfinite(v) for v in ring):
        return "polygon with non-finite coordinates"
    return polygon_bbox([ring]), [ring], 0.0


# -- writer ------------------------------------------------------------------------------------------------
#: What :func:`write` writes into ``out_dir``.
TASKS_FILE, CONFIG_FILE = "tasks.json", "label_config.xml"
#: Names of the object and control tags of the labeling config :func:`write` makes.
IMAGE_TAG, BOX_TAG, POLYGON_TAG, CLASS_TAG = "image", "label", "polygon", "class"
#: Where Label Studio serves local files from (``LABEL_STUDIO_LOCAL_FILES_DOCUMENT_ROOT`` + ``?d=``).
LOCAL_FILES = "/data/local-files/?d="


def write(
    out_dir: str | Path,
    images: Sequence[ExportImage],
    annotations: Sequence[AnnotationRecord],
    categories: Sequence[str],
    *,
    copy_images: CopyImages = False,
    meta: Mapping[str, Any] | None = None,
    as_annotations: bool = False,
    model_version: str | None = None,
) -> Path:
    """Write Label Studio tasks (``tasks.json``) and their labeling config (``label_config.xml``).

    Every task's labels are **pre-filled as predictions**: one prediction per annotator
    (``model_version`` ``"<model_version>: <annotator>"``, default ``model_version``
    ``"jupyter-cvops <dataset version id>"``), so annotators in Label Studio correct
    them rather than redraw them.  Predictions are not labels: reading the export back
    with :func:`read` gives the images and **no labels**.  With ``as_annotations=True``
    the same labels are also written as annotations (one per annotator and time, the
    annotator in ``last_created_by``: Label Studio's importer accepts only member ids or
    emails in ``completed_by`` and assigns imported annotations to the importing user),
    and :func:`read` gives them back (class, kind, box within 1e-9 px, annotator, time).

    Results use the config's names: ``RectangleLabels`` ``label``, ``PolygonLabels``
    ``polygon`` (written when an object's polygon is one ring spanning its box),
    ``Choices`` ``class`` (image-level labels; ``choice="multiple"`` when an annotator
    gave one image several), all on ``Image`` ``image``; coordinates are percent of
    ``original_width`` / ``original_height``.  Attributes are not written.

    ``data.image`` is a Label Studio local-files URL, ``/data/local-files/?d=<path>``,
    with the image's path relative to ``out_dir``: start Label Studio with
    ``LABEL_STUDIO_LOCAL_FILES_SERVING_ENABLED=true`` and
    ``LABEL_STUDIO_LOCAL_FILES_DOCUMENT_ROOT=<out_dir>`` (and a Local Files storage under
    it) to see the images.  That needs them inside ``out_dir``: ``copy_images=True``
    (``"link"``: hard links) puts them in ``images/<split>/``, and :func:`read` and
    workspaces re-import the export with no options.  Otherwise the path climbs out of
    ``out_dir`` (``../../imgs/a.jpg``), which Label Studio does not serve and readers
    refuse unless ``data_root`` is a folder holding both the export and the images
    (their common ancestor), or a workspace has registered the images.  ``meta`` (e.g.
    the dataset version id) goes into every task's ``meta.cvops``, beside the image's
    key and split.

    Returns
    -------
    Path
        The tasks file (hand it to :func:`read`; it finds ``label_config.xml`` beside it).

    Examples
    --------
    >>> img = ExportImage("k1", Path("/data/a.jpg"), "a.jpg", 640, 480)
    >>> rec = AnnotationRecord("k1", "dent", bbox=(10, 20, 110, 70), annotator="ana")
    >>> write("out", [img], [rec], ["dent"])                          # doctest: +SKIP
    PosixPath('out/tasks.json')
    """
    check_writer_input(images, annotations, categories)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    per_image = group_by_image(annotations)
    version = meta.get("dataset_version") if meta else None
    source = model_version or "jupyter-cvops" + (f" {version}" if version else "")
    polygons = any(a.kind == "box" and single_ring(a) is not None for a in annotations)
    multiple = False
    tasks: list[dict[str, Any]] = []
    taken: dict[str, set[str]] = {}
    n_ann = 0
    for n, im in enumerate(images, start=1):
        if copy_images:
            folder = f"images/{safe_name(im.split)}" if im.split else "images"
            name = unique_name(im.file_name, str(im.key), taken.setdefault(folder, set()))
            rel = place_image(im.path, out_dir, f"{folder}/{name}", copy_images)
        else:
            rel = place_image(im.path, out_dir, "", False)
        info: dict[str, Any] = {"image_key": im.key, "split": im.split, **(meta or {})}
        task: dict[str, Any] = {"id": n, "data": {IMAGE_TAG: LOCAL_FILES + quote(rel, safe="/")},
                                "meta": {"cvops": info}, "predictions": []}
        by_who: dict[str | None, list[AnnotationRecord]] = {}
        for a in per_image.get(im.key, []):
            by_who.setdefault(a.annotator, []).append(a)
        for who, recs in by_who.items():
            result, several = _write_results(recs, im)
            multiple = multiple or several
            task["predictions"].append({"model_version": f"{source}: {who}" if who else source, "result": result})
        if as_annotations:
            task["annotations"] = []
            by_time: dict[tuple[str | None, datetime | None], list[AnnotationRecord]] = {}
            for a in per_image.get(im.key, []):
                by_time.setdefault((a.annotator, a.created_at), []).append(a)
            for (who, when), recs in by_time.items():
                n_ann += 1
                ann: dict[str, Any] = {"id": n_ann, "result": _write_results(recs, im)[0],
                                       "was_cancelled": False, "ground_truth": False}
                if when is not None:
                    ann["created_at"] = format_time(when)
                if who is not None:
                    ann["last_created_by"] = who
                task["annotations"].append(ann)
        tasks.append(task)
    out = out_dir / TASKS_FILE
    out.write_text(json.dumps(tasks, ensure_ascii=False, indent=1, default=str), encoding="utf-8")
    (out_dir / CONFIG_FILE).write_text(label_config(categories, polygons=polygons, multiple=multiple),
                                       encoding="utf-8")
    return out


def label_config(categories: Sequence[str], *, polygons: bool = False, multiple: bool = False) -> str:
    """The labeling config :func:`write` pairs with its tasks: boxes (and polygons) and image classes.

    Examples
    --------
    >>> print(label_config(["dent", "ok"]))
    <View>
      <Image name="image" value="$image" />
      <RectangleLabels name="label" toName="image">
        <Label value="dent" />
        <Label value="ok" />
      </RectangleLabels>
      <Choices name="class" toName="image" choice="single">
        <Choice value="dent" />
        <Choice value="ok" />
      </Choices>
    </View>
    """
    view = ET.Element("View")
    ET.SubElement(view, "Image", {"name": IMAGE_TAG, "value": f"${IMAGE_TAG}"})
    controls = [("RectangleLabels", BOX_TAG)] + ([("PolygonLabels", POLYGON_TAG)] if polygons else [])
    for tag, name in controls:
        el = ET.SubElement(view, tag, {"name": name, "toName": IMAGE_TAG})
        for c in categories:
            ET.SubElement(el, "Label", {"value": c})
    choices = ET.SubElement(view, "Choices", {"name": CLASS_TAG, "toName": IMAGE_TAG,
                                              "choice": "multiple" if multiple else "single"})
    for c in categories:
        ET.SubElement(choices, "Choice", {"value": c})
    ET.indent(view)
    return ET.tostring(view, encoding="unicode")


def _write_results(recs: Sequence[AnnotationRecord], im: ExportImage) -> tuple[list[dict[str, Any]], bool]:
    """Label Studio results of one annotator's labels of one image, and whether it gave several classes."""
    w, h = float(im.width), float(im.height)
    size = {"original_width": im.width, "original_height": im.height, "image_rotation": 0}
    out: list[dict[str, Any]] = []
    classes: list[str] = []
    for a in recs:
        if a.kind == "image" or a.bbox is None:
            classes.append(a.class_name)
            continue
        rid = f"r{len(out) + 1}"
        ring = single_ring(a)
        if ring is not None:
            points = [[x * 100.0 / w, y * 100.0 / h] for x, y in zip(ring[0::2], ring[1::2], strict=True)]
            out.append({"id": rid, "type": "polygonlabels", "from_name": POLYGON_TAG, "to_name": IMAGE_TAG, **size,
                        "value": {"points": points, "closed": True, "polygonlabels": [a.class_name]}})
            continue
        x0, y0, x1, y1 = (float(v) for v in a.bbox)
        value = {"x": x0 * 100.0 / w, "y": y0 * 100.0 / h, "width": (x1 - x0) * 100.0 / w,
                 "height": (y1 - y0) * 100.0 / h, "rotation": 0, "rectanglelabels": [a.class_name]}
        out.append({"id": rid, "type": "rectanglelabels", "from_name": BOX_TAG, "to_name": IMAGE_TAG, **size,
                    "value": value})
    if classes:
        out.append({"id": f"r{len(out) + 1}", "type": "choices", "from_name": CLASS_TAG, "to_name": IMAGE_TAG,
                    "value": {"choices": classes}})
    return out, len(classes) > 1
