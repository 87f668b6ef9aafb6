"""Lineage and blast radius: from a prediction back to the images that taught its model, from an
image forward to what used it, and every version, model and prediction touched by a set of labels."""

from __future__ import annotations

from .chain import Lineage, lineage, nearest_training_images
from .impact import ImpactReport, impact, impact_tables, select_labels

__all__ = ["ImpactReport", "Lineage", "impact", "impact_tables", "lineage", "nearest_training_images",
           "select_labels"]
