"""``cv.agreement_view(ws)``: where annotators disagree, on what and since when, with the images.

One plotly ``FigureWidget`` holds three views of :meth:`Workspace.agreement
<jupyter_cvops.workspace.Workspace.agreement>`:

- annotator x annotator Cohen's kappa (the diagonal: each annotator against the consensus),
- class x class confusion, pooled over all annotator pairs or for one pair (the picker
  above the figure, or click a kappa cell),
- agreement per time window with the label-drift alerts marked (red triangles, dashed
  lines) and taxonomy changes (dotted lines), and below it each annotator's share of one
  class per window (the class of the alert clicked last).

Clicking a cell drills down: the images behind it (computed by the pure functions of
:mod:`jupyter_cvops.reviews._drilldown` from the same labels the report counted) appear as a
thumbnail grid (:class:`~jupyter_cvops.widgets._gallery.Gallery`) with every annotator's
label; "Open in review" (or a click on a thumbnail) opens :func:`cv.review
<jupyter_cvops.widgets.review.review>` on exactly those images, below the grid.

==========================  ================================================================
click                       drill-down (``view.target["kind"]``)
==========================  ================================================================
kappa cell A x B            images A and B both labelled and disagree on (``pair``); the
                            confusion heatmap switches to the pair A x B
kappa diagonal A            images where A differs from the consensus (``consensus``)
confusion cell X x Y        pooled: two annotators said X and Y (``pooled``); for a pair:
                            A said X and B said Y (``pair`` with classes)
agreement point of a week   disputed images first labelled that week (``window``)
alert triangle              from the alert's week on, the others said X and the drifting
                            annotator did not (``alert``)
==========================  ================================================================

The widgets only display and collect: clicks arrive in Python (plotly's ``on_click`` for
the figure, ``model.send`` for the grid), Python computes the drill-down and sends
thumbnails back as one binary buffer.

Examples
--------
>>> import jupyter_cvops as cv                             # doctest: +SKIP
>>> view = cv.agreement_view(ws)                           # doctest: +SKIP
>>> view                                                   # doctest: +SKIP
>>> view.selected[:3]                                      # doctest: +SKIP
['0037e549e052...', ...]
>>> view.select_pair("ana", "ben").height                  # doctest: +SKIP
163
"""

from __future__ import annotations

import html
import logging
import os
import time
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal

import ipywidgets
import numpy as np
import plotly.graph_objects as go
import polars as pl

from ..reviews._drilldown import DRILL_SCHEMA, drill_down, rating_table
from ..images._thumbnails import Thumbnail
from ._agreement_clicks import _ClicksMixin
from ._agreement_figure import (  # noqa: F401  (ALERT_*, TREND and the formatters are re-exported)
    ALERT_COLOR,
    ALERT_STEP,
    ALERT_Y,
    EMPTY_TEXT,
    PALETTE,
    TREND,
    _axis_refs,
    _FigureMixin,
    _fmt,
    _nan_to_none,
)
from ._display import bundle_with_repr
from ._gallery import Gallery

if TYPE_CHECKING:
    from ..agreement.metrics import AgreementReport
    from ..workspace import Workspace
    from .review import ReviewSession

__all__ = ["AgreementView", "agreement_view"]

log = logging.getLogger(__name__)


