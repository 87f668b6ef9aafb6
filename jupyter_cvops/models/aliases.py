"""Model aliases (``production``, ``candidate``, anything): movable names of model versions with their history.

Rows of kind ``"model"`` in the shared ``aliases`` table (target = the model's name); the
history logic is :mod:`jupyter_cvops._store.aliases`. :func:`set_alias` sets or moves an
alias, :func:`rollback` steps it back one holder at a time, :func:`remove_alias` ends it,
:func:`alias_history` lists every change (who, when, why) and :func:`holder` says which
version an alias points at now or at any earlier time.

Inside a recipe re-run (``cvops retrain``: the kernel's environment holds
:data:`RECIPE_ENV`), no alias moves by itself: :func:`set_alias`, :func:`rollback` and
:func:`remove_alias` record a *proposal* instead (an event ``model.alias.propose`` in the
workspace's audit log, and in the running run's ``info["proposals"]``) and change nothing.
"""

from __future__ import annotations

import difflib
import json
import threading
from collections.abc import Mapping
from datetime import datetime
from typing import Any

import polars as pl

from .._store import Store, WorkspaceError, current_user, now_utc
from .._store import aliases as _shared
from ._errors import ModelError
from ._rows import check_model_name, find_version, model_names, unknown_model, version_rows
from .version import ModelVersion

_TS = pl.Datetime("us", "UTC")
HISTORY_SCHEMA: dict[str, Any] = {
    "model": pl.String, "alias": pl.String, "action": pl.String, "version": pl.String,
    "previous_version": pl.String, "author": pl.String, "created_at": _TS, "message": pl.String,
    "evidence": pl.String,
}


RECIPE_ENV = _shared.RECIPE_ENV
recipe_context = _shared.recipe_context

PROPOSE_EVENT = "model.alias.propose"
_proposed: list[dict[str, Any]] = []  # alias moves proposed in this process, oldest first
_proposed_lock = threading.Lock()


def proposals(since: int = 0) -> list[dict[str, Any]]:
    """Alias moves proposed (not applied) in this process, oldest first, from index ``since`` on.

    Examples
    --------
    >>> isinstance(proposals(), list)
    True
    """
    with _proposed_lock:
        return [dict(p) for p in _proposed[since:]]


def proposal_count() -> int:
    """How many alias moves this process has proposed so far (a mark for :func:`proposals`).

    Examples
    --------
    >>> proposal_count() >= 0
    True
    """
    with _proposed_lock:
        return len(_proposed)


def _propose(store: Store, context: Mapping[str, Any], *, action: str, name: str, alias: str,
             version_id: str | None, previous: str | None, reason: str | None,
             evidence: Mapping[str, Any] | None, author: str | None) -> dict[str, Any]:
    """Record an alias move a recipe re-run asked for, without making it (one event)."""
    entry: dict[str, Any] = {
        "model": name, "alias": alias, "action": action, "version": version_id, "previous_version": previous,
        "reason": reason, "evidence": None if evidence is None else json.loads(json.dumps(dict(evidence),
                                                                                          default=str)),
        "author": author or current_user(), "created_at": now_utc().isoformat(),
        "recipe_id": context.get("recipe_id"), "recipe": context.get("name"), "retrain_id": context.get("retrain_id"),
        "applied": False,
    }
    store.event(PROPOSE_EVENT, entry, entry["author"])
    with _proposed_lock:
        _proposed.append(entry)
    return entry


def _proposal_note(entry: Mapping[str, Any]) -> str:
    where = f"{entry['model']}@{entry['alias']}"
    target = f" -> {str(entry['version'])[:12]}" if entry.get("version") else ""
    return (f"proposed {entry['action']} {where}{target}, not applied: recipe {entry.get('recipe')!r} is being "
            f"re-run (cvops retrain never moves an alias; apply it with ws.set_alias after review)")


def check_alias(alias: object) -> str:
    """``alias`` if it can be an alias (text, no surrounding spaces, no ``@``), else a :class:`ModelError`.

    Examples
    --------
    >>> check_alias("production")
    'production'
    """
    try:
        return _shared.check_alias_name(alias, "an alias", forbid="@")
    except WorkspaceError as error:
        raise ModelError(str(error)) from None


def _version_of(store: Store, name: str, version: ModelVersion | str) -> str:
    if isinstance(version, ModelVersion):
        if version.name != name:
            raise ModelError(f"that version belongs to model {version.name!r}, not {name!r}")
        return version.version
    return str(find_version(store, name, version)["version_id"])


def _state(store: Store, name: str, until: datetime | None = None) -> dict[str, _shared.AliasState]:
    return _shared.fold(_shared.alias_rows(store, "model", name).iter_rows(named=True), until=until)[1]


def _load(store: Store, name: str, vid: str, alias: str | None, note: str | None = None) -> ModelVersion:
    return ModelVersion.from_row(store, find_version(store, name, vid), alias=alias, note=note)


