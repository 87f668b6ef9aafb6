"""Pure taxonomy logic: class records, the operations on them, readable changes, label mapping.

A taxonomy state is a ``dict`` of class id -> :class:`ClassRec`, in id order. It
holds *every* class ever created: retired classes (merged, split, deprecated) stay
in it with their status, so a label made under any version can be followed forward.
Every function here is pure: it takes a state and returns a new one, so the store
layer (:mod:`jupyter_cvops.taxonomy`) can replay staged operations on top of a
newer version when another writer committed first.

Class ids are ``"c"`` + a zero-padded counter (``c0001``, ``c0002``, ...; past
``c9999`` the number simply grows). The counter is one more than the largest id in
the state, and retired classes stay in every later state, so an id is never reused.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from ._follow import Resolved as Resolved, follow as follow  # noqa: F401  (re-exported)
from ._text import _moved_text, _q, describe as describe, short as short  # noqa: F401  (re-exported)

#: Status of a class: in use, or retired one of three ways.
STATUSES = ("active", "deprecated", "merged", "split")
#: Status of a resolved label (see :func:`follow`).
RESOLVE_STATUSES = ("ok", "renamed", "merged", "needs_review", "deprecated", "unknown")
#: Default colors, in the order new classes get them (Tableau 20, strong tones first).
PALETTE = (
    "#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1", "#ff9da7",
    "#9c755f", "#bab0ac", "#a0cbe8", "#ffbe7d", "#8cd17d", "#b6992d", "#f1ce63", "#499894",
    "#86bcb6", "#d37295", "#fabfd2", "#d4a6c8",
)  # fmt: skip
#: What a stored color that is not ``#rrggbb`` / ``#rgb`` shows as (see :func:`safe_color`).
NEUTRAL_COLOR = "#888888"
ID_PREFIX = "c"
ID_WIDTH = 4
MAX_NAME = 200
_HEX = re.compile(r"^#(?:[0-9a-fA-F]{3}|[0-9a-fA-F]{6})\Z")  # \Z, not $: no trailing newline
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")

Classes = dict[str, "ClassRec"]


class TaxonomyError(ValueError):
    """A taxonomy operation, commit or lookup cannot be done as asked."""


class UnknownClassError(TaxonomyError, KeyError):
    """No (active) class has that name or id; the message lists close names."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


class DuplicateClassError(TaxonomyError):
    """An active class already has that name."""


class TaxonomyConflict(TaxonomyError):
    """Another writer committed a version on which the staged operations no longer apply."""


@dataclass(frozen=True)
class ClassRec:
    """One class of a taxonomy version.

    Examples
    --------
    >>> ClassRec("c0001", "dent", "inward deformation").status
    'active'
    """

    id: str
    name: str
    definition: str = ""
    parent: str | None = None
    color: str = PALETTE[0]
    status: str = "active"
    merged_into: str | None = None
    split_into: tuple[str, ...] = field(default_factory=tuple)

    @property
    def active(self) -> bool:
        """Whether the class is in use (not deprecated, merged or split).

        Examples
        --------
        >>> ClassRec("c0001", "ok", status="deprecated").active
        False
        """
        return self.status == "active"

    def to_json(self) -> dict[str, Any]:
        """Plain dict for the ``classes`` JSON column.

        Examples
        --------
        >>> ClassRec("c0001", "dent").to_json()["split_into"]
        []
        """
        d = asdict(self)
        d["split_into"] = list(self.split_into)
        return d

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> ClassRec:
        """Inverse of :meth:`to_json` (unknown keys are ignored, for forward compatibility).

        Examples
        --------
        >>> ClassRec.from_json({"id": "c0001", "name": "dent"}).name
        'dent'
        """
        return cls(
            id=str(d["id"]),
            name=str(d["name"]),
            definition=str(d.get("definition") or ""),
            parent=d.get("parent"),
            color=safe_color(d.get("color") or PALETTE[0]),  # the table may have been edited directly
            status=str(d.get("status") or "active"),
            merged_into=d.get("merged_into"),
            split_into=tuple(d.get("split_into") or ()),
        )


