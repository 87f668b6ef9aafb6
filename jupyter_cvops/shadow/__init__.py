"""Shadow comparison: a candidate model against the production model on the same (logged) images."""

from __future__ import annotations

from .report import ShadowReport, build_report
from .stats import agreement_kappa, box_agreement, flip_matrix, flip_summary, mcnemar, reviewed_comparison

__all__ = ["ShadowReport", "agreement_kappa", "box_agreement", "build_report", "flip_matrix", "flip_summary",
           "mcnemar", "reviewed_comparison"]
