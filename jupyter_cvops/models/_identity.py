"""The content id of a model version (pure)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from typing import Any


def version_id(artifact_hash: str, preprocess_fingerprint: str | None, classes: Sequence[str],
               architecture: Mapping[str, Any] | None = None) -> str:
    """The content id of a model version (SHA-256, 32 hex digits).

    It hashes the artifact hash, the preprocessing fingerprint (None: no preprocessing
    recorded) and the class list in output order; a state dict's architecture (import path
    and keyword arguments) too, since the weights alone do not say what computes with them.

    Examples
    --------
    >>> a = version_id("f" * 64, "p" * 32, ["dent", "scuff"])
    >>> a == version_id("f" * 64, "p" * 32, ["dent", "scuff"]), a == version_id("f" * 64, "p" * 32, ["scuff", "dent"])
    (True, False)
    """
    payload: dict[str, Any] = {"artifact": artifact_hash, "preprocess": preprocess_fingerprint,
                               "classes": list(classes)}
    if architecture:
        payload["architecture"] = dict(architecture)
    text = json.dumps(payload, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:32]