# -- small helpers ----------------------------------------------------------------


def make_id(n: int) -> str:
    """Class id number ``n``.

    Examples
    --------
    >>> make_id(7)
    'c0007'
    """
    return f"{ID_PREFIX}{n:0{ID_WIDTH}d}"


def next_id_number(classes: Classes) -> int:
    """One more than the largest class id number in ``classes`` (1 for an empty state).

    Examples
    --------
    >>> next_id_number({"c0003": ClassRec("c0003", "a")})
    4
    """
    nums = [int(k[len(ID_PREFIX) :]) for k in classes if k[len(ID_PREFIX) :].isdigit()]
    return max(nums, default=0) + 1


def check_name(name: Any, what: str = "class name") -> str:
    """Validate a class name: a non-empty string without surrounding whitespace or control characters.

    Examples
    --------
    >>> check_name("dent")
    'dent'
    >>> check_name(" dent")
    Traceback (most recent call last):
    ...
    jupyter_cvops.taxonomy._ops.TaxonomyError: class name ' dent' has leading or trailing whitespace
    """
    if not isinstance(name, str):
        raise TaxonomyError(f"{what} must be a string, not {type(name).__name__} ({name!r})")
    if not name.strip():
        raise TaxonomyError(f"{what} is empty")
    if name != name.strip():
        raise TaxonomyError(f"{what} {name!r} has leading or trailing whitespace")
    if _CONTROL.search(name):
        raise TaxonomyError(f"{what} {name!r} contains a newline or control character")
    if len(name) > MAX_NAME:
        raise TaxonomyError(f"{what} is longer than {MAX_NAME} characters: {name[:40]!r}...")
    return name


def check_color(color: Any) -> str:
    """Validate a ``#rrggbb`` (or ``#rgb``) color; returns lower-case ``#rrggbb``.

    Examples
    --------
    >>> check_color("#F80")
    '#ff8800'
    """
    if not isinstance(color, str) or not _HEX.match(color):
        raise TaxonomyError(f"color must be a hex string like '#1f77b4', not {color!r}")
    c = color.lower()
    if len(c) == 4:
        c = "#" + "".join(ch * 2 for ch in c[1:])
    return c


def safe_color(color: Any) -> str:
    """``color`` as lower-case ``#rrggbb`` if it is a valid color, else :data:`NEUTRAL_COLOR`.

    The read-side counterpart of :func:`check_color`: colors read from the store go through it,
    so a value written into the table by other means (``red;background:url(...)``) never reaches
    CSS or HTML.

    Parameters
    ----------
    color
        A stored color, of any type.

    Returns
    -------
    str
        ``#rrggbb``, always.

    Examples
    --------
    >>> safe_color("#F80"), safe_color("red;background:url(https://evil.example/x)")
    ('#ff8800', '#888888')
    """
    try:
        return check_color(color)
    except TaxonomyError:
        return NEUTRAL_COLOR


def check_definition(definition: Any) -> str:
    """Validate guideline text (``None`` means empty).

    Examples
    --------
    >>> check_definition(None)
    ''
    """
    if definition is None:
        return ""
    if not isinstance(definition, str):
        raise TaxonomyError(f"definition must be a string, not {type(definition).__name__}")
    return definition


def default_color(classes: Classes) -> str:
    """The first palette color no active class uses (cycling by id once all are taken).

    Examples
    --------
    >>> default_color({})
    '#4e79a7'
    >>> default_color({"c0001": ClassRec("c0001", "a", color="#4e79a7")})
    '#f28e2b'
    """
    used = {c.color for c in classes.values() if c.active}
    for color in PALETTE:
        if color not in used:
            return color
    return PALETTE[(next_id_number(classes) - 1) % len(PALETTE)]


