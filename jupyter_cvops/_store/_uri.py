"""Workspace URIs: local folder or remote object store, and the first read of a remote one.

Private helpers of :mod:`jupyter_cvops._store.store`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable, TypeVar

from ._errors import WorkspaceError

T = TypeVar("T")


def _is_local(uri: str) -> bool:
    return "://" not in uri or uri.startswith("file://")


def _reach(uri: str, call: Callable[[], T]) -> T:
    """Run the first read of a remote workspace; object-store failures become one line."""
    if _is_local(uri):
        return call()
    try:
        return call()
    except Exception as error:  # LanceDB raises ValueError/OSError with the whole retry chain
        from .lease import describe_storage_error

        raise WorkspaceError(describe_storage_error(uri, error)) from None


def _local_path(uri: str) -> Path:
    return Path(uri[len("file://") :] if uri.startswith("file://") else uri).expanduser().resolve()
