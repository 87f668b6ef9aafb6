"""The class taxonomy: versioned class definitions with history, staged operations, diffs."""

from __future__ import annotations

from .facade import (
    PALETTE, RESOLVE_STATUSES, STATUSES, DuplicateClassError, StagedOp, Taxonomy, TaxonomyConflict,
    TaxonomyError, TaxonomyVersion, UnknownClassError,
)

__all__ = [
    "DuplicateClassError", "PALETTE", "RESOLVE_STATUSES", "STATUSES", "StagedOp", "Taxonomy",
    "TaxonomyConflict", "TaxonomyError", "TaxonomyVersion", "UnknownClassError",
]
