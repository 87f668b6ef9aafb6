"""Opening the files of an export safely: one confinement rule for every reader, size caps, YAML
without aliases.

Every reader opens only files that lie, **symlinks resolved**, inside the export's own folder or
the caller's ``data_root`` (:class:`Scope` for annotation, list and config files,
:class:`ImageResolver` for images); what lies outside is a per-record problem
(:data:`ESCAPES`) and is never read.  Every annotation, list, names and config file is refused
with a :class:`FormatError` naming the file and the cap when it is larger than its cap
(:data:`MAX_ANNOTATION_BYTES`, :data:`MAX_PER_IMAGE_BYTES`, :data:`MAX_CONFIG_BYTES`), checked
before a byte is read.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import yaml

from ._messages import short
from ._types import FormatError, RecordProblem

ESCAPES = "path escapes data root"
#: File suffixes tried when a format names an image without its extension (YOLO).
IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp"})
#: Largest file holding a whole export (COCO JSON, CVAT XML, Label Studio JSON, YOLO list files and
#: sidecar).  COCO's own instances_train2017.json is 448 MiB.
MAX_ANNOTATION_BYTES = 1 << 30
#: Largest file holding one image's labels (VOC XML, LabelMe JSON with its embedded image, YOLO labels).
MAX_PER_IMAGE_BYTES = 64 << 20
#: Largest description of a dataset (data.yaml, obj.data, names files, Label Studio labeling config).
MAX_CONFIG_BYTES = 8 << 20
#: libyaml's safe loader when built in: fast, and it stops deep nesting that PyYAML's scanner walks in
#: quadratic time; both construct only plain data.
_YAML_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _inside(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip(os.sep) + os.sep)


def confined(path: str | Path, roots: Iterable[str | Path]) -> bool:
    """Whether ``path``, symlinks resolved, lies inside one of the folders ``roots`` (also resolved).

    Examples
    --------
    >>> confined("/tmp/x/../y", ["/tmp"]), confined("/etc/passwd", ["/tmp"])
    (True, False)
    """
    try:
        real = os.path.realpath(os.fspath(path))
        return any(_inside(real, os.path.realpath(os.fspath(r))) for r in roots)
    except (OSError, ValueError):  # a NUL byte, a name too long
        return False


class Scope:
    """The folders a reader may open files in (symlinks resolved), and the files it refused.

    ``roots`` are the export's own folder (the folder or file's folder the caller named, the
    dataset folder above it) and the caller's ``data_root``.  :meth:`given` checks the file the
    caller named (a symlink out of its folder is a :class:`FormatError`); :meth:`keep` filters
    files found by walking a folder (one refused is a problem in :attr:`problems`, never read).

    Examples
    --------
    >>> s = Scope(["/tmp"])
    >>> s.ok("/tmp/a.json"), s.keep([Path("/etc/passwd")], Path("/etc")), s.problems[0].reason
    (True, [], "path escapes data root: 'passwd'")
    """

    def __init__(self, roots: Iterable[str | Path | None] = ()) -> None:
        self.roots: list[Path] = []
        self.problems: list[RecordProblem] = []
        for r in roots:
            self.add(r)

    def add(self, root: str | Path | None) -> None:
        """Allow files under ``root`` too (None is ignored).

        Examples
        --------
        >>> s = Scope(); s.add("/tmp"); s.add(None); s.roots
        [PosixPath('/tmp')]
        """
        if root is not None and Path(root) not in self.roots:
            self.roots.append(Path(root))

    def ok(self, f: str | Path) -> bool:
        """Whether ``f``, symlinks resolved, lies inside the scope.

        Examples
        --------
        >>> Scope(["/tmp"]).ok("/tmp/../etc/passwd")
        False
        """
        return confined(f, self.roots)

    def refuse(self, record: str, what: Any) -> None:
        """Record that ``what`` (named by ``record``) lies outside and was not read.

        Examples
        --------
        >>> s = Scope(); s.refuse("data.yaml: train", "/etc"); s.problems[0].record
        'data.yaml: train'
        """
        self.problems.append(RecordProblem(record, f"{ESCAPES}: {short(what)}"))

    def given(self, path: Path) -> None:
        """Check the file the caller named: it may not resolve (a symlink) outside the scope.

        Examples
        --------
        >>> Scope(["/tmp"]).given(Path("/etc/passwd"))
        Traceback (most recent call last):
        ...
        jupyter_cvops.formats._types.FormatError: passwd: path escapes data root (a symlink out of its folder)
        """
        if not self.ok(path):
            raise FormatError(f"{path.name}: {ESCAPES} (a symlink out of its folder)")

    def keep(self, files: Sequence[Path], base: Path) -> list[Path]:
        """``files`` found under ``base`` that lie inside the scope; the others become problems.

        Examples
        --------
        >>> Scope(["/tmp"]).keep([Path("/tmp/a.json")], Path("/tmp"))
        [PosixPath('/tmp/a.json')]
        """
        kept = []
        for f in files:
            if self.ok(f):
                kept.append(f)
            else:
                rel = os.path.relpath(f, base) if _inside(os.path.abspath(f), os.path.abspath(base)) else f.name
                self.refuse(Path(rel).as_posix(), Path(rel).as_posix())
        return kept


class ImageResolver:
    """Find image files under a data root, refusing names that escape it.

    ``bases`` are folders (relative to ``data_root``) tried in order; a name is
    joined to each.  A name that resolves outside the root (``..``, an absolute
    path elsewhere, a symlink pointing out) is reported as escaping and never
    returned.

    Examples
    --------
    >>> import tempfile
    >>> root = Path(tempfile.mkdtemp()); (root / "images").mkdir()
    >>> _ = (root / "images" / "a.jpg").write_bytes(b"x")
    >>> r = ImageResolver(root, ["images", ""])
    >>> r.find("a.jpg")[0].name, r.find("../../etc/passwd")
    ('a.jpg', (None, True))
    """

    def __init__(self, data_root: str | Path, bases: Iterable[str | Path] = ("",)) -> None:
        self.root = os.path.realpath(os.fspath(data_root))
        self.bases: list[str] = []
        for b in bases:
            p = os.path.normpath(os.path.join(self.root, os.fspath(b)))
            if _inside(p, self.root) and p not in self.bases:
                self.bases.append(p)
        self._listings: dict[str, dict[str, str]] = {}

    def inside(self, path: str | Path) -> bool:
        """Whether the (already resolved) folder or file ``path`` lies under the root.

        Examples
        --------
        >>> ImageResolver("/tmp").inside("/tmp/x"), ImageResolver("/tmp").inside("/etc")
        (True, False)
        """
        return _inside(os.fspath(path), self.root)

    def find(self, name: str, bases: Sequence[str] | None = None) -> tuple[Path | None, bool]:
        """Return ``(path, escaped)`` for the first existing file ``base/name`` inside the root.

        Examples
        --------
        >>> ImageResolver("/tmp").find("/etc/passwd")
        (None, True)
        """
        name = name.replace("\\", "/")
        if "\x00" in name:
            return None, False
        escaped = False
        for base in self.bases if bases is None else bases:
            cand = os.path.normpath(os.path.join(base, name))
            if not _inside(cand, self.root):
                escaped = True
            elif os.path.isfile(cand):
                if _inside(os.path.realpath(cand), self.root):
                    return Path(cand), False
                escaped = True  # a symlink pointing out of the root
        return None, escaped

    def find_stem(self, rel_dirs: Sequence[str], stem: str) -> tuple[Path | None, bool]:
        """Find ``stem`` with any image suffix in the folders ``base/rel_dir`` (listed once each).

        Examples
        --------
        >>> ImageResolver("/tmp").find_stem(["no-such-dir"], "x")
        (None, False)
        """
        dirs = [os.path.normpath(os.path.join(b, d)) for d in rel_dirs for b in self.bases]
        for d in dict.fromkeys(dirs):
            if not _inside(d, self.root):
                continue
            if d not in self._listings:
                names = sorted(os.listdir(d), reverse=True) if os.path.isdir(d) else []
                split = [os.path.splitext(e) for e in names]
                self._listings[d] = {s: s + x for s, x in split if x.lower() in IMAGE_SUFFIXES}
            if stem in self._listings[d]:
                found, escaped = self.find(self._listings[d][stem], [d])
                if found is not None or escaped:
                    return found, escaped
        return None, False


def _size_text(n: int) -> str:
    for unit, shift in (("GiB", 30), ("MiB", 20), ("KiB", 10)):
        if n >= 1 << shift:
            return f"{n / (1 << shift):.3g} {unit}"
    return f"{n} bytes"


def check_file(path: Path, max_bytes: int) -> None:
    """Refuse, with a :class:`FormatError` naming the file and the cap, anything but a regular file
    of at most ``max_bytes`` bytes; nothing is read.

    Examples
    --------
    >>> check_file(Path("/dev/null"), 10)
    Traceback (most recent call last):
    ...
    jupyter_cvops.formats._types.FormatError: null: not a regular file
    >>> import tempfile; f = Path(tempfile.mkdtemp()) / "big.json"; _ = f.write_bytes(b"x" * 2000)
    >>> check_file(f, 1024)
    Traceback (most recent call last):
    ...
    jupyter_cvops.formats._types.FormatError: big.json: file is 1.95 KiB, larger than the 1 KiB this reader accepts for it
    """
    try:
        st = os.stat(path)
    except OSError as e:
        raise FormatError(f"{path.name}: cannot read file ({e.strerror})") from None
    except ValueError:  # a NUL byte in the name
        raise FormatError(f"{path.name}: cannot read file (invalid name)") from None
    if not stat.S_ISREG(st.st_mode):
        raise FormatError(f"{path.name}: not a regular file")
    if st.st_size > max_bytes:
        raise FormatError(f"{path.name}: file is {_size_text(st.st_size)}, larger than the "
                          f"{_size_text(max_bytes)} this reader accepts for it")


def read_text(path: Path, max_bytes: int) -> str:
    """Text of a UTF-8 file (a BOM is dropped) of at most ``max_bytes`` bytes, else :class:`FormatError`.

    Examples
    --------
    >>> read_text(Path("/no/such.txt"), 10)
    Traceback (most recent call last):
    ...
    jupyter_cvops.formats._types.FormatError: such.txt: cannot read file (No such file or directory)
    """
    check_file(path, max_bytes)
    try:
        with open(path, "rb") as f:
            data = f.read(max_bytes + 1)
        if len(data) > max_bytes:  # grew since it was checked
            raise FormatError(f"{path.name}: file is larger than the {_size_text(max_bytes)} "
                              "this reader accepts for it")
        return data.decode("utf-8-sig")
    except (OSError, UnicodeDecodeError) as e:
        raise FormatError(f"{path.name}: cannot read text ({e.__class__.__name__})") from None


def load_yaml(path: Path, max_bytes: int = MAX_CONFIG_BYTES) -> Any:
    """Parse a YAML file of plain data; anchors and aliases (``&a`` / ``*a``) are refused.

    An alias repeats a whole subtree, so a few hundred bytes of nested aliases stand for
    billions of items once anything walks them: a dataset description has no use for them.

    Examples
    --------
    >>> import tempfile; f = Path(tempfile.mkdtemp()) / "data.yaml"
    >>> _ = f.write_text("a: &x [1, 2]\\nb: *x\\n")
    >>> load_yaml(f)
    Traceback (most recent call last):
    ...
    jupyter_cvops.formats._types.FormatError: data.yaml: YAML anchors and aliases (&x, *x) are not allowed (line 1)
    """
    text = read_text(path, max_bytes)
    try:
        for ev in yaml.parse(text, Loader=_YAML_LOADER):
            name = ev.anchor if isinstance(ev, (yaml.AliasEvent, yaml.NodeEvent)) else None
            if name is not None:
                line = ev.start_mark.line + 1 if ev.start_mark is not None else "?"
                raise FormatError(f"{path.name}: YAML anchors and aliases (&{name}, *{name}) are not allowed "
                                  f"(line {line})")
        return yaml.load(text, Loader=_YAML_LOADER)  # noqa: S506 - a safe loader
    except yaml.YAMLError as e:
        raise FormatError(f"{path.name}: malformed YAML ({' '.join(str(e).split())})") from None
    except RecursionError:
        raise FormatError(f"{path.name}: YAML nested too deeply") from None
    except FormatError:
        raise
    except ValueError as e:  # an integer past Python's limit on digits
        raise FormatError(f"{path.name}: malformed YAML ({short(str(e))})") from None
