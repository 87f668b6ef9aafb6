"""One base for the reports that list refused items: import and register reports."""

from __future__ import annotations

from typing import Any, ClassVar

import polars as pl

_REPR_PROBLEMS = 10  # problems spelled out in a report's repr; the rest are counted


class ProblemReport:
    """Shared part of a report with a ``problems`` list of ``(<key>, reason)`` items.

    A subclass is a dataclass declared with ``repr=False`` (so this ``__repr__`` is
    kept) that has a ``problems`` field, names the problems' first attribute in
    ``_problem_key`` and may write its own one-line head in ``_repr_head``.

    Examples
    --------
    >>> from dataclasses import dataclass, field
    >>> from jupyter_cvops.images import FileProblem
    >>> @dataclass(repr=False)
    ... class Demo(ProblemReport):
    ...     problems: list[FileProblem] = field(default_factory=list)
    ...     _problem_key = "path"
    ...     def _repr_head(self) -> str:
    ...         return f"<Demo problems={len(self.problems)}>"
    >>> Demo([FileProblem("/data/a.jpg", "zero-byte file")])
    <Demo problems=1>
      /data/a.jpg: zero-byte file
    >>> Demo().ok
    True
    >>> repr(Demo([FileProblem(f"/data/{i}.jpg", "zero-byte file") for i in range(12)])).splitlines()[-1]
    '  ... and 2 more (see report.problems_frame())'
    """

    problems: list[Any]
    _problem_key: ClassVar[str]

    @property
    def ok(self) -> bool:
        """True when nothing was refused."""
        return not self.problems

    def problems_frame(self) -> pl.DataFrame:
        """The refused items as a frame (``_problem_key``, reason)."""
        key = self._problem_key
        return pl.DataFrame(
            {key: [getattr(p, key) for p in self.problems], "reason": [p.reason for p in self.problems]},
            schema={key: pl.String, "reason": pl.String},
        )

    def _problem_dicts(self) -> list[dict[str, str]]:
        """The problems as plain JSON, for ``to_dict``."""
        key = self._problem_key
        return [{key: getattr(p, key), "reason": p.reason} for p in self.problems]

    def _repr_head(self) -> str:
        """The report's first line; subclasses say more (counts of what was added, ...)."""
        return f"<{type(self).__name__} problems={len(self.problems)}>"

    def __repr__(self) -> str:
        s = self._repr_head()
        for p in self.problems[:_REPR_PROBLEMS]:
            s += f"\n  {getattr(p, self._problem_key)}: {p.reason}"
        if len(self.problems) > _REPR_PROBLEMS:
            s += f"\n  ... and {len(self.problems) - _REPR_PROBLEMS} more (see report.problems_frame())"
        return s
