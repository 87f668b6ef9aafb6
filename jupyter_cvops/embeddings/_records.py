"""Which embedding table a request names, and which registered images it covers.

Shared by :mod:`.tables` (computing embeddings) and :mod:`.search` (reading them).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import polars as pl

from . import _backends as eb
from . import _index as ix
from ._backends import EmbeddingBackend, EmbeddingError

if TYPE_CHECKING:
    from ..workspace import Workspace

Images = pl.Expr | pl.DataFrame | pl.Series | Iterable[str] | Any
"""What ``images=`` accepts: a polars expression on ``ws.images()``, a frame or series of image ids,
an iterable of ids, a dataset version, or None for all registered images."""


def table_name(model: str | EmbeddingBackend | None = None, pretrained: str | None = None) -> str:
    """Name of the table holding ``model``'s embeddings (loads open_clip models to check weights).

    Examples
    --------
    >>> table_name("imgstats")
    'emb_imgstats_v1'
    """
    backend, _ = eb.backend_from_spec(model, pretrained)
    return "emb_" + backend.table_slug


def _resolve(ws: Workspace, model: str | EmbeddingBackend | None, pretrained: str | None) -> dict[str, Any]:
    """The meta record of the table that ``model`` names (None: the most recently computed)."""
    records = ix.records(ws)
    if not records:
        raise EmbeddingError("this workspace has no embeddings yet: run ws.embed() first")
    if model is None and pretrained is None:
        return max(records.values(), key=lambda r: r.get("updated_at", ""))
    if isinstance(model, str) and model in records:
        return records[model]
    if isinstance(model, str) and pretrained is None and model.startswith(("open_clip:", "openclip:")):
        arch = model.split(":", 1)[1]
        hits = [r for r in records.values() if r["spec"].get("model", "").split(":", 1)[-1] == arch]
        if len(hits) == 1:
            return hits[0]
        if len(hits) > 1:
            raise EmbeddingError(f"several tables hold {model}: {sorted(r['table'] for r in hits)}; "
                                 "pass pretrained= or the table name")
    name = table_name(model, pretrained)
    if name not in records:
        raise EmbeddingError(f"no embeddings for {model!r} yet (table {name}): run ws.embed(model=...) first")
    return records[name]


def _targets(ws: Workspace, images: Images) -> tuple[pl.DataFrame, list[str]]:
    """``(image_id, path)`` frame of the wanted images, and ids that are not registered."""
    registered = ws.store.read("images", columns=["image_id", "path"])
    if images is None:
        return registered.unique("image_id", keep="first", maintain_order=True), []
    if isinstance(images, pl.Expr):
        return ws.images().filter(images).select("image_id", "path").unique("image_id", maintain_order=True), []
    if hasattr(images, "items") and callable(images.items) and not isinstance(images, dict):
        images = images.items()  # a DatasetVersion
    if isinstance(images, pl.DataFrame):
        ids = images["image_id"].to_list()
    elif isinstance(images, str):
        ids = [images]
    else:
        ids = list(pl.Series(images, dtype=pl.String)) if not isinstance(images, pl.Series) else images.to_list()
    wanted = pl.DataFrame({"image_id": ids}, schema={"image_id": pl.String}).unique(maintain_order=True)
    found = wanted.join(registered.unique("image_id"), on="image_id", how="left", maintain_order="left")
    missing = found.filter(pl.col("path").is_null())["image_id"].to_list()
    return found.filter(pl.col("path").is_not_null()), missing
