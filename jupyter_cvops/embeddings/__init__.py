"""Embeddings stored in LanceDB: backends (open_clip, image statistics), ANN index, neighbours."""

from __future__ import annotations

from .search import Vectors, load_vectors, neighbors
from .tables import (
    INDEX_THRESHOLD, EmbedReport, EmbeddingBackend, EmbeddingError, build_index, embed, feature_names,
    list_embeddings, table_name,
)

__all__ = [
    "EmbedReport", "EmbeddingBackend", "EmbeddingError", "INDEX_THRESHOLD", "Vectors", "build_index", "embed",
    "feature_names", "list_embeddings", "load_vectors", "neighbors", "table_name",
]
