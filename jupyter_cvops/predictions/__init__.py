"""The prediction log: every prediction with its image hash, model version, alias and preprocessing fingerprint."""

from __future__ import annotations

from ._frames import INPUT_COLUMNS
from ._model import ModelRef, resolve_model
from .log import PredictionLog, read_predictions

__all__ = ["INPUT_COLUMNS", "ModelRef", "PredictionLog", "read_predictions", "resolve_model"]
