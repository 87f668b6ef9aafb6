"""Errors of the model registry (subclasses of the store's error, so ``except WorkspaceError`` catches them)."""

from __future__ import annotations

from .._store import WorkspaceError


class ModelError(WorkspaceError):
    """A model cannot be registered, found or loaded as asked (the message says why and what to do)."""


class ArtifactIntegrityError(ModelError):
    """A stored artifact (or bundle file) does not match its recorded hash: it is not loaded."""
