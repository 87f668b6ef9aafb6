"""The installed package registers its labextension and server extension; the wheel holds both."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from jupyter_cvops import __version__

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
ANSI = re.compile(r"\x1b\[[0-9;]*m")


def _jupyter(*args: str) -> str:
    """Run ``jupyter ARGS`` from the test venv; stdout and stderr together, colours removed."""
    done = subprocess.run([str(BIN / "jupyter"), *args], capture_output=True, text=True, timeout=120,
                          check=True)
    return ANSI.sub("", done.stdout + done.stderr)


def test_typescript_type_checks() -> None:
    """The labextension (js/src) and the widget bundles (js/widgets, built by esbuild, which
    does not type-check) pass ``tsc`` under the strict project settings."""
    tsc = REPO / "node_modules" / ".bin" / "tsc"
    if not tsc.exists():
        pytest.fail("node_modules missing: run make setup (npm install)")
    for project in ("tsconfig.json", "js/widgets/tsconfig.json"):
        done = subprocess.run([str(tsc), "--noEmit", "-p", project], cwd=REPO, capture_output=True, text=True,
                              timeout=300)
        assert done.returncode == 0, f"tsc -p {project}:\n{done.stdout}{done.stderr}"


def test_labextension_is_enabled_and_ok() -> None:
    out = _jupyter("labextension", "list")
    assert re.search(rf"^\s*jupyter-cvops v{re.escape(__version__)} enabled\s+OK\b", out, re.M), out


def test_server_extension_is_enabled_and_ok() -> None:
    out = _jupyter("server", "extension", "list")
    assert re.search(r"^\s*jupyter_cvops enabled\s*$", out, re.M), out
    assert re.search(rf"^\s*jupyter_cvops {re.escape(__version__)} OK\s*$", out, re.M), out


def _clean_checkout(dest: Path) -> Path:
    """Copy the files git knows (tracked, plus untracked ones not ignored) to ``dest``."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=REPO, capture_output=True, check=True,
    ).stdout.decode().split("\0")
    for rel in filter(None, listed):
        src = REPO / rel
        if src.is_file():
            (dest / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / rel)
    return dest


@pytest.mark.slow
def test_wheel_contains_labextension_server_config_and_widget_bundles(tmp_path: Path) -> None:
    if shutil.which("npm") is None or shutil.which("git") is None:
        pytest.fail("building the wheel needs npm (Node >= 20) and git on PATH")
    src = _clean_checkout(tmp_path / "src")
    out = tmp_path / "dist"
    subprocess.run([sys.executable, "-m", "pip", "wheel", str(src), "--no-deps", "-q", "-w", str(out)],
                   check=True, timeout=900)
    (wheel,) = out.glob("jupyter_cvops-*.whl")
    with zipfile.ZipFile(wheel) as zf:
        names = set(zf.namelist())
        data = f"jupyter_cvops-{__version__}.data/data/"
        ext = data + "share/jupyter/labextensions/jupyter-cvops/"
        for required in (
            ext + "package.json",
            ext + "install.json",
            data + "etc/jupyter/jupyter_server_config.d/jupyter_cvops.json",
            "jupyter_cvops/static/.built",
            "jupyter_cvops/_server/__init__.py",
            "jupyter_cvops/preprocess/golden/checkerboard.png",
        ):
            assert required in names, f"{required} missing from {wheel.name}"
        meta = json.loads(zf.read(ext + "package.json"))
        assert meta["name"] == "jupyter-cvops"
        build = meta["jupyterlab"]["_build"]
        assert re.fullmatch(r"static/remoteEntry\.[0-9a-f]+\.js", build["load"])
        assert ext + build["load"] in names
        assert {"extension", "mimeExtension", "style"} <= build.keys()
        server_config = json.loads(zf.read(data + "etc/jupyter/jupyter_server_config.d/jupyter_cvops.json"))
        assert server_config["ServerApp"]["jpserver_extensions"] == {"jupyter_cvops": True}
        install = json.loads(zf.read(ext + "install.json"))
        assert install["packageName"] == "jupyter-cvops"
