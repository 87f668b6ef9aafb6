"""Training/serving skew between two preprocessing pipelines, as pure functions: which spec fields and library
versions differ, how far their outputs are apart (on the golden images, or on the same served images), and
one sentence that says it ("serving resizes with OpenCV INTER_LINEAR without antialias; training resizes
with PIL bilinear with antialias: mean |diff| 3.1 grey levels on 200 images (max 41)").

Every function takes ``Preprocess`` objects, records (``Preprocess.to_record()``) or canonical specs
(``Preprocess.to_spec()``), so the store can call them on what it holds.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from . import _golden, _ops
from ._diff import Difference, differences, lookup
from ._errors import PreprocessError
from ._golden import GoldenComparison
from .spec import Preprocess

__all__ = ["Difference", "OutputComparison", "SkewReport", "compare_golden", "compare_outputs", "describe_skew",
           "skew_report", "spec_differences"]

PipelineLike = Preprocess | Mapping[str, Any]


def _spec_versions(x: PipelineLike) -> tuple[dict[str, Any], dict[str, str]]:
    if isinstance(x, Preprocess):
        return x.to_spec(), x.versions
    if isinstance(x, Mapping) and "spec_json" in x:
        return dict(json.loads(x["spec_json"])), dict(json.loads(x.get("versions_json") or "{}"))
    if isinstance(x, Mapping) and "kind" in x:
        return dict(x), {}
    raise PreprocessError(f"expected a Preprocess, a record or a spec, not {type(x).__qualname__}")


def spec_differences(a: PipelineLike, b: PipelineLike, *, versions: bool = True) -> list[Difference]:
    """The fields that differ between two pipelines: spec fields by name (``antialias``, ``color``,
    ``transform.params.transforms[0].params.size``) and, with ``versions``, libraries as ``versions.NAME``.

    Examples
    --------
    >>> spec_differences(Preprocess(224), Preprocess(224, library="opencv"), versions=False)
    [Difference(field='antialias', a=True, b=False), Difference(field='library', a='pil', b='opencv')]
    """
    sa, va = _spec_versions(a)
    sb, vb = _spec_versions(b)
    out = differences(sa, sb)
    if versions and va and vb:
        shared = set(va) & set(vb)  # a library only one side uses is already told by a spec field
        out += differences({"versions": {k: va[k] for k in sorted(shared)}},
                           {"versions": {k: vb[k] for k in sorted(shared)}})
    return out


def _golden_of(x: Any) -> Mapping[str, Any]:
    if isinstance(x, Preprocess):
        return x.golden_outputs() if x.runnable else x.golden_summary()
    if isinstance(x, Mapping) and "golden_json" in x:
        return dict(json.loads(x["golden_json"]))
    if isinstance(x, Mapping):
        return x
    raise PreprocessError(f"expected a Preprocess, a record or golden outputs, not {type(x).__qualname__}")


def compare_golden(a: Any, b: Any, *, atol: float | None = None) -> GoldenComparison:
    """Compare two pipelines' outputs on the shipped golden images, image by image, within ``atol``.

    ``a`` and ``b`` are ``Preprocess`` objects (run now), records (their stored summaries) or the dicts of
    ``golden_outputs()`` / ``golden_summary()``. ``atol`` (output units) defaults to 1.5 grey levels of
    ``a``, so another CPU's SIMD rounding passes and a changed resize does not.

    Examples
    --------
    >>> cmp = compare_golden(Preprocess(64), Preprocess(64, library="opencv"))
    >>> cmp.ok, "checkerboard.png" in cmp.differing
    (False, True)
    """
    return _golden.compare_golden_outputs(_golden_of(a), _golden_of(b), atol=atol)


@dataclass(frozen=True)
class OutputComparison:
    """Per-image absolute differences between two pipelines' outputs on the same images.

    ``max_abs`` and ``mean_abs`` are in output units (NaN where the shapes differ); divided by ``unit`` they
    are grey levels when ``unit`` is the output change of one grey level (``Preprocess.grey_level``); with no
    ``unit`` they stay output units.
    """

    max_abs: np.ndarray
    mean_abs: np.ndarray
    unit: float | None = None

    @property
    def n(self) -> int:
        """Number of images compared."""
        return int(self.max_abs.size)

    @property
    def shape_mismatches(self) -> int:
        """Images whose two outputs have different shapes."""
        return int(np.isnan(self.max_abs).sum())

    @property
    def mean_levels(self) -> float:
        """Mean over images of the mean |diff|, in units of ``unit``."""
        ok = self.mean_abs[~np.isnan(self.mean_abs)]
        return float(ok.mean() / (self.unit or 1.0)) if ok.size else float("nan")

    @property
    def max_levels(self) -> float:
        """Largest |diff| over all images, in units of ``unit``."""
        ok = self.max_abs[~np.isnan(self.max_abs)]
        return float(ok.max() / (self.unit or 1.0)) if ok.size else float("nan")

    def sentence(self) -> str:
        """``"mean |diff| 3.1 grey levels on 200 images (max 41)"``."""
        what = "grey levels" if self.unit is not None else "(output units)"
        text = f"mean |diff| {self.mean_levels:.3g} {what} on {self.n} image{'s' if self.n != 1 else ''}"
        text += f" (max {self.max_levels:.3g})"
        if self.shape_mismatches:
            text += f"; {self.shape_mismatches} with outputs of different shapes"
        return text

    def __repr__(self) -> str:
        return f"OutputComparison({self.sentence()})"


def compare_outputs(train: Sequence[np.ndarray] | np.ndarray, serve: Sequence[np.ndarray] | np.ndarray, *,
                    unit: float | None = None) -> OutputComparison:
    """Per-image max and mean absolute difference between two pipelines' outputs on the same images.

    Parameters
    ----------
    train, serve : sequences of arrays, or (N, ...) arrays
        Outputs for the same N images, in the same order.
    unit : float, optional
        Output change of one grey level (``train.grey_level``) to report grey levels; default 1 (output units).

    Examples
    --------
    >>> c = compare_outputs(np.zeros((2, 3, 4, 4)), np.full((2, 3, 4, 4), 2.0), unit=0.5)
    >>> c.max_abs.tolist(), c.mean_levels
    ([2.0, 2.0], 4.0)
    """
    if len(train) != len(serve):
        raise PreprocessError(f"{len(train)} training outputs but {len(serve)} serving outputs: compare the same "
                              "images in the same order")
    mx, mean = np.full(len(train), np.nan), np.full(len(train), np.nan)
    for i, (a, b) in enumerate(zip(train, serve)):
        a, b = np.asarray(a), np.asarray(b)
        if a.shape != b.shape:
            continue
        d = np.abs(a.astype(np.float64) - b.astype(np.float64))
        mx[i], mean[i] = (float(d.max()), float(d.mean())) if d.size else (0.0, 0.0)
    return OutputComparison(mx, mean, None if unit is None else float(unit))


# ---------------------------------------------------------------------------------------------- words
_RESIZE_FIELDS = {"size", "resize_mode", "resize", "antialias", "library", "pad"}


def _resize_phrase(spec: Mapping[str, Any], fields: set[str]) -> str:
    if spec.get("size") is None:
        return "does not resize"
    size = spec["size"]
    where = ""
    if fields & {"size", "resize_mode", "pad"}:
        where = {"shorter": f" the shorter side to {size}", "exact": f" to {size[0]}x{size[1]}"
                 if isinstance(size, list) else f" to {size}",
                 "longer-pad": f" the longer side to {size} (padded with {spec.get('pad')})"}.get(
                     str(spec.get("resize_mode")), f" to {size}")
    how = _ops.describe_resize(str(spec["library"]), str(spec["resize"]), bool(spec["antialias"]))
    return f"resizes{where} with {how}"


def _numbers(values: Any) -> str:
    return "(" + ", ".join(f"{v:.3g}" for v in values) + ")" if isinstance(values, list) else str(values)


def _phrases(spec: Mapping[str, Any], versions: Mapping[str, str], fields: list[str]) -> list[str]:
    f = set(fields)
    out: list[str] = []
    if "kind" in f:
        kind = str(spec.get("transform_kind"))
        return [f"wraps a{'n' if kind[:1] in 'aeiou' else ''} {kind} transform" if spec.get("kind") == "wrap"
                else "uses a declarative spec"]
    if "decode" in f:
        out.append(f"decodes with {'PIL' if spec['decode'] == 'pil' else 'OpenCV'}")
    if "exif" in f:
        out.append("applies the EXIF orientation" if spec["exif"] else "ignores the EXIF orientation")
    if f & _RESIZE_FIELDS:
        out.append(_resize_phrase(spec, f))
    if "crop" in f:
        crop = spec.get("crop")
        out.append(f"center-crops {crop[0]}x{crop[1]}" if crop else "does not crop")
    if "color" in f:
        out.append({"L": "feeds grey (L)"}.get(str(spec["color"]), f"feeds {spec['color']}"))
    if "scale" in f:
        scale = spec.get("scale")
        out.append("keeps 0-255 values" if scale is None else
                   f"scales by 1/{round(1 / scale)}" if abs(1 / scale - round(1 / scale)) < 1e-6 else
                   f"scales by {scale:g}")
    if f & {"mean", "std"}:
        out.append("does not normalize" if spec.get("mean") is None else
                   f"normalizes with mean {_numbers(spec['mean'])}, std {_numbers(spec['std'])}")
    if f & {"dtype", "layout"}:
        out.append(f"outputs {spec.get('dtype')} {spec.get('layout')}")
    if "input" in f:
        out.append(f"hands the transform a {spec.get('input')} input")
    changed = [x for x in fields if x.startswith("transform")]
    if changed:
        out.append("runs " + ", ".join(_transform_phrase(spec, x) for x in changed[:3])
                   + (f" (+{len(changed) - 3} more)" if len(changed) > 3 else ""))
    libs = [x.split(".", 1)[1] for x in fields if x.startswith("versions.")]
    if libs:
        out.append("computes with " + ", ".join(f"{lib} {versions.get(lib, '?')}" for lib in libs))
    return out


def _transform_phrase(spec: Mapping[str, Any], path: str) -> str:
    """``transform.params.transforms[0].params.size`` -> ``Resize size=256``."""
    step, _, param = path.rpartition(".params.")
    found = lookup(dict(spec), step) if step else None
    name = str(found.get("type", "")).rsplit(".", 1)[-1] if isinstance(found, dict) else ""
    value = json.dumps(lookup(dict(spec), path))
    return f"{name} {param}={value}" if name and param else f"{path.removeprefix('transform.')}={value}"


def describe_skew(train: PipelineLike, serve: PipelineLike, outputs: OutputComparison | None = None, *,
                  train_name: str = "training", serve_name: str = "serving") -> str:
    """One sentence: what serving does differently from training, and by how much when ``outputs`` is given.

    Examples
    --------
    >>> describe_skew(Preprocess(224), Preprocess(224, library="opencv"))
    'serving resizes with OpenCV INTER_LINEAR without antialias; training resizes with PIL bilinear with antialias'
    >>> describe_skew(Preprocess(224), Preprocess(224))[:45]
    'serving and training preprocessing are the sa'
    """
    diffs = spec_differences(train, serve)
    fields = [d.field for d in diffs]
    st, vt = _spec_versions(train)
    ss, vs = _spec_versions(serve)
    if not diffs:
        fp = train.fingerprint[:12] if isinstance(train, Preprocess) else "same spec"
        text = f"{serve_name} and {train_name} preprocessing are the same ({fp})"
    else:
        text = (f"{serve_name} {', '.join(_phrases(ss, vs, fields))}; "
                f"{train_name} {', '.join(_phrases(st, vt, fields))}")
    if outputs is not None:
        text += f": {outputs.sentence()}"
    return text


@dataclass(frozen=True)
class SkewReport:
    """Training vs serving preprocessing: ``ok`` when no spec field differs and the outputs agree within the
    tolerance (library versions may differ if the golden outputs still agree)."""

    ok: bool
    differences: list[Difference]
    golden: GoldenComparison
    outputs: OutputComparison | None
    sentence: str

    def __repr__(self) -> str:
        return f"SkewReport({'ok' if self.ok else 'SKEW'}: {self.sentence})"


def skew_report(train: PipelineLike, serve: PipelineLike, *, images: Sequence[Any] | None = None,
                served_outputs: Sequence[np.ndarray] | np.ndarray | None = None,
                atol: float | None = None) -> SkewReport:
    """Fields that differ, golden outputs compared, and (with ``images``) a replay: ``train`` re-run on the
    served images against ``served_outputs`` (what serving fed the model) or against ``serve`` run on them.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> imgs = [rng.integers(0, 256, (300, 400, 3), dtype=np.uint8) for _ in range(3)]
    >>> r = skew_report(Preprocess(224, crop=224), Preprocess(224, crop=224, color="BGR"), images=imgs)
    >>> r.ok, [d.field for d in r.differences]
    (False, ['color'])
    """
    diffs = spec_differences(train, serve)
    golden = compare_golden(train, serve, atol=atol)
    outputs = None
    unit = train.grey_level if isinstance(train, Preprocess) else None
    if images is not None:
        if not isinstance(train, Preprocess) or not train.runnable:
            raise PreprocessError("replaying needs the training Preprocess itself (runnable), not a record")
        mine = [train(x) for x in images]
        if served_outputs is None:
            if not isinstance(serve, Preprocess) or not serve.runnable:
                raise PreprocessError("give served_outputs, or a runnable serving Preprocess, to replay")
            served_outputs = [serve(x) for x in images]
        outputs = compare_outputs(mine, served_outputs, unit=unit)
    tol = golden.atol
    replay_ok = outputs is None or (outputs.shape_mismatches == 0 and outputs.max_levels * (outputs.unit or 1.0) <= tol)
    spec_diffs = [d for d in diffs if not d.field.startswith("versions.")]
    ok = not spec_diffs and golden.ok and replay_ok
    sentence = describe_skew(train, serve, outputs)
    if not golden.ok:
        worst = max((r for r in golden.rows if r.image in golden.differing), key=lambda r: r.max_abs_diff)
        sentence += (f"; golden images differ on {', '.join(golden.differing)} (max |diff| "
                     f"{worst.max_abs_diff:.3g}{'' if unit is None else f' = {worst.max_abs_diff / unit:.3g} grey levels'})")
    elif diffs and not spec_diffs:
        sentence += "; the golden outputs still agree within tolerance"
    return SkewReport(ok, diffs, golden, outputs, sentence)
