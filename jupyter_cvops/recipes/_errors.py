"""Errors and warnings of recipes: every message is one line that says what to do."""

from __future__ import annotations

from typing import Any

from .._store import WorkspaceError


class RecipeError(WorkspaceError):
    """A recipe cannot be exported, read or re-run; the message says why and what to do.

    Examples
    --------
    >>> str(RecipeError("recipe 'x': notebook.ipynb was edited by hand"))
    "recipe 'x': notebook.ipynb was edited by hand"
    """


class RecipeCheckError(RecipeError):
    """``retrain(check=True)``: the new metrics are outside the recipe's tolerances.

    ``result`` is the :class:`~jupyter_cvops.recipes.RetrainResult` (the run was recorded;
    its ``comparison`` holds the diff).
    """

    def __init__(self, message: str, result: Any) -> None:
        super().__init__(message)
        self.result = result


class RecipeEnvironmentWarning(UserWarning):
    """The environment differs from the recipe's lock (``strict=True`` refuses instead)."""
