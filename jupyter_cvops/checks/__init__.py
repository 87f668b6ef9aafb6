"""Stored check results: every check that ran (agreement, drift, skew, evaluation, ...) and what it found."""

from __future__ import annotations

__all__: list[str] = []
