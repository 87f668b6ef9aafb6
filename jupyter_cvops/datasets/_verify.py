"""Where a dataset version's files are now, and re-hashing them."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from operator import itemgetter
from stat import S_ISREG

import polars as pl

from .._store import WorkspaceError
from ..images._objects import exists, is_uri, read_and_hash_any, stat_many
from ..images._probe import READ_WHOLE_LIMIT
from ..images.scan import map_files

_MOVED_SCHEMA = {"image_id": pl.String, "path": pl.String, "recorded_path": pl.String}


def locate(items: pl.DataFrame, known: pl.DataFrame) -> pl.DataFrame:
    """``items`` (with ``recorded_path``: where each file was at snapshot time) with ``path``: where it is now.

    Images are content-addressed, so a version's file is wherever the workspace last
    registered that content (``known``: image_id, path, i.e. the ``images`` table; a move
    is recorded by ``ws.add_images(new_place)``). Where that differs from the recorded
    path, the registered location is used unless it is gone and the recorded one is
    still there. Images the workspace no longer knows keep their recorded path.
    ``path`` comes second, ``recorded_path`` third, the other columns as they were.

    Examples
    --------
    >>> items = pl.DataFrame({"image_id": ["a", "b"], "recorded_path": ["/old/a.png", "/old/b.png"]})
    >>> known = pl.DataFrame({"image_id": ["a"], "path": ["/new/a.png"]})
    >>> locate(items, known).rows()   # 'a' was registered again at /new after it moved
    [('a', '/new/a.png', '/old/a.png'), ('b', '/old/b.png', '/old/b.png')]
    """
    now = known.select("image_id", pl.col("path").alias("_now")).unique("image_id", keep="last")
    out = items.join(now, on="image_id", how="left", maintain_order="left")
    differ = out["_now"].is_not_null() & out["recorded_path"].is_not_null() & (out["_now"] != out["recorded_path"])
    if differ.any():  # only moved files are looked at (one stat or HEAD each, or two)
        moved, recorded = out["_now"].to_list(), out["recorded_path"].to_list()
        for k in differ.arg_true().to_list():
            if not exists(moved[k]) and exists(recorded[k]):
                moved[k] = recorded[k]
        out = out.with_columns(pl.Series("_now", moved, dtype=pl.String))
    rest = [c for c in items.columns if c not in ("image_id", "recorded_path", "path")]
    return out.select("image_id", pl.coalesce("_now", "recorded_path").alias("path"), "recorded_path", *rest)


class MissingImagesError(WorkspaceError):
    """Files of a dataset version are nowhere the workspace knows (raised before anything is written).

    ``missing`` is the frame of those images (image_id, path, recorded_path, reason: ``"missing"``, or
    ``"not readable: ..."`` for an object the credentials may not read, e.g. a 403).
    """

    def __init__(self, message: str, missing: pl.DataFrame) -> None:
        super().__init__(message)
        self.missing = missing


def require_files(items: pl.DataFrame, version_id: str | None = None, *, doing: str = "export") -> None:
    """Raise :class:`MissingImagesError` naming the images of ``items`` whose file is not there.

    ``items`` as :meth:`DatasetVersion.items` gives them (``path`` where each file is now,
    ``recorded_path`` optional). One ``stat`` per file; ``s3://`` objects are listed by
    folder or get a HEAD each (:func:`~jupyter_cvops.images._objects.stat_many`); nothing is read.

    Examples
    --------
    >>> try:
    ...     require_files(pl.DataFrame({"image_id": ["0" * 32], "path": ["/gone/a.png"]}), "f" * 32)
    ... except MissingImagesError as e:
    ...     print(str(e)[:84])
    cannot export dataset version ffffffffffff: 1 of its 1 images is missing: image 0000
    """
    paths = items["path"].to_list()
    in_bucket = [k for k, p in enumerate(paths) if is_uri(p)]
    stats = dict(zip(in_bucket, stat_many([paths[k] for k in in_bucket]))) if in_bucket else {}
    reasons: dict[int, str] = {}
    for k, p in enumerate(paths):
        got = stats.get(k)
        if p is None or (got is None and not os.path.isfile(p)) or isinstance(got, FileNotFoundError):
            reasons[k] = "missing"
        elif isinstance(got, OSError):  # there, but these credentials may not read it (a 403), or unreachable
            reasons[k] = f"not readable: {got.strerror or got}"
    if not reasons:
        return
    missing = items[list(reasons)]
    if "recorded_path" not in missing.columns:
        missing = missing.with_columns(pl.col("path").alias("recorded_path"))
    missing = missing.select("image_id", "path", "recorded_path").with_columns(
        reason=pl.Series(list(reasons.values()), dtype=pl.String))
    first = missing.row(0, named=True)
    where = f"at {first['path']}"
    if first["recorded_path"] and first["recorded_path"] != first["path"]:
        where += f" (recorded in the version at {first['recorded_path']})"
    what = f"dataset version {version_id[:12]}" if version_id else "this dataset version"
    n, total = missing.height, items.height
    more = "" if n == 1 else f" (first of {n})"
    unreadable = sum(r != "missing" for r in reasons.values())
    if not unreadable:
        verb = "is" if n == 1 else "are"
        raise MissingImagesError(
            f"cannot {doing} {what}: {n} of its {total} images {verb} missing: image {first['image_id'][:12]} "
            f"{where}{more}; if files moved, register their new folder with ws.add_images(folder) (a moved image "
            "keeps its id) and try again; ws.version(...).verify() lists every problem",
            missing,
        )
    raise MissingImagesError(
        f"cannot {doing} {what}: {n} of its {total} images cannot be read ({n - unreadable} missing, {unreadable} "
        f"not readable): image {first['image_id'][:12]} {where}: {first['reason']}{more}; check the credentials "
        "and the bucket's access policy (and register moved files with ws.add_images(folder)); "
        "ws.version(...).verify() lists every problem",
        missing,
    )


@dataclass
class VerifyReport:
    """Outcome of :meth:`DatasetVersion.verify`.

    ``missing`` and ``changed`` are problems; ``moved`` lists images found, with their
    recorded content, at the location the workspace registered after the snapshot
    (``path``) rather than where the version recorded them (``recorded_path``).
    """

    n_checked: int
    missing: pl.DataFrame
    changed: pl.DataFrame
    moved: pl.DataFrame = field(default_factory=lambda: pl.DataFrame(schema=_MOVED_SCHEMA))

    @property
    def ok(self) -> bool:
        """True when every file is present with its recorded content (moved files included)."""
        return self.missing.height == 0 and self.changed.height == 0

    def __repr__(self) -> str:
        state = "OK" if self.ok else "PROBLEMS"
        moved = f", {self.moved.height} moved (content ok at their registered location)" if self.moved.height else ""
        reasons = (self.missing["reason"].fill_null("") if "reason" in self.missing.columns
                   else pl.Series([], dtype=pl.String))
        forgotten = reasons.filter(reasons.str.starts_with("image forgotten on "))  # by ws.forget: not a file problem
        gone = f" ({forgotten.len()} forgotten: {forgotten[0]})" if forgotten.len() else ""
        hint = ("; if files moved, ws.add_images(new_folder) records where they are"
                if self.missing.height > forgotten.len() else "")
        return (
            f"<VerifyReport {state}: {self.n_checked} checked, "
            f"{self.missing.height} missing{gone}, {self.changed.height} changed{moved}{hint}>"
        )


def _check(path: str | None, image_id: str) -> tuple[str, str | None, int]:
    """(status, detail, bytes read) of one file: the registration read path (one read, XXH3)."""
    if path is None:
        return "missing", "no known location", 0
    try:
        got = read_and_hash_any(path, keep_limit=READ_WHOLE_LIMIT)  # a file or an s3:// object
    except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
        return "missing", None, 0
    except OSError as exc:
        return "missing", f"unreadable: {exc.strerror or exc}", 0
    size = got.stat.st_size
    if not S_ISREG(got.stat.st_mode):
        return "missing", None, 0
    return ("ok", None, size) if got.digest == image_id else ("changed", got.digest, size)


def verify_items(items: pl.DataFrame, *, progress: bool = True, workers: int | None = None) -> VerifyReport:
    """Re-hash ``items`` (image_id, path; optional recorded_path); return a :class:`VerifyReport`.

    Files are read as registration reads them (:func:`~jupyter_cvops.images.scan.map_files`):
    small files in the page cache in the calling thread, one ``read`` each; threads once
    reads wait on the disk or files are large. ``workers`` as there. Items whose ``path``
    differs from their ``recorded_path`` and hash right are reported as ``moved``.

    Examples
    --------
    >>> rep = verify_items(pl.DataFrame({"image_id": ["0" * 32], "path": ["/nonexistent"]}),
    ...                    progress=False)
    >>> rep.missing.height, rep.moved.height
    (1, 0)
    """
    paths = items["path"].to_list()
    ids = items["image_id"].to_list()
    recorded = items["recorded_path"].to_list() if "recorded_path" in items.columns else paths
    results = map_files(lambda k: _check(paths[k], ids[k]), range(len(paths)), size_of=itemgetter(2),
                        workers=workers, progress=progress, desc="verify")
    status = [r[0] for r in results]
    detail = [r[1] for r in results]
    df = pl.DataFrame({"image_id": ids, "path": paths, "recorded_path": recorded, "status": status, "detail": detail},
                      schema_overrides={"path": pl.String, "recorded_path": pl.String, "detail": pl.String})
    missing = df.filter(pl.col("status") == "missing").select("image_id", "path", pl.col("detail").alias("reason"))
    changed = df.filter(pl.col("status") == "changed").select("image_id", "path", pl.col("detail").alias("new_hash"))
    moved = df.filter((pl.col("status") == "ok") & (pl.col("path") != pl.col("recorded_path"))).select(
        "image_id", "path", "recorded_path")
    return VerifyReport(n_checked=len(paths), missing=missing, changed=changed, moved=moved)
