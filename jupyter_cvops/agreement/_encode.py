"""Internals of :mod:`jupyter_cvops.agreement`: the ``Ratings`` matrix, label encoding, domains.

Split from :mod:`jupyter_cvops.agreement._stats`, which re-exports every name here.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np
import polars as pl

from ._coincidence import (_integer_patterns, _pattern_coincidence, coincidence_from_codes,
                                     pair_confusion)

_ITEM_COLS = ("item", "image_id", "name")
_LABEL_COLS = ("class_name", "class", "label")
_TIME_COLS = ("created_at", "time", "timestamp")
#: Above this many annotators, pair tables list only pairs that share an item.
MAX_LISTED_PAIRS_ANNOTATORS = 100


@dataclass(frozen=True, eq=False)
class Ratings:
    """Image-level labels as an annotators x items matrix of class indices.

    Attributes
    ----------
    codes
        ``(n_annotators, n_items)`` int64; ``codes[a, i]`` is the index into
        ``classes`` of annotator ``a``'s label on item ``i``, -1 if none.
    annotators, classes
        Names, sorted (classes: in the order given to :func:`ratings_from_labels`).
    items
        Item ids (a polars Series, sorted).
    times
        ``(n_annotators, n_items)`` int64 microseconds since the epoch (UTC) of
        each label, or None; only meaningful where ``codes >= 0``.
    time_zone
        Time zone of the source column (None: naive).
    notes
        What was dropped or chosen while building (duplicates, filters).

    Examples
    --------
    >>> r = Ratings.from_matrix([[0, 1, 1], [0, 1, np.nan]])
    >>> r.n_items, r.n_labels, r.classes
    (3, 5, ('0', '1'))
    """

    codes: np.ndarray
    annotators: tuple[str, ...]
    items: pl.Series
    classes: tuple[str, ...]
    times: np.ndarray | None = None
    time_zone: str | None = None
    notes: tuple[str, ...] = ()
    item_column: str = "item"
    label_column: str = "class_name"
    time_column: str | None = None

    @classmethod
    def from_matrix(cls, matrix: Any, annotators: list[str] | None = None,
                    classes: list[str] | None = None) -> Ratings:
        """Ratings from an annotators x items matrix of values (NaN or None = missing).

        Values are mapped to classes in sorted order, named by ``classes`` or
        by the values (whole floats without ``.0``).

        Examples
        --------
        >>> Ratings.from_matrix([["x", "y"], ["x", None]], annotators=["a", "b"]).codes.tolist()
        [[0, 1], [0, -1]]
        """
        arr = np.asarray(matrix)
        if arr.ndim != 2:
            raise ValueError("matrix must be 2-d (annotators x items)")
        flat = arr.ravel()
        miss = missing(flat)
        domain = domain_of(flat[~miss], None)
        codes = np.full(flat.shape, -1, dtype=np.int64)
        codes[~miss] = codes_in(flat[~miss], domain)
        if classes is not None:
            names = list(classes)
        elif domain.dtype.kind == "f" and (domain == np.round(domain)).all():
            names = [str(int(v)) for v in domain]          # 0.0 -> "0"
        else:
            names = [str(v) for v in domain]
        if len(names) != len(domain):
            raise ValueError(f"{len(names)} class names for {len(domain)} distinct values")
        ann = annotators or [f"annotator_{i}" for i in range(arr.shape[0])]
        if len(ann) != arr.shape[0] or len(set(ann)) != len(ann):
            raise ValueError("annotators must name each row once")
        return cls(codes.reshape(arr.shape), tuple(ann), pl.Series("item", np.arange(arr.shape[1])),
                   tuple(names))

    @property
    def n_annotators(self) -> int:
        """Number of annotators (rows)."""
        return int(self.codes.shape[0])

    @property
    def n_items(self) -> int:
        """Number of items (columns)."""
        return int(self.codes.shape[1])

    @property
    def n_classes(self) -> int:
        """Number of classes."""
        return len(self.classes)

    @property
    def n_labels(self) -> int:
        """Number of labels (non-missing cells)."""
        return int((self.codes >= 0).sum())

    def annotator_index(self, name: str) -> int:
        """Row of an annotator; ``ValueError`` if unknown.

        Examples
        --------
        >>> Ratings.from_matrix([[0], [1]], annotators=["ana", "ben"]).annotator_index("ben")
        1
        """
        try:
            return self.annotators.index(name)
        except ValueError:
            raise ValueError(f"unknown annotator {name!r}; have {list(self.annotators)}") from None

    def long(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(item, annotator, label)`` index arrays, one entry per label.

        Examples
        --------
        >>> [v.tolist() for v in Ratings.from_matrix([[0, np.nan], [1, 1]]).long()]
        [[0, 0, 1], [0, 1, 1], [0, 1, 1]]
        """
        a, i = np.nonzero(self.codes >= 0)
        return i, a, self.codes[a, i]

    @cached_property
    def _counts(self) -> np.ndarray:
        k = self.n_classes
        c = self.codes
        flat = (c + 1) + (np.arange(self.n_items) * (k + 1))[None, :]
        return np.bincount(flat.ravel(), minlength=self.n_items * (k + 1)).reshape(
            self.n_items, k + 1)[:, 1:].astype(np.float64)

    def counts(self) -> np.ndarray:
        """``(n_items, n_classes)`` float table of label counts (a copy).

        Examples
        --------
        >>> Ratings.from_matrix([[0, np.nan], [1, 1]]).counts().tolist()
        [[1.0, 1.0], [0.0, 1.0]]
        """
        return self._counts.copy()

    def reliability_data(self) -> np.ndarray:
        """Float annotators x items matrix of class indices, NaN for missing.

        Examples
        --------
        >>> Ratings.from_matrix([["x", None], ["y", "y"]]).reliability_data().tolist()
        [[0.0, nan], [1.0, 1.0]]
        """
        return np.where(self.codes >= 0, self.codes, np.nan)

    @cached_property
    def pair_table(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(a, b, conf)``: listed annotator pairs (a < b) and their ``(P, K, K)`` confusions."""
        return _pair_table(self)


def _pick(cols: list[str], options: tuple[str, ...], what: str) -> str:
    for c in options:
        if c in cols:
            return c
    raise ValueError(f"no {what} column: expected one of {options} (or pass {what}=...); have {cols}")


def ratings_from_labels(labels: pl.DataFrame, *, item: str | None = None, annotator: str = "annotator",
                        label: str | None = None, time: str | None = None, kind: str | None = "image",
                        classes: list[str] | None = None) -> Ratings:
    """Build :class:`Ratings` from a long frame of labels (one row per label).

    Parameters
    ----------
    labels
        Polars frame with an item column (default: the first of ``item``,
        ``image_id``, ``name``), ``annotator``, a class column (``class_name``,
        ``class`` or ``label``) and optionally a time (``created_at``, ``time``,
        ``timestamp``) and ``kind``.
    item, annotator, label, time
        Column names, overriding the defaults.
    kind
        When the frame has a ``kind`` column, keep only rows of this kind
        (image-level labels by default; None keeps all).
    classes
        All classes in order (e.g. from the taxonomy), so unused ones are
        reported; default: the sorted classes that occur. A label outside it
        raises ``ValueError``.

    Returns
    -------
    Ratings
        When an annotator labeled an item more than once, the latest label (by
        time, else the last row) counts; ``notes`` says how many were replaced.
        Rows without a class are dropped (noted).

    Examples
    --------
    >>> df = pl.DataFrame({"image_id": ["a", "a", "b"], "annotator": ["x", "y", "x"],
    ...                    "class_name": ["ok", "dent", "ok"]})
    >>> ratings_from_labels(df).codes.tolist()
    [[1, 1], [0, -1]]
    """
    if not isinstance(labels, pl.DataFrame):
        raise TypeError(f"labels must be a polars DataFrame, got {type(labels).__name__}")
    cols = labels.columns
    item = item or _pick(cols, _ITEM_COLS, "item")
    label = label or _pick(cols, _LABEL_COLS, "label")
    for c in (item, annotator, label):
        if c not in cols:
            raise ValueError(f"column {c!r} not in the labels frame (have {cols})")
    explicit_time = time is not None
    time = time if explicit_time else next((c for c in _TIME_COLS if c in cols), None)
    if time is not None and time not in cols:
        raise ValueError(f"time column {time!r} not in the labels frame")
    notes: list[str] = []
    df = labels
    if kind is not None and "kind" in cols:
        df = df.filter(pl.col("kind") == kind)
        if df.height < labels.height:
            notes.append(f"used the {df.height} rows with kind == {kind!r} of {labels.height}")
    df = df.select([item, annotator, label] + ([time] if time else []))
    if df[item].null_count() or df[annotator].null_count():
        raise ValueError("labels with no item or no annotator")
    if df[label].null_count():
        notes.append(f"dropped {df[label].null_count()} labels without a class")
        df = df.filter(pl.col(label).is_not_null())
    if df.height == 0:
        raise ValueError("no labels to rate agreement on")
    tz = None
    if time is not None:
        dtype = df.schema[time]
        if not isinstance(dtype, (pl.Datetime, pl.Date)):
            raise ValueError(f"time column {time!r} must be a Datetime or Date, not {dtype}")
        if df[time].null_count():
            if explicit_time:
                raise ValueError(f"{df[time].null_count()} labels have no {time!r}")
            notes.append(f"{df[time].null_count()} labels have no {time!r}: no time analysis")
            time = None
        else:
            tz = getattr(dtype, "time_zone", None)
            df = df.sort(time, maintain_order=True)
    lab = df[label].cast(pl.String)
    if classes is not None:
        classes = [str(c) for c in classes]
        if len(set(classes)) != len(classes):
            raise ValueError("classes must be unique")
        unknown = sorted(set(lab.unique().to_list()) - set(classes))
        if unknown:
            raise ValueError(f"labels use classes not in `classes`: {unknown}")
        cls_codes = lab.replace_strict(classes, list(range(len(classes))), return_dtype=pl.Int64).to_numpy()
        class_names = tuple(classes)
    else:
        class_names = tuple(lab.unique().sort().to_list())
        cls_codes = (lab.rank("dense") - 1).cast(pl.Int64).to_numpy()
    items = df[item].unique().sort()
    i_codes = (df[item].rank("dense") - 1).cast(pl.Int64).to_numpy()
    ann = df[annotator].cast(pl.String)
    names = tuple(ann.unique().sort().to_list())
    a_codes = (ann.rank("dense") - 1).cast(pl.Int64).to_numpy()
    m, n = len(names), items.len()
    flat = a_codes * n + i_codes
    codes = np.full(m * n, -1, dtype=np.int64)
    codes[flat] = cls_codes
    keep = None
    if (codes >= 0).sum() < flat.size:          # repeated (annotator, item): the latest wins
        _, first_rev = np.unique(flat[::-1], return_index=True)
        keep = flat.size - 1 - first_rev
        codes[flat[keep]] = cls_codes[keep]
        notes.append(f"{flat.size - keep.size} repeated labels (same annotator and item) replaced by "
                     "the latest")
    times: np.ndarray | None = None
    if time is not None:
        us = df[time].cast(pl.Datetime("us", tz)).dt.epoch("us").to_numpy()
        times = np.zeros(m * n, dtype=np.int64)
        sel = slice(None) if keep is None else keep
        times[flat[sel]] = us[sel]
        times = times.reshape(m, n)
    return Ratings(codes.reshape(m, n), names, items.rename("item"), class_names, times, tz, tuple(notes),
                   item, label, time)


# ---------------------------------------------------------------- encoding values

def as_1d(x: Any) -> np.ndarray:
    """1-d array of labels (lists with None become object arrays)."""
    a: np.ndarray = np.asarray(x) if not isinstance(x, pl.Series) else x.to_numpy()
    if a.ndim != 1:
        raise ValueError(f"labels must be 1-d, got shape {a.shape}")
    return a


def missing(a: np.ndarray) -> np.ndarray:
    """Boolean mask of missing entries: NaN, None, or the string 'nan' in a str array."""
    k = a.dtype.kind
    if k == "f":
        nan: np.ndarray = np.isnan(a)
        return nan
    if k in "biu":
        return np.zeros(a.shape, dtype=bool)
    if k in "US":
        nan_str: np.ndarray = a == a.dtype.type("nan")
        return nan_str
    return np.fromiter((v is None or (isinstance(v, float) and math.isnan(v)) for v in a), bool, a.size)


def domain_of(values: np.ndarray, given: Any) -> np.ndarray:
    """The ordered value domain: ``given`` (checked) or the sorted values that occur."""
    if given is not None:
        dom = np.asarray(given)
        if dom.ndim != 1 or dom.size == 0:
            raise ValueError("value_domain / labels must be a non-empty 1-d sequence")
        if len(set(dom.tolist())) != dom.size:
            raise ValueError("value_domain / labels has repeated values")
        return dom
    if values.dtype.kind in "biufUS":
        return np.unique(values)
    try:
        return np.asarray(sorted(set(values.tolist())), dtype=object)
    except TypeError:
        raise ValueError("labels of mixed types cannot be ordered; pass the order explicitly") from None


def codes_in(values: np.ndarray, domain: np.ndarray) -> np.ndarray:
    """Index of each value in ``domain``; ``ValueError`` for values outside it."""
    if values.dtype.kind in "biuf" and domain.dtype.kind in "biuf":
        order = np.argsort(domain, kind="stable")
        sd = domain[order]
        pos = np.clip(np.searchsorted(sd, values), 0, sd.size - 1)
        bad = sd[pos] != values
        if bad.any():
            raise ValueError(f"values not in the domain: {np.unique(values[bad])[:10].tolist()}")
        return order[pos].astype(np.int64)
    index = {v: i for i, v in enumerate(domain.tolist())}
    out = np.fromiter((index.get(v, -1) for v in values.tolist()), np.int64, values.size)
    if (out < 0).any():
        raise ValueError(f"values not in the domain: {sorted(map(str, set(values[out < 0].tolist())))[:10]}")
    return out


def encode_reliability(data: Any, value_domain: Any, level: str) -> tuple[np.ndarray, np.ndarray]:
    """``(coincidence matrix, values)`` of a coders x units matrix (see krippendorff_alpha)."""
    arr = data if isinstance(data, np.ndarray) else np.asarray(data)
    if arr.ndim != 2:
        raise ValueError(f"reliability_data must be 2-d (annotators x items), got shape {arr.shape}")
    if arr.dtype.kind == "O":                   # numbers with None: treat as numeric with NaN
        flat = arr.ravel()
        if all(v is None or isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool)
               for v in flat):
            arr = np.asarray([np.nan if v is None else float(v) for v in flat], dtype=np.float64).reshape(arr.shape)
    if arr.dtype.kind in "biuf":
        x = arr.astype(np.float64, copy=False)
        lo, hi = float(np.fmin.reduce(x, axis=None)), float(np.fmax.reduce(x, axis=None))
        if math.isnan(lo):                      # fmin/fmax skip NaN: NaN means all missing
            return np.zeros((0, 0)), np.empty(0)
        if not (math.isfinite(lo) and math.isfinite(hi)):
            raise ValueError("reliability_data holds infinite values")
        if value_domain is None:
            fast = _integer_patterns(x, lo, hi)
            if fast is not None:
                pat, cnt, values = fast
                return _pattern_coincidence(pat, cnt, len(values)), values
        mask = ~np.isnan(x)
        if value_domain is None:
            values = np.unique(x[mask])
        else:
            values = domain_of(x[mask], value_domain)
        codes = np.full(x.shape, -1, dtype=np.int64)
        codes[mask] = codes_in(x[mask], values)
    else:
        if level != "nominal" and value_domain is None:
            raise ValueError(f"{level} alpha on non-numeric ratings needs an ordered value_domain")
        flat = arr.ravel()
        miss = missing(flat)
        values = domain_of(flat[~miss], value_domain)
        codes = np.full(flat.shape, -1, dtype=np.int64)
        codes[~miss] = codes_in(flat[~miss], values)
        codes = codes.reshape(arr.shape)
    return coincidence_from_codes(codes, len(values)), values


def _pair_table(r: Ratings) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    m, k = r.n_annotators, r.n_classes
    if m <= MAX_LISTED_PAIRS_ANNOTATORS:
        a, b = np.triu_indices(m, 1)
        conf = np.stack([pair_confusion(r.codes[i], r.codes[j], k) for i, j in zip(a, b)]) if a.size \
            else np.zeros((0, k, k), dtype=np.int64)
        return a, b, conf
    # many annotators: pairs from the raters of each item (slots), only pairs that share items
    item, ann, lab = r.long()
    order = np.lexsort((ann, item))
    item, ann, lab = item[order], ann[order], lab[order]
    starts = np.flatnonzero(np.r_[True, np.diff(item) != 0])
    pos = np.arange(item.size) - np.repeat(starts, np.diff(np.r_[starts, item.size]))
    width = int(pos.max()) + 1
    slot_a = np.full((r.n_items, width), -1)
    slot_l = np.full((r.n_items, width), -1)
    slot_a[item, pos], slot_l[item, pos] = ann, lab
    keys = []
    for p in range(width):
        for q in range(p + 1, width):
            ok = slot_a[:, q] >= 0
            keys.append(((slot_a[ok, p] * m + slot_a[ok, q]) * k + slot_l[ok, p]) * k + slot_l[ok, q])
    uniq, cnt = np.unique(np.concatenate(keys) if keys else np.empty(0, np.int64), return_counts=True)
    pair_id, cell = uniq // (k * k), uniq % (k * k)
    pairs, inv = np.unique(pair_id, return_inverse=True)
    conf = np.zeros((pairs.size, k * k), dtype=np.int64)
    conf[inv, cell] = cnt
    return pairs // m, pairs % m, conf.reshape(-1, k, k)
