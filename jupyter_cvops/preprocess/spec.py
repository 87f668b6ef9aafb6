"""``Preprocess``: one preprocessing object for training and serving, with a fingerprint.

Either a declarative spec computed by one implementation here (decode, EXIF, resize, crop, colour, scale,
normalisation, dtype, layout), or a wrapped transform the team already uses (:meth:`Preprocess.wrap`). The
same object preprocesses single images (``pre(x)``), batches (``pre.batch``), feeds a torch ``DataLoader``
(``pre.dataset``, ``pre.torch_transform``) and serving. ``pre.fingerprint`` hashes the canonical spec and
the versions of the libraries that compute it; ``pre.golden_outputs()`` are its outputs on the golden images
shipped in the package, compared within a tolerance by :func:`~jupyter_cvops.preprocess.compare_golden`.
"""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import KW_ONLY, dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from ..images import DEFAULT_MAX_PIXELS
from . import _display, _golden, _ops
from ._decode import to_rgb
from ._diff import differences
from ._errors import PreprocessError
from ._validate import INTERP_ALIASES, LIBRARY_ALIASES, MODE_ALIASES, choice, floats
from ._versions import library_versions
from ._wrap import apply_transform, describe_transform, libraries_of, transform_kind

if TYPE_CHECKING:
    from ._torch import PreprocessDataset, TorchTransform

SPEC_VERSION = 1
"""Version of the canonical spec layout (part of every fingerprint)."""

Color = Literal["RGB", "BGR", "L"]
DType = Literal["float32", "float16", "uint8"]
Layout = Literal["CHW", "HWC"]


def _canonical_json(obj: Any) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), allow_nan=False)


@dataclass(frozen=True)
class _Wrapped:
    transform: Any
    description: Any
    kind: str
    input: str