class AgreementView(_FigureMixin, _ClicksMixin):
    """Agreement heatmaps, the trend with drift alerts and a drill-down grid for one workspace.

    The object :func:`agreement_view` returns; displaying it (last expression of a cell,
    or ``display(view)``) shows the widgets. Python and the widgets share one state:
    clicks in the figure fill :attr:`selected`, and ``view.select_...(...)`` draws the
    same drill-down a click would.

    Parameters
    ----------
    ws
        The workspace (its image-level labels, under the current taxonomy).
    images
        Restrict to these images: a polars expression on :meth:`Workspace.images`, or ids.
    every
        Time window of the trend (a polars duration: ``"1w"``, ``"1d"``, ...).
    consensus
        ``"dawid-skene"`` or ``"majority"``: the consensus of the kappa diagonal.
    bootstrap, seed
        Bootstrap replicates (and seed) for the confidence interval of alpha in the summary.
    pair
        Annotator pair whose confusion the class heatmap shows first (default: pooled).
    page_size
        Thumbnails per page of the grid ("Show more" loads the next page).
    thumb_size
        Width of a tile in CSS pixels (thumbnails are encoded at twice that, at most).
    reviewer
        Reviewer recorded by the review widget opened from the grid (default
        ``$CVOPS_USER`` or the login name).
    **options
        More options of :func:`~jupyter_cvops.agreement.agreement_report` (e.g.
        ``significance=``, ``min_drop=``).

    Attributes
    ----------
    report
        The :class:`~jupyter_cvops.agreement.AgreementReport` on display.
    figure
        The plotly ``FigureWidget`` (heatmaps and trend).
    gallery
        The drill-down grid widget.
    pair_picker
        Dropdown choosing the pair of the confusion heatmap.
    widget
        The whole layout (an ``ipywidgets.VBox``).
    review_session
        The :class:`~jupyter_cvops.widgets.review.ReviewSession` opened from the grid, if any.
    timings
        Seconds spent building: ``report``, ``table``, ``figure``, ``widgets``, and
        ``drill`` / ``thumbs`` of the last drill-down.
    last_error
        The last error raised while handling a click (also shown in the grid).

    Examples
    --------
    >>> view = AgreementView(ws, every="1w")            # doctest: +SKIP
    >>> view.select_alert(0)["image_id"].len()          # doctest: +SKIP
    39
    """

    def __init__(
        self,
        ws: Workspace,
        *,
        images: pl.Expr | Iterable[str] | None = None,
        every: str = "1w",
        consensus: Literal["dawid-skene", "majority"] = "dawid-skene",
        bootstrap: int = 1000,
        seed: int = 0,
        pair: tuple[str, str] | None = None,
        page_size: int = 48,
        thumb_size: int = 128,
        reviewer: str | None = None,
        **options: Any,
    ) -> None:
        if page_size < 1:
            raise ValueError(f"page_size must be >= 1, not {page_size}")
        if not 32 <= thumb_size <= 512:
            raise ValueError(f"thumb_size must be in 32..512 pixels, not {thumb_size}")
        self.ws = ws
        self.every = every
        self.page_size = int(page_size)
        self.thumb_size = int(thumb_size)
        self.reviewer = reviewer
        self.last_error: BaseException | None = None
        self.review_session: ReviewSession | None = None
        self._review_ids: list[str] = []
        self.timings: dict[str, float] = {}
        if images is not None and not isinstance(images, pl.Expr):
            images = [str(i) for i in images]  # read once: the report and the drill-down both use it

        t0 = time.perf_counter()
        self.report: AgreementReport = ws.agreement(
            kind="image", images=images, consensus=consensus, bootstrap=bootstrap, every=every, seed=seed,
            **options)
        t1 = time.perf_counter()
        self._table = rating_table(self._labels(images))
        self._paths = self._image_paths()
        t2 = time.perf_counter()

        self.annotators: tuple[str, ...] = tuple(self.report.meta["annotators"])
        self.classes: tuple[str, ...] = self._class_order()
        self._colors = self._class_colors()
        self._ann_colors = {a: PALETTE[i % len(PALETTE)] for i, a in enumerate(self.annotators)}
        self._pairs = [(a, b) for a, b, n in self.report.pairwise.select(
            "annotator_a", "annotator_b", "n_shared").iter_rows() if n > 0]
        self._pair = self._check_pair(pair)
        self._windows = self.report.windows
        self._alerts = self.report.alerts
        self._focus = self._alerts["class_name"][0] if self._alerts.height else None

        self._target: dict[str, Any] | None = None
        self._selection = pl.DataFrame(schema={**DRILL_SCHEMA, "first_label_at": self._table.schema["created_at"]})
        self._shown = 0
        self._thumbs: OrderedDict[str, Thumbnail | str] = OrderedDict()
        self._pool = ThreadPoolExecutor(max_workers=max(1, min(4, os.cpu_count() or 1)),
                                        thread_name_prefix="cvops-agreement-thumbs")

        self.figure = go.FigureWidget(self._build_figure())
        self._wire_clicks()
        t3 = time.perf_counter()

        self.summary = ipywidgets.HTML(self._summary_html())
        self.pair_picker = ipywidgets.Dropdown(
            options=[("all pairs (pooled)", None)] + [(f"{a} × {b}", (a, b)) for a, b in self._pairs],
            value=self._pair, description="confusion:", layout=ipywidgets.Layout(width="280px"))
        self.pair_picker.observe(self._on_pair_picked, names="value")
        self.gallery = Gallery(class_colors=self._colors, thumb_size=self.thumb_size, empty_text=EMPTY_TEXT)
        self.gallery.on_msg(self._on_gallery_msg)
        self.review_box = ipywidgets.VBox()
        self.widget = ipywidgets.VBox(
            [self.summary, self.pair_picker, self.figure, self.gallery, self.review_box],
            layout=ipywidgets.Layout(width="100%"))
        self.widget.add_class("cvops-agreement-view")
        t4 = time.perf_counter()
        self.timings.update(report=t1 - t0, table=t2 - t1, figure=t3 - t2, widgets=t4 - t3)

    # -- user-facing ------------------------------------------------------------------------
    @property
    def selected(self) -> list[str]:
        """Image ids of the current drill-down (all of them, shown in the grid or not), in order.

        Examples
        --------
        >>> view.selected[:2]                   # doctest: +SKIP
        ['99feccbda8f2...', '25c174e9a55a...']
        """
        return self._selection["image_id"].to_list()

    @property
    def selection(self) -> pl.DataFrame:
        """The current drill-down: ``image_id, n_pairs, first_label_at, labels`` and ``path``.

        Examples
        --------
        >>> view.selection.select("image_id", "labels").head()   # doctest: +SKIP
        """
        paths = pl.Series("path", [self._paths.get(i) for i in self.selected], dtype=pl.String)
        return self._selection.with_columns(paths)

    @property
    def target(self) -> dict[str, Any] | None:
        """What the current drill-down is (a :func:`~jupyter_cvops.reviews._drilldown.drill_down` target), or None.

        Examples
        --------
        >>> view.target                         # doctest: +SKIP
        {'kind': 'pair', 'annotator_a': 'ana', 'annotator_b': 'ben'}
        """
        return None if self._target is None else dict(self._target)

    @property
    def pair(self) -> tuple[str, str] | None:
        """The annotator pair the confusion heatmap shows (None: pooled over all pairs).

        Examples
        --------
        >>> view.pair                           # doctest: +SKIP
        ('ana', 'ben')
        """
        return self._pair

    def select(self, target: dict[str, Any]) -> pl.DataFrame:
        """Drill down into ``target`` (see :func:`~jupyter_cvops.reviews._drilldown.drill_down`) and show it.

        Examples
        --------
        >>> view.select({"kind": "pooled", "class_a": "dent", "class_b": "scratch"})   # doctest: +SKIP
        """
        t0 = time.perf_counter()
        frame = drill_down(self._table, target, consensus=self.report.consensus, every=self.every)
        self.timings["drill"] = time.perf_counter() - t0
        self._target, self._selection, self._shown = dict(target), frame, 0
        self._highlight()
        self._show_page(reset=True)
        return self.selection

    def select_pair(self, annotator_a: str, annotator_b: str) -> pl.DataFrame:
        """What a click on the kappa cell does: images A and B disagree on (A == B: A vs the consensus).

        Also switches the confusion heatmap to the pair.

        Examples
        --------
        >>> view.select_pair("ana", "ben").height     # doctest: +SKIP
        163
        """
        for a in (annotator_a, annotator_b):
            if a not in self.annotators:
                raise ValueError(f"unknown annotator {a!r}; annotators are {list(self.annotators)}")
        if annotator_a == annotator_b:
            return self.select({"kind": "consensus", "annotator": annotator_a})
        a, b = sorted((annotator_a, annotator_b))
        if (a, b) in self._pairs:
            self.show_pair(a, b)
        return self.select({"kind": "pair", "annotator_a": a, "annotator_b": b})

    def select_confusion(self, class_a: str, class_b: str) -> pl.DataFrame:
        """What a click on the confusion cell (row ``class_a``, column ``class_b``) does, for the
        pair shown (:attr:`pair`) or pooled.

        Examples
        --------
        >>> view.select_confusion("dent", "scratch").height   # doctest: +SKIP
        """
        for c in (class_a, class_b):
            if c not in self.classes:
                raise ValueError(f"unknown class {c!r}; classes are {list(self.classes)}")
        if self._pair is None:
            return self.select({"kind": "pooled", "class_a": class_a, "class_b": class_b})
        a, b = self._pair
        return self.select({"kind": "pair", "annotator_a": a, "annotator_b": b, "class_a": class_a,
                            "class_b": class_b})

    def select_window(self, window: int | datetime) -> pl.DataFrame:
        """What a click on the trend does: disputed images first labelled in that window.

        Parameters
        ----------
        window
            Position in ``report.windows`` (negative counts from the end) or its ``window_start``.

        Examples
        --------
        >>> view.select_window(-1).height        # doctest: +SKIP
        """
        starts = self._windows["window_start"]
        if isinstance(window, datetime):
            matches = [i for i, s in enumerate(starts.to_list()) if s == window]
            if not matches:
                raise ValueError(f"no window starts at {window}; windows start at {starts.to_list()}")
            window = matches[0]
        n = starts.len()
        if not -n <= window < n:
            raise IndexError(f"window {window} out of range for {n} windows")
        return self.select({"kind": "window", "window_start": starts[window % n]})

    def select_alert(self, index: int = 0) -> pl.DataFrame:
        """What a click on an alert marker does: the images behind ``report.alerts`` row ``index``.

        Also shows that class's share per annotator under the trend.

        Examples
        --------
        >>> view.select_alert(0).height          # doctest: +SKIP
        39
        """
        n = self._alerts.height
        if not -n <= index < n:
            raise IndexError(f"alert {index} out of range for {n} alerts")
        a = self._alerts.row(index % n, named=True)
        self.focus_class(a["class_name"])
        return self.select({"kind": "alert", "annotator": a["annotator"], "class_name": a["class_name"],
                            "window_start": a["window_start"], "compared_with": a["compared_with"],
                            "alert": index % n})

    def show_pair(self, annotator_a: str | None = None, annotator_b: str | None = None) -> None:
        """Show the confusion of one annotator pair (rows: A's class), or pooled (no arguments).

        Examples
        --------
        >>> view.show_pair("ana", "chloe"); view.show_pair()   # doctest: +SKIP
        """
        pair = None if annotator_a is None and annotator_b is None else self._check_pair((annotator_a, annotator_b))
        if pair != self._pair:
            self._pair = pair
            self._draw_confusion()
            self._highlight()
        if self.pair_picker.value != pair:
            self.pair_picker.value = pair

    def focus_class(self, class_name: str) -> None:
        """Show each annotator's share of ``class_name`` per window under the trend.

        Examples
        --------
        >>> view.focus_class("dent")             # doctest: +SKIP
        """
        if class_name not in self.classes:
            raise ValueError(f"unknown class {class_name!r}; classes are {list(self.classes)}")
        self._focus = class_name
        self._draw_shares()

    def more(self) -> int:
        """Load the next page of thumbnails into the grid; returns how many are shown.

        Examples
        --------
        >>> view.more()                          # doctest: +SKIP
        96
        """
        self._show_page(reset=False)
        return self._shown

    def clear(self) -> None:
        """Drop the drill-down (empty grid, no highlighted cell).

        Examples
        --------
        >>> view.clear(); view.selected          # doctest: +SKIP
        []
        """
        self._target, self._shown = None, 0
        self._selection = self._selection.clear()
        self._highlight()
        self.gallery.clear(EMPTY_TEXT)

    def open_review(self, image_id: str | None = None) -> ReviewSession:
        """Open the review widget on the drill-down's images (below the grid), at ``image_id``.

        Returns
        -------
        ReviewSession
            Also kept as :attr:`review_session`; a previous one is closed.

        Examples
        --------
        >>> session = view.open_review()        # doctest: +SKIP
        >>> session.decisions                   # doctest: +SKIP
        """
        from ._review_below import review_below
        from .review import ReviewSession

        ids = self.selected
        if not ids:
            raise ValueError("nothing to review: drill down into a cell first")
        if image_id is not None and image_id not in ids:
            raise ValueError(f"image {image_id!r} is not in the current drill-down")
        session = review_below(self, ids, lambda: ReviewSession(self.ws, queue=ids, reviewer=self.reviewer),
                               f"<b>Reviewing</b> {html.escape(self.gallery.title)} ({len(ids)} images)")
        if image_id is not None:
            session.goto(ids.index(image_id))
        return session

    def close(self) -> None:
        """Close the widgets and the review session, and stop the thumbnail threads.

        Examples
        --------
        >>> view.close()                        # doctest: +SKIP
        """
        if self.review_session is not None:
            self.review_session.close()
        self._pool.shutdown(wait=False, cancel_futures=True)
        for w in (self.summary, self.pair_picker, self.figure, self.gallery, self.review_box, self.widget):
            w.close()

    def _repr_mimebundle_(self, **kwargs: Any) -> tuple[dict[str, Any], dict[str, Any]] | None:
        return bundle_with_repr(self.widget, self, **kwargs)

    def __repr__(self) -> str:
        r = self.report
        alpha = r.metric("krippendorff_alpha")
        drilled = f", drill-down {len(self.selected)} images" if self._target is not None else ""
        return (f"<AgreementView {self.ws.uri}: {r.meta['n_items']} images, {len(self.annotators)} annotators, "
                f"alpha {_fmt(alpha, 3)}, {r.alerts.height} drift alerts{drilled}>")

    # -- data --------------------------------------------------------------------------------
    def _labels(self, images: pl.Expr | Iterable[str] | None) -> pl.DataFrame:
        """The labels :meth:`Workspace.agreement` reads (same filters)."""
        anns = self.ws.annotations().filter(pl.col("class_name").is_not_null())
        if images is not None:
            ids = (self.ws.images().filter(images)["image_id"] if isinstance(images, pl.Expr)
                   else pl.Series(list(images), dtype=pl.String))
            anns = anns.filter(pl.col("image_id").is_in(ids.implode()))
        return anns

    def _image_paths(self) -> dict[str, str]:
        ids = self._table["image_id"].unique()
        imgs = self.ws.images().select("image_id", "path").filter(pl.col("image_id").is_in(ids.implode()))
        return dict(imgs.iter_rows())

    def _class_order(self) -> tuple[str, ...]:
        """Classes of the report, in taxonomy order (then any others, sorted)."""
        present = list(self.report.meta["classes"])
        if self.ws.taxonomy.version == 0:
            return tuple(present)
        names = self.ws.taxonomy.classes()["name"].to_list()
        return tuple([c for c in names if c in present] + sorted(set(present) - set(names)))

    def _class_colors(self) -> dict[str, str]:
        colors: dict[str, str] = {}
        if self.ws.taxonomy.version:
            for name, color in self.ws.taxonomy.classes().select("name", "color").iter_rows():
                if color:
                    colors[name] = color
        for i, c in enumerate(self.classes):
            colors.setdefault(c, PALETTE[i % len(PALETTE)])
        return colors

    def _check_pair(self, pair: Sequence[str | None] | None) -> tuple[str, str] | None:
        if pair is None:
            return None
        if len(pair) != 2 or pair[0] is None or pair[1] is None:
            raise ValueError(f"pair must name two annotators, not {pair!r}")
        a, b = sorted((str(pair[0]), str(pair[1])))
        if (a, b) not in self._pairs:
            raise ValueError(f"{a} and {b} share no image (or are unknown); pairs are {self._pairs}")
        return a, b

    def _confusion(self) -> np.ndarray:
        """The class x class matrix shown (rows: class_a), in :attr:`classes` order."""
        k = len(self.classes)
        pos = {c: i for i, c in enumerate(self.classes)}
        if self._pair is None:
            frame = self.report.confusion_pooled
        else:
            a, b = self._pair
            frame = self.report.confusion_pairs.filter((pl.col("annotator_a") == a) & (pl.col("annotator_b") == b))
        mat = np.zeros((k, k), dtype=np.int64)
        for ca, cb, n in frame.select("class_a", "class_b", "n").iter_rows():
            mat[pos[ca], pos[cb]] = n
        return mat



