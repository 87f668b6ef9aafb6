"""Embedding backends and the loading pipeline behind :func:`jupyter_cvops.embeddings.embed`.

A backend turns decoded images into vectors in two steps: ``load`` (preprocessing, run
in worker threads so it overlaps the model) and ``forward`` (the model, run on the
calling thread). Two ship with the package:

* :class:`ImageStatsBackend` (``model="imgstats"``): 33 named, interpretable image
  statistics; no weights, pure numpy/OpenCV (see :mod:`jupyter_cvops.embeddings._image_stats`).
* :class:`OpenClipBackend` (``model="open_clip:<arch>"``): open_clip's image tower with
  open_clip's own evaluation transform, from a pretrained tag (the only case in which a
  download may be attempted) or a local checkpoint file.

Every image is read once: its bytes are checked against the registered content hash
(so a file edited since registration is refused, not silently embedded under the old
id), then decoded by Pillow with the EXIF orientation applied and converted to RGB.
"""

from __future__ import annotations

import io
import json
import os
import threading
from pathlib import Path
from typing import Any, Literal, Protocol, runtime_checkable

import numpy as np
import xxhash

from . import _image_stats
from ..images._hashing import hash_bytes
from ..images._objects import read_bytes

Metric = Literal["cosine", "l2"]

DECODE = "PIL.Image.open -> ImageOps.exif_transpose -> RGB (16-bit scaled by 1/257, alpha dropped)"
"""How every backend decodes a file before its own preprocessing (recorded per table)."""

FALLBACK_HINT = "or use model='imgstats' (image statistics, no weights needed)"


class EmbeddingError(RuntimeError):
    """An embedding model cannot be loaded or used as asked."""


class ImageReadError(Exception):
    """One image cannot be read or decoded; ``str(exc)`` is the one-line reason."""


# --------------------------------------------------------------------------- decoding
def read_image(path: str, image_id: str | None = None, min_side: int | None = None) -> Any:
    """Read, verify and decode one image file to an RGB ``PIL.Image``.

    Raises :class:`ImageReadError` with a one-line reason when the file is missing,
    unreadable, changed since registration (``image_id`` given and the XXH3-128 of its
    bytes differs) or not decodable. With ``min_side``, a JPEG at least twice that size
    is decoded at a reduced scale (1/2 to 1/8, by the decoder's DCT scaling) that keeps
    both sides >= ``min_side``: a 12-megapixel photo headed for a 224-pixel model decodes
    ~3x faster, and the model input changes by a fraction of a grey level.

    Examples
    --------
    >>> import tempfile, cv2
    >>> p = tempfile.mkdtemp() + "/a.png"
    >>> _ = cv2.imwrite(p, np.zeros((4, 6), np.uint8))
    >>> read_image(p).size, read_image(p).mode
    ((6, 4), 'RGB')
    """
    from PIL import Image, ImageOps

    try:
        data = read_bytes(path)  # a file or an s3:// object
    except FileNotFoundError:
        raise ImageReadError("file not found") from None
    except OSError as exc:
        raise ImageReadError(f"cannot read file: {exc.strerror or exc}") from None
    if not data:
        raise ImageReadError("zero-byte file")
    if image_id is not None and hash_bytes(data) != image_id:
        raise ImageReadError("file changed since it was registered (content hash differs); "
                             "register it again with ws.add_images")
    try:
        with Image.open(io.BytesIO(data)) as im:
            if min_side and im.format == "JPEG" and min(im.size) >= 2 * min_side:
                im.draft("RGB", (min_side, min_side))
            im.load()
            ImageOps.exif_transpose(im, in_place=True)
            if im.mode == "RGB":
                return im
            if im.mode.startswith("I") or im.mode == "F":
                arr = np.asarray(im)
                if im.mode == "F":
                    rgb = _image_stats.as_rgb8(np.clip(arr, 0.0, 1.0))
                else:
                    rgb = _image_stats.as_rgb8(np.clip(arr, 0, 65535).astype(np.uint16))
                return Image.fromarray(rgb)
            return im.convert("RGB")
    except Exception as exc:  # Pillow raises many types for bad data
        msg = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ImageReadError(f"cannot decode image: {msg}") from None


