"""Production accuracy over time: logged predictions joined with the labels reviewers gave their images.

Once production images have been reviewed (``ws.review_queue(predictions=...)`` then the review
widget), each logged prediction of them is right or wrong. Per time window and model version (and
role: ``served`` answers, ``shadow`` candidates), :func:`accuracy_windows` counts the reviewed
predictions, their accuracy and a Wilson score interval. The windows are the drift timeline's:
prediction times truncated to ``by`` (``"1d"``, ``"1w"``), so the two plots line up.

Ground truth is what ``ws.evaluate`` uses (:func:`~jupyter_cvops.models.evaluate.ground_truth` on
the labels a snapshot would freeze now): by default only images with a review decision count
(``truth="reviewed"``); ``truth="labels"`` also takes the annotators' strict majority.

Examples
--------
>>> from datetime import datetime
>>> preds = pl.DataFrame({"time": [datetime(2026, 1, 1, 9), datetime(2026, 1, 1, 10), datetime(2026, 1, 2, 9)],
...                       "image_id": ["a", "b", "c"], "model_version": ["v1"] * 3, "role": ["served"] * 3,
...                       "predicted_class": ["dent", "ok", "ok"]})
>>> truth = pl.DataFrame({"image_id": ["a", "b", "c"], "truth": ["dent", "dent", "ok"]})
>>> accuracy_windows(preds, truth, by="1d").select("n_reviewed", "n_correct", "accuracy").rows()
[(2, 1, 0.5), (1, 1, 1.0)]
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from html import escape
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import polars as pl
from scipy.stats import norm

from ..agreement._over_time import check_duration

if TYPE_CHECKING:
    import plotly.graph_objects as go

    from ..workspace import Workspace

__all__ = ["ProductionAccuracy", "accuracy_windows", "production_accuracy", "wilson_interval"]

#: Categorical colors of the drift timeline's windows (js/widgets/_drift_colors.ts PALETTE, tab10):
#: one per model version here, in order of first appearance.
PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22",
           "#17becf")
TRUTH = ("reviewed", "labels")
#: Columns of :func:`accuracy_windows`.
COLUMNS: dict[str, pl.DataType | type[pl.DataType]] = {
    "window": pl.Datetime("us", "UTC"), "model_version": pl.String, "role": pl.String, "aliases": pl.List(pl.String),
    "n_predictions": pl.UInt32, "n_reviewed": pl.UInt32, "n_correct": pl.UInt32, "accuracy": pl.Float64,
    "ci_low": pl.Float64, "ci_high": pl.Float64}


def wilson_interval(k: Any, n: Any, confidence: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
    """Wilson score interval of a binomial proportion ``k / n`` (elementwise; NaN where ``n == 0``).

    Parameters
    ----------
    k, n
        Successes and trials (scalars or arrays).
    confidence
        Two-sided coverage, in (0, 1).

    Returns
    -------
    (numpy.ndarray, numpy.ndarray)
        Lower and upper bounds, as ``statsmodels``' ``proportion_confint(k, n, method="wilson")``.

    Examples
    --------
    >>> lo, hi = wilson_interval(8, 10)
    >>> round(float(lo), 4), round(float(hi), 4)
    (0.4902, 0.9433)
    """
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be in (0, 1), not {confidence}")
    k_arr = np.asarray(k, dtype=float)
    n_arr = np.asarray(n, dtype=float)
    if np.any(k_arr < 0) or np.any(k_arr > n_arr):
        raise ValueError("wilson_interval needs 0 <= k <= n")
    z = float(norm.ppf(0.5 + confidence / 2))
    with np.errstate(divide="ignore", invalid="ignore"):
        p = k_arr / n_arr
        denom = 1 + z * z / n_arr
        center = (p + z * z / (2 * n_arr)) / denom
        half = z * np.sqrt(p * (1 - p) / n_arr + z * z / (4 * n_arr * n_arr)) / denom
    lo = np.where(n_arr > 0, np.clip(center - half, 0.0, 1.0), np.nan)
    hi = np.where(n_arr > 0, np.clip(center + half, 0.0, 1.0), np.nan)
    return lo, hi


def accuracy_windows(predictions: pl.DataFrame, truth: pl.DataFrame, *, by: str = "1d",
                     confidence: float = 0.95) -> pl.DataFrame:
    """Per window, model version and role: predictions, reviewed predictions, accuracy and its Wilson CI (pure).

    Parameters
    ----------
    predictions
        ``time, image_id, model_version, role, predicted_class`` (and optionally ``alias``, ``status``:
        rows with a status other than ``ok`` are left out), as ``ws.predictions()`` returns.
    truth
        ``image_id, truth``: one true class per image (null: none).
    by
        Window length (a polars duration); windows start at the times truncated to it, as drift's do.
    confidence
        Coverage of the Wilson interval.

    Returns
    -------
    polars.DataFrame
        ``window, model_version, role, aliases, n_predictions, n_reviewed, n_correct, accuracy, ci_low,
        ci_high``, by window then version then role. Each logged prediction of a reviewed image counts
        once (an image served twice counts twice); ``accuracy`` and the bounds are null without reviews.

    Examples
    --------
    >>> from datetime import datetime
    >>> p = pl.DataFrame({"time": [datetime(2026, 1, 5)] * 2, "image_id": ["a", "b"], "model_version": ["v1"] * 2,
    ...                   "role": ["served"] * 2, "predicted_class": ["ok", "ok"]})
    >>> accuracy_windows(p, pl.DataFrame({"image_id": ["a"], "truth": ["ok"]}), by="1w").select(
    ...     "n_predictions", "n_reviewed", "accuracy").rows()
    [(2, 1, 1.0)]
    """
    check_duration(by, "by")
    need = ["time", "image_id", "model_version", "role", "predicted_class"]
    missing = [c for c in need if c not in predictions.columns]
    if missing:
        raise ValueError(f"predictions need columns {need}; missing {missing}")
    if "image_id" not in truth.columns or "truth" not in truth.columns:
        raise ValueError(f"truth needs columns image_id, truth; it has {truth.columns}")
    p = predictions
    if "status" in p.columns:
        p = p.filter(pl.col("status").fill_null("ok") == "ok")
    p = p.filter(pl.col("image_id").is_not_null())
    if p.height == 0:
        return pl.DataFrame(schema=COLUMNS)
    time = pl.col("time")
    if p.schema["time"] == pl.Datetime or isinstance(p.schema["time"], pl.Datetime):
        tz = getattr(p.schema["time"], "time_zone", None)
        time = time.dt.replace_time_zone("UTC") if tz is None else time.dt.convert_time_zone("UTC")
    t = truth.select("image_id", pl.col("truth").cast(pl.String)).unique("image_id", keep="last")
    alias = pl.col("alias") if "alias" in p.columns else pl.lit(None, pl.String)
    joined = (p.with_columns(time.dt.cast_time_unit("us").dt.truncate(by).alias("window"), alias.alias("alias"))
              .join(t, on="image_id", how="left")
              .with_columns((pl.col("predicted_class") == pl.col("truth")).fill_null(False).alias("_correct")))
    out = (joined.group_by("window", "model_version", "role")
           .agg(pl.col("alias").drop_nulls().unique().sort().alias("aliases"),
                pl.len().alias("n_predictions"),
                pl.col("truth").is_not_null().sum().alias("n_reviewed"),
                (pl.col("_correct") & pl.col("truth").is_not_null()).sum().alias("n_correct"))
           .sort("window", "model_version", "role"))
    lo, hi = wilson_interval(out["n_correct"].to_numpy(), out["n_reviewed"].to_numpy(), confidence)
    out = out.with_columns(
        pl.when(pl.col("n_reviewed") > 0).then(pl.col("n_correct") / pl.col("n_reviewed")).alias("accuracy"),
        pl.Series("ci_low", lo).fill_nan(None), pl.Series("ci_high", hi).fill_nan(None))
    return out.select(list(COLUMNS)).cast({k: v for k, v in COLUMNS.items() if k != "window"})


@dataclass
class ProductionAccuracy:
    """Accuracy of a model's logged predictions on reviewed images, per window and model version.

    Attributes
    ----------
    name : str
        The model.
    by : str
        Window length.
    truth : str
        ``"reviewed"`` (review decisions only) or ``"labels"`` (also the annotators' majority).
    windows : polars.DataFrame
        See :func:`accuracy_windows`.
    confidence : float
        Coverage of ``ci_low``/``ci_high``.

    Examples
    --------
    >>> acc = ws.production_accuracy("defect-clf", by="1w")   # doctest: +SKIP
    >>> acc.windows.select("window", "model_version", "n_reviewed", "accuracy")   # doctest: +SKIP
    >>> acc.plot()                                            # doctest: +SKIP
    """

    name: str
    by: str
    truth: str
    windows: pl.DataFrame
    confidence: float = 0.95

    @property
    def overall(self) -> pl.DataFrame:
        """Per model version and role over every window: ``n_reviewed, n_correct, accuracy, ci_low, ci_high``.

        Examples
        --------
        >>> acc.overall   # doctest: +SKIP
        """
        g = (self.windows.group_by("model_version", "role")
             .agg(pl.col("n_predictions").sum(), pl.col("n_reviewed").sum(), pl.col("n_correct").sum())
             .sort("model_version", "role"))
        lo, hi = wilson_interval(g["n_correct"].to_numpy(), g["n_reviewed"].to_numpy(), self.confidence)
        return g.with_columns(
            pl.when(pl.col("n_reviewed") > 0).then(pl.col("n_correct") / pl.col("n_reviewed")).alias("accuracy"),
            pl.Series("ci_low", lo).fill_nan(None), pl.Series("ci_high", hi).fill_nan(None))

    def summary(self) -> str:
        """One sentence: the reviewed predictions and the latest window's accuracy per served version.

        Examples
        --------
        >>> acc.summary()   # doctest: +SKIP
        'defect-clf: 120 reviewed predictions in 6 windows of 1d; latest (2026-11-07) 6b1f2c3d: 0.91 [0.80, 0.96]'
        """
        w = self.windows.filter(pl.col("n_reviewed") > 0)
        if w.height == 0:
            return f"{self.name}: no logged prediction of a reviewed image yet"
        last = w.filter(pl.col("window") == w["window"].max())
        parts = [f"{str(r['model_version'])[:8]}{' (shadow)' if r['role'] == 'shadow' else ''}: "
                 f"{r['accuracy']:.2f} [{r['ci_low']:.2f}, {r['ci_high']:.2f}] (n={r['n_reviewed']})"
                 for r in last.iter_rows(named=True)]
        latest: datetime = w["window"].max()  # type: ignore[assignment]
        n_win = w["window"].n_unique()
        return (f"{self.name}: {int(w['n_reviewed'].sum())} reviewed predictions in {n_win} "
                f"window{'s' if n_win != 1 else ''} of {self.by}; latest ({latest:%Y-%m-%d %H:%M}) " + "; ".join(parts))

    def plot(self, *, height: int = 300) -> go.Figure:
        """Accuracy per window with its Wilson interval, one line per model version (served solid,
        shadow dotted), colored like the drift timeline's windows; to sit beside ``cv.drift_view``.

        Examples
        --------
        >>> ws.production_accuracy("defect-clf", by="1d").plot()   # doctest: +SKIP
        """
        import plotly.graph_objects as go

        fig = go.Figure()
        w = self.windows.filter(pl.col("n_reviewed") > 0)
        versions = list(dict.fromkeys(w.sort("window")["model_version"].to_list()))
        for (version, role), part in w.group_by("model_version", "role", maintain_order=True):
            part = part.sort("window")
            acc = part["accuracy"].to_numpy()
            aliases = sorted({a for lst in part["aliases"].to_list() for a in lst})
            label = f"{str(version)[:12]}" + (f" @{','.join(aliases)}" if aliases else "") + \
                (" (shadow)" if role == "shadow" else "")
            fig.add_trace(go.Scatter(
                x=part["window"].to_list(), y=acc, name=escape(label), mode="lines+markers",
                line={"color": PALETTE[versions.index(version) % len(PALETTE)],
                      "dash": "dot" if role == "shadow" else "solid"},
                error_y={"type": "data", "symmetric": False, "array": part["ci_high"].to_numpy() - acc,
                         "arrayminus": acc - part["ci_low"].to_numpy(), "thickness": 1},
                customdata=np.stack([part["n_reviewed"].to_numpy(), part["n_predictions"].to_numpy()], axis=1),
                hovertemplate="%{x}<br>accuracy %{y:.3f}<br>%{customdata[0]} reviewed of %{customdata[1]}"
                              "<extra>" + escape(label) + "</extra>"))
        fig.update_layout(
            title={"text": escape(f"Production accuracy of {self.name} per {self.by} "
                                  f"({int(self.confidence * 100)}% Wilson CI)"), "font": {"size": 13}},
            height=height, margin={"l": 40, "r": 10, "t": 36, "b": 30}, template="plotly_white",
            yaxis={"range": [0, 1.02], "title": "accuracy"}, xaxis={"title": f"window ({self.by})"},
            legend={"orientation": "h", "y": -0.2})
        return fig

    def to_dict(self) -> dict[str, Any]:
        """JSON-able: the parameters and the windows (times as ISO strings).

        Examples
        --------
        >>> acc.to_dict()["windows"][0]["accuracy"]   # doctest: +SKIP
        """
        rows = [{**r, "window": r["window"].isoformat()} for r in self.windows.to_dicts()]
        return {"name": self.name, "by": self.by, "truth": self.truth, "confidence": self.confidence, "windows": rows}

    def __repr__(self) -> str:
        return f"<ProductionAccuracy {self.summary()}>"

    def _repr_html_(self) -> str:
        cols = ["window", "model_version", "role", "n_predictions", "n_reviewed", "accuracy", "ci_low", "ci_high"]
        head = "".join(f"<th>{escape(c)}</th>" for c in cols)
        body = "".join("<tr>" + "".join(f"<td>{escape(_fmt(v))}</td>" for v in r) + "</tr>"
                       for r in self.windows.select(cols).iter_rows())
        return (f"<div><b>Production accuracy</b> &mdash; {escape(self.summary())}</div>"
                f"<table><tr>{head}</tr>{body}</table>")


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.3f}"
    if isinstance(v, datetime):
        return f"{v:%Y-%m-%d %H:%M}"
    return "" if v is None else str(v)


def production_accuracy(ws: Workspace, name: str, *, by: str = "1d", since: datetime | date | str | None = None,
                        until: datetime | date | str | None = None, version: str | None = None,
                        roles: tuple[str, ...] = ("served", "shadow"),
                        truth: Literal["reviewed", "labels"] = "reviewed",
                        confidence: float = 0.95) -> ProductionAccuracy:
    """``ws.production_accuracy``: read the logged predictions and today's labels, then :func:`accuracy_windows`.

    Examples
    --------
    >>> production_accuracy(ws, "defect-clf", by="1w").windows   # doctest: +SKIP
    """
    from ..labels._resolution import resolve_labels
    from ..models.evaluate import ground_truth
    from ._model import quote
    from .log import ROLES, read_predictions

    check_duration(by, "by")
    if truth not in TRUTH:
        raise ValueError(f"truth must be one of {TRUTH}, not {truth!r}")
    if isinstance(roles, str):
        roles = (roles,)
    bad = [r for r in roles if r not in ROLES]
    if bad or not roles:
        raise ValueError(f"roles must be among {ROLES}, got {tuple(roles)!r}")
    preds = read_predictions(ws.store, model=name, version=version, since=since, until=until)
    model = name.partition("@")[0]
    if preds.height == 0 and not ws.store.count("predictions", f"model = {quote(model)}"):
        raise ValueError(f"no prediction of model {model!r} is logged in this workspace")
    preds = preds.filter(pl.col("role").fill_null("served").is_in(list(roles)))
    ids = preds["image_id"].drop_nulls().unique()
    if ids.len() and ws.taxonomy.version:
        labels, _flagged = resolve_labels(ws.store, ws.taxonomy, ids, ws.taxonomy.version)
        gt = ground_truth(labels)
        if truth == "reviewed":
            gt = gt.filter(pl.col("agreement") == "reviewed")
    else:
        gt = pl.DataFrame(schema={"image_id": pl.String, "truth": pl.String})
    windows = accuracy_windows(preds.with_columns(pl.col("role").fill_null("served")), gt, by=by,
                               confidence=confidence)
    return ProductionAccuracy(name=name, by=by, truth=truth, windows=windows, confidence=confidence)
