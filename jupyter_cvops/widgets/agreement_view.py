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
:mod:`jupyter_cvops._drilldown` from the same labels the report counted) appear as a
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
import math
import os
import time
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import nullcontext
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import ipywidgets
import numpy as np
import plotly.graph_objects as go
import polars as pl
from plotly.subplots import make_subplots

from .._drilldown import DRILL_SCHEMA, drill_down, rating_table
from .._thumbs import Thumbnail, make_thumbnail
from ._gallery import Gallery, GalleryEntry

if TYPE_CHECKING:
    from ..agreement import AgreementReport
    from ..workspace import Workspace
    from .review import ReviewSession

__all__ = ["AgreementView", "agreement_view"]

log = logging.getLogger(__name__)

#: Colors for classes the taxonomy gives none, and for annotators (cycled).
PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#17becf")
ALERT_COLOR = "#d62728"
#: Height of the alert markers on the agreement axis (above any agreement), and between stacked ones.
ALERT_Y, ALERT_STEP = 1.1, 0.08
EMPTY_TEXT = ("Click a heatmap cell, a point of the agreement trend or a red alert marker to see "
              "the images behind it.")
#: Trend lines: report column, legend name.
TREND = (("krippendorff_alpha", "Krippendorff's α"), ("mean_pairwise_kappa", "mean pairwise κ"),
         ("observed_agreement", "observed agreement"))


def _fmt(x: float | None, digits: int = 2) -> str:
    return "–" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.{digits}f}"


def _nan_to_none(values: Iterable[float | None]) -> list[float | None]:
    return [None if v is None or (isinstance(v, float) and math.isnan(v)) else float(v) for v in values]


def _axis_refs(fig: go.Figure, row: int, col: int) -> tuple[str, str]:
    """``("x3", "y3")``: the axis references of subplot (row, col)."""
    sp = fig.get_subplot(row, col)
    return sp.xaxis.plotly_name.replace("axis", ""), sp.yaxis.plotly_name.replace("axis", "")


