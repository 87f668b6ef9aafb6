"""Agreement over time: per-window agreement, class frequencies, and a label-drift detector.

Windows are calendar windows of the label times (``every``: a polars duration;
``"1w"`` starts on Mondays). The detector looks for an annotator whose
agreement with the others on one class drops from some window on, and decides
*who* changed by explaining the drops away (see :func:`detect_label_drift`).
"""

from __future__ import annotations

import itertools
import math
import re
from typing import Any

import numpy as np
import polars as pl

from ._stats import Ratings, alpha_detail, coincidence, kappa_detail, pair_confusion, ratings_from_labels

__all__ = ["agreement_over_time", "detect_label_drift", "empty_frames"]

_MAX_CANDIDATES = 10
_US_PER_DAY = 86_400_000_000


def _schemas(tz: str | None) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    dt = pl.Datetime("us", tz)
    windows = {"window_start": dt, "window_end": dt, "n_items": pl.Int64, "n_labels": pl.Int64,
               "krippendorff_alpha": pl.Float64, "observed_agreement": pl.Float64,
               "mean_pairwise_kappa": pl.Float64, "reason": pl.String}
    freq = {"window_start": dt, "annotator": pl.String, "class_name": pl.String, "n": pl.Int64,
            "share": pl.Float64}
    alerts = {"annotator": pl.String, "class_name": pl.String, "confused_with": pl.String,
              "window_start": dt, "agreement_before": pl.Float64, "agreement_after": pl.Float64,
              "drop": pl.Float64, "n_before": pl.Float64, "n_after": pl.Float64, "z": pl.Float64,
              "p_value": pl.Float64, "threshold": pl.Float64, "compared_with": pl.List(pl.String),
              "taxonomy_version": pl.Int64, "taxonomy_changed_at": pl.Datetime("us", "UTC"),
              "taxonomy_gap_days": pl.Float64, "note": pl.String}
    return windows, freq, alerts


def empty_frames(tz: str | None = "UTC") -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """Empty ``windows``, ``class_frequency`` and ``alerts`` frames with their fixed columns.

    Examples
    --------
    >>> empty_frames()[2].columns[:3]
    ['annotator', 'class_name', 'confused_with']
    """
    return tuple(pl.DataFrame(schema=s) for s in _schemas(tz))  # type: ignore[return-value]


def _need_times(ratings: Ratings | pl.DataFrame) -> Ratings:
    r = ratings if isinstance(ratings, Ratings) else ratings_from_labels(ratings)
    if r.times is None:
        raise ValueError("the labels carry no time (a created_at / time column): no windows")
    return r


_UNIT_WORDS = {"nanosecond": "ns", "microsecond": "us", "millisecond": "ms", "sec": "s", "second": "s",
               "min": "m", "minute": "m", "hour": "h", "hr": "h", "day": "d", "week": "w", "wk": "w",
               "month": "mo", "quarter": "q", "year": "y", "yr": "y"}


def check_duration(value: Any, name: str = "every") -> str:
    """``value`` when it is a positive polars duration, else a ``ValueError`` naming the accepted forms.

    Parameters
    ----------
    value
        The window length, e.g. ``"1d"``, ``"12h"``, ``"1w"``, ``"1mo"`` or ``"1d12h"``.
    name
        The argument's name, for the message.

    Returns
    -------
    str
        ``value``, unchanged.

    Examples
    --------
    >>> check_duration("1d")
    '1d'
    >>> try:
    ...     check_duration("1day", "by")
    ... except ValueError as exc:
    ...     print(str(exc)[:60], "...", str(exc).split("got ")[1])
    by must be a valid polars duration such as '1d', '12h', '1w' ... '1day'; did you mean '1d'?
    """
    from datetime import datetime

    start = datetime(2000, 1, 3)
    try:
        end = pl.Series([start]).dt.offset_by(value)[0] if isinstance(value, str) and value.strip() else None
    except Exception:  # polars raises several types for a bad duration string
        end = None
    if end is not None and end > start:
        return str(value)
    hint = ""
    word = re.fullmatch(r"\s*(\d+)\s*([a-z]+?)s?\s*", value.lower()) if isinstance(value, str) else None
    if word and word.group(2) in _UNIT_WORDS:
        hint = f"; did you mean '{word.group(1)}{_UNIT_WORDS[word.group(2)]}'?"
    raise ValueError(f"{name} must be a valid polars duration such as '1d', '12h', '1w' (units: ns, us, ms, "
                     f"s, m, h, d, w, mo, q, y; combined as in '1d12h'), got {value!r}{hint}")


