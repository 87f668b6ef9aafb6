"""Internals of :mod:`jupyter_cvops.agreement`: encoding, coincidences, frames, bootstrap.

Everything here is vectorized over items (bincount, matrix products, sorted
segment sums); loops run over annotators, annotator pairs or bootstrap chunks.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property
from collections.abc import Iterator
from typing import Any

import numpy as np
import polars as pl

_ITEM_COLS = ("item", "image_id", "name")
_LABEL_COLS = ("class_name", "class", "label")
_TIME_COLS = ("created_at", "time", "timestamp")
#: Above this many annotators, pair tables list only pairs that share an item.
MAX_LISTED_PAIRS_ANNOTATORS = 100
#: Above this many annotator pairs, the bootstrap covers alpha only.
MAX_BOOTSTRAP_PAIRS = 5000
_CHUNK = 2e7


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
        return self.codes.shape[0]

    @property
    def n_items(self) -> int:
        """Number of items (columns)."""
        return self.codes.shape[1]

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
    times = None
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
    a = np.asarray(x) if not isinstance(x, pl.Series) else x.to_numpy()
    if a.ndim != 1:
        raise ValueError(f"labels must be 1-d, got shape {a.shape}")
    return a


def missing(a: np.ndarray) -> np.ndarray:
    """Boolean mask of missing entries: NaN, None, or the string 'nan' in a str array."""
    k = a.dtype.kind
    if k == "f":
        return np.isnan(a)
    if k in "biu":
        return np.zeros(a.shape, dtype=bool)
    if k in "US":
        return a == a.dtype.type("nan")
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


def _integer_patterns(x: np.ndarray, lo: float, hi: float
                      ) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """Rating patterns of integer-valued ratings with few values and annotators, or None.

    Each item's ratings become one base-``(span + 2)`` number (missing is the
    top digit); one ``bincount`` of those keys gives every distinct pattern and
    its multiplicity, without sorting and without an items x values table.
    """
    m, n = x.shape
    span = hi - lo
    if span > 1 << 22 or span != int(span) or (int(span) + 2) ** m > 1 << 22:
        return None
    base = int(span) + 2
    power = (base ** np.arange(m - 1, -1, -1)).astype(np.float64)
    key = np.empty(n, dtype=np.int64)
    for s in range(0, n, 8192):                 # chunks stay in cache
        c = x[:, s:s + 8192]
        c = np.fmin(c if lo == 0 else c - lo, base - 1)     # NaN -> the missing digit
        if not np.array_equal(np.floor(c), c):
            return None
        key[s:s + 8192] = power @ c
    cnt = np.bincount(key, minlength=base ** m)
    keys = np.flatnonzero(cnt)
    pat = (keys[None, :] // (base ** np.arange(m - 1, -1, -1, dtype=np.int64))[:, None]) % base
    pat[pat == base - 1] = -1
    used = np.zeros(base - 1, dtype=bool)
    for a in range(m):
        used[pat[a][pat[a] >= 0]] = True
    remap = np.cumsum(used) - 1
    pat = np.where(pat >= 0, remap[np.maximum(pat, 0)], -1)
    return pat, cnt[keys], lo + np.flatnonzero(used)


def pattern_counts(pat: np.ndarray, k: int) -> np.ndarray:
    """``(P, k)`` value counts of each pattern column of ``pat`` (-1 missing)."""
    tp = np.zeros((pat.shape[1], k))
    cols = np.arange(pat.shape[1])
    for row in pat:
        ok = row >= 0
        tp[cols[ok], row[ok]] += 1.0
    return tp


def _pattern_coincidence(pat: np.ndarray, cnt: np.ndarray, k: int) -> np.ndarray:
    """Coincidence matrix from distinct patterns and their multiplicities."""
    tp = pattern_counts(pat, k)
    m_p = tp.sum(1)
    w = np.divide(cnt, m_p - 1.0, out=np.zeros_like(m_p), where=m_p >= 2)
    tw = tp * w[:, None]
    o = tw.T @ tp
    o[np.diag_indices_from(o)] -= tw.sum(0)
    return o


def coincidence_from_codes(codes: np.ndarray, k: int) -> np.ndarray:
    """Coincidence matrix of a coders x units code matrix (-1 missing), in item chunks."""
    if k * k > 2.5e7:
        raise ValueError(f"{k} distinct values: too many for a coincidence matrix")
    out = np.zeros((k, k))
    step = max(1, int(_CHUNK // (k + 1)))
    for s in range(0, codes.shape[1], step):
        c = codes[:, s:s + step]
        n = c.shape[1]
        flat = (c + 1) + (np.arange(n) * (k + 1))[None, :]
        out += coincidence(np.bincount(flat.ravel(), minlength=n * (k + 1)).reshape(n, k + 1)[:, 1:])
    return out


def coincidence(counts: np.ndarray) -> np.ndarray:
    """``o[c, k] = sum_u n_uc (n_uk - [c == k]) / (m_u - 1)`` over units with ``m_u >= 2``."""
    t = np.asarray(counts, dtype=np.float64)
    m = t.sum(1)
    inv = np.divide(1.0, m - 1.0, out=np.zeros_like(m), where=m >= 2)
    tw = t * inv[:, None]
    o = tw.T @ t
    o[np.diag_indices_from(o)] -= tw.sum(0)
    return o


def check_counts(counts: Any) -> np.ndarray:
    """Validate an items x categories count table; returns float64."""
    t = np.asarray(counts, dtype=np.float64)
    if t.ndim != 2 or t.shape[0] == 0 or t.shape[1] == 0:
        raise ValueError(f"counts must be a non-empty 2-d table (items x categories), got shape {t.shape}")
    if not np.isfinite(t).all() or (t < 0).any() or (t != np.round(t)).any():
        raise ValueError("counts must be finite non-negative integers")
    return t


def delta(level: str, values: np.ndarray, n_v: np.ndarray) -> np.ndarray:
    """Squared difference function of Krippendorff's alpha for the level."""
    k = len(values)
    if level == "nominal":
        return 1.0 - np.eye(k)
    if level == "ordinal":
        cs = np.cumsum(n_v)
        idx = np.arange(k)
        lo, hi = np.minimum.outer(idx, idx), np.maximum.outer(idx, idx)
        between = cs[hi] - cs[lo] + n_v[lo]
        return (between - (n_v[:, None] + n_v[None, :]) / 2.0) ** 2
    try:
        v = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"{level} alpha needs numeric values") from None
    diff = v[:, None] - v[None, :]
    if level == "interval":
        return diff ** 2
    tot = v[:, None] + v[None, :]
    return np.divide(diff, tot, out=np.zeros((k, k)), where=tot != 0) ** 2


