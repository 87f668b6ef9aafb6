"""The re-run's kernel starts before the store opens: the CLI imports no LanceDB first, the recipe
context reaches the kernel through a file, and a refused re-run leaves no kernel and no files."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import psutil
import pytest
from recipe_helpers import Small

from jupyter_cvops._store import WorkspaceError
from jupyter_cvops._store.aliases import RECIPE_ENV, recipe_context
from jupyter_cvops.cli import main
from jupyter_cvops.recipes import _launch


def _kernels() -> list[psutil.Process]:
    return [p for p in psutil.Process().children(recursive=True) if "ipykernel" in " ".join(p.cmdline())]


def test_the_cli_and_the_launcher_import_no_lancedb() -> None:
    code = ("import sys, jupyter_cvops.cli\nfrom jupyter_cvops.recipes._launch import launch_kernel\n"
            "from jupyter_cvops.recipes.recipe import Recipe\n"
            "print(sorted(m for m in ('lancedb', 'lance', 'torch') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    assert out.stdout.strip() == "[]"


def test_the_context_is_read_from_a_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert _launch.RECIPE_ENV == RECIPE_ENV
    path = tmp_path / "ctx.json"
    path.write_text(json.dumps({"recipe_id": "r1", "inputs": []}))
    monkeypatch.setenv(RECIPE_ENV, f"@{path}")
    assert recipe_context() == {"recipe_id": "r1", "inputs": []}
    path.unlink()  # a re-run that never wrote it: refuse rather than let alias moves through
    with pytest.raises(WorkspaceError, match="cannot be read"):
        recipe_context()


def test_workspace_uri_is_what_the_store_opens(small: Small) -> None:
    assert _launch.workspace_uri(small.ws) == small.ws.store.uri
    assert _launch.workspace_uri(str(small.root / "ws" / ".." / "ws")) == small.ws.store.uri


def test_a_refused_rerun_leaves_no_kernel_and_no_files(small: Small, capsys: pytest.CaptureFixture[str]) -> None:
    path = Path(small.ws.version("baseline").items()["path"][3])
    path.write_bytes(path.read_bytes()[:-10] + b"0123456789")  # the kernel is booting while verify refuses
    assert main(["retrain", str(small.recipe.path), "--check"]) == 1
    assert "is changed since it was recorded" in capsys.readouterr().err
    assert not (small.recipe.path / "executed").exists()
    assert _kernels() == []


def test_an_unknown_kernel_is_refused_after_the_checks(small: Small) -> None:
    launch = _launch.launch_kernel(small.recipe, workspace_uri=small.ws.store.uri, kernel_name="no-such-kernel")
    assert launch.km is None and "no Jupyter kernel named 'no-such-kernel'" in str(launch.error)
    with pytest.raises(Exception, match="no Jupyter kernel named 'no-such-kernel'.*did not run"):
        _launch.raise_if_failed(launch)
    launch.shutdown()
    assert not (small.recipe.path / "executed").exists()


def test_the_kernel_imports_the_notebooks_modules_as_it_boots_and_binds_no_name(small: Small) -> None:
    assert _launch.notebook_imports(small.recipe.notebook()) == ["jupyter_cvops"]
    printed: list[dict[str, Any]] = []
    launch = _launch.launch_kernel(small.recipe, workspace_uri=small.ws.store.uri)
    try:
        kc = launch.km.client()
        kc.start_channels()
        try:
            from jupyter_core.utils import run_sync

            run_sync(kc.wait_for_ready)(timeout=120)
            code = ("import sys\nprint('jupyter_cvops' in sys.modules, "
                    "[n for n in ('cv', 'jupyter_cvops', 'importlib', '__cvops_preload') if n in globals()])")
            reply = run_sync(kc.execute_interactive)(code, timeout=60, output_hook=lambda m: printed.append(m))
        finally:
            kc.stop_channels()
    finally:
        launch.shutdown()
    assert reply["content"]["status"] == "ok"
    text = "".join(m["content"].get("text", "") for m in printed if m["msg_type"] == "stream")
    assert text.strip() == "True []"
    assert not launch.out.with_suffix(".preload.py").exists()

