"""The ``recipes`` table: one row per exported recipe (where it is, what it pins, its last ``--check``)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import polars as pl

from .._store import Store, current_user, now_utc

_SCHEMA: dict[str, Any] = {
    "recipe_id": pl.String, "name": pl.String, "path": pl.String, "created_at": pl.Datetime("us", "UTC"),
    "author": pl.String, "notebook_hash": pl.String, "workspace": pl.String, "spec": pl.String,
    "last_check": pl.String,
}


def _quote(text: str) -> str:
    return text.replace("'", "''")


def recipe_row(store: Store, recipe_id: str) -> dict[str, Any] | None:
    """The ``recipes`` row of ``recipe_id``, or None.

    Examples
    --------
    >>> import tempfile
    >>> recipe_row(Store.create(tempfile.mkdtemp() + "/ws"), "ab12") is None
    True
    """
    hit = store.read("recipes", where=f"recipe_id = '{_quote(recipe_id)}'")
    return hit.row(0, named=True) if hit.height else None


def upsert_recipe(store: Store, spec: Mapping[str, Any], path: str, *, last_check: str | None = None) -> None:
    """Write (or update) the row of the recipe ``spec`` found at ``path`` (one commit); keeps ``last_check``
    unless a new one is given. Nothing on a read-only workspace.

    Examples
    --------
    >>> import tempfile
    >>> st = Store.create(tempfile.mkdtemp() + "/ws")
    >>> upsert_recipe(st, {"recipe_id": "ab12", "name": "train", "notebook": {"hash": "h"}}, "/r/train")
    >>> list_recipes(st).select("name", "path").row(0)
    ('train', '/r/train')
    """
    if store.readonly:
        return
    old = recipe_row(store, str(spec["recipe_id"]))
    created = spec.get("created_at")
    row = {
        "recipe_id": str(spec["recipe_id"]), "name": spec.get("name"), "path": path,
        "created_at": old["created_at"] if old else now_utc() if not created else
        pl.Series([str(created)]).str.to_datetime(time_zone="UTC").item(),
        "author": spec.get("created_by") or (old or {}).get("author") or current_user(),
        "notebook_hash": (spec.get("notebook") or {}).get("hash"), "workspace": spec.get("workspace"),
        "spec": json.dumps(dict(spec), sort_keys=True, default=str),
        "last_check": last_check if last_check is not None else (old or {}).get("last_check"),
    }
    store.upsert("recipes", "recipe_id", [row])


def list_recipes(store: Store) -> pl.DataFrame:
    """Every recipe of the workspace, oldest first: recipe_id, name, path, created_at, author,
    notebook_hash, workspace, last_check, and the last check's ``check_ok`` and ``checked_at``.

    Examples
    --------
    >>> import tempfile
    >>> list_recipes(Store.create(tempfile.mkdtemp() + "/ws")).columns[:3]
    ['recipe_id', 'name', 'path']
    """
    frame = store.read("recipes").cast(_SCHEMA).sort("created_at")  # type: ignore[arg-type]
    checks = store.read("checks", where="kind = 'recipe'", columns=["check_id", "alert", "created_at"])
    checks = checks.select("check_id", (~pl.col("alert")).alias("check_ok"), pl.col("created_at").alias("checked_at"))
    out = frame.join(checks, left_on="last_check", right_on="check_id", how="left", maintain_order="left")
    return out.drop("spec")
