"""Readable one-line text for taxonomy change records (the ``changes`` column).

Pure helpers of :mod:`jupyter_cvops.taxonomy._ops` (re-exported there).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any



def short(text: str | None, n: int = 40) -> str:
    """One-line, shortened text for change summaries.

    Examples
    --------
    >>> short("a  very\\nlong definition of a dent", 12)
    'a very lo...'
    """
    t = " ".join((text or "").split())
    return t if len(t) <= n else t[: n - 3] + "..."


def _q(names: Iterable[str | None]) -> str:
    return ", ".join(f'"{n}"' for n in names)


def _moved_text(change: Mapping[str, Any]) -> str:
    parts = [
        f'"{name}" moved ' + (f'under "{pname}"' if pname else "to top level")
        for _cid, name, _pid, pname in change.get("reparented") or []
    ]
    return f" ({'; '.join(parts)})" if parts else ""


def describe(change: Mapping[str, Any]) -> str:
    """One readable line for a change record (as stored in the ``changes`` column).

    Examples
    --------
    >>> describe({"op": "rename", "id": "c0003", "old": "stain", "new": "contamination"})
    'renamed "stain" -> "contamination"'
    """
    op = change.get("op")
    if op == "add":
        s = f'added "{change["name"]}"'
        if change.get("parent_name"):
            s += f' under "{change["parent_name"]}"'
        if change.get("definition"):
            s += f': "{short(change["definition"])}"'
        return s
    if op == "rename":
        return f'renamed "{change["old"]}" -> "{change["new"]}"'
    if op == "redefine":
        return f'redefined "{change["name"]}": "{short(change["old"])}" -> "{short(change["new"])}"'
    if op == "merge":
        s = f'merged {_q(change["source_names"])} -> "{change["into_name"]}"'
        if change.get("created"):
            s += " (new class)"
        if change.get("new_definition") is not None:
            before = change.get("old_definition")
            s += f', redefined "{short(before)}" -> "{short(change["new_definition"])}"' if before is not None \
                else f': "{short(change["new_definition"])}"'
        return s + _moved_text(change)
    if op == "split":
        return f'split "{change["name"]}" -> {_q(change["into_names"])}' + _moved_text(change)
    if op == "deprecate":
        return f'deprecated "{change["name"]}"' + _moved_text(change)
    if op == "set_color":
        return f'recolored "{change["name"]}": {change["old"]} -> {change["new"]}'
    if op == "set_parent":
        where = f'under "{change["new_name"]}"' if change.get("new_name") else "to top level"
        return f'moved "{change["name"]}" {where}'
    return f"{op}: {change}"
