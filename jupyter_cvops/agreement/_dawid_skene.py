"""Consensus labels from several annotators: majority vote and Dawid-Skene EM.

Both work on long integer arrays (one entry per label: item index, annotator
index, class index), so they scale with the number of labels, not with
items x annotators. :mod:`jupyter_cvops.agreement` wraps them for frames.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["ConsensusFit", "dawid_skene", "majority_vote"]

#: Floor for probabilities before taking logs (the value crowd-kit uses).
EPS = 1e-10


@dataclass(frozen=True)
class ConsensusFit:
    """A consensus over items.

    Attributes
    ----------
    method
        ``"majority"`` or ``"dawid-skene"``.
    labels
        ``(n_items,)`` consensus class index per item.
    probabilities
        ``(n_items, n_classes)``: vote shares (majority) or posterior class
        probabilities (Dawid-Skene).
    confusion
        ``(n_annotators, n_classes, n_classes)``; ``confusion[a, k, l]`` is the
        probability that annotator ``a`` says ``l`` when the consensus class is
        ``k`` (Dawid-Skene: the fitted error matrices; majority: the empirical
        rates against the vote shares).
    priors
        ``(n_classes,)`` class prevalence under the consensus.
    tied
        ``(n_items,)`` whether the top score was shared by several classes (the
        tie-break then decided).
    n_iter, converged
        EM iterations run, and whether the tolerance was reached (majority: 0, True).
    """

    method: str
    labels: np.ndarray
    probabilities: np.ndarray
    confusion: np.ndarray
    priors: np.ndarray
    tied: np.ndarray
    n_iter: int
    converged: bool


def _check(item: np.ndarray, annotator: np.ndarray, label: np.ndarray, n_items: int,
           n_annotators: int, n_classes: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    item, annotator, label = (np.asarray(v, dtype=np.int64) for v in (item, annotator, label))
    if not item.shape == annotator.shape == label.shape or item.ndim != 1:
        raise ValueError("item, annotator and label must be 1-d arrays of the same length")
    if item.size == 0:
        raise ValueError("no labels: a consensus needs at least one label")
    for name, v, n in (("item", item, n_items), ("annotator", annotator, n_annotators),
                       ("label", label, n_classes)):
        if v.min() < 0 or v.max() >= n:
            raise ValueError(f"{name} indices must lie in 0..{n - 1}")
    seen = np.bincount(item, minlength=n_items)
    if (seen == 0).any():
        raise ValueError(f"{int((seen == 0).sum())} item(s) have no label")
    return item, annotator, label


def _vote_counts(item: np.ndarray, label: np.ndarray, n_items: int, n_classes: int) -> np.ndarray:
    return np.bincount(item * n_classes + label, minlength=n_items * n_classes).reshape(
        n_items, n_classes).astype(np.float64)


def _confusion(item: np.ndarray, annotator: np.ndarray, label: np.ndarray, probs: np.ndarray,
               n_annotators: int) -> np.ndarray:
    """Expected counts ``[a, k, l]``: sum over a's labels ``l`` of P(item class is k)."""
    k = probs.shape[1]
    cell = annotator * k + label
    out = np.stack([np.bincount(cell, weights=probs[item, j], minlength=n_annotators * k)
                    for j in range(k)], axis=1)
    return out.reshape(n_annotators, k, k).transpose(0, 2, 1)


def majority_vote(item: np.ndarray, annotator: np.ndarray, label: np.ndarray, *, n_items: int,
                  n_annotators: int, n_classes: int) -> ConsensusFit:
    """Majority vote with a deterministic tie-break.

    A tie goes to the tied class chosen most often over the whole data set; if
    that ties too, to the lowest class index (the first in sorted class order).

    Parameters
    ----------
    item, annotator, label
        One entry per label: item index, annotator index, class index.
    n_items, n_annotators, n_classes
        Sizes of the three index spaces.

    Returns
    -------
    ConsensusFit

    Examples
    --------
    >>> fit = majority_vote([0, 0, 0, 1, 1], [0, 1, 2, 0, 1], [1, 1, 0, 0, 1],
    ...                     n_items=2, n_annotators=3, n_classes=2)
    >>> fit.labels.tolist(), fit.tied.tolist()   # item 1 ties; class 1 is used more overall
    ([1, 1], [False, True])
    """
    item, annotator, label = _check(item, annotator, label, n_items, n_annotators, n_classes)
    counts = _vote_counts(item, label, n_items, n_classes)
    total = counts.sum(0)
    # priority: more frequent overall first, then lower index; strictly below n_classes
    priority = np.empty(n_classes, dtype=np.int64)
    priority[np.lexsort((np.arange(n_classes), -total))] = np.arange(n_classes)[::-1]
    top = counts.max(1, keepdims=True)
    tied = (counts == top).sum(1) > 1
    labels = np.argmax(counts * n_classes + priority, axis=1)
    probs = counts / counts.sum(1, keepdims=True)
    conf = _confusion(item, annotator, label, probs, n_annotators)
    return ConsensusFit("majority", labels, probs, _normalize(conf), probs.mean(0), tied, 0, True)


