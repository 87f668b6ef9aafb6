"""Wrapped transforms (torchvision v1/v2, open_clip's preprocess, albumentations, any callable): a canonical,
JSON-able description for the fingerprint, the libraries it uses, and running it on decoded pixels.

The description walks the transform: its type (module + qualified name) and public attributes, recursing into
``Compose.transforms`` and module children; enums become their values, tensors and arrays their values,
functions their qualified name (plus their source when they are lambdas or local functions). Memory addresses
are never part of it, so the same pipeline describes the same in every process.
"""

from __future__ import annotations

import enum
import functools
import inspect
import re
import textwrap
from typing import Any, Literal

import numpy as np

from ._errors import PreprocessError

WrapInput = Literal["pil", "numpy", "tensor"]
_ADDRESS = re.compile(r" at 0x[0-9a-fA-F]+")
_SKIP_ATTRS = {"training"}
_PACKAGE_NAMES = {"PIL": "pillow", "cv2": "opencv", "sklearn": "scikit-learn"}
_MAX_DEPTH = 32


def _qualname(obj: Any) -> str:
    return f"{getattr(obj, '__module__', None) or '?'}.{getattr(obj, '__qualname__', type(obj).__qualname__)}"


def _function(fn: Any, seen: set[int], depth: int) -> dict[str, Any]:
    if isinstance(fn, functools.partial):
        return {"partial": _canon(fn.func, seen, depth + 1), "args": _canon(list(fn.args), seen, depth + 1),
                "keywords": _canon(dict(fn.keywords), seen, depth + 1)}
    if inspect.ismethod(fn):
        return {"method": getattr(fn, "__qualname__", "?"), "of": _canon(fn.__self__, seen, depth + 1)}
    out: dict[str, Any] = {"function": _qualname(fn)}
    name = getattr(fn, "__qualname__", "")
    if "<lambda>" in name or "<locals>" in name:
        try:
            out["source"] = textwrap.dedent(inspect.getsource(fn)).strip()
        except (OSError, TypeError):
            code = getattr(fn, "__code__", None)
            out["code"] = code.co_code.hex() if code is not None else repr(fn)
    return out


def _canon(v: Any, seen: set[int], depth: int) -> Any:
    if depth > _MAX_DEPTH:
        raise PreprocessError("transform is nested too deeply to describe (a cycle?)")
    if v is None or isinstance(v, (bool, int, str)):
        return v
    if isinstance(v, float):
        return v if np.isfinite(v) else repr(v)
    if isinstance(v, enum.Enum):
        return _canon(v.value, seen, depth + 1) if isinstance(v.value, (str, int, float)) else v.name
    if isinstance(v, (np.integer, np.floating, np.bool_)):
        return _canon(v.item(), seen, depth + 1)
    if isinstance(v, (list, tuple)):
        return [_canon(x, seen, depth + 1) for x in v]
    if isinstance(v, (set, frozenset)):
        return sorted((_canon(x, seen, depth + 1) for x in v), key=repr)
    if isinstance(v, dict):
        return {str(k): _canon(x, seen, depth + 1) for k, x in sorted(v.items(), key=lambda kv: str(kv[0]))}
    if isinstance(v, np.ndarray):
        return {"array": v.tolist(), "dtype": str(v.dtype)}
    if isinstance(v, np.dtype):
        return str(v)
    if isinstance(v, type):
        return {"class": _qualname(v)}
    module = type(v).__module__ or ""
    if module.startswith("torch"):
        import torch

        if isinstance(v, torch.Tensor):
            return {"tensor": v.detach().cpu().tolist(), "dtype": str(v.dtype)}
        if isinstance(v, (torch.dtype, torch.device)):
            return str(v)
    if callable(v) and (inspect.isroutine(v) or isinstance(v, functools.partial)):
        return _function(v, seen, depth)
    if id(v) in seen:
        raise PreprocessError(f"transform refers to itself ({type(v).__qualname__}): cannot describe it")
    if module.startswith("albumentations"):
        import albumentations

        d = dict(albumentations.to_dict(v))
        d.pop("__version__", None)
        return {"albumentations": _canon(d, seen, depth + 1)}
    attrs = getattr(v, "__dict__", None)
    if attrs is None:
        return {"type": _qualname(type(v)), "repr": _ADDRESS.sub("", repr(v))}
    seen = seen | {id(v)}
    params = {k: _canon(x, seen, depth + 1) for k, x in sorted(attrs.items())
              if not k.startswith("_") and k not in _SKIP_ATTRS}
    children = attrs.get("_modules")
    if isinstance(children, dict) and children:
        params["children"] = {str(k): _canon(x, seen, depth + 1) for k, x in children.items()}
    return {"type": _qualname(type(v)), "params": params}