def active_by_name(classes: Classes) -> dict[str, ClassRec]:
    """Active classes keyed by name.

    Examples
    --------
    >>> list(active_by_name({"c0001": ClassRec("c0001", "a", status="merged")}))
    []
    """
    return {c.name: c for c in classes.values() if c.active}


def _retired_note(classes: Classes, rec: ClassRec) -> str:
    if rec.status == "merged" and rec.merged_into in classes:
        return f"merged into {classes[rec.merged_into].name!r}"
    if rec.status == "split":
        names = ", ".join(repr(classes[i].name) for i in rec.split_into if i in classes)
        return f"split into {names}"
    return rec.status


def unknown_class(classes: Classes, key: str, *, what: str = "class", retired_hint: bool = True) -> UnknownClassError:
    """A clear :class:`UnknownClassError` for ``key``, listing close active names.

    With ``retired_hint=False`` (lookups that accept retired names) close names are
    drawn from every class, retired ones included.

    Examples
    --------
    >>> str(unknown_class({"c0001": ClassRec("c0001", "scratch")}, "scrach"))
    "no active class named 'scrach'; did you mean 'scratch'?"
    """
    active = sorted(active_by_name(classes))
    pool = active if retired_hint else sorted({c.name for c in classes.values()})
    close = difflib.get_close_matches(key, pool, n=3, cutoff=0.6) if isinstance(key, str) else []
    if isinstance(key, str):
        close += [n for n in pool if n.lower() == key.lower() and n not in close]
    msg = f"no active {what} named {key!r}" if retired_hint else f"no {what} was ever named {key!r}"
    retired = [c for c in classes.values() if c.name == key and not c.active]
    if retired and retired_hint:
        msg += f" ({key!r} is {_retired_note(classes, retired[-1])}; operations apply to active classes)"
    if close:
        msg += "; did you mean " + " or ".join(repr(n) for n in close) + "?"
    elif active:
        shown = ", ".join(repr(n) for n in active[:12]) + (", ..." if len(active) > 12 else "")
        msg += f"; active classes: {shown}"
    else:
        msg += "; the taxonomy has no active classes yet"
    return UnknownClassError(msg)


def find_active(classes: Classes, key: Any, *, what: str = "class") -> ClassRec:
    """The active class whose name (or, failing that, id) is ``key``.

    Examples
    --------
    >>> find_active({"c0001": ClassRec("c0001", "dent")}, "c0001").name
    'dent'
    """
    if not isinstance(key, str):
        raise TaxonomyError(f"{what} must be given by name (a string), not {type(key).__name__}")
    by_name = active_by_name(classes)
    if key in by_name:
        return by_name[key]
    rec = classes.get(key)
    if rec is not None and rec.active:
        return rec
    raise unknown_class(classes, key, what=what)


def _require_free(classes: Classes, name: str, *, allow: str | None = None) -> None:
    rec = active_by_name(classes).get(name)
    if rec is not None and rec.id != allow:
        raise DuplicateClassError(f"an active class is already named {name!r} ({rec.id})")


def _ancestors(classes: Classes, cid: str | None) -> list[str]:
    out: list[str] = []
    while cid is not None and cid in classes and cid not in out:
        out.append(cid)
        cid = classes[cid].parent
    return out


def _check_acyclic(classes: Classes) -> None:
    for cid in classes:
        seen: set[str] = set()
        cur: str | None = cid
        while cur is not None:
            if cur in seen:
                raise TaxonomyError(f"this would make class {classes[cid].name!r} its own ancestor")
            seen.add(cur)
            cur = classes[cur].parent if cur in classes else None


def _surviving_ancestor(classes: Classes, cid: str | None) -> str | None:
    for a in _ancestors(classes, cid):
        if classes[a].active:
            return a
    return None


