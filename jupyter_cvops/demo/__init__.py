"""A seeded inspection-line scenario with a lighting change and a redefined class, as a workspace."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .build import (
    CLASSES, DEFAULT_LIGHTING, DEFAULT_START, DEFAULT_TILT, DENT_DEFINITION_V2, TAXONOMY_V1, DemoReport,
    Habit, Lighting, Scenario, Tilt, build_demo, generate_scenario,
)

if TYPE_CHECKING:  # imported lazily by __getattr__ (they need torch)
    from ._model import (DefectNet, TrainConfig, skewed_preprocess, train_defect_net, training_data,
                         training_preprocess)

__all__ = [
    "CLASSES", "DEFAULT_LIGHTING", "DEFAULT_START", "DEFAULT_TILT", "DENT_DEFINITION_V2", "DefectNet", "DemoReport",
    "Habit", "Lighting", "Scenario", "TAXONOMY_V1", "Tilt", "TrainConfig", "build_demo", "generate_scenario",
    "skewed_preprocess", "train_defect_net", "training_data", "training_preprocess",
]

_LAZY = {"DefectNet", "TrainConfig", "skewed_preprocess", "train_defect_net", "training_data", "training_preprocess"}


def __getattr__(name: str) -> Any:
    # Lazy: `from jupyter_cvops.demo import build_demo` does not import torch.
    if name in _LAZY:
        from . import _model

        return getattr(_model, name)
    raise AttributeError(f"module 'jupyter_cvops.demo' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY})