def agreement_view(
    ws: Workspace,
    *,
    images: pl.Expr | Iterable[str] | None = None,
    every: str = "1w",
    consensus: Literal["dawid-skene", "majority"] = "dawid-skene",
    bootstrap: int = 1000,
    seed: int = 0,
    pair: tuple[str, str] | None = None,
    page_size: int = 48,
    thumb_size: int = 128,
    reviewer: str | None = None,
    **options: Any,
) -> AgreementView:
    """Show where the annotators of ``ws`` disagree, with the images behind every cell.

    Heatmaps of annotator x annotator kappa and class x class confusion (pooled or one
    pair), agreement per time window with label-drift alerts and taxonomy changes marked;
    click a cell, a point or an alert to see its images, then open them in the review
    widget. See :mod:`jupyter_cvops.widgets.agreement_view` for what each click selects and
    :class:`AgreementView` for the parameters.

    Returns
    -------
    AgreementView
        Display it to show the widgets; ``.selected`` (image ids of the drill-down),
        ``.selection``, ``.report``, ``.select_pair(...)``, ``.select_confusion(...)``,
        ``.select_window(...)``, ``.select_alert(...)``, ``.show_pair(...)`` and
        ``.open_review()`` work from Python.

    Examples
    --------
    >>> import jupyter_cvops as cv
    >>> view = cv.agreement_view(ws)                       # doctest: +SKIP
    >>> view                                               # doctest: +SKIP
    >>> view.select_alert(0); view.selected[:3]            # doctest: +SKIP
    """
    return AgreementView(ws, images=images, every=every, consensus=consensus, bootstrap=bootstrap, seed=seed,
                         pair=pair, page_size=page_size, thumb_size=thumb_size, reviewer=reviewer, **options)