def _reparent_orphans(classes: Classes, retired: Iterable[str], prefer: str | None = None) -> dict[str, str | None]:
    """Give active children of retired classes a new parent: ``prefer`` (merge target)
    when that makes no cycle, else the nearest active ancestor. Mutates ``classes``."""
    gone = set(retired)
    moved: dict[str, str | None] = {}
    for cid, rec in list(classes.items()):
        if not rec.active or rec.parent not in gone:
            continue
        new = prefer if prefer is not None and prefer != cid and cid not in _ancestors(classes, prefer) else None
        if new is None:
            new = _surviving_ancestor(classes, rec.parent)
        classes[cid] = replace(rec, parent=new)
        moved[cid] = new
    _check_acyclic(classes)
    return moved


def _new_class(classes: Classes, name: str, definition: str, parent: str | None, color: str | None) -> ClassRec:
    rec = ClassRec(
        id=make_id(next_id_number(classes)),
        name=name,
        definition=definition,
        parent=parent,
        color=check_color(color) if color is not None else default_color(classes),
    )
    classes[rec.id] = rec
    return rec


# -- operations -------------------------------------------------------------------


def _op_add(c: Classes, name: str, definition: str | None = None, parent: str | None = None,
            color: str | None = None) -> dict[str, Any]:
    check_name(name)
    _require_free(c, name)
    definition = check_definition(definition)
    pid = find_active(c, parent, what="parent class").id if parent is not None else None
    rec = _new_class(c, name, definition, pid, color)
    return {"op": "add", "id": rec.id, "name": name, "definition": definition, "parent": pid,
            "parent_name": c[pid].name if pid else None, "color": rec.color}


def _op_rename(c: Classes, name: str, new_name: str) -> dict[str, Any]:
    rec = find_active(c, name)
    check_name(new_name, "new name")
    if new_name == rec.name:
        raise TaxonomyError(f"class {rec.name!r} is already named {new_name!r}")
    _require_free(c, new_name)
    c[rec.id] = replace(rec, name=new_name)
    return {"op": "rename", "id": rec.id, "old": rec.name, "new": new_name}


def _op_redefine(c: Classes, name: str, definition: str) -> dict[str, Any]:
    rec = find_active(c, name)
    definition = check_definition(definition)
    if definition == rec.definition:
        raise TaxonomyError(f"class {rec.name!r} already has this definition")
    c[rec.id] = replace(rec, definition=definition)
    return {"op": "redefine", "id": rec.id, "name": rec.name, "old": rec.definition, "new": definition}


def _op_merge(c: Classes, names: Sequence[str] | str, into: str, definition: str | None = None) -> dict[str, Any]:
    if isinstance(names, str):
        names = [names]
    recs = [find_active(c, n) for n in names]
    ids = [r.id for r in recs]
    if len(set(ids)) != len(ids):
        raise TaxonomyError(f"merge lists a class twice: {list(names)}")
    check_name(into, "merge target")
    target = active_by_name(c).get(into)
    if target is None and into in c and c[into].active:
        target = c[into]
    sources = [r for r in recs if target is None or r.id != target.id]
    if not sources:
        raise TaxonomyError(f"nothing to merge: {list(names)} into {into!r} names only the target")
    created = target is None
    old_def = None if target is None else target.definition
    if target is None:
        parents = {r.parent for r in sources}
        parent = parents.pop() if len(parents) == 1 else None
        target = _new_class(c, into, check_definition(definition), parent, sources[0].color)
    elif definition is not None:
        c[target.id] = target = replace(target, definition=check_definition(definition))
    for r in sources:
        c[r.id] = replace(r, status="merged", merged_into=target.id)
    moved = _reparent_orphans(c, [r.id for r in sources], prefer=target.id)
    return {"op": "merge", "sources": [r.id for r in sources], "source_names": [r.name for r in sources],
            "into": target.id, "into_name": target.name, "created": created,
            "old_definition": old_def, "new_definition": definition if definition is not None else None,
            "color": c[target.id].color, "reparented": _moved_names(c, moved)}


