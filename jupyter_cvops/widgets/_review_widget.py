"""The review anywidget (:class:`ReviewWidget`) and the small records the session keeps.

See :mod:`jupyter_cvops.widgets.review` for the keys and messages.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import anywidget
import polars as pl
import traitlets

from ._bundle import _Bundle

#: Colors for classes the taxonomy gives none (cycled in class order).
FALLBACK_COLORS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#17becf")
#: Columns the widget reads from a queue frame (those of :func:`~jupyter_cvops.reviews.review_queue`).
QUEUE_COLUMNS = ("image_id", "path", "annotators", "verdicts", "majority", "majority_annotators",
                 "disagreement", "disputed", "classes", "last_decision")
NO_FILTERS: dict[str, Any] = {"class_name": "", "annotator": "", "disputed_only": False}
#: Choices of the filter bar before a queue is loaded.
NO_FILTER_OPTIONS: dict[str, list[str]] = {"classes": [], "annotators": []}
#: Decisions the keys send (anything else arrives only through Python).
UI_DECISIONS = {"set": ("class_name",), "accept": ("annotator",), "flag": ("reason",)}


class ReviewWidget(anywidget.AnyWidget):
    """Browser half of the review widget: synced traits and messages, no store access.

    Make one with :func:`review`, which wires it to a :class:`ReviewSession`; on its own
    it displays whatever its traits hold.

    Traits (all synced, snake_case on both sides): ``image`` (encoded bytes of the
    current image), ``image_mime``, ``item`` (the current image's labels, verdicts and
    decision state), ``index``, ``n_items``, ``n_decided``, ``queue_id`` (changes when
    the queue is rebuilt), ``nav_seq`` (the last navigation the kernel handled),
    ``classes`` (name, color, definition, key), ``filters`` and ``filter_options`` (the
    filter bar), ``hidden_annotators`` (toggled off in the view), ``status``,
    ``can_undo``, ``advance``, ``reviewer`` and ``render_log`` (written by the browser:
    one entry per navigation, ``ms`` from key press to image drawn).

    Examples
    --------
    >>> w = ReviewWidget(status="nothing loaded")   # doctest: +SKIP
    >>> w.status                                    # doctest: +SKIP
    'nothing loaded'
    """

    _esm = _Bundle("review.js")
    _css = _Bundle("review.css")

    image = traitlets.Bytes(b"").tag(sync=True)
    image_mime = traitlets.Unicode("image/jpeg").tag(sync=True)
    item = traitlets.Dict().tag(sync=True)
    index = traitlets.Int(0).tag(sync=True)
    n_items = traitlets.Int(0).tag(sync=True)
    n_decided = traitlets.Int(0).tag(sync=True)
    queue_id = traitlets.Int(0).tag(sync=True)
    nav_seq = traitlets.Int(0).tag(sync=True)
    classes = traitlets.List(traitlets.Dict()).tag(sync=True)
    filters = traitlets.Dict(default_value=dict(NO_FILTERS)).tag(sync=True)
    filter_options = traitlets.Dict(default_value=NO_FILTER_OPTIONS).tag(sync=True)
    hidden_annotators = traitlets.List(traitlets.Unicode()).tag(sync=True)
    status = traitlets.Unicode("").tag(sync=True)
    can_undo = traitlets.Bool(False).tag(sync=True)
    advance = traitlets.Bool(True).tag(sync=True)
    reviewer = traitlets.Unicode("").tag(sync=True)
    render_log = traitlets.List(traitlets.Dict()).tag(sync=True)


@dataclass(frozen=True)
class _QueueView:
    """One immutable generation of the queue (swapped whole, read by the prefetch thread)."""

    queue_id: int
    frame: pl.DataFrame
    rows: list[dict[str, Any]]
    pos: dict[str, int]
    labels: dict[str, pl.DataFrame]


@dataclass
class _Record:
    """A state-changing decision this session made, and what it replaced (for undo)."""

    decision_id: str
    image_id: str
    decision: str
    before: pl.DataFrame  # rows of the image's latest state decision before it (empty: none)


def _combine(exprs: Sequence[pl.Expr | None]) -> pl.Expr | None:
    out: pl.Expr | None = None
    for e in exprs:
        if e is not None:
            out = e if out is None else out & e
    return out


def _state_of(rows: pl.DataFrame, tax_names: dict[str, str]) -> dict[str, Any] | None:
    """What a latest-decision frame (one decision's rows) means, for display."""
    if rows.height == 0:
        return None
    r = rows.row(0, named=True)
    decision = str(r["decision"])
    if decision == "accept":
        label = f"accepted {r.get('accepted_annotator') or '?'}"
    elif decision == "set":
        names = [tax_names.get(str(c), str(c)) for c in rows["class_id"].to_list() if c is not None]
        label = "set " + " + ".join(names) if names else "set"
    elif decision == "flag":
        label = f"flagged {r.get('reason') or ''}".strip()
    else:
        label = decision
    return {"decision": decision, "label": label, "reviewer": r.get("reviewer"), "decision_id": r.get("decision_id")}
