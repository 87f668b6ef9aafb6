"""Immutable, content-addressed dataset versions.

A snapshot freezes the selected images, their resolved labels and the taxonomy
version into rows of ``dataset_items`` / ``dataset_labels`` keyed by a version id
that is the hash of that content: the same content always gives the same id, and
file paths are not part of it (moving files does not change a dataset).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import TYPE_CHECKING, Any

import polars as pl
import xxhash

from ..labels._resolution import LABEL_COLUMNS, resolve_labels
from . import _names
from ._names import NameInUseError
from ._splits import assign_splits, normalize_splits
from ._verify import VerifyReport, locate, verify_items
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

    ``name`` is the name it was asked for or given (else its newest name), ``names`` every
    name pointing at it now (oldest first), ``note`` what the call that returned it did
    when that was not plain (e.g. ``"named 'x' (content unchanged since 3fa2c1d0e9ab)"``).

    Examples
    --------
    >>> v = ws.version("demo-train")           # doctest: +SKIP
    >>> v.id[:12], v.n_images, v.splits, v.names   # doctest: +SKIP
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
    names: tuple[str, ...] = ()
    note: str | None = None

    @classmethod
    def _from_row(
        cls, store: Store, row: Mapping[str, Any], *, name: str | None = None, note: str | None = None
    ) -> DatasetVersion:
        splits = json.loads(row["splits"] or "{}")
        names = tuple(_names.names_by_version(store).get(row["version_id"], []))
        return cls(
            store=store,
            id=row["version_id"],
            name=name if name is not None else (names[-1] if names else None),
            names=names,
            note=note,
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
        """Images of this version where they are now: image_id, path, recorded_path, bytes, width, height, split.

        ``recorded_path`` is where the file was when the version was taken; ``path`` where
        the workspace knows it now (images are content-addressed: after
        ``ws.add_images(new_place)`` reports them moved, ``path`` is the new place).

        Examples
        --------
        >>> ws.version("baseline").items().select("path", "recorded_path").head(2)   # doctest: +SKIP
        """
        recorded = self.store.read("dataset_items", where=f"version_id = '{self.id}'").drop("version_id")
        known = self.store.read("images", columns=["image_id", "path"])
        return locate(recorded.rename({"path": "recorded_path"}), known)

    def labels(self) -> pl.DataFrame:
        """Frozen labels of this version, one row per label (annotator labels side by side)."""
        return self.store.read("dataset_labels", where=f"version_id = '{self.id}'").drop("version_id")

    def verify(self, *, progress: bool = True) -> VerifyReport:
        """Re-hash every file where it is now and report the missing and changed ones (and the moved ones).

        Images removed by ``ws.forget`` are reported missing with the reason
        ``"image forgotten on <date>: <reason>"``.

        Examples
        --------
        >>> rep = ws.version("demo-train").verify()   # doctest: +SKIP
        >>> rep.ok                                     # doctest: +SKIP
        True
        """
        from .._store.forgotten import in_version

        rep = verify_items(self.items(), progress=progress)
        gone = in_version(self.store, self.id)
        if gone.height == 0:
            return rep
        extra = gone.select("image_id", pl.lit(None, pl.String).alias("path"), pl.col("note").alias("reason"))
        return replace(rep, n_checked=rep.n_checked + gone.height,
                       missing=pl.concat([rep.missing, extra.cast(rep.missing.schema)]))

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
            "names": list(self.names),
            "note": self.note,
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
        others = [n for n in self.names if n != self.name]
        if others:
            name += " (also " + ", ".join(map(repr, others)) + ")"
        sp = ", ".join(f"{k}={v}" for k, v in self.splits.items())
        note = f": {self.note}" if self.note else ""
        return (
            f"<DatasetVersion{name} {self.short_id} images={self.n_images} labels={self.n_labels} "
            f"({sp}) taxonomy=v{self.taxonomy_version}{note}>"
        )


def list_versions(store: Store) -> pl.DataFrame:
    """All dataset versions, oldest first: id, name (newest name), names (every name now), message,
    author, created_at, taxonomy_version, n_images, n_labels, splits.

    Examples
    --------
    >>> import tempfile
    >>> list_versions(Store.create(tempfile.mkdtemp() + "/ws")).columns[:3]
    ['id', 'name', 'names']
    """
    df = store.read("dataset_versions")
    named = _names.names_by_version(store)
    names = pl.Series("names", [named.get(v, []) for v in df["version_id"].to_list()], dtype=pl.List(pl.String))
    return df.with_columns(names).sort("created_at").select(
        pl.col("version_id").alias("id"),
        pl.col("names").list.last().alias("name"),
        "names",
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


def version_names(store: Store, *, history: bool = False, name: str | None = None) -> pl.DataFrame:
    """The names of dataset versions: those in use now, or (``history=True``) every set, move and remove.

    Now: name, version_id, set_at, set_by, message (oldest first). History: name, action,
    version_id, previous_version_id, author, created_at, message, source (see
    :func:`jupyter_cvops.datasets._names.name_history`). ``name`` keeps that name's rows.

    Examples
    --------
    >>> import tempfile
    >>> version_names(Store.create(tempfile.mkdtemp() + "/ws"), history=True).height
    0
    """
    if history:
        return _names.name_history(store, name)
    now = _names.current_names(store)
    return now.filter(pl.col("name") == name) if name is not None else now


def _aliases(store: Store) -> dict[str, str]:
    """Every name in use now -> its version id (names given at snapshot time and later ones alike)."""
    return dict(_names.current_names(store).select("name", "version_id").iter_rows())


def _row(store: Store, vid: str) -> dict[str, Any]:
    hit = store.read("dataset_versions", where=f"version_id = '{vid}'")
    if hit.height == 0:
        raise WorkspaceError(f"dataset version {vid[:12]} is named but its row is missing from this workspace")
    return hit.row(0, named=True)


def _get(store: Store, name_or_id: str) -> DatasetVersion:
    """The version ``name_or_id`` names now (a name), or whose id it starts (6+ characters)."""
    df = store.read("dataset_versions", columns=["version_id", "created_at"])
    if df.height == 0:
        raise WorkspaceError("this workspace has no dataset versions yet: take one with ws.snapshot()")
    names = _aliases(store)
    if name_or_id in names:
        return DatasetVersion._from_row(store, _row(store, names[name_or_id]), name=name_or_id)
    hit = df.filter(pl.col("version_id").str.starts_with(name_or_id)) if len(name_or_id) >= 6 else df.clear()
    ids = hit["version_id"].unique().to_list()
    if len(ids) == 1:
        return DatasetVersion._from_row(store, _row(store, ids[0]))
    if len(ids) > 1:
        raise WorkspaceError(f"{name_or_id!r} is ambiguous: {len(ids)} dataset version ids start with it "
                             f"({', '.join(sorted(i[:12] for i in ids))}); give more characters")
    removed = _names.last_removal(store, name_or_id)
    if removed is not None:
        prev = removed["previous_version_id"]
        when = removed["created_at"].strftime("%Y-%m-%d %H:%M") if removed["created_at"] else "?"
        raise WorkspaceError(
            f"no dataset version is named {name_or_id!r} now: the name was removed from {prev[:12]} "
            f"({when} UTC, by {removed['author']}); ws.version({prev[:12]!r}) still reads that version, "
            f"ws.version_names(history=True) has the name's history"
        )
    import difflib

    close = difflib.get_close_matches(name_or_id, sorted(names), n=1)
    hint = f"; did you mean {close[0]!r}? Known" if close else "; known"
    by_version = _names.names_by_version(store)
    recent = df.sort("created_at")["version_id"].to_list()[-8:]
    known = ", ".join(f"{(by_version.get(v) or ['-'])[-1]} ({v[:12]})" for v in recent)
    raise WorkspaceError(f"no dataset version named or starting with {name_or_id!r}{hint}: {known}")


def _unchanged(store: Store, vid: str, name: str | None, move: bool, author: str | None,
               message: str | None) -> DatasetVersion:
    """The already stored version of this content; ``name`` is added to it (or moved to it)."""
    row = _row(store, vid)
    since = f"content unchanged since {vid[:12]}"
    if name is None:
        return DatasetVersion._from_row(store, row, note=f"{since}: no new version")
    action, previous = _names.set_name(store, name, vid, move=move, author=author, message=message)
    if action == "kept":
        note = f"already named {name!r} ({since})"
    elif action == "proposed":
        note = f"{_proposed_note(name, previous)} ({since})"
    elif action == "move":
        note = f"named {name!r}, moved from {str(previous)[:12]} ({since})"
    else:
        note = f"named {name!r} ({since})"
    return DatasetVersion._from_row(store, row, name=None if action == "proposed" else name, note=note)


def name_version(
    store: Store,
    name: str,
    version: DatasetVersion | str,
    *,
    move: bool = False,
    author: str | None = None,
    message: str | None = None,
) -> DatasetVersion:
    """Give dataset version ``version`` (object, name or id) the name ``name``.

    A name points at one version. A name already pointing at another version is refused
    (:class:`~jupyter_cvops.datasets._names.NameInUseError`) unless ``move=True``, which
    moves it and records the previous holder in the names' history. Naming a version
    with a name it already has changes nothing.

    Examples
    --------
    >>> v = name_version(ws.store, "release-3", "baseline")                     # doctest: +SKIP
    >>> name_version(ws.store, "production", v, move=True, message="rollout")   # doctest: +SKIP
    """
    _names.check_name(name)
    target = _get(store, version) if isinstance(version, str) else version
    action, previous = _names.set_name(store, name, target.id, move=move, author=author, message=message)
    note = {"kept": f"already named {name!r}", "set": f"named {name!r}",
            "move": f"named {name!r}, moved from {str(previous)[:12]}",
            "proposed": _proposed_note(name, previous)}[action]
    return DatasetVersion._from_row(store, _row(store, target.id), name=None if action == "proposed" else name,
                                    note=note)


def _proposed_note(name: str, previous: str | None) -> str:
    return (f"proposed moving {name!r} here from {str(previous)[:12]}, not applied: a recipe re-run never moves a "
            "dataset name (apply it with ws.name_version(..., move=True) after review)")


def remove_version_name(
    store: Store, name: str, *, author: str | None = None, message: str | None = None
) -> DatasetVersion:
    """Stop ``name`` naming a dataset version (recorded in the names' history); returns that version.

    The version itself stays (ids never go away); its other names keep working.

    Examples
    --------
    >>> remove_version_name(ws.store, "rc-1", message="superseded by rc-2")   # doctest: +SKIP
    """
    vid = _names.remove_name(store, name, author=author, message=message)
    still = _names.holder(store, name) == vid  # a recipe re-run only proposes the removal
    note = (f"proposed removing name {name!r}, not applied: a recipe re-run never moves a dataset name"
            if still else f"name {name!r} removed")
    return DatasetVersion._from_row(store, _row(store, vid), note=note)


def take_snapshot(
    store: Store,
    taxonomy: Taxonomy,
    *,
    name: str | None,
    message: str | None,
    splits: Mapping[str, float] | None,
    image_ids: pl.Series | None,
    author: str | None,
    move: bool = False,
) -> DatasetVersion:
    """Freeze images + resolved labels + taxonomy into a dataset version (see ``Workspace.snapshot``).

    Content already stored is not stored again: the existing version is returned, ``name``
    is added to it, and its ``note`` says so. A ``name`` that points at other content is
    refused (:class:`~jupyter_cvops.datasets._names.NameInUseError`, nothing written)
    unless ``move=True``. The version row lands before its name row, so a name never
    points at a version that is not there (after a crash between the two, the same call
    again names the stored version).

    Examples
    --------
    >>> v = take_snapshot(ws.store, ws.taxonomy, name="baseline", message=None, splits=None,
    ...                   image_ids=None, author=None)   # doctest: +SKIP
    """
    fractions = normalize_splits(splits)
    if name is not None:
        _names.check_name(name)
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
                return _unchanged(store, existing["version_id"][0], name, move, author, message)
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
            return _unchanged(store, vid, name, move, author, message)
        held = _names.holder(store, name) if name is not None else None
        if held is not None and not move:  # refused before anything of the new version is written
            raise NameInUseError(str(name), holder=held, wanted=vid)

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
            "name": None,  # names live in dataset_names (this column holds what older releases wrote)
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
        note = None
        if name is not None:  # after the version row: the name points at a version that is there
            action, previous = _names.set_name(store, name, vid, move=move, author=author, message=message)
            note = (f"named {name!r}, moved from {str(previous)[:12]}" if action == "move" else
                    _proposed_note(name, previous) if action == "proposed" else None)
            if action == "proposed":
                name = None
        store.upsert("meta", "key", [{"key": cache_key, "value": vid}])
        store.event("dataset.snapshot", {"version_id": vid, "name": name, "n_images": items.height})
        return DatasetVersion._from_row(store, row, name=name, note=note)
