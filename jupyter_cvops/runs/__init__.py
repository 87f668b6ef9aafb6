"""Runs: what a training (or any) block used and produced: inputs, params, metrics, environment, status."""

from __future__ import annotations

__all__: list[str] = []