# --------------------------------------------------------------------------- devices
def pick_device(device: str | None = None) -> str:
    """``device`` if given, else ``"cuda"`` when a GPU is usable, ``"mps"`` on Apple, else ``"cpu"``.

    Examples
    --------
    >>> pick_device("cpu")
    'cpu'
    """
    if device:
        return str(device)
    import torch

    if torch.cuda.is_available():
        return "cuda"
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        return "mps"
    return "cpu"


def cpu_count() -> int:
    """CPUs this process may use (affinity-aware).

    Examples
    --------
    >>> cpu_count() >= 1
    True
    """
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


# --------------------------------------------------------------------------- protocol
@runtime_checkable
class EmbeddingBackend(Protocol):
    """What :func:`~jupyter_cvops.embeddings.embed` needs from a model.

    Attributes
    ----------
    model_id : str
        Human-readable identity recorded with the table (weights included).
    table_slug : str
        Lower-case ``[a-z0-9_]`` name part; the table is ``emb_<table_slug>``.
    dim : int
        Vector length.
    metric : {"cosine", "l2"}
        Distance the vectors are meant for (used by the ANN index and ``neighbors``).
    device : str
        Where ``forward`` runs.

    An optional ``decode_min_side: int`` lets large JPEGs decode at a reduced scale that
    keeps both sides at least that long (see :func:`read_image`); say so in ``describe``.
    """

    model_id: str
    table_slug: str
    dim: int
    metric: Metric
    device: str

    def describe(self) -> dict[str, Any]:
        """Preprocessing and weights description (JSON-able); its ``fingerprint`` part is hashed."""
        ...

    def spec(self) -> dict[str, Any]:
        """Keyword arguments that rebuild this backend with :func:`backend_from_spec`."""
        ...

    def load(self, image: Any) -> Any:
        """Preprocess one decoded RGB ``PIL.Image`` (runs in a worker thread)."""
        ...

    def collate(self, items: list[Any]) -> Any:
        """Stack preprocessed items into a batch (runs on the calling thread)."""
        ...

    def forward(self, batch: Any) -> np.ndarray:
        """Vectors of a batch, ``n x dim`` float32."""
        ...


class ImageStatsBackend:
    """``model="imgstats"``: named image statistics (:func:`feature_names`), no weights.

    Examples
    --------
    >>> from PIL import Image
    >>> b = ImageStatsBackend()
    >>> b.table_slug, b.dim, b.metric
    ('imgstats_v1', 33, 'l2')
    >>> b.forward(b.collate([b.load(Image.new("RGB", (8, 8)))])).shape
    (1, 33)
    """

    metric: Metric = "l2"
    device = "cpu"

    def __init__(self) -> None:
        self.model_id = f"imgstats-{_image_stats.VERSION}"
        self.table_slug = f"imgstats_{_image_stats.VERSION}"
        self.dim = len(_image_stats.FEATURE_NAMES)

    def feature_names(self) -> list[str]:
        """Names of the dimensions, in vector order."""
        return _image_stats.feature_names()

    def describe(self) -> dict[str, Any]:
        return {
            "backend": "imgstats",
            "fingerprint": {
                "decode": DECODE,
                "version": _image_stats.VERSION,
                "working_size": _image_stats.WORKING_SIZE,
                "features": list(_image_stats.FEATURE_NAMES),
            },
        }

    def spec(self) -> dict[str, Any]:
        return {"model": "imgstats"}

    def load(self, image: Any) -> np.ndarray:
        return _image_stats.image_stats(np.asarray(image))

    def collate(self, items: list[Any]) -> np.ndarray:
        return np.stack(items).astype(np.float32)

    def forward(self, batch: Any) -> np.ndarray:
        return np.asarray(batch, dtype=np.float32)


# --------------------------------------------------------------------------- open_clip
_HASH_CACHE: dict[tuple[str, int, int], str] = {}


def file_hash(path: str) -> str:
    """XXH3-64 of a file's bytes (16 hex characters), cached by (path, size, mtime).

    Examples
    --------
    >>> import tempfile
    >>> p = Path(tempfile.mkdtemp()) / "w.pt"; _ = p.write_bytes(b"abc")
    >>> file_hash(p)
    '78af5f94892f3950'
    """
    st = os.stat(path)
    key = (os.path.abspath(path), st.st_size, st.st_mtime_ns)
    if key not in _HASH_CACHE:
        h = xxhash.xxh3_64()
        with open(path, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 22), b""):
                h.update(chunk)
        _HASH_CACHE[key] = h.hexdigest()
    return _HASH_CACHE[key]


