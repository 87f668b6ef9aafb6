"""The exact environment a run ran in: Python, platform, every installed package, torch, CUDA, GPUs.

Nothing here imports torch or initialises CUDA: torch's facts come from the imported
module when the user's code has imported it (and CUDA from the live context when it is
initialised), otherwise from torch's installed files and ``nvidia-smi``. Importing
torch costs seconds and initialising CUDA in a parent process breaks forked data-loader
workers, so a run must not do either behind the user's back.
"""

from __future__ import annotations

import ast
import json
import platform
import shutil
import site
import subprocess
import sys
import sysconfig
from importlib import metadata, util
from pathlib import Path
from typing import Any

#: Packages named in summaries (the snapshot card's payload, the run card), when installed.
KEY_PACKAGES = (
    "jupyter-cvops", "numpy", "polars", "pyarrow", "lancedb", "pylance", "torch", "torchvision",
    "open_clip_torch", "opencv-python-headless", "opencv-python", "pillow", "scikit-learn", "jupyterlab",
    "ipykernel", "anywidget", "plotly",
)


def _install_paths() -> list[str]:
    """``sys.path`` without folders that lie inside a site-packages folder: a package's vendored copies
    (Ray puts ``ray/thirdparty_files`` on ``sys.path`` when imported) are not installed distributions,
    and ``pip list`` does not show them."""
    roots = set()
    for where in {sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"], site.getusersitepackages()}:
        try:
            roots.add(Path(where).resolve())
        except OSError:
            continue
    keep = []
    for entry in sys.path:
        try:
            path = Path(entry or ".").resolve()
        except OSError:
            continue
        if not any(root in path.parents for root in roots):
            keep.append(entry)
    return keep


def installed_packages() -> dict[str, str]:
    """Every installed distribution and its version, as ``importlib.metadata`` sees them.

    Names are as the distributions spell them, sorted case-insensitively; where one name is
    installed twice on ``sys.path`` the first (the one Python imports) wins.

    Examples
    --------
    >>> packages = installed_packages()
    >>> packages["polars"] == metadata.version("polars")
    True
    """
    found: dict[str, str] = {}
    seen: set[str] = set()
    for dist in metadata.distributions(path=_install_paths()):
        name = dist.metadata["Name"]
        if not name:
            continue
        key = _normalize(name)
        if key in seen:
            continue
        seen.add(key)
        found[name] = dist.version
    return dict(sorted(found.items(), key=lambda kv: kv[0].lower()))


def package_sources() -> dict[str, dict[str, Any]]:
    """Where packages installed from a path or a VCS came from (PEP 610 ``direct_url.json``).

    A version number does not say which code an editable install or a git install runs;
    this does: ``{"url": ..., "editable": bool, "commit": ...}`` per such package.

    Examples
    --------
    >>> isinstance(package_sources(), dict)
    True
    """
    out: dict[str, dict[str, Any]] = {}
    for dist in metadata.distributions():
        name = dist.metadata["Name"]
        if not name or name in out:
            continue
        try:
            text = dist.read_text("direct_url.json")
            raw = json.loads(text) if text else None
        except (OSError, ValueError):
            continue
        if not isinstance(raw, dict) or "url" not in raw:
            continue
        entry: dict[str, Any] = {"url": str(raw["url"])}
        dir_info = raw.get("dir_info")
        if isinstance(dir_info, dict):
            entry["editable"] = bool(dir_info.get("editable", False))
        vcs = raw.get("vcs_info")
        if isinstance(vcs, dict):
            entry["vcs"] = vcs.get("vcs")
            entry["commit"] = vcs.get("commit_id")
        out[name] = entry
    return dict(sorted(out.items(), key=lambda kv: kv[0].lower()))


def _normalize(name: str) -> str:
    """PEP 503 normalisation (``Open_Clip.Torch`` -> ``open-clip-torch``)."""
    out = name.lower()
    for ch in "_.":
        out = out.replace(ch, "-")
    return out


def _torch_version_file() -> dict[str, Any]:
    """``torch/version.py`` read as text (never imported): version, CUDA, HIP, git version."""
    spec = util.find_spec("torch") if "torch" not in sys.modules else None
    locations = list(spec.submodule_search_locations or []) if spec is not None else []
    for folder in locations:
        path = Path(folder) / "version.py"
        if not path.is_file():
            continue
        values: dict[str, Any] = {}
        for node in ast.parse(path.read_text(encoding="utf-8")).body:
            target = node.targets[0] if isinstance(node, ast.Assign) else (
                node.target if isinstance(node, ast.AnnAssign) else None)
            value = getattr(node, "value", None)
            if isinstance(target, ast.Name) and isinstance(value, ast.Constant):
                values[target.id] = value.value
        return {"version": values.get("__version__"), "cuda": values.get("cuda"),
                "hip": values.get("hip"), "git_version": values.get("git_version")}
    return {}


def torch_facts() -> dict[str, Any] | None:
    """torch's version, the CUDA / cuDNN / HIP it was built with, and the GPUs it sees.

    None when torch is not installed. ``source`` says where the facts came from: the
    imported module (``"imported"``) or torch's files (``"files"``: torch was not imported,
    so nothing about the live device is known beyond ``nvidia-smi``).

    Examples
    --------
    >>> facts = torch_facts()
    >>> facts is None or "version" in facts
    True
    """
    torch = sys.modules.get("torch")
    if torch is None:
        facts = _torch_version_file()
        if not facts:
            return None
        facts["source"] = "files"
        facts["gpus"] = None
        return facts
    version = getattr(torch, "version", None)
    out: dict[str, Any] = {
        "source": "imported",
        "version": str(getattr(torch, "__version__", "")),
        "cuda": getattr(version, "cuda", None),
        "hip": getattr(version, "hip", None),
        "git_version": getattr(version, "git_version", None),
        "gpus": None,
    }
    try:
        cudnn = torch.backends.cudnn.version() if torch.backends.cudnn.is_available() else None
        out["cudnn"] = cudnn
        if torch.cuda.is_initialized():  # the user's code already uses the GPU: ask it
            out["gpus"] = [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
    except Exception as exc:  # a broken CUDA install must not stop a run from being recorded
        out["error"] = f"{type(exc).__name__}: {exc}"
    return out


def gpu_names() -> list[str] | None:
    """GPU names from ``nvidia-smi`` (None when it is not installed or fails; [] when it lists none).

    Examples
    --------
    >>> gpu_names() is None or isinstance(gpu_names(), list)
    True
    """
    exe = shutil.which("nvidia-smi")
    if exe is None:
        return None
    try:
        done = subprocess.run([exe, "--query-gpu=name,driver_version", "--format=csv,noheader"],
                              capture_output=True, text=True, timeout=10, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    if done.returncode != 0:
        return None
    return [line.split(",")[0].strip() for line in done.stdout.splitlines() if line.strip()]


def environment(*, packages: bool = True) -> dict[str, Any]:
    """Python, platform, installed packages (all of them), torch, CUDA and GPUs.

    Parameters
    ----------
    packages
        Include every installed package (``packages``) and where path/VCS installs came from
        (``package_sources``); ``False`` lists only :data:`KEY_PACKAGES` (for small payloads).

    Examples
    --------
    >>> env = environment()
    >>> env["python"] == platform.python_version(), "numpy" in env["packages"]
    (True, True)
    """
    every = installed_packages()
    normalized = {_normalize(k): k for k in every}
    key = {normalized[_normalize(n)]: every[normalized[_normalize(n)]]
           for n in KEY_PACKAGES if _normalize(n) in normalized}
    torch = torch_facts()
    gpus = torch.get("gpus") if torch else None
    if gpus is None:
        gpus = gpu_names()
    out: dict[str, Any] = {
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "machine": platform.machine(),
        "executable": sys.executable,
        "packages": every if packages else key,
        "key_packages": key,
        "torch": torch.get("version") if torch else None,
        "cuda": torch.get("cuda") if torch else None,
        "torch_info": torch,
        "gpus": gpus,
    }
    if packages:
        out["package_sources"] = package_sources()
    return out


def summary(env: dict[str, Any]) -> str:
    """One line: ``Python 3.11.9, torch 2.5.1 (CUDA 12.4), 1 GPU (NVIDIA H100), 291 packages``.

    Examples
    --------
    >>> summary({"python": "3.11.9", "torch": "2.5.1", "cuda": "12.4", "gpus": ["H100"],
    ...          "packages": {"a": "1", "b": "2"}})
    'Python 3.11.9, torch 2.5.1 (CUDA 12.4), 1 GPU (H100), 2 packages'
    >>> summary({})
    'environment not recorded'
    """
    if not env:
        return "environment not recorded"
    parts = [f"Python {env.get('python', '?')}"]
    if env.get("torch"):
        parts.append(f"torch {env['torch']}" + (f" (CUDA {env['cuda']})" if env.get("cuda") else " (CPU build)"))
    gpus = env.get("gpus")
    if gpus:
        names = sorted(set(gpus))
        parts.append(f"{len(gpus)} GPU{'s' if len(gpus) > 1 else ''} ({', '.join(names)})")
    packages = env.get("packages")
    if isinstance(packages, dict):
        parts.append(f"{len(packages)} packages")
    return ", ".join(parts)
