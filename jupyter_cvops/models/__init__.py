"""The model registry: content-addressed model versions, safe artifacts, aliases with their history."""

from __future__ import annotations

__all__: list[str] = []
