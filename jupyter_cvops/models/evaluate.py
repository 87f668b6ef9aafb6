"""``ws.evaluate``: a model version on a dataset version (or one of its splits), overall, per class
and per slice (source, capture week, annotator agreement), stored as a check for gates and the audit.

Ground truth per image: the reviewed label when there is one, else the annotators' majority
(images whose annotators tie are left out and counted). Images that cannot be read are counted
as failed, never silently dropped.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from html import escape
from typing import TYPE_CHECKING, Any

import numpy as np
import polars as pl

from . import _metrics
from ._inference import run_batches

if TYPE_CHECKING:
    from ..datasets.versions import DatasetVersion
    from ..workspace import Workspace
    from .version import ModelVersion

SLICES = ("source", "week", "agreement")


@dataclass
class EvaluationReport:
    """Metrics of one model version on one dataset version.

    Attributes
    ----------
    model, version, dataset_version, split : str
    overall : dict
        ``n, accuracy, macro_f1, n_failed, n_no_truth``.
    per_class : polars.DataFrame
        ``class, precision, recall, f1, support``.
    confusion : numpy.ndarray
        Rows: true class, columns: predicted class, in ``classes`` order.
    slices : polars.DataFrame
        ``slice, value, n, accuracy, macro_f1``.
    predictions : polars.DataFrame
        ``image_id, truth, predicted, score, agreement, source, week``.
    check_id : str or None
        The stored check (None on a read-only workspace).

    Examples
    --------
    >>> rep = ws.evaluate("defect-clf@production", "baseline", split="test")   # doctest: +SKIP
    >>> rep.overall["accuracy"], rep.per_class                                  # doctest: +SKIP
    """

    model: str
    version: str
    dataset_version: str
    split: str | None
    classes: list[str]
    overall: dict[str, Any]
    per_class: pl.DataFrame
    confusion: np.ndarray
    slices: pl.DataFrame
    predictions: pl.DataFrame
    check_id: str | None = None
    failures: list[tuple[str, str]] = field(default_factory=list)

    def summary(self) -> str:
        """One sentence."""
        o = self.overall
        where = f"{self.dataset_version[:12]}" + (f" ({self.split})" if self.split else "")
        return (f"{self.model}:{self.version[:12]} on {where}: accuracy {o['accuracy']:.3f}, macro-F1 "
                f"{o['macro_f1']:.3f} on {o['n']} images ({o['n_failed']} unreadable, {o['n_no_truth']} without "
                "a majority label)")

    def to_dict(self) -> dict[str, Any]:
        """What the check stores."""
        return {"overall": self.overall, "classes": self.classes,
                "per_class": self.per_class.to_dicts(), "confusion": self.confusion.tolist(),
                "slices": self.slices.to_dicts()}

    def __repr__(self) -> str:
        return f"<EvaluationReport {self.summary()}>"

    def _repr_html_(self) -> str:
        head = "".join(f"<th>{escape(c)}</th>" for c in self.per_class.columns)
        body = "".join("<tr>" + "".join(f"<td>{escape(_fmt(v))}</td>" for v in r) + "</tr>"
                       for r in self.per_class.iter_rows())
        return f"<div><b>Evaluation</b> &mdash; {escape(self.summary())}</div><table><tr>{head}</tr>{body}</table>"


def _fmt(v: Any) -> str:
    return f"{v:.3f}" if isinstance(v, float) else str(v)


def ground_truth(labels: pl.DataFrame) -> pl.DataFrame:
    """One class per image: the reviewed label, else the annotators' strict majority (pure).

    ``labels``: ``image_id, annotator, origin, status, class_name, kind`` (image-level labels
    with status ok are used). Returns ``image_id, truth, agreement`` (``unanimous``,
    ``majority``, ``reviewed`` or ``tie``; ``truth`` is null for ties).

    Examples
    --------
    >>> df = pl.DataFrame({"image_id": ["a", "a", "b", "b", "c"], "annotator": ["x", "y", "x", "y", "x"],
    ...                    "origin": ["annotator"] * 5, "status": ["ok"] * 5, "kind": ["image"] * 5,
    ...                    "class_name": ["dent", "dent", "dent", "ok", "ok"]})
    >>> ground_truth(df).sort("image_id").rows()
    [('a', 'dent', 'unanimous'), ('b', None, 'tie'), ('c', 'ok', 'unanimous')]
    """
    usable = labels.filter((pl.col("kind") == "image") & (pl.col("status") == "ok") & pl.col("class_name").is_not_null())
    rows = []
    for (iid,), group in usable.group_by("image_id", maintain_order=True):
        reviewed = group.filter(pl.col("origin") == "review")
        if reviewed.height:
            rows.append((iid, reviewed["class_name"][-1], "reviewed"))
            continue
        counts = Counter(group["class_name"].to_list()).most_common()
        if len(counts) == 1:
            rows.append((iid, counts[0][0], "unanimous"))
        elif counts[0][1] > counts[1][1]:
            rows.append((iid, counts[0][0], "majority"))
        else:
            rows.append((iid, None, "tie"))
    return pl.DataFrame(rows, schema={"image_id": pl.String, "truth": pl.String, "agreement": pl.String},
                        orient="row")


def slice_metrics(frame: pl.DataFrame, classes: list[str], by: tuple[str, ...] = SLICES) -> pl.DataFrame:
    """Accuracy and macro-F1 per value of each slicing column of ``frame`` (``truth``, ``predicted``, ...).

    Examples
    --------
    >>> f = pl.DataFrame({"truth": ["a", "a", "b"], "predicted": ["a", "b", "b"], "source": ["x", "y", "y"]})
    >>> slice_metrics(f, ["a", "b"], ("source",)).select("value", "n", "accuracy").rows()
    [('x', 1, 1.0), ('y', 2, 0.5)]
    """
    out = []
    for col in by:
        if col not in frame.columns:
            continue
        for (value,), group in frame.group_by(col, maintain_order=True):
            m = _metrics.confusion(group["truth"].to_list(), group["predicted"].to_list(), classes)
            s = _metrics.summary(m)
            out.append({"slice": col, "value": None if value is None else str(value), "n": s["n"],
                        "accuracy": s["accuracy"], "macro_f1": s["macro_f1"]})
    schema = {"slice": pl.String, "value": pl.String, "n": pl.Int64, "accuracy": pl.Float64, "macro_f1": pl.Float64}
    return pl.DataFrame(out, schema=schema).sort("slice", "value", nulls_last=True)


def evaluate(ws: Workspace, model: str | ModelVersion, data: str | DatasetVersion, *, split: str | None = None,
             version: str | None = None, batch_size: int = 32, device: str | None = None,
             by: tuple[str, ...] = SLICES, progress: bool = True) -> EvaluationReport:
    """Evaluate a model version on a dataset version (``ws.evaluate``); see :class:`EvaluationReport`.

    Examples
    --------
    >>> ws.evaluate("defect-clf@production", "baseline", split="test").summary()   # doctest: +SKIP
    """
    from tqdm.auto import tqdm

    from ..checks.results import record_check
    from ..datasets.versions import DatasetVersion
    from .version import ModelVersion as _MV

    mv = model if isinstance(model, _MV) else ws.model(model, version=version)
    dv = data if isinstance(data, DatasetVersion) else ws.version(data)
    if mv.task != "classification":
        raise ValueError(f"ws.evaluate handles classification models; {mv.ref} is a {mv.task} model")
    items = dv.items()
    if split is not None:
        splits = sorted(s for s in items["split"].unique().to_list() if s)
        if split not in splits:
            raise ValueError(f"dataset version {dv.id[:12]} has no split {split!r}; splits: {', '.join(splits)}")
        items = items.filter(pl.col("split") == split)
    truth = ground_truth(dv.labels())
    classes = list(mv.classes)
    unknown = sorted(set(truth["truth"].drop_nulls().to_list()) - set(classes))
    notes = [f"labels of classes the model does not predict are left out: {', '.join(unknown)}"] if unknown else []
    truth = truth.filter(pl.col("truth").is_null() | pl.col("truth").is_in(classes))
    images = ws.images().select("image_id", "source", "captured_at")
    frame = (items.select("image_id", "path").join(truth, on="image_id", how="inner")
             .join(images, on="image_id", how="left")
             .with_columns(pl.col("captured_at").dt.truncate("1w").dt.date().cast(pl.String).alias("week")))
    n_no_truth = frame.filter(pl.col("truth").is_null()).height
    frame = frame.filter(pl.col("truth").is_not_null())
    if frame.height == 0:
        raise ValueError(f"no image of dataset version {dv.id[:12]}{f' ({split})' if split else ''} has a "
                         f"usable label of the model's classes ({', '.join(classes)})")
    net = mv.load()
    if device is not None and hasattr(net, "to"):  # the inputs go to the device: the model with them
        net = net.to(device)
    pre = mv.preprocess
    paths = frame["path"].to_list()
    predicted: list[str | None] = [None] * len(paths)
    score: list[float | None] = [None] * len(paths)
    failures: list[tuple[str, str]] = []
    bar = tqdm(total=len(paths), desc=f"evaluating {mv.ref}", unit="image", disable=not progress or len(paths) < 64)
    for res in run_batches(net, pre, paths, batch_size=batch_size, device=device):
        for k, row in zip(res.rows, res.scores):
            j = int(np.argmax(row))
            predicted[k], score[k] = classes[j], float(row[j])
        failures += [(frame["image_id"][k], why) for k, why in res.failed]
        bar.update(len(res.rows) + len(res.failed))
    bar.close()
    frame = frame.with_columns(pl.Series("predicted", predicted, dtype=pl.String),
                               pl.Series("score", score, dtype=pl.Float64))
    done = frame.filter(pl.col("predicted").is_not_null())
    matrix = _metrics.confusion(done["truth"].to_list(), done["predicted"].to_list(), classes)
    overall = _metrics.summary(matrix) | {"n_failed": len(failures), "n_no_truth": n_no_truth}
    report = EvaluationReport(
        model=mv.name, version=mv.version, dataset_version=dv.id, split=split, classes=classes, overall=overall,
        per_class=_metrics.per_class(matrix, classes), confusion=matrix,
        slices=slice_metrics(done, classes, by),
        predictions=frame.select("image_id", "truth", "predicted", "score", "agreement", "source", "week"),
        failures=failures)
    if not ws.store.readonly:
        report.check_id = record_check(
            ws.store, "evaluation", f"{mv.name}:{mv.version}",
            parameters={"dataset_version": dv.id, "split": split, "slices": list(by)},
            result=report.to_dict() | {"notes": notes}, alert=False, summary=report.summary())
    return report
