"""The figure of :class:`~jupyter_cvops.widgets.agreement_view.AgreementView`: heatmaps, trend, alerts, summary.

:class:`_FigureMixin` holds the methods that build and redraw the plotly figure and the
summary line; the constants and small formatters are shared with the facade and the grid.
"""

from __future__ import annotations

import html
import math
from collections.abc import Iterable
from contextlib import nullcontext
from datetime import datetime
from typing import TYPE_CHECKING, Any

import numpy as np
import plotly.graph_objects as go
import polars as pl
from plotly.subplots import make_subplots

if TYPE_CHECKING:
    from ._agreement_host import _AgreementHost as _Host
    from ._agreement_host import _TraceIndex
else:
    _Host = object  # the host's attributes are typed through the protocol; nothing at run time

#: Colors for classes the taxonomy gives none, and for annotators (cycled).
PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#17becf")
ALERT_COLOR = "#d62728"
#: Height of the alert markers on the agreement axis (above any agreement), and between stacked ones.
ALERT_Y, ALERT_STEP = 1.1, 0.08
EMPTY_TEXT = ("Click a heatmap cell, a point of the agreement trend or a red alert marker to see "
              "the images behind it.")
#: Trend lines: report column, legend name.
TREND = (("krippendorff_alpha", "Krippendorff's α"), ("mean_pairwise_kappa", "mean pairwise κ"),
         ("observed_agreement", "observed agreement"))


def _fmt(x: float | None, digits: int = 2) -> str:
    return "–" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.{digits}f}"


def _esc(text: object) -> str:
    """``text`` as plotly shows it literally: plotly renders a subset of HTML in every text field
    (``<a href>``, ``<span style>``, ``<b>``, ``<br>``), so workspace strings are escaped (entities
    are shown as the characters they stand for).

    Examples
    --------
    >>> _esc('<a href="x">y</a>')
    '&lt;a href=&quot;x&quot;&gt;y&lt;/a&gt;'
    """
    return html.escape(str(text))


def _nan_to_none(values: Iterable[float | None]) -> list[float | None]:
    return [None if v is None or (isinstance(v, float) and math.isnan(v)) else float(v) for v in values]


def _axis_refs(fig: go.Figure, row: int, col: int) -> tuple[str, str]:
    """``("x3", "y3")``: the axis references of subplot (row, col)."""
    sp = fig.get_subplot(row, col)
    return sp.xaxis.plotly_name.replace("axis", ""), sp.yaxis.plotly_name.replace("axis", "")


