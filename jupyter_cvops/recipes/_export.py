"""Exporting a notebook as a retrain recipe: what its last run used, made and measured, pinned in a folder."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .._store import Store, WorkspaceError, current_user, now_utc
from ..datasets.versions import _get as get_version
from ..models._rows import find_version
from ..runs._environment import environment
from ._errors import RecipeError
from ._lock import LOCK_FILE, accelerator, lock_text
from ._notebook import (content_hash, parameters_cell, parse_parameters, read_notebook, recorded_runs, snapshots,
                        strip_outputs, workspaces)
from ._table import upsert_recipe
from .recipe import FORMAT, SPEC_FILE, Recipe, file_hash, write_archive, write_spec

#: Default tolerance of every expected metric (absolute): CPU re-runs with the same seeds match exactly.
DEFAULT_TOLERANCE = 1e-6


def _loads(text: Any, default: Any) -> Any:
    if not text:
        return default
    try:
        return json.loads(text)
    except ValueError:
        return default


def open_store(workspace: Any, nb: Mapping[str, Any] | None = None, *, where: str = "") -> Store:
    """The store of ``workspace`` (a Workspace, a Store or a URI), else of the workspace the notebook names.

    Examples
    --------
    >>> open_store(None, {"cells": [], "metadata": {}}, where="x.ipynb")
    Traceback (most recent call last):
    ...
    jupyter_cvops.recipes._errors.RecipeError: cannot tell which workspace x.ipynb used: it shows no snapshot or run card and its metadata.cvops names no workspace; pass the workspace (cvops -w WS ..., workspace=)
    """
    if isinstance(workspace, Store):
        return workspace
    store = getattr(workspace, "store", None)
    if isinstance(store, Store):
        return store
    candidates = [str(workspace)] if workspace is not None else list(reversed(workspaces(nb or {})))
    if not candidates:
        raise RecipeError(f"cannot tell which workspace {where} used: it shows no snapshot or run card and its "
                          "metadata.cvops names no workspace; pass the workspace (cvops -w WS ..., workspace=)")
    errors = []
    for uri in candidates:
        try:
            return Store.open(uri)
        except WorkspaceError as exc:
            errors.append(f"{uri}: {exc}")
    raise RecipeError(f"cannot open the workspace {where} used: {errors[0]}")


def _notebook_runs(store: Store, nb: Mapping[str, Any], nb_path: Path) -> list[dict[str, Any]]:
    """Runs (kind ``run``) the notebook made: shown as cards in it, or recorded with its path."""
    shown = set(recorded_runs(nb))
    out = []
    for row in store.read("runs").to_dicts():
        if (row.get("kind") or "run") != "run":
            continue
        info = _loads(row.get("info"), {})
        facts = info.get("notebook") or {}
        resolved = facts.get("resolved") if isinstance(facts, dict) else None
        if row["run_id"] in shown or (resolved and Path(resolved) == nb_path):
            out.append(row | {"_info": info})
    out.sort(key=lambda r: (r.get("started_at") or r.get("created_at")) or now_utc())
    return out


def _source_run(store: Store, nb: Mapping[str, Any], nb_path: Path) -> dict[str, Any]:
    runs = _notebook_runs(store, nb, nb_path)
    if not runs:
        raise RecipeError(
            f"no recorded run of {nb_path.name} in workspace {store.uri}: wrap the training in "
            "`with ws.run(NAME, params=...)` (or `%cvops run start NAME`), run the notebook, save it, then export")
    last = runs[-1]
    label = f"{last.get('name')!r} ({last['run_id'][:12]})"
    if last.get("status") == "failed":
        raise RecipeError(f"the last run of {nb_path.name}, {label}, failed ({last.get('error') or 'no error'}); "
                          "fix the notebook, run it again until it finishes, save it, then export")
    if last.get("status") != "finished":
        raise RecipeError(f"the last run of {nb_path.name}, {label}, is {last.get('status')}: end it (run.end() or "
                          "`%cvops run end`), save the notebook, then export")
    return last


def _datasets(store: Store, run: Mapping[str, Any], nb: Mapping[str, Any], nb_path: Path) -> list[dict[str, Any]]:
    used = [dict(i, via="run") for i in _loads(run.get("inputs"), [])]
    if not used and run.get("dataset_version"):
        used = [{"version_id": run["dataset_version"], "via": "run"}]
    have = {u["version_id"] for u in used}
    for snap in snapshots(nb):
        dv = snap.get("dataset_version") or {}
        vid = dv.get("id") if isinstance(dv, dict) else None
        if vid and vid not in have:
            have.add(vid)
            used.append({"version_id": vid, "via": "snapshot"})
    if not used:
        raise RecipeError(
            f"{nb_path.name} trained on unversioned data: its run {run.get('name')!r} ({run['run_id'][:12]}) used no "
            "dataset version and the notebook records no snapshot; run `%cvops snapshot --name NAME` (or "
            "`run.use(NAME)` inside the run), run the notebook again, save it, then export")
    out = []
    for u in used:
        try:
            v = get_version(store, str(u["version_id"]))
        except WorkspaceError:
            raise RecipeError(f"dataset version {str(u['version_id'])[:12]} that {nb_path.name} used is not in "
                              f"workspace {store.uri}; export from the workspace the notebook ran against") from None
        out.append({"version_id": v.id, "name": u.get("name") or (v.names[-1] if v.names else None),
                    "names": list(v.names), "taxonomy_version": int(v.taxonomy_version), "n_images": v.n_images,
                    "n_labels": v.n_labels, "created_at": v.created_at.isoformat(), "via": u["via"]})
    return out


def _models(store: Store, info: Mapping[str, Any]) -> list[dict[str, Any]]:
    out = []
    for m in info.get("models") or []:
        try:
            row = find_version(store, str(m["name"]), str(m["version"]))
        except WorkspaceError:
            continue
        out.append({"name": row["model"], "version": row["version_id"],
                    "preprocess_fingerprint": row.get("preprocess_fingerprint"), "framework": row.get("framework"),
                    "dataset_version": row.get("dataset_version"), "taxonomy_version": row.get("taxonomy_version"),
                    "classes": _loads(row.get("classes"), [])})
    return out


def _expected(metrics: Mapping[str, Any], tolerance: float | Mapping[str, float]) -> dict[str, dict[str, Any]]:
    out = {}
    for key, value in sorted(metrics.items()):
        tol = tolerance.get(key, DEFAULT_TOLERANCE) if isinstance(tolerance, Mapping) else tolerance
        out[key] = {"value": float(value), "tolerance": float(tol)}
    return out


def slug(text: str) -> str:
    """A folder name from ``text``: letters, digits, ``._-``.

    Examples
    --------
    >>> slug("04 train: defect clf")
    '04-train-defect-clf'
    """
    return re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-.") or "recipe"


def _target(out: str | Path | None, nb_path: Path, name: str, overwrite: bool) -> tuple[Path, Path | None]:
    """(the recipe folder, the archive to write or None)."""
    if out is None:
        folder, archive = nb_path.parent / "recipes" / slug(name), None
    else:
        p = Path(out).expanduser()
        folder, archive = (p.with_name(p.name[: -len(".zip")]), p) if p.name.endswith(".zip") else (p, None)
    folder = folder.resolve()
    if folder.exists() and not folder.is_dir():
        raise RecipeError(f"cannot write the recipe to {folder}: a file is there")
    if folder.is_dir() and any(folder.iterdir()):
        if not (folder / SPEC_FILE).is_file():
            raise RecipeError(f"{folder} holds other files; choose an empty or new folder for the recipe (-o DIR)")
        if not overwrite:
            raise RecipeError(f"{folder} already holds a recipe; pass overwrite=True (cvops recipe export --force) to "
                              "replace it, or choose another folder (-o DIR)")
    return folder, archive.resolve() if archive else None


def export_recipe(notebook: str | Path, out: str | Path | None = None, *, name: str | None = None,
                  workspace: Any = None, tolerance: float | Mapping[str, float] = DEFAULT_TOLERANCE,
                  overwrite: bool = False, author: str | None = None) -> Recipe:
    """Export ``notebook`` (as last saved) as a retrain recipe; returns the :class:`Recipe`.

    The notebook's last recorded run (a run card in its outputs, or a run recorded with
    its path) is the source: its dataset versions (and the snapshots in
    ``metadata.cvops``), taxonomy version, registered models with their preprocessing
    fingerprints, seeds, git commit and metrics (the expectations, each within
    ``tolerance``) are pinned, with the parameters of the cell tagged ``parameters`` and
    an environment lock of every package the run had. Refused, with what to do, when the
    notebook has no finished run, its last run failed, or it used no dataset version.

    Parameters
    ----------
    notebook
        The ``.ipynb`` file (save it first: the file on disk is exported).
    out
        The recipe folder (default ``<notebook folder>/recipes/<name>``); a path ending in
        ``.zip`` writes the folder and one archive of it.
    name
        The recipe's name (default: the notebook's file name without ``.ipynb``).
    workspace
        A Workspace, Store or URI (default: the workspace the notebook's snapshots and
        run cards name).
    tolerance
        Absolute tolerance of each expected metric: one number or ``{metric: tolerance}``.
    overwrite
        Replace a recipe already in ``out`` (its ``executed/`` notebooks stay).

    Examples
    --------
    >>> r = export_recipe("04_train.ipynb", "recipes/train")   # doctest: +SKIP
    >>> r.to_dict()["pinned"]                                 # doctest: +SKIP
    """
    nb_path = Path(notebook).expanduser().resolve()
    if nb_path.suffix != ".ipynb":
        raise RecipeError(f"{nb_path.name} is not a notebook (.ipynb)")
    nb = read_notebook(nb_path)
    store = open_store(workspace, nb, where=nb_path.name)
    run = _source_run(store, nb, nb_path)
    info = run["_info"]
    datasets = _datasets(store, run, nb, nb_path)
    env = _loads(run.get("environment"), {}) or environment()
    where = parameters_cell(nb)
    values, exprs = parse_parameters(str(nb["cells"][where]["source"])) if where is not None else ({}, {})
    recipe_name = name or nb_path.stem
    folder, archive = _target(out, nb_path, recipe_name, overwrite)
    folder.mkdir(parents=True, exist_ok=True)
    stripped = strip_outputs(nb)
    (folder / nb_path.name).write_text(json.dumps(stripped, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    (folder / LOCK_FILE).write_text(lock_text(env), encoding="utf-8")
    git = info.get("git") or {"commit": run.get("git_commit")}
    spec: dict[str, Any] = {
        "format": FORMAT, "recipe_id": uuid.uuid4().hex, "name": recipe_name,
        "created_by": author or current_user(), "created_at": now_utc().isoformat(), "workspace": store.uri,
        "notebook": {"file": nb_path.name, "hash": content_hash(stripped), "source": str(nb_path)},
        "parameters": values if where is not None else None,
        "parameter_expressions": exprs,
        "parameters_note": None if where is not None else (
            "the notebook has no cell tagged 'parameters': cvops retrain -p is refused (tag the cell that sets "
            "the parameters with 'parameters' and export again)"),
        "source_run": {"run_id": run["run_id"], "name": run.get("name"), "status": run.get("status"),
                       "user": run.get("user"), "started_at": run.get("started_at"), "ended_at": run.get("ended_at"),
                       "params": _loads(run.get("params"), {})},
        "datasets": datasets,
        "taxonomy_version": datasets[0]["taxonomy_version"],
        "models": _models(store, info),
        "seeds": _loads(run.get("seeds"), {}),
        "git": {k: git.get(k) for k in ("commit", "dirty", "branch")},
        "expected_metrics": _expected(_loads(run.get("metrics"), {}), tolerance),
        "environment": {"python": env.get("python"), "implementation": env.get("implementation"),
                        "platform": env.get("platform"), "machine": env.get("machine"),
                        "accelerator": accelerator(env), "packages": len(env.get("packages") or {}),
                        "lock": LOCK_FILE, "lock_hash": file_hash(folder / LOCK_FILE)},
    }
    write_spec(folder, spec)
    if archive is not None:
        write_archive(folder, archive)
    recipe = Recipe.load(archive or folder)
    if not store.readonly:
        upsert_recipe(store, recipe.spec, str(archive or folder))
        store.event("recipe.export", {"recipe_id": recipe.id, "name": recipe.name, "path": str(archive or folder),
                                      "source_run": run["run_id"], "notebook": str(nb_path)})
    return recipe

