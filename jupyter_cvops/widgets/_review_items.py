"""What the review session sends to the browser: item payloads, thumbnails and the prefetch thread.

:class:`_ItemsMixin` holds the :class:`~jupyter_cvops.widgets.review.ReviewSession` methods
that build one item's payload, encode thumbnails (cached, or waited for when a prefetch is
running) and push the next items to the browser from a background thread.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from concurrent.futures import Future, ThreadPoolExecutor
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import polars as pl

from ..reviews._queue import NO_OBJECTS, label_signatures
from ..images._thumbnails import Thumbnail, make_thumbnail
from ._review_widget import ReviewWidget, _QueueView


class _ReviewHost(Protocol):
    """What :class:`_ItemsMixin` uses of its host, :class:`~jupyter_cvops.widgets.review.ReviewSession`
    (set in its ``__init__``); for type checking only."""

    max_side: int
    prefetch: int
    widget: ReviewWidget
    _lock: threading.RLock
    _pool: ThreadPoolExecutor
    _thumbs: OrderedDict[str, Future[Thumbnail]]
    _cache_size: int
    _pushed: set[tuple[int, str]]
    _frontend_ready: bool
    _view: _QueueView
    _state: dict[str, dict[str, Any] | None]

    def _report(self, error: BaseException, *, quiet: bool = False) -> None: ...


# The mixin sees its host's attributes through the protocol when type checking; at run
# time it derives from object alone.
if TYPE_CHECKING:
    _Host = _ReviewHost
else:
    _Host = object


class _ItemsMixin(_Host):
    """Item payloads, thumbnails and prefetch of :class:`~jupyter_cvops.widgets.review.ReviewSession`."""

    def _meta(self, view: _QueueView, index: int, thumb: Thumbnail | None, error: str | None) -> dict[str, Any]:
        """Everything the view needs to draw one item (labels in source pixel coordinates)."""
        row = view.rows[index]
        image_id = row["image_id"]
        labels = view.labels.get(image_id)
        majority = set(row.get("majority_annotators") or [])
        annotators: list[dict[str, Any]] = []
        if labels is not None and labels.height:
            sigs = dict(label_signatures(labels).select("annotator", "signature").iter_rows())
            for name in sorted(labels["annotator"].unique().to_list()):
                mine = labels.filter(pl.col("annotator") == name)
                image_classes = [c or "(needs review)" for c in mine.filter(pl.col("kind") == "image")["class_name"]]
                boxes = [
                    {"class_name": b["class_name"] or "(needs review)", "x0": b["x0"], "y0": b["y0"],
                     "x1": b["x1"], "y1": b["y1"]}
                    for b in mine.filter((pl.col("kind") == "box") & pl.col("x0").is_not_null())
                    .select("class_name", "x0", "y0", "x1", "y1").iter_rows(named=True)
                ]
                annotators.append({"name": name, "verdict": sigs.get(name, NO_OBJECTS),
                                   "image_classes": image_classes, "boxes": boxes, "in_majority": name in majority})
        return {
            "image_id": image_id,
            "index": index,
            "queue_id": view.queue_id,
            "path": row["path"],
            "file_name": Path(str(row["path"])).name,
            "width": thumb.width if thumb else 0,
            "height": thumb.height if thumb else 0,
            "source_width": thumb.source_width if thumb else 0,
            "source_height": thumb.source_height if thumb else 0,
            "error": error,
            "annotators": annotators,
            "majority": row.get("majority"),
            "disagreement": row.get("disagreement"),
            "disputed": bool(row.get("disputed")),
            "state": self._state.get(image_id),
        }

    # -- thumbnails and prefetch --------------------------------------------------------------
    def _encode(self, path: str, image_id: str | None = None) -> Thumbnail:
        # With the registered id, a file changed or removed since registration shows as a
        # placeholder tile, never decoded.
        thumb = make_thumbnail(path, image_id=image_id, max_side=self.max_side)
        if thumb.placeholder:  # changed, missing or too large: the item's error says why
            raise ValueError(thumb.placeholder)
        return thumb

    def _store_future(self, image_id: str, fut: Future[Thumbnail]) -> None:
        self._thumbs[image_id] = fut
        self._thumbs.move_to_end(image_id)
        while len(self._thumbs) > self._cache_size:
            self._thumbs.popitem(last=False)

    def _thumbnail_now(self, row: dict[str, Any]) -> tuple[Thumbnail | None, str | None]:
        """The row's thumbnail: from the cache, from a running prefetch, or encoded right here."""
        image_id, path = row["image_id"], str(row["path"])
        with self._lock:
            fut = self._thumbs.get(image_id)
            # A prefetch still queued behind others is cancelled and done here instead;
            # one already running (or done) is waited for.
            if fut is not None and (fut.cancelled() or fut.cancel()):
                fut = None
            mine = fut is None
            if fut is None:
                fut = Future()
                fut.set_running_or_notify_cancel()
                self._store_future(image_id, fut)
            else:
                self._thumbs.move_to_end(image_id)
        if mine:
            try:
                fut.set_result(self._encode(path, image_id))
            except Exception as error:
                fut.set_exception(error)
        try:
            return fut.result(), None
        except Exception as error:
            return None, f"cannot show {Path(path).name}: {error}"

    def _schedule_prefetch(self, index: int) -> None:
        view = self._view
        wanted = list(range(index + 1, min(index + 1 + self.prefetch, len(view.rows))))
        if index > 0 and self.prefetch:
            wanted.append(index - 1)
        for j in wanted:
            row = view.rows[j]
            with self._lock:
                fut = self._thumbs.get(row["image_id"])
                if fut is None or fut.cancelled():
                    fut = self._pool.submit(self._encode, str(row["path"]), row["image_id"])
                    self._store_future(row["image_id"], fut)
            fut.add_done_callback(partial(self._push, view, j))

    def _push(self, view: _QueueView, index: int, fut: Future[Thumbnail]) -> None:
        """Send one encoded item to the browser (runs in the prefetch thread when it encoded it)."""
        try:
            if fut.cancelled() or fut.exception() is not None:
                return  # the error shows when the reviewer reaches the item
            image_id = view.rows[index]["image_id"]
            with self._lock:
                key = (view.queue_id, image_id)
                if not self._frontend_ready or view is not self._view or key in self._pushed:
                    return
                self._pushed.add(key)
            thumb = fut.result()
            meta = self._meta(view, index, thumb, None)
            self.widget.send({"kind": "prefetch", "item": meta, "mime": thumb.mime}, buffers=[thumb.data])
        except Exception as error:  # a failed push only costs speed
            self._report(error, quiet=True)
