"""Words and tables for a ``Preprocess``: its one-line description and its notebook HTML table."""

from __future__ import annotations

import html
import json
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from . import _ops

if TYPE_CHECKING:
    from .spec import Preprocess


def describe(pre: Preprocess) -> str:
    """The pipeline in one line of words (``Preprocess.describe``).

    Examples
    --------
    >>> from jupyter_cvops.preprocess import Preprocess
    >>> describe(Preprocess(None, color="BGR"))
    'decode PIL + EXIF; BGR; x/255; float32 CHW'
    """
    if pre._wrapped is not None:
        steps = [s.get("type", "?").rsplit(".", 1)[-1] if isinstance(s, dict) else "?" for s in
                 _steps(pre._wrapped.description)]
        return (f"decode {pre.decode.upper() if pre.decode == 'pil' else 'OpenCV'}"
                f"{' + EXIF' if pre.exif else ''}; {pre.color} {pre._wrapped.input} -> "
                f"{pre._wrapped.kind} {' > '.join(steps)}{'' if pre.runnable else ' (not runnable here)'}")
    parts = [f"decode {'PIL' if pre.decode == 'pil' else 'OpenCV'}{' + EXIF' if pre.exif else ''}"]
    if pre.size is not None:
        assert pre.library and pre.resize and pre.antialias is not None
        how = _ops.describe_resize(pre.library, pre.resize, pre.antialias)
        where = {"shorter": f"shorter side to {pre.size}", "longer-pad": f"longer side to {pre.size}, "
                 f"padded square with {pre.pad}"}.get(str(pre.resize_mode), "")
        if pre.resize_mode == "exact":
            assert isinstance(pre.size, tuple)
            where = f"resize to {pre.size[0]}x{pre.size[1]}"
        parts.append(f"{where} with {how}")
    if pre.crop is not None:
        ch, cw = _ops.as_hw(pre.crop, "crop")
        parts.append(f"center crop {ch}x{cw}")
    parts.append(pre.color)
    if pre.scale is not None:
        inv = 1 / pre.scale
        parts.append(f"x/{round(inv)}" if abs(inv - round(inv)) < 1e-9 * inv else f"x*{pre.scale:g}")
    if pre.mean is not None:
        parts.append(f"(x-{_short(pre.mean)})/{_short(pre.std)}")
    parts.append(f"{pre.dtype} {pre.layout}")
    return "; ".join(parts)


def html_table(pre: Preprocess) -> str:
    """The small HTML table a notebook shows for ``pre``.

    Examples
    --------
    >>> from jupyter_cvops.preprocess import Preprocess
    >>> html_table(Preprocess()).startswith("<table>")
    True
    """
    spec = pre.to_spec()
    rows = [("fingerprint", f"<code>{pre.fingerprint}</code>")]
    if pre.name:
        rows.append(("name", html.escape(pre.name)))
    rows += [(k, html.escape(json.dumps(v) if not isinstance(v, str) else v)[:300]) for k, v in spec.items()
             if k not in ("v", "transform")]
    if pre._wrapped is not None:
        rows.append(("steps", html.escape(pre.describe())))
    rows.append(("versions", html.escape(", ".join(f"{k} {v}" for k, v in pre.versions.items()))))
    body = "".join(f"<tr><th style='text-align:left'>{k}</th><td style='text-align:left'>{v}</td></tr>"
                   for k, v in rows)
    return f"<table><caption style='text-align:left'><b>Preprocess</b></caption>{body}</table>"


def _short(values: Sequence[float] | None) -> str:
    return "(" + ", ".join(f"{v:.3g}" for v in values or ()) + ")"


def _steps(description: Any) -> list[Any]:
    if isinstance(description, dict):
        params = description.get("params", {})
        if isinstance(params, dict) and isinstance(params.get("transforms"), list):
            return list(params["transforms"])
    return [description]
