"""What the mixins of :class:`~jupyter_cvops.widgets.agreement_view.AgreementView` expect of it.

:class:`_AgreementHost` lists the attributes and methods that
:class:`~jupyter_cvops.widgets._agreement_figure._FigureMixin` and
:class:`~jupyter_cvops.widgets._agreement_clicks._ClicksMixin` use but do not define
themselves (the facade's state, and each other's methods). It is for type checking only:
the mixins derive from it when type checking and from ``object`` at run time.

mypy takes an attribute a mixin assigns as defined by that mixin, not by the protocol, so
those are declared in the mixin's own body instead (``_shown``, ``last_error``, ``_refs``...).
"""

from __future__ import annotations

from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol, TypedDict

import numpy as np
import plotly.graph_objects as go
import polars as pl

from ..images._thumbnails import Thumbnail
from ._gallery import Gallery

if TYPE_CHECKING:
    from ..agreement.metrics import AgreementReport
    from ..workspace import Workspace
    from .review import ReviewSession


class _HeatmapTraces(TypedDict):
    kappa: int
    confusion: int


class _TraceIndex(_HeatmapTraces, total=False):
    """Positions in ``figure.data`` of the traces that take clicks or get redrawn (the trend's
    only when the report has time windows)."""

    #: One trace per line of the agreement trend, in :data:`~._agreement_figure.TREND` order.
    trend: list[int]
    alerts: int
    #: One trace per annotator (their share of the focus class), in ``annotators`` order.
    share: list[int]


class _AgreementHost(Protocol):
    """The state and methods of :class:`~jupyter_cvops.widgets.agreement_view.AgreementView`
    that its mixins use."""

    # -- set by AgreementView.__init__ ----------------------------------------------------
    ws: Workspace
    report: AgreementReport
    every: str
    page_size: int
    thumb_size: int
    annotators: tuple[str, ...]
    classes: tuple[str, ...]
    timings: dict[str, float]
    figure: go.FigureWidget
    gallery: Gallery
    _paths: dict[str, str]
    _ann_colors: dict[str, str]
    _pair: tuple[str, str] | None
    _windows: pl.DataFrame
    _alerts: pl.DataFrame
    _focus: str | None
    _target: dict[str, Any] | None
    _selection: pl.DataFrame
    _thumbs: OrderedDict[str, Thumbnail | str]
    _pool: ThreadPoolExecutor

    # -- set by _FigureMixin._build_figure, read by _ClicksMixin ------------------------------
    _trace_index: _TraceIndex

    # -- methods of AgreementView -------------------------------------------------------
    def select_pair(self, annotator_a: str, annotator_b: str) -> pl.DataFrame: ...

    def select_confusion(self, class_a: str, class_b: str) -> pl.DataFrame: ...

    def select_window(self, window: int | datetime) -> pl.DataFrame: ...

    def select_alert(self, index: int = 0) -> pl.DataFrame: ...

    def show_pair(self, annotator_a: str | None = None, annotator_b: str | None = None) -> None: ...

    def more(self) -> int: ...

    def open_review(self, image_id: str | None = None) -> ReviewSession: ...

    def _confusion(self) -> np.ndarray: ...

    # -- methods of _FigureMixin used by _ClicksMixin ----------------------------------------
    def _window_x(self, starts: pl.Series) -> list[str]: ...
