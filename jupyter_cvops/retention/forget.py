"""``ws.forget(image_ids, reason=...)``: remove images from every table while recording that they existed.

What goes, per image (content hash):

- its rows in ``images``, ``annotations``, ``reviews``, ``predictions``, ``dataset_items``,
  ``dataset_labels`` and every embedding table (``emb_*``);
- the drift reference caches (``knnref_*`` tables, rebuilt on the next use), which hold
  vectors by row number;
- its stat-cache entries (path -> hash);
- bytes the workspace owns: files under the workspace's own ``.cvops/`` folder. The
  workspace registers images where they are and never copies them, so the files it was
  registered from are the user's and stay: the report lists them (``files_kept``).

Thumbnails are encoded in memory for the widgets and never stored, so there are none to
remove. What stays: one row in the ``forgotten`` table per image (reason, time, actor,
the dataset versions that contained it, rows removed per table; no path, no pixel), a
``image.forget`` event, the events that named the image by id (e.g. review decisions; ids only,
never paths or pixels), and the dataset versions themselves (their ids are content
hashes of what they held): ``ws.version(v).verify()`` reports the image as
"image forgotten on <date>: <reason>". Registering the same file again later registers it
again (the record stays).

Old table versions: a Lance delete is a new version; older versions still hold the rows
until they are cleaned up. ``purge=True`` compacts the touched tables (deleted rows
leave the data files) and removes every old version at once, **except tagged and
recorded ones**: each dataset version tags the ``images``, ``annotations`` and
``reviews`` versions it was taken from, so the image's rows (its path, size and labels,
not its pixels, which the workspace never stores) remain readable in those versions'
history for as long as the dataset version exists. Lance versions cannot be rewritten,
and removing the tags would break the dataset versions that recorded them, so there is
no ``purge_tagged``: the report's ``held`` says which tagged versions still hold the
image. Without ``purge`` the old versions go with the next ``ws.compact()`` once older
than its ``older_than``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import polars as pl

from .._store import WorkspaceError
from .._store import forgotten as _forgotten
from .._store.compaction import compact, guard, kept_versions
from .._store.store import current_user, now_utc

if TYPE_CHECKING:
    from ..workspace import Workspace

_ID = re.compile(r"^[0-9a-f]{32}$")
ROW_TABLES = ("predictions", "reviews", "annotations", "dataset_labels", "dataset_items")
"""Built-in tables whose rows name an image (``images`` itself is emptied last)."""
EMBEDDING_PREFIX = "emb_"
CACHE_PREFIX = "knnref_"  # drift's reference tables (see jupyter_cvops.drift._novelty)
CACHE_META_PREFIX = "knnref:"
_CHUNK = 1000


def _in(ids: list[str]) -> Iterable[str]:
    for k in range(0, len(ids), _CHUNK):
        yield "image_id IN (" + ", ".join(f"'{i}'" for i in ids[k:k + _CHUNK]) + ")"


def check_ids(image_ids: str | Iterable[str]) -> list[str]:
    """``image_ids`` as a list of distinct image ids (32 hex characters); a clear error otherwise.

    Examples
    --------
    >>> check_ids("AB" * 16)
    ['abababababababababababababababab']
    >>> try:
    ...     check_ids(["x.png"])
    ... except WorkspaceError as e:
    ...     print(str(e)[:46])
    not an image id: 'x.png' (an image id is the 3
    """
    items = [image_ids] if isinstance(image_ids, str) else list(image_ids)
    out: list[str] = []
    for item in items:
        if not isinstance(item, str) or not _ID.match(item.strip().lower()):
            raise WorkspaceError(f"not an image id: {item!r} (an image id is the 32 hex characters of its "
                                 "content hash; ws.images() lists them)")
        out.append(item.strip().lower())
    if not out:
        raise WorkspaceError("no image ids given")
    return list(dict.fromkeys(out))


@dataclass
class ForgetReport:
    """Outcome of ``ws.forget`` (or, with ``dry_run=True``, what it would do).

    Attributes
    ----------
    image_ids
        Images forgotten (would be): found in at least one table, or forgotten before.
    unknown
        Ids found nowhere (nothing recorded for them).
    removed
        Rows removed (would be) per table.
    dataset_versions
        Dataset version ids that contained each image.
    files_kept
        The user's files the images were registered from (not the workspace's to delete).
    files_deleted
        Files under the workspace's own storage that held the images.
    dropped_tables
        Cache tables dropped (drift references), rebuilt on their next use.
    purged, bytes_freed
        Whether old untagged versions were cleaned up, and the bytes that freed.
    held
        Tagged or recorded versions that still hold rows of the images: table, version, why, rows.
    """

    image_ids: list[str]
    unknown: list[str]
    reason: str
    removed: dict[str, int]
    dataset_versions: dict[str, list[str]]
    files_kept: list[str] = field(default_factory=list)
    files_deleted: list[str] = field(default_factory=list)
    dropped_tables: list[str] = field(default_factory=list)
    dry_run: bool = False
    purged: bool = False
    bytes_freed: int = 0
    held: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON."""
        return {k: getattr(self, k) for k in ("image_ids", "unknown", "reason", "removed", "dataset_versions",
                                              "files_kept", "files_deleted", "dropped_tables", "dry_run",
                                              "purged", "bytes_freed", "held")}

    def __repr__(self) -> str:
        verb = "would forget" if self.dry_run else "forgot"
        n = len(self.image_ids)
        lines = [f"<ForgetReport: {verb} {n} image{'s' if n != 1 else ''} ({self.reason!r})"
                 + (f", {len(self.unknown)} unknown id(s)" if self.unknown else "") + ">"]
        rows = ", ".join(f"{t} {c}" for t, c in self.removed.items() if c)
        lines.append(f"  rows {'to remove' if self.dry_run else 'removed'}: {rows or 'none'}")
        versions = sorted({v for vs in self.dataset_versions.values() for v in vs})
        if versions:
            lines.append(f"  dataset versions that contained them (marked): "
                         + ", ".join(v[:12] for v in versions[:5]) + (" ..." if len(versions) > 5 else ""))
        if self.dropped_tables:
            lines.append(f"  caches dropped: {', '.join(self.dropped_tables)}")
        if self.files_deleted:
            lines.append(f"  workspace files deleted: {len(self.files_deleted)}")
        if self.files_kept:
            lines.append(f"  your files, not deleted: {len(self.files_kept)} (report.files_kept)")
        if self.purged:
            lines.append(f"  old versions purged: {self.bytes_freed} bytes freed")
        elif not self.dry_run:
            lines.append("  old table versions still hold the rows until ws.compact() (or forget(..., purge=True))")
        for h in self.held[:3]:
            lines.append(f"  still in {h['table']} v{h['version']} ({h['why']}): {h['rows']} row(s)")
        return "\n".join(lines)


