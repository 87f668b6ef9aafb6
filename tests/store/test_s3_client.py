"""The one S3 client maker (_store/_s3): storage_options or the environment reach the S3 test server, clients
are shared per settings, readers get a wide pool, LanceDB's timeout options apply, boto3 missing is one line."""

from __future__ import annotations

import sys
from typing import Any

import pytest

from jupyter_cvops import WorkspaceError
from jupyter_cvops._store import _s3, lease
from jupyter_cvops.images import _objects

ENV = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_REGION", "AWS_DEFAULT_REGION", "AWS_ENDPOINT",
       "AWS_ENDPOINT_URL", "AWS_ALLOW_HTTP")


def test_options_or_environment_reach_the_server_and_clients_are_shared(
        s3_bucket: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    s3_bucket.put("a.txt", b"abc")
    from_env = _s3.s3_client()  # the fixture's AWS_* variables
    assert from_env.get_object(Bucket=s3_bucket.name, Key="a.txt")["Body"].read() == b"abc"
    assert from_env.meta.config.max_pool_connections == _s3.READ_POOL == 64
    for name in ENV:
        monkeypatch.delenv(name, raising=False)
    opts = s3_bucket.storage_options
    reader = _s3.s3_client(opts)
    assert reader.get_object(Bucket=s3_bucket.name, Key="a.txt")["Body"].read() == b"abc"
    assert _s3.s3_client(dict(opts)) is reader  # one client per settings
    assert _objects.s3_client(s3_bucket.name, opts) is reader  # the images' reader is that client
    held = lease.s3_client(opts)  # the lease's: its own pool and timeouts, same storage
    assert held is not reader and held.meta.config.max_pool_connections == 10
    assert held.meta.config.read_timeout == 30.0 and reader.meta.config.read_timeout == 60.0
    assert held.head_object(Bucket=s3_bucket.name, Key="a.txt")["ContentLength"] == 3
    fast = _s3.s3_client({**opts, "timeout": "1500ms", "connect_timeout": "2s"})  # LanceDB's names: fail fast
    cfg = fast.meta.config
    assert (cfg.read_timeout, cfg.connect_timeout, cfg.retries["total_max_attempts"]) == (1.5, 2.0, 3)
    assert _s3.client_kwargs({"aws_endpoint": "http://x:1", "access_key_id": "k", "secret_access_key": "s",
                              "token": "t", "aws_region": "eu-west-1"}) == {
        "endpoint_url": "http://x:1", "aws_access_key_id": "k", "aws_secret_access_key": "s",
        "aws_session_token": "t", "region_name": "eu-west-1"}
    assert _s3.client_kwargs({"aws_access_key_id": "k"}) == {}  # half a key pair: left to boto3's chain


def test_without_boto3_every_maker_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "boto3", None)  # `import boto3` raises ImportError
    with pytest.raises(ImportError, match=r"^reading s3:// images needs boto3: pip install jupyter-cvops\[s3\]$"):
        _objects.s3_client("some-bucket")
    with pytest.raises(WorkspaceError, match=r"^writing an s3:// workspace \(its cross-machine write lease\) "
                                              r"needs boto3: pip install jupyter-cvops\[s3\]$"):
        lease.Lease("s3://some-bucket/ws").acquire()
