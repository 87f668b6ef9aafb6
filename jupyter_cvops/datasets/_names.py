"""Names of dataset versions: movable aliases of content ids, with an append-only history.

A name points at one dataset version (a content id), like a git tag or a model-registry
alias, and shares their history table: rows of kind ``"dataset"`` in ``aliases`` (see
:mod:`jupyter_cvops._store.aliases`, which model aliases use too). Giving a name to a version
appends a ``set`` row; pointing a name that is in use at other content is refused unless
asked (``move=True``: a ``move`` row that records the previous holder); ``remove`` rows end a
name. Rows are never changed, so ``name_history`` says who pointed which name where, when and
why.

Older workspaces: format 2 kept the same rows in ``dataset_names`` (a writable open copies
them into ``aliases``; a read-only open of a format-2 workspace reads them there). Before that,
names lived in ``dataset_versions.name`` (the name a snapshot was taken with) and in ``meta``
rows ``alias:NAME`` (a name given to unchanged content). They are read as the initial history:
each is a ``set`` at the time it was recorded, and a later one of the same name on other
content a ``move``, so a name that an older release let two versions carry resolves to the
later one. This release writes names only to ``aliases`` (a new version row's ``name`` stays
empty), so nothing is counted twice.
"""

from __future__ import annotations

import json
from typing import Any

import polars as pl

from .._store import Store, WorkspaceError, current_user, now_utc
from .._store import aliases as _aliases

#: Actions of a dataset name's history row.
ACTIONS = ("set", "move", "remove")
#: The first workspace format whose names live in ``aliases`` (older ones: ``dataset_names``).
ALIASES_FORMAT = 3
_TS = pl.Datetime("us", "UTC")
HISTORY_SCHEMA: dict[str, Any] = {
    "name": pl.String, "action": pl.String, "version_id": pl.String, "previous_version_id": pl.String,
    "author": pl.String, "created_at": _TS, "message": pl.String, "source": pl.String,
}


class NameInUseError(WorkspaceError):
    """A name asked for one dataset version already points at another (pass ``move=True`` to move it).

    Examples
    --------
    >>> err = NameInUseError("baseline", holder="a" * 32, wanted="b" * 32)
    >>> err.name, err.holder[:4], err.wanted[:4]
    ('baseline', 'aaaa', 'bbbb')
    >>> print(str(err).split(";")[0])
    the name 'baseline' already points at dataset version aaaaaaaaaaaa (other content)
    """

    def __init__(self, name: str, *, holder: str, wanted: str, hint: str | None = None) -> None:
        self.name, self.holder, self.wanted = name, holder, wanted
        hint = hint or (
            f"to point it at {wanted[:12]} instead, pass move=True (ws.snapshot(name={name!r}, move=True) "
            f"or ws.name_version({name!r}, {wanted[:12]!r}, move=True)); or choose another name"
        )
        super().__init__(
            f"the name {name!r} already points at dataset version {holder[:12]} (other content); {hint}"
        )


def check_name(name: object) -> str:
    """``name`` if it can name a dataset version, else a :class:`WorkspaceError` saying why.

    A name is non-empty text without surrounding spaces or control characters.

    Examples
    --------
    >>> check_name("baseline-2026")
    'baseline-2026'
    >>> try:
    ...     check_name(" baseline")
    ... except WorkspaceError as e:
    ...     print(e)
    a dataset version name must not start or end with spaces: ' baseline'
    """
    return _aliases.check_alias_name(name, "a dataset version name")


def _legacy(store: Store) -> list[dict[str, Any]]:
    """Names recorded before the name history: version rows' names and ``alias:`` meta rows."""
    versions = store.read("dataset_versions", columns=["version_id", "name", "author", "created_at"])
    out = [
        {"name": r["name"], "action": "set", "version_id": r["version_id"], "author": r["author"],
         "created_at": r["created_at"], "message": None, "source": "dataset_versions"}
        for r in versions.filter(pl.col("name").is_not_null()).iter_rows(named=True)
    ]
    aliases = store.read("meta", where="key LIKE 'alias:%'")
    if aliases.height:
        made = dict(versions.select("version_id", "created_at").iter_rows())
        when: dict[tuple[str, str], tuple[Any, str | None]] = {}
        for t, actor, details in store.read("events", where="op = 'dataset.alias'").select(
                "time", "actor", "details").sort("time").iter_rows():
            d = json.loads(details or "{}")
            when.setdefault((str(d.get("name")), str(d.get("version_id"))), (t, actor))
        for key, vid in aliases.iter_rows():
            name = key[len("alias:"):]
            t, actor = when.get((name, vid), (made.get(vid), None))
            out.append({"name": name, "action": "set", "version_id": vid, "author": actor, "created_at": t,
                        "message": None, "source": "meta"})
    return out


