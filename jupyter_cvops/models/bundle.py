"""Serving bundles: one folder that carries a model version to a serving process, checked on load.

Layout (``ModelVersion.export_bundle(path)``)::

    artifact/...          the model artifact, byte for byte as registered
    preprocess.json       Preprocess.to_record() (null when none was registered)
    classes.json          the class list in output order
    card.md               the model card
    manifest.json         name, version, framework, task, fingerprint, classes, info, and the
                          SHA-256 of every other file

:func:`load_bundle` checks every file against the manifest, the artifact against its hash,
and the version id against the artifact, fingerprint and classes before loading anything.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import _artifacts
from ._errors import ArtifactIntegrityError, ModelError
from ._identity import version_id

if TYPE_CHECKING:
    from ..preprocess import Preprocess
    from .version import ModelVersion

BUNDLE_FORMAT = 1


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def export_bundle(mv: ModelVersion, path: Path, *, overwrite: bool = False) -> Path:
    """Write ``mv`` as a bundle folder at ``path`` (see the module docstring); returns ``path``.

    Examples
    --------
    >>> ws.model("defect-clf@production").export_bundle("serving/defect-clf")   # doctest: +SKIP
    """
    files = mv.artifact_files()  # checked against the recorded hash before it is copied
    pre = mv.preprocess
    content: dict[str, bytes] = {f"artifact/{name}": data for name, data in files.items()}
    content["preprocess.json"] = json.dumps(None if pre is None else pre.recorded or pre.to_record(),
                                            indent=1, sort_keys=True).encode()
    content["classes.json"] = json.dumps(list(mv.classes), indent=1).encode()
    content["card.md"] = mv._repr_markdown_().encode()
    manifest = {
        "bundle_format": BUNDLE_FORMAT, "name": mv.name, "version": mv.version, "framework": mv.framework,
        "task": mv.task, "artifact_hash": mv.artifact_hash, "preprocess_fingerprint": mv.preprocess_fingerprint,
        "classes": list(mv.classes), "run_id": mv.run_id, "dataset_version": mv.dataset_version,
        "taxonomy_version": mv.taxonomy_version, "metrics": mv.metrics, "info": mv.info,
        "files": {name: _sha(data) for name, data in sorted(content.items())},
    }
    if path.exists():
        if not overwrite and (not path.is_dir() or any(path.iterdir())):
            raise ModelError(f"{path} exists and is not empty; choose another folder or pass overwrite=True")
        if path.is_dir():
            shutil.rmtree(path)
        else:
            path.unlink()
    for name, data in content.items():
        (path / name).parent.mkdir(parents=True, exist_ok=True)
        (path / name).write_bytes(data)
    (path / "manifest.json").write_text(json.dumps(manifest, indent=1, sort_keys=True, default=str))
    return path


@dataclass(frozen=True)
class Bundle:
    """A checked bundle: what serving needs, without a workspace.

    Examples
    --------
    >>> b = load_bundle("serving/defect-clf")                 # doctest: +SKIP
    >>> model, pre = b.load(), b.preprocess                    # doctest: +SKIP
    >>> scores = model(torch.from_numpy(pre.batch(paths)))     # doctest: +SKIP
    """

    path: Path
    name: str
    version: str
    framework: str
    task: str
    classes: tuple[str, ...]
    fingerprint: str | None
    manifest: dict[str, Any] = field(repr=False)
    _files: dict[str, bytes] = field(repr=False)

    @property
    def preprocess(self) -> Preprocess | None:
        """The registered preprocessing, rebuilt from its record (its fingerprint is checked)."""
        record = json.loads(self._files["preprocess.json"])
        if record is None:
            return None
        from ..preprocess import Preprocess

        return Preprocess.from_record(record)

    @property
    def card(self) -> str:
        """The model card (Markdown)."""
        return self._files["card.md"].decode()

    def load(self, *, adapter: Any = None) -> Callable[..., Any]:
        """The model, loaded from the checked bytes (never unpickled)."""
        artifact = {k[len("artifact/"):]: v for k, v in self._files.items() if k.startswith("artifact/")}
        return _artifacts.load(self.framework, artifact, self.manifest.get("info") or {},
                               folder=self.path / "artifact", adapter=adapter)


def load_bundle(path: str | Path) -> Bundle:
    """Open a bundle folder: every file is checked against the manifest before anything is loaded.

    Raises :class:`~jupyter_cvops.models.ArtifactIntegrityError` naming the file that was
    changed, added or removed, or when the version id is not the hash of what the bundle holds.

    Examples
    --------
    >>> try:
    ...     load_bundle("/nowhere")
    ... except ModelError as e:
    ...     print(str(e)[:33])
    /nowhere is not a model bundle (n
    """
    root = Path(path)
    if not (root / "manifest.json").is_file():
        raise ModelError(f"{root} is not a model bundle (no manifest.json); write one with mv.export_bundle(path)")
    manifest = json.loads((root / "manifest.json").read_text())
    if manifest.get("bundle_format") != BUNDLE_FORMAT:
        raise ModelError(f"{root}: bundle format {manifest.get('bundle_format')!r} is not {BUNDLE_FORMAT}")
    files = {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*"))
             if p.is_file() and p.name != "manifest.json"}
    expected: dict[str, str] = manifest["files"]
    for name in sorted(set(expected) | set(files)):
        if name not in files:
            raise ArtifactIntegrityError(f"bundle {root}: {name} is missing")
        if name not in expected:
            raise ArtifactIntegrityError(f"bundle {root}: {name} is not in the manifest (added after export)")
        if _sha(files[name]) != expected[name]:
            raise ArtifactIntegrityError(f"bundle {root}: {name} does not match its hash in the manifest: it was "
                                         "changed after export; refusing to load it")
    artifact = {k[len("artifact/"):]: v for k, v in files.items() if k.startswith("artifact/")}
    if _artifacts.artifact_hash(artifact) != manifest["artifact_hash"]:
        raise ArtifactIntegrityError(f"bundle {root}: the artifact does not match the manifest's artifact hash")
    info = manifest.get("info") or {}
    arch = ({"path": info.get("architecture"), "kwargs": info.get("architecture_kwargs")}
            if manifest["framework"] == "torch-state-dict" else None)
    if version_id(manifest["artifact_hash"], manifest["preprocess_fingerprint"], manifest["classes"],
                  arch) != manifest["version"]:
        raise ArtifactIntegrityError(f"bundle {root}: version {manifest['version'][:12]} is not the hash of its "
                                     "artifact, preprocessing fingerprint and classes (the manifest was edited)")
    if json.loads(files["classes.json"]) != manifest["classes"]:
        raise ArtifactIntegrityError(f"bundle {root}: classes.json differs from the manifest's classes")
    record = json.loads(files["preprocess.json"])
    if (record or {}).get("fingerprint") != manifest["preprocess_fingerprint"]:
        raise ArtifactIntegrityError(f"bundle {root}: preprocess.json is not the manifest's preprocessing")
    return Bundle(path=root, name=manifest["name"], version=manifest["version"], framework=manifest["framework"],
                  task=manifest["task"], classes=tuple(manifest["classes"]),
                  fingerprint=manifest["preprocess_fingerprint"], manifest=manifest, _files=files)
