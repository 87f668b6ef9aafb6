"""Re-hashing the files of a dataset version."""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING

import polars as pl
from tqdm.auto import tqdm

from ._hashing import hash_file

if TYPE_CHECKING:
    from .datasets import VerifyReport


def _check(path: str, image_id: str) -> tuple[str, str | None]:
    if not os.path.isfile(path):
        return "missing", None
    try:
        h = hash_file(path)
    except OSError as exc:
        return "missing", f"unreadable: {exc.strerror or exc}"
    return ("ok", None) if h == image_id else ("changed", h)


def verify_items(items: pl.DataFrame, *, progress: bool = True, workers: int | None = None) -> VerifyReport:
    """Re-hash ``items`` (image_id, path); return a :class:`~jupyter_cvops.datasets.VerifyReport`.

    Examples
    --------
    >>> rep = verify_items(pl.DataFrame({"image_id": ["0" * 32], "path": ["/nonexistent"]}),
    ...                    progress=False)
    >>> rep.missing.height
    1
    """
    from .datasets import VerifyReport

    paths = items["path"].to_list()
    ids = items["image_id"].to_list()
    n_workers = workers or min(8, (os.cpu_count() or 2) * 2)
    with ThreadPoolExecutor(n_workers) as pool:
        results = list(
            tqdm(
                pool.map(_check, paths, ids),
                total=len(paths),
                desc="verify",
                disable=not progress or len(paths) < 200,
            )
        )
    status = [r[0] for r in results]
    detail = [r[1] for r in results]
    df = pl.DataFrame({"image_id": ids, "path": paths, "status": status, "detail": detail},
                      schema_overrides={"detail": pl.String})
    missing = df.filter(pl.col("status") == "missing").select("image_id", "path", pl.col("detail").alias("reason"))
    changed = df.filter(pl.col("status") == "changed").select("image_id", "path", pl.col("detail").alias("new_hash"))
    return VerifyReport(n_checked=len(paths), missing=missing, changed=changed)
