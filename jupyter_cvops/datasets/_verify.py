"""Re-hashing the files of a dataset version."""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import polars as pl
from tqdm.auto import tqdm

from ..images._hashing import hash_file


@dataclass
class VerifyReport:
    """Outcome of :meth:`DatasetVersion.verify`."""

    n_checked: int
    missing: pl.DataFrame
    changed: pl.DataFrame

    @property
    def ok(self) -> bool:
        """True when every file is present with its recorded content."""
        return self.missing.height == 0 and self.changed.height == 0

    def __repr__(self) -> str:
        state = "OK" if self.ok else "PROBLEMS"
        return (
            f"<VerifyReport {state}: {self.n_checked} checked, "
            f"{self.missing.height} missing, {self.changed.height} changed>"
        )


def _check(path: str, image_id: str) -> tuple[str, str | None]:
    if not os.path.isfile(path):
        return "missing", None
    try:
        h = hash_file(path)
    except OSError as exc:
        return "missing", f"unreadable: {exc.strerror or exc}"
    return ("ok", None) if h == image_id else ("changed", h)


def verify_items(items: pl.DataFrame, *, progress: bool = True, workers: int | None = None) -> VerifyReport:
    """Re-hash ``items`` (image_id, path); return a :class:`VerifyReport`.

    Examples
    --------
    >>> rep = verify_items(pl.DataFrame({"image_id": ["0" * 32], "path": ["/nonexistent"]}),
    ...                    progress=False)
    >>> rep.missing.height
    1
    """
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