def set_alias(store: Store, name: str, alias: str, version: ModelVersion | str, *, reason: str | None = None,
              evidence: Mapping[str, Any] | None = None, author: str | None = None,
              action: str | None = None) -> ModelVersion:
    """Point ``alias`` of model ``name`` at ``version`` (a ModelVersion, an id or a 6+ character prefix).

    A new alias is a ``set`` row, one in use a ``move`` row that records the previous version;
    pointing it where it already points writes nothing (the result's ``note`` says so).
    ``reason`` is the why of the history, ``evidence`` the checks that justified it (JSON).
    ``action="promote"`` is the promotion gate's move (``ws.promote``), kept as such in the history.

    Examples
    --------
    >>> ws.set_alias("defect-clf", "production", mv.version, reason="beats v1 on val")   # doctest: +SKIP
    """
    check_model_name(name)
    check_alias(alias)
    with store.lock:
        vid = _version_of(store, name, version)
        held = _state(store, name).get(alias)
        if held is not None and held.version_id == vid:
            return _load(store, name, vid, alias, note=f"{alias!r} already points here")
        context = recipe_context()
        if context is not None:
            entry = _propose(store, context, action=action or ("move" if held else "set"), name=name, alias=alias,
                             version_id=vid, previous=held.version_id if held else None, reason=reason,
                             evidence=evidence, author=author)
            return _load(store, name, vid, None, note=_proposal_note(entry))
        _shared.append_alias(store, kind="model", target=name, name=alias, action=action or ("move" if held else "set"),
                             version_id=vid, previous_version_id=held.version_id if held else None,
                             author=author, message=reason, evidence=evidence)
    note = f"{alias!r} moved from {held.version_id[:12]}" if held else f"{alias!r} set"
    return _load(store, name, vid, alias, note=note)


def rollback(store: Store, name: str, alias: str, *, reason: str | None = None,
             author: str | None = None, dry_run: bool = False) -> ModelVersion:
    """Point ``alias`` back at the version that held it before the current one; returns that version.

    The alias's holders form a stack: ``set`` starts it, each ``move`` pushes, each rollback
    pops, so calling ``rollback`` again steps further back (``set v1, move v2, move v3``, then
    ``rollback`` gives v2 and ``rollback`` again v1). With nothing earlier it raises. A later
    ``move`` pushes on what is left (``... rollback to v1, move v4, rollback`` gives v1).

    ``dry_run=True`` is a rollback drill: nothing moves; the version it would return to is
    loaded (artifact hashes checked, the model deserialised) and the drill is recorded as a
    check of kind ``rollback`` (alert when that version cannot be loaded), which the audit
    counts as an exercised rollback.

    Examples
    --------
    >>> ws.rollback("defect-clf", "production", reason="recall dropped on line 2")   # doctest: +SKIP
    >>> ws.rollback("defect-clf", "production", dry_run=True).note                  # doctest: +SKIP
    'dry run: would roll back to 3f9a0c1d2e4b, which loads'
    """
    check_model_name(name)
    check_alias(alias)
    with store.lock:
        state = _state(store, name)
        held = state.get(alias)
        if held is None:
            raise _unknown_alias(store, name, alias, state)
        previous = held.previous
        if previous is None:
            raise ModelError(f"cannot roll back {name}@{alias}: it points at {held.version_id[:12]} and no "
                             "earlier version held it (alias_history shows its moves); set it with set_alias")
        if dry_run:
            return _drill(store, name, alias, previous, held.version_id, reason)
        context = recipe_context()
        if context is not None:
            entry = _propose(store, context, action="rollback", name=name, alias=alias, version_id=previous,
                             previous=held.version_id, reason=reason, evidence=None, author=author)
            return _load(store, name, held.version_id, alias, note=_proposal_note(entry))
        _shared.append_alias(store, kind="model", target=name, name=alias, action="rollback", version_id=previous,
                             previous_version_id=held.version_id, author=author, message=reason)
    return _load(store, name, previous, alias, note=f"rolled back from {held.version_id[:12]}")


def _drill(store: Store, name: str, alias: str, previous: str, current: str, reason: str | None) -> ModelVersion:
    """A rollback dry run: load the version a rollback would return to, record the result as a check."""
    from ..checks.results import record_check

    try:
        _load(store, name, previous, None).load()
        error = None
    except Exception as exc:  # noqa: BLE001 - any failure to load is what the drill is for
        error = f"{type(exc).__name__}: {exc}"
    sentence = (f"rollback drill of {name}@{alias}: {previous[:12]} (held it before {current[:12]}) "
                + ("loads" if error is None else f"cannot be loaded: {error}"))
    record_check(store, "rollback", f"{name}@{alias}",
                 parameters={"dry_run": True, "reason": reason},
                 result={"from": current, "to": previous, "loads": error is None, "error": error},
                 alert=error is not None, summary=sentence)
    return _load(store, name, previous, None, note=f"dry run: would roll back to {previous[:12]}, which " + (
        "loads" if error is None else f"cannot be loaded ({error})"))