class AgreementView:
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
        """What the current drill-down is (a :func:`~jupyter_cvops._drilldown.drill_down` target), or None.

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
        """Drill down into ``target`` (see :func:`~jupyter_cvops._drilldown.drill_down`) and show it.

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
        from .review import ReviewSession

        ids = self.selected
        if not ids:
            raise ValueError("nothing to review: drill down into a cell first")
        if image_id is not None and image_id not in ids:
            raise ValueError(f"image {image_id!r} is not in the current drill-down")
        if self.review_session is not None and self._review_ids == ids:
            session = self.review_session
        else:
            if self.review_session is not None:
                self.review_session.close()
            session = ReviewSession(self.ws, queue=ids, reviewer=self.reviewer)
            self.review_session, self._review_ids = session, ids
            head = ipywidgets.HTML(f"<b>Reviewing</b> {html.escape(self.gallery.title)} "
                                   f"({len(ids)} images)")
            self.review_box.children = (head, session.widget)
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

    def _repr_mimebundle_(self, **kwargs: Any) -> tuple[dict[str, Any], dict[str, Any]] | dict[str, Any] | None:
        bundle = self.widget._repr_mimebundle_(**kwargs)
        if bundle is None:
            return None
        if isinstance(bundle, tuple):
            data, meta = bundle
            return {**data, "text/plain": repr(self)}, meta
        return {**bundle, "text/plain": repr(self)}

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

    # -- figure ------------------------------------------------------------------------------
    def _has_trend(self) -> bool:
        return self._windows.height > 0

    def _build_figure(self) -> go.Figure:
        trend = self._has_trend()
        m, k = len(self.annotators), len(self.classes)
        if trend:
            fig = make_subplots(
                rows=3, cols=2, specs=[[{}, {}], [{"colspan": 2}, None], [{"colspan": 2}, None]],
                row_heights=[0.5, 0.3, 0.2], horizontal_spacing=0.16, vertical_spacing=0.1,
                subplot_titles=["κ", "confusion", f"Agreement per window ({self.every}{self._tz_note()})",
                                "share"])
        else:
            fig = make_subplots(rows=1, cols=2, horizontal_spacing=0.16, subplot_titles=["κ", "confusion"])
        self._refs = {"kappa": _axis_refs(fig, 1, 1), "confusion": _axis_refs(fig, 1, 2)}
        if trend:
            self._refs |= {"trend": _axis_refs(fig, 2, 1), "share": _axis_refs(fig, 3, 1)}
        self._title_index = {"kappa": 0, "confusion": 1, "share": 3}

        z, text, hover = self._kappa_cells()
        fig.add_trace(go.Heatmap(
            z=z, x=list(self.annotators), y=list(self.annotators), text=text, customdata=hover,
            texttemplate="%{text}", hovertemplate="%{customdata}<extra></extra>", coloraxis="coloraxis",
            name="kappa", xgap=2, ygap=2), row=1, col=1)
        fig.add_trace(go.Heatmap(
            z=[[0] * k] * k, x=list(self.classes), y=list(self.classes), texttemplate="%{text}",
            hovertemplate="%{customdata}<extra></extra>", coloraxis="coloraxis2", name="confusion",
            xgap=2, ygap=2), row=1, col=2)
        self._trace_index = {"kappa": 0, "confusion": 1}

        d1 = fig.layout[fig.get_subplot(1, 1).yaxis.plotly_name].domain
        x1 = fig.layout[fig.get_subplot(1, 1).xaxis.plotly_name].domain
        bar = {"len": d1[1] - d1[0], "y": (d1[0] + d1[1]) / 2, "yanchor": "middle", "thickness": 12}
        fig.update_layout(
            coloraxis={"colorscale": "RdYlGn", "cmin": 0.0, "cmax": 1.0,
                       "colorbar": {**bar, "x": x1[1] + 0.01, "title": {"text": "κ"}}},
            coloraxis2={"colorscale": "Blues", "cmin": 0,
                        "colorbar": {**bar, "x": 1.01, "title": {"text": "n"}}},
        )
        for name, (xr, yr) in (("kappa", self._refs["kappa"]), ("confusion", self._refs["confusion"])):
            fig.update_layout({f"xaxis{xr[1:]}": {"type": "category", "side": "bottom"},
                               f"yaxis{yr[1:]}": {"type": "category", "autorange": "reversed"}})
        xr, yr = self._refs["kappa"]
        fig.update_layout({f"xaxis{xr[1:]}": {"title": {"text": "annotator B"}},
                           f"yaxis{yr[1:]}": {"title": {"text": "annotator A"}}})
        fig.layout.annotations[0].text = "Cohen's κ (diagonal: each vs the consensus)"

        if trend:
            self._add_trend(fig)
        self._static_shapes = list(fig.layout.shapes or ())
        n_rows = 3 if trend else 1
        fig.update_layout(
            height=860 if trend else 420, margin={"l": 70, "r": 60, "t": 40, "b": 40},
            legend={"orientation": "h", "x": 0, "y": -0.06, "yanchor": "top"},
            hovermode="closest", clickmode="event", template="plotly_white", autosize=True,
            meta={"cvops": "agreement-view", "rows": n_rows})
        self._draw_confusion(fig)
        if trend:
            self._draw_shares(fig)
        return fig

    def _kappa_cells(self) -> tuple[list[list[float | None]], list[list[str]], list[list[str]]]:
        names = self.annotators
        pos = {a: i for i, a in enumerate(names)}
        m = len(names)
        z: list[list[float | None]] = [[None] * m for _ in range(m)]
        text = [[""] * m for _ in range(m)]
        hover = [[""] * m for _ in range(m)]
        for r in self.report.pairwise.iter_rows(named=True):
            i, j = pos[r["annotator_a"]], pos[r["annotator_b"]]
            k = r["kappa"]
            ok = k is not None and not math.isnan(k)
            ci = (f" [{_fmt(r.get('ci_low'))}, {_fmt(r.get('ci_high'))}]"
                  if r.get("ci_low") is not None and not math.isnan(r["ci_low"]) else "")
            for a, b in ((i, j), (j, i)):
                z[a][b] = float(k) if ok else None
                text[a][b] = _fmt(k)
                hover[a][b] = (f"<b>{html.escape(names[a])} × {html.escape(names[b])}</b><br>"
                               f"κ {_fmt(k, 3)}{ci} on {r['n_shared']} shared images<br>"
                               f"observed agreement {_fmt(r['observed_agreement'])}"
                               + (f"<br>{html.escape(r['reason'])}" if r["reason"] else "")
                               + "<br><i>click: the images they disagree on</i>")
        method = self.report.meta["consensus"]
        for r in self.report.annotators.iter_rows(named=True):
            i = pos[r["annotator"]]
            k = r["kappa_with_consensus"]
            z[i][i] = None if k is None or math.isnan(k) else float(k)
            text[i][i] = _fmt(k)
            hover[i][i] = (f"<b>{html.escape(names[i])} vs {method} consensus</b><br>κ {_fmt(k, 3)} on "
                           f"{r['n_compared']} images rated by 2+<br>agreement {_fmt(r['agreement_with_consensus'])}"
                           + (f"<br>{html.escape(r['reason'])}" if r["reason"] else "")
                           + "<br><i>click: where they differ from the consensus</i>")
        return z, text, hover

    def _draw_confusion(self, fig: go.Figure | None = None) -> None:
        fig = fig if fig is not None else self.figure
        mat = self._confusion()
        k = len(self.classes)
        off = mat[~np.eye(k, dtype=bool)]
        cmax = int(off.max()) if off.size and off.max() > 0 else max(1, int(mat.max()))
        cls = [html.escape(c) for c in self.classes]
        if self._pair is None:
            title = "Class confusion, pooled over annotator pairs (label pairs)"
            xt, yt = "class", "class"
            hover = [[(f"<b>{cls[i]} / {cls[j]}</b>: {mat[i, j]} label pairs"
                       + ("<br><i>click: images two annotators labelled so</i>" if mat[i, j] else ""))
                      for j in range(k)] for i in range(k)]
        else:
            a, b = (html.escape(x) for x in self._pair)
            title = f"Class confusion, {self._pair[0]} (rows) × {self._pair[1]} (columns)"
            xt, yt = f"{self._pair[1]}'s class", f"{self._pair[0]}'s class"
            hover = [[(f"<b>{a}: {cls[i]}, {b}: {cls[j]}</b><br>{mat[i, j]} images"
                       + ("<br><i>click: these images</i>" if mat[i, j] else ""))
                      for j in range(k)] for i in range(k)]
        xr, yr = self._refs["confusion"]
        with fig.batch_update() if isinstance(fig, go.FigureWidget) else nullcontext():
            tr = fig.data[self._trace_index["confusion"]]
            tr.z = mat.tolist()
            tr.text = [[str(int(v)) for v in row] for row in mat]
            tr.customdata = hover
            fig.layout.coloraxis2.cmax = cmax
            fig.layout.annotations[self._title_index["confusion"]].text = title
            fig.layout[f"xaxis{xr[1:]}"].title.text = xt
            fig.layout[f"yaxis{yr[1:]}"].title.text = yt

    def _window_x(self, starts: pl.Series) -> list[str]:
        """Window starts as plain date strings in the labels' zone (plotly ignores offsets)."""
        s = starts
        if getattr(s.dtype, "time_zone", None) is not None:
            s = s.dt.replace_time_zone(None)
        return s.dt.strftime("%Y-%m-%d %H:%M").to_list()

    def _add_trend(self, fig: go.Figure) -> None:
        w = self._windows
        xs = self._window_x(w["window_start"])
        ends = self._window_x(w["window_end"])
        xr, yr = self._refs["trend"]
        self._trace_index["trend"] = []
        for col, name in TREND:
            hover = [f"<b>{x[:10]} – {e[:10]}</b><br>{name} {_fmt(v, 3)}<br>{n} images, {nl} labels"
                     "<br><i>click: the disputed images of this window</i>"
                     for x, e, v, n, nl in zip(xs, ends, w[col].to_list(), w["n_items"].to_list(),
                                               w["n_labels"].to_list())]
            self._trace_index["trend"].append(len(fig.data))
            fig.add_trace(go.Scatter(
                x=xs, y=_nan_to_none(w[col].to_list()), mode="lines+markers", name=name, customdata=hover,
                hovertemplate="%{customdata}<extra></extra>", marker={"size": 8}, legendgroup="trend"),
                row=2, col=1)
        # Alerts fly above the lines (agreement <= 1), stacked per window, so a click on a
        # triangle never lands on a line's point of the same window.
        a = self._alerts
        ax = self._window_x(a["window_start"]) if a.height else []
        stack: dict[str, int] = {}
        ay = []
        for x in ax:
            ay.append(ALERT_Y + ALERT_STEP * stack.get(x, 0))
            stack[x] = stack.get(x, 0) + 1
        hover = [self._alert_hover(r) for r in a.iter_rows(named=True)]
        self._trace_index["alerts"] = len(fig.data)
        fig.add_trace(go.Scatter(
            x=ax, y=ay, mode="markers", name="label-drift alert", customdata=hover,
            hovertemplate="%{customdata}<extra></extra>",
            marker={"symbol": "triangle-down", "size": 18, "color": ALERT_COLOR, "line": {"width": 1, "color": "#fff"}},
            legendgroup="alerts"), row=2, col=1)
        shapes: list[dict[str, Any]] = []
        notes: list[dict[str, Any]] = []
        for x, y, r in zip(ax, ay, a.iter_rows(named=True)):
            for ref in ("trend", "share"):
                sx, sy = self._refs[ref]
                shapes.append({"type": "line", "xref": sx, "yref": f"{sy} domain", "x0": x, "x1": x, "y0": 0,
                               "y1": 1, "line": {"color": ALERT_COLOR, "width": 1.5, "dash": "dash"}})
            notes.append({"xref": xr, "yref": yr, "x": x, "y": y, "yanchor": "middle",
                          "xanchor": "left", "xshift": 12, "showarrow": False,
                          "font": {"color": ALERT_COLOR, "size": 11},
                          "text": f"⚠ {html.escape(r['annotator'])}: {html.escape(r['class_name'])}"
                                  + (f" → {html.escape(r['confused_with'])}" if r["confused_with"] else "")})
        for version, at in self._taxonomy_changes(w):
            x = self._window_x(pl.Series([at]))[0]
            for ref in ("trend", "share"):
                sx, sy = self._refs[ref]
                shapes.append({"type": "line", "xref": sx, "yref": f"{sy} domain", "x0": x, "x1": x, "y0": 0,
                               "y1": 1, "line": {"color": "#757575", "width": 1, "dash": "dot"}})
            notes.append({"xref": xr, "yref": f"{yr} domain", "x": x, "y": 0.02, "yanchor": "bottom",
                          "xanchor": "right", "xshift": -4, "showarrow": False,
                          "font": {"color": "#616161", "size": 10},
                          "text": f"taxonomy v{version}"})
        fig.update_layout(shapes=shapes)
        for n in notes:
            fig.add_annotation(n)
        lo = min([0.0] + [v for c, _ in TREND for v in _nan_to_none(w[c].to_list()) if v is not None])
        top = ALERT_Y + ALERT_STEP * max(stack.values(), default=0)
        fig.update_layout({f"yaxis{yr[1:]}": {"range": [lo - 0.02, top], "title": {"text": "agreement"},
                                              "tickvals": [round(t, 1) for t in np.arange(
                                                  math.floor(lo * 5) / 5, 1.01, 0.2)]},
                           f"xaxis{xr[1:]}": {"type": "date", "range": self._x_range()}})
        sx, sy = self._refs["share"]
        fig.update_layout({f"yaxis{sy[1:]}": {"range": [0, 1], "title": {"text": "share"}},
                           f"xaxis{sx[1:]}": {"type": "date", "matches": xr}})
        self._trace_index["share"] = []
        for ann in self.annotators:
            self._trace_index["share"].append(len(fig.data))
            fig.add_trace(go.Scatter(
                x=xs, y=[None] * len(xs), mode="lines+markers", name=ann, legendgroup="share",
                line={"color": self._ann_colors[ann], "width": 1.5}, marker={"size": 6},
                hovertemplate=f"{html.escape(ann)}: %{{y:.0%}}<extra></extra>"), row=3, col=1)

    def _tz_note(self) -> str:
        tz = getattr(self._windows.schema["window_start"], "time_zone", None)
        return f", {tz}" if tz else ""

    def _x_range(self) -> list[str]:
        """The trend's date range: the windows' starts, half a window of room on each side."""
        w = self._windows
        half = (w["window_end"][0] - w["window_start"][0]) / 2
        ends = pl.Series([w["window_start"][0] - half, w["window_start"][-1] + half])
        return self._window_x(ends)

    def _alert_hover(self, r: dict[str, Any]) -> str:
        who, cls = html.escape(r["annotator"]), html.escape(r["class_name"])
        instead = f" (mostly {html.escape(r['confused_with'])} instead)" if r["confused_with"] else ""
        tax = (f"<br>nearest taxonomy change: v{r['taxonomy_version']}"
               f" ({r['taxonomy_gap_days']:+.0f} days)" if r["taxonomy_version"] is not None else "")
        return (f"<b>label drift: {who} on {cls}</b><br>from {str(r['window_start'])[:10]}, {who} said {cls} less "
                f"often where others did{instead}<br>agreement {_fmt(r['agreement_before'])} → "
                f"{_fmt(r['agreement_after'])} (p = {r['p_value']:.1e}){tax}"
                "<br><i>click: the images behind it</i>")

    def _taxonomy_changes(self, w: pl.DataFrame) -> list[tuple[int, datetime]]:
        if self.ws.taxonomy.version < 2 or w.height == 0:
            return []
        hist = self.ws.taxonomy.history()
        tz = getattr(w.schema["window_start"], "time_zone", None)
        at = hist["created_at"]
        at = at.dt.convert_time_zone(tz) if tz is not None else at.dt.replace_time_zone(None)
        lo, hi = w["window_start"].min(), w["window_end"].max()
        return [(int(v), t) for v, t in zip(hist["version"].to_list(), at.to_list())
                if int(v) > 1 and lo <= t <= hi]  # type: ignore[operator]

    def _draw_shares(self, fig: go.Figure | None = None) -> None:
        if not self._has_trend():
            return
        fig = fig if fig is not None else self.figure
        focus = self._focus if self._focus is not None else self._default_focus()
        xs = self._window_x(self._windows["window_start"])
        freq = self.report.class_frequency.filter(pl.col("class_name") == focus)
        fx = self._window_x(freq["window_start"])
        share = {(x, a): s for x, a, s in zip(fx, freq["annotator"].to_list(), freq["share"].to_list())}
        with fig.batch_update() if isinstance(fig, go.FigureWidget) else nullcontext():
            for ann, i in zip(self.annotators, self._trace_index["share"]):
                fig.data[i].y = [share.get((x, ann)) for x in xs]
            fig.layout.annotations[self._title_index["share"]].text = (
                f"Share of “{html.escape(focus)}” in each annotator's labels per window")

    def _default_focus(self) -> str:
        pc = self.report.per_class.filter(pl.col("kappa").is_not_nan()).sort("kappa")
        return pc["class_name"][0] if pc.height else self.classes[0]

    def _highlight(self) -> None:
        """Outline the cell (or window) of the current drill-down."""
        t = self._target or {}
        shapes = list(self._static_shapes)
        box = {"type": "rect", "line": {"color": "#111", "width": 3}, "fillcolor": "rgba(0,0,0,0)"}
        kind = t.get("kind")
        pos_a = {a: i for i, a in enumerate(self.annotators)}
        pos_c = {c: i for i, c in enumerate(self.classes)}
        cell: tuple[str, int, int] | None = None
        if kind == "consensus":
            cell = ("kappa", pos_a[t["annotator"]], pos_a[t["annotator"]])
        elif kind == "pair" and t.get("class_a") is None:
            cell = ("kappa", pos_a[t["annotator_a"]], pos_a[t["annotator_b"]])
        elif (kind == "pooled" and self._pair is None) or (
                kind == "pair" and (t["annotator_a"], t["annotator_b"]) == self._pair):
            cell = ("confusion", pos_c[t["class_a"]], pos_c[t["class_b"]])  # only on the matrix it came from
        if cell is not None:
            xr, yr = self._refs[cell[0]]
            shapes.append({**box, "xref": xr, "yref": yr, "x0": cell[2] - 0.5, "x1": cell[2] + 0.5,
                           "y0": cell[1] - 0.5, "y1": cell[1] + 0.5})
        if kind in ("window", "alert") and self._has_trend():
            start = self._window_x(pl.Series([t["window_start"]]))[0]
            end = (self._window_x(self._windows["window_end"])[-1] if kind == "alert" else
                   self._window_x(pl.Series([t["window_start"]]).dt.offset_by(self.every))[0])
            xr, yr = self._refs["trend"]
            shapes.append({"type": "rect", "xref": xr, "yref": f"{yr} domain", "x0": start, "x1": end, "y0": 0,
                           "y1": 1, "fillcolor": "rgba(25,118,210,0.12)", "line": {"width": 0}, "layer": "below"})
        self.figure.layout.shapes = shapes

    # -- clicks ------------------------------------------------------------------------------
    def _wire_clicks(self) -> None:
        d = self.figure.data
        d[self._trace_index["kappa"]].on_click(self._guard(self._on_kappa_click))
        d[self._trace_index["confusion"]].on_click(self._guard(self._on_confusion_click))
        for i in self._trace_index.get("trend", []):
            d[i].on_click(self._guard(self._on_trend_click))
        if "alerts" in self._trace_index:
            d[self._trace_index["alerts"]].on_click(self._guard(self._on_alert_click))

    def _guard(self, handler: Any) -> Any:
        """plotly calls every trace's handlers on each click: act only on the clicked trace, and
        show errors in the grid (nothing else would show them)."""
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

    def _marked(self) -> Any:
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
                return make_thumbnail(path, max_side=side, quality=80)
            except (OSError, ValueError) as error:
                return f"cannot read {Path(path).name}: {error}"

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

    # -- summary -------------------------------------------------------------------------------
    def _summary_html(self) -> str:
        r = self.report
        o = {row["metric"]: row for row in r.overall.iter_rows(named=True)}
        alpha = o.get("krippendorff_alpha", {})
        ci = (f" [{_fmt(alpha.get('ci_low'), 3)}, {_fmt(alpha.get('ci_high'), 3)}]"
              if alpha.get("ci_low") is not None and not math.isnan(alpha["ci_low"]) else "")
        parts = [f"<b>Krippendorff's α {_fmt(alpha.get('value'), 3)}</b>{ci}",
                 f"Fleiss' κ {_fmt(o.get('fleiss_kappa', {}).get('value'), 3)}",
                 f"mean pairwise κ {_fmt(o.get('mean_pairwise_kappa', {}).get('value'), 3)}",
                 f"{r.meta['n_items']:,} images", f"{r.meta['n_labels']:,} labels",
                 f"{len(self.annotators)} annotators", f"consensus: {html.escape(r.meta['consensus'])}"]
        n_alerts = r.alerts.height
        alerts = (f"<span style='color:{ALERT_COLOR}'><b>{n_alerts} label-drift alert{'s' if n_alerts != 1 else ''}"
                  "</b></span>" if n_alerts else "no label-drift alert")
        return "<div class='cvops-agreement-summary'>" + " · ".join(parts + [alerts]) + "</div>"


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
