"""Merging a scan of image files into the ``images`` table (incremental, one commit)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Union

import polars as pl

from .._report import ProblemReport
from .._store import Store, now_utc
from ._objects import exists, is_uri
from .scan import FileProblem, ImageInfo, ScanResult

CapturedAt = Union[Mapping[str, datetime], Callable[[Path], "datetime | None"], datetime, None]


@dataclass(repr=False)
class RegisterReport(ProblemReport):
    """What ``ws.add_images`` did, file by file.

    ``paths`` maps every accepted file (absolute path) to its image id, duplicates
    included; ``problems`` holds one clear reason per refused file.
    """

    added: list[str] = field(default_factory=list)
    moved: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    problems: list[FileProblem] = field(default_factory=list)
    paths: dict[str, str] = field(default_factory=dict)
    n_hashed: int = 0
    n_cached: int = 0

    _problem_key = "path"

    def to_dict(self) -> dict[str, Any]:
        """Counts and problems as plain JSON."""
        return {
            "added": len(self.added),
            "moved": len(self.moved),
            "updated": len(self.updated),
            "unchanged": len(self.unchanged),
            "hashed": self.n_hashed,
            "from_cache": self.n_cached,
            "problems": self._problem_dicts(),
        }

    def _repr_head(self) -> str:
        d = self.to_dict()
        return (
            f"<RegisterReport added={d['added']} moved={d['moved']} updated={d['updated']} "
            f"unchanged={d['unchanged']} problems={len(self.problems)} (hashed {d['hashed']}, "
            f"from cache {d['from_cache']})>"
        )


class _Lazy:
    """A column converted to a Python list on first access."""

    def __init__(self, series: pl.Series) -> None:
        self._series = series
        self._list: list[Any] | None = None

    def __getitem__(self, k: int) -> Any:
        if self._list is None:
            self._list = self._series.to_list()
        return self._list[k]


def _capture_time(captured_at: CapturedAt, path: str, exif: datetime | None) -> datetime | None:
    if captured_at is None:
        return exif
    t: datetime | None
    if isinstance(captured_at, datetime):
        t = captured_at
    elif isinstance(captured_at, Mapping):
        t = captured_at.get(path)
    else:
        t = captured_at(path if is_uri(path) else Path(path))  # type: ignore[arg-type]
    if t is None:
        return exif
    return t.replace(tzinfo=timezone.utc) if t.tzinfo is None else t.astimezone(timezone.utc)


def _split_unchanged(
    images: list[ImageInfo], ids: list[str], paths: list[str], existing: pl.DataFrame
) -> tuple[list[ImageInfo], list[str]]:
    """(images that need a look, ids of the unchanged rest) against the stored ``images`` rows.

    Unchanged: stored with the same id and path, and the same capture time when the scan
    found one (EXIF); anything else (new, moved, a new capture time) is left to the caller.
    ``ids`` and ``paths`` are the images' own, in order.
    """
    scanned = pl.DataFrame(
        {"image_id": ids, "path": paths, "exif": [i.captured_at for i in images]},
        schema={"image_id": pl.String, "path": pl.String, "exif": existing.schema["captured_at"]},
    ).with_row_index("k")
    same = scanned.join(existing.select("image_id", pl.col("path").alias("stored"), "captured_at"),
                        on="image_id", how="inner")
    k = same.filter((pl.col("path") == pl.col("stored"))
                    & (pl.col("exif").is_null() | (pl.col("exif") == pl.col("captured_at"))))["k"]
    if k.len() == 0:
        return images, []
    if k.len() == len(images):  # the common re-registration: every file as stored
        return [], ids
    keep = pl.Series(values=[True] * len(images)).scatter(k, False).to_list()
    k_sorted = k.sort().to_list()
    return [i for i, flag in zip(images, keep) if flag], [ids[j] for j in k_sorted]


ID_INDEX_FROM = 20_000
"""Rows from which ``images.image_id`` carries a BTREE index (lookups by id in ms, not a scan)."""


def register_scan(
    store: Store, scan: ScanResult, *, source: str | None, captured_at: CapturedAt = None
) -> RegisterReport:
    """Write new, moved and re-tagged images of ``scan`` in one commit; report the rest."""
    report = RegisterReport(problems=list(scan.problems), n_hashed=scan.n_hashed, n_cached=scan.n_cached)
    if isinstance(captured_at, Mapping):
        captured_at = {k if is_uri(k) else str(Path(k).resolve()): v for k, v in captured_at.items()}
    with store.lock:
        cols = ["image_id", "path", "source", "captured_at", "registered_at"]
        existing = store.read("images", columns=cols)
        rows: list[dict[str, Any]] = []
        now = now_utc()
        images = scan.images
        ids, paths = [i.image_id for i in images], [i.path for i in images]
        report.paths = dict(zip(paths, ids))
        if source is None and captured_at is None and images:
            # a re-registration: files already stored under the same id and path (and capture
            # time, when the file has one) are unchanged; one join finds them, not a loop
            images, unchanged = _split_unchanged(images, ids, paths, existing)
            report.unchanged.extend(unchanged)
        # ids and paths decide the common case; the other columns (tz-aware datetimes cost
        # ~0.4 us each to convert) only when a row or a capture time needs them
        lists: list[Any] = [existing[c].to_list() for c in cols[:2]] if images else [[], []]
        lists += [_Lazy(existing[c]) for c in cols[2:]]
        # column lists + one index dict: ~10x faster than per-row dicts at 100k images
        by_id: dict[str, dict[str, Any] | int] = {iid: k for k, iid in enumerate(lists[0])}

        def old_row(iid: str) -> dict[str, Any] | None:
            k = by_id.get(iid)
            if k is None or isinstance(k, dict):
                return k
            return {c: lists[j][k] for j, c in enumerate(cols)}

        for info in images:
            src = source if source is not None else info.source
            when = _capture_time(captured_at, info.path, info.captured_at)
            k = by_id.get(info.image_id)
            if isinstance(k, int) and lists[1][k] == info.path and source is None and captured_at is None \
                    and (info.captured_at is None or info.captured_at == lists[3][k]):
                report.unchanged.append(info.image_id)  # the common re-registration case
                continue
            old = old_row(info.image_id)
            row = {
                "image_id": info.image_id,
                "path": info.path,
                "width": info.width,
                "height": info.height,
                "channels": info.channels,
                "format": info.format,
                "bytes": info.bytes,
                "mtime_ns": info.mtime_ns,
                "source": src,
                "captured_at": when,
                "registered_at": now,
            }
            if old is None:
                rows.append(row)
                by_id[info.image_id] = row
                report.added.append(info.image_id)
                continue
            keep = {k: old[k] for k in ("registered_at",)}
            if old["path"] != info.path:
                if exists(old["path"]):  # a file, or an object in a bucket
                    report.problems.append(
                        FileProblem(info.path, f"duplicate content of already registered {old['path']}")
                    )
                    continue
                rows.append({**row, **keep, "source": src or old["source"],
                             "captured_at": when or old["captured_at"]})
                report.moved.append(info.image_id)
                continue
            changes = (src is not None and src != old["source"]) or (
                when is not None and when != old["captured_at"]
            )
            if changes:
                rows.append({**row, **keep, "source": src or old["source"],
                             "captured_at": when or old["captured_at"]})
                report.updated.append(info.image_id)
            else:
                report.unchanged.append(info.image_id)
        if rows and len(rows) == len(report.added):  # only ids absent under this lock
            store.append("images", rows)  # one commit, cheaper than a merge
        elif rows:
            store.upsert("images", "image_id", rows)
        if rows:
            store.event(
                "images.add",
                {"added": len(report.added), "moved": len(report.moved), "updated": len(report.updated),
                 "problems": len(report.problems)},
            )
            store.index_column("images", "image_id", min_rows=ID_INDEX_FROM)
    return report
