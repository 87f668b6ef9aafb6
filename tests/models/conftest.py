"""Tiny seeded torch models and workspaces for the registry tests (no network, random weights)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from jupyter_cvops import Preprocess, Workspace


@pytest.fixture
def ws(tmp_path: Path) -> Workspace:
    return Workspace.create(tmp_path / "ws")


@pytest.fixture
def pre() -> Preprocess:
    return Preprocess(16, crop=16, mean=(0.5, 0.5, 0.5), std=(0.25, 0.25, 0.25))


@pytest.fixture
def batch() -> torch.Tensor:
    g = torch.Generator().manual_seed(1)
    return torch.randn(5, 3, 16, 16, generator=g)
