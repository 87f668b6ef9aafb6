"""Model artifacts: saving a model in a safe format, hashing it, and loading it back without unpickling.

An artifact is a folder of files (usually one). Its hash is the SHA-256 of the sorted lines
``<sha256 of the file>  <relative path>``, so it names the content. Formats:

``torch.export``
    ``torch.export.export`` + ``torch.export.save`` (``model.pt2``), with a dynamic batch
    dimension where the model allows it. The archive is refused at load time if it holds
    pickled custom or opaque objects, and every tensor inside is read with
    ``weights_only=True`` (forced, so torch's fallback to a full unpickle cannot happen).
``torchscript``
    ``torch.jit.script`` (or ``trace`` with an example input) + ``torch.jit.save``
    (``model.ts``); loaded by TorchScript's own deserializer.
``torch-state-dict``
    The ``state_dict`` as safetensors (``weights.safetensors``) + an importable architecture
    ``"package.module:ClassName"`` and its keyword arguments (the class must be a
    ``torch.nn.Module``).
``skops``
    scikit-learn estimators through ``skops.io`` (only when skops is installed); loading
    trusts no type beyond skops' defaults.
``adapter``
    Any other model through a :class:`ModelAdapter` subclass the user names; it writes and
    reads its own files.

Loading reads the files into memory, checks them against the recorded hash, and only then
deserializes those same bytes: a changed artifact is refused before anything is loaded.

A workspace in a bucket keeps its artifacts there, under ``<workspace URI>/.cvops/artifacts/<hash>/``
(:func:`~jupyter_cvops.models._artifact_store.mirror`): :func:`write` uploads them, and :func:`read_checked` fetches a missing (or
damaged) local copy from the bucket into the machine's cache before the same hash check.
"""

from __future__ import annotations

import hashlib
import importlib
import io
import json
import os
import shutil
import tempfile
import threading
import warnings
import zipfile
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ._artifact_store import download, remote_of, upload
from ._errors import ArtifactIntegrityError, ModelError

FORMATS: tuple[str, ...] = ("torch.export", "torchscript", "torch-state-dict", "skops", "adapter")
FILE_NAMES: dict[str, str] = {"torch.export": "model.pt2", "torchscript": "model.ts",
                              "torch-state-dict": "weights.safetensors", "skops": "model.skops"}
_FORCE = threading.Lock()


class ModelAdapter(ABC):
    """Base class of adapters: how a model of another kind is saved to files and loaded back.

    Subclass it in an importable module (its ``"module:ClassName"`` path is recorded and
    imported again to load). ``save`` writes the model's files into ``folder`` and may
    return a JSON-able dict (kept in the version's info); ``load`` returns a callable.
    The adapter decides how its files are read: keep it free of pickle.

    Examples
    --------
    >>> class Doubler(ModelAdapter):
    ...     def save(self, model, folder):
    ...         (folder / "factor.json").write_text("2")
    ...     def load(self, folder):
    ...         k = int((folder / "factor.json").read_text())
    ...         return lambda x: x * k
    >>> import tempfile, pathlib
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> Doubler().save(None, d); Doubler().load(d)(21)
    42
    """

    @abstractmethod
    def save(self, model: Any, folder: Path) -> Mapping[str, Any] | None:
        """Write ``model``'s files into ``folder``."""

    @abstractmethod
    def load(self, folder: Path) -> Callable[..., Any]:
        """Read the files of ``folder`` back into a callable model."""


@dataclass
class Saved:
    """What :func:`save` wrote: the format, the files (relative path -> bytes), and facts for the record."""

    framework: str
    files: dict[str, bytes]
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def hash(self) -> str:
        """The artifact hash (see :func:`artifact_hash`)."""
        return artifact_hash(self.files)

    @property
    def n_bytes(self) -> int:
        """Total size of the files."""
        return sum(len(b) for b in self.files.values())


def file_hashes(files: Mapping[str, bytes]) -> dict[str, str]:
    """Relative path -> SHA-256 of its bytes, sorted by path.

    Examples
    --------
    >>> file_hashes({"b": b"", "a": b"x"})["a"][:12]
    '2d711642b726'
    """
    return {name: hashlib.sha256(files[name]).hexdigest() for name in sorted(files)}


