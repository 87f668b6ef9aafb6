"""Workspace storage: LanceDB tables, their schemas, the write lock and the stat cache."""

from .lock import LockTimeout, WriteLock
from ._errors import WorkspaceError
from .store import Store, current_user, now_utc, to_arrow

__all__ = ["LockTimeout", "Store", "WorkspaceError", "WriteLock", "current_user", "now_utc", "to_arrow"]