def describe_transform(transform: Any) -> Any:
    """A canonical, JSON-able description of a transform (the same in every process).

    Examples
    --------
    >>> from torchvision.transforms import v2
    >>> describe_transform(v2.CenterCrop(8))
    {'type': 'torchvision.transforms.v2._geometry.CenterCrop', 'params': {'size': [8, 8]}}
    >>> describe_transform(lambda im: im)["source"]
    'describe_transform(lambda im: im)["source"]'
    """
    return _canon(transform, set(), 0)


def _modules_in(d: Any, out: set[str]) -> None:
    if isinstance(d, dict):
        for key in ("type", "function", "class"):
            if isinstance(d.get(key), str):
                out.add(d[key].split(".")[0])
        if "albumentations" in d:
            out.add("albumentations")
        for x in d.values():
            _modules_in(x, out)
    elif isinstance(d, list):
        for x in d:
            _modules_in(x, out)


def libraries_of(description: Any) -> set[str]:
    """Libraries whose code a described transform runs (torchvision brings torch).

    Examples
    --------
    >>> sorted(libraries_of({"type": "torchvision.transforms.Resize", "params": {}}))
    ['torch', 'torchvision']
    """
    found: set[str] = set()
    _modules_in(description, found)
    libs = {_PACKAGE_NAMES.get(m, m) for m in found if m not in {"builtins", "__main__", "?", "functools"}}
    if libs & {"torchvision", "open_clip", "timm"}:
        libs.add("torch")
    return libs


def transform_kind(transform: Any) -> str:
    """``"torchvision"``, ``"open_clip"``, ``"albumentations"`` or ``"callable"``, by the transform's module.

    Examples
    --------
    >>> from torchvision.transforms import v2
    >>> transform_kind(v2.Compose([v2.CenterCrop(4)])), transform_kind(abs)
    ('torchvision', 'callable')
    """
    module = (type(transform).__module__ or "").split(".")[0]
    if module in ("torchvision", "open_clip", "albumentations"):
        if module == "torchvision":
            steps = getattr(transform, "transforms", [])
            if any((type(s).__module__ or "").startswith("open_clip") for s in steps):
                return "open_clip"
        return module
    return "callable"


def _to_numpy(out: Any) -> np.ndarray:
    if isinstance(out, dict) and "image" in out:
        out = out["image"]
    if isinstance(out, np.ndarray):
        return out
    if (type(out).__module__ or "").startswith("torch"):
        import torch

        if isinstance(out, torch.Tensor):
            return np.asarray(out.detach().cpu().numpy())
    from PIL import Image

    if isinstance(out, Image.Image):
        return np.asarray(out).copy()
    raise PreprocessError(f"the wrapped transform returned a {type(out).__qualname__}: expected an array, "
                          "a tensor or a PIL image")


def apply_transform(transform: Any, pixels: np.ndarray, input: str, kind: str) -> np.ndarray:
    """Run a wrapped transform on (H, W, 3) uint8 pixels (already in the colour order it expects).

    Examples
    --------
    >>> from torchvision.transforms import v2
    >>> apply_transform(v2.CenterCrop(2), np.zeros((4, 4, 3), np.uint8), "tensor", "torchvision").shape
    (3, 2, 2)
    """
    if input == "pil":
        from PIL import Image

        x: Any = Image.fromarray(pixels)
    elif input == "tensor":
        import torch

        x = torch.from_numpy(np.ascontiguousarray(pixels)).permute(2, 0, 1).contiguous()
    elif input == "numpy":
        x = pixels
    else:
        raise PreprocessError(f"input must be 'pil', 'numpy' or 'tensor', not {input!r}")
    out = transform(image=x) if kind == "albumentations" else transform(x)
    return _to_numpy(out)
