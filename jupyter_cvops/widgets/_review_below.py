"""A review session shown below a view (agreement drill-down, lineage): reused while its images stay the same."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import ipywidgets

if TYPE_CHECKING:
    from .review import ReviewSession


def review_below(view: Any, ids: list[str], make: Callable[[], ReviewSession], header_html: str) -> ReviewSession:
    """The review session of ``view`` for ``ids``: the open one when it shows the same images, else a new
    one from ``make()`` (the old one closed), shown in ``view.review_box`` under ``header_html`` (escaped
    by the caller). ``view`` keeps it in ``review_session`` and its images in ``_review_ids``.

    Examples
    --------
    >>> session = review_below(view, ids, lambda: review(ws, queue=ids), "<b>Reviewing</b> 3 images")  # doctest: +SKIP
    """
    if view.review_session is not None and view._review_ids == ids:
        session: ReviewSession = view.review_session
        return session
    if view.review_session is not None:
        view.review_session.close()
    session = make()
    view.review_session, view._review_ids = session, ids
    view.review_box.children = (ipywidgets.HTML(header_html), session.widget)
    return session
