"""Labels: validated annotation records, importing exports into the store, label resolution."""

from __future__ import annotations

from .annotations import (
    KINDS, OVERFLOW_TOLERANCE_PX, AnnotationBatch, LabelProblem, ann_id, build_rows, check_box,
    records_from_frame,
)

__all__ = [
    "AnnotationBatch", "KINDS", "LabelProblem", "OVERFLOW_TOLERANCE_PX", "ann_id", "build_rows", "check_box",
    "records_from_frame",
]