@dataclass(frozen=True, eq=False, repr=False)
class Preprocess:
    """A preprocessing pipeline shared by training and serving, identified by :attr:`fingerprint`.

    Steps, in order: decode (``decode`` library; ``exif`` orientation) to 8-bit RGB; resize (``size``,
    ``resize_mode``, ``resize`` interpolation, ``antialias``, ``library``); centre ``crop``; ``color`` order;
    ``scale`` (``x / 255`` by default); ``(x - mean) / std``; cast to ``dtype``; ``layout``.

    Parameters
    ----------
    size : int, (height, width) or None
        An int resizes the shorter side to it (torchvision's rule); a pair resizes to exactly that; None keeps
        the decoded size.
    resize : {"nearest", "bilinear", "bicubic", "area", "lanczos"}
        Interpolation ("area" is PIL's BOX filter, OpenCV's INTER_AREA).
    resize_mode : {"shorter", "exact", "longer-pad"}, optional
        Default: "shorter" for an int size, "exact" for a pair. "longer-pad" fits the longer side to ``size``
        and pads to a ``size`` x ``size`` square with ``pad``.
    antialias : bool, optional
        Default: what the library does (PIL: yes; OpenCV: no, except "area"; torch: yes). A setting the
        library cannot honour is an error.
    library : {"pil", "opencv", "torch"}
        Which library resizes (always on 8-bit pixels).
    decode : {"pil", "opencv"}
        Which library decodes paths and bytes.
    exif : bool
        Apply the EXIF orientation tag when decoding.
    color : {"RGB", "BGR", "L"}
        Channel order of the output ("L": one luma channel, Pillow's formula).
    crop : int, (height, width) or None
        Centre crop after resizing (zero padding when the image is smaller, as torchvision does).
    scale : float or None
        Multiply pixels by this (``1/255`` divides by 255 exactly as ``ToTensor``); None keeps 0-255.
    mean, std : sequence of float or None
        Per output channel (in the output's colour order); both or neither.
    dtype : {"float32", "float16", "uint8"}
        ``"uint8"`` outputs the pixels themselves (``scale``, ``mean`` and ``std`` must be None).
    layout : {"CHW", "HWC"}
        Channel axis first (torch) or last.
    pad : int
        Grey level of the padding of ``resize_mode="longer-pad"``.
    name : str, optional
        A label shown in reprs and records; not part of the fingerprint.

    Examples
    --------
    >>> pre = Preprocess(size=8, crop=8, mean=(0.5, 0.5, 0.5), std=(0.25, 0.25, 0.25))
    >>> pre(np.zeros((10, 12, 3), np.uint8)).shape
    (3, 8, 8)
    >>> len(pre.fingerprint), pre.fingerprint == Preprocess.from_spec(pre.to_spec()).fingerprint
    (32, True)
    >>> Preprocess(8, library="opencv").antialias
    False
    """

    size: int | tuple[int, int] | None = 224
    _: KW_ONLY
    resize: _ops.Interpolation | None = "bilinear"
    resize_mode: _ops.ResizeMode | None = None
    antialias: bool | None = None
    library: _ops.Library | None = "pil"
    decode: Literal["pil", "opencv"] = "pil"
    exif: bool = True
    color: Color = "RGB"
    crop: int | tuple[int, int] | None = None
    scale: float | None = 1 / 255
    mean: tuple[float, ...] | None = None
    std: tuple[float, ...] | None = None
    dtype: DType = "float32"
    layout: Layout = "CHW"
    pad: int = 0
    name: str | None = None
    _wrapped: _Wrapped | None = field(default=None, repr=False)
    _record: Mapping[str, Any] | None = field(default=None, repr=False)

    # ------------------------------------------------------------------ validation
    def __post_init__(self) -> None:
        put = functools.partial(object.__setattr__, self)
        put("decode", choice(self.decode, ("pil", "opencv"), "decode", LIBRARY_ALIASES))
        put("exif", bool(self.exif))
        if self._wrapped is not None:
            put("color", choice(self.color, ("RGB", "BGR"), "color", upper=True))
            return
        put("color", choice(self.color, ("RGB", "BGR", "L"), "color", upper=True))
        if self.size is None:
            for attr in ("resize", "resize_mode", "antialias", "library"):
                put(attr, None)
        else:
            self._check_resize(put)
        put("crop", None if self.crop is None else _ops.as_hw(self.crop, "crop"))
        put("dtype", choice(self.dtype, ("float32", "float16", "uint8"), "dtype",
                             {"float": "float32", "half": "float16"}))
        put("layout", choice(self.layout, ("CHW", "HWC"), "layout", upper=True))
        channels = 1 if self.color == "L" else 3
        put("mean", floats(self.mean, "mean", channels))
        put("std", floats(self.std, "std", channels))
        if (self.mean is None) != (self.std is None):
            raise PreprocessError("give both mean and std, or neither")
        if self.std is not None and any(s == 0 for s in self.std):
            raise PreprocessError(f"std must not contain zeros: {self.std}")
        if self.scale is not None:
            if isinstance(self.scale, bool) or not float(self.scale) > 0:
                raise PreprocessError(f"scale must be a positive number or None, not {self.scale!r}")
            put("scale", float(self.scale))
        if self.dtype == "uint8" and (self.scale is not None or self.mean is not None):
            raise PreprocessError("dtype='uint8' outputs the 0-255 pixels themselves: pass scale=None and no "
                                  "mean/std (or use dtype='float32')")

    def _check_resize(self, put: Any) -> None:
        mode = choice(self.resize_mode or ("exact" if isinstance(self.size, (tuple, list)) else "shorter"), ("shorter", "exact", "longer-pad"), "resize_mode", MODE_ALIASES)
        size = _ops.as_hw(self.size, "size")
        if mode != "exact" and size[0] != size[1]:
            raise PreprocessError(f"resize_mode={mode!r} takes one integer size, not {self.size!r}")
        put("resize_mode", mode)
        put("size", size if mode == "exact" else size[0])
        put("resize", choice(self.resize or "bilinear", _ops.INTERPOLATIONS, "resize", INTERP_ALIASES))
        put("library", choice(self.library or "pil", _ops.LIBRARIES, "library", LIBRARY_ALIASES))
        assert self.resize is not None and self.library is not None
        if self.library == "torch" and self.resize not in _ops.TORCH_NAMES:
            raise PreprocessError(f"library='torch' resizes with nearest, bilinear or bicubic, not {self.resize!r}"
                                  "; use library='pil' or 'opencv'")
        possible = _ops.supported_antialias(self.library, self.resize)
        antialias = possible[0] if self.antialias is None else bool(self.antialias)
        if antialias not in possible:
            hint = ("OpenCV's resize never antialiases (except resize='area'): use library='pil' or 'torch'"
                    if self.library == "opencv" else
                    "nearest neighbour never antialiases" if self.resize == "nearest" else
                    "PIL always antialiases when shrinking: use library='opencv' or 'torch' to resize without")
            raise PreprocessError(f"antialias={antialias} is not possible with library={self.library!r}, "
                                  f"resize={self.resize!r}: {hint}")
        put("antialias", antialias)
        if not isinstance(self.pad, int) or isinstance(self.pad, bool) or not 0 <= self.pad <= 255:
            raise PreprocessError(f"pad must be a grey level 0-255, not {self.pad!r}")
        if mode != "longer-pad":
            put("pad", 0)

    # ------------------------------------------------------------------ wrapping
    @classmethod
    def wrap(cls, transform: Any, *, input: Literal["pil", "numpy", "tensor"] = "pil",
             color: Literal["RGB", "BGR"] = "RGB", decode: Literal["pil", "opencv"] = "pil", exif: bool = True,
             name: str | None = None) -> Preprocess:
        """Wrap the transform a team already uses (torchvision v1/v2, open_clip's preprocess, albumentations,
        any callable): decoding stays ours (``decode``, ``exif``), the pixels go to ``transform``.

        Parameters
        ----------
        transform : callable
            Called with a PIL image (``input="pil"``), an (H, W, 3) uint8 array (``"numpy"``; albumentations
            transforms get ``image=``) or a (3, H, W) uint8 tensor (``"tensor"``).
        color : {"RGB", "BGR"}
            Channel order the transform expects for arrays and tensors (OpenCV-based pipelines: "BGR").

        Examples
        --------
        >>> from torchvision.transforms import v2
        >>> pre = Preprocess.wrap(v2.Compose([v2.Resize(8), v2.CenterCrop(8)]), input="tensor")
        >>> pre(np.zeros((10, 12, 3), np.uint8)).shape, pre.to_spec()["transform_kind"]
        ((3, 8, 8), 'torchvision')
        """
        input = choice(input, ("pil", "numpy", "tensor"), "input")  # type: ignore[assignment]
        if not callable(transform):
            raise PreprocessError(f"wrap needs a callable transform, not a {type(transform).__qualname__}")
        kind = transform_kind(transform)
        if kind == "albumentations" and input != "numpy":
            input = "numpy"
        if color == "BGR" and input == "pil":
            raise PreprocessError("a PIL image is always RGB: use input='numpy' for a transform that expects BGR")
        wrapped = _Wrapped(transform, describe_transform(transform), kind, input)
        return cls(None, resize=None, library=None, decode=decode, exif=exif, color=color, crop=None, scale=None,
                   name=name, _wrapped=wrapped)

    @property
    def wrapped(self) -> bool:
        """Whether this wraps a transform (rather than a declarative spec).

        Examples
        --------
        >>> Preprocess().wrapped
        False
        """
        return self._wrapped is not None

    @property
    def transform(self) -> Any:
        """The wrapped transform (None for a declarative spec, or for a record stub).

        Examples
        --------
        >>> Preprocess().transform is None
        True
        """
        return None if self._wrapped is None else self._wrapped.transform

    @property
    def runnable(self) -> bool:
        """False only for a wrapped transform rebuilt from a record without it: it compares, not runs.

        Examples
        --------
        >>> Preprocess().runnable
        True
        """
        return self._wrapped is None or self._wrapped.transform is not None

    # ------------------------------------------------------------------ identity
    def to_spec(self) -> dict[str, Any]:
        """The canonical spec: a JSON-able dict; equal pipelines give equal specs.

        Examples
        --------
        >>> Preprocess(224, resize="linear", library="cv2").to_spec()["resize"]
        'bilinear'
        """
        base: dict[str, Any] = {"v": SPEC_VERSION, "decode": self.decode, "exif": self.exif, "color": self.color}
        if self._wrapped is not None:
            return {**base, "kind": "wrap", "input": self._wrapped.input, "transform_kind": self._wrapped.kind,
                    "transform": self._wrapped.description}
        return {**base, "kind": "spec", "size": list(self.size) if isinstance(self.size, tuple) else self.size,
                "resize_mode": self.resize_mode, "resize": self.resize, "antialias": self.antialias,
                "library": self.library, "pad": self.pad, "crop": None if self.crop is None else list(_ops.as_hw(self.crop, "crop")),
                "scale": self.scale, "mean": None if self.mean is None else list(self.mean),
                "std": None if self.std is None else list(self.std), "dtype": self.dtype, "layout": self.layout}

    @property
    def libraries(self) -> list[str]:
        """The libraries that compute this pipeline (their versions are part of the fingerprint).

        Examples
        --------
        >>> Preprocess(224, library="opencv").libraries
        ['libjpeg', 'numpy', 'opencv', 'pillow']
        """
        libs = {"numpy", "pillow"}  # Pillow reads every header (the pixel cap)
        libs |= {"libjpeg"} if self.decode == "pil" else {"opencv"}
        if self._wrapped is not None:
            libs |= libraries_of(self._wrapped.description)
            if self._wrapped.input == "tensor":
                libs.add("torch")
        elif self.library is not None:
            libs |= {"pil": {"pillow"}, "opencv": {"opencv"}, "torch": {"torch", "torchvision"}}[self.library]
        return sorted(libs)

    @functools.cached_property
    def versions(self) -> dict[str, str]:
        """``{library: version}`` of :attr:`libraries`, as installed here (as recorded, for a record stub).

        Examples
        --------
        >>> sorted(Preprocess().versions) == Preprocess().libraries
        True
        """
        if not self.runnable and self._record is not None:
            return dict(json.loads(self._record["versions_json"]))
        return library_versions(self.libraries)

    @functools.cached_property
    def fingerprint(self) -> str:
        """SHA-256 (32 hex digits) of the canonical spec and the library versions that compute it.

        Examples
        --------
        >>> Preprocess(224).fingerprint != Preprocess(256).fingerprint
        True
        """
        return fingerprint_of(self.to_spec(), self.versions)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Preprocess) and self.fingerprint == other.fingerprint

    def __hash__(self) -> int:
        return hash(self.fingerprint)

    # ------------------------------------------------------------------ running
    def __call__(self, x: Any, *, color: Literal["RGB", "BGR"] = "RGB",
                 max_pixels: int | None = DEFAULT_MAX_PIXELS) -> np.ndarray:
        """Preprocess one image: a path, encoded bytes, a PIL image or a uint8 array (``color`` says whether
        an array is RGB or BGR, e.g. from ``cv2.imread``).

        Raises
        ------
        ImageDecodeError
            The input cannot be read or decoded, or is larger than ``max_pixels``.

        Examples
        --------
        >>> Preprocess(4, dtype="uint8", scale=None, layout="HWC")(np.zeros((4, 6), np.uint8)).shape
        (4, 6, 3)
        """
        if self._wrapped is not None and self._wrapped.transform is None:
            raise PreprocessError("this Preprocess wraps a transform that a record cannot rebuild: pass it again "
                                  "with Preprocess.from_record(record, transform=...)")
        rgb = to_rgb(x, decoder=self.decode, exif=self.exif, color=color, max_pixels=max_pixels)
        if self._wrapped is not None:
            pixels = _ops.convert_color(rgb, self.color)
            return apply_transform(self._wrapped.transform, pixels, self._wrapped.input, self._wrapped.kind)
        return self._pixels_to_output(self._geometry(rgb))

    def _geometry(self, rgb: np.ndarray) -> np.ndarray:
        if self.size is not None:
            assert self.resize_mode and self.resize and self.library and self.antialias is not None
            hw = _ops.output_size(rgb.shape[0], rgb.shape[1], self.size, self.resize_mode)
            rgb = _ops.resize(rgb, hw, self.resize, self.antialias, self.library)
            if self.resize_mode == "longer-pad":
                assert isinstance(self.size, int)
                rgb = _ops.pad_to(rgb, self.size, self.pad)
        if self.crop is not None:
            rgb = _ops.center_crop(rgb, _ops.as_hw(self.crop, "crop"))
        return rgb

    def _pixels_to_output(self, rgb: np.ndarray) -> np.ndarray:
        return _ops.to_output(_ops.convert_color(rgb, self.color), scale=self.scale, mean=self.mean, std=self.std,
                              dtype=self.dtype, layout=self.layout)

    def batch(self, items: Iterable[Any], *, color: Literal["RGB", "BGR"] = "RGB",
              max_pixels: int | None = DEFAULT_MAX_PIXELS) -> np.ndarray:
        """Preprocess several images into one (N, ...) array (every output must have the same shape).

        Examples
        --------
        >>> Preprocess((4, 4)).batch([np.zeros((5, 7, 3), np.uint8)] * 2).shape
        (2, 3, 4, 4)
        """
        outs = [self(x, color=color, max_pixels=max_pixels) for x in items]
        if not outs:
            raise PreprocessError("batch of no images")
        shapes = {o.shape for o in outs}
        if len(shapes) > 1:
            raise PreprocessError(f"outputs have different shapes {sorted(shapes)}: give a crop or an exact "
                                  "(height, width) size to batch them")
        return np.stack(outs)

    def torch_transform(self) -> TorchTransform:
        """A picklable callable returning ``torch.Tensor``: for ``torchvision.datasets`` or your own ``Dataset``.

        Examples
        --------
        >>> Preprocess(4, crop=4).torch_transform()(np.zeros((5, 5, 3), np.uint8)).shape
        torch.Size([3, 4, 4])
        """
        from ._torch import TorchTransform

        return TorchTransform(self)

    def dataset(self, items: Sequence[Any], labels: Sequence[Any] | None = None, *,
                color: Literal["RGB", "BGR"] = "RGB") -> PreprocessDataset:
        """A torch ``Dataset`` over ``items`` (paths, bytes, images), yielding tensors (and labels): training
        runs literally the same preprocessing as serving.

        Examples
        --------
        >>> ds = Preprocess(4, crop=4).dataset([np.zeros((5, 5, 3), np.uint8)], labels=[1])
        >>> len(ds), ds[0][0].shape, ds[0][1]
        (1, torch.Size([3, 4, 4]), 1)
        """
        from ._torch import PreprocessDataset

        return PreprocessDataset(self, items, labels, color=color)

    # ------------------------------------------------------------------ golden images
    def golden_outputs(self) -> dict[str, np.ndarray]:
        """Outputs on the golden images shipped in the package (``{file name: array}``).

        Examples
        --------
        >>> {k: v.shape for k, v in Preprocess(16, crop=16).golden_outputs().items()}["checkerboard.png"]
        (3, 16, 16)
        """
        return {name: self(data) for name, data in _golden.golden_images().items()}

    def golden_summary(self) -> dict[str, dict[str, Any]]:
        """Compact summaries of :meth:`golden_outputs` (stored in records; see ``compare_golden``).

        Examples
        --------
        >>> Preprocess(16, crop=16).golden_summary()["grey.png"]["shape"]
        [3, 16, 16]
        """
        if not self.runnable and self._record is not None:
            return dict(json.loads(self._record["golden_json"]))
        layout = None if self._wrapped is not None else self.layout
        return {name: _golden.summarize(arr, _golden.channel_axis(arr.shape, layout))
                for name, arr in self.golden_outputs().items()}

    @property
    def grey_level(self) -> float | None:
        """How much one input grey level moves the output (``scale / mean(std)``), to express differences
        in grey levels; None for a wrapped transform.

        Examples
        --------
        >>> round(Preprocess(mean=(0.5,) * 3, std=(0.25,) * 3).grey_level * 255, 6)
        4.0
        """
        if self._wrapped is not None:
            return None
        level = self.scale if self.scale is not None else 1.0
        return level / float(np.mean(self.std)) if self.std is not None else level

    # ------------------------------------------------------------------ records
    @classmethod
    def from_spec(cls, spec: Mapping[str, Any] | str, *, transform: Any = None, name: str | None = None,
                  _record: Mapping[str, Any] | None = None) -> Preprocess:
        """Rebuild from :meth:`to_spec` (a dict or its JSON). A wrapped transform cannot be rebuilt from its
        description: without ``transform`` the result compares but does not run; with it, its description
        must equal the recorded one.

        Examples
        --------
        >>> Preprocess.from_spec(Preprocess(256, crop=224).to_spec()).crop
        (224, 224)
        """
        d = dict(json.loads(spec) if isinstance(spec, str) else spec)
        if d.get("v") != SPEC_VERSION:
            raise PreprocessError(f"spec version {d.get('v')!r} is not {SPEC_VERSION}: written by another "
                                  "jupyter-cvops; upgrade it")
        kind = d.get("kind")
        if kind == "wrap":
            if transform is not None:
                pre = cls.wrap(transform, input=d["input"], color=d["color"], decode=d["decode"], exif=d["exif"],
                               name=name)
                diffs = differences(d, pre.to_spec())
                if diffs:
                    listed = "; ".join(f"{f}: recorded {a!r}, given {b!r}" for f, a, b in diffs[:5])
                    raise PreprocessError(f"the transform given is not the recorded one ({listed})")
                return pre if _record is None else cls._with_record(pre, _record)
            stub = _Wrapped(None, d["transform"], str(d["transform_kind"]), str(d["input"]))
            return cls(None, resize=None, library=None, decode=d["decode"], exif=d["exif"], color=d["color"],
                       scale=None, name=name, _wrapped=stub, _record=_record)
        if kind != "spec":
            raise PreprocessError(f"not a preprocessing spec (kind {kind!r})")
        size = d["size"]
        return cls(tuple(size) if isinstance(size, list) else size, resize=d["resize"],
                   resize_mode=d["resize_mode"], antialias=d["antialias"], library=d["library"], decode=d["decode"],
                   exif=d["exif"], color=d["color"], crop=None if d["crop"] is None else tuple(d["crop"]),
                   scale=d["scale"], mean=d["mean"], std=d["std"], dtype=d["dtype"], layout=d["layout"],
                   pad=d["pad"], name=name, _record=_record)

    @classmethod
    def _with_record(cls, pre: Preprocess, record: Mapping[str, Any]) -> Preprocess:
        object.__setattr__(pre, "_record", record)
        return pre

    def to_record(self) -> dict[str, str]:
        """What the model registry stores, keyed by ``fingerprint``: all strings (JSON), ready for a table.

        Keys: ``fingerprint``, ``kind`` ("spec" or "wrap"), ``name``, ``spec_json``, ``versions_json``,
        ``golden_json`` (summaries of the golden outputs).

        Examples
        --------
        >>> rec = Preprocess(32, crop=32).to_record()
        >>> sorted(rec), Preprocess.from_record(rec) == Preprocess(32, crop=32)
        (['fingerprint', 'golden_json', 'kind', 'name', 'spec_json', 'versions_json'], True)
        """
        spec = self.to_spec()
        return {"fingerprint": self.fingerprint, "kind": str(spec["kind"]), "name": self.name or "",
                "spec_json": _canonical_json(spec), "versions_json": _canonical_json(self.versions),
                "golden_json": _canonical_json(self.golden_summary())}

    @classmethod
    def from_record(cls, record: Mapping[str, Any], *, transform: Any = None) -> Preprocess:
        """Rebuild from :meth:`to_record`. The fingerprint is checked against the recorded spec and versions;
        the result's own :attr:`fingerprint` is computed here (so another library version shows), and
        :attr:`recorded` keeps the record. A wrapped transform needs ``transform`` to run.

        Examples
        --------
        >>> from torchvision.transforms import v2
        >>> rec = Preprocess.wrap(v2.CenterCrop(8), input="tensor").to_record()
        >>> stub = Preprocess.from_record(rec)
        >>> stub.runnable, stub.fingerprint == rec["fingerprint"]
        (False, True)
        """
        missing = [k for k in ("fingerprint", "spec_json", "versions_json", "golden_json") if k not in record]
        if missing:
            raise PreprocessError(f"not a preprocessing record: missing {', '.join(missing)}")
        spec, versions = json.loads(record["spec_json"]), json.loads(record["versions_json"])
        if fingerprint_of(spec, versions) != record["fingerprint"]:
            raise PreprocessError("record is inconsistent: its fingerprint is not the hash of its spec and versions")
        return cls.from_spec(spec, transform=transform, name=record.get("name") or None, _record=dict(record))

    @property
    def recorded(self) -> dict[str, Any] | None:
        """The record this was rebuilt from (fingerprint, versions and golden summaries then), else None.

        Examples
        --------
        >>> Preprocess().recorded is None
        True
        """
        return None if self._record is None else dict(self._record)

    # ------------------------------------------------------------------ display
    def describe(self) -> str:
        """The pipeline in one line of words.

        Examples
        --------
        >>> Preprocess(256, crop=224, library="opencv").describe()
        'decode PIL + EXIF; shorter side to 256 with OpenCV INTER_LINEAR without antialias; center crop 224x224; \
RGB; x/255; float32 CHW'
        """
        return _display.describe(self)

    def __repr__(self) -> str:
        label = f"{self.name!r}, " if self.name else ""
        if self._wrapped is not None:
            return f"Preprocess.wrap({label}{self._wrapped.kind}, fingerprint={self.fingerprint[:12]!r})"
        defaults = Preprocess()
        shown = [f"{k}={getattr(self, k)!r}" for k in ("size", "resize", "resize_mode", "antialias", "library",
                                                         "decode", "exif", "color", "crop", "scale", "mean",
                                                         "std", "dtype", "layout", "pad")
                 if getattr(self, k) != getattr(defaults, k) or k == "size"]
        return f"Preprocess({label}{', '.join(shown)}, fingerprint={self.fingerprint[:12]!r})"

    def _repr_html_(self) -> str:
        return _display.html_table(self)


def fingerprint_of(spec: Mapping[str, Any], versions: Mapping[str, str]) -> str:
    """The fingerprint of a canonical spec computed with these library versions (SHA-256, 32 hex digits).

    Examples
    --------
    >>> fingerprint_of({"kind": "spec"}, {"numpy": "2.0"}) == fingerprint_of({"kind": "spec"}, {"numpy": "2.1"})
    False
    """
    payload = _canonical_json({"spec": dict(spec), "versions": dict(versions)})
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()[:32]
