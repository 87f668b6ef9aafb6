"""A recipe's inputs before a re-run: which dataset versions it uses (pinned, or the ``--dataset`` override),
and verifying their files.

Two verify modes:

* ``"fast"`` (default): a file whose size, mtime and inode equal what the workspace's stat
  cache recorded when it last hashed that path is taken as unchanged; every other file is
  re-hashed (XXH3-128) and compared with its image id. Catches deleted, replaced, rewritten
  or touched files. Misses an edit that keeps size, mtime *and* inode (e.g. bytes patched in
  place and the mtime set back with ``touch -d``), and an edited stat cache. Images in a
  bucket (``s3://``) are trusted when their size and ETag equal the stat cache's entry for
  that URI (one listing per folder, or a HEAD each: no object body is read); others are read
  again.
* ``"full"``: every file is re-hashed, so any change of content is caught.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import polars as pl

from .._store import Store, WorkspaceError
from .._store.statcache import StatCache
from ..datasets._verify import verify_items
from ..datasets.versions import DatasetVersion, list_versions
from ..datasets.versions import _get as get_version
from ..images._objects import is_uri, stat_many
from ._errors import RecipeError
from .recipe import Recipe

VERIFY_MODES = ("fast", "full")


def resolve_inputs(store: Store, recipe: Recipe, dataset: str | None = None) -> list[dict[str, Any]]:
    """The recipe's dataset versions as a re-run uses them: version_id (pinned), names, name, use (the id a
    ``run.use`` of it resolves to), override (``None``, ``"latest"`` or what ``--dataset`` named).

    The override replaces the first dataset version the source run used (its training data).

    Examples
    --------
    >>> resolve_inputs(store, recipe, "latest")[0]["use"]   # doctest: +SKIP
    """
    pins = recipe.datasets
    if not pins:
        raise RecipeError(f"recipe {recipe.name!r} pins no dataset version; export it again")
    out = []
    for k, pin in enumerate(pins):
        entry = {"version_id": pin["version_id"], "name": pin.get("name"), "names": list(pin.get("names") or []),
                 "use": pin["version_id"], "override": None}
        if k == 0 and dataset is not None:
            entry["use"], entry["override"] = _override(store, dataset), dataset
        else:
            try:
                get_version(store, str(pin["version_id"]))
            except WorkspaceError:
                label = f"{pin.get('name')!r} ({str(pin['version_id'])[:12]})"
                raise RecipeError(
                    f"dataset version {label} that recipe {recipe.name!r} pins is not in workspace {store.uri}; "
                    "retrain on another version with --dataset NAME_OR_ID (or --dataset latest)") from None
        out.append(entry)
    return out


def _override(store: Store, dataset: str) -> str:
    if dataset == "latest":
        versions = list_versions(store)
        if versions.height == 0:
            raise RecipeError(f"--dataset latest: workspace {store.uri} has no dataset version")
        return str(versions.sort("created_at")["id"][-1])
    try:
        return get_version(store, dataset).id
    except WorkspaceError as exc:
        raise RecipeError(f"--dataset {dataset}: {exc}") from None


@dataclass
class InputCheck:
    """What verifying one dataset version found: files checked, re-hashed, missing and changed.

    Examples
    --------
    >>> InputCheck("ab" * 16, "baseline", "fast", 30, 0, [], []).ok
    True
    """

    version_id: str
    name: str | None
    mode: str
    n_checked: int
    n_hashed: int
    missing: list[dict[str, Any]]
    changed: list[dict[str, Any]]

    @property
    def ok(self) -> bool:
        """True when every file is present with its recorded content."""
        return not self.missing and not self.changed

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {"version_id": self.version_id, "name": self.name, "mode": self.mode, "ok": self.ok,
                "n_checked": self.n_checked, "n_hashed": self.n_hashed, "missing": self.missing,
                "changed": self.changed}

    def problem(self) -> str:
        """One line: the first problem and what to do (empty when ok)."""
        if self.ok:
            return ""
        label = f"{self.name!r} ({self.version_id[:12]})" if self.name else self.version_id[:12]
        if self.changed:
            first, what = self.changed[0], "changed since it was recorded (its bytes hash differently)"
        else:
            first, what = self.missing[0], "missing"
        n = len(self.changed) + len(self.missing)
        more = f" (and {n - 1} more problem{'s' if n > 2 else ''})" if n > 1 else ""
        return (f"dataset version {label}: image {str(first['image_id'])[:12]} at {first['path']} is {what}{more}; "
                "restore the file, or register the new data, snapshot it and retrain with --dataset NEW")


def _stat_cache(store: Store) -> StatCache:
    path = store.meta_dir / "statcache.sqlite"
    return StatCache(path if path.is_file() and not store.readonly else None)


def verify_version(store: Store, version: DatasetVersion, mode: str = "fast") -> InputCheck:
    """Verify the files of ``version`` (see the module for what each ``mode`` catches).

    Examples
    --------
    >>> verify_version(ws.store, ws.version("baseline")).ok   # doctest: +SKIP
    True
    """
    if mode not in VERIFY_MODES:
        raise RecipeError(f"verify must be one of {', '.join(VERIFY_MODES)}, not {mode!r}")
    items = version.items()
    todo = items
    if mode == "fast":
        raw, ids = items["path"].to_list(), items["image_id"].to_list()
        in_bucket = [k for k, p in enumerate(raw) if is_uri(p)]
        on_disk = [k for k, p in enumerate(raw) if not is_uri(p)]
        stats: list[tuple[str, os.stat_result | None]] = []
        for k in on_disk:
            p = os.path.abspath(raw[k]) if raw[k] else ""
            try:
                stats.append((p, os.stat(p) if p else None))
            except OSError:
                stats.append((p, None))
        objects = [(raw[k], st.size, st.etag or "\0no etag") if not isinstance(st, OSError) else (raw[k], -1, "")
                   for k, st in zip(in_bucket, stat_many([raw[k] for k in in_bucket]) if in_bucket else [])]
        cache = _stat_cache(store)
        try:
            found: dict[int, Any] = dict(zip(on_disk, cache.lookup_many(stats)))
            found.update(zip(in_bucket, cache.lookup_objects(objects) if objects else []))
        finally:
            cache.close()
        trusted = [(e := found.get(k)) is not None and e.hash == ids[k] for k in range(items.height)]
        todo = items.filter(~pl.Series(trusted, dtype=pl.Boolean))
    report = verify_items(todo, progress=False)
    return InputCheck(version_id=version.id, name=version.name, mode=mode, n_checked=items.height,
                      n_hashed=todo.height, missing=report.missing.to_dicts(), changed=report.changed.to_dicts())


def verify_inputs(store: Store, inputs: list[dict[str, Any]], mode: str = "fast") -> list[InputCheck]:
    """Verify every dataset version a re-run will use; a :class:`RecipeError` naming the first problem.

    Examples
    --------
    >>> verify_inputs(store, resolve_inputs(store, recipe))   # doctest: +SKIP
    """
    out = []
    for entry in inputs:
        check = verify_version(store, get_version(store, str(entry["use"])), mode)
        if not check.ok:
            raise RecipeError(check.problem())
        out.append(check)
    return out