def _op_split(c: Classes, name: str, into: Sequence[str] | Mapping[str, str]) -> dict[str, Any]:
    rec = find_active(c, name)
    if isinstance(into, str) or not isinstance(into, Sequence | Mapping):
        raise TaxonomyError("split needs a list of new class names or a dict of name -> definition")
    defs = {n: check_definition(into[n]) for n in into} if isinstance(into, Mapping) else {n: "" for n in into}
    if len(defs) != len(into):
        raise TaxonomyError(f"split lists a new class twice: {list(into)}")
    if len(defs) < 2:
        raise TaxonomyError(f"split {rec.name!r} into at least two classes (to rename, use rename)")
    for n in defs:
        check_name(n, "split target")
        if n != rec.name:
            taken = active_by_name(c).get(n)
            if taken is not None:
                raise DuplicateClassError(
                    f"cannot split into {n!r}: an active class {n!r} ({taken.id}) exists; split creates "
                    "new classes (to move labels into an existing class, use merge)"
                )
    c[rec.id] = replace(rec, status="split")
    new = [_new_class(c, n, d, rec.parent if rec.parent in c and c[rec.parent].active else None, None)
           for n, d in defs.items()]
    c[rec.id] = replace(c[rec.id], split_into=tuple(r.id for r in new))
    moved = _reparent_orphans(c, [rec.id])
    return {"op": "split", "id": rec.id, "name": rec.name, "into": [r.id for r in new],
            "into_names": [r.name for r in new], "definitions": [r.definition for r in new],
            "reparented": _moved_names(c, moved)}


def _op_deprecate(c: Classes, name: str) -> dict[str, Any]:
    rec = find_active(c, name)
    c[rec.id] = replace(rec, status="deprecated")
    moved = _reparent_orphans(c, [rec.id])
    return {"op": "deprecate", "id": rec.id, "name": rec.name, "reparented": _moved_names(c, moved)}


def _op_set_color(c: Classes, name: str, color: str) -> dict[str, Any]:
    rec = find_active(c, name)
    color = check_color(color)
    if color == rec.color:
        raise TaxonomyError(f"class {rec.name!r} already has color {color}")
    c[rec.id] = replace(rec, color=color)
    return {"op": "set_color", "id": rec.id, "name": rec.name, "old": rec.color, "new": color}


def _op_set_parent(c: Classes, name: str, parent: str | None) -> dict[str, Any]:
    rec = find_active(c, name)
    pid = find_active(c, parent, what="parent class").id if parent is not None else None
    if pid == rec.parent:
        raise TaxonomyError(f"class {rec.name!r} already has this parent")
    if pid is not None and rec.id in _ancestors(c, pid):
        raise TaxonomyError(f"cannot put {rec.name!r} under {c[pid].name!r}: that is {rec.name!r} or one of its descendants")
    c[rec.id] = replace(rec, parent=pid)
    return {"op": "set_parent", "id": rec.id, "name": rec.name, "old": rec.parent, "new": pid,
            "old_name": c[rec.parent].name if rec.parent in c else None,
            "new_name": c[pid].name if pid else None}


def _moved_names(c: Classes, moved: Mapping[str, str | None]) -> list[list[str | None]]:
    return [[cid, c[cid].name, pid, c[pid].name if pid else None] for cid, pid in moved.items()]


OPS: dict[str, Callable[..., dict[str, Any]]] = {
    "add": _op_add,
    "rename": _op_rename,
    "redefine": _op_redefine,
    "merge": _op_merge,
    "split": _op_split,
    "deprecate": _op_deprecate,
    "set_color": _op_set_color,
    "set_parent": _op_set_parent,
}


def apply(classes: Classes, op: str, args: Mapping[str, Any]) -> tuple[Classes, dict[str, Any]]:
    """Apply one operation to a state; returns the new state and the change record.

    Validates first: ``classes`` is never modified, and an invalid operation raises
    :class:`TaxonomyError` (or a subclass) with a clear reason.

    Examples
    --------
    >>> state, change = apply({}, "add", {"name": "dent"})
    >>> change["id"], describe(change)
    ('c0001', 'added "dent"')
    """
    fn = OPS.get(op)
    if fn is None:
        raise TaxonomyError(f"unknown taxonomy operation {op!r}; expected one of {sorted(OPS)}")
    new = dict(classes)
    change = fn(new, **args)
    return new, change


