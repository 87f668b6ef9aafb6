"""Embeddings stored in LanceDB: backends (open_clip, image statistics), ANN index, neighbours.

The names load lazily: a Ray actor that only computes vectors (``_backends``, ``_pipeline``) does
not import LanceDB (~1-2 s of every actor's start-up).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # imported lazily by __getattr__ at run time
    from .search import Vectors, load_vectors, neighbors
    from .tables import (
        INDEX_THRESHOLD, EmbedReport, EmbeddingBackend, EmbeddingError, build_index, embed, feature_names,
        list_embeddings, table_name,
    )

__all__ = [
    "EmbedReport", "EmbeddingBackend", "EmbeddingError", "INDEX_THRESHOLD", "Vectors", "build_index", "embed",
    "feature_names", "list_embeddings", "load_vectors", "neighbors", "table_name",
]

_LAZY = {name: ".search" if name in ("Vectors", "load_vectors", "neighbors") else ".tables" for name in __all__}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        from importlib import import_module

        return getattr(import_module(_LAZY[name], __name__), name)
    raise AttributeError(f"module 'jupyter_cvops.embeddings' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
