"""``cv.lineage_view(ws, prediction_or_image_id)``: a prediction's provenance as a small graph with thumbnails.

Two objects, as in the rest of :mod:`jupyter_cvops.widgets`:

- :class:`LineageWidget`, the anywidget: traits and messages only. It draws the chain left
  to right (prediction with its thumbnail -> model version with its aliases -> run ->
  dataset version -> taxonomy version), the nearest training images as a strip of
  thumbnails (distance, split, classes, annotators, review decisions) and, for an image id,
  the image followed by the dataset versions, model versions and predictions that used it,
  each list with its count. Thumbnails arrive as one binary buffer (``thumbs``) that the
  nodes slice by ``offset`` and ``length``; every workspace string is written as text,
  never as markup. It computes nothing.
- :class:`LineageView`, the facade :func:`lineage_view` returns: it calls ``ws.lineage``,
  hands the widget plain data (:mod:`~jupyter_cvops.widgets._lineage_payload`), and opens
  the review widget (``cv.review(ws, queue=<the selected images>)``, the same path as
  the drift and agreement views) below the graph when a training image is clicked.

Messages from the browser (``model.send``)::

    {"kind": "open", "image_id": "...", "add": false}   a thumbnail was clicked (Enter on it);
                                                         add (ctrl/shift/cmd-click) keeps the
                                                         earlier selection and adds this image
    {"kind": "open_all"}                                 "Review all": every nearest training image

Examples
--------
>>> import jupyter_cvops as cv                                          # doctest: +SKIP
>>> view = cv.lineage_view(ws, ws.predictions()["prediction_id"][0])    # doctest: +SKIP
>>> view                                                                # doctest: +SKIP
>>> view.selected                                                       # doctest: +SKIP
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import anywidget
import traitlets

from ._bundle import _Bundle
from ._lineage_payload import ChainPayload, chain_payload
from ._view import _ReviewHostView, check_thumb_size, thumb_pack

if TYPE_CHECKING:
    from ..lineage import Lineage
    from ..workspace import Workspace
    from .review import ReviewSession

__all__ = ["LineageView", "LineageWidget", "lineage_view"]


class LineageWidget(anywidget.AnyWidget):
    """Browser half of the lineage view: synced traits and messages, no store access.

    Make one with :func:`lineage_view`, which wires it to a :class:`LineageView`; on its own
    it displays whatever its traits hold.

    Traits (all synced, snake_case on both sides): ``mode`` (``"prediction"``: a backward
    chain, ``"image"``: a forward one), ``summary`` (one sentence), ``nodes`` (the chain's
    cards, left to right), ``neighbors`` (the nearest training images), ``groups`` (forward
    lists with counts), ``thumbs`` (every thumbnail, one binary buffer), ``notes`` (where
    the chain breaks and why), ``class_colors`` (class name to ``#rrggbb``), ``selected``
    (image ids chosen for review; written by the kernel), ``thumb_size`` (tile width in CSS
    pixels) and ``status``. See :mod:`~jupyter_cvops.widgets._lineage_payload` for the keys
    of a node.

    Examples
    --------
    >>> w = LineageWidget(summary="nothing yet")    # doctest: +SKIP
    >>> w.nodes                                     # doctest: +SKIP
    []
    """

    _esm = _Bundle("lineage.js")
    _css = _Bundle("lineage.css")

    mode = traitlets.Enum(("prediction", "image"), default_value="prediction").tag(sync=True)
    summary = traitlets.Unicode("").tag(sync=True)
    nodes = traitlets.List(traitlets.Dict()).tag(sync=True)
    neighbors = traitlets.List(traitlets.Dict()).tag(sync=True)
    groups = traitlets.List(traitlets.Dict()).tag(sync=True)
    thumbs = traitlets.Bytes(b"").tag(sync=True)
    notes = traitlets.List(traitlets.Unicode()).tag(sync=True)
    class_colors = traitlets.Dict().tag(sync=True)
    selected = traitlets.List(traitlets.Unicode()).tag(sync=True)
    thumb_size = traitlets.Int(112).tag(sync=True)
    status = traitlets.Unicode("").tag(sync=True)


class LineageView(_ReviewHostView):
    """The lineage of one prediction (backward) or one image (forward), shown as a graph.

    Parameters
    ----------
    ws
        The workspace.
    id
        A prediction id (``ws.predictions()["prediction_id"]``) or an image id.
    k
        Nearest training images to show for a prediction (as ``ws.lineage(id, k=...)``).
    embedding
        Embedding table or model to search them in (default: the most recent embeddings).
    chain
        A :class:`~jupyter_cvops.lineage.Lineage` that ``ws.lineage`` already returned for
        ``id`` (skips recomputing it).
    thumb_size
        Width of a thumbnail tile in CSS pixels (encoded at twice that).
    max_rows
        Rows shown per forward list (dataset versions, models, predictions).
    reviewer
        Reviewer recorded by the review widget opened from the view (default ``$CVOPS_USER``
        or the login name).

    Attributes
    ----------
    lineage : Lineage
        The chain on display.
    widget : LineageWidget
        The graph.
    review_box : ipywidgets.VBox
        Below the graph: the review widget once an image was opened.
    review_session : ReviewSession or None
        The review opened from the view, if any.
    last_error : BaseException or None
        The last error raised while handling a click (also shown as the widget's status).

    Examples
    --------
    >>> view = LineageView(ws, prediction_id, k=5)     # doctest: +SKIP
    >>> view.open_review([view.neighbors[0]])          # doctest: +SKIP
    """

    label = "lineage view"

    def __init__(
        self,
        ws: Workspace,
        id: str,
        *,
        k: int = 5,
        embedding: str | None = None,
        chain: Lineage | None = None,
        thumb_size: int = 112,
        max_rows: int = 20,
        reviewer: str | None = None,
    ) -> None:
        if k < 1:
            raise ValueError(f"k must be >= 1, not {k}")
        check_thumb_size(thumb_size)
        if max_rows < 1:
            raise ValueError(f"max_rows must be >= 1, not {max_rows}")
        self._host(ws, reviewer)
        self.id = id
        self.lineage: Lineage = chain if chain is not None else ws.lineage(id, k=k, embedding=embedding)
        self._payload: ChainPayload = chain_payload(self.lineage, aliases=self._aliases(),
                                                    pack=thumb_pack(thumb_size), max_rows=max_rows)
        self._paths: dict[str, str] = {str(n["image_id"]): str(n["path"]) for n in self._payload.neighbors}
        self._attach(LineageWidget(
            mode="image" if self.lineage.start == "image" else "prediction",
            summary=self.lineage.summary(), nodes=self._payload.nodes, neighbors=self._payload.neighbors,
            groups=self._payload.groups, thumbs=self._payload.thumbs, notes=list(self.lineage.notes),
            class_colors=self._class_colors(), thumb_size=thumb_size,
        ), "cvops-lineage-view")

    # -- user-facing ------------------------------------------------------------------------
    @property
    def selected(self) -> list[str]:
        """Image ids chosen for review (a click, ctrl-clicks, "Review all" or :meth:`select`).

        Examples
        --------
        >>> view.selected              # doctest: +SKIP
        ['cc224984a9fa...']
        """
        return list(self.widget.selected)

    @property
    def neighbors(self) -> list[str]:
        """Image ids of the nearest training images, nearest first (empty for an image's chain).

        Examples
        --------
        >>> view.neighbors[:2]         # doctest: +SKIP
        """
        return [n["image_id"] for n in self._payload.neighbors]

    @property
    def reviewable(self) -> list[str]:
        """Image ids the view can open in review: the predicted (or forward) image and the neighbours.

        Examples
        --------
        >>> view.reviewable            # doctest: +SKIP
        """
        return list(dict.fromkeys(self._payload.reviewable))

    def select(self, ids: Sequence[str]) -> list[str]:
        """Choose images for review (ids the view shows, see :attr:`reviewable`); returns :attr:`selected`.

        Examples
        --------
        >>> view.select(view.neighbors[:2])    # doctest: +SKIP
        """
        if isinstance(ids, str):
            raise TypeError("select() takes a sequence of image ids, not one string")
        chosen = list(dict.fromkeys(str(i) for i in ids))
        known = set(self._payload.reviewable)
        unknown = [i for i in chosen if i not in known]
        if unknown:
            raise ValueError(f"{len(unknown)} image ids are not shown in this view: {unknown[:3]}")
        self.widget.selected = chosen
        return self.selected

    def open_review(self, ids: Sequence[str] | None = None, *, at: str | None = None) -> ReviewSession:
        """Open the review widget below the graph on ``ids`` (default :attr:`selected`), at image ``at``.

        The review is ``cv.review(ws, queue=ids)``, as from the drift and agreement views:
        unlabelled images (a production image) are reviewable too. Opening the same images
        again keeps the session; other images replace it.

        Returns
        -------
        ReviewSession
            Also kept as :attr:`review_session`.

        Examples
        --------
        >>> session = view.open_review(view.neighbors[:1])   # doctest: +SKIP
        >>> session.decide("set", class_name="dent")          # doctest: +SKIP
        """
        from ._review_below import review_below
        from .review import review

        if ids is not None:
            self.select(ids)
        chosen = self.selected
        if not chosen:
            raise ValueError("nothing to review: click a training image first (or pass ids=)")
        if at is not None and at not in chosen:
            raise ValueError(f"image {at!r} is not among the images to review")
        files = [Path(p).name for p in (self._path_of(i) for i in chosen[:3]) if p]
        more = f" and {len(chosen) - len(files)} more" if len(chosen) > len(files) and files else ""
        session = review_below(self, chosen, lambda: review(self.ws, queue=chosen, reviewer=self.reviewer),
                               f"<b>Reviewing</b> {len(chosen)} image{'s' if len(chosen) != 1 else ''} "
                               f"from the lineage: {html.escape(', '.join(files))}{html.escape(more)}")
        if at is not None:
            session.goto(chosen.index(at))
        self.widget.status = f"review of {len(chosen)} image{'s' if len(chosen) != 1 else ''} opened below"
        return session

    def handle_message(self, content: dict[str, Any]) -> None:
        """Act on one message from the browser (see the module notes); errors propagate.

        Examples
        --------
        >>> view.handle_message({"kind": "open", "image_id": view.neighbors[0]})   # doctest: +SKIP
        """
        kind = content.get("kind")
        if kind == "open":
            image_id = str(content.get("image_id") or "")
            if not image_id:
                raise ValueError("an open message names no image")
            chosen = [*[i for i in self.selected if i != image_id], image_id] if content.get("add") else [image_id]
            self.open_review(chosen, at=image_id)
        elif kind == "open_all":
            if not self.neighbors:
                raise ValueError("no nearest training images to review")
            self.open_review(self.neighbors, at=self.neighbors[0])
        else:
            raise ValueError(f"unknown message kind {kind!r}")

    # -- display --------------------------------------------------------------------------
    def __repr__(self) -> str:
        return f"<LineageView {self.lineage.summary()}; {len(self.selected)} selected>"

    # -- internals ------------------------------------------------------------------------
    def _path_of(self, image_id: str) -> str | None:
        if image_id in self._paths:
            return self._paths[image_id]
        for n in self._payload.nodes:
            if n.get("image_id") == image_id:
                p = (self.lineage.prediction or {}).get("path") if n["kind"] == "prediction" \
                    else (self.lineage.image or {}).get("path")
                return str(p) if p else None
        return None

    def _aliases(self) -> dict[tuple[str, str], list[str]]:
        """``(model, version) -> current aliases`` of the models on display (``ws.models()``)."""
        chain = self.lineage
        if chain.model is None and not chain.models.height:
            return {}
        models = self.ws.models()
        return {(str(m), str(v)): list(a or []) for m, v, a in models.select("model", "version", "aliases").iter_rows()}


def lineage_view(
    ws: Workspace,
    prediction_or_image_id: str,
    *,
    k: int = 5,
    embedding: str | None = None,
    chain: Lineage | None = None,
    thumb_size: int = 112,
    max_rows: int = 20,
    reviewer: str | None = None,
) -> LineageView:
    """Show where a prediction came from (or where an image went) as a small graph with thumbnails.

    A prediction id shows prediction -> model version (with its aliases) -> run -> dataset
    version -> taxonomy version, then the ``k`` nearest training images with their distance,
    classes, annotators and review decisions. An image id shows the image, then the dataset
    versions holding it, the model versions trained on them and the predictions made on it.
    Click a training image to open it in the review widget below the graph (ctrl/shift-click
    adds to the images under review; "Review all" takes every nearest image). See
    :class:`LineageView` for the parameters.

    Returns
    -------
    LineageView
        Display it to show the widget; ``.lineage``, ``.selected``, ``.neighbors``,
        ``.select(...)`` and ``.open_review(...)`` work from Python.

    Examples
    --------
    >>> import jupyter_cvops as cv
    >>> pid = ws.predictions()["prediction_id"][0]          # doctest: +SKIP
    >>> view = cv.lineage_view(ws, pid, k=5)                # doctest: +SKIP
    >>> view                                                # doctest: +SKIP
    >>> cv.lineage_view(ws, view.neighbors[0])              # doctest: +SKIP
    """
    return LineageView(ws, prediction_or_image_id, k=k, embedding=embedding, chain=chain, thumb_size=thumb_size,
                       max_rows=max_rows, reviewer=reviewer)
