"""COCO object-detection JSON (``instances_*.json``, Roboflow, datumaro): reader and writer.

Reading keeps boxes (``bbox`` xywh -> pixel xyxy), polygons and RLE masks, datumaro's
per-annotation ``attributes``, and our own ``annotator`` / ``created_at`` keys.  An
annotation without a bbox and without a segmentation (datumaro ``labels_*.json``), or
one with ``attributes.image_label`` set (our writer), is an image-level label.
Captions, keypoints and panoptic segments are skipped with a problem each.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from ._common import (
    MAX_SIDE,
    check_box,
    check_writer_input,
    finite_floats,
    format_time,
    load_json,
    parse_time,
    polygon_area,
    polygon_bbox,
    rle_area,
    safe_name,
    short,
    to_int,
    unique_name,
)
from ._files import ESCAPES, ImageResolver, Scope
from ._types import AnnotationRecord, ExportImage, FormatError, ImageRef, ImportResult, RecordProblem
from ._writing import CopyImages, place_image

_TASKS = ("instances", "person_keypoints", "captions", "labels", "image_info", "panoptic", "stuff")
_UNSUPPORTED = (("caption", "captions"), ("keypoints", "keypoints"), ("segments_info", "panoptic segments"))


def read(
    path: str | Path, *, data_root: str | Path | None = None, annotator: str | None = None
) -> ImportResult:
    """Read a COCO JSON file, or every ``instances_*.json`` of a folder (our writer's split export).

    Images are looked up under ``data_root`` (default: the dataset folder, i.e. the
    parent of an ``annotations/`` folder, else the JSON's folder) in
    ``images/<subset>/``, ``images/``, ``<subset>/``, the JSON's folder and the root,
    where ``<subset>`` comes from the file name (``instances_train.json`` -> ``train``).
    With several files, image keys are ``"<subset>/<id>"``, else the COCO image id.

    Parameters
    ----------
    path : the JSON file, or a folder holding them (or holding ``annotations/``).
    data_root : where image files may be; names resolving outside it are refused.
    annotator : annotator id for annotations without an ``annotator`` key.

    Examples
    --------
    >>> res = read("coco/annotations/instances_val.json")          # doctest: +SKIP
    >>> res.categories, len(res.annotations), res.annotations[0].bbox  # doctest: +SKIP
    (['a', 'b', 'c'], 2, (0.0, 0.0, 1.0, 2.0))
    """
    path = Path(path)
    base = path if path.is_dir() else path.parent
    if base.name.lower() == "annotations":
        base = base.parent
    # every file opened lies, symlinks resolved, in the dataset folder (or the folder named) or data_root
    scope = Scope([base, path if path.is_dir() else path.parent, data_root])
    files = _json_files(path, scope, base)
    multi = len(files) > 1
    root = Path(data_root) if data_root is not None else base
    out = ImportResult("coco", str(path), [], [], [], scope.problems, data_root=os.path.realpath(root))
    prefixes = [_subset(f) or f.stem for f in files]
    if len(set(prefixes)) < len(prefixes):  # keys must stay unique across the files
        prefixes = [f.relative_to(base).with_suffix("").as_posix() for f in files]
    for f, prefix in zip(files, prefixes, strict=True):
        _read_one(f, load_json(f), root, annotator, f"{prefix}/" if multi else "", out)
    return out


def _json_files(path: Path, scope: Scope, base: Path) -> list[Path]:
    if not path.is_dir():
        if not path.is_file():
            raise FormatError(f"{path.name}: no such file")
        scope.given(path)
        return [path]
    folder = path / "annotations" if (path / "annotations").is_dir() else path
    for pattern in ("instances_*.json", "_annotations.coco.json", "*/_annotations.coco.json", "*.json"):
        found = sorted(folder.glob(pattern))
        if found:
            return scope.keep(found, base)  # one symlinked out is a problem, not read
    raise FormatError(f"{path.name}: no COCO JSON files in this folder")


def _subset(f: Path) -> str:
    stem = f.name.removesuffix(".json")
    for task in _TASKS:
        if stem.startswith(task + "_"):
            return stem[len(task) + 1 :]
    return "" if f.parent.name.lower() == "annotations" else f.parent.name


def _read_one(f: Path, data: Any, root: Path, annotator: str | None, kpre: str, out: ImportResult) -> None:
    if not isinstance(data, dict):
        got = type(data).__name__
        raise FormatError(f"{f.name}: expected a JSON object with 'images' and 'annotations', got {got}")
    for key in ("images", "annotations", "categories"):
        if not isinstance(data.get(key, []), list):
            raise FormatError(f"{f.name}: '{key}' must be a list, got {type(data[key]).__name__}")
    if "images" not in data:
        raise FormatError(f"{f.name}: no 'images' list (not a COCO annotation file)")
    sub = _subset(f)
    pre = f"{f.name}:" if kpre else ""
    problems = out.problems
    json_dir = os.path.relpath(f.parent.resolve(), os.path.realpath(root))
    resolver = ImageResolver(root, [f"images/{sub}", "images", sub, json_dir, ""])

    cats: dict[Any, str] = {}
    for i, c in enumerate(data.get("categories", [])):
        where = f"{pre}categories[{i}]"
        if not isinstance(c, dict) or not _scalar(c.get("id")) or not isinstance(c.get("name"), str) or not c["name"]:
            problems.append(RecordProblem(where, "category without an 'id' and a 'name'"))
        elif c["id"] in cats:
            problems.append(RecordProblem(where, f"duplicate category id {c['id']!r}"))
        else:
            cats[c["id"]] = c["name"]
            if c["name"] not in out.categories:
                out.categories.append(c["name"])

    sizes: dict[Any, tuple[str, int | None, int | None]] = {}
    keys: set[str] = set()
    for i, im in enumerate(data["images"]):
        where = f"{pre}images[{i}]"
        if not isinstance(im, dict) or not _scalar(im.get("id")) or not isinstance(im.get("file_name"), str):
            problems.append(RecordProblem(where, "image without an 'id' and a 'file_name'"))
            continue
        iid = im["id"]
        key = f"{kpre}{iid}"
        if iid in sizes or key in keys:  # 7 and "7" are one key
            problems.append(RecordProblem(where, f"duplicate image id {short(iid)}; its annotations go to the first"))
            continue
        w, h = to_int(im.get("width")), to_int(im.get("height"))
        keys.add(key)
        sizes[iid] = (key, w, h)
        found, escaped = resolver.find(im["file_name"])
        if escaped:
            problems.append(RecordProblem(where, f"{ESCAPES}: {im['file_name']}", image_key=key))
        out.images.append(ImageRef(key, im["file_name"], found, w, h))

    seen: set[Any] = set()
    for i, a in enumerate(data.get("annotations", [])):
        where = f"{pre}annotations[{i}]"
        rec, reason = _annotation(a, cats, sizes, seen, annotator, where)
        if rec is None:
            problems.append(RecordProblem(where, reason or "invalid annotation"))
        else:
            out.annotations.append(rec)


def _annotation(
    a: Any, cats: dict[Any, str], sizes: dict[Any, tuple[str, int | None, int | None]],
    seen: set[Any], annotator: str | None, where: str,
) -> tuple[AnnotationRecord | None, str | None]:
    if not isinstance(a, dict):
        return None, "annotation is not an object"
    for key, what in _UNSUPPORTED:
        if a.get(key):
            return None, f"{what} are not supported (skipped)"
    missing = [k for k in ("id", "image_id", "category_id") if k not in a]
    if missing:
        return None, "missing required key(s) " + ", ".join(repr(k) for k in missing)
    if not all(_scalar(a[k]) for k in ("id", "image_id", "category_id")):
        return None, "'id', 'image_id' and 'category_id' must be numbers or strings"
    if a["id"] in seen:
        return None, f"duplicate annotation id {a['id']!r}"
    seen.add(a["id"])
    if a["image_id"] not in sizes:
        return None, f"unknown image id {a['image_id']!r}"
    if a["category_id"] not in cats:
        return None, f"unknown category id {a['category_id']!r}"
    key, w, h = sizes[a["image_id"]]
    attrs = dict(a["attributes"]) if isinstance(a.get("attributes"), dict) else {}
    image_label = bool(attrs.pop("image_label", False))
    who = a.get("annotator")
    rec = AnnotationRecord(
        key, cats[a["category_id"]], annotator=str(who) if _scalar(who) and who != "" else annotator,
        created_at=parse_time(a.get("created_at")), attributes=attrs, record=where,
    )
    seg, bbox = a.get("segmentation"), a.get("bbox")
    if isinstance(seg, list) and seg and all(isinstance(r, list) and len(r) >= 6 for r in seg):
        rings = [finite_floats(r) for r in seg]
        if not all(rings):
            return None, "segmentation polygon is not finite numbers"
        rec.polygon = [r for r in rings if r]
    elif isinstance(seg, dict) and isinstance(seg.get("counts"), (list, str)) and isinstance(seg.get("size"), list):
        if not _rle_ok(seg):
            return None, "RLE mask needs 'size' [height, width] and 'counts' (text or non-negative integers)"
        rec.rle = {"size": list(seg["size"]), "counts": seg["counts"]}
    elif seg not in (None, [], {}):
        return None, "segmentation is neither polygons nor an RLE mask"
    if image_label or (not bbox and rec.polygon is None and rec.rle is None):
        rec.kind = "image"
        return rec, None
    if not bbox:
        if rec.polygon is None:
            return None, "missing required key 'bbox'"
        box: Any = polygon_bbox(rec.polygon)
    elif not isinstance(bbox, list) or len(bbox) != 4 or not all(isinstance(v, (int, float)) for v in bbox):
        return None, f"bbox is not four numbers: {short(bbox)}"
    else:
        box = (bbox[0], bbox[1], bbox[0] + bbox[2], bbox[1] + bbox[3])
    if a.get("iscrowd"):
        attrs["iscrowd"] = True
    checked, reason, clipped = check_box(box, w, h)
    if checked is None:
        return None, reason
    if clipped:
        attrs["clipped"] = True
    rec.bbox = checked
    return rec, None


def _scalar(v: Any) -> bool:
    return isinstance(v, (int, str)) and not isinstance(v, bool)


def _rle_ok(seg: dict[str, Any]) -> bool:
    size, counts = seg["size"], seg["counts"]
    if len(size) != 2 or not all(_scalar(v) and isinstance(v, int) and 0 < v <= MAX_SIDE for v in size):
        return False
    return isinstance(counts, str) or all(_scalar(v) and isinstance(v, int) and v >= 0 for v in counts)


def write(
    out_dir: str | Path,
    images: Sequence[ExportImage],
    annotations: Sequence[AnnotationRecord],
    categories: Sequence[str],
    *,
    copy_images: CopyImages = False,
    meta: Mapping[str, Any] | None = None,
) -> Path:
    """Write COCO ``annotations/instances_<split>.json`` (``instances_default.json`` without splits).

    Category ids are 1.. in ``categories`` order; image and annotation ids count from
    1.  Each annotation carries ``bbox`` (xywh), ``segmentation``, ``area``,
    ``iscrowd`` and our ``annotator`` / ``created_at`` keys; image-level labels are
    annotations with an empty bbox and ``attributes.image_label = true``.  With
    ``copy_images`` the files go to ``images/<split>/`` (``"link"``: hard links) and
    ``file_name`` is their name there: :func:`read` and workspaces re-import the export
    folder with no options.  Otherwise no bytes are copied and ``file_name`` is the
    original file's path relative to the JSON's folder (``../../imgs/a.jpg``); readers
    refuse paths that leave the export, so read it with ``data_root`` set to a folder
    holding both the export and the images (their common ancestor), or into a workspace
    that has registered the images.  ``meta`` (e.g. the dataset version id) goes into
    ``info``.

    Returns
    -------
    Path
        What to hand to :func:`read`: the JSON file, or the ``annotations`` folder
        when several splits were written.

    Examples
    --------
    >>> img = ExportImage("k1", Path("/data/a.jpg"), "a.jpg", 640, 480)
    >>> rec = AnnotationRecord("k1", "dent", bbox=(10, 20, 110, 70), annotator="ana")
    >>> write("out", [img], [rec], ["dent"])                          # doctest: +SKIP
    PosixPath('out/annotations/instances_default.json')
    """
    check_writer_input(images, annotations, categories)
    out_dir = Path(out_dir)
    (out_dir / "annotations").mkdir(parents=True, exist_ok=True)
    cat_ids = {name: i + 1 for i, name in enumerate(categories)}
    cat_list = [{"id": i, "name": n, "supercategory": ""} for n, i in cat_ids.items()]
    splits: dict[str, dict[str, list[dict[str, Any]]]] = {}
    where: dict[str, tuple[str, int]] = {}
    taken: dict[str, set[str]] = {}
    for n, im in enumerate(images, start=1):
        split = safe_name(im.split or "default")
        doc = splits.setdefault(split, {"images": [], "annotations": []})
        folder = f"images/{split}" if im.split else "images"
        name = unique_name(im.file_name, str(im.key), taken.setdefault(folder, set()))
        file_name = place_image(im.path, out_dir, f"{folder}/{name}", copy_images,
                                relative_to=out_dir / "annotations")
        if copy_images:
            file_name = name
        doc["images"].append({"id": n, "file_name": file_name, "width": im.width, "height": im.height})
        where[im.key] = (split, n)
    for n, a in enumerate(annotations, start=1):
        split, image_id = where[a.image_key]
        splits[split]["annotations"].append(_ann_json(a, n, image_id, cat_ids[a.class_name]))
    written = []
    for split, doc in splits.items():
        f = out_dir / "annotations" / f"instances_{split}.json"
        info = {"description": "exported by jupyter-cvops", **(meta or {})}
        body = {"info": info, "licenses": [], "categories": cat_list, **doc}
        f.write_text(json.dumps(body, ensure_ascii=False), encoding="utf-8")
        written.append(f)
    if len(written) == 1:
        return written[0]
    return out_dir / "annotations"


def _ann_json(a: AnnotationRecord, ann_id: int, image_id: int, cat_id: int) -> dict[str, Any]:
    attrs = {k: v for k, v in a.attributes.items() if k not in ("iscrowd", "image_label")}
    doc: dict[str, Any] = {"id": ann_id, "image_id": image_id, "category_id": cat_id}
    if a.kind == "image" or a.bbox is None:
        doc.update(bbox=[], area=0.0, segmentation=[], iscrowd=0)
        attrs["image_label"] = True
    else:
        x0, y0, x1, y1 = (float(v) for v in a.bbox)
        seg: Any = a.polygon or (a.rle if a.rle is not None else [])
        area = polygon_area(a.polygon) if a.polygon else rle_area(a.rle) if a.rle else (x1 - x0) * (y1 - y0)
        crowd = a.attributes.get("iscrowd", a.rle is not None and not a.polygon)
        doc.update(bbox=[x0, y0, x1 - x0, y1 - y0], area=area, segmentation=seg, iscrowd=int(bool(crowd)))
    if a.annotator is not None:
        doc["annotator"] = a.annotator
    if a.created_at is not None:
        doc["created_at"] = format_time(a.created_at)
    if attrs:
        doc["attributes"] = attrs
    return doc
