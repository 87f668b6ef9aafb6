"""Pure taxonomy logic: class records, validation and lookups, readable changes, label mapping.

A taxonomy state is a ``dict`` of class id -> :class:`ClassRec`, in id order. It
holds *every* class ever created: retired classes (merged, split, deprecated) stay
in it with their status, so a label made under any version can be followed forward.
Every function here is pure. The operations on a state and :func:`apply` live in
:mod:`jupyter_cvops.taxonomy._apply` (each takes a state and returns a new one, so the
store layer (:mod:`jupyter_cvops.taxonomy`) can replay staged operations on top of a
newer version when another writer committed first).

Class ids are ``"c"`` + a zero-padded counter (``c0001``, ``c0002``, ...; past
``c9999`` the number simply grows). The counter is one more than the largest id in
the state, and retired classes stay in every later state, so an id is never reused.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping
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


# -- readable text ------------------------------------------------------------------


def diff_states(a: Classes, b: Classes) -> list[str]:
    """Readable class-definition changes from state ``a`` to state ``b`` (either direction).

    Lines come grouped: added classes, then changes to classes (rename, redefine,
    parent, color), then retirements (merge, split, deprecate) or restorations, then
    removals (only when ``b`` is older than ``a``); within a group, in id order.

    Examples
    --------
    >>> from jupyter_cvops.taxonomy._apply import apply
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
    >>> from jupyter_cvops.taxonomy._apply import apply
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
