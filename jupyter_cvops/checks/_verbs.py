"""Check verbs of :class:`~jupyter_cvops.workspace.Workspace` (mixed into it)."""

from __future__ import annotations


class CheckVerbs:
    """``ws.checks()``."""