def _per_image(store: Any, table: str, ids: list[str]) -> dict[str, int]:
    """Rows of ``table`` per image id of ``ids`` (only ids with rows)."""
    out: dict[str, int] = {}
    for where in _in(ids):
        got = store.read(table, where=where, columns=["image_id"])
        for image_id, n in got.group_by("image_id").len().iter_rows():
            out[image_id] = out.get(image_id, 0) + int(n)
    return out


def _dataset_versions(store: Any, ids: list[str]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {i: [] for i in ids}
    for where in _in(ids):
        rows = store.read("dataset_items", where=where, columns=["image_id", "version_id"])
        for image_id, vid in rows.unique(maintain_order=True).iter_rows():
            out[image_id].append(vid)
    return out


def _owned(store: Any, path: str | None) -> bool:
    """Whether ``path`` lies in the workspace's own storage (``<workspace>/.cvops/``)."""
    if not path or store.local_root is None or "://" in path:
        return False
    try:
        return Path(path).resolve().is_relative_to((store.local_root / ".cvops").resolve())
    except OSError:
        return False


def _held(store: Any, tables: list[str], ids: list[str]) -> list[dict[str, Any]]:
    """Kept (tagged / recorded) versions of ``tables`` that still hold rows of ``ids``."""
    out: list[dict[str, Any]] = []
    kept = kept_versions(store, tables)
    for table in tables:
        for version, why in sorted(kept[table].items()):
            tbl = store._db.open_table(table)
            try:
                tbl.checkout(version)
            except Exception:  # a recorded version that is gone (an older release cleaned it): nothing held
                continue
            n = sum(int(tbl.count_rows(where)) for where in _in(ids))
            if n:
                out.append({"table": table, "version": version, "why": why, "rows": n})
    return out


def _removed_json(per_image: dict[str, dict[str, int]], image_id: str, earlier: dict[str, Any] | None) -> str:
    """Rows of ``image_id`` per table about to go, added to an earlier record's counts."""
    counts: dict[str, int] = json.loads(earlier["removed"] or "{}") if earlier else {}
    for table, by_id in per_image.items():
        if by_id.get(image_id):
            counts[table] = counts.get(table, 0) + by_id[image_id]
    return json.dumps(counts, sort_keys=True)


def forget(ws: Workspace, image_ids: str | Iterable[str], *, reason: str, purge: bool = False,
           dry_run: bool = False, actor: str | None = None) -> ForgetReport:
    """Delete images everywhere the workspace stores them, keeping an audit record (see the module doc).

    Parameters
    ----------
    ws
        The workspace.
    image_ids
        One image id or several (content hashes, as ``ws.images()`` lists them).
    reason
        Why (kept in the ``forgotten`` record and shown by ``verify``); required.
    purge
        Also compact the touched tables and remove all their old versions now, except tagged
        and recorded ones (dataset versions' history), so the removed rows' bytes are gone. A process
        reading one of those old versions at that moment may then fail.
    dry_run
        Change nothing; the report says what would go, per table.
    actor
        Who (default: ``$CVOPS_USER`` or the login name).

    Examples
    --------
    >>> ws.forget(["3f2a..."], reason="consent withdrawn", dry_run=True)              # doctest: +SKIP
    >>> rep = ws.forget(["3f2a..."], reason="consent withdrawn", purge=True)          # doctest: +SKIP
    >>> ws.version("baseline").verify().missing["reason"].to_list()                   # doctest: +SKIP
    ['image forgotten on 2026-12-06: consent withdrawn']
    """
    if not isinstance(reason, str) or not reason.strip():
        raise WorkspaceError("forget needs a reason (reason='...'): it is kept in the audit record")
    ids = check_ids(image_ids)
    store = ws.store
    if not dry_run:
        store._check_writable("forgetting images")
    with guard(store):
        names = store.table_names()
        emb = sorted(t for t in names if t.startswith(EMBEDDING_PREFIX))
        row_tables = [t for t in ROW_TABLES if t in names] + emb
        per_image = {t: _per_image(store, t, ids) for t in [*row_tables, "images"]}
        removed = {t: sum(c.values()) for t, c in per_image.items()}
        images = pl.concat([store.read("images", where=w, columns=["image_id", "path"]) for w in _in(ids)])
        containing = _dataset_versions(store, ids)
        earlier = {r["image_id"]: r for r in _forgotten.read(store, ids).iter_rows(named=True)}
        for i, r in earlier.items():  # forgotten before (a call cut short, run again): its record still counts
            containing[i] = list(dict.fromkeys([*(r["dataset_versions"] or []), *containing.get(i, [])]))
        found = set(earlier).union(*(c.keys() for c in per_image.values()))
        known = [i for i in ids if i in found]
        unknown = [i for i in ids if i not in found]
        paths = [p for p in images["path"].to_list() if p]
        owned = [p for p in paths if _owned(store, p)]
        caches = sorted(t for t in names if t.startswith(CACHE_PREFIX)) if known else []
        report = ForgetReport(image_ids=known, unknown=unknown, reason=reason, removed=removed,
                              dataset_versions={i: containing.get(i, []) for i in known},
                              files_kept=[p for p in paths if p not in owned], files_deleted=owned,
                              dropped_tables=caches, dry_run=dry_run)
        if dry_run or not known:
            return report
        who = actor or current_user()
        when = now_utc()
        # 1. the record first: from now on verify explains, and a crash midway is finished by the same call again
        _forgotten.record(store, [{"image_id": i, "forgotten_at": when, "actor": who, "reason": reason,
                                   "dataset_versions": containing.get(i, []), "purged": purge,
                                   "removed": _removed_json(per_image, i, earlier.get(i))} for i in known])
        # 2. every table that names the images, then the images table last
        for t in [*row_tables, "images"]:
            if removed[t]:
                for where in _in(known):
                    store.delete(t, where)
        for t in caches:  # vectors by row number of a reference set that may hold the images: rebuilt on use
            store.drop_table(t)
            store.upsert("meta", "key", [{"key": CACHE_META_PREFIX + t, "value": "{}"}])
        for p in owned:
            Path(p).unlink(missing_ok=True)
        if store.local_root is not None and paths:
            cache = ws._statcache()
            cache.put_many([], remove=[p for p in paths if Path(p).is_absolute()])
        touched = [t for t in [*row_tables, "images"] if removed[t]]
        if purge and touched:
            rep = compact(store, touched, older_than=timedelta(0), materialize_deletions_threshold=0.0)
            report.purged, report.bytes_freed = True, rep.bytes_freed
        report.held = _held(store, touched, known)
        store.event("image.forget", {"n_images": len(known), "reason": reason, "purged": purge,
                                     "rows_removed": {t: c for t, c in removed.items() if c},
                                     "dataset_versions": sorted({v for i in known for v in containing.get(i, [])})},
                    who)
    return report
