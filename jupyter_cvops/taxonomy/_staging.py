"""Staging of taxonomy operations: the :class:`~jupyter_cvops.taxonomy.Taxonomy` methods that
validate an operation and keep it in memory until :meth:`~jupyter_cvops.taxonomy.Taxonomy.commit`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import polars as pl

from ._apply import apply
from ._records import StagedOp, _TaxonomyBase


class _StagingMixin(_TaxonomyBase):
    """Staged operations of :class:`~jupyter_cvops.taxonomy.Taxonomy` (add, rename, merge, ...)."""

    # -- staging ------------------------------------------------------------------
    def _stage(self, op: str, **args: Any) -> None:
        if not self._staged:
            self._base = self.version
            self._work = self._state(self._base)
        self._work, change = apply(self._work, op, args)
        self._staged.append(StagedOp(op, dict(args), change))

    def add(self, name: str, definition: str = "", parent: str | None = None, color: str | None = None) -> None:
        """Stage a new class.

        Parameters
        ----------
        name
            Unique among active classes (case-sensitive), non-empty, no surrounding whitespace.
        definition
            Labeling guideline text.
        parent
            Name (or id) of an active parent class, or ``None`` for a top-level class.
        color
            ``"#rrggbb"``; by default the first palette color no active class uses.

        Examples
        --------
        >>> import tempfile
        >>> from jupyter_cvops._store import Store
        >>> from jupyter_cvops.taxonomy import Taxonomy
        >>> tax = Taxonomy(Store.create(tempfile.mkdtemp()))
        >>> tax.add("defect"); tax.add("dent", "inward deformation", parent="defect")
        >>> tax.preview()["parent"].to_list()
        [None, 'c0001']
        """
        self._stage("add", name=name, definition=definition, parent=parent, color=color)

    def rename(self, name: str, new_name: str) -> None:
        """Stage a rename; the class keeps its id, so existing labels follow automatically.

        Examples
        --------
        >>> import tempfile
        >>> from jupyter_cvops._store import Store
        >>> from jupyter_cvops.taxonomy import Taxonomy
        >>> tax = Taxonomy(Store.create(tempfile.mkdtemp()))
        >>> tax.add("stain"); v = tax.commit("init")
        >>> tax.rename("stain", "contamination"); str(tax.staged[0])
        'renamed "stain" -> "contamination"'
        """
        self._stage("rename", name=name, new_name=new_name)

    def redefine(self, name: str, definition: str) -> None:
        """Stage a new definition (guideline text) for class ``name``.

        Examples
        --------
        >>> import tempfile
        >>> from jupyter_cvops._store import Store
        >>> from jupyter_cvops.taxonomy import Taxonomy
        >>> tax = Taxonomy(Store.create(tempfile.mkdtemp()))
        >>> tax.add("dent", "any dent"); v = tax.commit("init")
        >>> tax.redefine("dent", "dents deeper than 0.5 mm"); str(tax.staged[0])
        'redefined "dent": "any dent" -> "dents deeper than 0.5 mm"'
        """
        self._stage("redefine", name=name, definition=definition)

    def merge(self, names: Sequence[str], into: str, definition: str | None = None) -> None:
        """Stage merging classes ``names`` into ``into``.

        ``into`` may be one of ``names`` or another active class (it keeps its id),
        or a new name (a new class is created, under the sources' common parent).
        The other classes are retired with ``merged_into`` set; their labels map
        to the target, and their active children move under it.

        Parameters
        ----------
        names
            Active classes to merge.
        into
            Target class name.
        definition
            New definition of the target (unchanged by default).

        Examples
        --------
        >>> import tempfile
        >>> from jupyter_cvops._store import Store
        >>> from jupyter_cvops.taxonomy import Taxonomy
        >>> tax = Taxonomy(Store.create(tempfile.mkdtemp()))
        >>> tax.add("stain"); tax.add("dirt"); v = tax.commit("init")
        >>> tax.merge(["stain", "dirt"], into="contamination"); str(tax.staged[0])
        'merged "stain", "dirt" -> "contamination" (new class)'
        """
        self._stage("merge", names=list(names) if not isinstance(names, str) else [names], into=into,
                    definition=definition)

    def split(self, name: str, into: Sequence[str] | Mapping[str, str]) -> None:
        """Stage splitting class ``name`` into two or more new classes.

        The source is retired with ``split_into`` set. Its labels are never guessed:
        :meth:`resolve` marks them ``needs_review``. A new class may reuse the
        source's name (it gets a new id).

        Parameters
        ----------
        name
            Active class to split.
        into
            New class names, or a dict of new name -> definition.

        Examples
        --------
        >>> import tempfile
        >>> from jupyter_cvops._store import Store
        >>> from jupyter_cvops.taxonomy import Taxonomy
        >>> tax = Taxonomy(Store.create(tempfile.mkdtemp()))
        >>> tax.add("defect"); v = tax.commit("init")
        >>> tax.split("defect", {"scratch": "linear", "dent": "inward"}); str(tax.staged[0])
        'split "defect" -> "scratch", "dent"'
        """
        self._stage("split", name=name, into=dict(into) if isinstance(into, Mapping) else into)

    def deprecate(self, name: str) -> None:
        """Stage retiring class ``name``; its labels keep the id and resolve as ``deprecated``.

        Examples
        --------
        >>> import tempfile
        >>> from jupyter_cvops._store import Store
        >>> from jupyter_cvops.taxonomy import Taxonomy
        >>> tax = Taxonomy(Store.create(tempfile.mkdtemp()))
        >>> tax.add("ok"); v = tax.commit("init")
        >>> tax.deprecate("ok"); str(tax.staged[0])
        'deprecated "ok"'
        """
        self._stage("deprecate", name=name)

    def set_color(self, name: str, color: str) -> None:
        """Stage a new display color (``"#rrggbb"`` or ``"#rgb"``) for class ``name``.

        Examples
        --------
        >>> import tempfile
        >>> from jupyter_cvops._store import Store
        >>> from jupyter_cvops.taxonomy import Taxonomy
        >>> tax = Taxonomy(Store.create(tempfile.mkdtemp()))
        >>> tax.add("dent", color="#ff0000"); tax.set_color("dent", "#00F")
        >>> tax.preview()["color"].to_list()
        ['#0000ff']
        """
        self._stage("set_color", name=name, color=color)

    def set_parent(self, name: str, parent: str | None) -> None:
        """Stage moving class ``name`` under ``parent`` (``None``: top level); cycles are refused.

        Examples
        --------
        >>> import tempfile
        >>> from jupyter_cvops._store import Store
        >>> from jupyter_cvops.taxonomy import Taxonomy
        >>> tax = Taxonomy(Store.create(tempfile.mkdtemp()))
        >>> tax.add("defect"); tax.add("dent"); tax.set_parent("dent", "defect")
        >>> str(tax.staged[-1])
        'moved "dent" under "defect"'
        """
        self._stage("set_parent", name=name, parent=parent)

    @property
    def staged(self) -> list[StagedOp]:
        """Staged operations, oldest first (``str(op)`` is a readable line).

        Examples
        --------
        >>> import tempfile
        >>> from jupyter_cvops._store import Store
        >>> from jupyter_cvops.taxonomy import Taxonomy
        >>> tax = Taxonomy(Store.create(tempfile.mkdtemp()))
        >>> tax.add("dent"); [op.op for op in tax.staged]
        ['add']
        """
        return list(self._staged)

    def discard(self) -> None:
        """Drop all staged operations.

        Examples
        --------
        >>> import tempfile
        >>> from jupyter_cvops._store import Store
        >>> from jupyter_cvops.taxonomy import Taxonomy
        >>> tax = Taxonomy(Store.create(tempfile.mkdtemp()))
        >>> tax.add("dent"); tax.discard(); tax.staged
        []
        """
        self._staged = []
        self._work = {}

    def preview(self, *, include_retired: bool = True) -> pl.DataFrame:
        """Classes as they will be after committing the staged operations.

        Examples
        --------
        >>> import tempfile
        >>> from jupyter_cvops._store import Store
        >>> from jupyter_cvops.taxonomy import Taxonomy
        >>> tax = Taxonomy(Store.create(tempfile.mkdtemp()))
        >>> tax.add("dent"); tax.preview()["name"].to_list()
        ['dent']
        """
        state = self._work if self._staged else self._state(self.version)
        return self._frame(state, include_retired)
