"""``retrain``: re-run a recipe with one command, check it reproduces, or retrain it on newer data
(the module is ``rerun`` so that ``recipes.retrain`` stays the function).


In order: the recipe's hashes (a hand edit is refused), ``-p`` parameters (only names of the
cell tagged ``parameters``), the environment against the lock (a warning, or refused with
``strict``), every input dataset version's files (``verify``), then the notebook runs headless
with the recipe context in its kernel's environment: ``run.use`` of a pinned version gives the
pinned version (or the ``dataset`` override), the run it records points at the recipe and its
parent run, and alias moves become proposals. Nothing is executed, and nothing registered,
before every check passed. Last, the new metrics are compared with the recipe's expectations
and the comparison is stored as a check (kind ``recipe``).
"""

from __future__ import annotations

import difflib
import json
import time
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .._store import Store, now_utc
from ..checks.results import record_check
from ..datasets.versions import _get as get_version
from ..datasets._names import PROPOSE_EVENT as NAME_PROPOSE_EVENT
from ..models.aliases import PROPOSE_EVENT
from ..runs._environment import installed_packages
from ._compare import compare_metrics, diff_table, outside
from ._errors import RecipeCheckError, RecipeEnvironmentWarning, RecipeError
from ._execute import CellProgress, execute_notebook
from ._launch import Launch, launch_kernel, raise_if_failed, workspace_uri
from ._export import open_store
from ._inputs import InputCheck, resolve_inputs, verify_inputs
from ._lock import EnvironmentDiff, environment_diff
from ._notebook import inject_parameters
from ._table import upsert_recipe
from .recipe import Recipe


@dataclass
class RetrainResult:
    """What a re-run did: the run it recorded, the models it registered, the proposals, the comparison.

    ``ok`` is True when every expected metric is within its tolerance. ``to_dict()`` is the
    ``--json`` output; ``summary()`` the text ``cvops retrain`` prints.
    """

    recipe: str
    recipe_id: str
    retrain_id: str
    run_id: str
    parent_run_id: str | None
    status: str | None
    check: bool
    comparison: list[dict[str, Any]]
    models: list[dict[str, Any]] = field(default_factory=list)
    proposals: list[dict[str, Any]] = field(default_factory=list)
    inputs: list[dict[str, Any]] = field(default_factory=list)
    verified: list[InputCheck] = field(default_factory=list)
    environment: EnvironmentDiff = field(default_factory=EnvironmentDiff)
    dataset_change: dict[str, Any] | None = None
    params: dict[str, Any] = field(default_factory=dict)
    executed_notebook: str = ""
    check_id: str | None = None
    duration_s: float = 0.0

    @property
    def ok(self) -> bool:
        """True when no expected metric is outside its tolerance or missing."""
        return not outside(self.comparison)

    def diff_table(self) -> str:
        """The metric comparison as a text table."""
        return diff_table(self.comparison)

    def summary(self) -> str:
        """A few lines: the run, the data, the models, the proposals, the comparison."""
        lines = [f"recipe {self.recipe!r}: run {self.run_id[:12]} ({self.status}) reproduces run "
                 f"{(self.parent_run_id or '-')[:12]}; executed notebook: {self.executed_notebook}"]
        if self.dataset_change:
            c = self.dataset_change
            lines.append(f"data: {c['pinned_name'] or '-'} ({c['pinned'][:12]}, {c['pinned_images']} images) -> "
                         f"{c['used_name'] or '-'} ({c['used'][:12]}, {c['used_images']} images): "
                         f"+{c['images_added']} / -{c['images_removed']} images, {c['labels_changed']} label changes")
        for m in self.models:
            lines.append(f"model {m['name']}:{str(m['version'])[:12]} ({m.get('note') or 'registered'})")
        for p in self.proposals:
            what = f"dataset name {p['name']!r}" if p.get("kind") == "dataset" else f"{p['model']}@{p['alias']}"
            lines.append(f"proposed, not applied: {p['action']} {what} -> {str(p.get('version') or '-')[:12]}")
        verdict = ("reproduced within tolerance" if self.ok else "OUTSIDE tolerance") if self.check else (
            "metrics vs the recipe")
        lines += [f"{verdict}:", self.diff_table()]
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        """JSON form (``cvops retrain --json``)."""
        return {"recipe": self.recipe, "recipe_id": self.recipe_id, "retrain_id": self.retrain_id,
                "run_id": self.run_id, "parent_run_id": self.parent_run_id, "status": self.status,
                "check": self.check, "ok": self.ok, "comparison": self.comparison, "models": self.models,
                "proposals": self.proposals, "inputs": self.inputs, "verified": [v.to_dict() for v in self.verified],
                "environment": self.environment.to_dict(), "dataset_change": self.dataset_change,
                "params": self.params, "executed_notebook": self.executed_notebook, "check_id": self.check_id,
                "duration_s": self.duration_s}

    def __repr__(self) -> str:
        state = ("reproduced" if self.ok else "NOT reproduced") if self.check else "retrained"
        bad = outside(self.comparison)
        why = f": {', '.join(r['metric'] for r in bad)} outside tolerance" if bad else ""
        return f"<RetrainResult {self.recipe!r} {state}, run {self.run_id[:12]}{why}>"


