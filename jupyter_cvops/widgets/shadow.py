"""``cv.shadow_view(ws, report)``: a shadow report as a flip-matrix heatmap and a disagreement gallery.

Two objects, as in the rest of :mod:`jupyter_cvops.widgets`:

- :class:`ShadowWidget`, the anywidget: traits and messages only. It draws the flip matrix
  (production class by row, candidate class by column, counts; the diagonal, where the models
  agree, muted) and a gallery of the disagreements, worst first: each image's thumbnail, both
  models' answers and scores, and the reviewed label if there is one. Thumbnails arrive as one
  binary buffer (``thumbs``) that tiles slice by ``offset`` and ``length``; workspace strings
  are written as text, never as markup. It computes nothing.
- :class:`ShadowView`, the facade :func:`shadow_view` returns: it hands the widget the report's
  numbers (:mod:`~jupyter_cvops.widgets._shadow_payload`), answers a clicked cell with that
  cell's disagreements (the browser writes ``cell``), and opens the review widget below
  (``cv.review(ws, queue=<the selection>)``, as the agreement and lineage views do).

The browser writes ``cell`` (``[production_class, candidate_class]``; ``[]``: every
disagreement) and sends (``model.send``)::

    {"kind": "open", "image_id": "..."}   a tile was clicked (Enter on it): review the selection at it
    {"kind": "open_selection"}            "Open in review": the selection, worst first
    {"kind": "more"}                      "Show more": the next page of tiles

Examples
--------
>>> import jupyter_cvops as cv                                                   # doctest: +SKIP
>>> rep = ws.shadow("defect-clf", candidate="defect-clf@candidate")            # doctest: +SKIP
>>> view = cv.shadow_view(ws, rep)                                              # doctest: +SKIP
>>> view.filter("ok", "dent"); view.open_review()                               # doctest: +SKIP
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import anywidget
import polars as pl
import traitlets

from ._bundle import _Bundle
from ._shadow_payload import TILE_COLUMNS, flip_matrix, tiles
from ._view import _ReviewHostView, check_thumb_size, thumb_pack

if TYPE_CHECKING:
    from ..shadow.report import ShadowReport
    from ..workspace import Workspace
    from .review import ReviewSession

__all__ = ["ShadowView", "ShadowWidget", "shadow_view"]

#: Report attributes the view reads (the shadow contract).
NEEDS = ("name", "production_version", "candidate_version", "classes", "n", "agreement", "agreement_ci", "kappa",
         "flips", "disagreements", "alert", "summary")


class ShadowWidget(anywidget.AnyWidget):
    """Browser half of the shadow view: synced traits and messages, no store access.

    Make one with :func:`shadow_view`, which wires it to a :class:`ShadowView`; on its own it
    displays whatever its traits hold.

    Traits (all synced, snake_case on both sides): ``summary`` (the report's sentence),
    ``alert``, ``header`` (model, versions, agreement and kappa, formatted), ``classes`` and
    ``matrix`` (flip counts, rows production, columns candidate), ``cell`` (the filter; written
    by the browser), ``items`` (the tiles shown, see
    :mod:`~jupyter_cvops.widgets._shadow_payload`), ``thumbs`` (their thumbnails, one buffer),
    ``total`` (disagreements in the selection, shown or not), ``selected`` (image ids opened in
    review; written by the kernel), ``class_colors``, ``thumb_size`` and ``status``.

    Examples
    --------
    >>> w = ShadowWidget(summary="nothing yet")     # doctest: +SKIP
    >>> w.matrix                                     # doctest: +SKIP
    []
    """

    _esm = _Bundle("shadow.js")
    _css = _Bundle("shadow.css")

    summary = traitlets.Unicode("").tag(sync=True)
    alert = traitlets.Bool(False).tag(sync=True)
    header = traitlets.Dict().tag(sync=True)
    classes = traitlets.List(traitlets.Unicode()).tag(sync=True)
    matrix = traitlets.List(traitlets.List(traitlets.Int())).tag(sync=True)
    cell = traitlets.List(traitlets.Unicode()).tag(sync=True)
    items = traitlets.List(traitlets.Dict()).tag(sync=True)
    thumbs = traitlets.Bytes(b"").tag(sync=True)
    total = traitlets.Int(0).tag(sync=True)
    selected = traitlets.List(traitlets.Unicode()).tag(sync=True)
    class_colors = traitlets.Dict().tag(sync=True)
    thumb_size = traitlets.Int(128).tag(sync=True)
    status = traitlets.Unicode("").tag(sync=True)


class ShadowView(_ReviewHostView):
    """A shadow report on display: the flip matrix, the disagreements, a way into review.

    Parameters
    ----------
    ws
        The workspace.
    report
        What ``ws.shadow(...)`` returned (a :class:`~jupyter_cvops.shadow.report.ShadowReport`).
    page
        Tiles sent to the browser at a time ("Show more" sends the next page).
    thumb_size
        Width of a tile in CSS pixels (thumbnails encoded at twice that).
    reviewer
        Recorded by the review widget opened from the view (default ``$CVOPS_USER`` or the login).

    Attributes
    ----------
    report : ShadowReport
    widget : ShadowWidget
    review_box : ipywidgets.VBox
        Below the widget: the review widget once opened.
    review_session : ReviewSession or None
    last_error : BaseException or None
        The last error raised while handling a click (also shown as the widget's status).

    Examples
    --------
    >>> view = ShadowView(ws, rep)                 # doctest: +SKIP
    >>> view.filter("ok", "dent").height           # doctest: +SKIP
    """

    label = "shadow view"

    def __init__(self, ws: Workspace, report: ShadowReport, *, page: int = 60, thumb_size: int = 128,
                 reviewer: str | None = None) -> None:
        missing = [a for a in NEEDS if not hasattr(report, a)]
        if missing:
            raise TypeError(f"shadow_view needs a ShadowReport (ws.shadow(...)); {type(report).__name__} lacks "
                            f"{', '.join(missing)}")
        if page < 1:
            raise ValueError(f"page must be >= 1, not {page}")
        check_thumb_size(thumb_size)
        absent = [c for c in TILE_COLUMNS if c not in report.disagreements.columns]
        if absent:
            raise ValueError(f"the report's disagreements lack the columns {absent}")
        self._host(ws, reviewer)
        self.report = report
        self.page = page
        self._shown = 0
        self._thumb_size = thumb_size
        classes, matrix = flip_matrix(report.flips, report.classes)
        self.widget = ShadowWidget(summary=str(report.summary), alert=bool(report.alert), header=self._header(),
                                   classes=classes, matrix=matrix, class_colors=self._class_colors(classes),
                                   thumb_size=thumb_size)
        self._show(reset=True)
        self.widget.observe(self._on_cell, names="cell")
        self._attach(self.widget, "cvops-shadow-view")

    # -- user-facing ------------------------------------------------------------------------
    @property
    def cell(self) -> tuple[str, str] | None:
        """The heatmap cell filtering the gallery (production class, candidate class), or None.

        Examples
        --------
        >>> view.cell                    # doctest: +SKIP
        ('ok', 'dent')
        """
        c = list(self.widget.cell)
        return (c[0], c[1]) if len(c) == 2 else None

    @property
    def selection(self) -> pl.DataFrame:
        """The disagreements of :attr:`cell` (all of them when no cell is chosen), worst first.

        Examples
        --------
        >>> view.selection.select("path", "production_class", "candidate_class")   # doctest: +SKIP
        """
        d = self.report.disagreements
        c = self.cell
        if c is None:
            return d
        return d.filter((pl.col("production_class") == c[0]) & (pl.col("candidate_class") == c[1]))

    @property
    def selected(self) -> list[str]:
        """Image ids last opened in review.

        Examples
        --------
        >>> view.selected                # doctest: +SKIP
        """
        return list(self.widget.selected)

    def filter(self, production_class: str | None = None, candidate_class: str | None = None) -> pl.DataFrame:
        """Show one heatmap cell's disagreements (both classes), or every disagreement (neither);
        returns :attr:`selection`.

        Examples
        --------
        >>> view.filter("ok", "dent")    # doctest: +SKIP
        >>> view.filter()                # doctest: +SKIP
        """
        if (production_class is None) != (candidate_class is None):
            raise ValueError("filter() takes both classes (a heatmap cell) or neither (every disagreement)")
        if production_class is None or candidate_class is None:
            self.widget.cell = []
        else:
            known = set(self.widget.classes)
            for c in (production_class, candidate_class):
                if c not in known:
                    raise ValueError(f"class {c!r} is not in the flip matrix; classes: {sorted(known)}")
            self.widget.cell = [production_class, candidate_class]
        return self.selection

    def open_review(self, ids: Sequence[str] | None = None, *, at: str | None = None) -> ReviewSession:
        """Open the review widget below the view on ``ids`` (default: :attr:`selection`'s images, worst first).

        Returns
        -------
        ReviewSession
            Also kept as :attr:`review_session`; opening the same images again keeps it.

        Examples
        --------
        >>> session = view.open_review()                 # doctest: +SKIP
        >>> session.decide("set", class_name="dent")     # doctest: +SKIP
        """
        from ._review_below import review_below
        from .review import review

        if isinstance(ids, str):
            raise TypeError("open_review() takes a sequence of image ids, not one string")
        sel = self.selection
        chosen = list(dict.fromkeys(str(i) for i in (sel["image_id"].drop_nulls().to_list() if ids is None else ids)))
        if not chosen:
            raise ValueError("nothing to review: the selection has no disagreement (click another cell)")
        if at is not None and at not in chosen:
            raise ValueError(f"image {at!r} is not among the images to review")
        paths = dict(self.report.disagreements.select("image_id", "path").iter_rows())
        files = [Path(str(paths[i])).name for i in chosen[:3] if paths.get(i)]
        more = f" and {len(chosen) - len(files)} more" if len(chosen) > len(files) and files else ""
        where = f"{self.cell[0]} \u2192 {self.cell[1]}" if self.cell else "every disagreement"
        n = len(chosen)
        session = review_below(self, chosen, lambda: review(self.ws, queue=chosen, reviewer=self.reviewer),
                               f"<b>Reviewing</b> {n} image{'s' if n != 1 else ''} of the shadow report "
                               f"({html.escape(where)}): {html.escape(', '.join(files))}{html.escape(more)}")
        if at is not None:
            session.goto(chosen.index(at))
        self.widget.selected = chosen
        self.widget.status = f"review of {n} image{'s' if n != 1 else ''} opened below"
        return session

    def more(self) -> int:
        """Send the next page of tiles; returns how many are shown now.

        Examples
        --------
        >>> view.more()                  # doctest: +SKIP
        120
        """
        self._show(reset=False)
        return self._shown

    def handle_message(self, content: dict[str, Any]) -> None:
        """Act on one message from the browser (see the module notes); errors propagate.

        Examples
        --------
        >>> view.handle_message({"kind": "open_selection"})   # doctest: +SKIP
        """
        kind = content.get("kind")
        if kind == "open":
            image_id = str(content.get("image_id") or "")
            if not image_id:
                raise ValueError("an open message names no image")
            self.open_review(at=image_id)
        elif kind == "open_selection":
            self.open_review()
        elif kind == "more":
            self.more()
        else:
            raise ValueError(f"unknown message kind {kind!r}")

    # -- display --------------------------------------------------------------------------
    def __repr__(self) -> str:
        where = f"{self.cell[0]} -> {self.cell[1]}" if self.cell else "all"
        return f"<ShadowView {self.report.summary} [{where}: {self.selection.height} disagreements]>"

    # -- internals ------------------------------------------------------------------------
    def _show(self, *, reset: bool) -> None:
        """Send the selection's first page (``reset``) or one page more."""
        sel = self.selection
        start = 0 if reset else self._shown
        end = min(sel.height, start + self.page)
        if not reset and start >= sel.height:
            return
        shown = sel.slice(0, end)
        pack = thumb_pack(self._thumb_size)
        items = tiles(shown, pack)
        with self.widget.hold_sync():
            self.widget.items = items
            self.widget.thumbs = pack.data
            self.widget.total = sel.height
            if reset:
                self.widget.status = ""
        self._shown = end

    def _on_cell(self, change: dict[str, Any]) -> None:
        try:
            c = list(change["new"])
            if c and (len(c) != 2 or any(x not in self.widget.classes for x in c)):
                raise ValueError(f"not a cell of the flip matrix: {c}")
            self._show(reset=True)
        except Exception as error:  # the user sees it in the widget
            self._show_error(error)

    def _header(self) -> dict[str, Any]:
        r = self.report
        lo, hi = r.agreement_ci

        def num(v: Any) -> float | None:
            return None if v is None or v != v else float(v)

        return {"name": str(r.name), "production": str(r.production_version)[:12],
                "candidate": str(r.candidate_version)[:12], "n": int(r.n), "agreement": num(r.agreement),
                "agreement_low": num(lo), "agreement_high": num(hi), "kappa": num(r.kappa),
                "n_disagreements": int(r.disagreements.height)}


def shadow_view(ws: Workspace, report: ShadowReport, *, page: int = 60, thumb_size: int = 128,
                reviewer: str | None = None) -> ShadowView:
    """Show a shadow report: the flip matrix as a heatmap and the disagreements as a gallery.

    The heatmap's rows are the production model's classes, its columns the candidate's; each
    cell counts the images moved from one to the other (the diagonal, where both agree, is
    muted). Click a cell to show only its disagreements, click it again for all of them. Each
    tile shows the image, both models' answers and scores and the reviewed label, if any.
    "Open in review" (or a click on a tile) opens the review widget below on the selection,
    worst first. See :class:`ShadowView` for the parameters.

    Returns
    -------
    ShadowView
        Display it to show the widget; ``.filter(...)``, ``.selection`` and ``.open_review()``
        work from Python.

    Examples
    --------
    >>> import jupyter_cvops as cv
    >>> rep = ws.shadow("defect-clf", candidate="defect-clf@candidate")   # doctest: +SKIP
    >>> view = cv.shadow_view(ws, rep)                                  # doctest: +SKIP
    >>> view                                                            # doctest: +SKIP
    """
    return ShadowView(ws, report, page=page, thumb_size=thumb_size, reviewer=reviewer)