def slug(text: str) -> str:
    """Lower-case ``[a-z0-9_]`` form of ``text`` (runs of other characters become ``_``).

    Examples
    --------
    >>> slug("ViT-B-32"), slug("laion2b_s34b_b79k")
    ('vit_b_32', 'laion2b_s34b_b79k')
    """
    out = "".join(c if c.isascii() and c.isalnum() else "_" for c in text.lower())
    return "_".join(p for p in out.split("_") if p)


def _looks_like_path(value: str) -> bool:
    return (os.sep in value or "/" in value or value.startswith(("~", "."))
            or value.endswith((".pt", ".pth", ".bin", ".safetensors", ".npz", ".ckpt")))


def no_weights_error(arch: str) -> EmbeddingError:
    """The error for an open_clip model asked for without weights (names the fallback).

    Examples
    --------
    >>> "imgstats" in str(no_weights_error("ViT-B-32"))
    True
    """
    return EmbeddingError(
        f"no weights given for open_clip model {arch!r}: pass pretrained='/path/to/checkpoint.pt' "
        "(or a pretrained tag such as 'laion2b_s34b_b79k' when a model hub is reachable), "
        f"or set CVOPS_CLIP_WEIGHTS; {FALLBACK_HINT}"
    )


class OpenClipBackend:
    """``model="open_clip:<arch>"``: the image tower of an open_clip model, L2-normalised.

    Built from ``pretrained``: a local checkpoint file (loaded through
    ``open_clip.create_model_and_transforms(arch, pretrained=path)``) or an open_clip
    pretrained tag (the only case in which open_clip may try a download). Images are
    preprocessed by open_clip's own evaluation transform; vectors are
    ``model.encode_image(x, normalize=True)``. On CUDA the forward pass runs under
    bf16 (or fp16) autocast unless ``precision="fp32"``; the output is float32.

    Examples
    --------
    >>> b = OpenClipBackend("ViT-B-32", "/path/to/ckpt.pt")    # doctest: +SKIP
    >>> b.table_slug                                           # doctest: +SKIP
    'openclip_vit_b_32_1a2b3c4d'
    """

    metric: Metric = "cosine"

    def __init__(self, arch: str, pretrained: str | None, *, device: str | None = None,
                 precision: Literal["auto", "fp32", "bf16", "fp16"] = "auto") -> None:
        import open_clip
        import torch

        self.arch = arch
        self.device = pick_device(device)
        schema_name = arch.startswith(("hf-hub:", "local-dir:"))
        if pretrained is None and not schema_name:
            raise no_weights_error(arch)
        weights: dict[str, Any]
        if pretrained is not None and os.path.isfile(os.path.expanduser(pretrained)):
            path = os.path.abspath(os.path.expanduser(pretrained))
            digest = file_hash(path)
            weights = {"file": path, "xxh3_64": digest}
            self.model_id, suffix, load_arg = f"open_clip:{arch}@file:{digest}", digest[:8], path
            pretrained = path  # the spec keeps the absolute path
        elif pretrained is not None and _looks_like_path(pretrained):
            raise EmbeddingError(f"checkpoint file not found: {pretrained}; {FALLBACK_HINT}")
        elif pretrained is not None:
            tags = open_clip.list_pretrained_tags_by_model(arch)
            if arch in open_clip.list_models() and tags and pretrained not in tags:
                raise EmbeddingError(f"{pretrained!r} is neither a file nor a pretrained tag of {arch} "
                                     f"(tags: {', '.join(tags)}); {FALLBACK_HINT}")
            weights = {"tag": pretrained}
            self.model_id, suffix, load_arg = f"open_clip:{arch}@{pretrained}", slug(pretrained), pretrained
        else:
            weights = {"schema": arch}
            self.model_id, suffix, load_arg = f"open_clip:{arch}", "", None
        if not schema_name and arch not in open_clip.list_models():
            raise EmbeddingError(f"unknown open_clip architecture {arch!r} (see open_clip.list_models()); "
                                 f"{FALLBACK_HINT}")
        try:
            model, _, preprocess = open_clip.create_model_and_transforms(
                arch, pretrained=load_arg, device=self.device)
        except Exception as exc:
            where = "from the model hub" if "tag" in weights or arch.startswith("hf-hub:") else "from disk"
            raise EmbeddingError(
                f"could not load open_clip {arch} weights {pretrained or arch!r} {where}: "
                f"{str(exc).splitlines()[0] if str(exc) else type(exc).__name__}. Without a reachable "
                f"hub, download the checkpoint elsewhere and pass pretrained='/path/to/file', {FALLBACK_HINT}"
            ) from exc
        model.eval()
        self.model = model
        self.preprocess = preprocess
        self.table_slug = "_".join(p for p in ("openclip", slug(arch), suffix) if p)
        self.weights = weights
        self.open_clip_version = open_clip.__version__
        self.autocast: Any = None
        if self.device.startswith("cuda") and precision != "fp32":
            bf16 = torch.cuda.is_bf16_supported()
            self.autocast = torch.float16 if precision == "fp16" or not bf16 else torch.bfloat16
        self._pretrained = pretrained
        size = getattr(model.visual, "image_size", (224, 224))
        self.image_size = tuple(size) if isinstance(size, (tuple, list)) else (size, size)
        self.decode_min_side = 2 * int(max(self.image_size))  # JPEGs decode at reduced scale down to this
        out_dim = getattr(model.visual, "output_dim", None)
        if not isinstance(out_dim, int):
            with torch.inference_mode():
                probe = torch.zeros((1, 3, *self.image_size), device=self.device)
                out_dim = int(model.encode_image(probe).shape[-1])
        self.dim = int(out_dim)

    def describe(self) -> dict[str, Any]:
        return {
            "backend": "open_clip",
            "open_clip_version": self.open_clip_version,
            "arch": self.arch,
            "fingerprint": {
                "decode": f"{DECODE}; JPEG >= 2x{self.decode_min_side}px: DCT-scaled to >= {self.decode_min_side}px",
                "transform": repr(self.preprocess),
                "weights": {k: v for k, v in self.weights.items() if k != "file"},
                "output": "encode_image, L2-normalised",
            },
            "weights": self.weights,
            "image_size": list(self.image_size),
        }

    def spec(self) -> dict[str, Any]:
        return {"model": f"open_clip:{self.arch}", "pretrained": self._pretrained}

    def load(self, image: Any) -> Any:
        return self.preprocess(image)

    def collate(self, items: list[Any]) -> Any:
        import torch

        batch = torch.stack(items)
        return batch.pin_memory() if self.device.startswith("cuda") else batch

    def forward(self, batch: Any) -> np.ndarray:
        import torch
        import torch.nn.functional as F

        with torch.inference_mode():
            x = batch.to(self.device, non_blocking=True)
            if self.autocast is not None:
                with torch.autocast(device_type="cuda", dtype=self.autocast):
                    feats = self.model.encode_image(x)
            else:
                feats = self.model.encode_image(x)
            feats = F.normalize(feats.float(), dim=-1)
            return feats.cpu().numpy().astype(np.float32, copy=False)


