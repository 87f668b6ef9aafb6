"""Dataset versions: immutable, content-addressed snapshots with deterministic splits, verify and diff."""

from __future__ import annotations

from ._verify import VerifyReport
from .versions import (
    POLICY, manifest_hash, DatasetVersion, list_versions, take_snapshot,
)

__all__ = [
    "DatasetVersion", "POLICY", "VerifyReport", "list_versions", "manifest_hash", "take_snapshot",
]
