"""Shared fixtures: where the real test material lives, small workspaces."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def _shared_data() -> Path:
    env = os.environ.get("CVOPS_SHARED_DATA")
    candidates = [Path(env)] if env else []
    candidates += [REPO.parent / "shared" / "data", Path("/work/shared/data")]
    for c in candidates:
        if (c / "PROVENANCE.md").is_file():
            return c
    raise RuntimeError(
        "real test material not found: set CVOPS_SHARED_DATA to the shared/data folder "
        f"(looked in {', '.join(map(str, candidates))})"
    )


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """Read-only folder of real exports and images (see its PROVENANCE.md). Never write there."""
    return _shared_data()