# --------------------------------------------------------------------------- resolution
_CACHE: dict[tuple[Any, ...], Any] = {}
_CACHE_LOCK = threading.Lock()


def backend_from_spec(model: str | EmbeddingBackend | None = None, pretrained: str | None = None, *,
                      device: str | None = None, precision: str = "auto") -> tuple[EmbeddingBackend, str | None]:
    """The backend for ``model`` and an optional one-line notice.

    ``model=None`` means open_clip when weights are configured (``$CVOPS_CLIP_WEIGHTS``: a
    checkpoint path or a tag, with ``$CVOPS_CLIP_MODEL``, default ``ViT-B-32``), else
    ``imgstats`` with a notice saying so. The most recently loaded open_clip model is
    kept, so repeated calls do not reload it.

    Examples
    --------
    >>> b, notice = backend_from_spec("imgstats")
    >>> b.model_id, notice
    ('imgstats-v1', None)
    """
    notice = None
    if model is not None and not isinstance(model, str):
        if not isinstance(model, EmbeddingBackend):
            raise TypeError(f"model must be a name or an EmbeddingBackend, got {type(model).__name__}")
        return model, None
    if model is None:
        env_weights = os.environ.get("CVOPS_CLIP_WEIGHTS")
        if env_weights and pretrained is None:
            model, pretrained = "open_clip:" + os.environ.get("CVOPS_CLIP_MODEL", "ViT-B-32"), env_weights
        elif pretrained is not None:
            model = "open_clip:" + os.environ.get("CVOPS_CLIP_MODEL", "ViT-B-32")
        else:
            model = "imgstats"
            notice = ("embedding with model='imgstats' (image statistics): no open_clip weights configured; "
                      "pass model='open_clip:ViT-B-32', pretrained=... or set CVOPS_CLIP_WEIGHTS")
    if model in ("imgstats", f"imgstats-{_image_stats.VERSION}"):
        if pretrained is not None:
            raise EmbeddingError("model='imgstats' takes no pretrained weights")
        return ImageStatsBackend(), notice
    if model.startswith(("open_clip:", "openclip:")):
        arch = model.split(":", 1)[1]
        if pretrained is None and not arch.startswith(("hf-hub:", "local-dir:")):
            raise no_weights_error(arch)
        local = os.path.expanduser(pretrained) if pretrained else None
        key = (arch, pretrained, pick_device(device), precision,
               file_hash(local) if local and os.path.isfile(local) else None)
        with _CACHE_LOCK:
            if key not in _CACHE:
                _CACHE.clear()  # keep one model in memory
                _CACHE[key] = OpenClipBackend(arch, pretrained, device=device, precision=precision)  # type: ignore[arg-type]
            return _CACHE[key], notice
    raise EmbeddingError(f"unknown model {model!r}: use 'imgstats' or 'open_clip:<architecture>' "
                         "(e.g. 'open_clip:ViT-B-32' with pretrained=...)")


