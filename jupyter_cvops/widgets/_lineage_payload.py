"""What the lineage view hands its widget: a :class:`~jupyter_cvops.lineage.Lineage` as plain,
JSON-able node dicts and one buffer of thumbnails.

Nothing here reads the store beyond what it is given, and nothing is computed: rows of the
chain are formatted for display (short ids, times to the minute, parameters as ``k=v``) and
images are encoded through :func:`~jupyter_cvops.images._thumbnails.make_thumbnail` (content
hash checked, pixel cap applied). Strings stay raw: the browser writes them as text
(``textContent``), never as markup; the only HTML the facade makes escapes them itself.

A node (one card of the chain, or one row of a forward list)::

    {"kind": "model", "title": "Model version", "heading": "clf:b78cd77eed93",
     "chips": ["production"], "fields": [{"label": "framework", "value": "torch.export"}, ...],
     "thumb": None | {"offset", "length", "mime", "width", "height", "placeholder"},
     "image_id": None | "...", "edge": "made by", "missing": False, "error": None}

Examples
--------
>>> from jupyter_cvops.lineage import Lineage
>>> payload = chain_payload(Lineage("prediction", prediction={"prediction_id": "p1", "predicted_class": "dent"}))
>>> [n["kind"] for n in payload.nodes], payload.nodes[1]["missing"]
(['prediction', 'model', 'run', 'dataset_version', 'taxonomy'], True)
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import polars as pl

from ..images._thumbnails import Thumbnail, make_thumbnail

if TYPE_CHECKING:
    from ..lineage import Lineage

__all__ = ["ChainPayload", "ThumbPack", "chain_payload"]

log = logging.getLogger(__name__)

#: Card titles of the backward chain, in order, with the label of the edge leading into each.
BACKWARD = (("prediction", "Prediction", ""), ("model", "Model version", "made by"),
            ("run", "Run", "trained in"), ("dataset_version", "Dataset version", "trained on"),
            ("taxonomy", "Taxonomy", "labelled under"))
#: Forward lists: kind -> (title, label of the edge leading into the column).
FORWARD = {"versions": ("Dataset versions", "in"), "models": ("Model versions", "used to train"),
           "predictions": ("Predictions of this image", "predicted")}

Encoder = Callable[[str, str | None], Thumbnail]


def short(value: Any, n: int = 12) -> str:
    """An id cut to ``n`` characters ("" for None).

    Examples
    --------
    >>> short("0123456789abcdef"), short(None)
    ('0123456789ab', '')
    """
    return "" if value is None else str(value)[:n]


def when(value: Any) -> str:
    """A time to the minute (UTC offsets dropped), anything else as text.

    Examples
    --------
    >>> from datetime import timezone
    >>> when(datetime(2026, 11, 2, 9, 30, 12, tzinfo=timezone.utc)), when(None)
    ('2026-11-02 09:30', '')
    """
    if isinstance(value, datetime):
        return value.isoformat(sep=" ", timespec="minutes").replace("+00:00", "")
    return "" if value is None else str(value)


def number(value: Any, digits: int = 3) -> str:
    """A float with ``digits`` significant digits; ints and text unchanged.

    Examples
    --------
    >>> number(0.912345), number(12), number(None)
    ('0.912', '12', '')
    """
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.{digits}g}"
    return str(value)


def _json(value: Any) -> Any:
    if not isinstance(value, str) or not value:
        return value
    try:
        return json.loads(value)
    except ValueError:
        return value


def pairs(value: Any, limit: int = 6) -> str:
    """A JSON object (or dict) as ``k=v, ...`` (at most ``limit`` pairs, then ``+n``).

    Examples
    --------
    >>> pairs('{"lr": 0.001, "epochs": 5}')
    'lr=0.001, epochs=5'
    """
    obj = _json(value)
    if not isinstance(obj, Mapping):
        return "" if obj in (None, "", {}) else str(obj)
    items = [f"{k}={number(v, 4) if isinstance(v, float) else v}" for k, v in obj.items()]
    extra = f", +{len(items) - limit}" if len(items) > limit else ""
    return ", ".join(items[:limit]) + extra


def names(value: Any) -> list[str]:
    """A list (or JSON list) as strings; None as [].

    Examples
    --------
    >>> names('["dent", "ok"]'), names(None), names(["a", None])
    (['dent', 'ok'], [], ['a'])
    """
    obj = _json(value)
    if obj is None:
        return []
    if isinstance(obj, str):
        return [obj]
    return [str(x) for x in obj if x is not None]


def _fields(*rows: tuple[str, Any]) -> list[dict[str, str]]:
    return [{"label": label, "value": str(v)} for label, v in rows if v not in (None, "", [])]


def node(kind: str, title: str, heading: str = "", *, fields: Sequence[tuple[str, Any]] = (),
         chips: Sequence[str] = (), edge: str = "", image_id: str | None = None,
         thumb: dict[str, Any] | None = None, missing: bool = False, error: str | None = None) -> dict[str, Any]:
    """One card (or list row) of the view, as the widget reads it.

    Examples
    --------
    >>> node("run", "Run", "train", fields=[("status", "finished"), ("user", None)])["fields"]
    [{'label': 'status', 'value': 'finished'}]
    """
    return {"kind": kind, "title": title, "heading": heading, "fields": _fields(*fields),
            "chips": [str(c) for c in chips], "edge": edge, "image_id": image_id, "thumb": thumb,
            "missing": missing, "error": error}


class ThumbPack:
    """Thumbnails encoded once each and concatenated into one buffer (the widget's ``thumbs``).

    Parameters
    ----------
    max_side
        Longest side of the encoded thumbnails.
    encode
        ``(path, image_id) -> Thumbnail``; default :func:`make_thumbnail` with the registered
        id (changed files become a "file changed since registration" tile, never decoded).

    Examples
    --------
    >>> import numpy as np
    >>> from jupyter_cvops.images._thumbnails import encode_array
    >>> pack = ThumbPack(encode=lambda path, iid: encode_array(np.zeros((8, 8), np.uint8)))
    >>> ref = pack.add("a.png", "id-a"); pack.add("a.png", "id-a") == ref, ref["offset"], ref["placeholder"]
    (True, 0, None)
    """

    def __init__(self, max_side: int = 224, encode: Encoder | None = None) -> None:
        self.max_side = max_side
        self._encode = encode or (lambda path, iid: make_thumbnail(path, image_id=iid, max_side=self.max_side))
        self._chunks: list[bytes] = []
        self._size = 0
        self._refs: dict[tuple[str, str | None], dict[str, Any]] = {}
        self.errors: dict[str, str] = {}

    def add(self, path: str | None, image_id: str | None) -> dict[str, Any] | None:
        """The slice of :attr:`data` holding ``path``'s thumbnail, or None when it cannot be read."""
        if not path:
            return None
        key = (str(path), image_id)
        if key in self._refs:
            return self._refs[key]
        try:
            t = self._encode(str(path), image_id)
        except (OSError, ValueError) as exc:
            log.warning("lineage view: no thumbnail for %s: %s", path, exc)
            self.errors[str(path)] = f"cannot read {Path(str(path)).name}: {exc}"
            return None
        ref = {"offset": self._size, "length": len(t.data), "mime": t.mime, "width": t.width, "height": t.height,
               "placeholder": t.placeholder}
        self._chunks.append(t.data)
        self._size += len(t.data)
        self._refs[key] = ref
        return ref

    @property
    def data(self) -> bytes:
        """Every thumbnail, concatenated."""
        return b"".join(self._chunks)


@dataclass
class ChainPayload:
    """The widget's traits for one chain (see the module notes for a node's keys).

    Attributes
    ----------
    nodes
        The chain's cards, left to right (backward: prediction ... taxonomy; forward: the image).
    neighbors
        Backward: the nearest training images (``image_id, distance, path, file_name, split,
        classes, annotators, decisions, thumb``).
    groups
        Forward: ``{"kind", "title", "edge", "count", "rows": [node, ...], "more", "note"}``.
    thumbs
        Every thumbnail, one buffer.
    reviewable
        Image ids a click may open in the review widget.

    Examples
    --------
    >>> ChainPayload().reviewable
    []
    """

    nodes: list[dict[str, Any]] = field(default_factory=list)
    neighbors: list[dict[str, Any]] = field(default_factory=list)
    groups: list[dict[str, Any]] = field(default_factory=list)
    thumbs: bytes = b""
    reviewable: list[str] = field(default_factory=list)


def chain_payload(chain: Lineage, *, aliases: Mapping[tuple[str, str], Sequence[str]] | None = None,
                  pack: ThumbPack | None = None, max_rows: int = 20) -> ChainPayload:
    """The widget's traits for ``chain`` (a prediction's backward chain or an image's forward one).

    Parameters
    ----------
    chain
        What ``ws.lineage(id)`` returned.
    aliases
        ``(model, version_id) -> current aliases`` (from ``ws.models()``).
    pack
        Where thumbnails go (default: a new :class:`ThumbPack`).
    max_rows
        Rows shown per forward list (the count says how many there are).

    Examples
    --------
    >>> payload = chain_payload(ws.lineage(prediction_id))            # doctest: +SKIP
    >>> [n["heading"] for n in payload.nodes]                         # doctest: +SKIP
    """
    pack = pack if pack is not None else ThumbPack()
    aliases = aliases or {}
    out = ChainPayload()
    if chain.start == "image":
        _forward(chain, aliases, pack, max_rows, out)
    else:
        _backward(chain, aliases, pack, out)
    out.thumbs = pack.data
    return out


def _image_node(kind: str, title: str, path: Any, image_id: str | None, pack: ThumbPack, *, heading: str,
                fields: Sequence[tuple[str, Any]], chips: Sequence[str] = (), edge: str = "") -> dict[str, Any]:
    thumb = pack.add(str(path) if path else None, image_id)
    error = None if thumb is not None else (pack.errors.get(str(path)) or "no image")
    return node(kind, title, heading, fields=fields, chips=chips, edge=edge, image_id=image_id, thumb=thumb,
                error=error)


def _backward(chain: Lineage, aliases: Mapping[tuple[str, str], Sequence[str]], pack: ThumbPack,
              out: ChainPayload) -> None:
    p = chain.prediction or {}
    iid = p.get("image_id")
    score = p.get("score")
    pred = _image_node(
        "prediction", "Prediction", p.get("path"), iid, pack,
        heading=str(p.get("predicted_class") or "(no class)"),
        chips=[c for c in (p.get("alias") and f"@{p['alias']}", p.get("role")) if c],
        fields=[("score", number(score)), ("time", when(p.get("time"))), ("status", p.get("status")),
                ("error", p.get("error")), ("file", Path(str(p["path"])).name if p.get("path") else None),
                ("source", p.get("source")), ("id", short(p.get("prediction_id")))])
    if not iid:
        pred["error"] = "the image could not be read when predicted"
    if iid:
        out.reviewable.append(str(iid))
    cards = {"prediction": pred}
    m = chain.model
    if m:
        vid = str(m.get("version_id"))
        cards["model"] = node(
            "model", "Model version", f"{m.get('model')}:{short(vid)}",
            chips=[f"@{a}" for a in aliases.get((str(m.get("model")), vid), ())],
            fields=[("framework", m.get("framework")), ("task", m.get("task")),
                    ("classes", ", ".join(names(m.get("classes")))), ("created", when(m.get("created_at"))),
                    ("author", m.get("author")), ("metrics", pairs(m.get("metrics")))])
    r = chain.run
    if r:
        cards["run"] = node(
            "run", "Run", str(r.get("name") or short(r.get("run_id"))),
            chips=[str(r["status"])] if r.get("status") else [],
            fields=[("params", pairs(r.get("params"))), ("metrics", pairs(r.get("metrics"))),
                    ("started", when(r.get("started_at"))), ("ended", when(r.get("ended_at"))),
                    ("user", r.get("user")), ("git", short(r.get("git_commit"), 10)), ("error", r.get("error")),
                    ("id", short(r.get("run_id")))])
    d = chain.dataset_version
    if d:
        cards["dataset_version"] = node(
            "dataset_version", "Dataset version", str(d.get("name") or short(d.get("version_id"))),
            fields=[("images", d.get("n_images")), ("labels", d.get("n_labels")),
                    ("id", short(d.get("version_id")))])
    t = chain.taxonomy
    if t:
        cards["taxonomy"] = node(
            "taxonomy", "Taxonomy", f"v{t.get('version')}",
            fields=[("created", when(t.get("created_at"))), ("author", t.get("author")),
                    ("message", t.get("message"))])
    elif d and d.get("taxonomy_version"):
        cards["taxonomy"] = node("taxonomy", "Taxonomy", f"v{d['taxonomy_version']}", missing=True,
                                 error="not in this workspace's taxonomy history")
    for kind, title, edge in BACKWARD:
        card = cards.get(kind) or node(kind, title, "not recorded", missing=True)
        card["edge"] = edge
        out.nodes.append(card)
    nb = chain.neighbors
    if nb.height:
        for r in nb.iter_rows(named=True):
            thumb = pack.add(r.get("path"), r["image_id"])
            out.neighbors.append({
                "image_id": r["image_id"], "distance": number(r.get("distance"), 4),
                "path": r.get("path") or "", "file_name": Path(str(r["path"])).name if r.get("path") else "",
                "split": r.get("split") or "", "classes": names(r.get("classes")),
                "annotators": names(r.get("annotators")), "decisions": names(r.get("decisions")), "thumb": thumb,
                "error": None if thumb is not None else (pack.errors.get(str(r.get("path"))) or "no image")})
            out.reviewable.append(str(r["image_id"]))


def _group(kind: str, frame: pl.DataFrame, rows: list[dict[str, Any]], max_rows: int,
           note: str = "") -> dict[str, Any]:
    title, edge = FORWARD[kind]
    return {"kind": kind, "title": title, "edge": edge, "count": frame.height, "rows": rows[:max_rows],
            "more": max(0, frame.height - max_rows), "note": note}


def _forward(chain: Lineage, aliases: Mapping[tuple[str, str], Sequence[str]], pack: ThumbPack, max_rows: int,
             out: ChainPayload) -> None:
    img = chain.image or {}
    iid = img.get("image_id")
    out.nodes.append(_image_node(
        "image", "Image", img.get("path"), iid, pack,
        heading=Path(str(img["path"])).name if img.get("path") else short(iid),
        fields=[("source", img.get("source")), ("captured", when(img.get("captured_at"))), ("id", short(iid))]))
    if iid:
        out.reviewable.append(str(iid))
    vnames = {str(r["version_id"]): ", ".join(names(r.get("names"))) or short(r["version_id"])
              for r in chain.versions.iter_rows(named=True)}
    vrows = [node("version", "Dataset version", vnames[str(r["version_id"])],
                  fields=[("split", r.get("split")), ("id", short(r["version_id"]))])
             for r in chain.versions.head(max_rows).iter_rows(named=True)]
    mrows = []
    for r in chain.models.head(max_rows).iter_rows(named=True):
        vid = str(r["version_id"])
        dv = r.get("dataset_version")
        mrows.append(node("model", "Model version", f"{r['model']}:{short(vid)}",
                          chips=[f"@{a}" for a in aliases.get((str(r["model"]), vid), ())],
                          fields=[("trained on", vnames.get(str(dv), short(dv)) if dv else ""),
                                  ("created", when(r.get("created_at")))]))
    prows = []
    for r in chain.predictions.head(max_rows).iter_rows(named=True):
        prows.append(node("prediction", "Prediction", str(r.get("predicted_class") or "(no class)"),
                          chips=[f"@{r['alias']}"] if r.get("alias") else [],
                          fields=[("score", number(r.get("score"))),
                                  ("model", f"{r.get('model')}:{short(r.get('model_version'))}"),
                                  ("time", when(r.get("time"))), ("status", r.get("status")),
                                  ("id", short(r.get("prediction_id")))]))
    n_by_models = chain.n_model_predictions
    out.groups = [
        _group("versions", chain.versions, vrows, max_rows),
        _group("models", chain.models, mrows, max_rows,
               note=f"{n_by_models} predictions made by these models" if chain.models.height else ""),
        _group("predictions", chain.predictions, prows, max_rows),
    ]
