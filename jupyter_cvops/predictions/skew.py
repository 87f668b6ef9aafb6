"""``ws.skew``: does serving feed the model what training fed it?

For a model version, the logged predictions are grouped by the serving side's preprocessing
fingerprint. Each serving pipeline is compared with the training one three ways: the spec
fields and library versions that differ (and the golden images shipped in the package); a
replay of both pipelines on a seeded sample of the served images (max / mean |diff| per
image, in grey levels); and the input statistics of the served images against the training
images (KS tests on image statistics, reusing ``drift``). The result is stored as a check.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from html import escape
from typing import TYPE_CHECKING, Any

import numpy as np
import polars as pl

from .._store import WorkspaceError

if TYPE_CHECKING:
    from ..workspace import Workspace


@dataclass
class SkewCheck:
    """Training vs serving for one model version.

    Attributes
    ----------
    ok : bool
        No serving pipeline differs from training (spec, golden outputs, replay).
    groups : polars.DataFrame
        One row per serving pipeline: ``serving_fingerprint, sources, n_predictions, n_replayed,
        ok, mean_levels, max_levels, drifted_features, sentence``.
    differences : polars.DataFrame
        ``serving_fingerprint, field, training, serving`` (spec fields and library versions).
    input_stats : polars.DataFrame
        Per serving pipeline and image statistic: KS test of served vs training images.
    sentence : str
        What differs, in one sentence per skewed pipeline.

    Examples
    --------
    >>> rep = ws.skew("defect-clf@production")   # doctest: +SKIP
    >>> rep.ok, rep.sentence                        # doctest: +SKIP
    """

    model: str
    version: str
    training_fingerprint: str
    ok: bool
    groups: pl.DataFrame
    differences: pl.DataFrame
    input_stats: pl.DataFrame
    sentence: str
    notes: list[str] = field(default_factory=list)
    check_id: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """What the check stores."""
        return {"ok": self.ok, "training_fingerprint": self.training_fingerprint,
                "groups": self.groups.to_dicts(), "differences": self.differences.to_dicts(), "notes": self.notes}

    def __repr__(self) -> str:
        return f"<SkewCheck {self.model}:{self.version[:12]} {'ok' if self.ok else 'SKEW'}: {self.sentence}>"

    def _repr_html_(self) -> str:
        colour = "#1a7f37" if self.ok else "#cf222e"
        rows = "".join(f"<tr><td>{escape(str(r['serving_fingerprint'])[:12])}</td><td>{escape(', '.join(r['sources']))}"
                       f"</td><td>{r['n_predictions']}</td><td>{'ok' if r['ok'] else 'SKEW'}</td>"
                       f"<td>{escape(r['sentence'])}</td></tr>" for r in self.groups.iter_rows(named=True))
        return (f"<div><b style='color:{colour}'>{'No skew' if self.ok else 'Training/serving skew'}</b> &mdash; "
                f"{escape(self.model)}:{escape(self.version[:12])}</div><div>{escape(self.sentence)}</div>"
                f"<table><tr><th>serving preprocessing</th><th>sources</th><th>predictions</th><th></th>"
                f"<th>what differs</th></tr>{rows}</table>")


_GROUPS: dict[str, Any] = {"serving_fingerprint": pl.String, "sources": pl.List(pl.String), "n_predictions": pl.Int64,
                           "n_replayed": pl.Int64, "ok": pl.Boolean, "mean_levels": pl.Float64,
                           "max_levels": pl.Float64, "drifted_features": pl.List(pl.String), "sentence": pl.String}
_DIFFS: dict[str, Any] = {"serving_fingerprint": pl.String, "field": pl.String, "training": pl.String,
                          "serving": pl.String}


def skew(ws: Workspace, ref: str, *, version: str | None = None, sample: int = 200, seed: int = 0,
         input_stats: bool = True, alpha: float = 0.01) -> SkewCheck:
    """Compare the training preprocessing of a model version with every serving pipeline logged for it.

    Parameters
    ----------
    ws
        The workspace.
    ref
        ``"name@alias"`` or ``"name"`` with ``version=``.
    sample
        Served images replayed (and tested for input statistics) per serving pipeline, seeded.
    input_stats
        Also test the image statistics of served vs training images (embeds ``imgstats`` of the
        sampled images; skipped on a read-only workspace).
    alpha
        FDR level of the input-statistic tests.

    Examples
    --------
    >>> ws.skew("defect-clf@production").sentence   # doctest: +SKIP
    'line-2: serving resizes with OpenCV INTER_LINEAR without antialias; training ...'
    """
    from ..models.version import read_preprocess
    from ..preprocess import PreprocessError, skew_report

    mv = ws.model(ref, version=version)
    train = mv.preprocess
    if train is None:
        raise WorkspaceError(f"{mv.ref} was registered without preprocessing: nothing to compare serving with")
    quoted = mv.version.replace("'", "''")
    served = ws.store.read("predictions", where=f"model_version = '{quoted}' AND status = 'ok'",
                           columns=["image_id", "path", "source", "preprocess_fingerprint"])
    if served.height == 0:
        raise WorkspaceError(f"no predictions of {mv.name}:{mv.short_version} are logged yet: log them with "
                             "cv.Predictor or ws.log_predictions(..., preprocess=...) to check for skew")
    notes: list[str] = []
    groups, diffs, stats = [], [], []
    rng = np.random.default_rng(seed)
    train_ids = _training_sample(ws, mv.dataset_version, sample, rng) if input_stats else []
    for (fp,), rows in served.group_by("preprocess_fingerprint", maintain_order=True):
        sources = sorted({s for s in rows["source"].to_list() if s is not None})
        base = {"serving_fingerprint": fp, "sources": sources, "n_predictions": rows.height, "n_replayed": 0,
                "mean_levels": None, "max_levels": None, "drifted_features": []}
        where = ", ".join(sources) or "unnamed source"
        if fp is None:
            groups.append(base | {"ok": False, "sentence": f"{where}: the serving preprocessing was not recorded "
                                                            "(log predictions with preprocess=...)"})
            continue
        serve = train if fp == train.fingerprint else read_preprocess(ws.store, fp)
        assert serve is not None
        readable = rows.filter(pl.col("path").is_not_null()).unique("image_id", keep="first")
        readable = readable.filter(pl.col("path").map_elements(os.path.isfile, return_dtype=pl.Boolean))
        pick = readable if readable.height <= sample else readable[np.sort(rng.choice(readable.height, sample,
                                                                                      replace=False)).tolist()]
        images = pick["path"].to_list()
        try:
            rep = skew_report(train, serve, images=images if images and fp != train.fingerprint else None)
        except PreprocessError as error:  # a wrapped serving transform cannot be re-run from its record
            rep = skew_report(train, serve)
            notes.append(f"{where}: no replay ({error})")
        out = rep.outputs
        row = base | {"ok": rep.ok, "n_replayed": len(images) if out is not None else 0,
                      "mean_levels": None if out is None else float(out.mean_levels),
                      "max_levels": None if out is None else float(out.max_levels),
                      "sentence": f"{where}: {rep.sentence}" if not rep.ok else f"{where}: same preprocessing"}
        diffs += [{"serving_fingerprint": fp, "field": d.field, "training": _text(d.a), "serving": _text(d.b)}
                  for d in rep.differences]
        if train_ids and not ws.store.readonly:
            test = _input_stats(ws, train_ids, pick["image_id"].to_list(), alpha)
            if test.height:
                stats.append(test.with_columns(pl.lit(fp).alias("serving_fingerprint")))
                row["drifted_features"] = test.filter(pl.col("drifted"))["feature"].to_list()[:5]
        groups.append(row)
    if input_stats and ws.store.readonly:
        notes.append("input statistics not compared: the workspace is open read-only (it would embed images)")
    table = pl.DataFrame(groups, schema=_GROUPS)
    ok = bool(table["ok"].all())
    bad = table.filter(~pl.col("ok"))
    sentence = ("; ".join(bad["sentence"].to_list()) if bad.height else
                f"serving matches training preprocessing ({served.height} predictions, {table.height} "
                f"serving pipeline{'s' if table.height != 1 else ''})")
    report = SkewCheck(mv.name, mv.version, train.fingerprint, ok, table, pl.DataFrame(diffs, schema=_DIFFS),
                       pl.concat(stats) if stats else pl.DataFrame(), sentence, notes)
    if not ws.store.readonly:
        from ..checks.results import record_check

        report.check_id = record_check(ws.store, "skew", f"{mv.name}:{mv.version}",
                                       parameters={"sample": sample, "seed": seed, "alpha": alpha},
                                       result=report.to_dict(), alert=not ok, summary=sentence)
    return report


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def _training_sample(ws: Workspace, dataset_version: str | None, n: int, rng: np.random.Generator) -> list[str]:
    if not dataset_version:
        return []
    ids = ws.version(dataset_version).items()["image_id"].to_list()
    if len(ids) > n:
        ids = [ids[i] for i in np.sort(rng.choice(len(ids), n, replace=False))]
    return ids


def _input_stats(ws: Workspace, train_ids: list[str], served_ids: list[str], alpha: float) -> pl.DataFrame:
    """KS tests of image statistics: served sample vs training sample (reusing drift's feature tests)."""
    from ..drift.two_sample import feature_tests
    from ..embeddings.tables import embed, load_vectors

    if len(served_ids) < 5 or len(train_ids) < 5:
        return pl.DataFrame()
    embed(ws, "imgstats", images=list(dict.fromkeys(train_ids + served_ids)), progress=False)
    ref = load_vectors(ws, "imgstats", images=train_ids)
    cur = load_vectors(ws, "imgstats", images=served_ids)
    names = ref.feature_names or [f"f{i}" for i in range(ref.vectors.shape[1])]
    return feature_tests(pl.DataFrame(ref.vectors, schema=names, orient="row"),
                         pl.DataFrame(cur.vectors, schema=names, orient="row"), alpha=alpha)