def artifact_hash(files: Mapping[str, bytes]) -> str:
    """SHA-256 of the sorted ``<file hash>  <path>`` lines: the artifact's content id.

    Examples
    --------
    >>> artifact_hash({"m": b"1"}) == artifact_hash({"m": b"1"}) != artifact_hash({"m": b"2"})
    True
    """
    lines = "".join(f"{h}  {name}\n" for name, h in file_hashes(files).items())
    return hashlib.sha256(lines.encode()).hexdigest()


def import_path(obj: Any) -> str:
    """``"module:QualName"`` of a class or function (what :func:`resolve_path` imports again).

    Examples
    --------
    >>> import_path(ModelAdapter)
    'jupyter_cvops.models._artifacts:ModelAdapter'
    """
    target = obj if isinstance(obj, type) or callable(obj) and hasattr(obj, "__qualname__") else type(obj)
    return f"{target.__module__}:{target.__qualname__}"


def resolve_path(path: str, base: type, what: str) -> type:
    """Import ``"module:ClassName"`` and check it is a subclass of ``base`` (nothing else is called).

    Examples
    --------
    >>> resolve_path("jupyter_cvops.models._artifacts:ModelAdapter", ModelAdapter, "an adapter").__name__
    'ModelAdapter'
    """
    module, _, qual = str(path).partition(":")
    if not module or not qual:
        raise ModelError(f"{what} must be an import path 'package.module:ClassName', not {path!r}")
    try:
        obj: Any = importlib.import_module(module)
        for part in qual.split("."):
            obj = getattr(obj, part)
    except (ImportError, AttributeError) as error:
        raise ModelError(f"cannot import {what} {path!r}: {error}; install or define it where Python can import "
                         "it (a class defined only in a notebook cannot be imported by another process)") from None
    if not (isinstance(obj, type) and issubclass(obj, base)):
        raise ModelError(f"{what} {path!r} is not a subclass of {base.__module__}.{base.__qualname__}")
    return obj


# ------------------------------------------------------------------------------------------------ detection
def is_torch_module(model: Any) -> bool:
    """Whether ``model`` is a ``torch.nn.Module`` (TorchScript modules included)."""
    try:
        import torch
    except ImportError:  # pragma: no cover - torch is a dependency
        return False
    return isinstance(model, torch.nn.Module)


def is_sklearn(model: Any) -> bool:
    """Whether ``model`` is a scikit-learn estimator (by the module its class comes from)."""
    return any(c.__module__.split(".")[0] == "sklearn" for c in type(model).__mro__)


def default_format(model: Any, adapter: Any = None) -> str:
    """The format a model is saved in when none is asked for.

    Examples
    --------
    >>> import torch
    >>> default_format(torch.nn.Linear(2, 2))
    'torch.export'
    """
    if adapter is not None:
        return "adapter"
    if is_torch_module(model):
        import torch

        return "torchscript" if isinstance(model, torch.jit.ScriptModule) else "torch.export"
    if is_sklearn(model):
        return "skops"
    raise ModelError(
        f"cannot store a {type(model).__module__}.{type(model).__qualname__}: give a torch.nn.Module, a "
        "scikit-learn estimator, or name an adapter (a ModelAdapter subclass: adapter=MyAdapter) that saves "
        "and loads it without pickle")


# ------------------------------------------------------------------------------------------------ saving
def save(model: Any, format: str, *, example: tuple[Any, ...] | None = None, architecture: str | None = None,
         architecture_kwargs: Mapping[str, Any] | None = None, adapter: Any = None) -> Saved:
    """Serialize ``model`` in ``format`` (see the module docstring); nothing is written to disk yet.

    Examples
    --------
    >>> import torch
    >>> s = save(torch.nn.Linear(2, 3), "torch.export", example=(torch.zeros(2, 2),))
    >>> s.framework, list(s.files), s.info["dynamic_batch"]
    ('torch.export', ['model.pt2'], True)
    """
    if format not in FORMATS:
        raise ModelError(f"unknown model format {format!r}; choose one of {', '.join(FORMATS)}")
    if format == "adapter":
        return _save_adapter(model, adapter)
    if format == "skops":
        return _save_skops(model)
    if not is_torch_module(model):
        raise ModelError(f"format {format!r} needs a torch.nn.Module, not a {type(model).__qualname__}")
    if format == "torch.export":
        return _save_export(model, example)
    if format == "torchscript":
        return _save_script(model, example)
    return _save_state_dict(model, architecture, architecture_kwargs)


