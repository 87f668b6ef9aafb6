"""Run verbs of :class:`~jupyter_cvops.workspace.Workspace` (mixed into it)."""

from __future__ import annotations


class RunVerbs:
    """``ws.run(...)``, ``ws.runs()``."""