def alpha_detail(o: np.ndarray, values: np.ndarray, level: str) -> tuple[float, str]:
    """``(alpha, reason)`` from a coincidence matrix; NaN with the reason when undefined."""
    n_v = o.sum(0)
    n = float(n_v.sum())
    if n < 2:
        return math.nan, "no item has 2 or more ratings (nothing to pair)"
    d = delta(level, values, n_v)
    de = float(n_v @ d @ n_v)
    if de <= 0:
        return math.nan, "no variation: every pairable rating has the same value"
    return float(1.0 - (n - 1.0) * float((o * d).sum()) / de), ""


def fleiss_detail(t: np.ndarray, varying: str) -> float:
    """Fleiss' kappa of a checked count table (see agreement.fleiss_kappa)."""
    if varying not in ("error", "generalized"):
        raise ValueError(f"varying must be 'error' or 'generalized', got {varying!r}")
    m = t.sum(1)
    t, m = t[m > 0], m[m > 0]
    if m.size == 0:
        raise ValueError("no ratings in the counts table")
    if (m != m[0]).any():
        if varying == "error":
            raise ValueError(
                f"Fleiss' kappa needs the same number of ratings per item; these rows have "
                f"{int(m.min())} to {int(m.max())}. Pass varying='generalized' or use "
                "krippendorff_alpha_from_counts")
        return fleiss_generalized(t)[0]
    if m[0] < 2:
        raise ValueError("Fleiss' kappa needs at least 2 ratings per item")
    p = t.sum(0) / t.sum()
    p_bar = (((t * t).sum(1) - m) / (m * (m - 1))).mean()
    p_e = float((p * p).sum())
    return math.nan if p_e >= 1.0 else float((p_bar - p_e) / (1.0 - p_e))


