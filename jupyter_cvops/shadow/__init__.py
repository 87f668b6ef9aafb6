"""Shadow comparison: a candidate model against the production model on the same (logged) images."""

from __future__ import annotations

from .stats import agreement_kappa, box_agreement, flip_matrix, flip_summary, mcnemar, reviewed_comparison

__all__ = ["agreement_kappa", "box_agreement", "flip_matrix", "flip_summary", "mcnemar", "reviewed_comparison"]
