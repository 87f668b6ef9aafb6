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

import json
from collections.abc import Iterable
from datetime import datetime, timezone

import polars as pl

from .._store import Store, current_user, now_utc
from ._apply import apply
from ._display import _DisplayMixin
from ._ops import (  # noqa: F401  (resolve_one and short are re-exported)
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
    check_name,
    describe,
    diff_states,
    resolve_one,
    short,
    unknown_class,
)
from ._records import StagedOp, TaxonomyVersion
from ._resolve import RESOLVE_SCHEMA, _as_series, _ResolveMixin  # noqa: F401  (re-exported)
from ._staging import _StagingMixin

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
CLASS_SCHEMA: dict[str, pl.DataType | type[pl.DataType]] = {
    "id": pl.String,
    "name": pl.String,
    "definition": pl.String,
    "parent": pl.String,
    "color": pl.String,
    "status": pl.String,
    "merged_into": pl.String,
    "split_into": pl.List(pl.String),
}


class Taxonomy(_StagingMixin, _ResolveMixin, _DisplayMixin):
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
        return TaxonomyVersion(version, latest or None, when, author, message, n_active, lines, records)

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
