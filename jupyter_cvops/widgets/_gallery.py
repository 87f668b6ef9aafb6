"""A grid of thumbnails with captions (anywidget): the drill-down of the agreement view.

The widget only displays and collects: Python hands it encoded thumbnails (one binary
buffer, never base64 JSON) and captions with :meth:`Gallery.show`; the browser sends
what was clicked. Messages from the browser (``model.send``)::

    {"kind": "open", "image_id": "..."}     a thumbnail was clicked (or Enter pressed on it)
    {"kind": "open", "image_id": null}      the "Open in review" button
    {"kind": "more"}                        the "Show more" button

Examples
--------
>>> from jupyter_cvops.images._thumbnails import encode_array
>>> import numpy as np
>>> g = Gallery()                                                       # doctest: +SKIP
>>> g.show("two images", [GalleryEntry("a", encode_array(np.zeros((8, 8), np.uint8)), [("ana", "dent")])],
...        total=2)                                                     # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import anywidget
import traitlets

from ..images._thumbnails import Thumbnail
from ._bundle import STATIC, _Bundle  # noqa: F401  (re-exported)

__all__ = ["Gallery", "GalleryEntry", "pack_entries"]


@dataclass(frozen=True)
class GalleryEntry:
    """One tile: an image id, its thumbnail (or why there is none) and the labels to caption it.

    Attributes
    ----------
    image_id
        The workspace's image id (sent back when the tile is clicked).
    thumbnail
        Encoded thumbnail, or None when the image could not be read.
    labels
        ``(annotator, class_name)`` pairs shown as chips under the image.
    marked
        Annotators whose labels put the image in the cell (their chips are emphasized).
    error
        Why there is no thumbnail.
    tooltip
        Hover text of the tile (e.g. the file name).

    Examples
    --------
    >>> GalleryEntry("abc", None, [("ana", "dent")], error="missing file").labels
    [('ana', 'dent')]
    """

    image_id: str
    thumbnail: Thumbnail | None
    labels: Sequence[tuple[str, str]] = field(default_factory=list)
    marked: Sequence[str] = field(default_factory=tuple)
    error: str | None = None
    tooltip: str = ""


def pack_entries(entries: Sequence[GalleryEntry]) -> tuple[list[dict[str, Any]], bytes]:
    """The ``items`` trait and the ``thumbs`` buffer for ``entries``: thumbnails concatenated,
    each item naming its slice by ``offset`` and ``length``.

    Examples
    --------
    >>> from jupyter_cvops.images._thumbnails import Thumbnail
    >>> t = Thumbnail(b"abc", "image/jpeg", 2, 1, 4, 2)
    >>> items, buf = pack_entries([GalleryEntry("x", t), GalleryEntry("y", None, error="gone"), GalleryEntry("z", t)])
    >>> [(i["image_id"], i["offset"], i["length"]) for i in items], buf
    ([('x', 0, 3), ('y', 3, 0), ('z', 3, 3)], b'abcabc')
    """
    items: list[dict[str, Any]] = []
    chunks: list[bytes] = []
    offset = 0
    for e in entries:
        t = e.thumbnail
        data = t.data if t is not None else b""
        marked = set(e.marked)
        items.append({
            "image_id": e.image_id,
            "offset": offset,
            "length": len(data),
            "mime": t.mime if t is not None else "",
            "width": t.width if t is not None else 0,
            "height": t.height if t is not None else 0,
            "labels": [{"annotator": a, "class_name": c, "marked": a in marked} for a, c in e.labels],
            "error": e.error,
            "tooltip": e.tooltip,
        })
        chunks.append(data)
        offset += len(data)
    return items, b"".join(chunks)


class Gallery(anywidget.AnyWidget):
    """Browser half of the drill-down grid: synced traits and messages, no store access.

    Traits (all synced, snake_case on both sides): ``title``, ``note`` (a line under the
    title), ``items`` (one dict per tile, see :func:`pack_entries`), ``thumbs`` (every
    tile's encoded bytes, one binary buffer), ``total`` (images in the drill-down, shown
    or not), ``selected_image`` (the tile clicked last; the browser writes it),
    ``class_colors`` (class name to CSS color for the chips), ``thumb_size`` (tile width in
    CSS pixels), ``can_review`` (show "Open in review"), ``empty_text`` and ``status``.

    Examples
    --------
    >>> g = Gallery(title="nothing yet")       # doctest: +SKIP
    >>> g.on_msg(lambda w, content, buffers: print(content))   # doctest: +SKIP
    """

    _esm = _Bundle("gallery.js")
    _css = _Bundle("gallery.css")

    title = traitlets.Unicode("").tag(sync=True)
    note = traitlets.Unicode("").tag(sync=True)
    items = traitlets.List(traitlets.Dict()).tag(sync=True)
    thumbs = traitlets.Bytes(b"").tag(sync=True)
    total = traitlets.Int(0).tag(sync=True)
    selected_image = traitlets.Unicode("").tag(sync=True)
    class_colors = traitlets.Dict().tag(sync=True)
    thumb_size = traitlets.Int(128).tag(sync=True)
    can_review = traitlets.Bool(False).tag(sync=True)
    empty_text = traitlets.Unicode("").tag(sync=True)
    status = traitlets.Unicode("").tag(sync=True)

    def show(self, title: str, entries: Sequence[GalleryEntry], *, total: int | None = None, note: str = "",
             can_review: bool = True) -> None:
        """Replace the grid with ``entries`` (in one synced update).

        Parameters
        ----------
        title
            Heading: what the images are.
        entries
            The tiles, in order.
        total
            Images in the whole drill-down (default ``len(entries)``); more than shown
            enables "Show more".
        note
            A line under the title.
        can_review
            Offer "Open in review".

        Examples
        --------
        >>> g.show("ana vs ben disagree", entries, total=163)   # doctest: +SKIP
        """
        items, buf = pack_entries(entries)
        with self.hold_sync():
            self.title = title
            self.note = note
            self.items = items
            self.thumbs = buf
            self.total = len(entries) if total is None else int(total)
            self.can_review = bool(can_review and self.total)
            self.selected_image = ""
            self.status = ""

    def clear(self, empty_text: str | None = None) -> None:
        """Show no tiles (and ``empty_text``, if given).

        Examples
        --------
        >>> g.clear("Click a heatmap cell")        # doctest: +SKIP
        """
        with self.hold_sync():
            self.title, self.note, self.items, self.thumbs = "", "", [], b""
            self.total, self.can_review, self.selected_image, self.status = 0, False, "", ""
            if empty_text is not None:
                self.empty_text = empty_text