def _normalize(conf: np.ndarray) -> np.ndarray:
    s = conf.sum(2, keepdims=True)
    out: np.ndarray = np.divide(conf, s, out=np.full_like(conf, np.nan), where=s > 0)
    return out


def dawid_skene(item: np.ndarray, annotator: np.ndarray, label: np.ndarray, *, n_items: int,
                n_annotators: int, n_classes: int, max_iter: int = 100, tol: float = 1e-5) -> ConsensusFit:
    """Dawid-Skene EM: per-annotator confusion matrices and posterior item classes.

    Initialised from the vote shares (the soft majority vote, so no random
    start and no seed is needed); each iteration runs the M-step (class priors
    and per-annotator confusion matrices from the current posteriors, floored at
    1e-10 before normalising) and the E-step (posteriors from them). It stops
    when the evidence lower bound per label improves by less than ``tol`` or
    after ``max_iter`` iterations. The updates and the stopping rule are those
    of crowd-kit's ``DawidSkene`` (which it matches to about 1e-9), computed
    with sorted segment sums instead of pandas joins.

    Parameters
    ----------
    item, annotator, label
        One entry per label: item index, annotator index, class index.
    n_items, n_annotators, n_classes
        Sizes of the three index spaces.
    max_iter
        Most EM iterations.
    tol
        Convergence tolerance on the per-label evidence lower bound.

    Returns
    -------
    ConsensusFit
        Argmax of the posteriors (ties: lowest class index).

    Examples
    --------
    >>> fit = dawid_skene([0, 0, 0, 1, 1, 1], [0, 1, 2, 0, 1, 2], [1, 1, 0, 0, 0, 0],
    ...                   n_items=2, n_annotators=3, n_classes=2)
    >>> fit.labels.tolist(), fit.method
    ([1, 0], 'dawid-skene')
    """
    item, annotator, label = _check(item, annotator, label, n_items, n_annotators, n_classes)
    if max_iter < 1 or not tol >= 0:
        raise ValueError("max_iter must be >= 1 and tol >= 0")
    k = n_classes
    n_labels = item.size
    cell = annotator * k + label                       # (annotator, observed class)
    by_item = np.argsort(item, kind="stable")
    item_starts = np.flatnonzero(np.r_[True, np.diff(item[by_item]) != 0])
    by_cell = np.argsort(cell, kind="stable")
    cells_sorted = cell[by_cell]
    cell_starts = np.flatnonzero(np.r_[True, np.diff(cells_sorted) != 0])
    used_cells = cells_sorted[cell_starts]
    item_sorted, cell_by_item = item[by_cell], cell[by_item]
    ann_of_used = used_cells // k

    def m_step(probs: np.ndarray) -> np.ndarray:
        """log P(observed l | true k) as a (n_annotators * k, k) table (rows of used cells)."""
        counts = np.add.reduceat(probs[item_sorted], cell_starts, axis=0)
        np.maximum(counts, EPS, out=counts)
        per_ann = np.zeros((n_annotators, k))
        np.add.at(per_ann, ann_of_used, counts)
        log_err = np.zeros((n_annotators * k, k))
        log_err[used_cells] = np.log(counts / per_ann[ann_of_used])
        return log_err

    def e_step(log_prior: np.ndarray, log_err: np.ndarray) -> np.ndarray:
        ll = np.add.reduceat(log_err[cell_by_item], item_starts, axis=0) + log_prior
        ll -= ll.max(1, keepdims=True)
        p: np.ndarray = np.exp(ll)
        p /= p.sum(1, keepdims=True)
        return p

    probs = _vote_counts(item, label, n_items, k)
    probs /= probs.sum(1, keepdims=True)
    log_err = m_step(probs)
    priors = probs.mean(0)
    loss, n_iter, converged = -np.inf, 0, False
    for n_iter in range(1, max_iter + 1):
        probs = e_step(np.log(np.maximum(priors, EPS)), log_err)
        priors = probs.mean(0)
        log_err = m_step(probs)
        # crowd-kit's bound: the prior enters once per label, entropy once per item
        joint = float((probs[item] * (log_err[cell] + np.log(np.maximum(priors, EPS)))).sum())
        clipped = np.maximum(probs, EPS)
        new_loss = (joint - float((clipped * np.log(clipped)).sum())) / n_labels
        if new_loss - loss < tol:
            converged = True
            break
        loss = new_loss
    probs = np.maximum(probs, EPS)
    top = probs.max(1, keepdims=True)
    tied = (probs == top).sum(1) > 1
    conf = np.exp(log_err).reshape(n_annotators, k, k).transpose(0, 2, 1)
    seen = np.zeros(n_annotators * k, dtype=bool)
    seen[used_cells] = True
    conf = np.where(seen.reshape(n_annotators, 1, k), conf, 0.0)
    has = np.bincount(annotator, minlength=n_annotators) > 0
    conf[~has] = np.nan
    return ConsensusFit("dawid-skene", np.argmax(probs, axis=1), probs, conf, priors, tied, n_iter,
                        converged)
