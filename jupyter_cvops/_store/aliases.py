"""Movable names with a history that is never overwritten: dataset version names and model aliases.

One table, ``aliases``, holds both: a dataset version name is a row of kind ``"dataset"``
(``target`` null), a model alias a row of kind ``"model"`` whose ``target`` is the model's
name. Every change appends a row; nothing is updated or deleted. What a name points at now
(or at any earlier time) is a fold over its rows, oldest first (:func:`fold`):

* ``set`` gives a name that is not in use to a version: its stack of holders is ``[v]``;
* ``move`` points a name in use at another version: ``v`` is pushed on the stack;
* ``rollback`` pops the current holder: the name points at the version below it, so a
  second rollback steps further back (``set v1, move v2, move v3, rollback, rollback``
  leaves ``v1``), and a rollback with nothing below the holder is refused;
* ``remove`` ends the name (its stack is emptied; setting it again starts a new stack).

The fold is pure (rows in, state out); :func:`append_alias` is the one write, through
:meth:`Store.append <jupyter_cvops._store.Store.append>` (one commit). Callers take the
store's write lock around "read the state, decide, append" so two writers never interleave.
"""

from __future__ import annotations

import json
import os
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Literal

import polars as pl

from ._errors import WorkspaceError
from .store import Store, current_user, now_utc

Kind = Literal["dataset", "model"]
Action = Literal["set", "move", "remove", "rollback"]
KINDS: tuple[str, ...] = ("dataset", "model")
RECIPE_ENV = "CVOPS_RECIPE_CONTEXT"
"""Environment variable a recipe re-run (``cvops retrain``) sets for its kernel: JSON naming the recipe,
the retrain, the run it reproduces and the dataset versions it pins, or ``@<path>`` of a file holding
that JSON (the re-run starts its kernel before it has resolved the inputs, then writes the file before
the first cell runs). While it is set, no model alias and no dataset name moves: the moves are
recorded as proposals (see :func:`recipe_context`)."""


def recipe_context() -> dict[str, Any] | None:
    """The recipe re-run this process belongs to (``$CVOPS_RECIPE_CONTEXT`` parsed), else None.

    Examples
    --------
    >>> os.environ.pop(RECIPE_ENV, None) and None
    >>> recipe_context() is None
    True
    >>> import pathlib, tempfile
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "context.json"
    >>> _ = path.write_text('{"recipe_id": "r1"}')
    >>> os.environ[RECIPE_ENV] = f"@{path}"
    >>> recipe_context()["recipe_id"]
    'r1'
    >>> del os.environ[RECIPE_ENV]
    """
    text = os.environ.get(RECIPE_ENV)
    if not text:
        return None
    if text.startswith("@"):  # a file written by the re-run before the first cell ran
        try:
            with open(text[1:], encoding="utf-8") as f:
                text = f.read()
        except OSError as exc:
            raise WorkspaceError(f"${RECIPE_ENV} names {text[1:]}, which cannot be read ({exc.strerror}): this "
                                 "process was started by a recipe re-run that did not write its context") from None
    try:
        found = json.loads(text)
    except ValueError:
        return None
    return found if isinstance(found, dict) else None


ACTIONS: tuple[str, ...] = ("set", "move", "remove", "rollback", "promote")  # promote: a move through the gate
COLUMNS: tuple[str, ...] = ("kind", "target", "name", "action", "version_id", "previous_version_id", "author",
                            "created_at", "message", "evidence")


@dataclass
class AliasState:
    """What one name points at after a prefix of its history.

    ``row`` is the history row that made it point there; ``stack`` the holders a
    rollback walks back through (the last one is the current holder).

    Examples
    --------
    >>> s = AliasState("production", {"version_id": "v2"}, ["v1", "v2"])
    >>> s.version_id, s.previous
    ('v2', 'v1')
    """

    name: str
    row: dict[str, Any]
    stack: list[str] = field(default_factory=list)

    @property
    def version_id(self) -> str:
        """The version the name points at."""
        return str(self.row["version_id"])

    @property
    def previous(self) -> str | None:
        """Where a rollback would take the name (None: nothing earlier)."""
        return self.stack[-2] if len(self.stack) > 1 else None


def check_alias_name(name: object, what: str = "an alias", *, forbid: str = "") -> str:
    """``name`` if it can be a name, else a :class:`WorkspaceError` saying why.

    A name is non-empty text without surrounding spaces or control characters (and none
    of the characters in ``forbid``, e.g. ``"@"`` for model aliases).

    Examples
    --------
    >>> check_alias_name("production")
    'production'
    >>> try:
    ...     check_alias_name("prod@1", forbid="@")
    ... except WorkspaceError as e:
    ...     print(e)
    an alias must not contain '@': 'prod@1'
    """
    if not isinstance(name, str):
        raise WorkspaceError(f"{what} must be text, got {type(name).__name__}")
    if not name:
        raise WorkspaceError(f"{what} must not be empty")
    if name != name.strip():
        raise WorkspaceError(f"{what} must not start or end with spaces: {name!r}")
    if any(unicodedata.category(c) in ("Cc", "Cf", "Cs", "Zl", "Zp") for c in name):
        raise WorkspaceError(f"{what} must not hold control characters: {name!r}")
    bad = [c for c in forbid if c in name]
    if bad:
        raise WorkspaceError(f"{what} must not contain {bad[0]!r}: {name!r}")
    return name


