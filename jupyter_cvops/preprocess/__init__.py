"""Preprocessing shared by training and serving: ``Preprocess`` (a declarative spec or a wrapped transform) with
a fingerprint, golden images to catch library changes, and skew checks between two pipelines."""

from __future__ import annotations

from ._errors import ImageDecodeError, PreprocessError
from ._golden import GOLDEN_NAMES, GoldenComparison, GoldenRow
from .skew import (
    Difference, OutputComparison, SkewReport, compare_golden, compare_outputs, describe_skew, skew_report,
    spec_differences,
)
from .spec import Preprocess, fingerprint_of

__all__ = [
    "Difference", "GOLDEN_NAMES", "GoldenComparison", "GoldenRow", "ImageDecodeError", "OutputComparison",
    "Preprocess", "PreprocessError", "SkewReport", "compare_golden", "compare_outputs", "describe_skew",
    "fingerprint_of", "skew_report", "spec_differences",
]
