"""``cv.drift_view(ws, reference=..., current=...)``: explore where and when production drifts.

Two objects, as in the rest of :mod:`jupyter_cvops.widgets`:

- :class:`DriftWidget`, the anywidget: traits and messages only. It draws a WebGL
  scatter of a 2D projection of reference and current embeddings (colored by set,
  window or novelty), the drift timeline per window with the alert threshold, a
  histogram of one image statistic (reference vs current), and a thumbnail gallery
  of the selection. Point arrays arrive as binary buffers (``coords`` float32,
  ``set_code`` uint8, ``window_code`` int16, ``novelty`` float32, ``visible`` uint8),
  never JSON lists. It computes nothing: it hit-tests a box or lasso and reports the
  indices.
- :class:`DriftView`, the facade :func:`drift_view` returns: it holds the workspace,
  runs ``ws.drift`` (unless given its frame), projects the embeddings with
  :func:`jupyter_cvops.embeddings._projection.project`, answers selections with thumbnails, filters
  the scatter to a clicked window, and records tags and review sessions.

Messages from the browser (``model.send``)::

    {"kind": "select", "mode": "box" | "lasso" | "clear"}  + one buffer: uint32 point indices
    {"kind": "tag", "tag": name}                        tag the current selection
    {"kind": "review"}                                  open a review of the current selection

The browser sets ``active_window`` (a timeline click; -1 shows every window),
``color_by``, ``feature`` and ``render_log`` directly.

Messages to the browser (``widget.send``)::

    {"kind": "gallery", "items": [{"image_id", "set", "window", "mime"}, ...], "total": n}
        + one buffer per item: the encoded thumbnail

Tags are recorded as ``drift.tag`` events in the workspace's audit log
(``ws.events()``), with the tag, the image ids, the reference and the embedding table;
:attr:`DriftView.tags` holds this session's tags.

Examples
--------
>>> import jupyter_cvops as cv                                        # doctest: +SKIP
>>> view = cv.drift_view(ws, reference="demo-train", by="1d")        # doctest: +SKIP
>>> view                                                             # doctest: +SKIP
>>> view.selected[:3]                                                # doctest: +SKIP
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import anywidget
import ipywidgets
import numpy as np
import polars as pl
import traitlets

from ..embeddings._projection import Method, project
from ..images._thumbnails import Thumbnail, make_thumbnail
from ._bundle import _Bundle
from ._display import bundle_with_repr

if TYPE_CHECKING:
    from ..workspace import Workspace
    from .review import ReviewSession

__all__ = ["DriftView", "DriftWidget", "drift_view"]

log = logging.getLogger(__name__)

#: Most thumbnails sent for one selection.
GALLERY_SIZE = 24
#: Bins of the image-statistic histograms.
HIST_BINS = 30
#: Features shown first when present (the demo's planted changes move these).
PREFERRED_FEATURES = ("brightness", "contrast", "sharpness", "saturation", "edge_density")


def _window_label(value: Any) -> str:
    return value.isoformat(sep=" ", timespec="minutes").replace("+00:00", "") if hasattr(value, "isoformat") \
        else str(value)


class DriftWidget(anywidget.AnyWidget):
    """Browser half of the drift explorer: synced traits and messages, no store access.

    Make one with :func:`drift_view`, which wires it to a :class:`DriftView`; on its own
    it displays whatever its traits hold (the 100k-point benchmark fills them directly).

    Traits (synced, snake_case on both sides): ``coords`` (float32 x, y pairs),
    ``set_code`` (uint8: 0 reference, 1 current), ``window_code`` (int16 window index,
    -1 for reference points), ``novelty`` (float32 conformal p-values, 1 for
    reference points), ``witness`` (float32 MMD witness per point, NaN for reference
    points and untested windows; empty until ``color_by="witness"`` asks), ``visible`` (uint8 mask of drawn points), ``n_points``,
    ``windows`` (one dict per window: label, n, statistic, p_value, q_value, drifted,
    novel_frac, top_features), ``alpha`` (the alert threshold), ``active_window``,
    ``color_by`` (``"set"``, ``"window"``, ``"novelty"``, ``"witness"``), ``features``, ``feature``,
    ``histogram`` (edges, reference, current counts), ``projection`` (a label),
    ``n_selected``, ``tags`` (tag -> count), ``status`` and ``render_log`` (written by the
    browser: ``ms`` per draw). ``selected`` (image ids) is Python-only.

    Examples
    --------
    >>> w = DriftWidget.from_arrays(np.zeros((3, 2), np.float32), np.array([0, 1, 1]))  # doctest: +SKIP
    >>> w.n_points                                                                     # doctest: +SKIP
    3
    """

    _esm = _Bundle("drift.js")
    _css = _Bundle("drift.css")

    coords = traitlets.Bytes(b"").tag(sync=True)
    set_code = traitlets.Bytes(b"").tag(sync=True)
    window_code = traitlets.Bytes(b"").tag(sync=True)
    novelty = traitlets.Bytes(b"").tag(sync=True)
    witness = traitlets.Bytes(b"").tag(sync=True)
    visible = traitlets.Bytes(b"").tag(sync=True)
    n_points = traitlets.Int(0).tag(sync=True)
    windows = traitlets.List(traitlets.Dict()).tag(sync=True)
    alpha = traitlets.Float(0.05).tag(sync=True)
    active_window = traitlets.Int(-1).tag(sync=True)
    color_by = traitlets.Enum(("set", "window", "novelty", "witness"), default_value="set").tag(sync=True)
    features = traitlets.List(traitlets.Unicode()).tag(sync=True)
    feature = traitlets.Unicode("").tag(sync=True)
    histogram = traitlets.Dict().tag(sync=True)
    projection = traitlets.Unicode("").tag(sync=True)
    n_selected = traitlets.Int(0).tag(sync=True)
    tags = traitlets.Dict().tag(sync=True)
    status = traitlets.Unicode("").tag(sync=True)
    render_log = traitlets.List(traitlets.Dict()).tag(sync=True)
    #: Image ids of the selection (Python only: a 100k selection never goes back as JSON).
    selected = traitlets.List(traitlets.Unicode())

    @classmethod
    def from_arrays(cls, coords: Any, set_code: Any, window_code: Any = None, novelty: Any = None,
                    **traits: Any) -> DriftWidget:
        """A widget showing the given points (no workspace: benchmarks and tests).

        Parameters
        ----------
        coords
            (n, 2) coordinates.
        set_code
            (n,) 0 for reference, 1 for current.
        window_code
            (n,) window index per point, -1 for reference (default: 0 for current points).
        novelty
            (n,) p-values (default 1).
        **traits
            Other traits (``windows``, ``alpha``, ...).

        Returns
        -------
        DriftWidget

        Examples
        --------
        >>> w = DriftWidget.from_arrays(np.zeros((2, 2)), [0, 1])   # doctest: +SKIP
        >>> len(w.coords)                                          # doctest: +SKIP
        16
        """
        xy = np.ascontiguousarray(coords, dtype="<f4").reshape(-1, 2)
        sc = np.asarray(set_code, dtype=np.uint8)
        n = xy.shape[0]
        wc = np.where(sc == 1, 0, -1) if window_code is None else np.asarray(window_code)
        nov = np.ones(n) if novelty is None else np.asarray(novelty)
        return cls(coords=xy.tobytes(), set_code=sc.tobytes(), window_code=wc.astype("<i2").tobytes(),
                   novelty=nov.astype("<f4").tobytes(), visible=np.ones(n, np.uint8).tobytes(),
                   n_points=n, **traits)


class DriftView:
    """The drift explorer: projection, timeline, histograms and selections of one comparison.

    Parameters
    ----------
    ws
        The workspace.
    reference, current, by, model
        As in ``ws.drift``: the reference (a dataset version, its name, image ids or an
        expression), the current images (default: every image not in the reference),
        the window length and the embedding model.
    drift
        A frame ``ws.drift`` already returned for the same arguments (skips recomputing).
    projection
        ``"pca"`` (default: fast at any size), ``"umap"`` (needs umap-learn:
        ``pip install 'jupyter-cvops[umap]'``; seeded, so repeatable but single-threaded)
        or ``"auto"`` (UMAP when umap-learn is installed, else PCA).
    color_by
        Initial coloring: ``"set"``, ``"window"`` or ``"novelty"``.
    feature
        Initial image statistic of the histogram (default: brightness when present).
    alpha
        Alert threshold of the timeline (the windows' corrected ``q_value``).
    seed
        Seed of the projection.
    thumb_side
        Longest side of gallery thumbnails, in pixels.
    **drift_options
        Passed to ``ws.drift`` (e.g. ``n_permutations``, ``progress``).

    Attributes
    ----------
    widget : DriftWidget
    drift : polars.DataFrame
        The per-window frame of ``ws.drift``.
    points : polars.DataFrame
        One row per drawn point: index, image_id, set, window (index, -1 for
        reference), x, y, novelty_p (and witness, once the view was colored by it).

    Examples
    --------
    >>> view = DriftView(ws, reference="demo-train", by="1d")   # doctest: +SKIP
    >>> view.filter_window(-1)                                  # doctest: +SKIP
    """

    def __init__(
        self,
        ws: Workspace,
        reference: Any,
        current: Any = None,
        *,
        by: str = "1d",
        model: str | None = "imgstats",
        drift: pl.DataFrame | None = None,
        projection: Method = "pca",
        color_by: str = "set",
        feature: str | None = None,
        alpha: float = 0.05,
        seed: int = 0,
        thumb_side: int = 128,
        **drift_options: Any,
    ) -> None:
        from ..drift._windows import _current_ids, _reference_ids
        from ..drift._novelty import reference_novelty
        from ..embeddings.tables import load_vectors

        self.ws = ws
        self.reference = reference
        self.by = by
        self.model = model
        self.thumb_side = thumb_side
        self.drift = drift if drift is not None else ws.drift(reference, current, by=by, model=model,
                                                              alpha=alpha, **drift_options)
        ref_ids = _reference_ids(ws, reference)
        cur_ids = _current_ids(ws, current, ref_ids)
        emb = load_vectors(ws, model, images=ref_ids + cur_ids)
        stats = emb if model == "imgstats" else load_vectors(ws, "imgstats", images=ref_ids + cur_ids)
        pos = {iid: i for i, iid in enumerate(emb.image_ids)}
        ref_keep = [i for i in dict.fromkeys(ref_ids) if i in pos]
        ref_set = set(ref_keep)
        cur_keep = [i for i in dict.fromkeys(cur_ids) if i in pos and i not in ref_set]
        ids = ref_keep + cur_keep
        x = emb.vectors[[pos[i] for i in ids]]
        n_ref = len(ref_keep)
        proj = project(x, projection, seed=seed, scale_reference=x[:n_ref] if n_ref else None)
        self._ids = np.array(ids, dtype=object)
        self._set = np.r_[np.zeros(n_ref, np.uint8), np.ones(len(cur_keep), np.uint8)]

        images = ws.images().select("image_id", "path", pl.coalesce("captured_at", "registered_at").alias("t"))
        meta = pl.DataFrame({"image_id": ids}).join(images, on="image_id", how="left", maintain_order="left")
        self._paths = dict(zip(meta["image_id"].to_list(), meta["path"].to_list(), strict=True))
        starts = self.drift["window"].to_list()
        index = {w: k for k, w in enumerate(starts)}
        win = meta["t"].dt.truncate(by).to_list()
        self._window = np.array([-1 if s == 0 else index.get(w, -1) for s, w in zip(self._set, win, strict=True)],
                                dtype=np.int16)
        lost = int(((self._set == 1) & (self._window < 0)).sum())
        if lost:
            raise ValueError(f"{lost} current images fall in no window of the drift frame: was it computed "
                             f"with by={by!r} and the same reference and current images?")

        novelty = np.ones(len(ids), np.float64)
        if n_ref >= 2 and cur_keep:  # conformal kNN novelty, searched in LanceDB
            novelty[n_ref:] = reference_novelty(ws, emb.table, ref_keep, x[:n_ref], x[n_ref:],
                                                k=min(5, n_ref - 1), seed=seed).p_values
        self._novelty = novelty

        spos = {iid: i for i, iid in enumerate(stats.image_ids)}
        self._feature_names = list(stats.feature_names or [f"f{i}" for i in range(stats.vectors.shape[1])])
        self._features = stats.vectors[[spos[i] for i in ids]] if all(i in spos for i in ids) \
            else np.full((len(ids), len(self._feature_names)), np.nan, np.float32)
        first = [f for f in PREFERRED_FEATURES if f in self._feature_names]
        features = first + [f for f in self._feature_names if f not in first]
        self.points = pl.DataFrame({
            "index": np.arange(len(ids)), "image_id": ids,
            "set": np.where(self._set == 0, "reference", "current"), "window": self._window,
            "x": proj.coords[:, 0], "y": proj.coords[:, 1], "novelty_p": novelty,
        })
        self._tags: dict[str, list[str]] = {}
        self._thumbs: dict[str, Thumbnail] = {}
        self._review_out = ipywidgets.Output()
        self.widget = DriftWidget.from_arrays(
            proj.coords, self._set, self._window, novelty,
            windows=[self._window_row(r) for r in self.drift.iter_rows(named=True)],
            alpha=alpha, color_by=color_by, features=features, feature=feature or (features[0] if features else ""),
            projection=proj.describe(), status=f"{n_ref} reference, {len(cur_keep)} current images",
        )
        self.widget.on_msg(self._on_msg)
        self.widget.observe(self._on_window, names="active_window")
        self.widget.observe(self._on_feature, names="feature")
        self.widget.observe(self._on_color, names="color_by")
        self._drift_args = {"current": current, "by": by, "model": model, "alpha": alpha, **drift_options}
        self._update_histogram()
        if color_by == "witness":
            self._load_witness()

    # ------------------------------------------------------------------ state
    @staticmethod
    def _window_row(r: dict[str, Any]) -> dict[str, Any]:
        def num(v: Any) -> float | None:
            return None if v is None or not np.isfinite(v) else float(v)

        return {"label": _window_label(r["window"]), "n": int(r["n"]), "statistic": num(r.get("statistic")),
                "p_value": num(r.get("p_value")), "q_value": num(r.get("q_value")),
                "drifted": bool(r.get("drifted")), "novel_frac": num(r.get("novel_frac")),
                "top_features": list(r.get("top_features") or [])[:3]}

    @property
    def selected(self) -> list[str]:
        """Image ids of the current selection (box or lasso in the scatter, or :meth:`select`).

        Examples
        --------
        >>> view.selected[:2]     # doctest: +SKIP
        """
        return list(self.widget.selected)

    @property
    def tags(self) -> dict[str, list[str]]:
        """Tags made in this view: tag -> image ids (each also a ``drift.tag`` event).

        Examples
        --------
        >>> view.tag("glare"); view.tags["glare"][:1]   # doctest: +SKIP
        """
        return {k: list(v) for k, v in self._tags.items()}

    @property
    def filtered(self) -> np.ndarray:
        """Indices (rows of :attr:`points`) drawn now: every point, or the active window's.

        Examples
        --------
        >>> view.filter_window(3); view.filtered[:5]   # doctest: +SKIP
        """
        return np.flatnonzero(np.frombuffer(self.widget.visible, dtype=np.uint8))

    def filter_window(self, window: int | str | None) -> None:
        """Show one window's current points (index or label) with the reference; ``None``/-1: all.

        Examples
        --------
        >>> view.filter_window(0)      # doctest: +SKIP
        """
        if window is None:
            window = -1
        if isinstance(window, str):
            labels = [w["label"] for w in self.widget.windows]
            if window not in labels:
                raise ValueError(f"no window {window!r}; windows: {labels}")
            window = labels.index(window)
        if not -1 <= window < len(self.widget.windows):
            raise ValueError(f"window index {window} out of range (-1 .. {len(self.widget.windows) - 1})")
        self.widget.active_window = int(window)

    def select(self, ids_or_indices: Sequence[str] | Sequence[int] | np.ndarray) -> None:
        """Select points from Python (image ids or point indices) as a box selection would.

        Examples
        --------
        >>> view.select(view.drift["top_novel"][-1])   # doctest: +SKIP
        """
        items = list(ids_or_indices)
        if items and isinstance(items[0], str):
            where = {iid: i for i, iid in enumerate(self._ids)}
            idx = np.array([where[i] for i in items if i in where], dtype=np.int64)
        else:
            idx = np.asarray(items, dtype=np.int64)
        self._set_selection(idx)

    def tag(self, tag: str, ids: Sequence[str] | None = None) -> int:
        """Tag images (default: the selection): records a ``drift.tag`` event in the workspace.

        Parameters
        ----------
        tag
            A non-empty name.
        ids
            Image ids; default :attr:`selected`.

        Returns
        -------
        int
            How many images were tagged.

        Examples
        --------
        >>> view.tag("tilted-camera")    # doctest: +SKIP
        12
        """
        tag = tag.strip()
        if not tag:
            raise ValueError("a tag needs a name")
        chosen = list(self.selected if ids is None else ids)
        if not chosen:
            raise ValueError("nothing to tag: select points first (or pass ids=)")
        ref = self.reference if isinstance(self.reference, str) else getattr(self.reference, "name", "ids")
        self.ws.store.event("drift.tag", {"tag": tag, "image_ids": chosen, "reference": str(ref),
                                          "model": str(self.model), "by": self.by})
        self._tags.setdefault(tag, [])
        self._tags[tag] = list(dict.fromkeys(self._tags[tag] + chosen))
        self.widget.tags = {k: len(v) for k, v in self._tags.items()}
        self.widget.status = f"tagged {len(chosen)} images {tag!r}"
        return len(chosen)

    def to_review(self, ids: Sequence[str] | None = None, **options: Any) -> ReviewSession:
        """A review session over the selection (or ``ids``): ``cv.review(ws, queue=ids)``.

        The ids go in as the queue itself, so unlabeled production images are reviewable
        too (``ws.review_queue`` lists labeled images only).

        Examples
        --------
        >>> session = view.to_review(); session     # doctest: +SKIP
        """
        from .review import review

        chosen = list(self.selected if ids is None else ids)
        if not chosen:
            raise ValueError("nothing to review: select points first (or pass ids=)")
        return review(self.ws, queue=chosen, **options)

    # ------------------------------------------------------------------ messages
    def _on_msg(self, _widget: Any, content: dict[str, Any], buffers: list[Any]) -> None:
        try:
            kind = content.get("kind")
            if kind == "select":
                idx = (np.frombuffer(bytes(buffers[0]), dtype="<u4").astype(np.int64)
                       if buffers and content.get("mode") != "clear" else np.zeros(0, np.int64))
                self._set_selection(idx)
            elif kind == "tag":
                self.tag(str(content.get("tag", "")))
            elif kind == "review":
                session = self.to_review()
                self._review_out.clear_output()
                with self._review_out:
                    from IPython.display import display

                    display(session)  # type: ignore[no-untyped-call]  # IPython leaves display() unannotated
                self.widget.status = f"review of {len(self.selected)} images opened below"
        except (ValueError, KeyError, OSError) as exc:
            self.widget.status = f"error: {exc}"

    def _set_selection(self, idx: np.ndarray) -> None:
        n = len(self._ids)
        idx = np.unique(idx[(idx >= 0) & (idx < n)])
        ids = [str(i) for i in self._ids[idx]]
        self.widget.selected = ids
        self.widget.n_selected = len(ids)
        items, bufs = [], []
        for i in idx[:GALLERY_SIZE]:
            iid = str(self._ids[i])
            try:
                th = self._thumbs.get(iid) or make_thumbnail(self._paths[iid], image_id=iid, max_side=self.thumb_side)
            except (OSError, ValueError, KeyError) as exc:
                log.warning("no thumbnail for %s: %s", iid, exc)
                continue
            self._thumbs[iid] = th
            items.append({"image_id": iid, "set": "reference" if self._set[i] == 0 else "current",
                          "window": int(self._window[i]), "mime": th.mime})
            bufs.append(th.data)
        self.widget.send({"kind": "gallery", "items": items, "total": len(ids)}, bufs)

    def _on_color(self, change: dict[str, Any]) -> None:
        if change["new"] == "witness" and not self.widget.witness:
            self._load_witness()

    def _load_witness(self) -> None:
        """Witness values per point (``ws.drift_images``, same arguments and seeds as the
        drift frame), computed the first time the view is colored by them."""
        self.widget.status = "computing witness values ..."
        images = self.ws.drift_images(self.reference, progress=False, **self._drift_args)
        got = dict(zip(images["image_id"].to_list(), images["witness"].fill_null(np.nan).to_list(), strict=True))
        w = np.array([got.get(i, np.nan) if s == 1 else np.nan for i, s in zip(self._ids, self._set, strict=True)],
                     dtype="<f4")
        self.points = self.points.with_columns(pl.Series("witness", w))
        self.widget.witness = w.tobytes()
        self.widget.status = "colored by witness: red = where this window has more mass than the reference"

    def _on_window(self, change: dict[str, Any]) -> None:
        k = int(change["new"])
        mask = np.ones(len(self._ids), np.uint8) if k < 0 else ((self._set == 0) | (self._window == k)).astype(np.uint8)
        self.widget.visible = mask.tobytes()
        self._update_histogram()

    def _on_feature(self, _change: dict[str, Any]) -> None:
        self._update_histogram()

    def _update_histogram(self) -> None:
        name = self.widget.feature
        if name not in self._feature_names:
            self.widget.histogram = {}
            return
        col = self._features[:, self._feature_names.index(name)].astype(np.float64)
        k = self.widget.active_window
        ref = col[self._set == 0]
        cur = col[(self._set == 1) & ((self._window == k) if k >= 0 else True)]
        both = np.concatenate([ref, cur])
        both = both[np.isfinite(both)]
        if both.size == 0:
            self.widget.histogram = {}
            return
        lo, hi = float(both.min()), float(both.max())
        edges = np.linspace(lo, hi if hi > lo else lo + 1.0, HIST_BINS + 1)
        r, _ = np.histogram(ref[np.isfinite(ref)], edges)
        c, _ = np.histogram(cur[np.isfinite(cur)], edges)
        self.widget.histogram = {"feature": name, "edges": edges.tolist(), "reference": r.tolist(),
                                 "current": c.tolist(), "window": int(k)}

    # ------------------------------------------------------------------ display
    def _repr_mimebundle_(self, **kwargs: Any) -> tuple[dict[str, Any], dict[str, Any]] | None:
        return bundle_with_repr(ipywidgets.VBox([self.widget, self._review_out]), self, **kwargs)

    def __repr__(self) -> str:
        n_ref = int((self._set == 0).sum())
        alerts = sum(w["drifted"] for w in self.widget.windows)
        return (f"<DriftView {n_ref} reference vs {len(self._ids) - n_ref} current images, "
                f"{len(self.widget.windows)} windows ({alerts} alerts), {len(self.selected)} selected>")


def drift_view(
    ws: Workspace,
    reference: Any,
    current: Any = None,
    *,
    by: str = "1d",
    model: str | None = "imgstats",
    drift: pl.DataFrame | None = None,
    projection: Method = "pca",
    color_by: str = "set",
    feature: str | None = None,
    alpha: float = 0.05,
    seed: int = 0,
    **drift_options: Any,
) -> DriftView:
    """Open the drift explorer: projection scatter, drift timeline, histograms, selections.

    Drag in the scatter to box-select (switch to lasso in the toolbar); the selection's
    thumbnails show below it and :attr:`DriftView.selected` holds its image ids. Click a
    timeline bar to show only that window's current images; click it again for all.
    "Tag" records a ``drift.tag`` event; "Review" opens ``cv.review`` on the selection.
    See :class:`DriftView` for the parameters.

    Returns
    -------
    DriftView
        Display it to show the widget; ``.selected``, ``.tag(...)``, ``.to_review()``,
        ``.filter_window(...)``, ``.points`` and ``.drift`` work from Python.

    Examples
    --------
    >>> import jupyter_cvops as cv
    >>> table = ws.drift("demo-train", by="1d")                            # doctest: +SKIP
    >>> view = cv.drift_view(ws, reference="demo-train", drift=table)      # doctest: +SKIP
    >>> view                                                               # doctest: +SKIP
    """
    return DriftView(ws, reference, current, by=by, model=model, drift=drift, projection=projection,
                     color_by=color_by, feature=feature, alpha=alpha, seed=seed, **drift_options)
