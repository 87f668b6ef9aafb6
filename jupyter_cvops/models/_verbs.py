"""Model verbs of :class:`~jupyter_cvops.workspace.Workspace` (mixed into it)."""

from __future__ import annotations


class ModelVerbs:
    """``ws.model(...)``, ``ws.models()``, ``ws.set_alias``, ``ws.rollback``, ``ws.alias_history``."""
