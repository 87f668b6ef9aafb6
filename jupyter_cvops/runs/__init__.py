"""Runs: what a training (or any) block used and produced: inputs, params, metrics, environment, status."""

from __future__ import annotations

from ._card import RUN_MIME
from ._environment import environment
from .run import Run

__all__ = ["RUN_MIME", "Run", "environment"]
