"""Immutable, content-addressed dataset versions.

A snapshot freezes the selected images, their resolved labels and the taxonomy
version into rows of ``dataset_items`` / ``dataset_labels`` keyed by a version id
that is the hash of that content: the same content always gives the same id, and
file paths are not part of it (moving files does not change a dataset).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

import polars as pl
import xxhash

from ..labels._resolution import LABEL_COLUMNS, resolve_labels
from ._splits import assign_splits, normalize_splits
from ._verify import VerifyReport, verify_items
from .._store import Store, WorkspaceError, current_user, now_utc

if TYPE_CHECKING:
    from ..taxonomy.facade import Taxonomy

#: How labels are chosen, recorded in every version.
POLICY = {
    "name": "reviewed-else-all-annotators",
    "description": (
        "the latest review decision of an image wins (accept/set: its label; flag: the image is "
        "left out); without one, every annotator's labels are kept side by side"
    ),
    "consensus": "none (per-annotator labels kept; consensus is computed at use time)",
}
_ID_LEN = 32


def manifest_hash(items: pl.DataFrame, labels: pl.DataFrame, header: Mapping[str, Any]) -> str:
    """Content hash of a dataset version: items, labels and header (taxonomy, splits, policy).

    Row order does not matter; paths and names do not enter it.

    Examples
    --------
    >>> it = pl.DataFrame({"image_id": ["b", "a"], "split": ["train", "val"]})
    >>> lb = pl.DataFrame({c: [] for c in LABEL_COLUMNS}, schema_overrides={"x0": pl.Float64})
    >>> manifest_hash(it, lb, {"t": 1}) == manifest_hash(it.reverse(), lb, {"t": 1})
    True
    """
    h = xxhash.xxh3_128()
    h.update(json.dumps(dict(header), sort_keys=True, default=str).encode())
    # one "<id>\t<split>" line per item, sorted by id, joined in polars (a null split reads "None",
    # as Python's f-string wrote it before: version ids must not change)
    line = pl.concat_str([pl.col("image_id"), pl.col("split").cast(pl.String).fill_null("None")], separator="\t")
    it = items.select("image_id", "split").sort("image_id").select(line.str.join("\n"))
    h.update(b"\x00items\x00")
    h.update((it.item() or "").encode())
    h.update(b"\x00labels\x00")
    if labels.height:
        lines = (
            labels.select(
                pl.concat_str(
                    [
                        pl.col(c).cast(pl.String).fill_null("")
                        if c not in ("x0", "y0", "x1", "y1")
                        else pl.col(c).round(3).cast(pl.String).fill_null("")
                        for c in LABEL_COLUMNS
                        if c != "created_at"  # label ids already carry the label's own time
                    ],
                    separator="\t",
                ).alias("line")
            )
            .sort("line")
            .select(pl.col("line").str.join("\n"))
            .item()
        )
        h.update((lines or "").encode())
    return h.hexdigest()[:_ID_LEN]


@dataclass(frozen=True)
class DatasetVersion:
    """One immutable dataset version. Get it from ``ws.snapshot()`` or ``ws.version(name_or_id)``.

    Examples
    --------
    >>> v = ws.version("demo-train")           # doctest: +SKIP
    >>> v.id[:12], v.n_images, v.splits         # doctest: +SKIP
    """

    store: Store
    id: str
    name: str | None
    message: str | None
    author: str | None
    created_at: datetime
    taxonomy_version: int
    n_images: int
    n_labels: int
    splits: dict[str, int]
    split_fractions: dict[str, float]
    policy: dict[str, Any]

    @classmethod
    def _from_row(cls, store: Store, row: Mapping[str, Any]) -> DatasetVersion:
        splits = json.loads(row["splits"] or "{}")
        return cls(
            store=store,
            id=row["version_id"],
            name=row["name"],
            message=row["message"],
            author=row["author"],
            created_at=row["created_at"],
            taxonomy_version=int(row["taxonomy_version"]),
            n_images=int(row["n_images"]),
            n_labels=int(row["n_labels"]),
            splits=dict(splits.get("counts", {})),
            split_fractions=dict(splits.get("fractions", {})),
            policy=json.loads(row["policy"] or "{}"),
        )

    @property
    def short_id(self) -> str:
        """First 12 characters of the id (what cards and tables show)."""
        return self.id[:12]

    def items(self) -> pl.DataFrame:
        """Images of this version: image_id, path, bytes, width, height, split."""
        return self.store.read("dataset_items", where=f"version_id = '{self.id}'").drop("version_id")

    def labels(self) -> pl.DataFrame:
        """Frozen labels of this version, one row per label (annotator labels side by side)."""
        return self.store.read("dataset_labels", where=f"version_id = '{self.id}'").drop("version_id")

    def verify(self, *, progress: bool = True) -> VerifyReport:
        """Re-hash every file and report the missing and changed ones.

        Examples
        --------
        >>> rep = ws.version("demo-train").verify()   # doctest: +SKIP
        >>> rep.ok                                     # doctest: +SKIP
        True
        """
        return verify_items(self.items(), progress=progress)

    def diff(self, other: DatasetVersion | str) -> pl.DataFrame:
        """Label-level diff from ``other`` (the older version) to this one.

        Rows: change (added | removed | changed), image_id, annotator, kind, class
        before/after, box before/after. Images added or removed count their labels.

        Examples
        --------
        >>> ws.version("v2").diff("v1").group_by("change").len()   # doctest: +SKIP
        """
        from ._diff import diff_labels

        if isinstance(other, str):
            other = _get(self.store, other)
        return diff_labels(other.labels(), self.labels())

    def to_dict(self) -> dict[str, Any]:
        """Plain-JSON summary (what the snapshot magic and the CLI print)."""
        return {
            "id": self.id,
            "name": self.name,
            "message": self.message,
            "author": self.author,
            "created_at": self.created_at.isoformat(),
            "taxonomy_version": self.taxonomy_version,
            "n_images": self.n_images,
            "n_labels": self.n_labels,
            "splits": self.splits,
        }

    def __repr__(self) -> str:
        name = f" {self.name!r}" if self.name else ""
        sp = ", ".join(f"{k}={v}" for k, v in self.splits.items())
        return (
            f"<DatasetVersion{name} {self.short_id} images={self.n_images} labels={self.n_labels} "
            f"({sp}) taxonomy=v{self.taxonomy_version}>"
        )


def list_versions(store: Store) -> pl.DataFrame:
    """All dataset versions, oldest first (id, name, message, author, created_at, counts)."""
    df = store.read("dataset_versions")
    return df.sort("created_at").select(
        pl.col("version_id").alias("id"),
        "name",
        "message",
        "author",
        "created_at",
        "taxonomy_version",
        "n_images",
        "n_labels",
        pl.col("splits").map_elements(
            lambda s: json.dumps(json.loads(s).get("counts", {})), return_dtype=pl.String
        ).alias("splits"),
    )


def _aliases(store: Store) -> dict[str, str]:
    meta = store.read("meta", where="key LIKE 'alias:%'")
    return {k[len("alias:"):]: v for k, v in meta.iter_rows()}


def _get(store: Store, name_or_id: str) -> DatasetVersion:
    df = store.read("dataset_versions")
    if df.height == 0:
        raise WorkspaceError("this workspace has no dataset versions yet: take one with ws.snapshot()")
    aliases = _aliases(store)
    key = aliases.get(name_or_id, name_or_id)
    hit = df.filter(pl.col("name") == key)
    if hit.height == 0:
        hit = df.filter(pl.col("version_id").str.starts_with(key)) if len(key) >= 6 else hit
    if hit.height == 0:
        import difflib

        names = sorted({n for n in df["name"].to_list() if n} | set(aliases))
        close = difflib.get_close_matches(name_or_id, names, n=1)
        hint = f"; did you mean {close[0]!r}? Known" if close else "; known"
        known = ", ".join(f"{r['name'] or '-'} ({r['version_id'][:12]})" for r in df.to_dicts()[-8:])
        raise WorkspaceError(f"no dataset version named or starting with {name_or_id!r}{hint}: {known}")
    if hit.height > 1 and hit["version_id"].n_unique() > 1:
        raise WorkspaceError(f"{name_or_id!r} is ambiguous: {hit['version_id'].to_list()}")
    return DatasetVersion._from_row(store, hit.sort("created_at").row(-1, named=True))


def _existing(store: Store, existing: pl.DataFrame, name: str | None, author: str | None) -> DatasetVersion:
    """The already stored version; a new name becomes an alias of it."""
    vid = existing["version_id"][0]
    if name and name != existing["name"][0] and name not in _aliases(store):
        store.append("meta", [{"key": f"alias:{name}", "value": vid}])
        store.event("dataset.alias", {"version_id": vid, "name": name}, author)
    return DatasetVersion._from_row(store, existing.row(0, named=True))


def take_snapshot(
    store: Store,
    taxonomy: Taxonomy,
    *,
    name: str | None,
    message: str | None,
    splits: Mapping[str, float] | None,
    image_ids: pl.Series | None,
    author: str | None,
) -> DatasetVersion:
    """Freeze images + resolved labels + taxonomy into a dataset version (see ``Workspace.snapshot``)."""
    fractions = normalize_splits(splits)
    with store.lock:
        # Same table versions + same selection + same taxonomy -> same content: skip the work.
        inputs = {
            "tables": {t: store.version(t) for t in ("images", "annotations", "reviews", "taxonomy_versions")},
            "taxonomy": taxonomy.version,
            "selection": None if image_ids is None else xxhash.xxh3_128_hexdigest(
                "\n".join(sorted(image_ids.cast(pl.String).to_list())).encode()),
            "splits": fractions,
            "policy": POLICY["name"],
        }
        cache_key = "snapshot_inputs:" + xxhash.xxh3_128_hexdigest(json.dumps(inputs, sort_keys=True).encode())
        cached = store.read("meta", where=f"key = '{cache_key}'")
        if cached.height:
            existing = store.read("dataset_versions", where=f"version_id = '{cached['value'][0]}'")
            if existing.height:
                return _existing(store, existing, name, author)
        images = store.read("images", columns=["image_id", "path", "bytes", "width", "height"])
        if image_ids is not None:
            images = images.filter(pl.col("image_id").is_in(image_ids.implode()))
        if images.height == 0:
            raise WorkspaceError("nothing to snapshot: no registered images (selected)")
        tax_version = taxonomy.version
        labels, flagged = resolve_labels(store, taxonomy, images["image_id"], tax_version)
        images = images.filter(~pl.col("image_id").is_in(flagged.implode()))
        items = images.with_columns(assign_splits(images["image_id"], fractions).alias("split"))
        header = {"taxonomy_version": tax_version, "splits": fractions, "policy": POLICY["name"]}
        vid = manifest_hash(items, labels, header)

        existing = store.read("dataset_versions", where=f"version_id = '{vid}'")
        if existing.height:
            store.upsert("meta", "key", [{"key": cache_key, "value": vid}])
            return _existing(store, existing, name, author)

        counts = {k: int(items.filter(pl.col("split") == k).height) for k in fractions}
        if store.count("dataset_items", f"version_id = '{vid}'") != items.height:
            store.append("dataset_items", items.with_columns(pl.lit(vid).alias("version_id")))
        if store.count("dataset_labels", f"version_id = '{vid}'") != labels.height:
            store.append("dataset_labels", labels.with_columns(pl.lit(vid).alias("version_id")))
        tag = f"ds-{vid[:16]}"
        table_versions = {}
        for t in ("images", "annotations", "reviews"):
            store.tag(t, tag)
            table_versions[t] = store.version(t)
        row = {
            "version_id": vid,
            "name": name,
            "message": message,
            "author": author or current_user(),
            "created_at": now_utc(),
            "taxonomy_version": tax_version,
            "n_images": items.height,
            "n_labels": labels.height,
            "splits": json.dumps({"fractions": fractions, "counts": counts, "flagged": flagged.len()}),
            "policy": json.dumps(POLICY),
            "table_versions": json.dumps({"tag": tag, "versions": table_versions}),
        }
        store.append("dataset_versions", [row])
        store.upsert("meta", "key", [{"key": cache_key, "value": vid}])
        store.event("dataset.snapshot", {"version_id": vid, "name": name, "n_images": items.height})
        return DatasetVersion._from_row(store, row)
