"""Field-by-field differences of two nested, JSON-able specs (dotted paths, list indices in brackets)."""

from __future__ import annotations

import re
from typing import Any, NamedTuple


class Difference(NamedTuple):
    """One field that differs: its dotted path and the two values (``None`` where a side lacks it)."""

    field: str
    a: Any
    b: Any


_MISSING = object()


def flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    """``{"a": {"b": [1, 2]}}`` -> ``{"a.b[0]": 1, "a.b[1]": 2}``; an empty dict or list stays a leaf.

    Examples
    --------
    >>> flatten({"size": 224, "mean": [0.5, 0.4], "versions": {"torch": "2.4"}})
    {'size': 224, 'mean[0]': 0.5, 'mean[1]': 0.4, 'versions.torch': '2.4'}
    """
    out: dict[str, Any] = {}
    if isinstance(value, dict) and value:
        for k, v in value.items():
            out.update(flatten(v, f"{prefix}.{k}" if prefix else str(k)))
    elif isinstance(value, list) and value:
        for i, v in enumerate(value):
            out.update(flatten(v, f"{prefix}[{i}]"))
    else:
        out[prefix] = value
    return out


_TRAILING_INDEX = re.compile(r"(\[\d+\])+$")


def _collapse(field: str) -> str:
    """``mean[1]`` -> ``mean``: a list of plain values is one field, so differences read naturally."""
    return _TRAILING_INDEX.sub("", field) or field


def differences(a: dict[str, Any], b: dict[str, Any]) -> list[Difference]:
    """Fields whose values differ between two nested specs, in the order of ``a`` then ``b``.

    A list of plain values (``mean``, ``size``) is reported once as a whole.

    Examples
    --------
    >>> differences({"size": 224, "mean": [0.5, 0.4]}, {"size": 256, "mean": [0.5, 0.3], "crop": 224})
    [Difference(field='size', a=224, b=256), Difference(field='mean', a=[0.5, 0.4], b=[0.5, 0.3]), \
Difference(field='crop', a=None, b=224)]
    """
    fa, fb = flatten(a), flatten(b)
    out: list[Difference] = []
    seen: set[str] = set()
    for key in dict.fromkeys([*fa, *fb]):
        va, vb = fa.get(key, _MISSING), fb.get(key, _MISSING)
        if va == vb and type(va) is type(vb):
            continue
        name = _collapse(key)
        if name in seen:
            continue
        seen.add(name)
        whole_a = fa[name] if name in fa else _lookup(a, name)
        whole_b = fb[name] if name in fb else _lookup(b, name)
        out.append(Difference(name, None if whole_a is _MISSING else whole_a,
                              None if whole_b is _MISSING else whole_b))
    return out


def _lookup(d: Any, path: str) -> Any:
    cur = d
    for part in path.replace("]", "").replace("[", ".").split("."):
        if isinstance(cur, dict):
            if part not in cur:
                return _MISSING
            cur = cur[part]
        elif isinstance(cur, list) and part.isdigit() and int(part) < len(cur):
            cur = cur[int(part)]
        else:
            return _MISSING
    return cur


def lookup(d: Any, path: str, default: Any = None) -> Any:
    """The value at a dotted path of a nested spec (``default`` when absent).

    Examples
    --------
    >>> lookup({"t": {"steps": [{"size": 8}]}}, "t.steps[0].size"), lookup({}, "x")
    (8, None)
    """
    value = _lookup(d, path)
    return default if value is _MISSING else value
