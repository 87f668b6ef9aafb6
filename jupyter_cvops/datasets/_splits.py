"""Deterministic train/val/test assignment from the image content hash.

The split of an image depends only on its hash and the split fractions, so an
image never moves between splits across snapshots with the same fractions, and
adding images never reshuffles the old ones.
"""

from __future__ import annotations

from collections.abc import Mapping

import polars as pl

DEFAULT_SPLITS: dict[str, float] = {"train": 0.8, "val": 0.1, "test": 0.1}


def normalize_splits(splits: Mapping[str, float] | None) -> dict[str, float]:
    """Validate split fractions (positive, summing to 1 within 1e-6), keep their order.

    Examples
    --------
    >>> normalize_splits({"train": 0.9, "val": 0.1})
    {'train': 0.9, 'val': 0.1}
    """
    s = dict(DEFAULT_SPLITS if splits is None else splits)
    if not s:
        raise ValueError("splits must name at least one split")
    if any((not isinstance(v, (int, float))) or v < 0 for v in s.values()):
        raise ValueError(f"split fractions must be non-negative numbers: {s}")
    total = sum(s.values())
    if abs(total - 1.0) > 1e-6:
        raise ValueError(f"split fractions must sum to 1, got {total:g}: {s}")
    return {k: float(v) for k, v in s.items()}


def assign_splits(image_ids: pl.Series, splits: Mapping[str, float] | None = None) -> pl.Series:
    """Split name per image id, from the first 52 bits of its hex content hash.

    Examples
    --------
    >>> ids = pl.Series(["0" * 32, "f" * 32])
    >>> assign_splits(ids, {"train": 0.5, "val": 0.5}).to_list()
    ['train', 'val']
    """
    s = normalize_splits(splits)
    u = image_ids.str.slice(0, 13).str.to_integer(base=16).cast(pl.Float64) / float(16**13)
    names = list(s)
    edges: list[float] = []
    acc = 0.0
    for name in names:
        acc += s[name]
        edges.append(acc)
    expr = pl.lit(names[-1])
    for name, edge in reversed(list(zip(names[:-1], edges[:-1]))):
        expr = pl.when(pl.col("u") < edge).then(pl.lit(name)).otherwise(expr)
    return pl.DataFrame({"u": u}).with_columns(expr.alias("split"))["split"]
