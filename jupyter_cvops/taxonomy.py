"""Versioned label taxonomy: stage class operations, commit immutable versions, map labels forward.

Each committed version is one row of the ``taxonomy_versions`` table holding the
full list of classes (active and retired) and the operations applied since its
parent. Labels store the class id and the taxonomy version they were made under;
:meth:`Taxonomy.resolve` maps them to any later version (renames keep the id,
merges map to the target, splits need review, deprecations are flagged).

Class ids are ``"c"`` + a zero-padded counter assigned when a class is created
(``c0001``, ``c0002``, ...). An id is never reused, and it never changes: renaming,
redefining, recoloring or moving a class keeps its id; merge and split retire
their source classes and create new ids only for the new classes.

Examples
--------
>>> import tempfile
>>> from jupyter_cvops._store import Store
>>> tax = Taxonomy(Store.create(tempfile.mkdtemp()))
>>> tax.add("scratch", "Linear surface mark")
>>> tax.add("stain")
>>> tax.commit("initial classes", author="ana").version
1
>>> tax.rename("stain", "contamination")
>>> tax.commit("clearer name", author="ana").changes
['renamed "stain" -> "contamination"']
>>> tax.resolve(["c0002"], [1])["class_name"].to_list()
['contamination']
"""

from __future__ import annotations

import html
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

import polars as pl

from ._store import Store, current_user, now_utc
from ._taxonomy_ops import (
    PALETTE,
    RESOLVE_STATUSES,
    STATUSES,
    Classes,
    ClassRec,
    DuplicateClassError,
    TaxonomyConflict,
    TaxonomyError,
    UnknownClassError,
    active_by_name,
    apply,
    check_name,
    describe,
    diff_states,
    resolve_one,
    short,
    unknown_class,
)

__all__ = [
    "PALETTE",
    "RESOLVE_STATUSES",
    "STATUSES",
    "DuplicateClassError",
    "StagedOp",
    "Taxonomy",
    "TaxonomyConflict",
    "TaxonomyError",
    "TaxonomyVersion",
    "UnknownClassError",
]

TABLE = "taxonomy_versions"
CLASS_SCHEMA = {
    "id": pl.String,
    "name": pl.String,
    "definition": pl.String,
    "parent": pl.String,
    "color": pl.String,
    "status": pl.String,
    "merged_into": pl.String,
    "split_into": pl.List(pl.String),
}
RESOLVE_SCHEMA = {
    "from_class_id": pl.String,
    "from_version": pl.Int32,
    "class_id": pl.String,
    "class_name": pl.String,
    "status": pl.String,
    "candidates": pl.List(pl.String),
}


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


def _as_series(values: Any, name: str, dtype: pl.DataType, n: int | None) -> pl.Series:
    if isinstance(values, pl.Series):
        s = values.rename(name)
    elif values is None or isinstance(values, str | int):
        s = pl.Series(name, [values] * (1 if n is None else n), dtype=dtype)
    else:
        s = pl.Series(name, list(values), dtype=dtype, strict=False)
    return s if s.dtype == dtype else s.cast(dtype)