class _FigureMixin(_Host):
    """Figure building and redrawing of :class:`~jupyter_cvops.widgets.agreement_view.AgreementView`."""

    # Set by _build_figure: axis references and annotation/trace positions per subplot, and
    # the shapes (alert and taxonomy lines) every highlight keeps.
    _refs: dict[str, tuple[str, str]]
    _title_index: dict[str, int]
    _trace_index: _TraceIndex
    _static_shapes: list[Any]

    # -- figure ------------------------------------------------------------------------------
    def _has_trend(self) -> bool:
        return self._windows.height > 0

    def _build_figure(self) -> go.Figure:
        trend = self._has_trend()
        m, k = len(self.annotators), len(self.classes)
        if trend:
            fig = make_subplots(
                rows=3, cols=2, specs=[[{}, {}], [{"colspan": 2}, None], [{"colspan": 2}, None]],
                row_heights=[0.5, 0.3, 0.2], horizontal_spacing=0.16, vertical_spacing=0.1,
                subplot_titles=["κ", "confusion", _esc(f"Agreement per window ({self.every}{self._tz_note()})"),
                                "share"])
        else:
            fig = make_subplots(rows=1, cols=2, horizontal_spacing=0.16, subplot_titles=["κ", "confusion"])
        self._refs = {"kappa": _axis_refs(fig, 1, 1), "confusion": _axis_refs(fig, 1, 2)}
        if trend:
            self._refs |= {"trend": _axis_refs(fig, 2, 1), "share": _axis_refs(fig, 3, 1)}
        self._title_index = {"kappa": 0, "confusion": 1, "share": 3}

        # The category values are the tick labels: escaped names (clicks report indices, which
        # _agreement_clicks maps back to the names themselves).
        anns = [_esc(a) for a in self.annotators]
        cls = [_esc(c) for c in self.classes]
        z, text, hover = self._kappa_cells()
        fig.add_trace(go.Heatmap(
            z=z, x=anns, y=anns, text=text, customdata=hover,
            texttemplate="%{text}", hovertemplate="%{customdata}<extra></extra>", coloraxis="coloraxis",
            name="kappa", xgap=2, ygap=2), row=1, col=1)
        fig.add_trace(go.Heatmap(
            z=[[0] * k] * k, x=cls, y=cls, texttemplate="%{text}",
            hovertemplate="%{customdata}<extra></extra>", coloraxis="coloraxis2", name="confusion",
            xgap=2, ygap=2), row=1, col=2)
        self._trace_index = {"kappa": 0, "confusion": 1}

        d1 = fig.layout[fig.get_subplot(1, 1).yaxis.plotly_name].domain
        x1 = fig.layout[fig.get_subplot(1, 1).xaxis.plotly_name].domain
        bar = {"len": d1[1] - d1[0], "y": (d1[0] + d1[1]) / 2, "yanchor": "middle", "thickness": 12}
        fig.update_layout(
            coloraxis={"colorscale": "RdYlGn", "cmin": 0.0, "cmax": 1.0,
                       "colorbar": {**bar, "x": x1[1] + 0.01, "title": {"text": "κ"}}},
            coloraxis2={"colorscale": "Blues", "cmin": 0,
                        "colorbar": {**bar, "x": 1.01, "title": {"text": "n"}}},
        )
        for name, (xr, yr) in (("kappa", self._refs["kappa"]), ("confusion", self._refs["confusion"])):
            fig.update_layout({f"xaxis{xr[1:]}": {"type": "category", "side": "bottom"},
                               f"yaxis{yr[1:]}": {"type": "category", "autorange": "reversed"}})
        xr, yr = self._refs["kappa"]
        fig.update_layout({f"xaxis{xr[1:]}": {"title": {"text": "annotator B"}},
                           f"yaxis{yr[1:]}": {"title": {"text": "annotator A"}}})
        fig.layout.annotations[0].text = "Cohen's κ (diagonal: each vs the consensus)"

        if trend:
            self._add_trend(fig)
        self._static_shapes = list(fig.layout.shapes or ())
        n_rows = 3 if trend else 1
        fig.update_layout(
            height=860 if trend else 420, margin={"l": 70, "r": 60, "t": 40, "b": 40},
            legend={"orientation": "h", "x": 0, "y": -0.06, "yanchor": "top"},
            hovermode="closest", clickmode="event", template="plotly_white", autosize=True,
            meta={"cvops": "agreement-view", "rows": n_rows})
        self._draw_confusion(fig)
        if trend:
            self._draw_shares(fig)
        return fig

    def _kappa_cells(self) -> tuple[list[list[float | None]], list[list[str]], list[list[str]]]:
        names = self.annotators
        pos = {a: i for i, a in enumerate(names)}
        m = len(names)
        z: list[list[float | None]] = [[None] * m for _ in range(m)]
        text = [[""] * m for _ in range(m)]
        hover = [[""] * m for _ in range(m)]
        for r in self.report.pairwise.iter_rows(named=True):
            i, j = pos[r["annotator_a"]], pos[r["annotator_b"]]
            k = r["kappa"]
            ok = k is not None and not math.isnan(k)
            ci = (f" [{_fmt(r.get('ci_low'))}, {_fmt(r.get('ci_high'))}]"
                  if r.get("ci_low") is not None and not math.isnan(r["ci_low"]) else "")
            for a, b in ((i, j), (j, i)):
                z[a][b] = float(k) if ok else None
                text[a][b] = _fmt(k)
                hover[a][b] = (f"<b>{html.escape(names[a])} × {html.escape(names[b])}</b><br>"
                               f"κ {_fmt(k, 3)}{ci} on {r['n_shared']} shared images<br>"
                               f"observed agreement {_fmt(r['observed_agreement'])}"
                               + (f"<br>{html.escape(r['reason'])}" if r["reason"] else "")
                               + "<br><i>click: the images they disagree on</i>")
        method = _esc(self.report.meta["consensus"])
        for r in self.report.annotators.iter_rows(named=True):
            i = pos[r["annotator"]]
            k = r["kappa_with_consensus"]
            z[i][i] = None if k is None or math.isnan(k) else float(k)
            text[i][i] = _fmt(k)
            hover[i][i] = (f"<b>{html.escape(names[i])} vs {method} consensus</b><br>κ {_fmt(k, 3)} on "
                           f"{r['n_compared']} images rated by 2+<br>agreement {_fmt(r['agreement_with_consensus'])}"
                           + (f"<br>{html.escape(r['reason'])}" if r["reason"] else "")
                           + "<br><i>click: where they differ from the consensus</i>")
        return z, text, hover

    def _draw_confusion(self, fig: go.Figure | None = None) -> None:
        fig = fig if fig is not None else self.figure
        mat = self._confusion()
        k = len(self.classes)
        off = mat[~np.eye(k, dtype=bool)]
        cmax = int(off.max()) if off.size and off.max() > 0 else max(1, int(mat.max()))
        cls = [_esc(c) for c in self.classes]
        if self._pair is None:
            title = "Class confusion, pooled over annotator pairs (label pairs)"
            xt, yt = "class", "class"
            hover = [[(f"<b>{cls[i]} / {cls[j]}</b>: {mat[i, j]} label pairs"
                       + ("<br><i>click: images two annotators labelled so</i>" if mat[i, j] else ""))
                      for j in range(k)] for i in range(k)]
        else:
            a, b = (_esc(x) for x in self._pair)
            title = f"Class confusion, {a} (rows) × {b} (columns)"
            xt, yt = f"{b}'s class", f"{a}'s class"
            hover = [[(f"<b>{a}: {cls[i]}, {b}: {cls[j]}</b><br>{mat[i, j]} images"
                       + ("<br><i>click: these images</i>" if mat[i, j] else ""))
                      for j in range(k)] for i in range(k)]
        xr, yr = self._refs["confusion"]
        with fig.batch_update() if isinstance(fig, go.FigureWidget) else nullcontext():
            tr = fig.data[self._trace_index["confusion"]]
            tr.z = mat.tolist()
            tr.text = [[str(int(v)) for v in row] for row in mat]
            tr.customdata = hover
            fig.layout.coloraxis2.cmax = cmax
            fig.layout.annotations[self._title_index["confusion"]].text = title
            fig.layout[f"xaxis{xr[1:]}"].title.text = xt
            fig.layout[f"yaxis{yr[1:]}"].title.text = yt

    def _window_x(self, starts: pl.Series) -> list[str]:
        """Window starts as plain date strings in the labels' zone (plotly ignores offsets)."""
        s = starts
        if getattr(s.dtype, "time_zone", None) is not None:
            s = s.dt.replace_time_zone(None)
        return s.dt.strftime("%Y-%m-%d %H:%M").to_list()

    def _add_trend(self, fig: go.Figure) -> None:
        w = self._windows
        xs = self._window_x(w["window_start"])
        ends = self._window_x(w["window_end"])
        xr, yr = self._refs["trend"]
        self._trace_index["trend"] = []
        for col, name in TREND:
            hover = [f"<b>{x[:10]} – {e[:10]}</b><br>{name} {_fmt(v, 3)}<br>{n} images, {nl} labels"
                     "<br><i>click: the disputed images of this window</i>"
                     for x, e, v, n, nl in zip(xs, ends, w[col].to_list(), w["n_items"].to_list(),
                                               w["n_labels"].to_list())]
            self._trace_index["trend"].append(len(fig.data))
            fig.add_trace(go.Scatter(
                x=xs, y=_nan_to_none(w[col].to_list()), mode="lines+markers", name=name, customdata=hover,
                hovertemplate="%{customdata}<extra></extra>", marker={"size": 8}, legendgroup="trend"),
                row=2, col=1)
        # Alerts fly above the lines (agreement <= 1), stacked per window, so a click on a
        # triangle never lands on a line's point of the same window.
        a = self._alerts
        ax = self._window_x(a["window_start"]) if a.height else []
        stack: dict[str, int] = {}
        ay = []
        for x in ax:
            ay.append(ALERT_Y + ALERT_STEP * stack.get(x, 0))
            stack[x] = stack.get(x, 0) + 1
        hover = [self._alert_hover(r) for r in a.iter_rows(named=True)]
        self._trace_index["alerts"] = len(fig.data)
        fig.add_trace(go.Scatter(
            x=ax, y=ay, mode="markers", name="label-drift alert", customdata=hover,
            hovertemplate="%{customdata}<extra></extra>",
            marker={"symbol": "triangle-down", "size": 18, "color": ALERT_COLOR, "line": {"width": 1, "color": "#fff"}},
            legendgroup="alerts"), row=2, col=1)
        shapes: list[dict[str, Any]] = []
        notes: list[dict[str, Any]] = []
        for x, y, r in zip(ax, ay, a.iter_rows(named=True)):
            for ref in ("trend", "share"):
                sx, sy = self._refs[ref]
                shapes.append({"type": "line", "xref": sx, "yref": f"{sy} domain", "x0": x, "x1": x, "y0": 0,
                               "y1": 1, "line": {"color": ALERT_COLOR, "width": 1.5, "dash": "dash"}})
            notes.append({"xref": xr, "yref": yr, "x": x, "y": y, "yanchor": "middle",
                          "xanchor": "left", "xshift": 12, "showarrow": False,
                          "font": {"color": ALERT_COLOR, "size": 11},
                          "text": f"⚠ {html.escape(r['annotator'])}: {html.escape(r['class_name'])}"
                                  + (f" → {html.escape(r['confused_with'])}" if r["confused_with"] else "")})
        for version, at in self._taxonomy_changes(w):
            x = self._window_x(pl.Series([at]))[0]
            for ref in ("trend", "share"):
                sx, sy = self._refs[ref]
                shapes.append({"type": "line", "xref": sx, "yref": f"{sy} domain", "x0": x, "x1": x, "y0": 0,
                               "y1": 1, "line": {"color": "#757575", "width": 1, "dash": "dot"}})
            notes.append({"xref": xr, "yref": f"{yr} domain", "x": x, "y": 0.02, "yanchor": "bottom",
                          "xanchor": "right", "xshift": -4, "showarrow": False,
                          "font": {"color": "#616161", "size": 10},
                          "text": f"taxonomy v{version}"})
        fig.update_layout(shapes=shapes)
        for n in notes:
            fig.add_annotation(n)
        lo = min([0.0] + [v for c, _ in TREND for v in _nan_to_none(w[c].to_list()) if v is not None])
        top = ALERT_Y + ALERT_STEP * max(stack.values(), default=0)
        fig.update_layout({f"yaxis{yr[1:]}": {"range": [lo - 0.02, top], "title": {"text": "agreement"},
                                              "tickvals": [round(t, 1) for t in np.arange(
                                                  math.floor(lo * 5) / 5, 1.01, 0.2)]},
                           f"xaxis{xr[1:]}": {"type": "date", "range": self._x_range()}})
        sx, sy = self._refs["share"]
        fig.update_layout({f"yaxis{sy[1:]}": {"range": [0, 1], "title": {"text": "share"}},
                           f"xaxis{sx[1:]}": {"type": "date", "matches": xr}})
        self._trace_index["share"] = []
        for ann in self.annotators:
            self._trace_index["share"].append(len(fig.data))
            fig.add_trace(go.Scatter(
                x=xs, y=[None] * len(xs), mode="lines+markers", name=_esc(ann), legendgroup="share",
                line={"color": self._ann_colors[ann], "width": 1.5}, marker={"size": 6},
                hovertemplate=f"{_esc(ann)}: %{{y:.0%}}<extra></extra>"), row=3, col=1)

    def _tz_note(self) -> str:
        tz = getattr(self._windows.schema["window_start"], "time_zone", None)
        return f", {tz}" if tz else ""

    def _x_range(self) -> list[str]:
        """The trend's date range: the windows' starts, half a window of room on each side."""
        w = self._windows
        half = (w["window_end"][0] - w["window_start"][0]) / 2
        ends = pl.Series([w["window_start"][0] - half, w["window_start"][-1] + half])
        return self._window_x(ends)

    def _alert_hover(self, r: dict[str, Any]) -> str:
        who, cls = html.escape(r["annotator"]), html.escape(r["class_name"])
        instead = f" (mostly {html.escape(r['confused_with'])} instead)" if r["confused_with"] else ""
        tax = (f"<br>nearest taxonomy change: v{r['taxonomy_version']}"
               f" ({r['taxonomy_gap_days']:+.0f} days)" if r["taxonomy_version"] is not None else "")
        return (f"<b>label drift: {who} on {cls}</b><br>from {str(r['window_start'])[:10]}, {who} said {cls} less "
                f"often where others did{instead}<br>agreement {_fmt(r['agreement_before'])} → "
                f"{_fmt(r['agreement_after'])} (p = {r['p_value']:.1e}){tax}"
                "<br><i>click: the images behind it</i>")

    def _taxonomy_changes(self, w: pl.DataFrame) -> list[tuple[int, datetime]]:
        if self.ws.taxonomy.version < 2 or w.height == 0:
            return []
        hist = self.ws.taxonomy.history()
        tz = getattr(w.schema["window_start"], "time_zone", None)
        at = hist["created_at"]
        at = at.dt.convert_time_zone(tz) if tz is not None else at.dt.replace_time_zone(None)
        lo, hi = w["window_start"].min(), w["window_end"].max()
        return [(int(v), t) for v, t in zip(hist["version"].to_list(), at.to_list())
                if int(v) > 1 and lo <= t <= hi]

    def _draw_shares(self, fig: go.Figure | None = None) -> None:
        if not self._has_trend():
            return
        fig = fig if fig is not None else self.figure
        focus = self._focus if self._focus is not None else self._default_focus()
        xs = self._window_x(self._windows["window_start"])
        freq = self.report.class_frequency.filter(pl.col("class_name") == focus)
        fx = self._window_x(freq["window_start"])
        share = {(x, a): s for x, a, s in zip(fx, freq["annotator"].to_list(), freq["share"].to_list())}
        with fig.batch_update() if isinstance(fig, go.FigureWidget) else nullcontext():
            for ann, i in zip(self.annotators, self._trace_index["share"]):
                fig.data[i].y = [share.get((x, ann)) for x in xs]
            fig.layout.annotations[self._title_index["share"]].text = (
                f"Share of “{html.escape(focus)}” in each annotator's labels per window")

    def _default_focus(self) -> str:
        pc = self.report.per_class.filter(pl.col("kappa").is_not_nan()).sort("kappa")
        return pc["class_name"][0] if pc.height else self.classes[0]

    def _highlight(self) -> None:
        """Outline the cell (or window) of the current drill-down."""
        t = self._target or {}
        shapes = list(self._static_shapes)
        box = {"type": "rect", "line": {"color": "#111", "width": 3}, "fillcolor": "rgba(0,0,0,0)"}
        kind = t.get("kind")
        pos_a = {a: i for i, a in enumerate(self.annotators)}
        pos_c = {c: i for i, c in enumerate(self.classes)}
        cell: tuple[str, int, int] | None = None
        if kind == "consensus":
            cell = ("kappa", pos_a[t["annotator"]], pos_a[t["annotator"]])
        elif kind == "pair" and t.get("class_a") is None:
            cell = ("kappa", pos_a[t["annotator_a"]], pos_a[t["annotator_b"]])
        elif (kind == "pooled" and self._pair is None) or (
                kind == "pair" and (t["annotator_a"], t["annotator_b"]) == self._pair):
            cell = ("confusion", pos_c[t["class_a"]], pos_c[t["class_b"]])  # only on the matrix it came from
        if cell is not None:
            xr, yr = self._refs[cell[0]]
            shapes.append({**box, "xref": xr, "yref": yr, "x0": cell[2] - 0.5, "x1": cell[2] + 0.5,
                           "y0": cell[1] - 0.5, "y1": cell[1] + 0.5})
        if kind in ("window", "alert") and self._has_trend():
            start = self._window_x(pl.Series([t["window_start"]]))[0]
            end = (self._window_x(self._windows["window_end"])[-1] if kind == "alert" else
                   self._window_x(pl.Series([t["window_start"]]).dt.offset_by(self.every))[0])
            xr, yr = self._refs["trend"]
            shapes.append({"type": "rect", "xref": xr, "yref": f"{yr} domain", "x0": start, "x1": end, "y0": 0,
                           "y1": 1, "fillcolor": "rgba(25,118,210,0.12)", "line": {"width": 0}, "layer": "below"})
        self.figure.layout.shapes = shapes

    # -- summary -------------------------------------------------------------------------------
    def _summary_html(self) -> str:
        r = self.report
        o = {row["metric"]: row for row in r.overall.iter_rows(named=True)}
        alpha = o.get("krippendorff_alpha", {})
        ci = (f" [{_fmt(alpha.get('ci_low'), 3)}, {_fmt(alpha.get('ci_high'), 3)}]"
              if alpha.get("ci_low") is not None and not math.isnan(alpha["ci_low"]) else "")
        parts = [f"<b>Krippendorff's α {_fmt(alpha.get('value'), 3)}</b>{ci}",
                 f"Fleiss' κ {_fmt(o.get('fleiss_kappa', {}).get('value'), 3)}",
                 f"mean pairwise κ {_fmt(o.get('mean_pairwise_kappa', {}).get('value'), 3)}",
                 f"{r.meta['n_items']:,} images", f"{r.meta['n_labels']:,} labels",
                 f"{len(self.annotators)} annotators", f"consensus: {html.escape(r.meta['consensus'])}"]
        n_alerts = r.alerts.height
        alerts = (f"<span style='color:{ALERT_COLOR}'><b>{n_alerts} label-drift alert{'s' if n_alerts != 1 else ''}"
                  "</b></span>" if n_alerts else "no label-drift alert")
        return "<div class='cvops-agreement-summary'>" + " · ".join(parts + [alerts]) + "</div>"