def as_utc(when: datetime) -> datetime:
    """``when`` in UTC; a naive datetime is taken as local time (what ``datetime.now()`` gives).

    Examples
    --------
    >>> as_utc(datetime(2026, 1, 5, 12, tzinfo=timezone.utc)).isoformat()
    '2026-01-05T12:00:00+00:00'
    """
    if not isinstance(when, datetime):
        raise WorkspaceError(f"at= must be a datetime, got {type(when).__name__}")
    return (when if when.tzinfo is not None else when.astimezone()).astimezone(timezone.utc)


def fold(rows: Iterable[Mapping[str, Any]], *, until: datetime | None = None,
         ) -> tuple[list[dict[str, Any]], dict[str, AliasState]]:
    """Replay alias rows (oldest first, all of one kind and target): (the rows applied, name -> state).

    Rows later than ``until`` are left out (what held each name then). A ``rollback``
    pops the stack; a ``remove`` drops the name; ``set``, ``move`` and ``promote`` (a move made
    through the promotion gate, with its evidence) push.

    Examples
    --------
    >>> rows = [{"name": "prod", "action": a, "version_id": v}
    ...         for a, v in [("set", "v1"), ("move", "v2"), ("move", "v3"), ("rollback", "v2")]]
    >>> _, now = fold(rows)
    >>> now["prod"].version_id, now["prod"].stack
    ('v2', ['v1', 'v2'])
    """
    limit = None if until is None else as_utc(until)
    applied: list[dict[str, Any]] = []
    state: dict[str, AliasState] = {}
    for r in rows:
        row = dict(r)
        if limit is not None and row.get("created_at") is not None and row["created_at"] > limit:
            continue
        name, action = str(row["name"]), row["action"]
        held = state.get(name)
        if action == "remove":
            state.pop(name, None)
        elif action == "rollback":
            if held is not None and len(held.stack) > 1:
                held.stack.pop()
                held.row = row
        elif held is None or action == "set":
            state[name] = AliasState(name, row, [str(row["version_id"])])
        else:
            held.stack.append(str(row["version_id"]))
            held.row = row
        applied.append(row)
    return applied, state


def alias_rows(store: Store, kind: str, target: str | None = None, *, all_targets: bool = False) -> pl.DataFrame:
    """Rows of ``aliases`` of one kind (and one target, unless ``all_targets``), oldest first.

    Equal times keep the order they were written in.

    Examples
    --------
    >>> import tempfile
    >>> alias_rows(Store.create(tempfile.mkdtemp() + "/ws"), "model", "defect-clf").height
    0
    """
    if kind not in KINDS:
        raise WorkspaceError(f"alias kind must be one of {', '.join(KINDS)}, not {kind!r}")
    frame = store.read("aliases", where=f"kind = '{kind}'")
    if not all_targets:
        frame = frame.filter(pl.col("target").is_null() if target is None else pl.col("target") == target)
    return frame.sort("created_at", nulls_last=False, maintain_order=True)


def append_alias(
    store: Store,
    *,
    kind: str,
    target: str | None,
    name: str,
    action: str,
    version_id: str | None,
    previous_version_id: str | None,
    author: str | None = None,
    message: str | None = None,
    evidence: Mapping[str, Any] | None = None,
    created_at: datetime | None = None,
) -> dict[str, Any]:
    """Append one history row (one commit); returns it. ``author`` defaults to the current user.

    Examples
    --------
    >>> import tempfile
    >>> st = Store.create(tempfile.mkdtemp() + "/ws")
    >>> row = append_alias(st, kind="model", target="clf", name="production", action="set",
    ...                    version_id="a" * 32, previous_version_id=None, author="ana", message="first")
    >>> alias_rows(st, "model", "clf").select("name", "action", "author").row(0)
    ('production', 'set', 'ana')
    """
    if kind not in KINDS:
        raise WorkspaceError(f"alias kind must be one of {', '.join(KINDS)}, not {kind!r}")
    if action not in ACTIONS:
        raise WorkspaceError(f"alias action must be one of {', '.join(ACTIONS)}, not {action!r}")
    row: dict[str, Any] = {
        "kind": kind, "target": target, "name": name, "action": action, "version_id": version_id,
        "previous_version_id": previous_version_id, "author": author or current_user(),
        "created_at": created_at or now_utc(), "message": message,
        "evidence": None if evidence is None else json.dumps(dict(evidence), sort_keys=True, default=str),
    }
    store.append("aliases", [row])
    return row
