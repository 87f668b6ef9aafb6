"""Label mapping: where a class id made under one taxonomy state ends up in another.

Pure functions of :mod:`jupyter_cvops.taxonomy._ops` (re-exported there): :func:`follow`
walks merges and splits (:func:`~jupyter_cvops.taxonomy._ops.resolve_one` gives one label's status).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ._ops import Classes



@dataclass(frozen=True)
class Resolved:
    """Where a class id ends up in a later state (see :func:`follow`).

    Examples
    --------
    >>> Resolved("c0002", "dirt", "merged").kind
    'merged'
    """

    class_id: str | None
    class_name: str | None
    kind: str  # active | merged | deprecated | needs_review | unknown
    candidates: tuple[str, ...] = ()


def follow(classes: Classes, cid: str | None, _seen: frozenset[str] = frozenset()) -> Resolved:
    """Follow class ``cid`` through merges in ``classes`` to the class labels of it now belong to.

    ``kind`` is ``active`` (the id itself, still in use), ``merged`` (another class,
    reached through one or more merges), ``deprecated`` (a deprecated class, id kept),
    ``needs_review`` (the class, or one it was merged into, was split: no class is
    guessed; ``candidates`` names the classes it was split into) or ``unknown``.

    Examples
    --------
    >>> from jupyter_cvops.taxonomy._apply import apply
    >>> s, _ = apply({}, "add", {"name": "stain"})
    >>> s, _ = apply(s, "add", {"name": "dirt"})
    >>> s, _ = apply(s, "merge", {"names": ["stain", "dirt"], "into": "contamination"})
    >>> follow(s, "c0001")
    Resolved(class_id='c0003', class_name='contamination', kind='merged', candidates=())
    """
    rec = classes.get(cid) if cid is not None else None
    if rec is None or cid in _seen:
        return Resolved(None, None, "unknown")
    if rec.status == "active":
        return Resolved(rec.id, rec.name, "active")
    if rec.status == "deprecated":
        return Resolved(rec.id, rec.name, "deprecated")
    if rec.status == "merged":
        r = follow(classes, rec.merged_into, _seen | {rec.id})
        return replace(r, kind="merged") if r.kind == "active" else r
    if rec.status == "split":
        names: list[str] = []
        for part in rec.split_into:
            r = follow(classes, part, _seen | {rec.id})
            cands = r.candidates if r.kind == "needs_review" else ((r.class_name,) if r.class_name else ())
            names += [n for n in cands if n not in names]
        return Resolved(None, None, "needs_review", tuple(names))
    return Resolved(None, None, "unknown")
