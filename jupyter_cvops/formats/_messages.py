"""Text for messages about untrusted input: short, whatever the input's size."""

from __future__ import annotations

import reprlib
from typing import Any


def short(value: Any, limit: int = 80) -> str:
    """``repr(value)`` cut to ``limit`` characters, for messages about untrusted input.

    Built by :mod:`reprlib`, so a huge number or a structure of shared YAML aliases
    (exponentially large when written out) costs no more than its first few items.

    Examples
    --------
    >>> short("x" * 100, 10)
    "'xxxxxx..."
    >>> short([[[[[1]]]]])
    '[[[[[...]]]]]'
    """
    text = _REPR.repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


_REPR = reprlib.Repr()
_REPR.maxlevel, _REPR.maxlist, _REPR.maxdict, _REPR.maxtuple = 4, 6, 4, 6
_REPR.maxstring, _REPR.maxlong, _REPR.maxother = 80, 40, 80