def remove_alias(store: Store, name: str, alias: str, *, reason: str | None = None,
                 author: str | None = None) -> ModelVersion:
    """End ``alias`` of model ``name`` (a ``remove`` row); returns the version it pointed at.

    Examples
    --------
    >>> ws.remove_alias("defect-clf", "candidate", reason="shadow test over")   # doctest: +SKIP
    """
    check_alias(alias)
    with store.lock:
        state = _state(store, name)
        held = state.get(alias)
        if held is None:
            raise _unknown_alias(store, name, alias, state)
        context = recipe_context()
        if context is not None:
            entry = _propose(store, context, action="remove", name=name, alias=alias, version_id=None,
                             previous=held.version_id, reason=reason, evidence=None, author=author)
            return _load(store, name, held.version_id, alias, note=_proposal_note(entry))
        _shared.append_alias(store, kind="model", target=name, name=alias, action="remove", version_id=None,
                             previous_version_id=held.version_id, author=author, message=reason)
    return _load(store, name, held.version_id, None, note=f"alias {alias!r} removed")


def alias_history(store: Store, name: str | None = None, alias: str | None = None) -> pl.DataFrame:
    """Every change of the aliases of model ``name`` (all models when None), oldest first.

    Columns: model, alias, action (set | move | rollback | remove), version (where it points
    after the row; null for remove), previous_version, author (who), created_at (when),
    message (why), evidence (JSON). Rows are never changed.

    Examples
    --------
    >>> import tempfile
    >>> alias_history(Store.create(tempfile.mkdtemp() + "/ws")).columns[:4]
    ['model', 'alias', 'action', 'version']
    """
    if name is not None and name not in model_names(store):
        raise unknown_model(store, name)
    rows = _shared.alias_rows(store, "model", name, all_targets=name is None)
    if alias is not None:
        rows = rows.filter(pl.col("name") == alias)
    if rows.height == 0:
        return pl.DataFrame(schema=HISTORY_SCHEMA)
    return rows.select(pl.col("target").alias("model"), pl.col("name").alias("alias"), "action",
                       pl.col("version_id").alias("version"), pl.col("previous_version_id").alias("previous_version"),
                       "author", "created_at", "message", "evidence").cast(HISTORY_SCHEMA)  # type: ignore[arg-type]


def current_aliases(store: Store) -> dict[tuple[str, str], list[str]]:
    """(model, version id) -> the aliases pointing at it now.

    Examples
    --------
    >>> import tempfile
    >>> current_aliases(Store.create(tempfile.mkdtemp() + "/ws"))
    {}
    """
    rows = _shared.alias_rows(store, "model", all_targets=True)
    out: dict[tuple[str, str], list[str]] = {}
    for (target,), group in rows.group_by("target", maintain_order=True):
        for alias, s in sorted(_shared.fold(group.iter_rows(named=True))[1].items()):
            out.setdefault((str(target), s.version_id), []).append(alias)
    return out


def holder(store: Store, name: str, alias: str, *, at: datetime | None = None) -> str:
    """The version id ``name@alias`` points at now, or at time ``at``; a clear error when it does not.

    Examples
    --------
    >>> ws_holder = holder(ws.store, "defect-clf", "production", at=last_week)   # doctest: +SKIP
    """
    if version_rows(store, name).height == 0:
        raise unknown_model(store, name)
    state = _state(store, name, until=at)
    held = state.get(alias)
    if held is None:
        raise _unknown_alias(store, name, alias, state, at=at)
    return held.version_id


def _unknown_alias(store: Store, name: str, alias: str, state: Mapping[str, _shared.AliasState], *,
                   at: datetime | None = None) -> ModelError:
    rows = _shared.alias_rows(store, "model", name).filter(pl.col("name") == alias)
    when = "" if at is None else f" at {_shared.as_utc(at):%Y-%m-%d %H:%M:%S} UTC"
    if rows.height:
        first, last = rows.row(0, named=True), rows.row(-1, named=True)
        if at is not None and first["created_at"] > _shared.as_utc(at):
            return ModelError(f"{name}@{alias} did not exist{when}: it was first set "
                              f"{first['created_at']:%Y-%m-%d %H:%M:%S} UTC")
        if last["action"] == "remove" or at is not None:
            return ModelError(f"{name}@{alias} points at no version{when}: it was removed (alias_history({name!r}) "
                              "has its moves)")
    known = sorted(state)
    close = difflib.get_close_matches(alias, known, n=1)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    listed = f" Aliases of {name!r}{when}: {', '.join(known)}" if known else f" {name!r} has no aliases{when}"
    return ModelError(f"model {name!r} has no alias {alias!r}{hint}{listed} (set one with ws.set_alias)")
