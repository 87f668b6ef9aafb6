"""``ws.gc_artifacts()``: remove what no row of the workspace references any more.

Candidates (all under the workspace write lock, so no registration is half-way meanwhile):

- model artifact folders in ``<workspace>/.cvops/artifacts/`` whose content hash no
  ``model_versions`` row records (left by a registration that crashed before its row landed),
  and temporary ``.tmp-*`` folders of interrupted writes; for an ``s3://`` workspace the same in
  its bucket (``<workspace URI>/.cvops/artifacts/<hash>/``) and in this machine's cache of it;
- embedding tables (``emb_*``) with no embedding record in ``meta`` (an interrupted first
  ``ws.embed`` of a model), and drift reference caches (``knnref_*``) with none;
- each only when untouched for ``min_age`` (default one day), so a job still writing in
  another process is never taken for an orphan.

Never removed: anything a model version records (model version rows are never deleted, so
every artifact that alias history, recipes or runs point at, through a version, stays),
embedding tables with a record, the built-in tables. Recipe folders live where they were
exported (the user's files, recorded in ``recipes``) and thumbnails are never stored, so
neither is a candidate.
"""

from __future__ import annotations

import json
import shutil
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .._store.compaction import guard
from .._store.schemas import TABLES

if TYPE_CHECKING:
    from ..workspace import Workspace

EMBEDDING_META = "embedding:"  # jupyter_cvops.embeddings._index.META_PREFIX
CACHE_META = "knnref:"  # jupyter_cvops.drift._novelty.META_PREFIX
DEFAULT_MIN_AGE = timedelta(days=1)


@dataclass
class GcReport:
    """What :func:`gc_artifacts` removed (or, in a dry run, would remove).

    ``items`` rows: kind (``artifact`` | ``temporary`` | ``embedding table`` | ``cache table``),
    what (folder or table name), bytes, why. ``notes`` says what was not looked at and why.

    Examples
    --------
    >>> rep = GcReport([{"kind": "artifact", "what": "ab12", "bytes": 2048, "why": "no model version"}], True)
    >>> print(repr(rep).splitlines()[0])
    <GcReport (dry run): 1 item would be removed, 2.0 KiB>
    """

    items: list[dict[str, Any]]
    dry_run: bool
    kept: int = 0
    notes: list[str] = field(default_factory=list)

    @property
    def bytes(self) -> int:
        """Bytes freed (would be)."""
        return sum(int(i["bytes"]) for i in self.items)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON (what ``cvops gc --json`` prints)."""
        return {"dry_run": self.dry_run, "bytes": self.bytes, "kept": self.kept, "items": self.items,
                "notes": self.notes}

    def __repr__(self) -> str:
        n = len(self.items)
        size = f"{self.bytes / 1024:.1f} KiB" if self.bytes < 1024 ** 2 else f"{self.bytes / 1024 ** 2:.1f} MiB"
        lines = [f"<GcReport{' (dry run)' if self.dry_run else ''}: {n} item{'s' if n != 1 else ''} "
                 f"{'would be ' if self.dry_run else ''}removed, {size}>"]
        lines += [f"  {i['kind']}: {i['what']} ({i['bytes']} B): {i['why']}" for i in self.items[:20]]
        if n > 20:
            lines.append(f"  ... {n - 20} more (report.items)")
        lines += [f"  note: {note}" for note in self.notes]
        return "\n".join(lines)


def _folder_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file() and not p.is_symlink())


def _folder_age(path: Path) -> float:
    """Seconds since anything under ``path`` last changed."""
    times = [path.stat().st_mtime] + [p.stat().st_mtime for p in path.rglob("*")]
    return time.time() - max(times)


def _table_bytes(store: Any, name: str) -> int:
    try:
        meta = store.table(name).to_lance().versions()[-1]["metadata"]
        return int(meta.get("total_files_size", 0))
    except Exception:
        return 0


def _table_idle(store: Any, name: str) -> timedelta:
    """Time since table ``name``'s last commit (Lance reports naive local times)."""
    stamp = store.table(name).to_lance().versions()[-1]["timestamp"]
    return datetime.now() - stamp  # type: ignore[no-any-return]


def _records(store: Any, prefix: str) -> set[str]:
    """Tables that ``meta`` holds a live record for (a record of ``{}`` is a dropped table's)."""
    rows = store.read("meta", where=f"key LIKE '{prefix}%'")
    out = set()
    for key, value in rows.iter_rows():
        try:
            live = bool(json.loads(value or "{}"))
        except ValueError:
            live = True
        if live:
            out.add(str(key)[len(prefix):])
    return out