class Taxonomy:
    """The label taxonomy of a workspace: staged operations and committed versions.

    Operations (:meth:`add`, :meth:`rename`, :meth:`redefine`, :meth:`merge`,
    :meth:`split`, :meth:`deprecate`, :meth:`set_color`, :meth:`set_parent`) validate
    immediately and are staged in memory; :meth:`commit` writes them as one new
    version. Reads always see the latest committed state of the store, including
    commits made by other processes.

    Parameters
    ----------
    store
        The workspace store (``ws.taxonomy`` is ``Taxonomy(store)``).

    Examples
    --------
    >>> import tempfile
    >>> from jupyter_cvops._store import Store
    >>> tax = Taxonomy(Store.create(tempfile.mkdtemp()))
    >>> tax.add("dent"); tax.add("scratch")
    >>> [str(op) for op in tax.staged]
    ['added "dent"', 'added "scratch"']
    >>> tax.commit("first classes").version, tax.version
    (1, 1)
    """

    def __init__(self, store: Store) -> None:
        self._store = store
        self._states: dict[int, Classes] = {}  # committed versions are immutable: cache them
        self._staged: list[StagedOp] = []
        self._base = 0
        self._work: Classes = {}

    # -- committed state ----------------------------------------------------------
    @property
    def version(self) -> int:
        """Latest committed version (0 when nothing was committed yet).

        Examples
        --------
        >>> import tempfile
        >>> from jupyter_cvops._store import Store
        >>> Taxonomy(Store.create(tempfile.mkdtemp())).version
        0
        """
        v = self._store.read(TABLE, columns=["version"])["version"].max()
        return int(v) if v is not None else 0  # type: ignore[arg-type]

    def _check_version(self, version: int | None) -> int:
        latest = self.version
        if version is None:
            return latest
        if isinstance(version, bool) or not isinstance(version, int):
            raise TaxonomyError(f"taxonomy version must be an int, not {version!r}")
        if version < 0 or version > latest:
            raise TaxonomyError(f"no taxonomy version {version}: versions are 0..{latest}")
        return version

    def _load(self, versions: Iterable[int]) -> None:
        missing = sorted({int(v) for v in versions if v and int(v) not in self._states})
        if not missing:
            return
        where = f"version IN ({', '.join(map(str, missing))})"
        rows = self._store.read(TABLE, where=where, columns=["version", "classes"])
        for v, classes in rows.iter_rows():
            if v not in self._states:
                recs = [ClassRec.from_json(d) for d in json.loads(classes or "[]")]
                self._states[int(v)] = {r.id: r for r in recs}

    def _state(self, version: int) -> Classes:
        if version == 0:
            return {}
        self._load([version])
        if version not in self._states:
            raise TaxonomyError(f"no taxonomy version {version} in this workspace")
        return self._states[version]

    def classes(self, version: int | None = None, *, include_retired: bool = True) -> pl.DataFrame:
        """Classes at ``version`` (latest by default), in id order.

        Parameters
        ----------
        version
            Committed version to read; ``None`` for the latest.
        include_retired
            Keep deprecated, merged and split classes (their ``status`` says which).

        Returns
        -------
        polars.DataFrame
            ``id, name, definition, parent`` (a class id or null), ``color``,
            ``status`` (active | deprecated | merged | split), ``merged_into``, ``split_into``.

        Examples
        --------
        >>> import tempfile
        >>> from jupyter_cvops._store import Store
        >>> tax = Taxonomy(Store.create(tempfile.mkdtemp()))
        >>> tax.add("dent", "inward deformation"); v = tax.commit("init")
        >>> tax.classes().select("id", "name", "status").row(0)
        ('c0001', 'dent', 'active')
        """
        state = self._state(self._check_version(version))
        return self._frame(state, include_retired)

    @staticmethod
    def _frame(state: Classes, include_retired: bool = True) -> pl.DataFrame:
        rows = [r.to_json() for r in state.values() if include_retired or r.active]
        return pl.DataFrame(rows, schema=CLASS_SCHEMA)

    def id_of(self, name: str, version: int | None = None) -> str:
        """Id of the *active* class named ``name`` at ``version`` (latest by default).

        A retired name raises :class:`UnknownClassError` saying what became of it;
        use :meth:`resolve_name` to get retired ids too.

        Examples
        --------
        >>> import tempfile
        >>> from jupyter_cvops._store import Store
        >>> tax = Taxonomy(Store.create(tempfile.mkdtemp()))
        >>> tax.add("dent"); v = tax.commit("init")
        >>> tax.id_of("dent")
        'c0001'
        """
        state = self._state(self._check_version(version))
        rec = active_by_name(state).get(name)
        if rec is None:
            raise unknown_class(state, name)
        return rec.id

    def name_of(self, class_id: str, version: int | None = None) -> str:
        """Name of class ``class_id`` at ``version`` (latest by default; retired classes too).

        Examples
        --------
        >>> import tempfile
        >>> from jupyter_cvops._store import Store
        >>> tax = Taxonomy(Store.create(tempfile.mkdtemp()))
        >>> tax.add("dent"); v = tax.commit("init")
        >>> tax.name_of("c0001")
        'dent'
        """
        v = self._check_version(version)
        rec = self._state(v).get(class_id)
        if rec is None:
            raise UnknownClassError(f"no class with id {class_id!r} in taxonomy version {v}")
        return rec.name

    def resolve_name(self, name: str, version: int | None = None) -> str:
        """Class id for a label named ``name`` made under ``version`` (for importers).

        The active class of that name if there is one; otherwise the most recent
        retired class of that name, so that :meth:`resolve` then maps such labels
        forward (merged), flags them (deprecated) or asks for review (split).

        Examples
        --------
        >>> import tempfile
        >>> from jupyter_cvops._store import Store
        >>> tax = Taxonomy(Store.create(tempfile.mkdtemp()))
        >>> tax.add("stain"); tax.add("dirt"); v = tax.commit("init")
        >>> tax.merge(["stain"], into="dirt"); v = tax.commit("one class")
        >>> tax.resolve_name("stain")
        'c0001'
        """
        state = self._state(self._check_version(version))
        rec = active_by_name(state).get(name)
        if rec is not None:
            return rec.id
        retired = [r for r in state.values() if r.name == name]
        if retired:
            return retired[-1].id
        raise unknown_class(state, name, retired_hint=False)

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
        >>> tax = Taxonomy(Store.create(tempfile.mkdtemp()))
        >>> tax.add("dent"); tax.preview()["name"].to_list()
        ['dent']
        """
        state = self._work if self._staged else self._state(self.version)
        return self._frame(state, include_retired)

    # -- committing ---------------------------------------------------------------
    def _replay(self, base: int) -> tuple[Classes, list[StagedOp]]:
        state = self._state(base)
        redone: list[StagedOp] = []
        for i, op in enumerate(self._staged, 1):
            try:
                state, change = apply(state, op.op, op.args)
            except TaxonomyError as err:
                row = self._store.read(TABLE, where=f"version = {base}", columns=["author", "message"])
                by = f" by {row['author'][0]} ({row['message'][0]!r})" if row.height else ""
                raise TaxonomyConflict(
                    f"taxonomy version {base} was committed{by} after you started staging on "
                    f"version {self._base}; staged operation {i} ({op}) no longer applies: {err}. "
                    "Your staged operations are kept: inspect tax.staged, then tax.discard() and stage again"
                ) from err
            redone.append(StagedOp(op.op, op.args, change))
        return state, redone

    def commit(self, message: str, author: str | None = None, *, at: datetime | None = None) -> TaxonomyVersion:
        """Write the staged operations as one new, immutable version (latest + 1).

        Runs under the workspace write lock. If another writer committed since
        staging began, the staged operations are replayed on its version; if one no
        longer applies (e.g. both renamed the same class) a :class:`TaxonomyConflict`
        says which, and nothing is written.

        Parameters
        ----------
        message
            Why the taxonomy changed (required).
        author
            Who changed it; ``$CVOPS_USER`` or the login name by default.
        at
            When the change took effect, for backfilling a history kept elsewhere
            (default: now). It may not be earlier than the previous version's time.

        Examples
        --------
        >>> import tempfile
        >>> from jupyter_cvops._store import Store
        >>> tax = Taxonomy(Store.create(tempfile.mkdtemp()))
        >>> tax.add("dent"); tax.commit("init", author="ana")
        <TaxonomyVersion v1 by ana: 'init' (1 active class; added "dent")>
        """
        if not self._staged:
            raise TaxonomyError("nothing staged to commit: stage add/rename/redefine/merge/split/... first")
        if not isinstance(message, str) or not message.strip():
            raise TaxonomyError("a taxonomy commit needs a message saying why the classes changed")
        author = author or current_user()
        with self._store.lock:
            latest = self.version
            if latest != self._base:
                state, staged = self._replay(latest)
            else:
                state, staged = self._work, self._staged
            version = latest + 1
            when = now_utc() if at is None else (
                at.replace(tzinfo=timezone.utc) if at.tzinfo is None else at.astimezone(timezone.utc))
            if at is not None and latest:
                prev = self._store.read(TABLE, where=f"version = {latest}")["created_at"][0]
                if prev is not None and when < prev:
                    raise TaxonomyError(
                        f"at={when.isoformat()} is earlier than version {latest} ({prev.isoformat()}): "
                        "versions must be in time order")
            records = [dict(op.change) for op in staged]
            row = {
                "version": version,
                "parent": latest or None,
                "created_at": when,
                "author": author,
                "message": message,
                "classes": json.dumps([r.to_json() for r in state.values()], ensure_ascii=False),
                "changes": json.dumps(records, ensure_ascii=False),
            }
            self._store.append(TABLE, [row])
            self._states[version] = state
            lines = [describe(r) for r in records]
            self._store.event(
                "taxonomy.commit", {"version": version, "message": message, "changes": lines}, actor=author
            )
        self.discard()
        n_active = sum(r.active for r in state.values())
        return TaxonomyVersion(version, row["parent"], row["created_at"], author, message, n_active, lines, records)

    def ensure(self, names: Iterable[str], author: str | None = None, message: str | None = None) -> dict[str, str]:
        """Class ids for ``names``, adding the missing ones in one commit (for importers).

        A name is present when :meth:`resolve_name` finds it at the latest version
        (active, or retired: labels then map forward). Missing names are added as new
        classes and committed together; nothing is committed when none is missing.
        Staged operations are left untouched.

        Examples
        --------
        >>> import tempfile
        >>> from jupyter_cvops._store import Store
        >>> tax = Taxonomy(Store.create(tempfile.mkdtemp()))
        >>> tax.ensure(["dent", "scratch"], author="importer")
        {'dent': 'c0001', 'scratch': 'c0002'}
        >>> tax.ensure(["scratch"]), tax.version
        ({'scratch': 'c0002'}, 1)
        """
        wanted = list(dict.fromkeys(check_name(n) for n in names))
        with self._store.lock:
            latest = self.version
            state = self._state(latest)
            out: dict[str, str] = {}
            missing: list[str] = []
            for n in wanted:
                rec = active_by_name(state).get(n)
                retired = [r for r in state.values() if r.name == n]
                if rec is not None:
                    out[n] = rec.id
                elif retired:
                    out[n] = retired[-1].id
                else:
                    missing.append(n)
            if not missing:
                return out
            saved = (self._staged, self._base, self._work)
            self._staged, self._base, self._work = [], latest, state
            try:
                for n in missing:
                    self._stage("add", name=n)
                    out[n] = self._staged[-1].change["id"]
                msg = message or f"add {len(missing)} classes: " + ", ".join(missing[:10]) + (
                    ", ..." if len(missing) > 10 else "")
                self.commit(msg, author=author)
            finally:
                self._staged, self._base, self._work = saved
        return {n: out[n] for n in wanted}

    # -- history and diffs ----------------------------------------------------------
    def history(self) -> pl.DataFrame:
        """All committed versions, oldest first, with readable changes.

        Returns
        -------
        polars.DataFrame
            ``version, parent, created_at, author, message, n_classes`` (active
            classes) and ``changes`` (a list of one-line descriptions per version).

        Examples
        --------
        >>> import tempfile
        >>> from jupyter_cvops._store import Store
        >>> tax = Taxonomy(Store.create(tempfile.mkdtemp()))
        >>> tax.add("stain"); v = tax.commit("init")
        >>> tax.rename("stain", "contamination"); v = tax.commit("clearer")
        >>> tax.history()["changes"].to_list()
        [['added "stain"'], ['renamed "stain" -> "contamination"']]
        """
        rows = self._store.read(TABLE).sort("version")
        self._load(rows["version"].to_list())
        return pl.DataFrame(
            {
                "version": rows["version"],
                "parent": rows["parent"],
                "created_at": rows["created_at"],
                "author": rows["author"],
                "message": rows["message"],
                "n_classes": [sum(r.active for r in self._states[int(v)].values()) for v in rows["version"]],
                "changes": [[describe(c) for c in json.loads(ch or "[]")] for ch in rows["changes"]],
            },
            schema={
                "version": pl.Int32, "parent": pl.Int32, "created_at": pl.Datetime("us", "UTC"),
                "author": pl.String, "message": pl.String, "n_classes": pl.Int64, "changes": pl.List(pl.String),
            },
        )

    def diff(self, a: int, b: int | None = None) -> list[str]:
        """Readable class-definition changes from version ``a`` to ``b`` (latest by default).

        Compares the two class lists (not the operations in between), so it works for
        any pair of versions, in either direction.

        Examples
        --------
        >>> import tempfile
        >>> from jupyter_cvops._store import Store
        >>> tax = Taxonomy(Store.create(tempfile.mkdtemp()))
        >>> tax.add("dent", "any dent"); v = tax.commit("init")
        >>> tax.redefine("dent", "deeper than 0.5 mm"); tax.add("scratch"); v = tax.commit("v2")
        >>> tax.diff(1, 2)
        ['added "scratch"', 'redefined "dent": "any dent" -> "deeper than 0.5 mm"']
        """
        va, vb = self._check_version(a), self._check_version(b)
        return diff_states(self._state(va), self._state(vb))

    # -- mapping labels -------------------------------------------------------------
    def resolve(self, class_ids: Any, from_versions: Any, to_version: int | None = None) -> pl.DataFrame:
        """Map labels (class id + taxonomy version they were made under) to ``to_version``.

        Vectorized: the distinct (id, version) pairs are resolved once, then joined
        back onto the labels, so a million labels take well under a second.

        Parameters
        ----------
        class_ids
            Class ids of the labels (polars Series or any sequence; nulls allowed).
        from_versions
            Taxonomy version of each label (Series/sequence), or one int for all.
            A null version reads the id directly under ``to_version``.
        to_version
            Version to map to; the latest by default.

        Returns
        -------
        polars.DataFrame
            One row per label, in input order: ``from_class_id, from_version``,
            ``class_id`` and ``class_name`` under ``to_version``, ``status`` and
            ``candidates``. Status is ``ok`` (same class, same name), ``renamed``
            (same id, new name), ``merged`` (mapped through one or more merges to
            the target), ``needs_review`` (the class was split: ``class_id`` is null
            and ``candidates`` lists the classes it was split into), ``deprecated``
            (the id is kept) or ``unknown`` (id not in the label's version).

        Examples
        --------
        >>> import tempfile
        >>> from jupyter_cvops._store import Store
        >>> tax = Taxonomy(Store.create(tempfile.mkdtemp()))
        >>> tax.add("stain"); tax.add("dirt"); tax.add("defect"); v = tax.commit("init")
        >>> tax.merge(["stain", "dirt"], into="dirt"); tax.split("defect", ["scratch", "dent"])
        >>> v = tax.commit("v2")
        >>> tax.resolve(["c0001", "c0002", "c0003"], 1).select("class_name", "status").rows()
        [('dirt', 'merged'), ('dirt', 'ok'), (None, 'needs_review')]
        """
        latest = self.version
        to_v = latest if to_version is None else self._check_version(to_version)
        ids = _as_series(class_ids, "from_class_id", pl.String(), None)
        versions = _as_series(from_versions, "from_version", pl.Int32(), ids.len())
        if versions.len() != ids.len():
            raise TaxonomyError(f"{ids.len()} class ids but {versions.len()} versions")
        labels = pl.DataFrame([ids, versions])
        if labels.height == 0:
            return pl.DataFrame(schema=RESOLVE_SCHEMA)
        pairs = labels.unique()
        known = {v for v in pairs["from_version"].drop_nulls().unique().to_list() if 0 < v <= latest}
        self._load(known | {to_v})
        to_state = self._state(to_v)
        rows = []
        for cid, v in pairs.iter_rows():
            from_state = None if v is None else self._states.get(v, {})
            rows.append((cid, v, *resolve_one(cid, from_state, to_state, from_known=v is None or v in known)))
        mapping = pl.DataFrame(rows, schema=RESOLVE_SCHEMA, orient="row")
        return labels.join(
            mapping, on=["from_class_id", "from_version"], how="left", nulls_equal=True, maintain_order="left"
        )

    # -- display ----------------------------------------------------------------------
    def _display_state(self) -> tuple[int, Classes]:
        v = self.version
        return v, self._state(v)

    def __repr__(self) -> str:
        v, state = self._display_state()
        active = [r for r in state.values() if r.active]
        plural = "" if len(active) == 1 else "es"
        lines = [f"Taxonomy v{v}: {len(active)} active class{plural}, {len(state) - len(active)} retired"]
        width = max((len(r.name) for r in active), default=0)
        for r in active:
            parent = f" (under {state[r.parent].name})" if r.parent in state else ""
            lines.append(f"  {r.id}  {r.color}  {r.name:<{width}}{parent}  {short(r.definition, 60)}".rstrip())
        if self._staged:
            lines.append(f"staged ({len(self._staged)}), commit with .commit(message):")
            lines += [f"  + {op}" for op in self._staged]
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        v, state = self._display_state()
        esc = html.escape
        active = [r for r in state.values() if r.active]
        retired = [r for r in state.values() if not r.active]
        cell = "padding:2px 8px;text-align:left;vertical-align:top"
        rows = []
        for r in active:
            swatch = (
                f'<span style="display:inline-block;width:0.9em;height:0.9em;border-radius:2px;'
                f'vertical-align:middle;background:{esc(r.color)}" title="{esc(r.color)}"></span>'
            )
            parent = esc(state[r.parent].name) if r.parent in state else ""
            rows.append(
                f'<tr><td style="{cell}">{swatch}</td><td style="{cell}"><code>{esc(r.id)}</code></td>'
                f'<td style="{cell}"><b>{esc(r.name)}</b></td><td style="{cell}">{parent}</td>'
                f'<td style="{cell}">{esc(r.definition)}</td></tr>'
            )
        head = "".join(f'<th style="{cell}">{h}</th>' for h in ("", "id", "name", "parent", "definition"))
        out = [
            '<div class="cvops-taxonomy">',
            f"<b>Taxonomy v{v}</b>: {len(active)} active class{'' if len(active) == 1 else 'es'}"
            + (f", {len(retired)} retired" if retired else ""),
            f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>",
        ]
        if retired:
            notes = ", ".join(f"{esc(r.name)} <small>({esc(r.status)})</small>" for r in retired)
            out.append(f"<div><small>retired: {notes}</small></div>")
        if self._staged:
            items = "".join(f"<li><code>{esc(str(op))}</code></li>" for op in self._staged)
            out.append(f"<div><b>staged ({len(self._staged)})</b>, not committed:<ul>{items}</ul></div>")
        out.append("</div>")
        return "".join(out)
