"""Drift tests on embeddings: MMD and classifier two-sample tests, per-feature tests, conformal novelty."""

from __future__ import annotations

from .two_sample import (
    ClassifierResult, MMDResult, bh_adjust, classifier_test, conformal_novelty, drift_by_window,
    feature_tests, holm_adjust, knn_distances, mmd_test, novel_clusters,
)

__all__ = [
    "ClassifierResult", "MMDResult", "bh_adjust", "classifier_test", "conformal_novelty", "drift_by_window",
    "feature_tests", "holm_adjust", "knn_distances", "mmd_test", "novel_clusters",
]
