"""Tiny seeded torch models for the registry tests (importable by path, as a state dict's architecture)."""

from __future__ import annotations

import torch


class TinyNet(torch.nn.Module):
    """A small image classifier: conv, global average pool, linear (``n_classes`` scores)."""

    def __init__(self, n_classes: int = 3, width: int = 4) -> None:
        super().__init__()
        self.conv = torch.nn.Conv2d(3, width, 3)
        self.fc = torch.nn.Linear(width, n_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.conv(x).relu().mean(dim=(2, 3)))


def tiny(seed: int = 0, n_classes: int = 3) -> TinyNet:
    torch.manual_seed(seed)
    return TinyNet(n_classes).eval()
