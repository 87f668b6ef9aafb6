"""A real S3 HTTP API for tests: moto's standalone server on a free local port.

The fixtures in ``tests/conftest.py`` start one server per test session and give each
test its own bucket, with the credentials and endpoint set both as LanceDB
``storage_options`` and as the environment variables LanceDB, pyarrow and boto3 read
(so a subprocess such as the CLI or a second "machine" finds the same server).
"""

from __future__ import annotations

import itertools
import socket
from dataclasses import dataclass, field
from typing import Any

ACCESS_KEY = "cvops-test-key"
SECRET_KEY = "cvops-test-secret"
REGION = "us-east-1"
_counter = itertools.count()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class S3Server:
    """A running moto server: ``endpoint`` is its ``http://127.0.0.1:PORT`` URL."""

    endpoint: str
    server: Any = field(repr=False)

    def env(self) -> dict[str, str]:
        """Environment variables that point LanceDB, pyarrow and boto3 at this server."""
        return {
            "AWS_ACCESS_KEY_ID": ACCESS_KEY,
            "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
            "AWS_REGION": REGION,
            "AWS_DEFAULT_REGION": REGION,
            "AWS_ENDPOINT": self.endpoint,
            "AWS_ENDPOINT_URL": self.endpoint,
            "AWS_ALLOW_HTTP": "true",
        }

    def storage_options(self) -> dict[str, str]:
        """LanceDB / object_store options for this server."""
        return {
            "endpoint": self.endpoint,
            "allow_http": "true",
            "aws_access_key_id": ACCESS_KEY,
            "aws_secret_access_key": SECRET_KEY,
            "region": REGION,
        }

    def client(self) -> Any:
        """A boto3 S3 client for this server."""
        import boto3

        return boto3.client("s3", endpoint_url=self.endpoint, aws_access_key_id=ACCESS_KEY,
                            aws_secret_access_key=SECRET_KEY, region_name=REGION)

    def new_bucket(self, prefix: str = "cvops") -> "S3Bucket":
        """Create a fresh, empty bucket with a unique valid name."""
        name = f"{prefix}-{next(_counter)}-{free_port()}"
        self.client().create_bucket(Bucket=name)
        return S3Bucket(name=name, server=self)


@dataclass
class S3Bucket:
    """One bucket on the test server: ``uri("ws")`` gives ``s3://<name>/ws``."""

    name: str
    server: S3Server

    def uri(self, key: str = "") -> str:
        return f"s3://{self.name}/{key}" if key else f"s3://{self.name}"

    @property
    def storage_options(self) -> dict[str, str]:
        return self.server.storage_options()

    def client(self) -> Any:
        return self.server.client()

    def put(self, key: str, body: bytes) -> None:
        """Upload ``body`` as ``key``."""
        self.client().put_object(Bucket=self.name, Key=key, Body=body)

    def keys(self, prefix: str = "") -> list[str]:
        """Every key under ``prefix`` (sorted)."""
        out: list[str] = []
        for page in self.client().get_paginator("list_objects_v2").paginate(Bucket=self.name, Prefix=prefix):
            out += [o["Key"] for o in page.get("Contents", [])]
        return sorted(out)


def start_server() -> S3Server:
    """Start moto's threaded server on a free port (stop it with ``.server.stop()``)."""
    import logging

    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one line per request otherwise
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    return S3Server(endpoint=f"http://127.0.0.1:{port}", server=server)
