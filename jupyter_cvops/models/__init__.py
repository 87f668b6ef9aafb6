"""The model registry: content-addressed model versions, safe artifacts, aliases with their history."""

from __future__ import annotations

from ._artifacts import FORMATS, ModelAdapter
from ._errors import ArtifactIntegrityError, ModelError
from .aliases import alias_history, remove_alias, rollback, set_alias
from .bundle import Bundle, load_bundle
from .card import CardFacts
from .promotion import REQUIREMENTS, Promotion, PromotionRefused, promote
from .registry import RunLike, get_model, list_models, parse_ref, register_model
from ._identity import version_id
from .version import ModelVersion

__all__ = [
    "ArtifactIntegrityError", "Bundle", "CardFacts", "FORMATS", "ModelAdapter", "ModelError", "ModelVersion",
    "Promotion", "PromotionRefused", "REQUIREMENTS", "RunLike", "alias_history", "get_model", "list_models",
    "load_bundle", "parse_ref", "promote", "register_model", "remove_alias", "rollback", "set_alias", "version_id",
]
