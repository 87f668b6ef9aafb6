"""Workspace storage: LanceDB tables, their schemas, the write lock and the stat cache.

``WorkspaceError`` is imported at once; the rest lazily, so a module that only raises or catches
workspace errors (e.g. ``cvops retrain`` before it starts its kernel) does not import LanceDB.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ._errors import WorkspaceError

if TYPE_CHECKING:
    from .lease import NoLeaseWarning
    from .lock import LockTimeout, WriteLock
    from .store import Store, current_user, now_utc, to_arrow

__all__ = ["LockTimeout", "NoLeaseWarning", "Store", "WorkspaceError", "WriteLock", "current_user", "now_utc", "to_arrow"]

_LAZY = {"LockTimeout": ".lock", "NoLeaseWarning": ".lease", "WriteLock": ".lock", "Store": ".store", "current_user": ".store",
         "now_utc": ".store", "to_arrow": ".store"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        from importlib import import_module

        return getattr(import_module(_LAZY[name], __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY})
