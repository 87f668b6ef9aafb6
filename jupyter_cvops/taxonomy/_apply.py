"""The taxonomy operations (add, rename, redefine, merge, split, deprecate, set_color, set_parent)
and :func:`apply`, which runs one of them on a state.

Pure, over the class records of :mod:`jupyter_cvops.taxonomy._ops`: :func:`apply` takes a state and
returns a new one plus a change record, so the store layer (:mod:`jupyter_cvops.taxonomy`) can replay
staged operations on top of a newer version when another writer committed first. Retiring a class
(merge, split, deprecate) gives its active children a new parent, never a cycle.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import replace
from typing import Any

from ._ops import (
    Classes,
    ClassRec,
    DuplicateClassError,
    TaxonomyError,
    active_by_name,
    check_color,
    check_definition,
    check_name,
    default_color,
    find_active,
    make_id,
    next_id_number,
)


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
    >>> from jupyter_cvops.taxonomy._ops import describe
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
