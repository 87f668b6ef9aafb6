"""Start a real ``jupyter server`` / ``jupyter lab`` for tests and stop it afterwards.

Used by tests/test_server.py (as ``browser.jupyter_process``) and the browser tests.
"""

from __future__ import annotations

import json
import os
import secrets
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

#: The venv's bin folder (the one running the tests).
BIN = Path(sys.executable).parent


def free_port() -> int:
    """A TCP port nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Response:
    """Status, headers and decoded body of one HTTP answer."""

    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        """The body parsed as JSON."""
        return json.loads(self.body)


@dataclass
class JupyterProcess:
    """A running Jupyter server subprocess on 127.0.0.1.

    Parameters
    ----------
    app
        ``"server"`` or ``"lab"``.
    root_dir
        ``ServerApp.root_dir``.
    home
        Private folder for Jupyter config/data/runtime dirs and the server log.
    extra_args
        More command-line options (``--Class.trait=value``).
    """

    app: str
    root_dir: Path
    home: Path
    extra_args: list[str] = field(default_factory=list)
    token: str = field(default_factory=lambda: secrets.token_hex(16))
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """Base URL, without token."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def log_path(self) -> Path:
        """Combined stdout/stderr of the server."""
        return self.home / f"jupyter-{self.app}.log"

    def start(self, timeout: float = 90.0) -> JupyterProcess:
        """Launch the server and wait until ``/api/status`` answers."""
        for sub in ("config", "data", "runtime"):
            (self.home / sub).mkdir(parents=True, exist_ok=True)
        # no "news?" / update toasts: they animate over widgets and steal clicks
        settings = self.home / "lab-settings" / "@jupyterlab" / "apputils-extension"
        settings.mkdir(parents=True, exist_ok=True)
        (settings / "notification.jupyterlab-settings").write_text(
            '{"fetchNews": "false", "checkForUpdates": false}')
        env = {
            **os.environ,
            "JUPYTERLAB_SETTINGS_DIR": str(self.home / "lab-settings"),
            "JUPYTER_CONFIG_DIR": str(self.home / "config"),
            "JUPYTER_DATA_DIR": str(self.home / "data"),
            "JUPYTER_RUNTIME_DIR": str(self.home / "runtime"),
            "JUPYTER_PLATFORM_DIRS": "1",
        }
        cmd = [
            str(BIN / "jupyter"), self.app, "--no-browser", "--allow-root",
            f"--port={self.port}", "--ServerApp.port_retries=0", "--ServerApp.ip=127.0.0.1",
            f"--IdentityProvider.token={self.token}", f"--ServerApp.root_dir={self.root_dir}",
            *self.extra_args,
        ]
        log = self.log_path.open("wb")
        self.proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env,
                                     cwd=self.root_dir)
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"jupyter {self.app} exited early:\n{self.log()}")
            try:
                if self.get("/api/status").status == 200:
                    return self
            except OSError:
                pass
            time.sleep(0.2)
        self.stop()
        raise TimeoutError(f"jupyter {self.app} did not answer within {timeout} s:\n{self.log()}")

    def stop(self) -> None:
        """Terminate the server (kill after 15 s)."""
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=15)

    def log(self) -> str:
        """The server's output so far."""
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def get(self, path: str, params: dict[str, str] | None = None, *, token: bool = True) -> Response:
        """GET ``path`` (with the token in the Authorization header unless ``token=False``)."""
        url = self.url + path + ("?" + urllib.parse.urlencode(params) if params else "")
        headers = {"Authorization": f"token {self.token}"} if token else {}
        request = urllib.request.Request(url, headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=30) as answer:
                return Response(answer.status, dict(answer.headers), answer.read())
        except urllib.error.HTTPError as error:
            return Response(error.code, dict(error.headers), error.read())
