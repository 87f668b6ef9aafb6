"""dir(jupyter_cvops) lists the lazily imported names without importing them."""

from __future__ import annotations

import subprocess
import sys

import jupyter_cvops


def test_dir_lists_lazy_names() -> None:
    names = dir(jupyter_cvops)
    for name in ("Workspace", "WorkspaceError", "review", "agreement_view", "drift_view", "__version__"):
        assert name in names


def test_dir_does_not_import_lazy_modules() -> None:
    code = (
        "import sys, jupyter_cvops; names = dir(jupyter_cvops); "
        "assert 'Workspace' in names, names; "
        "assert 'jupyter_cvops.workspace' not in sys.modules; "
        "assert 'jupyter_cvops.widgets' not in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