def check_params(recipe: Recipe, params: Mapping[str, Any] | None) -> dict[str, Any]:
    """``params`` if every name is one the recipe's parameters cell assigns, else a one-line :class:`RecipeError`.

    Examples
    --------
    >>> check_params(recipe, {"lrr": 0.1})   # doctest: +SKIP
    Traceback (most recent call last):
    RecipeError: recipe 'train' has no parameter 'lrr' (did you mean 'lr'?); its parameters: epochs, lr
    """
    given = dict(params or {})
    if not given:
        return given
    if not recipe.has_parameters:
        raise RecipeError(f"recipe {recipe.name!r} takes no parameters: its notebook has no cell tagged "
                          f"'parameters', so -p {next(iter(given))}=... could not reach it; tag the cell that sets the "
                          "parameters with 'parameters' and export again")
    known = recipe.parameter_names
    for key in given:
        if key not in known:
            close = difflib.get_close_matches(key, known, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise RecipeError(f"recipe {recipe.name!r} has no parameter {key!r}{hint}; its parameters: "
                              f"{', '.join(known) or 'none'}")
    return given


def check_environment(recipe: Recipe, *, strict: bool) -> EnvironmentDiff:
    """The diff of this environment with the recipe's lock: warns (:class:`RecipeEnvironmentWarning`), or
    raises when ``strict``.

    Examples
    --------
    >>> check_environment(recipe, strict=True).ok   # doctest: +SKIP
    True
    """
    locked_python = (recipe.spec.get("environment") or {}).get("python")
    diff = environment_diff(recipe.locked_packages(), installed_packages(), locked_python=locked_python)
    if diff.ok:
        return diff
    if strict:
        raise RecipeError(f"the environment differs from recipe {recipe.name!r}'s lock ({diff.summary()}); install "
                          f"it with `pip install -r {recipe.lock_path}`, or retrain without --strict")
    warnings.warn(f"{diff.summary()} (recipe {recipe.name!r}; pip install -r {recipe.lock_path})",
                  RecipeEnvironmentWarning, stacklevel=3)
    return diff


def _dataset_change(store: Store, pin: Mapping[str, Any]) -> dict[str, Any] | None:
    if pin["use"] == pin["version_id"]:
        return None
    old, new = get_version(store, str(pin["version_id"])), get_version(store, str(pin["use"]))
    a, b = set(old.items()["image_id"].to_list()), set(new.items()["image_id"].to_list())
    labels = new.diff(old)
    return {"pinned": old.id, "pinned_name": pin.get("name"), "pinned_images": old.n_images, "used": new.id,
            "used_name": new.names[-1] if new.names else None, "used_images": new.n_images,
            "override": pin["override"], "images_added": len(b - a), "images_removed": len(a - b),
            "labels_changed": labels.height, "taxonomy": [old.taxonomy_version, new.taxonomy_version]}


def _runs_of(store: Store, retrain_id: str) -> list[dict[str, Any]]:
    out = []
    for row in store.read("runs").to_dicts():
        info = json.loads(row.get("info") or "{}")
        if (info.get("recipe") or {}).get("retrain_id") == retrain_id:
            out.append(row | {"_info": info})
    return sorted(out, key=lambda r: r.get("started_at") or now_utc())


def _proposals(store: Store, retrain_id: str) -> list[dict[str, Any]]:
    """Alias moves and dataset-name moves the re-run proposed (not applied), oldest first."""
    events = store.read("events", where=f"op IN ('{PROPOSE_EVENT}', '{NAME_PROPOSE_EVENT}')")
    found = [json.loads(d or "{}") for d in events.sort("time")["details"].to_list()]
    return [p for p in found if p.get("retrain_id") == retrain_id]


def retrain(recipe: str | Path | Recipe, *, params: Mapping[str, Any] | None = None, dataset: str | None = None,
            check: bool = False, strict: bool = False, verify: str = "fast", workspace: Any = None,
            kernel_name: str | None = None, timeout: float | None = None, cwd: str | Path | None = None,
            progress: bool = True, on_cell: Callable[[CellProgress], None] | None = None,
            launch: Launch | None = None) -> RetrainResult:
    """Re-run ``recipe`` (a folder, ``recipe.yaml`` or ``.zip``, or a :class:`Recipe`) and compare its metrics.

    Parameters
    ----------
    params
        New values of the recipe's parameters, injected after the cell tagged ``parameters``
        (a cell tagged ``injected-parameters``, as papermill does); an unknown name is refused.
    dataset
        Train on another dataset version (a name or id), or ``"latest"`` (the newest in the
        workspace), instead of the one pinned: ``run.use(<pinned name>)`` in the notebook
        gives it, recorded as an override.
    check
        The reproducibility test: same data, same parameters (``params``/``dataset`` are
        refused); raises :class:`RecipeCheckError` when a metric is outside its tolerance.
    strict
        Refuse to run when the environment differs from the lock (default: warn).
    verify
        ``"fast"`` (stat cache; files that changed size, mtime or inode are re-hashed) or
        ``"full"`` (re-hash every file).
    workspace
        A Workspace, Store or URI (default: the recipe's workspace).
    kernel_name, timeout, cwd
        Jupyter kernel (default: the notebook's), per-cell timeout in seconds (default: none),
        working folder (default: the folder the notebook was exported from, if it exists,
        else the recipe folder).
    progress
        A progress bar per cell.
    on_cell
        Called with a :class:`~jupyter_cvops.recipes._execute.CellProgress` as each code cell
        starts and after it ran (what the server's retrain jobs report).
    launch
        A kernel started already for this recipe (:func:`~jupyter_cvops.recipes._launch.launch_kernel`;
        ``cvops retrain`` starts it before importing the rest of the package). Default: the
        re-run starts its kernel before it opens the store, so the kernel boots meanwhile.

    Returns
    -------
    RetrainResult
        ``run_id``, ``parent_run_id``, ``models``, ``proposals``, ``comparison``, ``ok``,
        ``dataset_change``, ``executed_notebook``, ``check_id``.

    Examples
    --------
    >>> res = retrain("recipes/train", check=True)                # doctest: +SKIP
    >>> res = retrain("recipes/train", dataset="latest")          # doctest: +SKIP
    >>> print(res.summary())                                      # doctest: +SKIP
    """
    t0 = time.perf_counter()
    if launch is not None:
        r = launch.recipe
    else:
        r = recipe if isinstance(recipe, Recipe) else Recipe.load(recipe)
    given = check_params(r, params)
    if check and (given or dataset is not None):
        if launch is not None:
            launch.shutdown()
        raise RecipeError("--check re-runs the recipe on its own data with its own parameters: drop -p/--dataset, "
                          "or drop --check to retrain and report the change")
    if launch is None:  # the kernel boots while the store opens and the inputs are checked
        launch = launch_kernel(r, workspace_uri=workspace_uri(workspace if workspace is not None else r.workspace),
                               kernel_name=kernel_name, cwd=cwd)
    try:
        store = open_store(workspace if workspace is not None else r.workspace, where=f"recipe {r.name!r}")
        if store.readonly:
            raise RecipeError(f"workspace {store.uri} is open read-only: a re-run records a run and a model")
        if launch.workspace != store.uri:  # the kernel was told another workspace: start it again, told this one
            launch.shutdown()
            launch = launch_kernel(r, workspace_uri=store.uri, kernel_name=kernel_name, cwd=cwd)
        env_diff = check_environment(r, strict=strict)
        inputs = resolve_inputs(store, r, dataset)
        verified = verify_inputs(store, inputs, verify)
        nb = inject_parameters(r.notebook(), given) if given else r.notebook()
        retrain_id, out = launch.retrain_id, launch.out
        launch.write_context({"recipe_id": r.id, "name": r.name, "path": str(r.archive or r.path),
                              "retrain_id": retrain_id, "workspace": store.uri,
                              "source_run": r.spec.get("source_run") or {}, "inputs": inputs, "params": given})
        raise_if_failed(launch)
        launch.executed = True
        execute_notebook(nb, out, cwd=launch.cwd, env=launch.env, kernel_name=launch.kernel_name, timeout=timeout,
                         progress=progress, label=f"retrain {r.name}", on_cell=on_cell, km=launch.km)
    finally:
        launch.shutdown()
    runs = _runs_of(store, retrain_id)
    if not runs:
        raise RecipeError(f"recipe {r.name!r} ran but recorded no run in workspace {store.uri} (does the notebook "
                          f"open another workspace?); the executed notebook is at {out}")
    main = next((x for x in runs if x.get("parent_run_id") == r.source_run_id), runs[-1])
    info = main["_info"]
    comparison = compare_metrics(r.expected_metrics, json.loads(main.get("metrics") or "{}"))
    models = [{"name": m["name"], "version": m["version"],
               "note": "same version as the recipe's" if any(p["version"] == m["version"]
                                                             for p in r.spec.get("models") or []) else "new version"}
              for m in info.get("models") or []]
    result = RetrainResult(
        recipe=r.name, recipe_id=r.id, retrain_id=retrain_id, run_id=main["run_id"],
        parent_run_id=main.get("parent_run_id"), status=main.get("status"), check=check, comparison=comparison,
        models=models, proposals=_proposals(store, retrain_id), inputs=inputs, verified=verified,
        environment=env_diff, dataset_change=_dataset_change(store, inputs[0]), params=given,
        executed_notebook=str(out))
    bad = outside(comparison)
    what = (f"reproduced within tolerance" if not bad else
            f"{len(bad)} metric{'s' if len(bad) > 1 else ''} outside tolerance: "
            + ", ".join(f"{x['metric']} {x['expected']:.6g} -> " + ("missing" if x["got"] is None else f"{x['got']:.6g}")
                        for x in bad))
    result.check_id = record_check(
        store, "recipe", r.name, parameters={"recipe_id": r.id, "mode": "check" if check else "retrain",
                                             "params": given, "dataset": dataset, "verify": verify},
        result={"ok": result.ok, "run_id": result.run_id, "parent_run_id": result.parent_run_id,
                "comparison": comparison, "dataset_change": result.dataset_change,
                "models": models, "proposals": len(result.proposals)},
        alert=check and not result.ok, summary=f"recipe {r.name!r} re-run {result.run_id[:12]}: {what}")
    upsert_recipe(store, r.spec, str(r.archive or r.path), last_check=result.check_id if check else None)
    result.duration_s = time.perf_counter() - t0
    store.event("recipe.retrain", {"recipe_id": r.id, "retrain_id": retrain_id, "run_id": result.run_id,
                                   "check": check, "ok": result.ok, "dataset": dataset, "params": given})
    if check and bad:
        raise RecipeCheckError(f"recipe {r.name!r} did not reproduce: {what}", result)
    return result
