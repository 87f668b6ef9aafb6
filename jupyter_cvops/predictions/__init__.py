"""The prediction log: every prediction with its image hash, model version, alias and preprocessing fingerprint."""

from __future__ import annotations

from ._frames import INPUT_COLUMNS
from ._model import ModelRef, resolve_model
from .log import PredictionLog, read_predictions
from .predictor import Predictor, predict

__all__ = ["INPUT_COLUMNS", "ModelRef", "PredictionLog", "Predictor", "predict", "read_predictions", "resolve_model"]
