"""Reading the ``model_versions`` table: names, versions by id or prefix, and the errors that help."""

from __future__ import annotations

import difflib
from pathlib import Path
from typing import Any

import polars as pl

from .._store import Store, WorkspaceError
from .._store.aliases import check_alias_name
from ._errors import ModelError

#: Shortest id prefix accepted for a model version.
MIN_PREFIX = 6


def check_model_name(name: object) -> str:
    """``name`` if it can name a model (text, no surrounding spaces, no ``@``), else a :class:`ModelError`.

    Examples
    --------
    >>> check_model_name("defect-clf")
    'defect-clf'
    """
    try:
        return check_alias_name(name, "a model name", forbid="@")
    except WorkspaceError as error:
        raise ModelError(str(error)) from None


def artifact_root(store: Store) -> Path:
    """Where a workspace keeps model artifacts: ``<workspace>/.cvops/artifacts`` (local workspaces);
    for an ``s3://`` workspace, ``<workspace URI>/.cvops/artifacts`` in the bucket, through a local cache.

    Examples
    --------
    >>> import tempfile
    >>> artifact_root(Store.create(tempfile.mkdtemp() + "/ws")).name
    'artifacts'
    """
    if store.local_root is None and store.uri.startswith("s3://"):
        from ._artifact_store import mirror

        return mirror(store.meta_dir / "artifacts", f"{store.uri.rstrip('/')}/.cvops/artifacts")
    if store.local_root is None:
        raise ModelError(f"model artifacts are kept in local or s3:// workspaces only for now; {store.uri} is remote")
    return store.local_root / ".cvops" / "artifacts"


def version_rows(store: Store, name: str | None = None) -> pl.DataFrame:
    """Rows of ``model_versions`` (of model ``name``), oldest first.

    Examples
    --------
    >>> import tempfile
    >>> version_rows(Store.create(tempfile.mkdtemp() + "/ws")).height
    0
    """
    where = None if name is None else f"model = '{_quote(name)}'"
    return store.read("model_versions", where=where).sort("created_at", maintain_order=True)


def _quote(text: str) -> str:
    return text.replace("'", "''")


def model_names(store: Store) -> list[str]:
    """Names of the registered models, sorted.

    Examples
    --------
    >>> import tempfile
    >>> model_names(Store.create(tempfile.mkdtemp() + "/ws"))
    []
    """
    return sorted(set(store.read("model_versions", columns=["model"])["model"].to_list()))


def unknown_model(store: Store, name: str) -> ModelError:
    """The error for a model name nobody registered, with a did-you-mean.

    Examples
    --------
    >>> import tempfile
    >>> print(unknown_model(Store.create(tempfile.mkdtemp() + "/ws"), "clf"))
    no model named 'clf' in this workspace; none is registered yet (ws.register_model or run.register_model)
    """
    names = model_names(store)
    if not names:
        return ModelError(f"no model named {name!r} in this workspace; none is registered yet "
                          "(ws.register_model or run.register_model)")
    close = difflib.get_close_matches(name, names, n=1)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    return ModelError(f"no model named {name!r}{hint} Registered: {', '.join(names[:12])}")


def find_version(store: Store, name: str, version: str) -> dict[str, Any]:
    """The row of model ``name`` whose version id is (or starts with, 6+ characters) ``version``.

    Examples
    --------
    >>> import tempfile
    >>> try:
    ...     find_version(Store.create(tempfile.mkdtemp() + "/ws"), "clf", "abc123")
    ... except ModelError as e:
    ...     print(str(e)[:22])
    no model named 'clf' i
    """
    rows = version_rows(store, name)
    if rows.height == 0:
        raise unknown_model(store, name)
    version = str(version)
    exact = rows.filter(pl.col("version_id") == version)
    if exact.height:
        return exact.row(0, named=True)
    hit = rows.filter(pl.col("version_id").str.starts_with(version)) if len(version) >= MIN_PREFIX else rows.clear()
    if hit.height == 1:
        return hit.row(0, named=True)
    if hit.height > 1:
        listed = ", ".join(sorted(v[:12] for v in hit["version_id"]))
        raise ModelError(f"{version!r} is ambiguous: {hit.height} versions of {name!r} start with it ({listed}); "
                         "give more characters")
    known = ", ".join(v[:12] for v in rows["version_id"].to_list()[-8:])
    short = f" (give at least {MIN_PREFIX} characters)" if len(version) < MIN_PREFIX else ""
    raise ModelError(f"model {name!r} has no version {version!r}{short}; its versions, oldest first: {known}")