def _save_export(model: Any, example: tuple[Any, ...] | None) -> Saved:
    import torch

    if example is None:
        raise ModelError("torch.export needs an example input: pass example_input=, or preprocess= (the example "
                         "is then one preprocessed image)")
    # a batch of one is specialised by torch.export: export with two copies so the batch size stays free
    example = tuple(torch.cat([x, x]) if isinstance(x, torch.Tensor) and x.dim() > 0 and x.shape[0] == 1 else x
                    for x in example)
    batch = torch.export.Dim("batch", min=1)
    shapes = tuple({0: batch} if isinstance(x, torch.Tensor) and x.dim() > 0 else None for x in example)
    info: dict[str, Any] = {"torch": torch.__version__, "dynamic_batch": True}
    with eval_mode(model):
        try:
            program = torch.export.export(model, example, dynamic_shapes=shapes)
        except Exception:
            info["dynamic_batch"] = False
            try:
                program = torch.export.export(model, example)
            except Exception as error:
                first = str(error).splitlines()[0] if str(error) else ""
                raise ModelError(f"torch.export could not capture this model ({type(error).__name__}: {first}); "
                                 "try format='torchscript' or format='torch-state-dict' with architecture=") from None
    buf = io.BytesIO()
    torch.export.save(program, buf)
    info["inputs"] = [list(x.shape) for x in example if isinstance(x, torch.Tensor)]
    return Saved("torch.export", {FILE_NAMES["torch.export"]: buf.getvalue()}, info)


@contextmanager
def eval_mode(model: Any) -> Iterator[None]:
    """Run ``model`` in eval mode inside, then restore its mode (modules that cannot switch are left as they are).

    Examples
    --------
    >>> import torch
    >>> m = torch.nn.Dropout()
    >>> with eval_mode(m):
    ...     m.training
    False
    >>> m.training
    True
    """
    training = getattr(model, "training", None)
    try:
        model.eval()
    except NotImplementedError:  # torch.export's modules refuse eval()/train() ("not supported yet"): they
        training = None          # run as exported, so there is no mode to switch here or to restore after
    try:
        yield
    finally:
        if training is not None:
            model.train(training)


@contextmanager
def _quiet_jit() -> Iterator[None]:
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r".*torch\.jit.*deprecated", category=FutureWarning)
        yield


def _save_script(model: Any, example: tuple[Any, ...] | None) -> Saved:
    with eval_mode(model):
        return _script(model, example)


def _script(model: Any, example: tuple[Any, ...] | None) -> Saved:
    import torch

    with _quiet_jit():
        if isinstance(model, torch.jit.ScriptModule):
            scripted, how = model, "script"
        else:
            try:
                scripted, how = torch.jit.script(model), "script"
            except Exception as error:
                if example is None:
                    raise ModelError(f"torch.jit.script failed ({type(error).__name__}); pass example_input= to "
                                     "trace the model instead") from None
                scripted, how = torch.jit.trace(model, example), "trace"  # type: ignore[no-untyped-call]
        buf = io.BytesIO()
        torch.jit.save(scripted, buf)
    return Saved("torchscript", {FILE_NAMES["torchscript"]: buf.getvalue()},
                 {"torch": torch.__version__, "jit": how})


def _save_state_dict(model: Any, architecture: str | None, kwargs: Mapping[str, Any] | None) -> Saved:
    import torch
    from safetensors.torch import save

    if not architecture:
        architecture = import_path(type(model))
    resolve_path(architecture, torch.nn.Module, "the architecture")
    kw = dict(kwargs or {})
    try:
        json.dumps(kw, allow_nan=False)
    except (TypeError, ValueError) as error:
        raise ModelError(f"architecture_kwargs must be JSON (numbers, text, lists, dicts): {error}") from None
    state = {k: v.detach().cpu().contiguous().clone() for k, v in model.state_dict().items()}
    return Saved("torch-state-dict", {FILE_NAMES["torch-state-dict"]: save(state)},
                 {"torch": torch.__version__, "architecture": architecture, "architecture_kwargs": kw})


def _skops() -> Any:
    try:
        import skops.io as sio
    except ImportError:
        raise ModelError(
            "scikit-learn models are stored with skops (a format that loads without pickle), which is not "
            "installed: pip install skops; or wrap the model in a ModelAdapter") from None
    return sio


