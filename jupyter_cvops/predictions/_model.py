"""Which model made the predictions (name, version, alias) and with which serving preprocessing.

Resolved once when a log opens. A model registry (``ws.model``) resolves ``"name@alias"`` to the
version holding the alias then; without one (or for a model it does not know) the names are recorded
as given. The serving side's ``Preprocess`` is recorded by fingerprint, its spec stored once per
fingerprint in ``preprocess_specs`` so a skew report can name the fields that differ.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from .._store import Store, WorkspaceError, now_utc


def quote(value: str) -> str:
    """A SQL string literal for Lance filters.

    Examples
    --------
    >>> quote("it's")
    "'it''s'"
    """
    return "'" + value.replace("'", "''") + "'"


@dataclass(frozen=True)
class ModelRef:
    """A model as the prediction log records it: ``name``, ``version`` (id, or None when unknown), the
    ``alias`` it was resolved through, and its ``classes`` in output order when known."""

    name: str
    version: str | None = None
    alias: str | None = None
    classes: tuple[str, ...] | None = None


def _classes(obj: Any) -> tuple[str, ...] | None:
    found = getattr(obj, "classes", None)
    if isinstance(found, str):
        found = json.loads(found)
    return tuple(str(c) for c in found) if isinstance(found, Sequence) and found else None


def resolve_model(
    model: Any,
    *,
    version: str | None = None,
    alias: str | None = None,
    resolver: Callable[..., Any] | None = None,
    store: Store | None = None,
) -> ModelRef:
    """The model predictions are logged for.

    Parameters
    ----------
    model
        ``"name@alias"``, ``"name"`` (with ``version=``), or a model version object with ``.name`` and
        ``.version`` (e.g. what ``ws.model(...)`` returns; ``.classes`` and ``.alias`` are used when present).
    version
        The version id when ``model`` is a plain name.
    alias
        The alias the serving side resolved (when ``model`` is a name or an object).
    resolver
        ``ws.model`` when a registry is available: resolves ``"name@alias"`` (an unknown model or alias is
        its error), and checks ``name`` + ``version`` for a model it has registered (a model it does not
        know is recorded as given). Without a resolver everything is recorded as given.
    store
        Used to ask whether the registry knows a plain ``name`` at all (``model_versions``).

    Examples
    --------
    >>> resolve_model("clf@production")
    ModelRef(name='clf', version=None, alias='production', classes=None)
    >>> resolve_model("clf", version="3fa2c1d0e9ab")
    ModelRef(name='clf', version='3fa2c1d0e9ab', alias=None, classes=None)
    """
    if not isinstance(model, str):
        name, ver = getattr(model, "name", None), getattr(model, "version", None)
        if not isinstance(name, str) or not name or (ver is not None and not isinstance(ver, str)):
            raise WorkspaceError("model must be 'name@alias', 'name' (with version=) or a model version with "
                                 f".name and .version; got {type(model).__name__}")
        if version is not None and ver is not None and version != ver:
            raise WorkspaceError(f"version={version!r} differs from the model version's own {ver!r}")
        return ModelRef(name, ver or version, alias or getattr(model, "alias", None), _classes(model))
    name, _, named_alias = model.partition("@")
    name = name.strip()
    if not name or (model.count("@") and not named_alias):
        raise WorkspaceError(f"model must be 'name@alias' or 'name', got {model!r}")
    if named_alias and alias is not None and alias != named_alias:
        raise WorkspaceError(f"model {model!r} names alias {named_alias!r} but alias={alias!r}")
    alias = named_alias or alias
    if resolver is not None and named_alias:
        found = resolver(model)
        return ModelRef(getattr(found, "name", None) or name, getattr(found, "version", None), alias,
                        _classes(found))
    if resolver is not None and version is not None and store is not None and store.has_table("model_versions") \
            and store.count("model_versions", f"model = {quote(name)}"):
        found = resolver(name, version=version)
        return ModelRef(name, getattr(found, "version", None) or version, alias, _classes(found))
    return ModelRef(name, version, alias)


def registry_resolver(workspace: Any) -> Callable[..., Any] | None:
    """``workspace.model`` when the model registry is there (``jupyter_cvops.models.registry``), else None.

    Examples
    --------
    >>> registry_resolver(object()) is None
    True
    """
    import importlib.util

    method = getattr(workspace, "model", None)
    if not callable(method):
        return None
    try:
        present = importlib.util.find_spec("jupyter_cvops.models.registry") is not None
    except (ImportError, ValueError):
        present = False
    return method if present else None


def preprocess_fingerprint(store: Store | None, preprocess: Any) -> str | None:
    """The serving preprocessing's fingerprint; a ``Preprocess``'s record is stored once per fingerprint.

    ``preprocess`` is a ``cv.Preprocess`` (anything with ``.fingerprint`` and ``.to_record()``), its
    fingerprint as text (recorded as given: store the spec itself, e.g. by registering a model with it,
    for a skew report to name fields), or None (not recorded).

    Examples
    --------
    >>> from jupyter_cvops.preprocess import Preprocess
    >>> pre = Preprocess(32)
    >>> preprocess_fingerprint(None, pre) == pre.fingerprint == preprocess_fingerprint(None, pre.fingerprint)
    True
    """
    if preprocess is None:
        return None
    if isinstance(preprocess, str):
        if not preprocess.strip() or preprocess != preprocess.strip():
            raise WorkspaceError(f"a preprocessing fingerprint must be non-empty text, got {preprocess!r}")
        return preprocess
    fingerprint = getattr(preprocess, "fingerprint", None)
    if not isinstance(fingerprint, str) or not callable(getattr(preprocess, "to_record", None)):
        raise WorkspaceError("preprocess must be a cv.Preprocess (or its fingerprint), got "
                             f"{type(preprocess).__name__}")
    if store is not None:
        store_spec(store, fingerprint, preprocess.to_record())
    return fingerprint


def store_spec(store: Store, fingerprint: str, record: dict[str, Any]) -> bool:
    """Store a preprocessing record in ``preprocess_specs`` unless its fingerprint is there; True if written.

    One upsert keyed by fingerprint, under the write lock (two writers store it once).

    Examples
    --------
    >>> import tempfile
    >>> st = Store.create(tempfile.mkdtemp() + "/ws")
    >>> store_spec(st, "f" * 32, {"spec_json": "{}"}), store_spec(st, "f" * 32, {"spec_json": "{}"})
    (True, False)
    """
    with store.lock:
        if store.count("preprocess_specs", f"fingerprint = {quote(fingerprint)}"):
            return False
        row = {"fingerprint": fingerprint, "created_at": now_utc(), "record": json.dumps(record, sort_keys=True)}
        store.upsert("preprocess_specs", "fingerprint", [row])
        return True
