"""The package's one maker of boto3 S3 clients (the write lease, images and artifacts in buckets).

Endpoint, credentials and region, in this order: the ``storage_options`` given (LanceDB's
names: ``endpoint``, ``aws_access_key_id``, ``aws_secret_access_key``, ``aws_session_token``,
``region``, ``timeout``, ``connect_timeout``; any spelling of
:data:`~jupyter_cvops._store.lease._ALIASES`), then the environment as LanceDB reads it
(``AWS_ENDPOINT_URL_S3`` / ``AWS_ENDPOINT_URL`` / ``AWS_ENDPOINT``, ``AWS_REGION`` /
``AWS_DEFAULT_REGION``), then boto3's own chain (key variables, profiles, instance roles).
One client per set of settings, shared by threads (boto3 clients are thread-safe; creating
sessions is not, so it happens under a lock).
"""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Mapping
from typing import Any

from ._errors import WorkspaceError

READ_POOL = 64
"""Connections a client keeps open by default (readers run many GETs at once)."""

_LOCK = threading.Lock()
_CLIENTS: dict[tuple[Any, ...], Any] = {}


class Boto3Missing(WorkspaceError, ImportError):
    """boto3 is not installed; the message says what needed it and how to install it."""


def seconds(value: str | float | None) -> float | None:
    """object_store durations (``"5s"``, ``"500ms"``, ``"2 min"``, ``"3"``) as seconds (None: not one).

    Examples
    --------
    >>> seconds("500ms"), seconds("2 min"), seconds("3"), seconds("soon")
    (0.5, 120.0, 3.0, None)
    """
    if value is None:
        return None
    if isinstance(value, (int, float)):
        return float(value)
    m = re.fullmatch(r"\s*([0-9.]+)\s*(ms|s|sec|secs|m|min|mins|)\s*", str(value))
    if not m:
        return None
    n = float(m.group(1))
    return n / 1000 if m.group(2) == "ms" else n * 60 if m.group(2) in ("m", "min", "mins") else n


def client_kwargs(options: Mapping[str, Any] | None) -> dict[str, str]:
    """boto3 ``client("s3", ...)`` arguments from LanceDB-style options, the environment filling gaps.

    Keys are used only as a pair (else boto3's chain finds them); no region given leaves it
    to boto3's chain too.

    Examples
    --------
    >>> client_kwargs({"endpoint": "http://127.0.0.1:9000", "region": "eu-west-1"})["endpoint_url"]
    'http://127.0.0.1:9000'
    """
    opts = {str(k).lower(): str(v) for k, v in (options or {}).items() if v is not None}
    env = os.environ

    def pick(*names: str, envs: tuple[str, ...] = ()) -> str | None:
        for n in names:
            if opts.get(n):
                return opts[n]
        for n in envs:
            if env.get(n):
                return env[n]
        return None

    out: dict[str, str] = {}
    endpoint = pick("endpoint", "aws_endpoint", "endpoint_url", "aws_endpoint_url",
                    envs=("AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL", "AWS_ENDPOINT"))
    if endpoint:
        out["endpoint_url"] = endpoint
    key = pick("aws_access_key_id", "access_key_id")
    secret = pick("aws_secret_access_key", "secret_access_key")
    if key and secret:
        out["aws_access_key_id"], out["aws_secret_access_key"] = key, secret
        token = pick("aws_session_token", "aws_token", "session_token", "token")
        if token:
            out["aws_session_token"] = token
    region = pick("region", "aws_region", "aws_default_region", "default_region",
                  envs=("AWS_REGION", "AWS_DEFAULT_REGION"))
    if region:
        out["region_name"] = region
    return out


def s3_client(
    storage_options: Mapping[str, Any] | None = None,
    *,
    max_pool_connections: int = READ_POOL,
    read_timeout: float = 60.0,
    need: str = "reading s3:// objects",
) -> Any:
    """The shared boto3 S3 client for the storage LanceDB reaches with ``storage_options``.

    Parameters
    ----------
    storage_options : mapping or None
        LanceDB's options (see the module); ``timeout`` / ``connect_timeout`` given there
        also shorten this client's timeouts and retries (fail fast where LanceDB would).
    max_pool_connections : int
        Connections kept open (default :data:`READ_POOL`, for parallel readers).
    read_timeout : float
        Seconds a response may take when no ``timeout`` option is given.
    need : str
        What the client is for, named in the error when boto3 is missing.

    Raises
    ------
    Boto3Missing
        boto3 is not installed (``pip install jupyter-cvops[s3]``); both a
        ``WorkspaceError`` and an ``ImportError``.

    Examples
    --------
    >>> s3 = s3_client({"endpoint": "http://127.0.0.1:9000"})     # doctest: +SKIP
    >>> s3.list_objects_v2(Bucket="my-bucket")["KeyCount"]        # doctest: +SKIP
    """
    try:
        import boto3
        from botocore.config import Config
    except ImportError:
        raise Boto3Missing(f"{need} needs boto3: pip install jupyter-cvops[s3]") from None
    lowered = {str(k).lower(): v for k, v in (storage_options or {}).items()}
    timeout = seconds(lowered.get("timeout"))
    connect = seconds(lowered.get("connect_timeout"))
    kwargs = client_kwargs(storage_options)
    key = (tuple(sorted(kwargs.items())), max_pool_connections, timeout or read_timeout, connect)
    with _LOCK:
        client = _CLIENTS.get(key)
        if client is None:
            config = Config(  # short timeouts given for LanceDB also mean: fail fast here
                max_pool_connections=max_pool_connections,
                connect_timeout=connect or 10.0,
                read_timeout=timeout or read_timeout,
                retries={"max_attempts": 2 if (timeout or connect) else 4, "mode": "standard"},
            )
            client = _CLIENTS[key] = boto3.session.Session().client("s3", config=config, **kwargs)
    return client
