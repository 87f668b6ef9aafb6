"""YOLO class names by index: from a ``names`` list or mapping, or from only a count (``nc``).

A class count alone names no class: ``class_<i>`` is made when a label uses index ``i``, so
``nc: 10000000000000`` in a 40-byte data.yaml costs nothing, and the classes a reader returns are
bounded by the label lines it read.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ._messages import short
from ._types import FormatError, RecordProblem

#: More classes than this are not believed: a ``names`` list or mapping longer is refused, an ``nc``
#: larger is a problem (and read as this many).
MAX_CLASSES = 100_000


class Classes:
    """Class names by index (``names``), or a class count (``nc``) whose ``class_<i>`` names are made
    only for the indices labels use.

    Examples
    --------
    >>> c = Classes.counted("data.yaml", 10**13, problems := [])
    >>> c.name(3), c.name(-1), c.categories(), problems[0].reason
    ('class_3', None, ['class_3'], 'nc: 10000000000000 is more than 100000 classes; read as 100000')
    >>> Classes({0: "dent", 2: "ok"}).name(2), Classes({0: "dent", 2: "ok"}).span()
    ('ok', '0, 2')
    """

    def __init__(self, names: Mapping[int, str] | None = None, nc: int = 0) -> None:
        self.names = dict(names) if names is not None else None
        self.nc = nc
        self.used: dict[int, str] = {}

    @classmethod
    def listed(cls, source: str, values: Sequence[Any] | Mapping[int, Any]) -> Classes:
        """Classes from a ``names`` list (index = position) or mapping; more than :data:`MAX_CLASSES`, or a
        name that is no text or number, is a :class:`FormatError` naming ``source``.

        YAML 1.1 reads an unquoted ``no`` as False: such a name stays readable (as "False").

        Examples
        --------
        >>> Classes.listed("obj.names", ["a", "b"]).categories()
        ['a', 'b']
        >>> Classes.listed("data.yaml", [["a"]])
        Traceback (most recent call last):
        ...
        jupyter_cvops.formats._types.FormatError: data.yaml: names[0]: expected a class name, got ['a']
        """
        if len(values) > MAX_CLASSES:
            raise FormatError(f"{source}: names: {len(values)} classes, more than the {MAX_CLASSES} believed")
        items = values.items() if isinstance(values, Mapping) else enumerate(values)
        names: dict[int, str] = {}
        for i, n in items:
            if not isinstance(n, (str, int, float)) or not str(n).strip():
                raise FormatError(f"{source}: names[{i}]: expected a class name, got {short(n)}")
            names[i] = str(n)
        return cls(names)

    @classmethod
    def counted(cls, source: str, nc: int, problems: list[RecordProblem]) -> Classes:
        """Classes of a bare count; an ``nc`` above :data:`MAX_CLASSES` is a problem and read as that many.

        Examples
        --------
        >>> Classes.counted("data.yaml", 3, []).span()
        '0..2'
        """
        if nc < 0:
            raise FormatError(f"{source}: nc: expected a number of classes, got {short(nc)}")
        if nc > MAX_CLASSES:
            problems.append(RecordProblem(f"{source}: nc", f"nc: {short(nc)} is more than {MAX_CLASSES} classes; "
                                                            f"read as {MAX_CLASSES}"))
            nc = MAX_CLASSES
        return cls(None, nc)

    def __bool__(self) -> bool:
        return bool(self.names) if self.names is not None else self.nc > 0

    def name(self, i: int) -> str | None:
        """The name of class index ``i`` (made, and remembered as used, for a bare count), or None.

        Examples
        --------
        >>> Classes(None, 2).name(2) is None
        True
        """
        if self.names is not None:
            return self.names.get(i)
        if 0 <= i < self.nc:
            return self.used.setdefault(i, f"class_{i}")
        return None

    def has(self, name: str) -> bool:
        """Whether ``name`` is one of the classes (for a bare count: ``class_<i>`` with ``i < nc``).

        Examples
        --------
        >>> Classes(None, 2).has("class_1"), Classes({0: "a"}).has("b")
        (True, False)
        """
        if self.names is not None:
            return name in self.names.values()
        num = name.removeprefix("class_")
        return name.startswith("class_") and num.isascii() and num.isdigit() and len(num) < 10 \
            and self.name(int(num)) == name

    def span(self) -> str:
        """The valid indices, for messages: ``0..n-1`` when they run from 0 without gaps.

        Examples
        --------
        >>> Classes({0: "a", 1: "b"}).span()
        '0..1'
        """
        if self.names is None:
            return f"0..{self.nc - 1}"
        keys = sorted(self.names)
        if keys == list(range(len(keys))):
            return f"0..{len(keys) - 1}"
        text = short(keys)
        return text[1:-1] if text.endswith("]") else text[1:]

    def categories(self) -> list[str]:
        """The class names in index order (for a bare count: only those used so far), without repeats.

        Examples
        --------
        >>> Classes({1: "b", 0: "a", 2: "a"}).categories()
        ['a', 'b']
        """
        src = self.names if self.names is not None else self.used
        return list(dict.fromkeys(src[i] for i in sorted(src)))
