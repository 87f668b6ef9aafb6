"""Stored check results: every check that ran (agreement, drift, skew, evaluation, ...) and what it found."""

from __future__ import annotations

from .results import KINDS, check_row, last_check, read_checks, record_check, time_bound, to_json
from .summaries import CheckSummary, agreement_summary, describe_selection, drift_summary

__all__ = [
    "CheckSummary", "KINDS", "agreement_summary", "check_row", "describe_selection", "drift_summary",
    "last_check", "read_checks", "record_check", "time_bound", "to_json",
]
