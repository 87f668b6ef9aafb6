"""Shared fixtures: where the real test material lives, small workspaces."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def _shared_data() -> Path:
    env = os.environ.get("CVOPS_SHARED_DATA")
    candidates = [Path(env)] if env else []
    candidates += [REPO.parent / "shared" / "data", Path("/work/shared/data")]
    for c in candidates:
        if (c / "PROVENANCE.md").is_file():
            return c
    raise RuntimeError(
        "real test material not found: set CVOPS_SHARED_DATA to the shared/data folder "
        f"(looked in {', '.join(map(str, candidates))})"
    )


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """Read-only folder of real exports and images (see its PROVENANCE.md). Never write there."""
    return _shared_data()


@pytest.fixture(scope="session")
def s3_server():
    """A real S3 API (moto's standalone server) on a local port, one per test session."""
    from _s3 import start_server

    server = start_server()
    yield server
    server.server.stop()


@pytest.fixture
def s3_bucket(s3_server, monkeypatch):
    """A fresh bucket on the local S3 server, with the AWS_* environment pointing at it.

    ``s3_bucket.uri("ws")`` is ``s3://<bucket>/ws``; ``s3_bucket.storage_options`` are the
    LanceDB options; ``s3_bucket.put(key, bytes)`` uploads; ``s3_bucket.keys()`` lists."""
    for k, v in s3_server.env().items():
        monkeypatch.setenv(k, v)
    return s3_server.new_bucket()


@pytest.fixture(scope="module")
def ray_local():
    """One local Ray instance (2 CPUs) per test module that asks for it, started through the package's own
    ``connect()`` and shut down after the module (so no Ray processes idle through other modules)."""
    pytest.importorskip("ray")
    from jupyter_cvops.images import _ray as rayx

    ray = rayx.connect(num_cpus=2)
    yield ray
    ray.shutdown()
