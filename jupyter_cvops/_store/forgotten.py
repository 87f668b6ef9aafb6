"""The ``forgotten`` table: the audit record of images removed by ``ws.forget`` (that they existed, why, when, who).

One row per forgotten image (keyed by ``image_id``, the content hash; no path or pixel is
kept): the reason, the time, the actor, the dataset versions that contained it and how
many rows each table lost. Dataset versions read it to explain an image they no longer
hold (``verify`` reports "image forgotten on <date>: <reason>"). The table is created on
the first ``forget`` (workspaces that never forgot anything have none).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import polars as pl
import pyarrow as pa

from .schemas import TS
from .store import Store

TABLE = "forgotten"

FORGOTTEN = pa.schema(
    [
        pa.field("image_id", pa.string(), nullable=False),
        pa.field("forgotten_at", TS),
        pa.field("actor", pa.string()),
        pa.field("reason", pa.string()),
        pa.field("dataset_versions", pa.list_(pa.string())),  # ids of the dataset versions that contained it
        pa.field("removed", pa.string()),  # JSON: rows removed per table
        pa.field("purged", pa.bool_()),  # old untagged table versions cleaned up too
    ]
)


def record(store: Store, rows: Sequence[Mapping[str, Any]]) -> None:
    """Insert or replace the records of ``rows`` (one commit; the table is created on first use).

    Examples
    --------
    >>> import tempfile
    >>> st = Store.create(tempfile.mkdtemp() + "/ws")
    >>> record(st, [{"image_id": "ab" * 16, "reason": "consent withdrawn"}])
    >>> read(st)["reason"].to_list()
    ['consent withdrawn']
    """
    if not rows:
        return
    if not store.has_table(TABLE):
        store.ensure_table(TABLE, FORGOTTEN)
    store.upsert(TABLE, "image_id", rows)


def read(store: Store, image_ids: Iterable[str] | None = None) -> pl.DataFrame:
    """Records of forgotten images (of ``image_ids``), oldest first; empty (same columns) when none.

    Examples
    --------
    >>> import tempfile
    >>> read(Store.create(tempfile.mkdtemp() + "/ws")).columns[:4]
    ['image_id', 'forgotten_at', 'actor', 'reason']
    """
    if not store.has_table(TABLE):
        return pl.from_arrow(FORGOTTEN.empty_table())  # type: ignore[return-value]
    frame = store.read(TABLE)
    if image_ids is not None:
        frame = frame.filter(pl.col("image_id").is_in(list(image_ids)))
    return frame.sort("forgotten_at", maintain_order=True)


def in_version(store: Store, version_id: str) -> pl.DataFrame:
    """Images of dataset version ``version_id`` that were forgotten: image_id, forgotten_at, reason, note.

    ``note`` is the sentence ``verify`` shows: ``"image forgotten on 2026-12-06: consent withdrawn"``.

    Examples
    --------
    >>> import tempfile
    >>> st = Store.create(tempfile.mkdtemp() + "/ws")
    >>> record(st, [{"image_id": "ab" * 16, "reason": "consent withdrawn", "dataset_versions": ["v1"],
    ...              "forgotten_at": __import__("datetime").datetime(2026, 12, 6)}])
    >>> in_version(st, "v1")["note"].to_list()
    ['image forgotten on 2026-12-06: consent withdrawn']
    """
    frame = read(store)
    if frame.height == 0:
        return frame.select("image_id", "forgotten_at", "reason").with_columns(note=pl.lit(None, pl.String))
    mine = frame.filter(pl.col("dataset_versions").list.contains(version_id))
    return mine.select("image_id", "forgotten_at", "reason").with_columns(
        note=pl.format("image forgotten on {}: {}", pl.col("forgotten_at").dt.strftime("%Y-%m-%d"),
                       pl.col("reason").fill_null("no reason given")))