def _bucket_folders(root: Path) -> tuple[str, str, dict[str, dict[str, Any]]] | None:
    """An ``s3://`` workspace's artifact folders in its bucket: (bucket, prefix, name -> bytes, age, keys);
    None for a local workspace (its artifacts are the folders under ``root``)."""
    from ..images._objects import s3_client, split_uri
    from ..models._artifact_store import remote_of

    remote = remote_of(root / "_")
    if remote is None:
        return None
    bucket, prefix = split_uri(remote.rsplit("/", 1)[0])
    folders: dict[str, dict[str, Any]] = {}
    now = time.time()
    for page in s3_client(bucket).get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix + "/"):
        for obj in page.get("Contents", []):
            name = str(obj["Key"])[len(prefix) + 1:].split("/", 1)[0]
            f = folders.setdefault(name, {"bytes": 0, "age": float("inf"), "keys": []})
            f["bytes"] += int(obj["Size"])
            f["age"] = min(f["age"], now - obj["LastModified"].timestamp())
            f["keys"].append(str(obj["Key"]))
    return bucket, prefix, folders


def _delete_keys(bucket: str, keys: list[str]) -> None:
    from ..images._objects import s3_client

    client = s3_client(bucket)
    for k in range(0, len(keys), 1000):
        client.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": key} for key in keys[k:k + 1000]]})


def gc_artifacts(ws: Workspace, *, dry_run: bool = True, min_age: timedelta = DEFAULT_MIN_AGE) -> GcReport:
    """Remove unreferenced artifacts and tables (see the module doc); a dry run by default.

    Parameters
    ----------
    ws
        The workspace.
    dry_run
        Only list what would go (kind, name, bytes, why); ``dry_run=False`` removes it.
    min_age
        Leave anything touched more recently than this (a job in another process may still
        be writing it).

    Examples
    --------
    >>> ws.gc_artifacts()                      # doctest: +SKIP
    >>> ws.gc_artifacts(dry_run=False)         # doctest: +SKIP
    """
    from ..models._rows import artifact_root

    store = ws.store
    if not dry_run:
        store._check_writable("removing unreferenced artifacts")
    items: list[dict[str, Any]] = []
    notes: list[str] = []
    kept = 0
    age = min_age.total_seconds()
    with guard(store):
        recorded = set(store.read("model_versions", columns=["artifact_hash"])["artifact_hash"].drop_nulls().to_list())
        root: Path | None = None
        try:
            root = artifact_root(store)
        except Exception as error:  # a remote workspace: artifacts are not kept in a local folder
            notes.append(f"model artifacts not looked at: {error}")
        if root is not None and root.is_dir():
            for folder in sorted(root.iterdir()):
                if not folder.is_dir():
                    continue
                if folder.name in recorded:
                    kept += 1
                    continue
                if _folder_age(folder) < age:
                    notes.append(f"{folder.name} is younger than {min_age}: left for now")
                    continue
                kind = "temporary" if folder.name.startswith(".tmp-") else "artifact"
                why = ("left by an interrupted write" if kind == "temporary"
                       else "no model version records this artifact hash")
                items.append({"kind": kind, "what": str(folder), "bytes": _folder_bytes(folder), "why": why})
        bucket_keys: dict[str, list[str]] = {}
        bucket = _bucket_folders(root) if root is not None else None
        if bucket is not None:  # an s3:// workspace: the artifacts live in its bucket, root is this machine's cache
            name_of_bucket, prefix, folders = bucket
            for name, f in sorted(folders.items()):
                if name in recorded:
                    kept += 1
                elif f["age"] < age:
                    notes.append(f"s3://{name_of_bucket}/{prefix}/{name} is younger than {min_age}: left for now")
                else:
                    what = f"s3://{name_of_bucket}/{prefix}/{name}"
                    bucket_keys[what] = f["keys"]
                    items.append({"kind": "artifact", "what": what, "bytes": f["bytes"],
                                  "why": "no model version records this artifact hash"})
        names = store.table_names()
        for prefix, meta_prefix, kind in (("emb_", EMBEDDING_META, "embedding table"),
                                          ("knnref_", CACHE_META, "cache table")):
            live = _records(store, meta_prefix)
            for name in sorted(t for t in names if t.startswith(prefix) and t not in TABLES):
                if name in live:
                    kept += 1
                    continue
                if _table_idle(store, name) < min_age:
                    notes.append(f"table {name} was written less than {min_age} ago: left for now")
                    continue
                items.append({"kind": kind, "what": name, "bytes": _table_bytes(store, name),
                              "why": "no record in meta (an interrupted first run, or a removed model's)"})
        if not dry_run and items:
            for item in items:
                if str(item["what"]).startswith("s3://"):
                    _delete_keys(str(item["what"])[len("s3://"):].split("/", 1)[0], bucket_keys[item["what"]])
                elif item["kind"] in ("artifact", "temporary"):
                    shutil.rmtree(item["what"], ignore_errors=True)
                else:
                    store.drop_table(item["what"])
            store.event("store.gc", {"removed": [{k: i[k] for k in ("kind", "what", "bytes")} for i in items]})
    return GcReport(items, dry_run, kept, notes)
