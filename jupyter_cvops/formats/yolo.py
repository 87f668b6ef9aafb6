"""YOLO text labels (Ultralytics ``data.yaml``, darknet ``obj.data``, plain folders): reader and writer.

Each label line is ``class cx cy w h`` normalized to the image size (a sixth value is
kept as ``attributes["confidence"]``; longer lines are segmentation polygons).  Pixel
boxes need the image size: from the image file's header, else our sidecar
``cvops_meta.json``, else the ``image_size`` argument.  The sidecar (written by
:func:`write`) also keeps annotator ids, times, attributes and image-level labels,
so our own exports read back whole; foreign YOLO data reads fine without it.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

from . import _common
from ._common import check_box, parse_time, polygon_bbox
from ._files import (
    ESCAPES,
    IMAGE_SUFFIXES,
    MAX_ANNOTATION_BYTES,
    MAX_CONFIG_BYTES,
    MAX_PER_IMAGE_BYTES,
    ImageResolver,
    Scope,
    load_yaml,
    read_text,
)
from ._types import AnnotationRecord, ExportImage, FormatError, ImageRef, ImportResult, RecordProblem
from ._writing import CopyImages, place_image, relative_path
from ._yolo_classes import MAX_CLASSES as MAX_CLASSES  # re-exported: yolo.MAX_CLASSES
from ._yolo_classes import Classes

SIDECAR = "cvops_meta.json"
_SPLITS = ("train", "val", "valid", "test", "minival")
_NOT_SPLITS = {"path", "names", "nc", "download", "yaml_file", "kpt_shape", "flip_idx", "channels"}
_NOT_LABELS = {"classes.txt", "train.txt", "val.txt", "valid.txt", "test.txt", "obj.names"}

# an item: (label file or None, key, image names to try, or folders to search by stem)
_Item = tuple[Path | None, str, list[str], list[str]]


def read(
    path: str | Path,
    *,
    data_root: str | Path | None = None,
    annotator: str | None = None,
    names: Sequence[str] | dict[int, str] | None = None,
    image_size: tuple[int, int] | None = None,
) -> ImportResult:
    """Read a YOLO dataset: ``data.yaml``, ``obj.data``, or a folder (with those, or with
    ``obj.names`` + ``images/``/``labels/``, or just label ``.txt`` files).

    Image keys are file stems (``"<subset>/<stem>"`` when stems repeat across
    subsets).  Images are looked up under ``data_root`` (default: the dataset root:
    the yaml's ``path``, the folder of ``obj.data``/``data.yaml``, or the parent of a
    ``labels`` folder) beside their labels, in ``images/<subset>``, ``<subset>`` and
    the root.

    Class names come from ``names`` (a list, or a mapping index -> name whose keys stay the
    indices); a data.yaml with only ``nc`` gets ``class_<i>`` for the indices its labels use
    (none made up front; an ``nc`` above :data:`MAX_CLASSES` is a problem and read as that many).
    YAML anchors and aliases are refused, and so are files above their size cap
    (:mod:`jupyter_cvops.formats._files`).

    Parameters
    ----------
    path : dataset file or folder.
    data_root : where image files may be; names resolving outside it are refused.
    annotator : annotator id for labels without one in the sidecar.
    names : class names (list, or dict index -> name); overrides those of the dataset.
    image_size : ``(width, height)`` for images whose file (and sidecar size) is missing.

    Examples
    --------
    >>> res = read("data/GP8000/labels", names=["rebar"], image_size=(2445, 1485))  # doctest: +SKIP
    >>> len(res.images), len(res.annotations)                                      # doctest: +SKIP
    (21, 1030)
    """
    path = Path(path)
    # every file opened lies under the dataset root (the folder given or holding the yaml) or data_root
    scope = Scope([] if data_root is None else [Path(data_root)])
    root, classes, items, source = _layout(path, scope)
    if names is not None:
        classes = Classes.listed("names=", names)
    if not classes:
        raise FormatError(f"{path.name}: no class names found (data.yaml, obj.names or classes.txt); pass names=[...]")
    meta = _sidecar(root, scope)
    by_line = {str(v.get("image")): k for k, v in meta.items()}
    out = ImportResult("yolo", str(source), [], [], [])
    out.problems += scope.problems
    # names are relative to the dataset folder, also under another data root holding it
    resolver = ImageResolver(root if data_root is None else data_root,
                             [""] if data_root is None else ["", relative_path(root, data_root)])
    out.data_root = resolver.root
    keys = [Path(rel).name for _, rel, _, _ in items]
    if len(set(keys)) != len(keys):  # stems repeat across subsets
        keys = [rel for _, rel, _, _ in items]
    seen: set[str] = set()
    for (label, rel, tries, stem_dirs), key in zip(items, keys, strict=True):
        if label is None and tries and tries[0] in by_line:
            label = root / by_line[tries[0]]
        lrel = Path(os.path.relpath(label, root)).as_posix() if label else rel
        side = meta.get(lrel, {})
        found, escaped, name = None, False, tries[0] if tries else rel
        for t in tries:
            found, escaped = resolver.find(t)
            if found is not None or escaped:
                name = t
                break
        if not tries:
            found, escaped = resolver.find_stem(stem_dirs, Path(rel).name)
        key = _text_or(side.get("key"), key)
        if escaped:  # a duplicate's image is not kept: its problem names no image
            out.problems.append(RecordProblem(lrel, f"{ESCAPES}: {name}", image_key=None if key in seen else key))
        elif found is not None:
            name = Path(os.path.relpath(found, resolver.root)).as_posix()
        w, h = _common.image_size(found)
        if w is None or h is None:
            sw, sh = _common.to_int(side.get("width")), _common.to_int(side.get("height"))
            w, h = (sw, sh) if sw else (image_size or (None, None))
        if key in seen:
            out.problems.append(RecordProblem(lrel, f"duplicate image {key!r} (listed twice)"))
            continue
        seen.add(key)
        out.images.append(ImageRef(key, _text_or(side.get("file_name"), name), found, w, h))
        if label is not None and not scope.ok(label):  # a symlink out, or a sidecar naming a file outside
            out.problems.append(RecordProblem(lrel, f"{ESCAPES}: {_common.short(lrel)}"))
        elif label is not None:
            _read_labels(label, lrel, key, w, h, side, annotator, classes, out)
    out.categories = classes.categories()  # a bare nc: the classes the labels use
    return out


def _layout(path: Path, scope: Scope) -> tuple[Path, Classes, list[_Item], Path]:
    """Dataset root, class names, items and the file describing the dataset."""
    if path.is_dir():
        for cand in ("data.yaml", "dataset.yaml", "data.yml", "obj.data"):
            if (path / cand).is_file():
                return _layout(path / cand, scope)
        yamls = sorted(path.glob("*.yaml"))
        if len(yamls) == 1:
            return _layout(yamls[0], scope)
        return _folder(path, scope)
    if not path.is_file():
        raise FormatError(f"{path.name}: no such file or folder")
    scope.roots.append(path.parent)
    if not scope.ok(path):
        raise FormatError(f"{path.name}: {ESCAPES} (a symlink out of its folder)")
    if path.suffix in (".yaml", ".yml"):
        return _data_yaml(path, scope)
    if path.suffix == ".data":
        return _obj_data(path, scope)
    raise FormatError(f"{path.name}: expected data.yaml, obj.data or a dataset folder")


def _data_yaml(path: Path, scope: Scope) -> tuple[Path, Classes, list[_Item], Path]:
    doc = load_yaml(path)  # no aliases, at most MAX_CONFIG_BYTES
    if not isinstance(doc, dict):
        raise FormatError(f"{path.name}: expected a YAML mapping with 'names', got {type(doc).__name__}")
    # resolved like the split folders below, so paths relative to it stay right when read through a symlink
    root = Path(os.path.realpath(path.parent))
    # our own exports (with the sidecar) are self-contained: their yaml's "path" is only for trainers
    # (paths named by the file are tested with os.path, which answers False for a name too long or with a NUL)
    if isinstance(doc.get("path"), str) and os.path.isdir(root / doc["path"]) and not (root / SIDECAR).is_file():
        if scope.ok(root / doc["path"]):
            root = (root / doc["path"]).resolve()
        else:  # "/" or "../.." would make the reader walk the disk: stay in the yaml's folder
            scope.refuse(f"{path.name}: path", doc["path"])
    raw, nc = doc.get("names"), doc.get("nc")
    if isinstance(raw, dict) and all(isinstance(k, int) and not isinstance(k, bool) for k in raw):
        names = Classes.listed(path.name, raw)  # index -> name: the keys are the indices, gaps and all
    elif isinstance(raw, list):
        names = Classes.listed(path.name, raw)
    elif isinstance(nc, int) and not isinstance(nc, bool):
        names = Classes.counted(path.name, nc, scope.problems)  # no class is made before a label uses it
    else:
        raise FormatError(f"{path.name}: no 'names' list or mapping")
    items: list[_Item] = []
    done: set[Path] = set()
    for split, entries in doc.items():  # train/val/test, and other keys naming existing paths
        if split in _NOT_SPLITS:
            continue
        for entry in [entries] if isinstance(entries, str) else entries if isinstance(entries, list) else []:
            if isinstance(entry, bool) or not isinstance(entry, (str, int, float)):
                if split in _SPLITS:  # never str() it: shared YAML aliases are exponentially long written out
                    raise FormatError(f"{path.name}: {split}: expected paths, got a {type(entry).__name__}")
                continue
            try:
                target = (root / str(entry)).resolve()  # an absolute entry replaces root
            except (OSError, ValueError, RuntimeError) as e:  # a NUL byte, a symlink loop
                if split in _SPLITS:
                    raise FormatError(f"{path.name}: {split}: unusable path {_common.short(entry)} ({e})") from None
                continue
            if target in done or (split not in _SPLITS and not os.path.exists(target)):
                continue
            done.add(target)
            if not scope.ok(target):
                scope.refuse(f"{path.name}: {split}", entry)
                continue
            if target.suffix == ".txt":
                items += _list_file(target, root, split)
            else:  # images/<split> -> labels/<split>, or labels beside the images
                label_dir = _img2label(target / "x").parent if "images" in target.parts else target
                items += _scan(label_dir, target, root, split)
    return root, names, items, path


def _text_or(value: Any, default: str) -> str:
    """``value`` as text when it is non-empty text or an integer (sidecar keys and names), else ``default``."""
    if isinstance(value, bool) or not isinstance(value, (str, int)) or value == "":
        return default
    return str(value)


def _obj_data(path: Path, scope: Scope) -> tuple[Path, Classes, list[_Item], Path]:
    root = path.parent
    conf: dict[str, str] = {}
    for line in read_text(path, MAX_CONFIG_BYTES).splitlines():
        k, sep, v = line.partition("=")
        if sep:
            conf[k.strip()] = v.strip()
    names_file = _darknet_path(root, conf.get("names", "obj.names"))
    if names_file is not None and not scope.ok(names_file):
        raise FormatError(f"{path.name}: names: {ESCAPES}: {_common.short(conf.get('names', 'obj.names'))}")
    names = Classes.listed(names_file.name, _names_file(names_file)) if names_file else Classes()
    items: list[_Item] = []
    for split in ("train", "valid", "test"):
        list_file = _darknet_path(root, conf[split]) if conf.get(split) else None
        if list_file is not None and not scope.ok(list_file):
            scope.refuse(f"{path.name}: {split}", conf[split])
        elif list_file is not None:
            items += _list_file(list_file, root, split)
    return root, names, items, path


def _darknet_path(root: Path, p: str) -> Path | None:
    # darknet names files relative to its working dir (data/obj.names): try without data/
    for cand in (p, p.removeprefix("data/")):
        if cand and os.path.isfile(root / cand):
            return root / cand
    return None


def _names_file(f: Path) -> list[str]:
    return [ln.strip() for ln in read_text(f, MAX_CONFIG_BYTES).splitlines() if ln.strip()]


def _list_file(f: Path, root: Path, split: str) -> list[_Item]:
    items: list[_Item] = []
    real_root = os.path.join(os.path.realpath(root), "")  # with a trailing separator
    for line in read_text(f, MAX_ANNOTATION_BYTES).splitlines():
        line = line.strip()
        if not line:
            continue
        tries = list(dict.fromkeys([line, line.removeprefix("./"), line.removeprefix("data/")]))
        named = [t for t in tries if Path(t).name]  # "/" or "." name no file (and has no suffix to swap)
        cands = [c for t in named for c in (_img2label(root / t), (root / t).with_suffix(".txt"))]
        label = next((c for c in cands if os.path.isfile(c) and os.path.realpath(c).startswith(real_root)), None)
        last = Path(tries[-1])
        rel = (last.with_suffix("") if last.name else last).as_posix().lstrip("/")
        items.append((label, f"{split}/{rel}" if split else rel, tries, []))
    return items


def _img2label(p: Path) -> Path:
    parts = list(p.parts)
    i = max((i for i, s in enumerate(parts[:-1]) if s == "images"), default=None)
    if i is not None:
        parts[i] = "labels"
    return Path(*parts).with_suffix(".txt")


def _scan(label_dir: Path, img_dir: Path | None, root: Path, split: str = "") -> list[_Item]:
    """Label files under ``label_dir`` plus images without labels under ``img_dir``."""
    found: dict[str, Path | None] = {}
    if os.path.isdir(label_dir):
        for f in sorted(label_dir.rglob("*.txt")):
            if f.parent == label_dir and (f.name.lower() in _NOT_LABELS or f.name.lower().startswith("readme")):
                continue  # lists, names and notes beside the labels
            found[f.relative_to(label_dir).with_suffix("").as_posix()] = f
    if img_dir is not None and os.path.isdir(img_dir):
        for f in sorted(img_dir.rglob("*")):
            if f.suffix.lower() in IMAGE_SUFFIXES:
                found.setdefault(f.relative_to(img_dir).with_suffix("").as_posix(), None)
    rel_img = os.path.relpath(img_dir, root) if img_dir is not None else None
    rel_lab = os.path.relpath(label_dir, root)
    items: list[_Item] = []
    for rel, label in found.items():
        sub = os.path.dirname(rel)
        dirs = [os.path.join(d, sub) for d in (rel_img, rel_lab) if d is not None]
        dirs += [f"images/{sub}", sub, "images", ""]
        items.append((label, f"{split}/{rel}" if split else rel, [], dirs))
    return items


def _folder(path: Path, scope: Scope) -> tuple[Path, Classes, list[_Item], Path]:
    if (path / "labels").is_dir():
        root, label_dir = path, path / "labels"
        img_dir = path / "images" if (path / "images").is_dir() else None
    else:
        root = path.parent if path.name == "labels" else path
        label_dir, img_dir = path, None
    scope.roots.append(root)
    names = Classes()
    for folder in dict.fromkeys([path, root]):
        for f in [folder / "obj.names", folder / "classes.txt", *sorted(folder.glob("*.names"))]:
            if not names and f.is_file():
                if not scope.ok(f):
                    raise FormatError(f"{f.name}: names: {ESCAPES} (a symlink out of the dataset)")
                names = Classes.listed(f.name, _names_file(f))
    return root, names, _scan(label_dir, img_dir, root), path


def _sidecar(root: Path, scope: Scope) -> dict[str, dict[str, Any]]:
    if (root / SIDECAR).is_file() and not scope.ok(root / SIDECAR):
        scope.refuse(SIDECAR, SIDECAR)
        return {}
    doc = _common.load_json(root / SIDECAR) if (root / SIDECAR).is_file() else {"images": {}}
    if not isinstance(doc, dict) or not isinstance(doc.get("images"), dict):
        raise FormatError(f"{SIDECAR}: expected an object with an 'images' mapping")
    return {k: v for k, v in doc["images"].items() if isinstance(v, dict)}


def _read_labels(
    label: Path, lrel: str, key: str, w: int | None, h: int | None,
    side: dict[str, Any], annotator: str | None, classes: Classes, out: ImportResult,
) -> None:
    lines = [p for p in (ln.split() for ln in read_text(label, MAX_PER_IMAGE_BYTES).splitlines()) if p]
    per_line: list[Any] = side["lines"] if isinstance(side.get("lines"), list) else []
    if len(per_line) != len(lines):
        per_line = [{}] * len(lines)
    for n, (parts, extra) in enumerate(zip(lines, per_line, strict=True), start=1):
        where = f"{lrel}:{n}"
        rec, reason = _line(parts, extra if isinstance(extra, dict) else {}, classes, key, w, h, where)
        if rec is None:
            out.problems.append(RecordProblem(where, reason or "invalid label line"))
        else:
            rec.annotator = rec.annotator or annotator
            out.annotations.append(rec)
    image_labels = side.get("image_labels")
    for m, lab in enumerate(image_labels if isinstance(image_labels, list) else []):
        where = f"{SIDECAR}:{lrel}:image_labels[{m}]"
        if not isinstance(lab, dict) or not isinstance(lab.get("class_name"), str) \
                or not classes.has(lab["class_name"]):
            out.problems.append(RecordProblem(where, "image label not in names"))
            continue
        out.annotations.append(AnnotationRecord(
            key, lab["class_name"], "image", annotator=_user(lab) or annotator,
            created_at=parse_time(lab.get("created_at")), attributes=_attrs(lab), record=where))


def _user(meta: dict[str, Any]) -> str | None:
    who = meta.get("annotator")
    return who if isinstance(who, str) and who else None


def _attrs(meta: dict[str, Any]) -> dict[str, Any]:
    attrs = meta.get("attributes")
    return dict(attrs) if isinstance(attrs, dict) else {}


def _line(parts: list[str], extra: dict[str, Any], classes: Classes, key: str, w: int | None, h: int | None,
          where: str) -> tuple[AnnotationRecord | None, str | None]:
    try:
        cls, nums = int(parts[0]), [float(v) for v in parts[1:]]
    except ValueError:
        return None, f"not a YOLO label line: {' '.join(parts)[:60]!r}"
    if not all(math.isfinite(v) for v in nums):
        return None, f"non-finite value in label line: {' '.join(parts)[:60]!r}"
    name = classes.name(cls)
    if name is None:
        return None, f"class index {_common.short(cls)} is not in names ({classes.span()})"
    if len(nums) not in (4, 5) and (len(nums) < 6 or len(nums) % 2):
        return None, f"expected 5 values (class cx cy w h), found {len(parts)}"
    if not w or not h:
        return None, "image size unknown (image file not found); pass image_size="
    attrs = _attrs(extra)
    rec = AnnotationRecord(key, name, annotator=_user(extra),
                           created_at=parse_time(extra.get("created_at")), attributes=attrs, record=where)
    if len(nums) in (4, 5):
        cx, cy, bw, bh = nums[0] * w, nums[1] * h, nums[2] * w, nums[3] * h
        box: Any = (cx - bw / 2, cy - bh / 2, cx + bw / 2, cy + bh / 2)
        if len(nums) == 5:
            attrs["confidence"] = nums[4]
    else:
        rec.polygon = [[v * (w if i % 2 == 0 else h) for i, v in enumerate(nums)]]
        if not all(math.isfinite(v) for v in rec.polygon[0]):
            return None, "polygon coordinates overflow the image size"
        box = polygon_bbox(rec.polygon)
    rec.bbox, reason, clipped = check_box(box, w, h)
    if clipped:
        attrs["clipped"] = True
    return (rec, None) if rec.bbox is not None else (None, reason)


def write(
    out_dir: str | Path,
    images: Sequence[ExportImage],
    annotations: Sequence[AnnotationRecord],
    categories: Sequence[str],
    *,
    copy_images: CopyImages = False,
    meta: Mapping[str, Any] | None = None,
) -> Path:
    """Write an Ultralytics YOLO dataset: ``data.yaml``, ``labels/<split>/*.txt`` and ``cvops_meta.json``.

    Images without a split go to ``train`` (``valid``/``validation`` become ``val``).
    With ``copy_images`` (``True``: copies; ``"link"``: hard links, a copy across file
    systems) the images go to ``images/<split>/`` beside ``labels/<split>/`` and
    ``data.yaml`` says ``train: images/train``, ``val: images/val``: Ultralytics' layout
    (it finds each label by replacing ``/images/`` with ``/labels/`` and the suffix with
    ``.txt``), trainable as it is and re-imported by :func:`read` and workspaces with no
    options.  ``data.yaml`` has no ``path``: Ultralytics then takes the yaml's own
    folder, so the export can be moved (a relative ``path: .`` would be resolved from its
    datasets folder instead).  Ultralytics requires a ``val`` split: give the images one.

    With ``copy_images=False`` no bytes are copied: ``<split>.txt`` lists the original
    files' paths relative to ``out_dir`` (``./../imgs/a.jpg``; Ultralytics resolves
    ``./`` from the list's folder).  Ultralytics cannot pair those images with the labels
    (they are not under an ``images/`` folder beside ``labels/``), and readers refuse
    paths that leave the export: read it with ``data_root`` set to a folder holding both
    the export and the images (their common ancestor), or into a workspace that has
    registered the images.

    Label lines keep 10 decimals, so boxes come back within ``1e-10`` times the image
    side (1e-6 px up to 10,000 px).  Polygons are not written (detection labels only);
    annotators, times, attributes, image-level labels and ``meta`` (e.g. the dataset
    version id, as ``source``) go to the sidecar.

    Returns
    -------
    Path
        The ``data.yaml`` file (hand it to :func:`read`).

    Examples
    --------
    >>> img = ExportImage("k1", Path("/data/a.jpg"), "a.jpg", 640, 480, split="val")
    >>> rec = AnnotationRecord("k1", "dent", bbox=(10, 20, 110, 70), annotator="ana")
    >>> write("out", [img], [rec], ["dent"])
    PosixPath('out/data.yaml')
    >>> print(Path("out/data.yaml").read_text().strip())
    val: val.txt
    nc: 1
    names:
      0: dent
    """
    _common.check_writer_input(images, annotations, categories)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    cls = {n: i for i, n in enumerate(categories)}
    per_image: dict[str, list[AnnotationRecord]] = {im.key: [] for im in images}
    for a in annotations:
        per_image[a.image_key].append(a)
    taken: dict[str, set[str]] = {}
    lists: dict[str, list[str]] = {}
    side: dict[str, dict[str, Any]] = {}
    for im in images:
        if im.width <= 0 or im.height <= 0:
            raise ValueError(f"image {im.key!r} has no size; YOLO coordinates are relative to it")
        split = _common.safe_name((im.split or "train").lower())
        split = {"validation": "val", "valid": "val"}.get(split, split)
        name = _common.unique_name(im.file_name, str(im.key), set())
        stem = _common.unique_name(Path(name).stem, str(im.key), taken.setdefault(split, set()))
        entry = place_image(im.path, out_dir, f"images/{split}/{stem}{Path(name).suffix}", copy_images)
        # not copied: the sidecar names the file by its path, so a workspace that registered it finds it
        file_name = im.file_name if copy_images else entry
        if not copy_images and not os.path.isabs(entry):
            entry = f"./{entry}"
        lists.setdefault(split, []).append(entry)
        lrel = f"labels/{split}/{stem}.txt"
        lines, line_meta, image_labels = [], [], []
        for a in per_image[im.key]:
            when = _common.format_time(a.created_at)
            info = {"annotator": a.annotator, "created_at": when, "attributes": a.attributes}
            if a.kind == "image" or a.bbox is None:
                image_labels.append({"class_name": a.class_name, **info})
                continue
            x0, y0, x1, y1 = (float(v) for v in a.bbox)
            vals = ((x0 + x1) / 2 / im.width, (y0 + y1) / 2 / im.height, (x1 - x0) / im.width, (y1 - y0) / im.height)
            lines.append(f"{cls[a.class_name]} " + " ".join(f"{v:.10f}" for v in vals))
            line_meta.append(info)
        (out_dir / lrel).parent.mkdir(parents=True, exist_ok=True)
        (out_dir / lrel).write_text("".join(ln + "\n" for ln in lines), encoding="utf-8")
        side[lrel] = {"key": im.key, "image": entry, "file_name": file_name, "width": im.width,
                      "height": im.height, "lines": line_meta, "image_labels": image_labels}
    # no "path": Ultralytics takes the yaml's folder (a relative one would be read from its datasets folder)
    doc: dict[str, Any] = {}
    for split, entries in lists.items():
        if copy_images:
            doc[split] = f"images/{split}"
        else:
            (out_dir / f"{split}.txt").write_text("".join(e + "\n" for e in entries), encoding="utf-8")
            doc[split] = f"{split}.txt"
    doc.update(nc=len(categories), names={i: n for i, n in enumerate(categories)})
    (out_dir / "data.yaml").write_text(yaml.safe_dump(doc, sort_keys=False, allow_unicode=True), encoding="utf-8")
    sidecar: dict[str, Any] = {"format": "jupyter-cvops yolo sidecar", "version": 1, "images": side}
    if meta:
        sidecar["source"] = dict(meta)
    (out_dir / SIDECAR).write_text(json.dumps(sidecar, ensure_ascii=False, default=str), encoding="utf-8")
    return out_dir / "data.yaml"
