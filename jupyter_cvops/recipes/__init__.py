"""Retrain recipes: export a notebook as a reproducible recipe, re-run it with one command, and say
when a retrain is due."""

from __future__ import annotations

from ._due import RetrainDue, retrain_due
from ._errors import RecipeCheckError, RecipeEnvironmentWarning, RecipeError
from ._export import export_recipe
from .recipe import Recipe
from .retrain import RetrainResult, retrain

__all__ = ["Recipe", "RecipeCheckError", "RecipeEnvironmentWarning", "RecipeError", "RetrainDue", "RetrainResult",
           "export_recipe", "retrain", "retrain_due"]