# -- readable text ------------------------------------------------------------------


def diff_states(a: Classes, b: Classes) -> list[str]:
    """Readable class-definition changes from state ``a`` to state ``b`` (either direction).

    Lines come grouped: added classes, then changes to classes (rename, redefine,
    parent, color), then retirements (merge, split, deprecate) or restorations, then
    removals (only when ``b`` is older than ``a``); within a group, in id order.

    Examples
    --------
    >>> a, _ = apply({}, "add", {"name": "stain"})
    >>> b, _ = apply(a, "rename", {"name": "stain", "new_name": "contamination"})
    >>> diff_states(a, b)
    ['renamed "stain" -> "contamination"']
    """
    added: list[str] = []
    changed: list[str] = []
    retired: list[str] = []
    removed: list[str] = []
    for cid in sorted(set(a) | set(b), key=_id_sort_key):
        old, new = a.get(cid), b.get(cid)
        if new is None:
            removed.append(f'removed "{a[cid].name}"')  # cid is in a or b, and not in b
            continue
        if old is None:
            s = f'added "{new.name}"'
            if new.parent in b:
                s += f' under "{b[new.parent].name}"'
            added.append(s + (f': "{short(new.definition)}"' if new.definition else ""))
            old = replace(new, status="active", merged_into=None, split_into=())
        if old.name != new.name:
            changed.append(f'renamed "{old.name}" -> "{new.name}"')
        if old.definition != new.definition:
            changed.append(f'redefined "{new.name}": "{short(old.definition)}" -> "{short(new.definition)}"')
        if old.parent != new.parent and new.active:
            where = f'under "{b[new.parent].name}"' if new.parent in b else "to top level"
            changed.append(f'moved "{new.name}" {where}')
        if old.color != new.color and new.active:
            changed.append(f'recolored "{new.name}": {old.color} -> {new.color}')
        if old.status != new.status:
            if new.status == "merged":
                retired.append(f'merged "{new.name}" -> "{b[new.merged_into].name}"')  # type: ignore[index]
            elif new.status == "split":
                retired.append(f'split "{new.name}" -> {_q(b[i].name for i in new.split_into)}')
            elif new.status == "deprecated":
                retired.append(f'deprecated "{new.name}"')
            else:
                retired.append(f'restored "{new.name}" (was {old.status})')
    return added + changed + retired + removed


def _id_sort_key(cid: str) -> tuple[int, str]:
    num = cid[len(ID_PREFIX) :]
    return (int(num) if num.isdigit() else 1 << 62, cid)


# -- label mapping --------------------------------------------------------------------


def resolve_one(
    cid: str | None, from_state: Classes | None, to_state: Classes, *, from_known: bool = True
) -> tuple[str | None, str | None, str, list[str]]:
    """Map one (class id, state it was made under) to ``to_state``.

    Returns ``(class_id, class_name, status, candidates)`` with status one of
    :data:`RESOLVE_STATUSES`. ``from_state=None`` with ``from_known=True`` means
    "version not recorded": the id is read directly under ``to_state``.

    Examples
    --------
    >>> a, _ = apply({}, "add", {"name": "stain"})
    >>> b, _ = apply(a, "rename", {"name": "stain", "new_name": "smudge"})
    >>> resolve_one("c0001", a, b)
    ('c0001', 'smudge', 'renamed', [])
    """
    if cid is None or not from_known or (from_state is not None and cid not in from_state):
        return None, None, "unknown", []
    r = follow(to_state, cid)
    if r.kind == "unknown":
        return None, None, "unknown", []
    if r.kind == "active":
        renamed = from_state is not None and from_state[cid].name != r.class_name
        return r.class_id, r.class_name, "renamed" if renamed else "ok", []
    return r.class_id, r.class_name, r.kind, list(r.candidates)