def fleiss_generalized(t: np.ndarray) -> tuple[float, str]:
    """Fleiss' kappa over pairable ratings (varying raters per item allowed)."""
    o = coincidence(t)
    n_v = o.sum(0)
    n = float(n_v.sum())
    if n < 2:
        return math.nan, "no item has 2 or more ratings (nothing to pair)"
    p = n_v / n
    p_e = float((p * p).sum())
    if p_e >= 1.0 - 1e-15:
        return math.nan, "no variation: every pairable rating is in one category"
    return float((np.trace(o) / n - p_e) / (1.0 - p_e)), ""


def kappa_weights(k: int, weights: Any) -> np.ndarray:
    """Disagreement weights: ``1 - I``, ``|i - j|``, ``(i - j)**2`` or a given k x k matrix."""
    idx = np.arange(k)
    if weights is None:
        return 1.0 - np.eye(k)
    if isinstance(weights, str):
        if weights == "linear":
            return np.abs(np.subtract.outer(idx, idx)).astype(np.float64)
        if weights == "quadratic":
            return np.subtract.outer(idx, idx).astype(np.float64) ** 2
        raise ValueError(f"weights must be None, 'linear', 'quadratic' or a matrix, got {weights!r}")
    w = np.asarray(weights, dtype=np.float64)
    if w.shape != (k, k) or not np.isfinite(w).all() or (w < 0).any():
        raise ValueError(f"a weight matrix must be {k} x {k} (one row per category), finite and >= 0")
    return w


def kappa_detail(conf: np.ndarray, weights: Any) -> tuple[float, str]:
    """``(kappa, reason)`` from a confusion matrix (rows: annotator a)."""
    n = float(conf.sum())
    if n == 0:
        return math.nan, "never rated the same item"
    w = kappa_weights(conf.shape[0], weights)
    de = float((w * np.outer(conf.sum(1), conf.sum(0))).sum()) / n
    if de <= 0:
        return math.nan, "no variance: both gave one and the same class on every shared item"
    return float(1.0 - float((w * conf).sum()) / de), ""


# ---------------------------------------------------------------- frames

def pair_confusion(ca: np.ndarray, cb: np.ndarray, k: int) -> np.ndarray:
    """Confusion (rows ``ca``) on the items both rated."""
    both = (ca >= 0) & (cb >= 0)
    return np.bincount(ca[both] * k + cb[both], minlength=k * k).reshape(k, k)


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


def pairwise_frame(r: Ratings, weights: str | None) -> pl.DataFrame:
    """Pairwise Cohen's kappa frame (see agreement.pairwise_kappa)."""
    a, b, conf = r.pair_table
    rows = []
    for i, j, c in zip(a.tolist(), b.tolist(), conf):
        n = int(c.sum())
        if n < 2:
            kappa, why = math.nan, ("never rated the same item" if n == 0 else "only 1 item rated by both")
        else:
            kappa, why = kappa_detail(c.astype(np.float64), weights)
        rows.append((r.annotators[i], r.annotators[j], n, np.trace(c) / n if n else math.nan, kappa, why))
    return pl.DataFrame(rows, orient="row", schema={
        "annotator_a": pl.String, "annotator_b": pl.String, "n_shared": pl.Int64,
        "observed_agreement": pl.Float64, "kappa": pl.Float64, "reason": pl.String})


