"""What a run used: notebook, kernel and environment facts for run metadata."""

from __future__ import annotations

import os
import platform
import sys
from importlib import metadata
from typing import Any

KEY_PACKAGES = (
    "jupyter-cvops", "numpy", "polars", "pyarrow", "lancedb", "pylance", "torch", "torchvision",
    "open_clip_torch", "opencv-python-headless", "opencv-python", "pillow", "jupyterlab",
    "ipykernel", "anywidget", "plotly",
)


def environment() -> dict[str, Any]:
    """Python, platform and key package versions (missing packages are left out).

    Examples
    --------
    >>> "python" in environment()
    True
    """
    packages = {}
    for name in KEY_PACKAGES:
        try:
            packages[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return {
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "executable": sys.executable,
        "packages": packages,
    }


def kernel_info(user_ns: dict[str, Any] | None = None) -> dict[str, Any]:
    """Kernel id and notebook path when running in a Jupyter kernel (else Nones).

    Examples
    --------
    >>> sorted(kernel_info({}))
    ['kernel_id', 'notebook', 'pid']
    """
    notebook = None
    if user_ns is not None:
        notebook = user_ns.get("__session__") or user_ns.get("__vsc_ipynb_file__")
    notebook = notebook or os.environ.get("JPY_SESSION_NAME")
    kernel_id = None
    try:
        from ipykernel.connect import get_connection_file

        kernel_id = os.path.basename(get_connection_file()).removeprefix("kernel-").removesuffix(".json")
    except Exception:  # not in an ipykernel
        kernel_id = None
    return {"notebook": notebook, "kernel_id": kernel_id, "pid": os.getpid()}
