"""The prediction log: every prediction with its image hash, model version, alias and preprocessing fingerprint."""

from __future__ import annotations

__all__: list[str] = []
