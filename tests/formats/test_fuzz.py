"""Structure-aware fuzz of every reader: any input gives an ImportResult or a FormatError naming the file.

Seeds are the real exports in ``shared/data/formats`` and the LabelMe files among the tests (copied
to a temp folder, never edited in place).  Each case mutates one file of one seed in memory (its
parsed JSON / XML / YAML tree, its text lines, or its raw bytes: missing keys, nulls, wrong types,
huge and non-finite numbers, duplicated records, ``../`` and absolute paths, truncation, flipped
bytes, bogus XML encodings, entity bombs, external entities, deep nesting), puts it in place of the
temp copy and reads the seed with :func:`jupyter_cvops.formats.read`.  Only :class:`FormatError` may
escape, its message must start with the name of the file, an external entity must never be
resolved, no case may take seconds, and a returned result must hold well-typed records (what the
workspace relies on).  A few hundred such cases then go through ``Workspace.import_annotations``:
a refused import must leave every table at its version.

Every case draws from its own ``random.Random(f"{seed}:{format}:{case}")``; a failure prints the
seed and the case and keeps the mutated file.  Replay one with
``CVOPS_FUZZ_SEED=<seed> CVOPS_FUZZ_CASE=<format>:<case> pytest tests/formats/test_fuzz.py``
(``ws-<format>:<case>`` for a workspace case).
"""

from __future__ import annotations

import copy
import json
import math
import os
import random
import shutil
import time
import traceback
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from jupyter_cvops import Workspace, formats
from jupyter_cvops.formats import FormatError, ImportResult
from jupyter_cvops.formats._common import class_name_problem

SEED = int(os.environ.get("CVOPS_FUZZ_SEED", "20260509"))
ONLY = os.environ.get("CVOPS_FUZZ_CASE", "")  # "<format>:<case>" replays one case
#: Cases per reader; the readers present (labelme only with a seed file) must total MIN_TOTAL.
PLAN = {"coco": 2200, "cvat": 2200, "labelstudio": 2400, "voc": 1500, "yolo": 1800, "labelme": 1000}
MIN_TOTAL = 10_000
#: A case slower than this is a failure (an entity bomb or a quadratic walk).
SLOW_S = 3.0
CANARY = "cvops-fuzz-canary-7d41e9"

F = Path("formats")
DATUMARO = F / "datumaro"
LS = F / "label-studio-sdk"
CONCRETE = F / "cvat-export-concretenet"
REPO = Path(__file__).resolve().parents[2]

# -- values the mutators plant ------------------------------------------------------------------
HUGE_INT = "\u2063HUGEINT\u2063"  # replaced by a 5,000-digit integer literal (past Python's str->int limit)
DEEP = "\u2063DEEP\u2063"  # replaced by 100,000 nested JSON lists, or DEPTH nested XML elements
#: Nesting depth of XML and YAML bombs: 3x Python's recursion limit (parsing them is slow in Python).
DEPTH = 3_000
ENTREF = "\u2063ENTREF\u2063"  # replaced by an entity reference
PATHS = [
    "../../../../../../etc/passwd", "/etc/passwd", "..", "../", "./../x.jpg", "images/../../x.jpg",
    "C:\\Windows\\win.ini", "..\\..\\x.jpg", "file:///etc/passwd", "/data/local-files/?d=../../../etc/passwd",
    "/data/upload/../../../../etc/passwd", "http://[::1", "s3://bucket/a.jpg", "a\x00b.jpg", "a/" * 300 + "x.jpg",
    "\ud800.jpg", "/data/local-files/?d=%2Fetc%2Fpasswd", "~/x.jpg", "CON", "",
]
NUMBERS: list[Any] = [1e308, -1e308, 10**400, -(10**400), -1, 0, 2**63, 2**64 + 1, 5e-324, HUGE_INT, -0.0]
SPECIAL = [math.nan, math.inf, -math.inf]
STRINGS = ["", " ", "x", "ü", "\u202e", "0", "-1", "nan", "1e308", "x" * 100_000, "null", "true", "\ud800"]
WEIRD_TEXT = ["", " ", "abc", "nan", "NaN", "inf", "-inf", "-1", "0", "1e308", "-1e308", "1" + "0" * 400,
              "9" * 5000, "\u00b2", "\u0661\u0662", "0x10", "1_0", "1,2;3", "1,2;3,4;5,6", "0,0;nan,0;0,nan;1,1",
              "1e308,1e308;-1e308,1e308;0,-1e308", "true", "1", "-0", "1e-320", *PATHS[:12]]
XML_ATTRS = ["id", "name", "width", "height", "label", "xtl", "ytl", "xbr", "ybr", "points", "rotation", "z_order",
             "left", "top", "subset", "task_id", "occluded", "source", "group_id", "value", "from_name", "type"]