def name_history(store: Store, name: str | None = None) -> pl.DataFrame:
    """Every naming of a dataset version, oldest first (the names' append-only history).

    Columns: name, action (set | move | remove), version_id (where the name points after
    the row; null for remove), previous_version_id (where it pointed before), author,
    created_at, message, source (``aliases``, or where an older release recorded it:
    ``dataset_names`` / ``dataset_versions`` / ``meta``).

    Examples
    --------
    >>> import tempfile
    >>> st = Store.create(tempfile.mkdtemp() + "/ws")
    >>> name_history(st).columns[:4]
    ['name', 'action', 'version_id', 'previous_version_id']
    """
    rows, _ = _fold(store)
    out = pl.DataFrame(rows, schema=HISTORY_SCHEMA) if rows else pl.DataFrame(schema=HISTORY_SCHEMA)
    return out.filter(pl.col("name") == name) if name is not None else out


def _recorded(store: Store) -> list[dict[str, Any]]:
    """The name history rows this workspace's format keeps: ``aliases`` (format 3+), else ``dataset_names``."""
    if store.format >= ALIASES_FORMAT:
        frame = _aliases.alias_rows(store, "dataset")
        return [dict(r, source="aliases") for r in frame.iter_rows(named=True)]
    return [dict(r, source="dataset_names") for r in store.read("dataset_names").iter_rows(named=True)]


def _fold(store: Store) -> tuple[list[dict[str, Any]], dict[str, dict[str, Any]]]:
    """(history rows in time order with effective actions, name -> the row that set it now)."""
    entries = _legacy(store) + _recorded(store)
    entries.sort(key=lambda e: (e["created_at"] is not None, e["created_at"] or 0))  # stable: legacy first on ties
    rows: list[dict[str, Any]] = []
    holders: dict[str, str] = {}
    for e in entries:
        held = holders.get(e["name"])
        if e["source"] in ("dataset_versions", "meta"):  # legacy: what the row amounts to, given what came before
            if held is not None and held == e["version_id"]:
                continue
            e = dict(e, action="move" if held else "set", previous_version_id=held)
        row = {k: e.get(k) for k in HISTORY_SCHEMA}
        rows.append(row)
        if row["action"] == "remove":
            holders.pop(str(row["name"]), None)
        else:
            holders[str(row["name"])] = str(row["version_id"])
    history, state = _aliases.fold(rows)
    return history, {name: s.row for name, s in state.items()}


def current_names(store: Store) -> pl.DataFrame:
    """The names in use now: name, version_id, set_at, set_by, message; oldest first.

    Examples
    --------
    >>> import tempfile
    >>> current_names(Store.create(tempfile.mkdtemp() + "/ws")).columns
    ['name', 'version_id', 'set_at', 'set_by', 'message']
    """
    _, now = _fold(store)
    schema: dict[str, Any] = {"name": pl.String, "version_id": pl.String, "set_at": _TS, "set_by": pl.String,
                              "message": pl.String}
    rows = [(r["name"], r["version_id"], r["created_at"], r["author"], r["message"]) for r in now.values()]
    return pl.DataFrame(rows, schema=schema, orient="row").sort("set_at", nulls_last=False, maintain_order=True)


def names_by_version(store: Store) -> dict[str, list[str]]:
    """Version id -> its current names, in the order they were given.

    Examples
    --------
    >>> import tempfile
    >>> names_by_version(Store.create(tempfile.mkdtemp() + "/ws"))
    {}
    """
    out: dict[str, list[str]] = {}
    for name, vid in current_names(store).select("name", "version_id").iter_rows():
        out.setdefault(vid, []).append(name)
    return out


PROPOSE_EVENT = "dataset.name.propose"