def per_class_frame(r: Ratings) -> pl.DataFrame:
    """Per-class specific agreement and one-vs-rest kappa (see agreement.per_class_agreement)."""
    counts = r._counts
    o = coincidence(counts)
    n_c = o.sum(0)
    n = float(n_c.sum())
    used = counts.sum(0)
    o_cc = np.diag(o)
    specific = np.divide(o_cc, n_c, out=np.full_like(n_c, np.nan), where=n_c > 0)
    den = n_c * (n - n_c)
    kappa = np.divide(n * (n_c - o_cc), den, out=np.full_like(n_c, np.nan), where=den > 0)
    kappa = np.where(den > 0, 1.0 - kappa, np.nan)
    reasons = ["never used" if used[c] == 0 else
               "only used on items rated once" if n_c[c] == 0 else
               "the only class among pairable ratings (no variance)" if den[c] == 0 else ""
               for c in range(r.n_classes)]
    total = used.sum()
    return pl.DataFrame({
        "class_name": list(r.classes), "n_labels": used.astype(np.int64),
        "n_pairable": np.round(n_c).astype(np.int64), "share": used / total if total else used,
        "specific_agreement": specific, "kappa": kappa, "reason": reasons})


def pooled_confusion(r: Ratings) -> np.ndarray:
    """Symmetric class x class counts of label pairs on the same item."""
    t = r._counts.astype(np.int64)
    out = t.T @ t
    out[np.diag_indices_from(out)] = (t * (t - 1)).sum(0) // 2
    return out


def confusion_frame(mat: np.ndarray, classes: tuple[str, ...]) -> pl.DataFrame:
    """Long ``class_a, class_b, n`` frame of a square matrix."""
    k = len(classes)
    return pl.DataFrame({"class_a": np.repeat(classes, k).tolist(), "class_b": list(classes) * k,
                         "n": np.asarray(mat).reshape(-1).astype(np.int64)})


def pair_confusion_frame(r: Ratings) -> pl.DataFrame:
    """Confusions of every listed pair, long."""
    a, b, conf = r.pair_table
    k, p = r.n_classes, a.size
    names = np.asarray(r.annotators, dtype=object)
    return pl.DataFrame({
        "annotator_a": np.repeat(names[a], k * k).tolist(), "annotator_b": np.repeat(names[b], k * k).tolist(),
        "class_a": np.tile(np.repeat(r.classes, k), p).tolist(), "class_b": list(r.classes) * (k * p),
        "n": conf.reshape(-1).astype(np.int64)}, schema={
        "annotator_a": pl.String, "annotator_b": pl.String, "class_a": pl.String, "class_b": pl.String,
        "n": pl.Int64})


def annotator_frame(r: Ratings, fit: Any) -> pl.DataFrame:
    """Per-annotator agreement with consensus and with the others."""
    t = r._counts
    m_i = t.sum(1)
    rows = []
    for a, name in enumerate(r.annotators):
        c = r.codes[a]
        rated = c >= 0
        sel = rated & (m_i >= 2)
        n_cmp = int(sel.sum())
        if n_cmp == 0:
            rows.append((name, int(rated.sum()), 0, math.nan, math.nan, math.nan,
                         "no item rated by anyone else"))
            continue
        ca, cons = c[sel], fit.labels[sel]
        kappa, why = kappa_detail(pair_confusion(ca, cons, r.n_classes).astype(np.float64), None)
        others = float(((t[sel, ca] - 1.0) / (m_i[sel] - 1.0)).mean())
        rows.append((name, int(rated.sum()), n_cmp, float((ca == cons).mean()), kappa, others, why))
    return pl.DataFrame(rows, orient="row", schema={
        "annotator": pl.String, "n_labels": pl.Int64, "n_compared": pl.Int64,
        "agreement_with_consensus": pl.Float64, "kappa_with_consensus": pl.Float64,
        "agreement_with_others": pl.Float64, "reason": pl.String})


