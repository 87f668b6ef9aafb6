"""What the shadow view hands its widget: a shadow report's flip matrix and disagreements as plain data.

Nothing is computed here: the report holds the counts (``flips``) and the disagreements worst
first; this module reshapes the flips into a dense matrix in class order and formats each
disagreement as a gallery tile, its thumbnail encoded through the lineage view's
:class:`~jupyter_cvops.widgets._lineage_payload.ThumbPack` (content hash checked, pixel cap
applied). Strings stay raw: the browser writes them as text.

A tile::

    {"image_id", "prediction_id", "file_name", "production_class", "production_score",
     "candidate_class", "candidate_score", "confidence_delta", "reviewed_class",
     "thumb": None | {"offset", "length", "mime", "width", "height", "placeholder"}, "error"}

Examples
--------
>>> flips = pl.DataFrame({"production_class": ["a", "a", "b", "b"], "candidate_class": ["a", "b", "a", "b"],
...                       "count": [5, 2, 0, 3]})
>>> flip_matrix(flips, ["a", "b"])
(['a', 'b'], [[5, 2], [0, 3]])
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import polars as pl

from ._lineage_payload import ThumbPack

__all__ = ["TILE_COLUMNS", "flip_matrix", "tiles"]

#: Columns of a report's ``disagreements`` a tile reads.
TILE_COLUMNS = ("prediction_id", "image_id", "path", "production_class", "production_score", "candidate_class",
                "candidate_score", "confidence_delta", "reviewed_class")


def flip_matrix(flips: pl.DataFrame, classes: Sequence[str]) -> tuple[list[str], list[list[int]]]:
    """The report's ``flips`` (``production_class, candidate_class, count``) as a dense matrix.

    Rows are production classes, columns candidate classes, both in ``classes`` order (classes
    that appear only in ``flips`` follow, sorted); missing pairs are 0.

    Examples
    --------
    >>> flip_matrix(pl.DataFrame({"production_class": ["x"], "candidate_class": ["y"], "count": [4]}), ["y"])
    (['y', 'x'], [[0, 0], [4, 0]])
    """
    for c in ("production_class", "candidate_class", "count"):
        if c not in flips.columns:
            raise ValueError(f"flips needs columns production_class, candidate_class, count; it has {flips.columns}")
    seen = {str(v) for col in ("production_class", "candidate_class") for v in flips[col].drop_nulls().to_list()}
    order = list(dict.fromkeys(str(c) for c in classes)) + sorted(seen - {str(c) for c in classes})
    pos = {c: i for i, c in enumerate(order)}
    matrix = [[0] * len(order) for _ in order]
    for p, c, n in flips.select("production_class", "candidate_class", "count").iter_rows():
        if p is None or c is None:
            continue
        matrix[pos[str(p)]][pos[str(c)]] += int(n or 0)
    return order, matrix


def _score(v: Any) -> float | None:
    return None if v is None or (isinstance(v, float) and math.isnan(v)) else float(v)


def tiles(disagreements: pl.DataFrame, pack: ThumbPack) -> list[dict[str, Any]]:
    """One gallery tile per row of ``disagreements`` (in its order), thumbnails added to ``pack``.

    Examples
    --------
    >>> import numpy as np
    >>> from jupyter_cvops.images._thumbnails import encode_array
    >>> pack = ThumbPack(encode=lambda path, iid: encode_array(np.zeros((8, 8), np.uint8)))
    >>> d = pl.DataFrame({"prediction_id": ["p"], "image_id": ["i"], "path": ["/x/a.png"],
    ...                   "production_class": ["ok"], "production_score": [0.9], "candidate_class": ["dent"],
    ...                   "candidate_score": [0.8], "confidence_delta": [-0.1], "reviewed_class": [None]})
    >>> t = tiles(d, pack)[0]; t["file_name"], t["candidate_class"], t["thumb"]["offset"]
    ('a.png', 'dent', 0)
    """
    missing = [c for c in TILE_COLUMNS if c not in disagreements.columns]
    if missing:
        raise ValueError(f"disagreements lack the columns {missing}")
    out = []
    for r in disagreements.select(TILE_COLUMNS).iter_rows(named=True):
        path = r["path"]
        thumb = pack.add(str(path) if path else None, r["image_id"])
        error = None if thumb is not None else (pack.errors.get(str(path)) if path else None) or "no image"
        out.append({
            "image_id": r["image_id"], "prediction_id": r["prediction_id"],
            "file_name": Path(str(path)).name if path else "",
            "production_class": r["production_class"], "production_score": _score(r["production_score"]),
            "candidate_class": r["candidate_class"], "candidate_score": _score(r["candidate_score"]),
            "confidence_delta": _score(r["confidence_delta"]), "reviewed_class": r["reviewed_class"],
            "thumb": thumb, "error": error,
        })
    return out
