"""The model registry: register a model version (content-addressed, safe artifact), look versions up, list them.

Writes go through the store, in the order that makes the version visible last: the artifact
folder (content-addressed, written once), the preprocessing record (``preprocess_specs``,
keyed by fingerprint), then the ``model_versions`` row, then a ``model.register`` event.
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np
import polars as pl

from .._store import Store, current_user, now_utc
from .._store.aliases import as_utc
from ..taxonomy.facade import Taxonomy
from . import _artifacts
from ._errors import ModelError
from ._rows import artifact_root, check_model_name, find_version, unknown_model, version_rows
from .aliases import check_alias, current_aliases, holder
from .card import CardFacts, markdown
from ._identity import version_id
from .version import ModelVersion, versions_frame

if TYPE_CHECKING:
    from ..preprocess import Preprocess

TASKS = ("classification", "detection")


class RunLike(Protocol):
    """What ``register_model(run=...)`` reads from a run: its id, its inputs and its metrics.

    ``inputs`` is a list of dicts with ``version_id`` (a dataset version id) and
    ``taxonomy_version``; the first input is the model's dataset version.
    """

    id: str
    inputs: Sequence[Mapping[str, Any]]
    metrics: Mapping[str, Any]


def _store_of(ws_or_store: Any) -> Store:
    store = ws_or_store if isinstance(ws_or_store, Store) else getattr(ws_or_store, "store", None)
    if not isinstance(store, Store):
        raise ModelError(f"expected a Workspace or a Store, not a {type(ws_or_store).__qualname__}")
    return store


def _taxonomy_classes(store: Store, version: int) -> list[str]:
    frame = Taxonomy(store).classes(version, include_retired=False)
    return [str(n) for n in frame["name"].to_list()]


def _check_classes(store: Store, classes: Sequence[str] | None, taxonomy_version: int | None) -> list[str]:
    known = _taxonomy_classes(store, taxonomy_version) if taxonomy_version is not None else None
    if classes is None:
        if not known:
            where = ("" if taxonomy_version is None
                     else f" (taxonomy version {taxonomy_version} has no active classes)")
            raise ModelError(f"which classes does the model output, in order? pass classes=[...]{where}")
        return known
    out = [str(c) for c in classes]
    if not out:
        raise ModelError("classes must name at least one class")
    dupes = sorted({c for c in out if out.count(c) > 1})
    if dupes:
        raise ModelError(f"classes must be distinct; repeated: {', '.join(dupes)}")
    if known is not None:
        unknown = [c for c in out if c not in known]
        if unknown:
            close = difflib.get_close_matches(unknown[0], known, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise ModelError(
                f"the model's classes do not match taxonomy version {taxonomy_version}: {', '.join(map(repr, unknown))}"
                f"{hint} {'is' if len(unknown) == 1 else 'are'} not among its classes ({', '.join(known)}); "
                "name the model's outputs with the taxonomy's class names, or register against the taxonomy "
                "version the model was trained with (taxonomy_version=)")
    return out


def _example(example_input: Any, preprocess: Preprocess | None) -> tuple[Any, ...] | None:
    """The example input: the given one, else two grey images through ``preprocess`` (a batch of 2)."""
    if example_input is not None:
        return _artifacts.example_args(example_input)
    if preprocess is None or not preprocess.runnable:
        return None
    import torch

    side = 224
    for dim in (preprocess.crop, preprocess.size):
        if dim is not None:
            side = max(dim) if isinstance(dim, tuple) else int(dim)
            break
    one = preprocess(np.full((side, side, 3), 128, np.uint8))
    return (torch.from_numpy(np.stack([one, one])),)


def _outputs_width(model: Any, example: tuple[Any, ...] | None) -> int | None:
    if example is None or not _artifacts.is_torch_module(model):
        return None
    import torch

    with torch.no_grad(), _artifacts.eval_mode(model):
        out = model(*example)
    return int(out.shape[-1]) if isinstance(out, torch.Tensor) and out.dim() >= 1 else None


def register_model(
    ws_or_store: Any,
    name: str,
    model: Any,
    *,
    preprocess: Preprocess | None = None,
    classes: Sequence[str] | None = None,
    run: RunLike | None = None,
    dataset_version: Any = None,
    taxonomy_version: int | None = None,
    metrics: Mapping[str, Any] | None = None,
    task: str = "classification",
    card: str | None = None,
    example_input: Any = None,
    format: str | None = None,
    architecture: str | None = None,
    architecture_kwargs: Mapping[str, Any] | None = None,
    adapter: Any = None,
    author: str | None = None,
) -> ModelVersion:
    """Register ``model`` as a version of model ``name``: a safe, content-addressed artifact and its record.

    The version id is the hash of the artifact, the preprocessing fingerprint and the ordered
    class list: registering the same model again returns the existing version (``note``
    says "already registered"); any change gives a new version.

    Parameters
    ----------
    ws_or_store
        A Workspace (or its Store).
    model
        A ``torch.nn.Module`` (default format ``"torch.export"``; a ``ScriptModule``:
        ``"torchscript"``), a scikit-learn estimator (``"skops"``, needs skops installed),
        or anything with ``adapter=``.
    preprocess
        The ``Preprocess`` the model was trained with: stored by fingerprint, used by serving.
    classes
        Class names in output order. Default: the active classes of the taxonomy version (in
        id order). Names must be classes of that taxonomy version, and their number must
        equal the model's output width (checked on the example input).
    run
        A run it came from: any object with ``.id``, ``.inputs`` (dicts with ``version_id``
        and ``taxonomy_version``; the first is the dataset version) and ``.metrics`` (dict).
        ``run.register_model(name, model, preprocess=...)`` passes itself here.
    dataset_version, taxonomy_version
        The data it was trained on (a DatasetVersion or its id); default from ``run``, and
        the taxonomy version from the dataset version.
    metrics
        Numbers to keep with the version (merged over ``run.metrics``).
    task
        ``"classification"`` or ``"detection"`` (the output-width check is for classification).
    card
        The team's notes, Markdown, appended to the generated model card.
    example_input
        A tensor (or tuple) the model is traced/exported with; default: a batch of two
        preprocessed grey images. torch.export exports with a dynamic batch dimension.
    format
        ``"torch.export"``, ``"torchscript"``, ``"torch-state-dict"`` (safetensors weights +
        ``architecture="package.module:ClassName"`` and ``architecture_kwargs``), ``"skops"``
        or ``"adapter"`` (with ``adapter=``, a :class:`~jupyter_cvops.models.ModelAdapter`).
    author
        Who registers it (default: the workspace's current user).

    Examples
    --------
    >>> import tempfile, torch, jupyter_cvops as cv
    >>> from jupyter_cvops.models import register_model
    >>> ws = cv.Workspace.create(tempfile.mkdtemp() + "/ws")
    >>> _ = torch.manual_seed(0)
    >>> mv = register_model(ws, "tiny", torch.nn.Linear(4, 2), classes=["ok", "defect"],
    ...                     example_input=torch.zeros(2, 4))
    >>> mv.framework, mv.classes, len(mv.version)
    ('torch.export', ('ok', 'defect'), 32)
    >>> mv.load()(torch.ones(3, 4)).shape
    torch.Size([3, 2])
    >>> other = register_model(ws, "tiny", torch.nn.Linear(4, 2), classes=["ok", "defect"], format="torchscript")
    >>> other.version != mv.version, len(ws.models())
    (True, 2)
    """
    store = _store_of(ws_or_store)
    check_model_name(name)
    if task not in TASKS:
        raise ModelError(f"task must be one of {', '.join(TASKS)}, not {task!r}")
    run_id = None
    merged: dict[str, Any] = {}
    if run is not None:
        run_id = str(run.id)
        inputs = list(getattr(run, "inputs", None) or [])
        if dataset_version is None and inputs:
            dataset_version = inputs[0].get("version_id")
            if taxonomy_version is None and inputs[0].get("taxonomy_version") is not None:
                taxonomy_version = int(inputs[0]["taxonomy_version"])
        merged.update(dict(getattr(run, "metrics", None) or {}))
    merged.update(dict(metrics or {}))
    dataset_id = getattr(dataset_version, "id", dataset_version)
    if dataset_id is not None:
        if taxonomy_version is None:
            taxonomy_version = getattr(dataset_version, "taxonomy_version", None)
        if taxonomy_version is None:
            hit = store.read("dataset_versions", where=f"version_id = '{dataset_id}'")
            if hit.height == 0:
                raise ModelError(f"no dataset version {str(dataset_id)[:12]} in this workspace")
            taxonomy_version = int(hit["taxonomy_version"][0])
    names = _check_classes(store, classes, taxonomy_version)
    fmt = format or _artifacts.default_format(model, adapter)
    example = _example(example_input, preprocess) if fmt in ("torch.export", "torchscript") else None
    if task == "classification":
        width = _outputs_width(model, example)
        if width is not None and width != len(names):
            raise ModelError(f"the model outputs {width} scores but {len(names)} classes are named "
                             f"({', '.join(names)}); pass classes= in the model's output order")
    saved = _artifacts.save(model, fmt, example=example, architecture=architecture,
                            architecture_kwargs=architecture_kwargs, adapter=adapter)
    fingerprint = None if preprocess is None else preprocess.fingerprint
    arch = ({"path": saved.info["architecture"], "kwargs": saved.info["architecture_kwargs"]}
            if saved.framework == "torch-state-dict" else None)
    vid = version_id(saved.hash, fingerprint, names, arch)
    if card:
        saved.info["notes"] = card
    with store.lock:
        existing = version_rows(store, name).filter(pl.col("version_id") == vid)
        if existing.height:
            return ModelVersion.from_row(store, existing.row(0, named=True), note="already registered")
        folder = artifact_root(store) / saved.hash
        _artifacts.write(folder, saved.files)
        if preprocess is not None and store.count("preprocess_specs", f"fingerprint = '{fingerprint}'") == 0:
            store.append("preprocess_specs", [{"fingerprint": fingerprint, "created_at": now_utc(),
                                               "record": json.dumps(preprocess.to_record(), sort_keys=True)}])
        when, who = now_utc(), author or current_user()
        facts = CardFacts(name=name, version=vid, created_at=when, author=who, framework=saved.framework, task=task,
                          run_id=run_id, dataset_version=dataset_id, taxonomy_version=taxonomy_version,
                          classes=names, preprocess_fingerprint=fingerprint,
                          preprocess_description=None if preprocess is None else preprocess.describe(),
                          metrics=merged, notes=card)
        main = sorted(saved.files)[0] if len(saved.files) == 1 else ""
        row = {"model": name, "version_id": vid, "created_at": when, "author": who, "run_id": run_id,
               "dataset_version": dataset_id, "taxonomy_version": taxonomy_version, "classes": json.dumps(names),
               "framework": saved.framework, "task": task, "artifact": f"{saved.hash}/{main}",
               "artifact_hash": saved.hash, "artifact_bytes": saved.n_bytes, "preprocess_fingerprint": fingerprint,
               "metrics": json.dumps(merged, sort_keys=True, default=str), "card": markdown(facts),
               "info": json.dumps(saved.info, sort_keys=True, default=str)}
        store.append("model_versions", [row])
        store.event("model.register", {"model": name, "version_id": vid, "framework": saved.framework,
                                       "run_id": run_id}, who)
    return ModelVersion.from_row(store, row, note="registered")


def parse_ref(ref: str) -> tuple[str, str | None]:
    """``"name@alias"`` -> (name, alias); ``"name"`` -> (name, None).

    Examples
    --------
    >>> parse_ref("defect-clf@production"), parse_ref("defect-clf")
    (('defect-clf', 'production'), ('defect-clf', None))
    """
    if not isinstance(ref, str):
        raise ModelError(f"a model reference is text like 'name@alias', not a {type(ref).__name__}")
    name, sep, alias = ref.partition("@")
    check_model_name(name)
    return name, (check_alias(alias) if sep else None)


def get_model(ws_or_store: Any, ref: str, *, version: str | None = None, at: datetime | None = None) -> ModelVersion:
    """A model version: ``"name@alias"`` (what the alias points at now, or at time ``at``),
    ``"name"`` with ``version=`` (an id or a 6+ character prefix), or ``"name"`` alone (its
    newest version, or the newest registered by ``at``).

    Examples
    --------
    >>> import tempfile
    >>> from jupyter_cvops._store import Store
    >>> try:
    ...     get_model(Store.create(tempfile.mkdtemp() + "/ws"), "defect-clf@production")
    ... except ModelError as e:
    ...     print(str(e)[:30])
    no model named 'defect-clf' in
    """
    store = _store_of(ws_or_store)
    name, alias = parse_ref(ref)
    if alias is not None and version is not None:
        raise ModelError(f"give an alias ({ref!r}) or version=, not both")
    if alias is not None:
        return ModelVersion.from_row(store, find_version(store, name, holder(store, name, alias, at=at)), alias=alias)
    if version is not None:
        return ModelVersion.from_row(store, find_version(store, name, version))
    rows = version_rows(store, name)
    if rows.height == 0:
        raise unknown_model(store, name)
    if at is not None:
        limit = as_utc(at)
        rows = rows.filter(pl.col("created_at") <= limit)
        if rows.height == 0:
            raise ModelError(f"model {name!r} had no version yet at {limit:%Y-%m-%d %H:%M:%S} UTC")
    return ModelVersion.from_row(store, rows.row(-1, named=True))


def list_models(ws_or_store: Any) -> pl.DataFrame:
    """Every model version, oldest first per model: model, version, aliases (now), created_at, author,
    framework, task, run_id, dataset_version, taxonomy_version, preprocess_fingerprint, n_classes.

    Examples
    --------
    >>> import tempfile
    >>> from jupyter_cvops._store import Store
    >>> list_models(Store.create(tempfile.mkdtemp() + "/ws")).columns[:3]
    ['model', 'version', 'aliases']
    """
    store = _store_of(ws_or_store)
    rows = version_rows(store).sort("model", "created_at", maintain_order=True)
    return versions_frame(rows, current_aliases(store))


def artifact_folder(ws_or_store: Any) -> Path:
    """Where this workspace keeps its model artifacts (``<workspace>/.cvops/artifacts``)."""
    return artifact_root(_store_of(ws_or_store))