def consensus_frame(r: Ratings, fit: Any) -> pl.DataFrame:
    """One row per item: consensus class, its probability, number of ratings, tie flag."""
    lab = fit.labels
    return pl.DataFrame({
        "item": r.items, "class_name": np.asarray(r.classes, dtype=object)[lab].tolist(),
        "confidence": fit.probabilities[np.arange(lab.size), lab],
        "n_ratings": r._counts.sum(1).astype(np.int64), "tied": fit.tied},
        schema_overrides={"class_name": pl.String})


def annotator_confusion_frame(r: Ratings, fit: Any) -> pl.DataFrame:
    """The per-annotator confusion matrices of a consensus fit, long."""
    m, k = r.n_annotators, r.n_classes
    return pl.DataFrame({
        "annotator": np.repeat(r.annotators, k * k).tolist(),
        "consensus_class": np.tile(np.repeat(r.classes, k), m).tolist(),
        "class_name": list(r.classes) * (m * k), "rate": fit.confusion.reshape(-1)},
        schema={"annotator": pl.String, "consensus_class": pl.String, "class_name": pl.String,
                "rate": pl.Float64})


def fit_consensus(r: Ratings, method: str, max_iter: int = 100, tol: float = 1e-5) -> Any:
    """Majority vote or Dawid-Skene on the labels of ``r`` (see agreement.consensus)."""
    from ._dawid_skene import dawid_skene, majority_vote

    item, ann, lab = r.long()
    kw = dict(n_items=r.n_items, n_annotators=r.n_annotators, n_classes=r.n_classes)
    if method == "majority":
        return majority_vote(item, ann, lab, **kw)
    if method == "dawid-skene":
        return dawid_skene(item, ann, lab, max_iter=max_iter, tol=tol, **kw)
    raise ValueError(f"method must be 'dawid-skene' or 'majority', got {method!r}")


# ---------------------------------------------------------------- bootstrap

