"""Re-hashing the files of a dataset version."""

from __future__ import annotations

from dataclasses import dataclass
from operator import itemgetter
from stat import S_ISREG

import polars as pl

from ..images._hashing import read_and_hash
from ..images._probe import READ_WHOLE_LIMIT
from ..images.scan import map_files


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


def _check(path: str, image_id: str) -> tuple[str, str | None, int]:
    """(status, detail, bytes read) of one file: the registration read path (one read, XXH3)."""
    try:
        got = read_and_hash(path, keep_limit=READ_WHOLE_LIMIT)
    except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
        return "missing", None, 0
    except OSError as exc:
        return "missing", f"unreadable: {exc.strerror or exc}", 0
    size = got.stat.st_size
    if not S_ISREG(got.stat.st_mode):
        return "missing", None, 0
    return ("ok", None, size) if got.digest == image_id else ("changed", got.digest, size)


def verify_items(items: pl.DataFrame, *, progress: bool = True, workers: int | None = None) -> VerifyReport:
    """Re-hash ``items`` (image_id, path); return a :class:`VerifyReport`.

    Files are read as registration reads them (:func:`~jupyter_cvops.images.scan.map_files`):
    small files in the page cache in the calling thread, one ``read`` each; threads once
    reads wait on the disk or files are large. ``workers`` as there.

    Examples
    --------
    >>> rep = verify_items(pl.DataFrame({"image_id": ["0" * 32], "path": ["/nonexistent"]}),
    ...                    progress=False)
    >>> rep.missing.height
    1
    """
    paths = items["path"].to_list()
    ids = items["image_id"].to_list()
    results = map_files(lambda k: _check(paths[k], ids[k]), range(len(paths)), size_of=itemgetter(2),
                        workers=workers, progress=progress, desc="verify")
    status = [r[0] for r in results]
    detail = [r[1] for r in results]
    df = pl.DataFrame({"image_id": ids, "path": paths, "status": status, "detail": detail},
                      schema_overrides={"detail": pl.String})
    missing = df.filter(pl.col("status") == "missing").select("image_id", "path", pl.col("detail").alias("reason"))
    changed = df.filter(pl.col("status") == "changed").select("image_id", "path", pl.col("detail").alias("new_hash"))
    return VerifyReport(n_checked=len(paths), missing=missing, changed=changed)
