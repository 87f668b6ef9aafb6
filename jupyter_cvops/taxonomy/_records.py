"""Records of :mod:`jupyter_cvops.taxonomy`: a staged operation and a committed version (re-exported there)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from ._ops import describe

if TYPE_CHECKING:
    import polars as pl

    from ._ops import Classes


@dataclass(frozen=True)
class StagedOp:
    """One staged (not yet committed) taxonomy operation.

    ``op`` and ``args`` are what was called (replayed on a newer version if another
    writer commits first); ``change`` is the resulting change record.

    Examples
    --------
    >>> str(StagedOp("rename", {"name": "a", "new_name": "b"},
    ...              {"op": "rename", "id": "c0001", "old": "a", "new": "b"}))
    'renamed "a" -> "b"'
    """

    op: str
    args: Mapping[str, Any]
    change: Mapping[str, Any]

    def __str__(self) -> str:
        return describe(self.change)

    def __repr__(self) -> str:
        return f"<staged: {describe(self.change)}>"


@dataclass(frozen=True)
class TaxonomyVersion:
    """A committed taxonomy version (as returned by :meth:`Taxonomy.commit`).

    Examples
    --------
    >>> TaxonomyVersion(2, 1, None, "ana", "merge stains", 4, ['merged "a" -> "b"'])
    <TaxonomyVersion v2 by ana: 'merge stains' (4 active classes; merged "a" -> "b")>
    """

    version: int
    parent: int | None
    created_at: datetime | None
    author: str | None
    message: str | None
    n_classes: int
    changes: list[str] = field(default_factory=list)
    records: list[dict[str, Any]] = field(default_factory=list, repr=False, compare=False)

    def __repr__(self) -> str:
        what = "; ".join(self.changes[:3]) + ("; ..." if len(self.changes) > 3 else "")
        return (
            f"<TaxonomyVersion v{self.version} by {self.author}: {self.message!r} "
            f"({self.n_classes} active class{'' if self.n_classes == 1 else 'es'}; {what})>"
        )


if TYPE_CHECKING:
    class _TaxonomyBase:
        """What the mixins of :class:`~jupyter_cvops.taxonomy.Taxonomy` use of it (for type checking only)."""

        _states: dict[int, Classes]
        _staged: list[StagedOp]
        _base: int
        _work: Classes

        @property
        def version(self) -> int: ...

        def _check_version(self, version: int | None) -> int: ...

        def _load(self, versions: Iterable[int]) -> None: ...

        def _state(self, version: int) -> Classes: ...

        @staticmethod
        def _frame(state: Classes, include_retired: bool = True) -> pl.DataFrame: ...
else:
    _TaxonomyBase = object
