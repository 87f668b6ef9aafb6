"""``Recipe``: an exported notebook, pinned to its data, models, seeds and environment, that re-runs with one command.

A recipe is a folder (or one ``.zip`` of it)::

    recipe.yaml          what was pinned (see :meth:`Recipe.to_dict`) and a digest of it
    <notebook>.ipynb     the notebook, outputs stripped (its cells' content hash is in recipe.yaml)
    requirements.lock    every package of the source run's environment at its exact version
    executed/            notebooks executed by ``cvops retrain`` (not part of the digest)

Reading a recipe checks the digest of ``recipe.yaml``, the notebook's content hash and
the lock's hash, so a recipe edited by hand is refused with what to do.
"""

from __future__ import annotations

import hashlib
import json
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from ._errors import RecipeError
from ._lock import LOCK_FILE, parse_lock
from ._notebook import content_hash, read_notebook

SPEC_FILE = "recipe.yaml"
FORMAT = 1
_MAX_SPEC_BYTES = 8 << 20


def _canonical(spec: Mapping[str, Any]) -> bytes:
    body = {k: v for k, v in spec.items() if k != "digest"}
    return json.dumps(body, sort_keys=True, separators=(",", ":"), default=str).encode("utf-8")


def digest(spec: Mapping[str, Any]) -> str:
    """SHA-256 of everything in ``spec`` but its ``digest`` (canonical JSON).

    Examples
    --------
    >>> digest({"a": 1}) == digest({"a": 1, "digest": "x"})
    True
    """
    return hashlib.sha256(_canonical(spec)).hexdigest()


def file_hash(path: Path) -> str:
    """SHA-256 (hex) of a file's bytes.

    Examples
    --------
    >>> import tempfile
    >>> p = Path(tempfile.mkdtemp()) / "f"; _ = p.write_bytes(b"")
    >>> file_hash(p)[:12]
    'e3b0c44298fc'
    """
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def write_spec(folder: Path, spec: dict[str, Any]) -> dict[str, Any]:
    """Seal ``spec`` (its ``digest``) and write it as ``recipe.yaml`` in ``folder``; returns the sealed spec.

    Examples
    --------
    >>> import tempfile
    >>> sealed = write_spec(Path(tempfile.mkdtemp()), {"format": 1, "name": "x"})
    >>> sealed["digest"] == digest(sealed)
    True
    """
    sealed = {k: v for k, v in spec.items() if k != "digest"}
    sealed = json.loads(json.dumps(sealed, default=str))  # exactly what YAML reads back
    sealed["digest"] = digest(sealed)
    text = yaml.safe_dump(sealed, sort_keys=False, allow_unicode=True, width=110)
    (folder / SPEC_FILE).write_text(text, encoding="utf-8")
    return dict(sealed)


def _unpack(archive: Path) -> Path:
    """Extract a recipe archive beside itself (``<stem>/``) unless done; the folder."""
    stem = archive.name[: -len(".zip")]
    folder = archive.with_name(stem)
    try:
        with zipfile.ZipFile(archive) as zf:
            names = zf.namelist()
            bad = [n for n in names if n.startswith("/") or ".." in Path(n).parts]
            if bad:
                raise RecipeError(f"{archive}: refusing the archive, it names a path outside itself: {bad[0]}")
            if SPEC_FILE not in names:
                raise RecipeError(f"{archive} holds no {SPEC_FILE}: not a recipe archive")
            stale = (folder / SPEC_FILE).is_file() and (folder / SPEC_FILE).read_bytes() != zf.read(SPEC_FILE)
            if not (folder / SPEC_FILE).is_file() or stale:
                folder.mkdir(parents=True, exist_ok=True)
                zf.extractall(folder)
    except zipfile.BadZipFile as exc:
        raise RecipeError(f"{archive} is not a readable zip archive: {exc}") from None
    return folder


