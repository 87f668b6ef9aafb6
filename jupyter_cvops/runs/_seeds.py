"""Seeding Python, numpy and torch for a run, and reading the seeds torch is using."""

from __future__ import annotations

import os
import random
import sys
from importlib import util
from typing import Any

LIBRARIES = ("python", "numpy", "torch")


def check_seed(seed: Any) -> int:
    """``seed`` as an int numpy and torch both accept (0 <= seed < 2**32), or a clear error.

    Examples
    --------
    >>> check_seed(7)
    7
    >>> check_seed(-1)
    Traceback (most recent call last):
    ...
    ValueError: a seed must be an integer in [0, 2**32); got -1
    """
    if isinstance(seed, bool) or not isinstance(seed, int) and not hasattr(seed, "__index__"):
        raise TypeError(f"a seed must be an integer; got {type(seed).__name__} {seed!r}")
    value = int(seed)
    if not 0 <= value < 2**32:
        raise ValueError(f"a seed must be an integer in [0, 2**32); got {value}")
    return value


def seed_everything(seed: int, libraries: tuple[str, ...] = LIBRARIES) -> dict[str, int]:
    """Seed Python's ``random``, numpy's global generator and torch (every device) with ``seed``.

    A library that is not installed is left out of the result; torch is imported when it is
    installed (seeding it later, at its import, would be too late for code already run).

    Parameters
    ----------
    seed
        0 <= seed < 2**32.
    libraries
        Which of ``"python"``, ``"numpy"``, ``"torch"`` to seed.

    Returns
    -------
    dict
        ``{library: seed}`` for each library seeded.

    Examples
    --------
    >>> seeded = seed_everything(3, ("python", "numpy"))
    >>> seeded
    {'python': 3, 'numpy': 3}
    >>> import numpy as np; round(float(np.random.rand()), 6)
    0.550798
    """
    value = check_seed(seed)
    unknown = set(libraries) - set(LIBRARIES)
    if unknown:
        raise ValueError(f"unknown libraries {sorted(unknown)}; choose among {list(LIBRARIES)}")
    out: dict[str, int] = {}
    if "python" in libraries:
        random.seed(value)
        out["python"] = value
    if "numpy" in libraries and ("numpy" in sys.modules or util.find_spec("numpy") is not None):
        import numpy as np

        np.random.seed(value)
        out["numpy"] = value
    if "torch" in libraries and ("torch" in sys.modules or util.find_spec("torch") is not None):
        import torch

        torch.manual_seed(value)  # every device; CUDA's generators are seeded lazily, without initialising it
        out["torch"] = value
    return out


def current_seeds() -> dict[str, Any]:
    """Seeds in force that can be read back: torch's initial seed (when torch is imported) and
    ``$PYTHONHASHSEED``. numpy's global generator keeps no seed to read back.

    Examples
    --------
    >>> sorted(current_seeds()) in (["PYTHONHASHSEED"], ["PYTHONHASHSEED", "torch_initial_seed"])
    True
    """
    out: dict[str, Any] = {"PYTHONHASHSEED": os.environ.get("PYTHONHASHSEED")}
    torch = sys.modules.get("torch")
    if torch is not None and hasattr(torch, "initial_seed"):
        try:
            out["torch_initial_seed"] = int(torch.initial_seed())
        except Exception:  # a half-imported torch
            pass
    return out