def _to_series(us: np.ndarray, tz: str | None) -> pl.Series:
    s = pl.Series(us, dtype=pl.Int64).cast(pl.Datetime("us"))
    return s if tz is None else s.dt.replace_time_zone("UTC").dt.convert_time_zone(tz)


def _windows(r: Ratings, every: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(window starts in us, window index per label (m x n, -1 none), window index per item)``."""
    present = r.codes >= 0
    assert r.times is not None  # both callers pass the result of _need_times
    trunc = _to_series(r.times[present], r.time_zone).dt.truncate(check_duration(every))
    t_us = trunc.dt.epoch("us").to_numpy()
    starts = np.unique(t_us)
    win = np.full(r.codes.shape, -1, dtype=np.int64)
    win[present] = np.searchsorted(starts, t_us)
    item_win = np.where(present, win, np.iinfo(np.int64).max).min(0)
    return starts, win, item_win


def agreement_over_time(ratings: Ratings | pl.DataFrame, *, every: str = "1w") -> tuple[pl.DataFrame, pl.DataFrame]:
    """Agreement per window and each annotator's class frequencies per window.

    An item belongs to the window of its first label; a label to the window of
    its own time.

    Parameters
    ----------
    ratings
        :class:`Ratings` with times, or a long frame of labels with a time column.
    every
        Window length (polars duration string, e.g. ``"1w"``, ``"2d"``).

    Returns
    -------
    windows : polars.DataFrame
        ``window_start, window_end, n_items, n_labels, krippendorff_alpha``
        (nominal), ``observed_agreement`` (share of agreeing label pairs),
        ``mean_pairwise_kappa``, ``reason`` (why alpha is NaN, if it is).
    class_frequency : polars.DataFrame
        ``window_start, annotator, class_name, n, share`` (share of that
        annotator's labels in that window), every class for each annotator
        active in the window.

    Examples
    --------
    >>> from datetime import datetime
    >>> df = pl.DataFrame({"item": [1, 1, 2, 2], "annotator": ["a", "b"] * 2,
    ...                    "class_name": ["x", "x", "y", "x"],
    ...                    "created_at": [datetime(2026, 1, 5)] * 2 + [datetime(2026, 1, 13)] * 2})
    >>> windows, freq = agreement_over_time(df)
    >>> windows["observed_agreement"].to_list()
    [1.0, 0.0]
    """
    r = _need_times(ratings)
    starts, win, item_win = _windows(r, every)
    ws, fs, _ = _schemas(r.time_zone)
    m, k, nw = r.n_annotators, r.n_classes, starts.size
    start_s = _to_series(starts, r.time_zone)
    end_s = start_s.dt.offset_by(every)
    rows = []
    for w in range(nw):
        sub = r.codes[:, item_win == w]
        flat = (sub + 1) + (np.arange(sub.shape[1]) * (k + 1))[None, :]
        cnt = np.bincount(flat.ravel(), minlength=sub.shape[1] * (k + 1)).reshape(-1, k + 1)[:, 1:]
        o = coincidence(cnt)
        alpha, why = alpha_detail(o, np.arange(k), "nominal")
        n = o.sum()
        kap = [kappa_detail(c.astype(np.float64), None)[0]
               for a, b in itertools.combinations(range(m), 2)
               if (c := pair_confusion(sub[a], sub[b], k)).sum() >= 2] if m <= 100 else []
        kap = [x for x in kap if not math.isnan(x)]
        rows.append((start_s[w], end_s[w], sub.shape[1], int((sub >= 0).sum()), alpha,
                     float(np.trace(o) / n) if n > 0 else math.nan,
                     float(np.mean(kap)) if kap else math.nan, why))
    windows = pl.DataFrame(rows, schema=ws, orient="row")
    present = r.codes >= 0
    a_idx = np.nonzero(present)[0]
    key = (win[present] * m + a_idx) * k + r.codes[present]
    n = np.bincount(key, minlength=nw * m * k).reshape(nw, m, k)
    tot = n.sum(2)
    wi, ai = np.nonzero(tot > 0)
    share = n[wi, ai] / tot[wi, ai][:, None]
    freq = pl.DataFrame({
        "window_start": np.repeat(starts[wi], k), "annotator": np.repeat(np.asarray(r.annotators)[ai], k),
        "class_name": list(r.classes) * wi.size, "n": n[wi, ai].reshape(-1), "share": share.reshape(-1)})
    freq = freq.with_columns(pl.col("window_start").cast(pl.Datetime("us")))
    if r.time_zone is not None:
        freq = freq.with_columns(pl.col("window_start").dt.replace_time_zone("UTC")
                                 .dt.convert_time_zone(r.time_zone))
    return windows, freq.cast(fs)  # type: ignore[arg-type]


def _erfc(x: np.ndarray) -> np.ndarray:
    out: np.ndarray = np.frompyfunc(math.erfc, 1, 1)(x).astype(np.float64)
    return out


def _tests(r: Ratings, win: np.ndarray, nw: int, a: int, excluded: frozenset[int],
           min_n: float) -> dict[str, np.ndarray]:
    """Change-point tests of annotator ``a``'s agreement with the others (not ``excluded``) on each class.

    Unit: an item ``a`` labeled that the others labeled too, weighted by the share
    of those others who said class ``c``; success: ``a`` said ``c`` too. For
    each change window ``t`` the windows before ``t`` are compared with ``t``
    and later (``a``'s label time) by a one-sided two-proportion z-test.
    """
    k = r.n_classes
    oc = r.counts()                       # all labels, minus a's own and the excluded annotators'
    for b in excluded | {a}:
        ok = r.codes[b] >= 0
        oc[np.flatnonzero(ok), r.codes[b, ok]] -= 1.0
    mo = oc.sum(1)
    sel = (r.codes[a] >= 0) & (mo > 0)
    w = oc[sel] / mo[sel, None]
    hit = r.codes[a, sel][:, None] == np.arange(k)[None, :]
    wa = win[a, sel]
    tot_w = np.stack([np.bincount(wa, weights=w[:, c], minlength=nw) for c in range(k)]).astype(np.float64)
    tot_s = np.stack([np.bincount(wa, weights=w[:, c] * hit[:, c], minlength=nw)
                      for c in range(k)]).astype(np.float64)
    nb, sb = np.cumsum(tot_w, 1)[:, :-1], np.cumsum(tot_s, 1)[:, :-1]
    na, sa = tot_w.sum(1, keepdims=True) - nb, tot_s.sum(1, keepdims=True) - sb
    valid = (nb >= min_n) & (na >= min_n)
    pb = np.divide(sb, nb, out=np.zeros_like(sb), where=nb > 0)
    pa = np.divide(sa, na, out=np.zeros_like(sa), where=na > 0)
    pool = np.divide(sb + sa, nb + na, out=np.zeros_like(sb), where=nb + na > 0)
    se = np.sqrt(pool * (1 - pool) * (np.divide(1.0, nb, out=np.zeros_like(nb), where=nb > 0)
                                      + np.divide(1.0, na, out=np.zeros_like(na), where=na > 0)))
    z = np.divide(pb - pa, se, out=np.zeros_like(se), where=se > 0)
    return {"valid": valid, "z": z, "p": 0.5 * _erfc(z / math.sqrt(2.0)), "pb": pb, "pa": pa, "nb": nb,
            "na": na, "sel": sel, "w": w, "wa": wa}


def detect_label_drift(
    ratings: Ratings | pl.DataFrame,
    *,
    every: str = "1w",
    significance: float = 0.01,
    min_drop: float = 0.15,
    min_n: float = 10.0,
    taxonomy: pl.DataFrame | None = None,
) -> pl.DataFrame:
    """Alerts where an annotator's agreement on a class drops from some window on.

    For annotator ``a`` and class ``c``: among the items ``a`` labeled, weight
    each by the share of the *other* annotators who said ``c``; agreement is the
    weighted share where ``a`` said ``c`` too. For every change window ``t``,
    the windows before ``t`` are compared with ``t`` and after by a one-sided
    two-proportion z-test; a test counts when both sides hold at least ``min_n``
    (weighted) items. Multiple testing: Bonferroni over all (annotator, class,
    change window) tests, so ``significance`` bounds the chance of any false
    alert when nothing changed.

    A change by one annotator also lowers the others' agreement with *them*.
    So the detector searches the smallest set ``B`` of annotators such that (1)
    no significant drop remains among the others when ``B`` is left out of
    their comparisons, and (2) every member of ``B`` shows a significant drop
    against the annotators outside ``B``. Ties between sets of the same size go
    to the one with the stronger evidence, and the other candidates are named
    in ``note``. Only drops of at least ``min_drop`` alert; for each
    (annotator, class) the change window with the smallest p-value is given.

    Parameters
    ----------
    ratings
        :class:`Ratings` with times, or a long frame of labels with a time column.
    every
        Window length (polars duration).
    significance
        Family-wise error rate.
    min_drop
        Smallest drop in agreement (before minus after) that alerts.
    min_n
        Least weighted number of items on each side of a change.
    taxonomy
        Taxonomy versions: ``version`` and a time (``created_at``,
        ``committed_at`` or ``at``); each alert names the change nearest to its
        window start.

    Returns
    -------
    polars.DataFrame
        ``annotator, class_name, confused_with`` (what the annotator said
        instead most often after the change), ``window_start, agreement_before,
        agreement_after, drop, n_before, n_after, z, p_value, threshold,
        compared_with, taxonomy_version, taxonomy_changed_at,
        taxonomy_gap_days`` (window start minus the change), ``note``.

    Examples
    --------
    >>> from datetime import datetime, timedelta
    >>> rows = []
    >>> for i in range(120):
    ...     t = datetime(2026, 1, 5) + timedelta(days=i // 10)
    ...     truth = "dent" if i % 2 else "ok"
    ...     drifted = "scratch" if truth == "dent" and i >= 60 else truth
    ...     rows += [(i, "ana", truth, t), (i, "ben", truth, t), (i, "chloe", drifted, t)]
    >>> df = pl.DataFrame(rows, schema=["item", "annotator", "class_name", "created_at"], orient="row")
    >>> detect_label_drift(df).select("annotator", "class_name", "confused_with").rows()
    [('chloe', 'dent', 'scratch')]
    """
    r = _need_times(ratings)
    if not 0 < significance < 1 or min_drop < 0 or min_n < 1:
        raise ValueError("need 0 < significance < 1, min_drop >= 0 and min_n >= 1")
    _, _, alert_schema = _schemas(r.time_zone)
    starts, win, _ = _windows(r, every)
    m, nw = r.n_annotators, starts.size
    if m < 2 or nw < 2:
        return pl.DataFrame(schema=alert_schema)
    cache: dict[tuple[int, frozenset[int]], dict[str, np.ndarray]] = {}

    def tests(a: int, excluded: frozenset[int]) -> dict[str, np.ndarray]:
        key = (a, excluded - {a})
        if key not in cache:
            cache[key] = _tests(r, win, nw, a, key[1], min_n)
        return cache[key]

    family = sum(int(tests(a, frozenset())["valid"].sum()) for a in range(m))
    if family == 0:
        return pl.DataFrame(schema=alert_schema)
    thr = significance / family

    def significant(a: int, excluded: frozenset[int]) -> list[tuple[int, int, float]]:
        """(class, change window, p) of a's significant drops, best window per class."""
        t = tests(a, excluded)
        ok = t["valid"] & (t["p"] < thr) & (t["pb"] - t["pa"] >= min_drop)
        out = []
        for c in np.flatnonzero(ok.any(1)):
            j = int(np.argmin(np.where(ok[c], t["p"][c], np.inf)))
            out.append((int(c), j + 1, float(t["p"][c, j])))
        return out

    base = {a: significant(a, frozenset()) for a in range(m)}
    candidates = sorted(a for a, s in base.items() if s)
    if not candidates:
        return pl.DataFrame(schema=alert_schema)
    rated = r.codes >= 0

    def affected(subset: frozenset[int]) -> list[int]:
        """Annotators sharing an item with a member of ``subset`` (only their tests change)."""
        items = rated[list(subset)].any(0)
        return np.flatnonzero(rated[:, items].any(1)).tolist()

    chosen, alternatives, note = _explain(m, candidates, significant, affected)
    if chosen is None:
        chosen, found = frozenset(), {a: base[a] for a in candidates}
        note = "no smaller set of annotators explains the drops: each is tested against all others"
    else:
        found = {a: significant(a, chosen) for a in sorted(chosen)}
        if alternatives:
            note = (note + "; " if note else "") + "also consistent with a change by " + ", ".join(
                r.annotators[b] for b in alternatives)
    tax = _taxonomy_times(taxonomy)
    rows = []
    for a, hits in found.items():
        t = tests(a, chosen)
        compared = [r.annotators[b] for b in range(m) if b != a and b not in chosen]
        for c, cw, p in hits:
            j = cw - 1
            after = t["wa"] >= cw
            said = np.bincount(r.codes[a, t["sel"]][after], weights=t["w"][after, c], minlength=r.n_classes)
            said[c] = 0.0
            confused = r.classes[int(np.argmax(said))] if said.max() > 0 else None
            rows.append({
                "annotator": r.annotators[a], "class_name": r.classes[c], "confused_with": confused,
                "window_start": int(starts[cw]), "agreement_before": float(t["pb"][c, j]),
                "agreement_after": float(t["pa"][c, j]), "drop": float(t["pb"][c, j] - t["pa"][c, j]),
                "n_before": float(t["nb"][c, j]), "n_after": float(t["na"][c, j]), "z": float(t["z"][c, j]),
                "p_value": p, "threshold": thr, "compared_with": compared,
                **_nearest(tax, int(starts[cw])), "note": note})
    out = pl.DataFrame(rows, schema={**alert_schema, "window_start": pl.Int64})
    ws = pl.col("window_start").cast(pl.Datetime("us"))
    if r.time_zone is not None:
        ws = ws.dt.replace_time_zone("UTC").dt.convert_time_zone(r.time_zone)
    return out.with_columns(ws).sort("window_start", "annotator", "class_name").select(list(alert_schema))


def _explain(m: int, candidates: list[int], significant: Any,
             affected: Any = None) -> tuple[frozenset[int] | None, list[int], str]:
    """Smallest set of annotators whose own drops explain every significant drop.

    Returns the set (None if none does), the members of other sets of that size
    whose evidence comes within a factor 100 of the best (sum of -log p), and a note.
    ``affected(b)`` lists the annotators whose comparisons leaving out ``b``
    changes (default: all); the tests of the others stay as they were.
    """
    pool = candidates[:_MAX_CANDIDATES]
    note = "" if len(candidates) <= _MAX_CANDIDATES else f"only the first {_MAX_CANDIDATES} candidates searched"
    for size in range(1, min(len(pool), m - 1) + 1):
        valid = []
        for subset in itertools.combinations(pool, size):
            b = frozenset(subset)
            near = set(range(m) if affected is None else affected(b))
            if any(a not in near for a in candidates if a not in b):
                continue                  # a drop elsewhere that leaving b out cannot explain
            if any(significant(a, b) for a in sorted(near) if a not in b):
                continue
            own = [significant(a, b) for a in subset]
            if all(own):
                valid.append((sum(-math.log(max(p, 1e-300)) for hits in own for _, _, p in hits), b))
        if valid:
            valid.sort(key=lambda v: (-v[0], sorted(v[1])))
            best_score, best = valid[0]
            close = [v[1] for v in valid[1:] if v[0] >= best_score - math.log(100.0)]
            return best, sorted(set().union(*close) - best), note
    return None, [], note


def _taxonomy_times(taxonomy: pl.DataFrame | None) -> tuple[np.ndarray, np.ndarray] | None:
    if taxonomy is None or taxonomy.height == 0:
        return None
    tcol = next((c for c in ("created_at", "committed_at", "at") if c in taxonomy.columns), None)
    if "version" not in taxonomy.columns or tcol is None:
        raise ValueError("taxonomy needs a 'version' column and a time ('created_at', 'committed_at' or 'at')")
    dtype = taxonomy.schema[tcol]
    if not isinstance(dtype, pl.Datetime):
        raise ValueError(f"taxonomy column {tcol!r} must be a Datetime")
    tz = dtype.time_zone
    col = pl.col(tcol) if tz is not None else pl.col(tcol).dt.replace_time_zone("UTC")
    t = taxonomy.select(col.dt.epoch("us").alias("t"), pl.col("version").cast(pl.Int64))
    return t["t"].to_numpy(), t["version"].to_numpy()


def _nearest(tax: tuple[np.ndarray, np.ndarray] | None, at_us: int) -> dict[str, Any]:
    if tax is None:
        return {"taxonomy_version": None, "taxonomy_changed_at": None, "taxonomy_gap_days": None}
    t, v = tax
    j = int(np.argmin(np.abs(t - at_us)))
    from datetime import datetime, timedelta, timezone
    return {"taxonomy_version": int(v[j]),
            "taxonomy_changed_at": datetime(1970, 1, 1, tzinfo=timezone.utc) + timedelta(microseconds=int(t[j])),
            "taxonomy_gap_days": (at_us - int(t[j])) / _US_PER_DAY}
