"""The environment lock of a recipe (``requirements.lock``: pip installs from it) and its diff with an environment.

Every package of the run's recorded environment is pinned to its exact version
(``name==version``); a package installed from a VCS is pinned to its commit
(``name @ git+URL@COMMIT``); one installed from a local path keeps ``name==version`` with
a comment naming the path (another machine needs that wheel or source). The header says
which Python, platform and accelerator the run used; pip ignores it.
"""

from __future__ import annotations

import platform
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

LOCK_FILE = "requirements.lock"
_LINE = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*(?:==\s*([^\s;#]+)|@\s*(\S+))")


def normalize(name: str) -> str:
    """PEP 503 name (``Open_Clip.Torch`` -> ``open-clip-torch``).

    Examples
    --------
    >>> normalize("Open_Clip.Torch")
    'open-clip-torch'
    """
    return re.sub(r"[-_.]+", "-", name).lower()


def accelerator(env: Mapping[str, Any]) -> dict[str, Any]:
    """The accelerator facts of a recorded environment: torch, CUDA, cuDNN, GPUs.

    Examples
    --------
    >>> accelerator({"torch": "2.5.1", "cuda": None, "gpus": []})
    {'torch': '2.5.1', 'cuda': None, 'cudnn': None, 'gpus': []}
    """
    info = env.get("torch_info") or {}
    return {"torch": env.get("torch"), "cuda": env.get("cuda"),
            "cudnn": info.get("cudnn") if isinstance(info, dict) else None, "gpus": env.get("gpus")}


def lock_text(env: Mapping[str, Any]) -> str:
    """``requirements.lock`` for a recorded environment (``runs._environment.environment()``'s dict).

    Examples
    --------
    >>> text = lock_text({"python": "3.11.9", "platform": "Linux", "packages": {"numpy": "2.1.0"},
    ...                   "package_sources": {}})
    >>> text.splitlines()[-1]
    'numpy==2.1.0'
    """
    acc = accelerator(env)
    gpus = acc["gpus"]
    lines = [
        "# Environment of a jupyter-cvops retrain recipe: pip install -r requirements.lock",
        f"# python {env.get('python', '?')} ({env.get('implementation', 'CPython')}) on {env.get('platform', '?')}",
        f"# accelerator: torch {acc['torch'] or '-'}, CUDA {acc['cuda'] or '- (CPU build)'}, cuDNN "
        f"{acc['cudnn'] or '-'}, GPUs: {', '.join(gpus) if gpus else 'none'}",
    ]
    sources: Mapping[str, Any] = env.get("package_sources") or {}
    for name, version in sorted(dict(env.get("packages") or {}).items(), key=lambda kv: normalize(kv[0])):
        src = sources.get(name) or {}
        url = str(src.get("url") or "")
        if src.get("vcs") and src.get("commit"):
            lines.append(f"{name} @ {src['vcs']}+{url}@{src['commit']}")
        elif url.startswith("file:"):
            how = "editable install" if src.get("editable") else "local install"
            lines.append(f"{name}=={version}  # {how} from {url}")
        else:
            lines.append(f"{name}=={version}")
    return "\n".join(lines) + "\n"


def parse_lock(text: str) -> dict[str, str]:
    """Package -> pinned version (``@ URL`` for direct references), names as written.

    Examples
    --------
    >>> parse_lock("# header\\nnumpy==2.1.0  # comment\\nfoo @ git+https://x/foo@abc\\n")
    {'numpy': '2.1.0', 'foo': '@ git+https://x/foo@abc'}
    """
    out: dict[str, str] = {}
    for line in text.splitlines():
        m = _LINE.match(line)
        if m:
            out[m.group(1)] = m.group(2) if m.group(2) else f"@ {m.group(3)}"
    return out


@dataclass
class EnvironmentDiff:
    """How an environment differs from a recipe's lock.

    ``missing``: (package, locked version) not installed; ``changed``: (package, locked,
    installed); ``extra``: packages installed but not locked (information only);
    ``python``: (locked, running) when the Python version differs.

    Examples
    --------
    >>> d = EnvironmentDiff(missing=[("fakepkg", "1.0")], changed=[("numpy", "2.1.0", "2.2.0")])
    >>> d.ok, d.summary()
    (False, '2 packages differ from the lock: fakepkg 1.0 not installed, numpy 2.1.0 -> 2.2.0')
    """

    missing: list[tuple[str, str]] = field(default_factory=list)
    changed: list[tuple[str, str, str]] = field(default_factory=list)
    extra: list[str] = field(default_factory=list)
    python: tuple[str, str] | None = None

    @property
    def ok(self) -> bool:
        """True when every locked package is installed at its version (and Python matches)."""
        return not (self.missing or self.changed or self.python)

    def summary(self, limit: int = 5) -> str:
        """One line naming the first differences."""
        parts = [f"{n} {v} not installed" for n, v in self.missing]
        parts += [f"{n} {a} -> {b}" for n, a, b in self.changed]
        n = len(parts)
        head = ", ".join(parts[:limit]) + (f" (and {n - limit} more)" if n > limit else "")
        py = f"Python {self.python[0]} -> {self.python[1]}" if self.python else ""
        if not n:
            return f"{py} differs from the lock" if py else "the environment matches the lock"
        what = f"{n} package{'s' if n > 1 else ''} differ{'s' if n == 1 else ''} from the lock: {head}"
        return f"{py}; {what}" if py else what

    def to_dict(self) -> dict[str, Any]:
        """JSON form (``--json``)."""
        return {"ok": self.ok, "missing": [{"package": n, "locked": v} for n, v in self.missing],
                "changed": [{"package": n, "locked": a, "installed": b} for n, a, b in self.changed],
                "extra": self.extra, "python": list(self.python) if self.python else None}


def environment_diff(locked: Mapping[str, str], installed: Mapping[str, str], *,
                     locked_python: str | None = None, python: str | None = None) -> EnvironmentDiff:
    """Compare a lock (:func:`parse_lock`) with installed packages (name -> version).

    Direct references (``@ URL``) are compared by presence only.

    Examples
    --------
    >>> environment_diff({"numpy": "2.1.0", "fakepkg": "1.0"}, {"NumPy": "2.1.0", "polars": "1.0"}).summary()
    '1 package differs from the lock: fakepkg 1.0 not installed'
    """
    have = {normalize(k): v for k, v in installed.items()}
    pinned = {normalize(k): (k, v) for k, v in locked.items()}
    out = EnvironmentDiff()
    for key, (name, version) in sorted(pinned.items()):
        if key not in have:
            out.missing.append((name, version))
        elif not version.startswith("@") and have[key] != version:
            out.changed.append((name, version, have[key]))
    out.extra = sorted(k for k in have if k not in pinned)
    running = python or platform.python_version()
    if locked_python and locked_python != running:
        out.python = (locked_python, running)
    return out
