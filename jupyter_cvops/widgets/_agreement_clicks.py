"""Clicks and the thumbnail grid of :class:`~jupyter_cvops.widgets.agreement_view.AgreementView`.

:class:`_ClicksMixin` holds the methods that turn plotly clicks and gallery messages into
drill-downs, and fill the grid (thumbnails encoded in parallel, titles, marked chips).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import polars as pl

from ..images._thumbnails import Thumbnail, make_thumbnail
from ._agreement_figure import _fmt
from ._gallery import Gallery, GalleryEntry

if TYPE_CHECKING:
    from ._agreement_host import _AgreementHost as _Host
else:
    _Host = object  # the host's attributes are typed through the protocol; nothing at run time

#: The facade's logger (errors of clicks are logged under its name).
log = logging.getLogger("jupyter_cvops.widgets.agreement_view")


class _ClicksMixin(_Host):
    """Click handling and grid filling of :class:`~jupyter_cvops.widgets.agreement_view.AgreementView`."""

    last_error: BaseException | None
    _shown: int  # rows of the drill-down shown in the grid
    _consensus_map: dict[str, str | None]  # image id -> consensus class, read on first use

    # -- clicks ------------------------------------------------------------------------------
    def _wire_clicks(self) -> None:
        d = self.figure.data
        d[self._trace_index["kappa"]].on_click(self._guard(self._on_kappa_click))
        d[self._trace_index["confusion"]].on_click(self._guard(self._on_confusion_click))
        for i in self._trace_index.get("trend", []):
            d[i].on_click(self._guard(self._on_trend_click))
        if "alerts" in self._trace_index:
            d[self._trace_index["alerts"]].on_click(self._guard(self._on_alert_click))

    def _guard(self, handler: Callable[[Any], None]) -> Callable[[Any, Any, Any], None]:
        """plotly calls every trace's handlers on each click: act only on the clicked trace, and
        show errors in the grid (nothing else would show them)."""
        # handler gets plotly's untyped point index: (row, col) on a heatmap, an int on a line.
        def callback(trace: Any, points: Any, state: Any) -> None:
            if not points.point_inds:
                return
            try:
                handler(points.point_inds[0])
            except Exception as error:
                self._report(error)
        return callback

    def _on_kappa_click(self, ind: Sequence[int]) -> None:
        row, col = int(ind[0]), int(ind[1])
        self.select_pair(self.annotators[row], self.annotators[col])

    def _on_confusion_click(self, ind: Sequence[int]) -> None:
        row, col = int(ind[0]), int(ind[1])
        self.select_confusion(self.classes[row], self.classes[col])

    def _on_trend_click(self, ind: int) -> None:
        self.select_window(int(ind))

    def _on_alert_click(self, ind: int) -> None:
        self.select_alert(int(ind))

    def _on_pair_picked(self, change: dict[str, Any]) -> None:
        try:
            new = change["new"]
            self.show_pair(*(new if new is not None else (None, None)))
        except Exception as error:
            self._report(error)

    def _on_gallery_msg(self, widget: Gallery, content: dict[str, Any], buffers: Sequence[Any]) -> None:
        try:
            kind = content.get("kind")
            if kind == "more":
                self.more()
            elif kind == "open":
                self.open_review(content.get("image_id") or None)
            else:
                raise ValueError(f"unknown message kind {kind!r}")
        except Exception as error:
            self._report(error)

    def _report(self, error: BaseException) -> None:
        self.last_error = error
        log.warning("agreement view: %s: %s", type(error).__name__, error, exc_info=True)
        self.gallery.status = f"error: {error}"

    # -- grid ----------------------------------------------------------------------------------
    def _show_page(self, *, reset: bool) -> None:
        frame = self._selection
        end = min(frame.height, (0 if reset else self._shown) + self.page_size)
        rows = frame.head(end).to_dicts()
        t0 = time.perf_counter()
        thumbs = self._thumbnails([r["image_id"] for r in rows])
        self.timings["thumbs"] = time.perf_counter() - t0
        marked = self._marked()
        entries = []
        for r in rows:
            iid = r["image_id"]
            labels = [(x["annotator"], x["class_name"]) for x in r["labels"]]
            if self._target and self._target.get("kind") == "consensus":
                labels.append(("consensus", self._consensus_class(iid)))
            thumb = thumbs[iid]
            path = self._paths.get(iid)
            entries.append(GalleryEntry(
                image_id=iid, thumbnail=thumb if isinstance(thumb, Thumbnail) else None, labels=labels,
                marked=marked(labels), error=thumb if isinstance(thumb, str) else None,
                tooltip=f"{Path(path).name if path else iid}  ·  {iid[:12]}"))
        self._shown = end
        title, note = self._describe()
        self.gallery.show(title, entries, total=frame.height, note=note)

    def _marked(self) -> Callable[[Sequence[tuple[str, str]]], list[str]]:
        t = self._target or {}
        kind = t.get("kind")
        if kind == "pair":
            names = {t["annotator_a"], t["annotator_b"]}
            return lambda labels: [a for a, _ in labels if a in names]
        if kind in ("consensus", "alert"):
            return lambda labels: [a for a, _ in labels if a in (t["annotator"], "consensus")]
        if kind == "pooled":
            classes = {t["class_a"], t["class_b"]}
            return lambda labels: [a for a, c in labels if c in classes]
        return lambda labels: []

    def _consensus_class(self, image_id: str) -> str:
        if not hasattr(self, "_consensus_map"):
            c = self.report.consensus
            self._consensus_map = dict(zip(c["item"].cast(pl.String).to_list(), c["class_name"].to_list()))
        return str(self._consensus_map.get(image_id) or "?")

    def _thumbnails(self, ids: list[str]) -> dict[str, Thumbnail | str]:
        """Encoded thumbnails (or why not), from the cache or encoded in parallel."""
        todo = [i for i in ids if i not in self._thumbs]
        side = min(2 * self.thumb_size, 512)

        def encode(image_id: str) -> Thumbnail | str:
            path = self._paths.get(image_id)
            if path is None:
                return "image not registered"
            try:
                thumb = make_thumbnail(path, image_id=image_id, max_side=side, quality=80)
            except (OSError, ValueError) as error:
                return f"cannot read {Path(path).name}: {error}"
            # changed, missing or too large: the gallery's error tile says why
            return f"cannot read {Path(path).name}: {thumb.placeholder}" if thumb.placeholder else thumb

        for image_id, thumb in zip(todo, self._pool.map(encode, todo)):
            self._thumbs[image_id] = thumb
        out = {}
        for i in ids:
            self._thumbs.move_to_end(i)
            out[i] = self._thumbs[i]
        while len(self._thumbs) > max(512, 2 * len(ids)):
            self._thumbs.popitem(last=False)
        return out

    def _describe(self) -> tuple[str, str]:
        """Title and note of the grid for the current target."""
        t = self._target or {}
        n = self._selection.height
        imgs = f"{n} image{'s' if n != 1 else ''}"
        kind = t.get("kind")
        if kind == "pair" and t.get("class_a") is None:
            a, b = t["annotator_a"], t["annotator_b"]
            r = self.report.pairwise.filter((pl.col("annotator_a") == a) & (pl.col("annotator_b") == b))
            extra = (f" · κ {_fmt(r['kappa'][0])} on {r['n_shared'][0]} images both labelled" if r.height else "")
            return f"{a} and {b} disagree", imgs + extra
        if kind == "pair":
            a, b, ca, cb = t["annotator_a"], t["annotator_b"], t["class_a"], t["class_b"]
            return f"{a} said “{ca}”, {b} said “{cb}”", imgs
        if kind == "pooled":
            ca, cb = t["class_a"], t["class_b"]
            pairs = int(self._selection["n_pairs"].sum()) if n else 0
            head = (f"Two annotators both said “{ca}”" if ca == cb
                    else f"One annotator said “{ca}”, another “{cb}”")
            return head, f"{imgs} · {pairs} label pairs (all annotator pairs pooled)"
        if kind == "consensus":
            return (f"{t['annotator']} differs from the {self.report.meta['consensus']} consensus",
                    f"{imgs} rated by two or more annotators")
        if kind == "window":
            start = self._window_x(pl.Series([t["window_start"]]))[0]
            return f"Disputed images first labelled in the window from {start[:10]} ({self.every})", imgs
        if kind == "alert":
            start = self._window_x(pl.Series([t["window_start"]]))[0]
            a = self._alerts.row(int(t["alert"]), named=True) if "alert" in t else {}
            instead = f", mostly “{a['confused_with']}” instead" if a.get("confused_with") else ""
            tax = f" · nearest taxonomy change v{a['taxonomy_version']}" if a.get("taxonomy_version") else ""
            return (f"Label drift: from {start[:10]}, {t['annotator']} did not say “{t['class_name']}” "
                    f"where others did{instead}",
                    f"{imgs} · agreement on “{t['class_name']}” {_fmt(a.get('agreement_before'))} → "
                    f"{_fmt(a.get('agreement_after'))}{tax}")
        return "", imgs
