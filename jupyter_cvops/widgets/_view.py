"""The plumbing a view facade shares (shadow, lineage): its widget above a review box, the browser's
messages routed to :meth:`_ReviewHostView.handle_message` with errors shown as the widget's status,
closing, display, taxonomy colors and thumbnail packing."""

from __future__ import annotations

import abc
import logging
from collections.abc import Collection, Sequence
from typing import TYPE_CHECKING, Any

import ipywidgets

from ..taxonomy._ops import safe_color
from ._display import bundle_with_repr
from ._lineage_payload import ThumbPack

if TYPE_CHECKING:
    from ..workspace import Workspace
    from .review import ReviewSession


def check_thumb_size(thumb_size: int) -> None:
    """Refuse a tile width outside 32..512 CSS pixels.

    Examples
    --------
    >>> check_thumb_size(128)
    >>> check_thumb_size(8)
    Traceback (most recent call last):
    ...
    ValueError: thumb_size must be in 32..512 pixels, not 8
    """
    if not 32 <= thumb_size <= 512:
        raise ValueError(f"thumb_size must be in 32..512 pixels, not {thumb_size}")


def thumb_pack(thumb_size: int) -> ThumbPack:
    """An empty thumbnail buffer for tiles ``thumb_size`` CSS pixels wide (encoded at twice that).

    Examples
    --------
    >>> thumb_pack(64).max_side
    128
    """
    return ThumbPack(max_side=2 * thumb_size)


class _ReviewHostView(abc.ABC):
    """Base of a view facade: ``widget`` (an anywidget with a ``status`` trait) above ``review_box``.

    A subclass sets its attributes with :meth:`_host` first, builds its widget, hands it to
    :meth:`_attach` and implements :meth:`handle_message`; ``label`` names the view in the log.
    """

    label = "view"
    ws: Workspace
    widget: Any
    reviewer: str | None
    last_error: BaseException | None
    review_session: ReviewSession | None
    review_box: ipywidgets.VBox
    box: ipywidgets.VBox

    def _host(self, ws: Workspace, reviewer: str | None) -> None:
        self.ws = ws
        self.reviewer = reviewer
        self.last_error = None
        self.review_session = None
        self._review_ids: list[str] = []

    def _attach(self, widget: Any, css_class: str) -> None:
        """Show ``widget`` above an empty review box; its messages go to :meth:`handle_message`."""
        self.widget = widget
        widget.on_msg(self._on_msg)
        self.review_box = ipywidgets.VBox()
        self.box = ipywidgets.VBox([widget, self.review_box], layout=ipywidgets.Layout(width="100%"))
        self.box.add_class(css_class)

    def close(self) -> None:
        """Close the widgets and the review session.

        Examples
        --------
        >>> view.close()                 # doctest: +SKIP
        """
        if self.review_session is not None:
            self.review_session.close()
        for w in (self.widget, self.review_box, self.box):
            w.close()

    @abc.abstractmethod
    def handle_message(self, content: dict[str, Any]) -> None:
        """Act on one message from the browser (every view has its own)."""

    def _repr_mimebundle_(self, **kwargs: Any) -> tuple[dict[str, Any], dict[str, Any]] | None:
        return bundle_with_repr(self.box, self, **kwargs)

    def _show_error(self, error: Exception) -> None:
        """The user sees it in the widget (and :attr:`last_error`); nothing else can."""
        self.last_error = error
        logging.getLogger(type(self).__module__).warning("%s: %s: %s", self.label, type(error).__name__, error)
        self.widget.status = f"error: {error}"

    def _on_msg(self, _widget: Any, content: dict[str, Any], _buffers: Sequence[Any]) -> None:
        try:
            self.handle_message(content)
        except Exception as error:
            self._show_error(error)

    def _class_colors(self, classes: Collection[str] | None = None) -> dict[str, str]:
        """Taxonomy colors (``#rrggbb`` only: :func:`safe_color`) of ``classes`` (default: every class)."""
        if self.ws.taxonomy.version == 0:
            return {}
        c = self.ws.taxonomy.classes()
        wanted = None if classes is None else set(classes)
        return {str(n): safe_color(col) for n, col in c.select("name", "color").iter_rows()
                if col and (wanted is None or n in wanted)}