XML_TAGS = ["image", "box", "polygon", "mask", "tag", "polyline", "track", "meta", "label", "name", "attribute",
            "object", "bndbox", "xmin", "size", "width", "filename", "folder", "part", "View", "Label", "Choice",
            "RectangleLabels", "Choices", "annotation", "annotations"]
ENCODINGS = ["bogus", "base64", "rot13", "utf-32", "cp932", "idna", "punycode", "utf-16", "latin-1", "ascii",
             "utf-8-sig", "zlib", ""]


# -- the mutator ----------------------------------------------------------------------------------
class Mutator:
    """Seeded mutations of JSON/XML/YAML trees, text lines and raw bytes; each returns (bytes, what)."""

    def __init__(self, rng: random.Random, secret_dir: Path) -> None:
        self.rng = rng
        self.secret = secret_dir

    def mutate(self, kind: str, data: bytes) -> tuple[bytes, str]:
        out: tuple[bytes, str] = getattr(self, kind)(data)
        return out

    # raw bytes ------------------------------------------------------------------------------------
    def raw(self, data: bytes) -> tuple[bytes, str]:
        rng, ops = self.rng, []
        for _ in range(rng.choice((1, 1, 2))):
            op = rng.choice(["truncate", "flip", "insert", "delete", "duplicate", "utf16", "utf32", "bom",
                             "empty", "garbage", "nul"])
            n = len(data)
            i, j = sorted((rng.randrange(n + 1), rng.randrange(n + 1)))
            if op == "truncate":
                data = data[:i]
            elif op == "flip" and n:
                b = bytearray(data)
                for _ in range(rng.randint(1, 8)):
                    b[rng.randrange(n)] ^= rng.randint(1, 255)
                data = bytes(b)
            elif op == "insert":
                data = data[:i] + rng.randbytes(rng.randint(1, 16)) + data[i:]
            elif op == "delete":
                data = data[:i] + data[j:]
            elif op == "duplicate":
                data = data[:j] + data[i:j] + data[j:]
            elif op == "utf16":
                data = data.decode("utf-8", "replace").encode("utf-16")
            elif op == "utf32":
                data = data.decode("utf-8", "replace").encode("utf-32")
            elif op == "bom":
                data = b"\xef\xbb\xbf" + data
            elif op == "empty":
                data = b""
            elif op == "garbage":
                data = rng.randbytes(64)
            elif op == "nul":
                data = data[:i] + b"\x00" + data[i:]
            ops.append(f"raw:{op}@{i}")
        return data, " ".join(ops)

    # JSON -----------------------------------------------------------------------------------------
    def json(self, data: bytes) -> tuple[bytes, str]:
        r = self.rng.random()
        if r < 0.15:
            return self.raw(data)
        doc, ops = self._tree(json.loads(data))
        out = _subst(json.dumps(doc, allow_nan=True), json.dumps).encode()
        if r > 0.9:
            out, what = self.raw(out)
            ops += " " + what
        return out, ops

    def _tree(self, doc: Any) -> tuple[Any, str]:
        ops = []
        for _ in range(self.rng.choice((1, 1, 1, 2, 3))):
            doc, op = self._tree_op(doc)
            ops.append(op)
        return doc, " ".join(ops)

    def _tree_op(self, doc: Any) -> tuple[Any, str]:
        rng = self.rng
        nodes = list(_walk(doc))
        parent, key, where = nodes[rng.randrange(len(nodes))]
        value = doc if parent is None else parent[key]
        op = rng.choice(["delete", "delete", "null", "retype", "retype", "huge", "special", "duplicate",
                         "path", "deep", "swap", "empty", "string"])
        new: Any = None
        if op == "delete":
            if parent is None:
                return rng.choice([{}, [], None]), f"{op}:{where}"
            del parent[key]
            return doc, f"{op}:{where}"
        if op == "retype":
            new = _retype(value, rng)
        elif op == "huge":
            new = rng.choice(NUMBERS)
        elif op == "special":
            new = rng.choice(SPECIAL)
        elif op == "duplicate":
            lists = [(p, k) for p, k, _ in nodes if isinstance(p, list)]
            if isinstance(parent, list) or lists:
                p, k = (parent, key) if isinstance(parent, list) else rng.choice(lists)
                p.insert(rng.randint(0, len(p)), copy.deepcopy(p[k]))
            return doc, f"{op}:{where}"
        elif op == "path":
            new = rng.choice(PATHS)
        elif op == "deep":
            new = DEEP if rng.random() < 0.5 else _nest(rng.choice([[], {}]), rng.choice((32, 200)))
        elif op == "swap":
            other_parent, other_key, _ = nodes[rng.randrange(len(nodes))]
            other = doc if other_parent is None else other_parent[other_key]
            new = copy.deepcopy(other)
        elif op == "empty":
            new = rng.choice(["", [], {}])
        elif op == "string":
            new = rng.choice(STRINGS)
        if parent is None:
            return new, f"{op}:{where}"
        parent[key] = new
        return doc, f"{op}:{where}"

    # YAML -----------------------------------------------------------------------------------------
    def yaml(self, data: bytes) -> tuple[bytes, str]:
        r = self.rng.random()
        if r < 0.15:
            return self.raw(data)
        if r < 0.25:
            return self._yaml_special(data)
        doc, ops = self._tree(yaml.safe_load(data))
        out = _subst(yaml.safe_dump(doc, allow_unicode=True), lambda s: s).encode()
        if r > 0.9:
            out, what = self.raw(out)
            ops += " " + what
        return out, ops

    def _yaml_special(self, data: bytes) -> tuple[bytes, str]:
        rng = self.rng
        kind = rng.choice(["alias-bomb", "deep", "huge-int", "tags"])
        key = rng.choice(["names", "train", "val", "path", "nc"])
        if kind == "alias-bomb":
            lines = ['a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
            lines += [f"a{n}: &a{n} [{', '.join([f'*a{n - 1}'] * 9)}]" for n in range(1, 10)]
            text = "\n".join(lines) + f"\n{key}: *a9\n"
        elif kind == "deep":
            text = f"{key}: " + "[" * DEPTH + "]" * DEPTH + "\n"
        elif kind == "huge-int":
            text = f"{key}: {'9' * 5000}\n"
        else:
            text = f"{key}: !!python/object/apply:os.system ['true']\n"
        return data + b"\n" + text.encode(), f"yaml:{kind}:{key}"

    # text lines (YOLO labels, names, lists) -------------------------------------------------------
    def text(self, data: bytes) -> tuple[bytes, str]:
        rng = self.rng
        if rng.random() < 0.25:
            return self.raw(data)
        lines = [ln.split(" ") for ln in data.decode("utf-8", "replace").splitlines()] or [[""]]
        ops = []
        for _ in range(rng.choice((1, 1, 2, 3))):
            op = rng.choice(["token", "token", "delete", "duplicate", "add", "drop-token", "add-token", "path"])
            n = rng.randrange(len(lines)) if lines else 0
            if op == "token" and lines and lines[n]:
                lines[n][rng.randrange(len(lines[n]))] = rng.choice(WEIRD_TEXT)
            elif op == "delete" and lines:
                del lines[n]
            elif op == "duplicate" and lines:
                lines.insert(n, list(lines[n]))
            elif op == "add":
                lines.insert(n, [rng.choice([*WEIRD_TEXT, "0", "0.5", "1"]) for _ in range(rng.randint(0, 9))])
            elif op == "drop-token" and lines and lines[n]:
                del lines[n][rng.randrange(len(lines[n]))]
            elif op == "add-token" and lines:
                lines[n].insert(rng.randint(0, len(lines[n])), rng.choice([*WEIRD_TEXT, "0.5"]))
            elif op == "path" and lines:
                lines[n] = [rng.choice(PATHS)]
            ops.append(f"text:{op}@{n}")
        out = "\n".join(" ".join(ln) for ln in lines).encode("utf-8", "surrogatepass")
        return out, " ".join(ops)

    # XML ------------------------------------------------------------------------------------------
    def xml(self, data: bytes) -> tuple[bytes, str]:
        rng = self.rng
        r = rng.random()
        if r < 0.12:
            return self.raw(data)
        root = ET.fromstring(data)
        ops = []
        special = rng.choice(["bogus-encoding", "billion-laughs", "quadratic", "external-entity", "external-dtd",
                              "parameter-entity", "deep"]) if r < 0.35 else None
        for _ in range(rng.choice((0, 1, 1, 2, 3)) if special else rng.choice((1, 1, 2, 3))):
            ops.append(self._xml_op(root))
        if special in ("billion-laughs", "quadratic", "external-entity", "external-dtd", "parameter-entity"):
            self._plant(root, ENTREF)
        elif special == "deep":
            self._plant(root, DEEP)
        text = ET.tostring(root, encoding="unicode")
        if special == "deep":  # a chain of one of the file's own tags, far past any recursion limit
            tag = rng.choice(sorted({e.tag for e in root.iter()}))
            text = text.replace(DEEP, f"<{tag}>" * DEPTH + f"</{tag}>" * DEPTH)
        decl = '<?xml version="1.0" encoding="utf-8"?>\n'
        if special == "bogus-encoding":
            decl = f'<?xml version="1.0" encoding="{rng.choice(ENCODINGS)}"?>\n'
        elif special in ("billion-laughs", "quadratic", "external-entity", "external-dtd", "parameter-entity"):
            decl += self._doctype(special, root.tag)
            text = text.replace(ENTREF, "&e;")
        out = (decl + text).encode("utf-8", "surrogatepass")
        if special:
            ops.append(f"xml:{special}")
        if r > 0.92:
            out, what = self.raw(out)
            ops.append(what)
        return out, " ".join(ops)

    def _plant(self, root: ET.Element, marker: str) -> None:
        els = list(root.iter())
        el = els[self.rng.randrange(len(els))]
        if marker == ENTREF and self.rng.random() < 0.5 and el.attrib:
            el.set(self.rng.choice(sorted(el.attrib)), marker)
        else:
            el.text = marker

    def _doctype(self, kind: str, tag: str) -> str:
        secret = (self.secret / "secret.txt").as_uri()
        dtd = (self.secret / "secret.dtd").as_uri()
        if kind == "billion-laughs":
            ents = ['<!ENTITY a0 "lol">'] + [f'<!ENTITY a{n} "{f"&a{n - 1};" * 10}">' for n in range(1, 10)]
            return f"<!DOCTYPE {tag} [\n" + "\n".join(ents) + '\n<!ENTITY e "&a9;">\n]>\n'
        if kind == "quadratic":
            return f'<!DOCTYPE {tag} [<!ENTITY big "{"B" * 50_000}"><!ENTITY e "{"&big;" * 2_000}">]>\n'
        if kind == "external-entity":
            return f'<!DOCTYPE {tag} [<!ENTITY e SYSTEM "{secret}">]>\n'
        if kind == "external-dtd":
            return f'<!DOCTYPE {tag} SYSTEM "{dtd}">\n'
        return f'<!DOCTYPE {tag} [<!ENTITY % p SYSTEM "{dtd}"> %p;]>\n'

    def _xml_op(self, root: ET.Element) -> str:
        rng = self.rng
        parents = {c: p for p in root.iter() for c in p}
        els = list(root.iter())
        el = els[rng.randrange(len(els))]
        op = rng.choice(["del-attr", "set-attr", "set-attr", "set-text", "set-text", "remove", "remove",
                         "duplicate", "move", "rename", "add-child", "clear"])
        parent = parents.get(el)
        if op == "del-attr" and el.attrib:
            del el.attrib[rng.choice(sorted(el.attrib))]
        elif op == "set-attr":
            name = rng.choice(sorted(el.attrib)) if el.attrib and rng.random() < 0.7 else rng.choice(XML_ATTRS)
            el.set(name, rng.choice(WEIRD_TEXT))
        elif op == "set-text":
            leaves = [e for e in els if len(e) == 0] or els
            rng.choice(leaves).text = rng.choice(WEIRD_TEXT)
        elif op == "remove" and parent is not None:
            parent.remove(el)
        elif op == "duplicate" and parent is not None:
            parent.insert(rng.randint(0, len(parent)), copy.deepcopy(el))
        elif op == "move" and parent is not None:
            target = rng.choice([e for e in els if e is not el and el not in list(e.iter())] or [root])
            parent.remove(el)
            target.append(el)
        elif op == "rename":
            el.tag = rng.choice(XML_TAGS)
        elif op == "add-child":
            child = ET.SubElement(el, rng.choice(XML_TAGS), {rng.choice(XML_ATTRS): rng.choice(WEIRD_TEXT)})
            child.text = rng.choice(WEIRD_TEXT)
        elif op == "clear":
            for c in list(el):
                el.remove(c)
        return f"xml:{op}:{el.tag}"


def _walk(doc: Any) -> Iterator[tuple[Any, Any, str]]:
    """(parent, key, where) of every node, the root as (None, None, '$')."""
    stack: list[tuple[Any, Any, str]] = [(None, None, "$")]
    while stack:
        parent, key, where = stack.pop()
        yield parent, key, where
        value = doc if parent is None else parent[key]
        if isinstance(value, dict):
            stack.extend((value, k, f"{where}.{k}") for k in value)
        elif isinstance(value, list):
            stack.extend((value, i, f"{where}[{i}]") for i in range(len(value)))


def _retype(value: Any, rng: random.Random) -> Any:
    options: list[Any] = [str(value)[:50] if not isinstance(value, (dict, list)) else "x", 7, 3.5, True,
                          [value], {"value": value}, [], {}, "12"]
    return rng.choice([o for o in options if type(o) is not type(value)])


def _nest(leaf: Any, depth: int) -> Any:
    for _ in range(depth):
        leaf = [leaf] if isinstance(leaf, list) else {"a": leaf}
    return leaf


def _subst(text: str, quote: Callable[[str], str]) -> str:
    text = text.replace(quote(HUGE_INT), "1" + "0" * 5000)
    return text.replace(quote(DEEP), "[" * 100_000 + "]" * 100_000)  # json's C scanner stops early


# -- seeds ----------------------------------------------------------------------------------------
@dataclass
class Slot:
    """One file of a seed that a case may rewrite; ``original`` restores it."""

    file: Path
    kind: str
    original: bytes
    weight: float = 1.0


@dataclass
class Target:
    """One seed export: what to read, how, and its mutable files."""

    name: str
    read_path: Path
    kw: dict[str, Any]
    slots: list[Slot] = field(default_factory=list)


def _copy(src: Path, dest: Path) -> Path:
    dest.parent.mkdir(parents=True, exist_ok=True)
    if src.is_dir():
        shutil.copytree(src, dest)
    else:
        shutil.copyfile(src, dest)
    return dest


def _slot(file: Path, kind: str, weight: float = 1.0) -> Slot:
    return Slot(file, kind, file.read_bytes(), weight)


def _coco(data: Path, tmp: Path) -> list[Target]:
    coco = data / DATUMARO / "coco_dataset/coco"
    names = ["instances_val", "instances_train", "labels_val", "person_keypoints_val", "captions_val",
             "panoptic_val", "image_info_val", "stuff_val"]
    out = []
    for n, name in enumerate(names):
        f = _copy(coco / "annotations" / f"{name}.json", tmp / str(n) / "annotations" / f"{name}.json")
        out.append(Target(name, f, {"data_root": coco}, [_slot(f, "json", 3.0 if n < 2 else 1.0)]))
    rf = data / DATUMARO / "roboflow_dataset/coco/train"
    f = _copy(rf / "_annotations.coco.json", tmp / "rf" / "_annotations.coco.json")
    out.append(Target("roboflow", f, {"data_root": rf}, [_slot(f, "json", 2.0)]))
    return out


def _cvat(data: Path, tmp: Path) -> list[Target]:
    cv = data / DATUMARO / "cvat_dataset/for_images"
    out = []
    f = _copy(cv / "export_project/annotations.xml", tmp / "project" / "annotations.xml")
    out.append(Target("project", f, {"data_root": cv / "export_project"}, [_slot(f, "xml", 2.0)]))
    f = _copy(cv / "export_task/train.xml", tmp / "task" / "train.xml")
    out.append(Target("task", f, {"data_root": cv / "export_task", "annotator": "kim"}, [_slot(f, "xml")]))
    root = ET.parse(data / CONCRETE / "annotations.xml").getroot()  # the first 3 of 48 images keep it fast
    for im in root.findall("image")[3:]:
        root.remove(im)
    f = tmp / "concretenet" / "annotations.xml"
    f.parent.mkdir(parents=True)
    f.write_bytes(b'<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(root))
    out.append(Target("concretenet", f, {"data_root": data / CONCRETE / "data/Cleaned/Training/GP8000"},
                      [_slot(f, "xml", 2.0)]))
    return out


def _labelstudio(data: Path, tmp: Path) -> list[Target]:
    out = []
    for name in ("test_export_yolo", "test_export_coco", "test_export_json_min"):
        d = _copy(data / LS / name, tmp / name)
        out.append(Target(name, d / "data.json", {},
                          [_slot(d / "data.json", "json", 4.0), _slot(d / "label_config.xml", "xml")]))
    return out


def _voc(data: Path, tmp: Path) -> list[Target]:
    seeds = [(DATUMARO / "voc_dataset/voc_dataset1", "Annotations/2007_000001.xml")]
    seeds += [(F / "voc-neu-det", f"ANNOTATIONS/{n}.xml") for n in ("crazing_1", "inclusion_10", "scratches_5")]
    out = []
    for n, (root, rel) in enumerate(seeds):
        f = _copy(data / root / rel, tmp / str(n) / "Annotations" / Path(rel).name)
        out.append(Target(f.stem, f, {"data_root": data / root}, [_slot(f, "xml")]))
    return out


def _yolo(data: Path, tmp: Path) -> list[Target]:
    yd = data / DATUMARO / "yolo_dataset"
    lab = _copy(yd / "labels", tmp / "labels")
    out = [Target("labels-layout", lab, {}, [_slot(lab / "obj.names", "text"),
                                              _slot(lab / "labels/train/1.txt", "text", 2.0),
                                              _slot(lab / "labels/val/1.txt", "text")])]
    strict = _copy(yd / "strict", tmp / "strict")
    out.append(Target("darknet", strict / "obj.data", {}, [
        _slot(strict / "obj.data", "text"), _slot(strict / "obj.names", "text"),
        _slot(strict / "train.txt", "text"), _slot(strict / "obj_train_data/1.txt", "text", 2.0)]))
    from jupyter_cvops.formats import yolo

    res = formats.read(lab, "yolo", annotator="ana")
    images = [formats.ExportImage(r.key, r.path or lab / "x.jpg", Path(r.file_name).name, r.width or 10,
                                  r.height or 10, split=Path(r.key).parent.name or None) for r in res.images]
    y = yolo.write(tmp / "ours", images, res.annotations, res.categories, copy_images=True)
    labels = sorted((tmp / "ours" / "labels").rglob("*.txt"))
    out.append(Target("ours", y, {}, [_slot(y, "yaml", 2.0), _slot(tmp / "ours" / yolo.SIDECAR, "json", 2.0),
                                       *(_slot(f, "text") for f in labels)]))
    return out


def _labelme_files(data: Path) -> list[Path]:
    """LabelMe JSON files among the tests and the shared material (a dict with 'shapes' and 'imagePath')."""
    found = []
    for base in (REPO / "tests", data / "formats"):
        for f in sorted(base.rglob("*.json")):
            if f.stat().st_size > 200_000:
                continue
            try:
                doc = json.loads(f.read_bytes())
            except (ValueError, OSError):
                continue
            if isinstance(doc, dict) and isinstance(doc.get("shapes"), list) and "imagePath" in doc:
                found.append(f)
    return found


def _labelme(data: Path, tmp: Path) -> list[Target]:
    out = []
    for n, src in enumerate(_labelme_files(data)):
        base, root = src.parent.parent, tmp / str(n)  # the file and its image, laid out as they are
        f = _copy(src, root / src.relative_to(base))
        image = (src.parent / str(json.loads(src.read_bytes())["imagePath"]).replace("\\", "/")).resolve()
        if image.is_file() and image.is_relative_to(base.resolve()):
            _copy(image, root / image.relative_to(base.resolve()))
        out.append(Target(src.stem, f, {"data_root": root}, [_slot(f, "json")]))
    return out


SEEDS: dict[str, Callable[[Path, Path], list[Target]]] = {
    "coco": _coco, "cvat": _cvat, "labelstudio": _labelstudio, "voc": _voc, "yolo": _yolo, "labelme": _labelme,
}


# -- checking one case ----------------------------------------------------------------------------
def _where(e: BaseException) -> str:
    frames = [f for f in traceback.extract_tb(e.__traceback__) if "jupyter_cvops" in f.filename]
    f = frames[-1] if frames else traceback.extract_tb(e.__traceback__)[-1]
    return f"{Path(f.filename).name}:{f.lineno} {f.name}"


def _check_result(res: ImportResult) -> str | None:
    """Why ``res`` is not what the workspace can rely on, or None."""
    if not all(isinstance(c, str) and class_name_problem(c) is None for c in res.categories):
        return f"categories not all class names: {res.categories[:5]!r}"[:300]
    keys = set()
    for ref in res.images:
        if not isinstance(ref.key, str) or not isinstance(ref.file_name, str):
            return f"image key/file_name not str: {ref!r}"[:300]
        if ref.key in keys:
            return f"duplicate image key {ref.key!r}"
        keys.add(ref.key)
        for v in (ref.width, ref.height):
            if v is not None and (type(v) is not int or v <= 0):
                return f"image size not a positive int: {ref!r}"[:300]
        if ref.path is not None and not isinstance(ref.path, Path):
            return f"image path not a Path: {ref.path!r}"
    for a in res.annotations:
        if a.image_key not in keys:
            return f"{a.record}: annotation of unknown image {a.image_key!r}"
        if not isinstance(a.class_name, str) or class_name_problem(a.class_name) is not None:
            return f"{a.record}: not a class name: {a.class_name!r}"[:300]
        if a.kind not in ("image", "box") or (a.kind == "box") != (a.bbox is not None):
            return f"{a.record}: kind {a.kind!r} with bbox {a.bbox!r}"
        if a.bbox is not None:
            b = a.bbox
            if len(b) != 4 or not all(type(v) is float and math.isfinite(v) for v in b) or b[2] <= b[0] or b[3] <= b[1]:
                return f"{a.record}: bad bbox {b!r}"
        if a.polygon is not None and not all(
                isinstance(r, list) and all(type(v) is float and math.isfinite(v) for v in r) for r in a.polygon):
            return f"{a.record}: bad polygon"
        if a.annotator is not None and not isinstance(a.annotator, str):
            return f"{a.record}: annotator not str: {a.annotator!r}"[:300]
        if a.created_at is not None and not isinstance(a.created_at, datetime):
            return f"{a.record}: created_at not a datetime"
        if not isinstance(a.attributes, dict) or not isinstance(a.record, str):
            return f"{a.record}: attributes not a dict"
    for p in res.problems:
        if not isinstance(p.record, str) or not isinstance(p.reason, str):
            return f"problem not str: {p!r}"[:300]
    return None


def _put(file: Path, data: bytes) -> None:
    """Replace ``file`` by a new one: rewriting in place (truncating) makes ext4 flush it, 20x slower."""
    file.unlink()
    file.write_bytes(data)


def _run(fmt: str, target: Target, slot: Slot, data: bytes, entity: bool) -> str | None:
    """Write ``data`` over ``slot``, read ``target``; the failure text, or None when all is well."""
    _put(slot.file, data)
    t0 = time.perf_counter()
    try:
        res = formats.read(target.read_path, fmt, **target.kw)
    except FormatError as e:
        msg = str(e)
        names = (slot.file.name, target.read_path.name)
        if not any(msg.startswith(f"{n}: ") for n in names) or "\n" in msg:
            return f"FormatError not 'file: ...' on one line: {msg[:300]!r}"
        if CANARY in msg:
            return f"external entity resolved: {msg[:300]!r}"
        res = None
    except Exception as e:  # noqa: BLE001 - the point of the test
        return f"{type(e).__name__} at {_where(e)}: {str(e)[:200]!r}"
    finally:
        _put(slot.file, slot.original)
    if time.perf_counter() - t0 > SLOW_S:
        return f"slow: {time.perf_counter() - t0:.1f} s"
    if res is None:
        return None
    if entity and CANARY in repr(res):
        return "external entity resolved: the canary is in the result"
    return _check_result(res)


def _cases(fmt: str, targets: list[Target], n: int, secret: Path,
           space: str = "") -> Iterator[tuple[int, Target, Slot, bytes, str]]:
    """The ``n`` seeded cases of ``fmt``: (case id, target, slot, mutated bytes, what was done).

    ``space`` names another series of cases (the workspace test's), replayed as ``<space><format>:<case>``.
    """
    slots = [(t, s) for t in targets for s in t.slots]
    weights = [s.weight for _, s in slots]
    only = int(ONLY.split(":")[1]) if ONLY.startswith(f"{space}{fmt}:") else None
    for case in range(n) if only is None else [only]:
        rng = random.Random(f"{SEED}:{space}{fmt}:{case}")
        target, slot = rng.choices(slots, weights)[0]
        data, what = Mutator(rng, secret).mutate(slot.kind, slot.original)
        yield case, target, slot, data, what


def _secret(tmp: Path) -> Path:
    d = tmp / "secret"
    d.mkdir()
    (d / "secret.txt").write_text(CANARY)
    (d / "secret.dtd").write_text(f'<!ENTITY e "{CANARY}">')
    return d


def _targets(fmt: str, shared_data: Path, tmp: Path) -> list[Target]:
    if fmt not in SEEDS:
        pytest.fail(f"no fuzz seeds for reader {fmt!r}: add a seed builder to SEEDS and a count to PLAN")
    targets = SEEDS[fmt](shared_data, tmp / fmt)
    if not targets:
        pytest.skip(f"no {fmt} seed file in the tests or the shared material")
    for t in targets:  # the seeds themselves read cleanly
        formats.read(t.read_path, fmt, **t.kw)
    return targets


# -- the tests ------------------------------------------------------------------------------------
def test_plan_covers_every_reader() -> None:
    missing = [f for f in formats.FORMATS if f not in PLAN or f not in SEEDS]
    assert not missing, f"readers without a fuzz plan: {missing}"
    always = sum(PLAN[f] for f in formats.FORMATS if f != "labelme")
    assert always >= MIN_TOTAL, always


@pytest.mark.parametrize("fmt", formats.FORMATS)
def test_fuzz_reader(fmt: str, shared_data: Path, tmp_path: Path) -> None:
    if ONLY and not ONLY.startswith(f"{fmt}:"):
        pytest.skip("replaying another format's case")
    targets = _targets(fmt, shared_data, tmp_path)
    secret = _secret(tmp_path)
    failures: list[str] = []
    ran = 0
    for case, target, slot, data, what in _cases(fmt, targets, PLAN[fmt], secret):
        ran += 1
        why = _run(fmt, target, slot, data, entity="entity" in what or "dtd" in what)
        if why is not None:
            keep = tmp_path / "failed" / f"{fmt}-{case}-{slot.file.name}"
            keep.parent.mkdir(exist_ok=True)
            keep.write_bytes(data)
            failures.append(f"seed={SEED} case={fmt}:{case} [{target.name}/{slot.file.name}: {what[:120]}] "
                            f"-> {why} (input kept at {keep})")
    assert ran == (1 if ONLY else PLAN[fmt])
    assert not failures, f"{len(failures)} of {ran} {fmt} cases failed:\n" + "\n".join(failures[:25])


#: Mutated exports imported into a workspace, per reader.
WS_CASES = 40


def _versions(ws: Workspace) -> dict[str, int]:
    return {name: ws.store.version(name) for name in sorted(ws.store.table_names())}


def test_refused_imports_leave_every_table_unchanged(shared_data: Path, tmp_path: Path) -> None:
    """Mutated exports through ``Workspace.import_annotations``: a FormatError commits nothing."""
    if ONLY and not ONLY.startswith("ws-"):
        pytest.skip("replaying a reader case")
    ws = Workspace.create(tmp_path / "ws")
    ws.add_images([shared_data / DATUMARO / "cvat_dataset/for_images/export_project/images",
                   shared_data / DATUMARO / "voc_dataset/voc_dataset1/JPEGImages"], progress=False)
    secret = _secret(tmp_path)
    failures: list[str] = []
    counts = {"refused": 0, "accepted": 0}
    for fmt in formats.FORMATS:
        if fmt not in SEEDS or (ONLY and not ONLY.startswith(f"ws-{fmt}:")):
            continue
        targets = SEEDS[fmt](shared_data, tmp_path / fmt)
        for case, target, slot, data, what in _cases(fmt, targets, WS_CASES, secret, space="ws-"):
            before = _versions(ws)
            _put(slot.file, data)
            try:
                ws.import_annotations(target.read_path, format=fmt, progress=False, **target.kw)
            except FormatError:
                counts["refused"] += 1
                after = _versions(ws)
                if after != before:
                    failures.append(f"seed={SEED} case=ws-{fmt}:{case} [{what[:100]}]: refused, yet tables moved: "
                                    f"{ {k: (before.get(k), v) for k, v in after.items() if before.get(k) != v} }")
            except Exception as e:  # noqa: BLE001 - the point of the test
                failures.append(f"seed={SEED} case=ws-{fmt}:{case} [{what[:100]}]: "
                                f"{type(e).__name__} at {_where(e)}: {str(e)[:200]!r}")
            else:
                counts["accepted"] += 1
            finally:
                _put(slot.file, slot.original)
    assert not failures, f"{len(failures)} failed:\n" + "\n".join(failures[:25])
    if not ONLY:  # both outcomes were exercised
        assert counts["refused"] >= 20 and counts["accepted"] >= 20, counts


@pytest.fixture(scope="module")
def one_ws(tmp_path_factory: pytest.TempPathFactory) -> Workspace:
    """One empty workspace for the module's small imports (each compares its own before/after)."""
    return Workspace.create(tmp_path_factory.mktemp("fuzz") / "ws")


def _export_naming(fmt: str, name: str, folder: Path) -> Path:
    """A one-image, one-box export of ``fmt`` whose image is called ``name``."""
    folder.mkdir(parents=True, exist_ok=True)
    if fmt == "coco":
        doc: Any = {"images": [{"id": 1, "file_name": name, "width": 10, "height": 10}],
                    "categories": [{"id": 1, "name": "dent"}],
                    "annotations": [{"id": 1, "image_id": 1, "category_id": 1, "bbox": [1, 1, 4, 4]}]}
        f = folder / "instances_default.json"
    else:
        value = {"x": 10, "y": 10, "width": 40, "height": 40, "rectanglelabels": ["dent"]}
        doc = [{"id": 1, "data": {"image": name}, "annotations": [{"id": 1, "result": [
            {"type": "rectanglelabels", "value": value, "original_width": 10, "original_height": 10}]}]}]
        f = folder / "data.json"
    f.write_text(json.dumps(doc))
    return f


@pytest.mark.parametrize("name", [pytest.param(n, id=ascii(n)[:30]) for n in PATHS])
@pytest.mark.parametrize("fmt", ["coco", "labelstudio"])
def test_unusable_image_names_import_cleanly(fmt: str, name: str, one_ws: Workspace, tmp_path: Path) -> None:
    """Every planted path as the image name of a tiny export: imported (the image reported missing or
    escaping) or refused, never another exception."""
    ws = one_ws
    before = _versions(ws)
    try:
        rep = ws.import_annotations(_export_naming(fmt, name, tmp_path / "export"), format=fmt, progress=False)
    except FormatError:
        assert _versions(ws) == before
    else:
        assert rep.n_labels_added == 0 and rep.problems