def _propose(store: Store, context: dict[str, Any], *, action: str, name: str, version_id: str | None,
             previous: str | None, author: str | None, message: str | None) -> None:
    """Record a name move a recipe re-run asked for, without making it (one event)."""
    who = author or current_user()
    entry: dict[str, Any] = {
             "kind": "dataset", "name": name, "action": action, "version": version_id, "previous_version": previous,
             "reason": message, "author": who, "created_at": now_utc().isoformat(),
             "recipe_id": context.get("recipe_id"), "recipe": context.get("name"),
             "retrain_id": context.get("retrain_id"), "applied": False}
    store.event(PROPOSE_EVENT, entry, who)


def set_name(
    store: Store,
    name: str,
    version_id: str,
    *,
    move: bool = False,
    author: str | None = None,
    message: str | None = None,
    hint: str | None = None,
) -> tuple[str, str | None]:
    """Point ``name`` at ``version_id``: one ``aliases`` row (kind ``dataset``), under the write lock.

    Returns ``(action, previous_version_id)``: ``("set", None)`` for a new name,
    ``("move", old_id)`` when ``move=True`` took it from other content, ``("kept", None)``
    when it already pointed there (nothing written). A name held by another version
    without ``move=True`` raises :class:`NameInUseError` (``hint`` replaces its advice).
    Inside a recipe re-run (``cvops retrain``) a move is only proposed (an event
    ``dataset.name.propose``; the name stays where it was): ``("proposed", old_id)``.

    Examples
    --------
    >>> import tempfile
    >>> st = Store.create(tempfile.mkdtemp() + "/ws")
    >>> set_name(st, "baseline", "a" * 32), set_name(st, "baseline", "a" * 32)
    (('set', None), ('kept', None))
    >>> set_name(st, "baseline", "b" * 32, move=True)[0]
    'move'
    """
    check_name(name)
    with store.lock:
        _, now = _fold(store)
        held = now.get(name)
        if held is not None and held["version_id"] == version_id:
            return "kept", None
        if held is not None and not move:
            raise NameInUseError(name, holder=held["version_id"], wanted=version_id, hint=hint)
        previous = held["version_id"] if held is not None else None
        action = "move" if previous else "set"
        context = _aliases.recipe_context() if previous else None
        if context is not None:
            _propose(store, context, action="move", name=name, version_id=version_id, previous=previous,
                     author=author, message=message)
            return "proposed", previous
        _aliases.append_alias(store, kind="dataset", target=None, name=name, action=action, version_id=version_id,
                              previous_version_id=previous, author=author, message=message)
        return action, previous


def holder(store: Store, name: str) -> str | None:
    """The version id ``name`` points at now, or None.

    Examples
    --------
    >>> import tempfile
    >>> holder(Store.create(tempfile.mkdtemp() + "/ws"), "baseline") is None
    True
    """
    row = _fold(store)[1].get(name)
    return None if row is None else str(row["version_id"])


def remove_name(store: Store, name: str, *, author: str | None = None, message: str | None = None) -> str:
    """End ``name`` (a ``remove`` row); returns the version id it pointed at. The version stays.

    Examples
    --------
    >>> import tempfile
    >>> st = Store.create(tempfile.mkdtemp() + "/ws")
    >>> _ = set_name(st, "rc", "c" * 32)
    >>> remove_name(st, "rc")[:4], holder(st, "rc")
    ('cccc', None)
    """
    with store.lock:
        held = _fold(store)[1].get(name)
        if held is None:
            raise WorkspaceError(f"no dataset version is named {name!r}; ws.version_names() lists the names in use")
        context = _aliases.recipe_context()
        if context is not None:  # a recipe re-run: proposed, not applied
            _propose(store, context, action="remove", name=name, version_id=None, previous=str(held["version_id"]),
                     author=author, message=message)
            return str(held["version_id"])
        _aliases.append_alias(store, kind="dataset", target=None, name=name, action="remove", version_id=None,
                              previous_version_id=held["version_id"], author=author, message=message)
        return str(held["version_id"])


def last_removal(store: Store, name: str) -> dict[str, Any] | None:
    """The history row that removed ``name``, if it is not in use now but was once.

    Examples
    --------
    >>> import tempfile
    >>> last_removal(Store.create(tempfile.mkdtemp() + "/ws"), "gone") is None
    True
    """
    history, now = _fold(store)
    if name in now:
        return None
    gone = [r for r in history if r["name"] == name and r["action"] == "remove"]
    return gone[-1] if gone else None
