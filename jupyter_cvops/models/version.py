"""``ModelVersion``: one registered, content-addressed model version and what it was made from.

The version id is the hash of the artifact (the weights and, for torch.export/TorchScript, the
graph), the preprocessing fingerprint and the ordered class list (:func:`version_id`), so the
same model registered twice is the same version and any change is a new one.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import polars as pl

from .._store import Store
from .._store.aliases import alias_rows, fold
from . import _artifacts
from . import card as _card
from ._errors import ModelError

if TYPE_CHECKING:
    from ..preprocess import Preprocess


def read_preprocess(store: Store, fingerprint: str | None) -> Preprocess | None:
    """The ``Preprocess`` stored under ``fingerprint`` in ``preprocess_specs`` (rebuilt from its record).

    Examples
    --------
    >>> import tempfile
    >>> read_preprocess(Store.create(tempfile.mkdtemp() + "/ws"), None) is None
    True
    """
    if not fingerprint:
        return None
    from ..preprocess import Preprocess

    hit = store.read("preprocess_specs", where=f"fingerprint = '{fingerprint}'")
    if hit.height == 0:
        raise ModelError(f"the preprocessing {fingerprint[:12]} of this model is missing from preprocess_specs")
    return Preprocess.from_record(json.loads(hit["record"][0]))


@dataclass(frozen=True, eq=False)
class ModelVersion:
    """One registered model version. Get it from ``ws.model("name@alias")`` or ``ws.register_model(...)``.

    ``version`` is its content id; ``alias`` the alias it was looked up through (None when
    looked up by id); ``note`` what the call that returned it did when that was not plain
    (``"already registered"``). :meth:`load` returns the model, :attr:`preprocess` its
    preprocessing, :attr:`card` its model card (Markdown; shown as HTML in a notebook).

    Examples
    --------
    >>> mv = ws.model("defect-clf@production")              # doctest: +SKIP
    >>> mv.version[:12], mv.classes, mv.preprocess.fingerprint[:12]   # doctest: +SKIP
    >>> scores = mv.load()(mv.preprocess.batch(paths))      # doctest: +SKIP
    """

    store: Store = field(repr=False)
    name: str
    version: str
    created_at: datetime | None
    author: str | None
    run_id: str | None
    dataset_version: str | None
    taxonomy_version: int | None
    classes: tuple[str, ...]
    framework: str
    task: str
    artifact: str
    artifact_hash: str
    artifact_bytes: int
    preprocess_fingerprint: str | None
    metrics: dict[str, Any]
    card: str = field(repr=False)
    info: dict[str, Any] = field(repr=False)
    alias: str | None = None
    note: str | None = None

    @classmethod
    def from_row(cls, store: Store, row: Mapping[str, Any], *, alias: str | None = None,
                 note: str | None = None) -> ModelVersion:
        """Build from a ``model_versions`` row."""
        tax = row.get("taxonomy_version")
        return cls(store=store, name=str(row["model"]), version=str(row["version_id"]),
                   created_at=row.get("created_at"), author=row.get("author"), run_id=row.get("run_id"),
                   dataset_version=row.get("dataset_version"), taxonomy_version=None if tax is None else int(tax),
                   classes=tuple(json.loads(row.get("classes") or "[]")), framework=str(row["framework"]),
                   task=str(row.get("task") or "classification"), artifact=str(row["artifact"]),
                   artifact_hash=str(row["artifact_hash"]), artifact_bytes=int(row.get("artifact_bytes") or 0),
                   preprocess_fingerprint=row.get("preprocess_fingerprint"),
                   metrics=dict(json.loads(row.get("metrics") or "{}")), card=str(row.get("card") or ""),
                   info=dict(json.loads(row.get("info") or "{}")), alias=alias, note=note)

    # -- identity ----------------------------------------------------------------
    @property
    def short_version(self) -> str:
        """First 12 characters of the version id."""
        return self.version[:12]

    @property
    def ref(self) -> str:
        """``"name@alias"`` when looked up through an alias, else ``"name"`` + ``version=`` id in words."""
        return f"{self.name}@{self.alias}" if self.alias else f"{self.name} {self.short_version}"

    @property
    def aliases(self) -> tuple[str, ...]:
        """The aliases of this model that point at this version now."""
        _, state = fold(alias_rows(self.store, "model", self.name).iter_rows(named=True))
        return tuple(sorted(n for n, s in state.items() if s.version_id == self.version))

    @property
    def preprocess(self) -> Preprocess | None:
        """The preprocessing registered with this version (None if none was), rebuilt from its record.

        A wrapped transform comes back as a record stub (``runnable`` False): rebuild it with
        ``Preprocess.from_record(mv.preprocess.recorded, transform=your_transform)``.
        """
        return read_preprocess(self.store, self.preprocess_fingerprint)

    @property
    def artifact_path(self) -> Path:
        """The artifact's folder in the workspace."""
        from ._rows import artifact_root

        return artifact_root(self.store) / Path(self.artifact).parent

    # -- use -----------------------------------------------------------------------
    def artifact_files(self) -> dict[str, bytes]:
        """The artifact's files, read and checked against the recorded hash (:class:`ArtifactIntegrityError`)."""
        return _artifacts.read_checked(self.artifact_path, self.artifact_hash)

    def load(self, *, adapter: Any = None) -> Callable[..., Any]:
        """The model, ready to call (``eval()`` mode for torch), loaded without unpickling anything.

        The artifact is checked against its recorded hash first; a changed file raises
        :class:`~jupyter_cvops.models.ArtifactIntegrityError` and nothing is loaded.
        ``adapter`` replaces the recorded adapter class of an ``adapter`` artifact.
        """
        files = self.artifact_files()
        return _artifacts.load(self.framework, files, self.info, folder=self.artifact_path, adapter=adapter)

    def export_bundle(self, path: str | Path, *, overwrite: bool = False) -> Path:
        """Write a folder for serving: artifact, preprocessing spec, classes, card and a manifest of hashes.

        ``jupyter_cvops.models.load_bundle(path)`` checks every hash and loads it back.
        """
        from .bundle import export_bundle

        return export_bundle(self, Path(path), overwrite=overwrite)

    # -- display -------------------------------------------------------------------
    def facts(self) -> _card.CardFacts:
        """The facts of the model card (aliases as they are now)."""
        pre = self.preprocess if self.preprocess_fingerprint else None
        notes = self.info.get("notes")
        return _card.CardFacts(
            name=self.name, version=self.version, created_at=self.created_at, author=self.author,
            framework=self.framework, task=self.task, run_id=self.run_id, dataset_version=self.dataset_version,
            taxonomy_version=self.taxonomy_version, classes=self.classes,
            preprocess_fingerprint=self.preprocess_fingerprint,
            preprocess_description=None if pre is None else pre.describe(), metrics=self.metrics,
            notes=notes if isinstance(notes, str) else None, aliases=self.aliases)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able summary (what bundles and the CLI print)."""
        return {"name": self.name, "version": self.version, "alias": self.alias, "aliases": list(self.aliases),
                "created_at": None if self.created_at is None else self.created_at.isoformat(),
                "author": self.author, "run_id": self.run_id, "dataset_version": self.dataset_version,
                "taxonomy_version": self.taxonomy_version, "classes": list(self.classes),
                "framework": self.framework, "task": self.task, "artifact_hash": self.artifact_hash,
                "preprocess_fingerprint": self.preprocess_fingerprint, "metrics": self.metrics}

    def __repr__(self) -> str:
        via = f" via @{self.alias}" if self.alias else ""
        note = f"; {self.note}" if self.note else ""
        return (f"ModelVersion({self.name!r}, {self.short_version}{via}, {self.framework}, "
                f"{len(self.classes)} classes{note})")

    def _repr_markdown_(self) -> str:
        return _card.markdown(self.facts())

    def _repr_html_(self) -> str:
        return _card.to_html(self.facts())


def versions_frame(rows: pl.DataFrame, aliases: Mapping[tuple[str, str], list[str]]) -> pl.DataFrame:
    """A listing of ``model_versions`` rows with their current aliases (pure).

    Examples
    --------
    >>> versions_frame(pl.DataFrame(schema={"model": pl.String, "version_id": pl.String}), {}).columns[:3]
    ['model', 'version', 'aliases']
    """
    names = [aliases.get((m, v), []) for m, v in zip(rows["model"].to_list(), rows["version_id"].to_list())]
    cols = [c for c in ("created_at", "author", "framework", "task", "run_id", "dataset_version",
                        "taxonomy_version", "preprocess_fingerprint", "classes") if c in rows.columns]
    out = rows.select("model", pl.col("version_id").alias("version"), *cols)
    out = out.with_columns(pl.Series("aliases", names, dtype=pl.List(pl.String)))
    if "classes" in out.columns:
        out = out.with_columns(pl.col("classes").map_elements(lambda s: len(json.loads(s or "[]")),
                                                             return_dtype=pl.Int64).alias("n_classes")).drop("classes")
    return out.select("model", "version", "aliases", *[c for c in out.columns if c not in ("model", "version",
                                                                                        "aliases")])
