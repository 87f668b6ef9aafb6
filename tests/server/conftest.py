"""Helpers the tests/server modules share: a real ``jupyter server`` with the extension, JSON requests,
refusal checks and polling a job (import them at module top: ``from conftest import ...``)."""

from __future__ import annotations

import json
import os
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from browser.jupyter_process import JupyterProcess, Response

#: The command-line switch that loads the server extension.
ENABLE = '--ServerApp.jpserver_extensions={"jupyter_cvops": True}'


@contextmanager
def jupyter_server(root: Path, home: Path, *args: str, pythonpath: Path | None = None) -> Iterator[JupyterProcess]:
    """A started ``jupyter server`` serving ``root`` with the extension (and ``args``); stopped after.

    ``pythonpath``: a folder put first on the server's ``PYTHONPATH`` (e.g. a test ``Authorizer``'s module)."""
    proc = JupyterProcess("server", root, home, [ENABLE, *args])
    with pytest.MonkeyPatch.context() as mp:  # Popen copies the environment at start
        if pythonpath is not None:
            path = os.environ.get("PYTHONPATH")
            mp.setenv("PYTHONPATH", os.pathsep.join([str(pythonpath), *([path] if path else [])]))
        proc.start()
    try:
        yield proc
    finally:
        proc.stop()


def request(proc: JupyterProcess, method: str, path: str, body: object = None, *, token: bool = True,
            opener: urllib.request.OpenerDirector | None = None, headers: dict[str, str] | None = None) -> Response:
    """``method path`` with ``body`` as JSON (bytes as they are); the token in the Authorization header
    unless ``token=False``."""
    heads = {"Content-Type": "application/json", **(headers or {})}
    if token:
        heads["Authorization"] = f"token {proc.token}"
    data = None if body is None else body if isinstance(body, bytes) else json.dumps(body).encode()
    req = urllib.request.Request(proc.url + path, data=data, headers=heads, method=method)
    try:
        with (opener or urllib.request.build_opener()).open(req, timeout=60) as answer:
            return Response(answer.status, dict(answer.headers), answer.read())
    except urllib.error.HTTPError as error:
        return Response(error.code, dict(error.headers), error.read())


def post(proc: JupyterProcess, path: str, body: object, **kwargs: Any) -> Response:
    """``POST path`` with ``body`` as JSON (see :func:`request`)."""
    return request(proc, "POST", path, body, **kwargs)


def refused(answer: Response, status: int, reason: str) -> dict[str, Any]:
    """Assert a refusal: ``status``, ``reason`` and a one-line message; the body."""
    assert answer.status == status, answer.body
    body: dict[str, Any] = answer.json()
    assert body["reason"] == reason, body
    assert isinstance(body["message"], str) and body["message"] and "\n" not in body["message"], body
    return body


def wait_job(proc: JupyterProcess, job_id: str, until: Callable[[dict[str, Any]], bool] | None = None,
             timeout: float = 180.0) -> dict[str, Any]:
    """Poll ``GET jobs/<id>`` until ``until(job)`` (default: a final status)."""
    done = until or (lambda j: j["status"] in ("succeeded", "failed", "cancelled"))
    deadline = time.monotonic() + timeout
    while True:
        answer = proc.get(f"/cvops/api/jobs/{job_id}")
        assert answer.status == 200, answer.body
        job: dict[str, Any] = answer.json()
        if done(job):
            return job
        assert time.monotonic() < deadline, job
        time.sleep(0.2)
