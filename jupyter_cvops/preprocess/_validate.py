"""Checking and canonicalising the values given to ``Preprocess`` (aliases, choices, per-channel numbers)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from ._errors import PreprocessError

INTERP_ALIASES = {"linear": "bilinear", "cubic": "bicubic", "box": "area", "lanczos4": "lanczos",
                  "inter_linear": "bilinear", "inter_cubic": "bicubic", "inter_area": "area",
                  "inter_nearest": "nearest", "inter_lanczos4": "lanczos"}
LIBRARY_ALIASES = {"cv2": "opencv", "pillow": "pil", "torchvision": "torch"}
MODE_ALIASES = {"shorter-side": "shorter", "short": "shorter", "longer": "longer-pad", "letterbox": "longer-pad",
                "longer-side+pad": "longer-pad"}


def choice(value: Any, allowed: Sequence[str], what: str, aliases: Mapping[str, str] | None = None,
            upper: bool = False) -> str:
    text = str(value).upper() if upper else str(value).lower()
    text = (aliases or {}).get(text, text)
    if text not in allowed:
        raise PreprocessError(f"{what} must be one of {', '.join(map(repr, allowed))}, not {value!r}")
    return text


def floats(value: Any, what: str, channels: int) -> tuple[float, ...] | None:
    if value is None:
        return None
    try:
        vals = tuple(float(v) for v in (value if isinstance(value, (list, tuple, np.ndarray)) else [value]))
    except (TypeError, ValueError):
        raise PreprocessError(f"{what} must be a number or a sequence of numbers, not {value!r}") from None
    if len(vals) == 1:
        vals = vals * channels
    if len(vals) != channels:
        raise PreprocessError(f"{what} has {len(vals)} values; the output has {channels} channel(s)")
    return vals