def backend_from_record(record: dict[str, Any], *, device: str | None = None) -> EmbeddingBackend:
    """Rebuild the backend of a stored embedding table, never fetching weights.

    A workspace's records are data, not instructions: the stored spec may rebuild
    ``imgstats`` (no weights) or an open_clip model from a local checkpoint file whose
    XXH3-64 matches the one recorded when the table was built. A pretrained tag, an
    ``hf-hub:`` name or any other weights are refused with an :class:`EmbeddingError`
    that names the model the table was built with and how to pass it.

    Parameters
    ----------
    record : dict
        The table's meta record (``table``, ``model``, ``spec``, ``preprocessing``).
    device : str, optional
        Where the rebuilt model runs.

    Returns
    -------
    EmbeddingBackend

    Examples
    --------
    >>> backend_from_record({"table": "emb_imgstats_v1", "spec": {"model": "imgstats"}}).model_id
    'imgstats-v1'
    >>> try:
    ...     backend_from_record({"table": "emb_x", "model": "open_clip:ViT-B-32@laion2b_s34b_b79k",
    ...                          "spec": {"model": "open_clip:ViT-B-32", "pretrained": "laion2b_s34b_b79k"}})
    ... except EmbeddingError as exc:
    ...     print(str(exc)[:58])
    emb_x was built with open_clip:ViT-B-32@laion2b_s34b_b79k;
    """
    spec = record.get("spec") or {}
    model = str(spec.get("model") or "")
    pretrained = spec.get("pretrained")
    table = str(record.get("table", "this table"))
    built = str(record.get("model") or model or "an unknown model")
    if model in ("imgstats", f"imgstats-{_image_stats.VERSION}") and pretrained is None:
        return ImageStatsBackend()
    if model.startswith(("open_clip:", "openclip:")) and isinstance(pretrained, str):
        weights = (record.get("preprocessing") or {}).get("weights") or {}
        expected = weights.get("xxh3_64") if isinstance(weights, dict) else None
        local = os.path.expanduser(pretrained)
        if expected and os.path.isfile(local) and file_hash(local) == expected:
            return backend_from_spec(model, local, device=device)[0]
    if model.startswith(("open_clip:", "openclip:")):
        how = (f"model={model!r}, pretrained=" + (f"{pretrained!r} (or a local checkpoint file)"
                                                  if isinstance(pretrained, str) else "'/path/to/checkpoint.pt'"))
    else:
        how = "model=<the EmbeddingBackend it was built with>"
    raise EmbeddingError(
        f"{table} was built with {built}; jupyter-cvops does not load or download weights because a "
        "workspace names them (only a local checkpoint whose hash matches the recorded one). "
        f"Pass the model yourself to embed a new image: ws.neighbors(..., {how}), "
        "or query by a stored image id or a vector")


def fingerprint(backend: EmbeddingBackend) -> str:
    """Hash (16 hex) of what determines a backend's vectors: decoding, preprocessing, weights.

    Examples
    --------
    >>> len(fingerprint(ImageStatsBackend()))
    16
    """
    desc = backend.describe()
    return xxhash.xxh3_64_hexdigest(json.dumps(desc.get("fingerprint", desc), sort_keys=True, default=str).encode())
