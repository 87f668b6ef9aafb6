"""The example notebooks run headless (nbclient) from start to end."""

from __future__ import annotations

import shutil
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

NOTEBOOKS = Path(__file__).resolve().parents[1] / "example_notebooks"


@pytest.mark.slow
def test_01_version_your_data(tmp_path: Path) -> None:
    src = NOTEBOOKS / "01_version_your_data.ipynb"
    nb = nbformat.read(src, as_version=4)
    shutil.copy(src, tmp_path / src.name)
    NotebookClient(nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}).execute()
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []) if o.output_type == "error"]
    assert not errors
    texts = "\n".join(
        o.get("text", "") or str(o.get("data", {}).get("text/plain", ""))
        for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])
    )
    assert "cvops snapshot 'notebook-run'" in texts  # the text fallback outside JupyterLab
    bundles = [o["data"] for c in nb.cells for o in c.get("outputs", [])
               if o.get("output_type") == "display_data" and "application/vnd.cvops.snapshot+json" in o.get("data", {})]
    assert len(bundles) == 1
    assert "CHANGED" in texts or "changed" in texts
