"""Batched inference of a registered model on images through its own stored preprocessing.

One path for every caller that runs a model on images (``ws.evaluate``, ``cv.Predictor``): each
image goes through the model version's ``Preprocess`` (literally the training code), images that
cannot be read get a reason and the batch continues, the rest run as one tensor batch.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from ..preprocess import Preprocess, PreprocessError


@dataclass
class BatchResult:
    """Scores of one batch: ``rows`` (positions in the input) with ``scores[k]`` (class probabilities),
    ``failed`` (position, reason), and the time the model call took (ms, whole batch)."""

    rows: list[int]
    scores: np.ndarray
    failed: list[tuple[int, str]]
    model_ms: float
    inputs: np.ndarray | None = None


def softmax(logits: np.ndarray) -> np.ndarray:
    """Row-wise softmax, numerically stable.

    Examples
    --------
    >>> softmax(np.array([[0.0, 0.0], [1000.0, 0.0]])).round(3).tolist()
    [[0.5, 0.5], [1.0, 0.0]]
    """
    z = logits - logits.max(axis=1, keepdims=True)
    e = np.exp(z)
    return np.asarray(e / e.sum(axis=1, keepdims=True))


def run_batches(model: Callable[..., Any], preprocess: Preprocess | None, items: Sequence[Any], *,
                batch_size: int = 32, device: str | None = None, color: Literal["RGB", "BGR"] = "RGB",
                keep_inputs: bool = False) -> Iterator[BatchResult]:
    """Yield :class:`BatchResult` per batch of ``items`` (paths, bytes, PIL images or arrays).

    Outputs of a classifier are turned into probabilities (softmax) unless they already sum to 1.

    Examples
    --------
    >>> import torch
    >>> pre = Preprocess(8, crop=8)
    >>> net = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(3 * 8 * 8, 2))
    >>> arr = np.zeros((8, 8, 3), np.uint8)
    >>> [r.scores.shape for r in run_batches(net, pre, [arr, b"junk", arr], batch_size=2)]
    [(1, 2), (1, 2)]
    """
    import torch

    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    if preprocess is not None and not preprocess.runnable:
        raise PreprocessError(
            "this model's preprocessing is a wrapped transform that cannot be rebuilt from its record: "
            "pass the transform again (Preprocess.from_record(record, transform=...))")
    dev = torch.device(device) if device else None
    for start in range(0, len(items), batch_size):
        rows: list[int] = []
        arrays: list[np.ndarray] = []
        failed: list[tuple[int, str]] = []
        for k in range(start, min(start + batch_size, len(items))):
            try:
                x = preprocess(items[k], color=color) if preprocess is not None else np.asarray(items[k])
            except (PreprocessError, OSError, ValueError) as error:
                failed.append((k, str(error) or type(error).__name__))
                continue
            rows.append(k)
            arrays.append(np.asarray(x, dtype=np.float32))
        if not rows:
            yield BatchResult([], np.zeros((0, 0), np.float32), failed, 0.0)
            continue
        batch = torch.from_numpy(np.stack(arrays))
        if dev is not None:
            batch = batch.to(dev)
        t0 = time.perf_counter()
        with torch.inference_mode():
            out = model(batch)
        out_np = np.asarray(out.detach().float().cpu().numpy(), dtype=np.float64)
        model_ms = (time.perf_counter() - t0) * 1000
        sums = out_np.sum(axis=1)
        probs = out_np if (out_np.min() >= 0 and np.allclose(sums, 1.0, atol=1e-4)) else softmax(out_np)
        yield BatchResult(rows, probs.astype(np.float32), failed, model_ms,
                          np.stack(arrays) if keep_inputs else None)