def _patterns(codes: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Distinct item columns of ``codes`` and how many items share each."""
    m = codes.shape[0]
    if m * math.log2(k + 1) <= 62:
        key = np.zeros(codes.shape[1], dtype=np.int64)
        for a in range(m):
            key = key * (k + 1) + (codes[a] + 1)
        _, first, cnt = np.unique(key, return_index=True, return_counts=True)
        return codes[:, first], cnt
    uniq, cnt = np.unique(codes.T, axis=0, return_counts=True)
    return uniq.T, cnt


def _weight_chunks(cnt: np.ndarray, n_boot: int, seed: int) -> Iterator[np.ndarray]:
    """Replicate weights over patterns, in chunks: multinomial counts of N draws."""
    rng = np.random.default_rng(seed)
    n, p = int(cnt.sum()), cnt.size
    step = max(1, min(n_boot, int(4e6 // p)))
    for s in range(0, n_boot, step):
        b = min(step, n_boot - s)
        if p <= 50_000:
            yield rng.multinomial(n, cnt / n, size=b).astype(np.float64)
        else:                                   # (almost) all items distinct: draw indices
            idx = rng.integers(0, p, size=(b, n)) + (np.arange(b) * p)[:, None]
            yield np.bincount(idx.ravel(), minlength=b * p).reshape(b, p).astype(np.float64)


def bootstrap_frame(r: Ratings, n_boot: int, ci: float, seed: int, level: str) -> pl.DataFrame:
    """Percentile intervals for alpha and the pairwise kappas (see agreement.bootstrap_ci)."""
    k = r.n_classes
    pat, cnt = _patterns(r.codes, k)
    p = cnt.size
    tp = np.zeros((p, k))
    for a in range(pat.shape[0]):
        ok = pat[a] >= 0
        np.add.at(tp, (np.flatnonzero(ok), pat[a, ok]), 1.0)
    m_p = tp.sum(1)
    inv = np.divide(1.0, m_p - 1.0, out=np.zeros_like(m_p), where=m_p >= 2)
    o_p = (tp[:, :, None] * tp[:, None, :] - tp[:, :, None] * np.eye(k)[None]) * inv[:, None, None]
    pa, pb, _ = r.pair_table
    pairs_df = pairwise_frame(r, None)
    boot_pairs = [j for j in range(pa.size) if pairs_df["n_shared"][j] >= 2] if pa.size <= MAX_BOOTSTRAP_PAIRS else []
    feats = [o_p.reshape(p, k * k)]
    eye = np.eye(k)
    for j in boot_pairs:
        ca, cb = pat[pa[j]], pat[pb[j]]
        both = (ca >= 0) & (cb >= 0)
        feats += [both[:, None].astype(np.float64), (both & (ca == cb))[:, None].astype(np.float64),
                  eye[np.where(both, ca, 0)] * both[:, None], eye[np.where(both, cb, 0)] * both[:, None]]
    f = np.hstack(feats)
    values = np.arange(k)
    alphas, kappas = [], []
    for w in _weight_chunks(cnt, n_boot, seed):
        s = w @ f
        o = s[:, :k * k].reshape(-1, k, k)
        n_v = o.sum(1)
        n = n_v.sum(1)
        if level == "ordinal":
            d = np.stack([delta(level, values, v) for v in n_v])
            de = np.einsum("bi,bij,bj->b", n_v, d, n_v)
            do = (o * d).sum((1, 2))
        else:
            d = delta(level, values, n_v[0])
            de = np.einsum("bi,ij,bj->b", n_v, d, n_v)
            do = (o * d[None]).sum((1, 2))
        alphas.append(np.where((n >= 2) & (de > 0), 1.0 - (n - 1.0) * do / np.where(de > 0, de, 1.0), np.nan))
        col, rep = k * k, []
        for _ in boot_pairs:
            nb, ag = s[:, col], s[:, col + 1]
            ra, rb = s[:, col + 2:col + 2 + k], s[:, col + 2 + k:col + 2 + 2 * k]
            col += 2 + 2 * k
            nn = np.where(nb > 0, nb, 1.0)
            pe = (ra * rb).sum(1) / (nn * nn)
            ok = (nb >= 2) & (pe < 1.0 - 1e-12)
            rep.append(np.where(ok, (ag / nn - pe) / np.where(ok, 1.0 - pe, 1.0), np.nan))
        kappas.append(np.stack(rep, axis=1) if rep else np.zeros((w.shape[0], 0)))
    q = [(1.0 - ci) / 2.0, (1.0 + ci) / 2.0]

    def interval(v: np.ndarray) -> tuple[float, float, int]:
        ok = v[~np.isnan(v)]
        if ok.size == 0:
            return math.nan, math.nan, 0
        lo, hi = np.quantile(ok, q)
        return float(lo), float(hi), int(ok.size)

    est, _ = alpha_detail(coincidence(r._counts), values, level)
    rows = [("krippendorff_alpha", None, None, est, *interval(np.concatenate(alphas)))]
    kap = np.concatenate(kappas, axis=0)
    col_of = {j: c for c, j in enumerate(boot_pairs)}
    for j in range(pa.size):
        row = pairs_df.row(j, named=True)
        lo, hi, nv = interval(kap[:, col_of[j]]) if j in col_of else (math.nan, math.nan, 0)
        rows.append(("cohen_kappa", row["annotator_a"], row["annotator_b"], row["kappa"], lo, hi, nv))
    return pl.DataFrame(rows, orient="row", schema={
        "metric": pl.String, "annotator_a": pl.String, "annotator_b": pl.String, "estimate": pl.Float64,
        "ci_low": pl.Float64, "ci_high": pl.Float64, "n_valid": pl.Int64})


def attach_ci(pairs: pl.DataFrame, boot: pl.DataFrame | None) -> pl.DataFrame:
    """Add ``ci_low, ci_high`` (NaN without a bootstrap) to the pairwise frame."""
    if boot is None:
        return pairs.with_columns(ci_low=pl.lit(math.nan), ci_high=pl.lit(math.nan))
    ci = boot.filter(pl.col("metric") == "cohen_kappa").select("annotator_a", "annotator_b", "ci_low", "ci_high")
    return pairs.join(ci, on=["annotator_a", "annotator_b"], how="left", maintain_order="left").with_columns(
        pl.col("ci_low").fill_null(math.nan), pl.col("ci_high").fill_null(math.nan))


OVERALL_SCHEMA = {"metric": pl.String, "value": pl.Float64, "ci_low": pl.Float64, "ci_high": pl.Float64,
                  "n_items": pl.Int64, "n_labels": pl.Int64, "method": pl.String, "reason": pl.String}


def report_notes(r: Ratings, fit: Any, pairs: pl.DataFrame, bootstrap: int) -> list[str]:
    """What the report should say about how it was computed (besides the builder's notes)."""
    notes = list(r.notes)
    if fit.method == "dawid-skene" and not fit.converged:
        notes.append(f"Dawid-Skene stopped at {fit.n_iter} iterations before reaching the tolerance")
    if r.n_annotators > MAX_LISTED_PAIRS_ANNOTATORS:
        notes.append(f"{r.n_annotators} annotators: only pairs that share an item are listed")
    if bootstrap and pairs.height > MAX_BOOTSTRAP_PAIRS:
        notes.append(f"{pairs.height} pairs: bootstrap intervals for alpha only")
    return notes


def box_report(frame: pl.DataFrame | None, boxes: bool | None, notes: list[str], **columns: Any) -> Any:
    """Box agreement for the report: when asked, or (``boxes=None``) when the frame holds boxes.

    Without scipy (needed for the matching) an automatic run is skipped with a
    note; an explicit ``boxes=True`` raises ``ImportError``.
    """
    if frame is None or boxes is False:
        return None
    if boxes is None:
        cols = set(frame.columns)
        if "kind" not in cols or not {"x0", "y0", "x1", "y1"} <= cols or not (frame["kind"] == "box").any():
            return None
    import importlib.util

    from ._agreement_boxes import box_agreement

    if importlib.util.find_spec("scipy") is None:
        if boxes:
            raise ImportError("box agreement needs scipy (scipy.optimize.linear_sum_assignment)")
        notes.append("box agreement skipped: scipy is not installed")
        return None
    return box_agreement(frame, **columns)


def overall_frame(r: Ratings, pairs: pl.DataFrame, boot: pl.DataFrame | None) -> pl.DataFrame:
    """The ``overall`` frame of the report: alpha (with its interval), Fleiss, mean pairwise kappa."""
    counts = r.counts()
    o = coincidence(counts)
    alpha, alpha_why = alpha_detail(o, np.arange(r.n_classes), "nominal")
    fk, fk_why = fleiss_generalized(counts)
    m = counts.sum(1)
    pairable = m >= 2
    constant = bool(pairable.any()) and m[pairable].min() == m[pairable].max()
    fk_method = "fleiss" if constant else "fleiss-generalized (raters per item vary; see fleiss_kappa)"
    lo = hi = math.nan
    if boot is not None:
        row = boot.filter(pl.col("metric") == "krippendorff_alpha").row(0, named=True)
        lo, hi = row["ci_low"], row["ci_high"]
    defined = pairs.filter(pl.col("kappa").is_not_nan())
    mk = float(defined["kappa"].mean()) if defined.height else math.nan
    n_items, n_labels = int(pairable.sum()), int(m[pairable].sum())
    rows = [
        ("krippendorff_alpha", alpha, lo, hi, n_items, n_labels, "nominal", alpha_why),
        ("fleiss_kappa", fk, math.nan, math.nan, n_items, n_labels, fk_method, fk_why),
        ("mean_pairwise_kappa", mk, math.nan, math.nan, n_items, n_labels,
         f"mean of {defined.height} defined pairwise Cohen's kappas (Light's kappa)",
         "" if defined.height else "no annotator pair has a defined kappa"),
    ]
    return pl.DataFrame(rows, schema=OVERALL_SCHEMA, orient="row")
