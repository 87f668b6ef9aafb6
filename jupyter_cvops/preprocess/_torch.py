"""The torch side of a ``Preprocess``: a picklable transform and a map-style ``Dataset`` (imported lazily,
only when ``pre.torch_transform()`` or ``pre.dataset()`` is called)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import torch
from torch.utils.data import Dataset

if TYPE_CHECKING:
    from .spec import Preprocess


class TorchTransform:
    """``pre`` as a torchvision-style transform: image in, ``torch.Tensor`` out (picklable for workers).

    Examples
    --------
    >>> import numpy as np
    >>> from jupyter_cvops.preprocess import Preprocess
    >>> TorchTransform(Preprocess(4, crop=4))(np.zeros((6, 6, 3), np.uint8)).dtype
    torch.float32
    """

    def __init__(self, preprocess: Preprocess) -> None:
        self.preprocess = preprocess

    def __call__(self, x: Any) -> torch.Tensor:
        return torch.from_numpy(self.preprocess(x))

    def __repr__(self) -> str:
        return f"TorchTransform({self.preprocess!r})"


class PreprocessDataset(Dataset[Any]):
    """Items (paths, bytes, PIL images, arrays) preprocessed on access: ``ds[i]`` is a tensor, or
    ``(tensor, label)`` when labels are given.

    Examples
    --------
    >>> import numpy as np
    >>> from jupyter_cvops.preprocess import Preprocess
    >>> ds = PreprocessDataset(Preprocess(4, crop=4), [np.zeros((6, 6, 3), np.uint8)] * 3)
    >>> len(ds), next(iter(torch.utils.data.DataLoader(ds, batch_size=3))).shape
    (3, torch.Size([3, 3, 4, 4]))
    """

    def __init__(self, preprocess: Preprocess, items: Sequence[Any], labels: Sequence[Any] | None = None, *,
                 color: str = "RGB") -> None:
        if labels is not None and len(labels) != len(items):
            from ._errors import PreprocessError

            raise PreprocessError(f"{len(items)} items but {len(labels)} labels")
        self.preprocess, self.items, self.labels, self.color = preprocess, items, labels, color

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, index: int) -> Any:
        x = torch.from_numpy(self.preprocess(self.items[index], color=self.color))  # type: ignore[arg-type]
        return x if self.labels is None else (x, self.labels[index])
