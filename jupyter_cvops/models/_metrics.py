"""Classification metrics on label arrays (pure): confusion matrix, per-class precision / recall /
F1, accuracy, macro-F1. Tested against scikit-learn."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import polars as pl


def confusion(y_true: Sequence[str], y_pred: Sequence[str], classes: Sequence[str]) -> np.ndarray:
    """``m[i, j]``: images of class ``classes[i]`` predicted as ``classes[j]`` (labels outside ``classes`` skipped).

    Examples
    --------
    >>> confusion(["a", "a", "b"], ["a", "b", "b"], ["a", "b"]).tolist()
    [[1, 1], [0, 1]]
    """
    index = {c: i for i, c in enumerate(classes)}
    m = np.zeros((len(classes), len(classes)), dtype=np.int64)
    for t, p in zip(y_true, y_pred):
        if t in index and p in index:
            m[index[t], index[p]] += 1
    return m


def per_class(matrix: np.ndarray, classes: Sequence[str]) -> pl.DataFrame:
    """Precision, recall, F1 and support per class from a confusion matrix (0 where undefined, as sklearn's
    ``zero_division=0``).

    Examples
    --------
    >>> per_class(np.array([[1, 1], [0, 1]]), ["a", "b"])["f1"].round(3).to_list()
    [0.667, 0.667]
    """
    tp = np.diag(matrix).astype(float)
    predicted = matrix.sum(axis=0).astype(float)
    support = matrix.sum(axis=1).astype(float)
    with np.errstate(divide="ignore", invalid="ignore"):
        precision = np.where(predicted > 0, tp / predicted, 0.0)
        recall = np.where(support > 0, tp / support, 0.0)
        f1 = np.where(precision + recall > 0, 2 * precision * recall / (precision + recall), 0.0)
    return pl.DataFrame({"class": list(classes), "precision": precision, "recall": recall, "f1": f1,
                         "support": support.astype(np.int64)})


def summary(matrix: np.ndarray) -> dict[str, Any]:
    """Accuracy, macro-F1 (over classes with support) and the number of images.

    Examples
    --------
    >>> summary(np.array([[1, 1], [0, 1]]))
    {'n': 3, 'accuracy': 0.6666666666666666, 'macro_f1': 0.6666666666666666}
    """
    n = int(matrix.sum())
    table = per_class(matrix, [str(i) for i in range(len(matrix))])
    present = table.filter(pl.col("support") > 0)
    return {"n": n, "accuracy": float(np.trace(matrix) / n) if n else float("nan"),
            "macro_f1": float(present["f1"].mean()) if present.height else float("nan")}  # type: ignore[arg-type]
