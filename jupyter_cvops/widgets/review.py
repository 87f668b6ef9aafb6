"""``cv.review(ws)``: keyboard-first review of disputed images, every decision recorded.

Two objects, as in the rest of :mod:`jupyter_cvops.widgets`:

- :class:`ReviewWidget`, the anywidget: traits and messages only. It shows the current
  image (encoded bytes, never base64 JSON) with each annotator's boxes in the
  taxonomy's class colors, the annotators' verdicts, the class definitions, progress
  and a filter bar; it sends what the reviewer pressed. It computes nothing.
- :class:`ReviewSession`, the facade :func:`review` returns: it holds the workspace and
  the queue, answers the widget's messages by calling :func:`jupyter_cvops.reviews.decide`,
  and keeps a thumbnail cache filled ahead of the reviewer by a background thread, so
  the next items are already in the browser when a navigation key is pressed.

Keys (when the widget has focus; click it to focus):

==============  ===================================================================
``1`` .. ``9``  set the image-level class with that number (decision ``set``)
``A``           accept the majority (decision ``accept``, ``annotator="majority"``)
``F``           flag the image as a bad image (decision ``flag``, ``reason="bad_image"``)
``J`` ``→`` ``↓``  next image
``K`` ``←`` ``↑``  previous image
``Z``           undo the last decision of this session
==============  ===================================================================

After ``1``-``9``, ``A`` and ``F`` the widget moves on to the next image (``advance=False``
keeps it in place). Undo never deletes history (the store is append-only): it records
a new decision that restores the state the image had before the undone decision:
``clear`` when it had no review decision, else the earlier ``accept``/``set``/``flag``
re-applied (``set`` falls back to ``clear`` if one of its classes no longer exists).
Undo records carry ``comment="undo of <decision_id>"``. Comments are not undone.

Messages from the browser (``model.send``)::

    {"kind": "ready"}                                 a view rendered; prefetched items are (re)sent
    {"kind": "navigate", "index": i, "seq": n}        show queue item i (n: the view's counter)
    {"kind": "decide", "image_id": ..., "decision": "set" | "accept" | "flag",
     "class_name" | "annotator" | "reason": ...}
    {"kind": "undo"}

Messages to the browser (``widget.send``)::

    {"kind": "prefetch", "item": {...}, "mime": "image/jpeg"}  + one buffer: the encoded image

Examples
--------
>>> import jupyter_cvops as cv                            # doctest: +SKIP
>>> session = cv.review(ws, queue=pl.col("classes").list.contains("dent"))  # doctest: +SKIP
>>> session                                               # doctest: +SKIP
>>> session.decisions.select("image_id", "decision", "class_name")  # doctest: +SKIP
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

import polars as pl

from ..labels._resolution import STATEFUL, latest_reviews
from .._store import current_user
from ..images._thumbnails import Thumbnail
from ..reviews.decisions import DECISIONS, decide, review_queue
from ..taxonomy._ops import safe_color
from ._bundle import STATIC, _Bundle  # noqa: F401  (re-exported)
from ._display import bundle_with_repr
from ._review_items import _ItemsMixin
from ._review_widget import (
    FALLBACK_COLORS,
    NO_FILTERS,  # noqa: F401  (re-exported)
    QUEUE_COLUMNS,
    UI_DECISIONS,
    ReviewWidget,
    _combine,
    _QueueView,
    _Record,
    _state_of,
)

if TYPE_CHECKING:
    from ..workspace import Workspace

__all__ = ["ReviewSession", "ReviewWidget", "review"]

log = logging.getLogger(__name__)


class ReviewSession(_ItemsMixin):
    """A review of a queue of images in one workspace: the object :func:`review` returns.

    Displaying it (last expression of a cell, or ``display(session)``) shows the widget.
    Python and the widget share one state: ``session.next()`` moves the view, keys in
    the view move ``session.selected``.

    Parameters
    ----------
    ws
        The workspace; decisions are written to it as they are made.
    queue
        ``None`` (all unreviewed labelled images, most disputed first), a polars
        expression filtering :func:`~jupyter_cvops.reviews.review_queue`, a queue frame
        (any frame with ``image_id``; missing queue columns are filled in, its order is
        kept), or a sequence of image ids.
    reviewer
        Recorded with every decision; default ``$CVOPS_USER`` or the login name.
    max_side
        Longest side of the images sent to the browser, in pixels.
    prefetch
        How many items ahead are encoded in a background thread and pushed to the browser.
    advance
        Move to the next image after a decision key (``1``-``9``, ``A``, ``F``).
    include_reviewed
        Keep images that already have a review decision (when ``queue`` is ``None`` or an
        expression; a frame or id list is taken as given).

    Examples
    --------
    >>> session = ReviewSession(ws, reviewer="rita")      # doctest: +SKIP
    >>> session.decide("set", class_name="dent")          # doctest: +SKIP
    >>> session.next(); session.undo()                    # doctest: +SKIP
    """

    def __init__(
        self,
        ws: Workspace,
        queue: pl.DataFrame | pl.Expr | Sequence[str] | None = None,
        *,
        reviewer: str | None = None,
        max_side: int = 768,
        prefetch: int = 2,
        advance: bool = True,
        include_reviewed: bool = False,
    ) -> None:
        if max_side < 16:
            raise ValueError(f"max_side must be >= 16 pixels, not {max_side}")
        if prefetch < 0:
            raise ValueError(f"prefetch must be >= 0, not {prefetch}")
        self.ws = ws
        self.reviewer = reviewer or current_user()
        self.max_side = int(max_side)
        self.prefetch = int(prefetch)
        self.include_reviewed = include_reviewed
        self.last_error: BaseException | None = None
        self._source = self._normalize_source(queue)
        self._lock = threading.RLock()
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="cvops-review-prefetch")
        self._thumbs: OrderedDict[str, Future[Thumbnail]] = OrderedDict()
        self._cache_size = max(8, 2 * self.prefetch + 6)
        self._pushed: set[tuple[int, str]] = set()
        self._frontend_ready = False
        self._queue_ids = 0
        self._view = _QueueView(0, pl.DataFrame(), [], {}, {})
        self._state: dict[str, dict[str, Any] | None] = {}
        self._decision_ids: list[str] = []
        self._touched: set[str] = set()
        self._undo_stack: list[_Record] = []
        self._current: tuple[Thumbnail | None, str | None] = (None, None)
        self._tax_names = self._class_names()
        self.widget = ReviewWidget(reviewer=self.reviewer, advance=advance, classes=self._classes_payload())
        self.widget.on_msg(self._on_msg)
        self.widget.observe(self._on_filters, names="filters")
        self._load_queue()

    # -- user-facing ---------------------------------------------------------------------
    @property
    def queue(self) -> pl.DataFrame:
        """The queue being reviewed (after the filter bar), in review order.

        Examples
        --------
        >>> session.queue.select("image_id", "verdicts", "disagreement").head()   # doctest: +SKIP
        """
        return self._view.frame

    @property
    def selected(self) -> str | None:
        """Image id shown now (``None`` when the queue is empty).

        Examples
        --------
        >>> session.selected                      # doctest: +SKIP
        '3f2a...'
        """
        view = self._view
        i = self.widget.index
        return view.rows[i]["image_id"] if 0 <= i < len(view.rows) else None

    @property
    def index(self) -> int:
        """Position of the shown image in :attr:`queue` (0-based).

        Examples
        --------
        >>> session.index                         # doctest: +SKIP
        0
        """
        return int(self.widget.index)

    @property
    def decisions(self) -> pl.DataFrame:
        """Decisions this session recorded (undo records included), read back from the store.

        One row per stored review row (an ``accept`` of two boxes has two), oldest first,
        with the columns of :meth:`Workspace.reviews` (``superseded`` included).

        Examples
        --------
        >>> session.decisions.select("image_id", "decision", "class_name", "reason")  # doctest: +SKIP
        """
        hist = self.ws.reviews()
        return hist.filter(pl.col("decision_id").is_in(list(self._decision_ids)))

    def goto(self, index: int) -> str:
        """Show queue item ``index`` (negative counts from the end); returns its image id.

        Examples
        --------
        >>> session.goto(0)                       # doctest: +SKIP
        '3f2a...'
        """
        n = len(self._view.rows)
        if n == 0:
            raise IndexError("the review queue is empty")
        if not -n <= index < n:
            raise IndexError(f"index {index} out of range for a queue of {n}")
        self._show(index % n)
        image_id: str = self._view.rows[index % n]["image_id"]
        return image_id

    def next(self) -> str | None:
        """Show the next image (stays on the last one); returns the shown image id.

        Examples
        --------
        >>> session.next()                        # doctest: +SKIP
        """
        if self._view.rows:
            self._show(min(self.index + 1, len(self._view.rows) - 1))
        return self.selected

    def prev(self) -> str | None:
        """Show the previous image (stays on the first one); returns the shown image id.

        Examples
        --------
        >>> session.prev()                        # doctest: +SKIP
        """
        if self._view.rows:
            self._show(max(self.index - 1, 0))
        return self.selected

    def decide(self, decision: str, *, image_id: str | None = None, **details: Any) -> str:
        """Record a decision on the shown image (or ``image_id``); returns its decision id.

        ``decision`` and ``details`` are those of :func:`jupyter_cvops.reviews.decide`
        (``annotator=``, ``class_name=``, ``boxes=``, ``reason=``, ``comment=``); the
        session's reviewer is recorded. State-changing decisions can be undone with
        :meth:`undo`.

        Examples
        --------
        >>> session.decide("set", class_name="dent")                  # doctest: +SKIP
        >>> session.decide("accept", annotator="majority")            # doctest: +SKIP
        >>> session.decide("flag", reason="out_of_scope")             # doctest: +SKIP
        """
        target = image_id or self.selected
        if target is None:
            raise ValueError("the review queue is empty: nothing to decide on")
        if decision not in DECISIONS:
            raise ValueError(f"unknown decision {decision!r}; choose one of {DECISIONS}")
        before = self._latest_state(target) if decision in STATEFUL else None
        did = decide(self.ws, target, decision, reviewer=self.reviewer, **details)
        self._decision_ids.append(did)
        self._touched.add(target)
        if before is not None:
            self._undo_stack.append(_Record(did, target, decision, before))
            self._state[target] = _state_of(self._latest_state(target), self._tax_names)
        self._changed(target, f"{self._state_label(target)} · {self._short(target)}")
        return did

    def undo(self) -> str | None:
        """Undo the session's last state-changing decision; returns the new decision id.

        Records ``clear`` if the image had no decision before, else re-applies the
        earlier decision (see the module notes), then shows that image. Returns ``None``
        when there is nothing to undo.

        Examples
        --------
        >>> session.decide("flag", reason="bad_image"); session.undo()   # doctest: +SKIP
        """
        if not self._undo_stack:
            self.widget.status = "nothing to undo"
            return None
        rec = self._undo_stack.pop()
        note = f"undo of {rec.decision_id}"
        decision, details = self._restore_args(rec.before)
        did = decide(self.ws, rec.image_id, decision, reviewer=self.reviewer, comment=note, **details)
        self._decision_ids.append(did)
        self._state[rec.image_id] = _state_of(self._latest_state(rec.image_id), self._tax_names)
        undone = f"undid {rec.decision}, restored {self._state_label(rec.image_id)}"
        pos = self._view.pos.get(rec.image_id)
        if pos is not None and pos != self.index:
            self._show(pos)
        self._changed(rec.image_id, f"{undone} · {self._short(rec.image_id)}")
        return did

    def handle_message(self, content: dict[str, Any], buffers: Sequence[Any] | None = None) -> None:
        """Act on one message from the browser (what the widget's ``model.send`` delivers).

        Errors propagate; the widget's own callback turns them into a status line.

        Examples
        --------
        >>> session.handle_message({"kind": "navigate", "index": 3, "seq": 1})        # doctest: +SKIP
        >>> session.handle_message({"kind": "decide", "image_id": session.selected,
        ...                         "decision": "accept", "annotator": "majority"})   # doctest: +SKIP
        """
        kind = content.get("kind")
        if kind == "ready":
            with self._lock:
                self._frontend_ready = True
                self._pushed.clear()
            self._schedule_prefetch(self.index)
        elif kind == "navigate":
            n = len(self._view.rows)
            seq = int(content.get("seq", 0))
            if n:
                self._show(min(max(int(content["index"]), 0), n - 1), seq=seq)
            else:
                self.widget.nav_seq = max(self.widget.nav_seq, seq)
        elif kind == "decide":
            decision = str(content.get("decision"))
            if decision not in UI_DECISIONS:
                raise ValueError(f"the widget sends only {sorted(UI_DECISIONS)}, not {decision!r}")
            details = {k: content[k] for k in UI_DECISIONS[decision] if content.get(k) is not None}
            self.decide(decision, image_id=content.get("image_id") or None, **details)
        elif kind == "undo":
            self.undo()
        else:
            raise ValueError(f"unknown message kind {kind!r}")

    def close(self) -> None:
        """Stop the prefetch thread and close the widget (its views go blank).

        Examples
        --------
        >>> session.close()                       # doctest: +SKIP
        """
        self._pool.shutdown(wait=False, cancel_futures=True)
        self.widget.close()

    def _repr_mimebundle_(self, **kwargs: Any) -> tuple[dict[str, Any], dict[str, Any]] | None:
        return bundle_with_repr(self.widget, self, **kwargs)

    def __repr__(self) -> str:
        n = len(self._view.rows)
        at = f"at {self.index + 1}/{n}" if n else "empty queue"
        return (f"<ReviewSession {self.ws.uri}: {at}, {self.widget.n_decided} decided, "
                f"{len(self._decision_ids)} decisions this session by {self.reviewer}>")

    # -- queue --------------------------------------------------------------------------
    def _normalize_source(self, queue: pl.DataFrame | pl.Expr | Sequence[str] | None) -> pl.DataFrame | pl.Expr | None:
        if queue is None or isinstance(queue, pl.Expr):
            return queue
        if isinstance(queue, pl.DataFrame):
            frame = queue
        elif isinstance(queue, (str, bytes)):
            raise TypeError("queue= takes a sequence of image ids, not one string")
        elif isinstance(queue, Sequence):
            frame = pl.DataFrame({"image_id": [str(i) for i in queue]}, schema={"image_id": pl.String})
        else:
            raise TypeError(f"queue= takes None, a polars expression, a frame or image ids, not {type(queue).__name__}")
        if "image_id" not in frame.columns:
            raise ValueError(f"a queue frame needs an image_id column; it has {frame.columns}")
        frame = frame.unique("image_id", keep="first", maintain_order=True)
        missing = [c for c in QUEUE_COLUMNS if c not in frame.columns]
        if not missing:
            return frame
        full = review_queue(self.ws, include_reviewed=True) if self.ws.store.count("annotations") else None
        if full is not None:
            frame = frame.join(full.select("image_id", *missing), on="image_id", how="left", maintain_order="left")
        else:
            frame = frame.with_columns(pl.lit(None).alias(c) for c in missing)
        unlabeled = frame.filter(pl.col("path").is_null())["image_id"]
        if unlabeled.len():
            images = self.ws.images().select("image_id", pl.col("path").alias("_path"))
            frame = frame.join(images, on="image_id", how="left", maintain_order="left").with_columns(
                pl.coalesce("path", "_path").alias("path")).drop("_path")
            unknown = frame.filter(pl.col("path").is_null())["image_id"].to_list()
            if unknown:
                raise ValueError(f"{len(unknown)} image ids of queue= are not registered in {self.ws.uri}: "
                                 f"{unknown[:5]}")
        return frame

    def _compute_queue(self) -> pl.DataFrame:
        f = self.widget.filters
        cls, ann, disputed = f.get("class_name") or "", f.get("annotator") or "", bool(f.get("disputed_only"))
        bar = [pl.col("classes").list.contains(cls) if cls else None,
               pl.col("annotators").list.contains(ann) if ann else None]
        if isinstance(self._source, pl.DataFrame):
            expr = _combine([*bar, pl.col("disputed").fill_null(False) if disputed else None])
            return self._source if expr is None else self._source.filter(expr)
        if self.ws.store.count("annotations") == 0:
            return pl.DataFrame(schema={c: pl.String for c in QUEUE_COLUMNS})
        q = review_queue(self.ws, filter=_combine([self._source, *bar]), include_reviewed=True,
                         disputed_only=disputed)
        if not self.include_reviewed:  # images decided in this session stay in view
            q = q.filter(~pl.col("reviewed") | pl.col("image_id").is_in(list(self._touched)))
        return q

    def _load_queue(self) -> None:
        keep = self.selected
        frame = self._compute_queue()
        ids = frame["image_id"].to_list()
        anns = self.ws.annotations() if self.ws.store.count("annotations") else pl.DataFrame()
        labels: dict[str, pl.DataFrame] = {}
        if anns.height and ids:
            part = anns.filter(pl.col("image_id").is_in(ids)).partition_by("image_id", as_dict=True)
            labels = {str(k[0]): v for k, v in part.items()}
        rows = frame.select(QUEUE_COLUMNS).to_dicts()
        with self._lock:
            self._queue_ids += 1
            self._view = _QueueView(self._queue_ids, frame, rows, {r["image_id"]: i for i, r in enumerate(rows)},
                                    labels)
        for r in rows:
            if r["image_id"] not in self._state:
                d = r.get("last_decision")
                self._state[r["image_id"]] = {"decision": d, "label": d} if d else None
        names = sorted(anns["annotator"].unique().to_list()) if anns.height else []
        used = set(anns["class_name"].drop_nulls().unique().to_list()) if anns.height else set()
        active = [c["name"] for c in self.widget.classes]
        self.widget.filter_options = {"classes": active + sorted(used - set(active)), "annotators": names}
        self._show(self._view.pos.get(keep, 0) if keep is not None else 0)
        self.widget.status = f"{len(rows)} images to review" if rows else "nothing to review with these filters"

    def _on_filters(self, change: dict[str, Any]) -> None:
        try:
            self._load_queue()
        except Exception as error:  # shown in the widget; the filter bar must never kill the view
            self._report(error)

    # -- showing items ---------------------------------------------------------------------
    def _show(self, index: int, *, seq: int | None = None) -> None:
        view, w = self._view, self.widget
        if not view.rows:
            with w.hold_sync():
                w.queue_id, w.n_items, w.index, w.n_decided = view.queue_id, 0, 0, 0
                w.item, w.image = {}, b""
                if seq is not None:
                    w.nav_seq = max(w.nav_seq, seq)
            return
        row = view.rows[index]
        thumb, error = self._thumbnail_now(row)
        self._current = (thumb, error)
        with w.hold_sync():
            w.queue_id = view.queue_id
            w.n_items = len(view.rows)
            w.index = index
            w.item = self._meta(view, index, thumb, error)
            w.image = thumb.data if thumb is not None else b""
            w.image_mime = thumb.mime if thumb is not None else "image/jpeg"
            w.n_decided = self._n_decided(view)
            w.can_undo = bool(self._undo_stack)
            if seq is not None:
                w.nav_seq = max(w.nav_seq, seq)
        self._schedule_prefetch(index)

    def _changed(self, image_id: str, status: str) -> None:
        view, w = self._view, self.widget
        with self._lock:
            self._pushed.discard((view.queue_id, image_id))
        with w.hold_sync():
            if image_id == self.selected:
                thumb, error = self._current
                w.item = self._meta(view, self.index, thumb, error)
            w.n_decided = self._n_decided(view)
            w.can_undo = bool(self._undo_stack)
            w.status = status

    def _n_decided(self, view: _QueueView) -> int:
        return sum(1 for r in view.rows if self._state.get(r["image_id"]) is not None)

    # -- store state ----------------------------------------------------------------------------
    def _latest_state(self, image_id: str) -> pl.DataFrame:
        rev = self.ws.store.read("reviews").filter(pl.col("image_id") == image_id)
        return latest_reviews(rev)

    def _restore_args(self, before: pl.DataFrame) -> tuple[str, dict[str, Any]]:
        """The decision that brings an image back to the state ``before`` describes."""
        if before.height == 0:
            return "clear", {}
        r = before.row(0, named=True)
        decision = str(r["decision"])
        if decision == "accept" and r.get("accepted_annotator"):
            return "accept", {"annotator": r["accepted_annotator"]}
        if decision == "flag" and r.get("reason"):
            return "flag", {"reason": r["reason"]}
        if decision == "set":
            names = self.ws.taxonomy.resolve(before["class_id"], before["taxonomy_version"])
            rows = before.with_columns(names["class_name"].alias("class_name"),
                                       names["status"].alias("resolve_status"))
            if rows["class_name"].null_count() == 0:
                image_level = rows.filter(pl.col("kind") == "image")["class_name"].to_list()
                boxes = [(b["class_name"], (b["x0"], b["y0"], b["x1"], b["y1"]))
                         for b in rows.filter(pl.col("kind") == "box").iter_rows(named=True)]
                if len(image_level) <= 1 and (image_level or boxes):
                    return "set", {"class_name": image_level[0] if image_level else None, "boxes": boxes or None}
        return "clear", {}

    def _class_names(self) -> dict[str, str]:
        if self.ws.taxonomy.version == 0:
            return {}
        c = self.ws.taxonomy.classes()
        return dict(zip(c["id"].to_list(), c["name"].to_list()))

    def _classes_payload(self) -> list[dict[str, Any]]:
        if self.ws.taxonomy.version == 0:
            return []
        c = self.ws.taxonomy.classes(include_retired=False)
        out = []
        for i, r in enumerate(c.iter_rows(named=True)):
            # safe_color: only #rrggbb reaches the widget's CSS, whatever the table holds
            color = safe_color(r["color"]) if r["color"] else FALLBACK_COLORS[i % len(FALLBACK_COLORS)]
            out.append({"name": r["name"], "color": color,
                        "definition": r["definition"] or "", "key": i + 1 if i < 9 else None})
        return out

    def _state_label(self, image_id: str) -> str:
        state = self._state.get(image_id)
        return str(state["label"]) if state else "annotators' labels"

    def _short(self, image_id: str) -> str:
        pos = self._view.pos.get(image_id)
        return f"image {pos + 1}" if pos is not None else image_id[:12]

    # -- messages -----------------------------------------------------------------------------
    def _on_msg(self, widget: ReviewWidget, content: dict[str, Any], buffers: Sequence[Any]) -> None:
        try:
            self.handle_message(content, buffers)
        except Exception as error:  # the reviewer sees it in the widget; nothing else can
            self._report(error)

    def _report(self, error: BaseException, *, quiet: bool = False) -> None:
        self.last_error = error
        log.warning("review widget: %s: %s", type(error).__name__, error, exc_info=not quiet)
        if not quiet:
            self.widget.status = f"error: {error}"


def review(
    ws: Workspace,
    queue: pl.DataFrame | pl.Expr | Sequence[str] | None = None,
    reviewer: str | None = None,
    max_side: int = 768,
    *,
    prefetch: int = 2,
    advance: bool = True,
    include_reviewed: bool = False,
) -> ReviewSession:
    """Open the review widget on ``ws``: disputed images first, decisions written as you go.

    Keys (click the widget first): ``1``-``9`` set that class, ``A`` accepts the majority,
    ``F`` flags a bad image, ``J``/``K`` or the arrows navigate, ``Z`` undoes. See
    :mod:`jupyter_cvops.widgets.review` for the details and :class:`ReviewSession` for
    the parameters.

    Returns
    -------
    ReviewSession
        Display it to show the widget; ``.decisions``, ``.selected``, ``.queue``,
        ``.goto(i)``, ``.next()``, ``.decide(...)``, ``.undo()`` work from Python.

    Examples
    --------
    >>> import jupyter_cvops as cv
    >>> session = cv.review(ws, queue=ws.review_queue(disputed_only=True))  # doctest: +SKIP
    >>> session                                        # doctest: +SKIP
    >>> session.decisions                              # doctest: +SKIP
    """
    return ReviewSession(ws, queue, reviewer=reviewer, max_side=max_side, prefetch=prefetch,
                         advance=advance, include_reviewed=include_reviewed)