def _save_skops(model: Any) -> Saved:  # pragma: no cover - skops is optional and not installed in CI
    sio = _skops()
    return Saved("skops", {FILE_NAMES["skops"]: sio.dumps(model)}, {"skops": getattr(sio, "__version__", "")})


def _save_adapter(model: Any, adapter: Any) -> Saved:
    if adapter is None:
        raise ModelError("format='adapter' needs adapter= (a ModelAdapter subclass or instance)")
    cls = adapter if isinstance(adapter, type) else type(adapter)
    if not issubclass(cls, ModelAdapter):
        raise ModelError(f"adapter must subclass jupyter_cvops.models.ModelAdapter, not {cls.__qualname__}")
    instance = adapter() if isinstance(adapter, type) else adapter
    with tempfile.TemporaryDirectory() as tmp:
        extra = instance.save(model, Path(tmp)) or {}
        files = {p.relative_to(tmp).as_posix(): p.read_bytes() for p in sorted(Path(tmp).rglob("*")) if p.is_file()}
    if not files:
        raise ModelError(f"adapter {import_path(cls)} wrote no files")
    return Saved("adapter", files, {"adapter": import_path(cls), "adapter_info": dict(extra)})


# ------------------------------------------------------------------------------------------------ files
def write(folder: Path, files: Mapping[str, bytes]) -> None:
    """Write an artifact's files into ``folder`` (atomically: a temporary folder renamed into place).

    An existing folder of the same content is kept as it is (content addressing).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> f = pathlib.Path(tempfile.mkdtemp()) / "abc"
    >>> write(f, {"m.bin": b"1"}); write(f, {"m.bin": b"1"}); sorted(p.name for p in f.iterdir())
    ['m.bin']
    """
    remote = remote_of(folder)
    if remote is not None:
        upload(remote, files)  # the bucket holds the artifact; the local folder is this machine's cache
    if folder.is_dir():
        try:
            _read_local(folder, artifact_hash(files), set(files))
            return
        except ArtifactIntegrityError:
            shutil.rmtree(folder)  # a damaged copy of this content: write it again
    _write_local(folder, files)


def _write_local(folder: Path, files: Mapping[str, bytes]) -> None:
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".tmp-", dir=folder.parent))
    try:
        for name, data in files.items():
            (tmp / name).parent.mkdir(parents=True, exist_ok=True)
            (tmp / name).write_bytes(data)
        os.replace(tmp, folder)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def read_checked(folder: Path, expected: str, names: set[str] | None = None) -> dict[str, bytes]:
    """The files of ``folder``, read into memory and checked against ``expected`` (the artifact hash).

    Raises :class:`ArtifactIntegrityError` (saying which file differs, when ``names`` are known)
    before anything is deserialized.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> f = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (f / "m.bin").write_bytes(b"1")
    >>> list(read_checked(f, artifact_hash({"m.bin": b"1"})))
    ['m.bin']
    """
    remote = remote_of(folder)
    if remote is None:
        return _read_local(folder, expected, names)
    try:
        return _read_local(folder, expected, names)
    except ArtifactIntegrityError:  # not cached on this machine yet, or damaged here: the bucket's copy
        fetched = download(remote)
        if not fetched:
            raise ArtifactIntegrityError(f"the model artifact {remote} is missing") from None
        if folder.exists():
            shutil.rmtree(folder)
        _write_local(folder, fetched)
    try:
        return _read_local(folder, expected, names)
    except ArtifactIntegrityError as error:
        shutil.rmtree(folder, ignore_errors=True)
        raise ArtifactIntegrityError(str(error).replace(str(folder), remote)) from None


def _read_local(folder: Path, expected: str, names: set[str] | None = None) -> dict[str, bytes]:
    if not folder.is_dir():
        raise ArtifactIntegrityError(f"the model artifact {folder} is missing")
    files = {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}
    if artifact_hash(files) != expected:
        what = ""
        if names is not None and set(files) != names:
            what = f" (files {sorted(files)}, expected {sorted(names)})"
        raise ArtifactIntegrityError(
            f"the model artifact in {folder} does not match its recorded hash {expected[:12]}{what}: it was "
            "changed or damaged after it was registered; refusing to load it")
    return files


