"""The store's error type (its own module so every ``_store`` module can raise it)."""

from __future__ import annotations


class WorkspaceError(RuntimeError):
    """A workspace cannot be created, opened or written as asked."""
