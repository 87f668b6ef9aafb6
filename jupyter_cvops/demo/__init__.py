"""A seeded inspection-line scenario with a lighting change and a redefined class, as a workspace."""

from __future__ import annotations

from .build import (
    CLASSES, DEFAULT_LIGHTING, DEFAULT_START, DEFAULT_TILT, DENT_DEFINITION_V2, TAXONOMY_V1, DemoReport,
    Habit, Lighting, Scenario, Tilt, build_demo, generate_scenario,
)

__all__ = [
    "CLASSES", "DEFAULT_LIGHTING", "DEFAULT_START", "DEFAULT_TILT", "DENT_DEFINITION_V2", "DemoReport",
    "Habit", "Lighting", "Scenario", "TAXONOMY_V1", "Tilt", "build_demo", "generate_scenario",
]