def write_archive(folder: Path, archive: Path) -> Path:
    """Zip the recipe files of ``folder`` (not ``executed/``) into ``archive``; returns it.

    Examples
    --------
    >>> write_archive(Path("recipes/train"), Path("recipes/train.zip"))   # doctest: +SKIP
    """
    with zipfile.ZipFile(archive, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for p in sorted(folder.iterdir()):
            if p.is_file():
                zf.write(p, p.name)
    return archive


class Recipe:
    """A retrain recipe read from disk, checked against its hashes.

    Attributes
    ----------
    path
        The recipe folder (an archive is extracted beside itself; ``archive`` names it).
    spec
        ``recipe.yaml`` as a dict (see :meth:`to_dict`).

    Examples
    --------
    >>> r = Recipe.load("recipes/train-defect-clf")        # doctest: +SKIP
    >>> r.name, r.parameters, r.expected_metrics           # doctest: +SKIP
    """

    def __init__(self, path: Path, spec: Mapping[str, Any], archive: Path | None = None) -> None:
        self.path = path
        self.archive = archive
        self.spec: dict[str, Any] = dict(spec)

    # -- reading ----------------------------------------------------------------------
    @classmethod
    def load(cls, path: str | Path | Recipe) -> Recipe:
        """Read the recipe at ``path`` (its folder, its ``recipe.yaml`` or a ``.zip``) and check its hashes.

        Raises :class:`RecipeError` when it is not a recipe or was edited by hand.

        Examples
        --------
        >>> Recipe.load("/no/such/recipe")
        Traceback (most recent call last):
        ...
        jupyter_cvops.recipes._errors.RecipeError: no recipe at /no/such/recipe (no such folder or archive)
        """
        if isinstance(path, Recipe):
            return cls.load(path.archive or path.path)
        p = Path(path).expanduser()
        archive = None
        if p.is_file() and p.name.endswith(".zip"):
            archive, p = p.resolve(), _unpack(p.resolve())
        elif p.is_file() and p.name == SPEC_FILE:
            p = p.parent
        if not p.is_dir():
            raise RecipeError(f"no recipe at {path} (no such folder or archive)")
        spec_path = p / SPEC_FILE
        if not spec_path.is_file():
            raise RecipeError(f"{p} is not a recipe: it has no {SPEC_FILE} (export one with cvops recipe export)")
        if spec_path.stat().st_size > _MAX_SPEC_BYTES:
            raise RecipeError(f"{spec_path} is larger than {_MAX_SPEC_BYTES >> 20} MiB: not a recipe")
        try:
            spec = yaml.safe_load(spec_path.read_text(encoding="utf-8"))
        except (OSError, yaml.YAMLError) as exc:
            raise RecipeError(f"{spec_path} is not readable YAML: {str(exc).splitlines()[0]}") from None
        if not isinstance(spec, dict) or "digest" not in spec or "notebook" not in spec:
            raise RecipeError(f"{spec_path} is not a recipe spec (no digest or notebook)")
        if int(spec.get("format") or 0) > FORMAT:
            raise RecipeError(f"{spec_path} was written by a newer jupyter-cvops (recipe format {spec['format']}); "
                              "upgrade jupyter-cvops")
        recipe = cls(p.resolve(), spec, archive)
        recipe._check_hashes()
        return recipe

    def _check_hashes(self) -> None:
        spec, name = self.spec, self.spec.get("name")
        redo = "undo the edit, or export the notebook again (cvops recipe export NOTEBOOK)"
        if digest(spec) != spec.get("digest"):
            raise RecipeError(f"recipe {name!r} was edited by hand: {SPEC_FILE} no longer matches its digest; {redo}")
        nb_file = self.path / str(spec["notebook"]["file"])
        if not nb_file.is_file():
            raise RecipeError(f"recipe {name!r} is incomplete: its notebook {nb_file.name} is missing; {redo}")
        got = content_hash(read_notebook(nb_file))
        if got != spec["notebook"]["hash"]:
            raise RecipeError(f"recipe {name!r} was edited by hand: {nb_file.name} hashes {got[:12]}, the recipe "
                              f"recorded {str(spec['notebook']['hash'])[:12]}; {redo}")
        lock = self.lock_path
        env = spec.get("environment") or {}
        if not lock.is_file():
            raise RecipeError(f"recipe {name!r} is incomplete: {LOCK_FILE} is missing; {redo}")
        if env.get("lock_hash") and file_hash(lock) != env["lock_hash"]:
            raise RecipeError(f"recipe {name!r} was edited by hand: {LOCK_FILE} no longer matches the hash "
                              f"recorded at export; {redo}")

    # -- what it pins -----------------------------------------------------------------
    @property
    def id(self) -> str:
        """The recipe id (hex)."""
        return str(self.spec["recipe_id"])

    @property
    def name(self) -> str:
        """The recipe's name."""
        return str(self.spec["name"])

    @property
    def workspace(self) -> str | None:
        """The workspace URI the notebook used."""
        ws = self.spec.get("workspace")
        return str(ws) if ws else None

    @property
    def notebook_path(self) -> Path:
        """The recipe's notebook (outputs stripped)."""
        return self.path / str(self.spec["notebook"]["file"])

    @property
    def lock_path(self) -> Path:
        """The environment lock (``pip install -r`` it)."""
        env = self.spec.get("environment") or {}
        return self.path / str(env.get("lock") or LOCK_FILE)

    @property
    def has_parameters(self) -> bool:
        """Whether the notebook has a cell tagged ``parameters`` (``-p`` works only then)."""
        return self.spec.get("parameters") is not None

    @property
    def parameters(self) -> dict[str, Any]:
        """The parameters' values at export (``{}`` without a parameters cell)."""
        return dict(self.spec.get("parameters") or {})

    @property
    def parameter_names(self) -> list[str]:
        """Every name the parameters cell assigns (literals and expressions)."""
        return sorted({*self.parameters, *(self.spec.get("parameter_expressions") or {})})

    @property
    def datasets(self) -> list[dict[str, Any]]:
        """The dataset versions it pins: version_id, name, names, taxonomy_version, n_images, via."""
        return [dict(d) for d in self.spec.get("datasets") or []]

    @property
    def expected_metrics(self) -> dict[str, dict[str, Any]]:
        """metric -> {value, tolerance} from the source run."""
        return {k: dict(v) for k, v in (self.spec.get("expected_metrics") or {}).items()}

    @property
    def source_run_id(self) -> str | None:
        """The run the recipe reproduces."""
        run = self.spec.get("source_run") or {}
        return str(run["run_id"]) if run.get("run_id") else None

    def locked_packages(self) -> dict[str, str]:
        """Package -> version from ``requirements.lock``."""
        return parse_lock(self.lock_path.read_text(encoding="utf-8"))

    def notebook(self) -> dict[str, Any]:
        """The recipe's notebook (nbformat 4 JSON)."""
        return read_notebook(self.notebook_path)

    def to_dict(self) -> dict[str, Any]:
        """Everything the recipe pins, as JSON, plus where it is.

        Keys: ``recipe_id``, ``name``, ``created_by``, ``created_at``, ``workspace``,
        ``notebook`` (file, hash, source), ``parameters`` (None without a parameters cell,
        then ``parameters_note`` says so), ``parameter_expressions``, ``source_run``,
        ``datasets``, ``taxonomy_version``, ``models`` (name, version, preprocess_fingerprint,
        framework), ``seeds``, ``git``, ``expected_metrics`` ({value, tolerance}),
        ``environment`` (python, platform, accelerator, packages, lock, lock_hash),
        ``digest``; and ``path``, ``archive``, ``pinned`` (a short summary: datasets,
        taxonomy, models, environment).

        Examples
        --------
        >>> Recipe.load("recipes/train").to_dict()["pinned"]["datasets"]   # doctest: +SKIP
        """
        env = self.spec.get("environment") or {}
        acc = env.get("accelerator") or {}
        pinned = {
            "datasets": [f"{d.get('name') or '-'} ({str(d['version_id'])[:12]})" for d in self.datasets],
            "taxonomy_version": self.spec.get("taxonomy_version"),
            "models": [f"{m['name']}:{str(m['version'])[:12]}" for m in self.spec.get("models") or []],
            "environment": f"Python {env.get('python')}, {env.get('packages')} packages, torch "
                           f"{acc.get('torch') or '-'} (CUDA {acc.get('cuda') or '-'})",
            "parameters": self.spec.get("parameters"),
            "seeds": self.spec.get("seeds"),
            "git_commit": (self.spec.get("git") or {}).get("commit"),
        }
        return {**self.spec, "path": str(self.path), "archive": str(self.archive) if self.archive else None,
                "pinned": pinned}

    def __repr__(self) -> str:
        d = self.to_dict()["pinned"]
        return (f"<Recipe {self.name!r} {self.id[:12]} at {self.path}: data {', '.join(d['datasets']) or '-'}, "
                f"taxonomy v{d['taxonomy_version']}, models {', '.join(d['models']) or '-'}; {d['environment']}>")
