"""Retrain recipes: export a notebook as a reproducible recipe, re-run it with one command, and say
when a retrain is due.

The names are exported lazily: ``cvops retrain`` imports :mod:`._launch` (which starts the kernel)
before LanceDB, so the kernel boots while the rest of the package loads.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ._due import RetrainDue, retrain_due
    from ._errors import RecipeCheckError, RecipeEnvironmentWarning, RecipeError
    from ._export import export_recipe
    from .recipe import Recipe
    from .rerun import RetrainResult, retrain

__all__ = ["Recipe", "RecipeCheckError", "RecipeEnvironmentWarning", "RecipeError", "RetrainDue", "RetrainResult",
           "export_recipe", "retrain", "retrain_due"]

_LAZY = {"RetrainDue": "._due", "retrain_due": "._due", "RecipeCheckError": "._errors",
         "RecipeEnvironmentWarning": "._errors", "RecipeError": "._errors", "export_recipe": "._export",
         "Recipe": ".recipe", "RetrainResult": ".rerun", "retrain": ".rerun"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        from importlib import import_module

        return getattr(import_module(_LAZY[name], __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY})