# ------------------------------------------------------------------------------------------------ loading
@contextmanager
def _weights_only() -> Iterator[None]:
    """Force every ``torch.load`` inside to ``weights_only=True`` (torch.export falls back otherwise)."""
    with _FORCE:
        old = os.environ.get("TORCH_FORCE_WEIGHTS_ONLY_LOAD")
        os.environ["TORCH_FORCE_WEIGHTS_ONLY_LOAD"] = "1"
        try:
            yield
        finally:
            if old is None:
                os.environ.pop("TORCH_FORCE_WEIGHTS_ONLY_LOAD", None)
            else:
                os.environ["TORCH_FORCE_WEIGHTS_ONLY_LOAD"] = old


def _check_pt2(data: bytes) -> None:
    try:
        names = zipfile.ZipFile(io.BytesIO(data)).namelist()
    except zipfile.BadZipFile:
        raise ModelError("the torch.export artifact is not a .pt2 archive") from None
    pickled = [n for n in names if "/constants/" in n and n.rsplit("/", 1)[-1].startswith(("custom_obj_",
                                                                                          "opaque_obj_"))]
    if pickled:
        raise ModelError(f"the torch.export archive holds pickled objects ({', '.join(pickled[:3])}); "
                         "loading them would unpickle arbitrary code, so it is refused")


def load(framework: str, files: Mapping[str, bytes], info: Mapping[str, Any], *, folder: Path | None = None,
         adapter: Any = None) -> Callable[..., Any]:
    """Deserialize checked artifact bytes (from :func:`read_checked`) into a callable model.

    Examples
    --------
    >>> import torch
    >>> torch.manual_seed(0) and None
    >>> s = save(torch.nn.Linear(2, 3), "torchscript")
    >>> load(s.framework, s.files, s.info)(torch.ones(1, 2)).shape
    torch.Size([1, 3])
    """
    if framework == "torch.export":
        import torch

        data = files[FILE_NAMES[framework]]
        _check_pt2(data)
        with _weights_only():
            return torch.export.load(io.BytesIO(data)).module()
    if framework == "torchscript":
        import torch

        with _quiet_jit():
            script: Any = torch.jit.load(io.BytesIO(files[FILE_NAMES[framework]]),  # type: ignore[no-untyped-call]
                                         map_location="cpu")
        return script.eval()  # type: ignore[no-any-return]
    if framework == "torch-state-dict":
        import torch
        from safetensors.torch import load as load_tensors

        cls = resolve_path(str(info.get("architecture")), torch.nn.Module, "the architecture")
        module = cls(**dict(info.get("architecture_kwargs") or {}))
        module.load_state_dict(load_tensors(files[FILE_NAMES[framework]]))
        return module.eval()  # type: ignore[no-any-return]
    if framework == "skops":  # pragma: no cover - skops is optional and not installed in CI
        sio = _skops()
        data = files[FILE_NAMES[framework]]
        untrusted = sio.get_untrusted_types(data=data)
        if untrusted:
            raise ModelError(f"the skops artifact holds types skops does not trust ({', '.join(untrusted[:5])}); "
                             "refusing to load it")
        return sio.loads(data)  # type: ignore[no-any-return]
    if framework == "adapter":
        if folder is None:
            raise ModelError("an adapter artifact loads from its folder")
        given: type | None = type(adapter) if adapter is not None and not isinstance(adapter, type) else adapter
        if given is None:
            given = resolve_path(str(info.get("adapter")), ModelAdapter, "the adapter")
        elif not issubclass(given, ModelAdapter):
            raise ModelError(f"adapter must subclass ModelAdapter, not {given.__qualname__}")
        instance: ModelAdapter = adapter if adapter is not None and not isinstance(adapter, type) else given()
        return instance.load(folder)
    raise ModelError(f"cannot load a model stored as {framework!r} (this release knows {', '.join(FORMATS)})")


def example_args(example_input: Any) -> tuple[Any, ...] | None:
    """``example_input`` as a tuple of tensors (numpy arrays converted); None stays None.

    Examples
    --------
    >>> import numpy as np
    >>> example_args(np.zeros((1, 3), np.float32))[0].shape
    torch.Size([1, 3])
    """
    if example_input is None:
        return None
    import numpy as np
    import torch

    items: Sequence[Any] = example_input if isinstance(example_input, (tuple, list)) else (example_input,)
    return tuple(torch.from_numpy(np.ascontiguousarray(x)) if isinstance(x, np.ndarray) else x for x in items)
