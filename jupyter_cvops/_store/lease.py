"""A write lease in the bucket: the cross-machine layer of the workspace write lock.

Two machines writing one ``s3://`` workspace cannot share a local ``flock``. Before a
multi-table operation (register images, snapshot, commit a taxonomy, ...) the writer
takes a *lease object*, ``<workspace>/.cvops/write.lease``, with a conditional write:

- ``PutObject(If-None-Match: *)`` creates it only if no one holds it;
- a lease whose ``expires`` time has passed (its holder crashed or lost the network),
  or whose object has not changed for a whole expiry period as this waiter saw it (a
  holder whose clock is wrong), is taken over with ``PutObject(If-Match: <etag>)``, so
  of two waiters only one wins;
- while held, a heartbeat thread renews it (``If-Match`` on the holder's own ETag)
  every third of the expiry, so long operations keep it; a renewal that fails because
  another writer took it over marks the lease *lost*, and the next commit refuses
  (:meth:`Lease.check`);
- release deletes it (``DeleteObject(If-Match: <etag>)``: never someone else's).

The object holds the holder (host, pid, a random id), and ``acquired`` / ``expires``
timestamps (UTC, ISO 8601), so a refused writer's :class:`LockTimeout` says who holds
the workspace and until when.

Single-commit writes need no lease for correctness: Lance commits each table version
with its own conditional put, so two writers appending to one table never lose an
update (one retries on the new version). The lease is for operations whose several
commits must not interleave with another writer's; :class:`~jupyter_cvops._store.lock.WriteLock`
takes it for every write of a remote workspace, inside the in-process re-entrant lock
and the machine-local ``flock`` (cheap for contention on one machine).
"""

from __future__ import annotations

import json
import os
import re
import socket
import threading
import time
import uuid
import warnings
from collections.abc import Mapping
from datetime import datetime, timedelta, timezone
from typing import Any

from ._errors import WorkspaceError
from ._s3 import s3_client as _s3_client

DEFAULT_EXPIRY = 30.0
"""Seconds a lease lives without renewal (``$CVOPS_LEASE_EXPIRY`` overrides)."""

LEASE_KEY = ".cvops/write.lease"
"""Where the lease lives, relative to the workspace prefix."""

_SCHEMES = ("s3://", "s3a://")


class LockTimeout(TimeoutError):
    """Another writer held the workspace write lock (or lease) for longer than the timeout."""


class NoLeaseWarning(UserWarning):
    """A writable remote workspace whose scheme has no cross-machine lease (``gs://``, ``az://``, ...):
    only processes of this machine are kept apart."""


_WARNED: set[str] = set()


def warn_without_lease(uri: str) -> None:
    """Warn once per process that writes to ``uri`` are not serialized across machines.

    Examples
    --------
    >>> import warnings
    >>> with warnings.catch_warnings(record=True) as seen:
    ...     warnings.simplefilter("always")
    ...     warn_without_lease("gs://team/ws-doctest"); warn_without_lease("gs://team/ws-doctest")
    >>> len(seen)
    1
    """
    if uri in _WARNED:
        return
    _WARNED.add(uri)
    warnings.warn(
        f"{uri}: writes take no lease in the bucket for this scheme, so only processes of this machine are "
        "kept apart; write it from one machine at a time, or reach the bucket through an S3-compatible "
        "endpoint (s3://... with an endpoint option), where every write takes a cross-machine lease",
        NoLeaseWarning, stacklevel=4)


def supports_lease(uri: str) -> bool:
    """Whether ``uri`` is a workspace whose writes take a lease in its bucket (``s3://``).

    Examples
    --------
    >>> supports_lease("s3://bucket/ws"), supports_lease("/data/ws"), supports_lease("gs://b/ws")
    (True, False, False)
    """
    return uri.startswith(_SCHEMES)


def split_uri(uri: str) -> tuple[str, str]:
    """``s3://bucket/some/prefix`` -> ``("bucket", "some/prefix")`` (no trailing slash).

    Examples
    --------
    >>> split_uri("s3://team-data/ws/line-1/")
    ('team-data', 'ws/line-1')
    """
    rest = uri.split("://", 1)[1]
    bucket, _, prefix = rest.partition("/")
    if not bucket:
        raise WorkspaceError(f"no bucket in {uri!r}; expected s3://bucket/prefix")
    return bucket, prefix.strip("/")


#: object_store's spellings of one setting. The environment LanceDB merges in (``AWS_ENDPOINT``,
#: ``AWS_REGION``, ...) arrives under the ``aws_`` names, and when both spellings are present which
#: one wins is not defined: an ``endpoint`` option could silently lose to ``$AWS_ENDPOINT``.
_ALIASES = (
    ("aws_endpoint", "aws_endpoint_url", "endpoint", "endpoint_url"),
    ("aws_region", "region"),
    ("aws_default_region", "default_region"),
    ("aws_access_key_id", "access_key_id"),
    ("aws_secret_access_key", "secret_access_key"),
    ("aws_session_token", "aws_token", "session_token", "token"),
    ("aws_allow_http", "allow_http"),
)


def normalize_storage_options(options: Mapping[str, str] | None) -> dict[str, str]:
    """``options`` with each given setting written under all of its spellings.

    So an explicit option always beats the environment LanceDB reads (which uses the
    ``aws_`` names), whatever order the two are applied in.

    Examples
    --------
    >>> normalize_storage_options({"endpoint": "http://127.0.0.1:9000"})["aws_endpoint"]
    'http://127.0.0.1:9000'
    """
    out = {str(k): str(v) for k, v in (options or {}).items()}
    lowered = {k.lower(): v for k, v in out.items()}
    for group in _ALIASES:
        value = next((lowered[name] for name in group if lowered.get(name)), None)
        if value is not None:
            for name in group:
                out.setdefault(name, value)
    return out


def s3_client(storage_options: Mapping[str, str] | None = None) -> Any:
    """A boto3 S3 client for the same storage LanceDB reaches with ``storage_options``
    (the package's one maker, :func:`jupyter_cvops._store._s3.s3_client`, with the lease's
    30 s read timeout; ``timeout`` / ``connect_timeout`` options shorten it).

    Examples
    --------
    >>> client = s3_client({"endpoint": "http://127.0.0.1:9000", "region": "us-east-1"})  # doctest: +SKIP
    """
    return _s3_client(storage_options, max_pool_connections=10, read_timeout=30.0,
                      need="writing an s3:// workspace (its cross-machine write lease)")


def _error_code(error: BaseException) -> str:
    response = getattr(error, "response", None) or {}
    return str(response.get("Error", {}).get("Code", ""))


def _status(error: BaseException) -> int:
    response = getattr(error, "response", None) or {}
    return int(response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0)


def _conflict(error: BaseException) -> bool:
    return _error_code(error) in ("PreconditionFailed", "ConditionalRequestConflict") or _status(error) in (409, 412)


def _missing(error: BaseException) -> bool:
    return _error_code(error) in ("NoSuchKey", "404", "NotFound")


def describe_storage_error(uri: str, error: BaseException) -> str:
    """One line saying why object storage refused: missing bucket, credentials, endpoint.

    Examples
    --------
    >>> describe_storage_error("s3://b/ws", ValueError("... <Code>NoSuchBucket</Code> ..."))
    "bucket 'b' does not exist (s3://b/ws)"
    """
    text = f"{_error_code(error)} {error}"
    bucket = uri.split("://", 1)[-1].split("/", 1)[0]
    if "NoSuchBucket" in text:
        return f"bucket {bucket!r} does not exist ({uri})"
    for code in ("InvalidAccessKeyId", "SignatureDoesNotMatch", "AccessDenied", "ExpiredToken", "InvalidToken"):
        if code in text:
            return (f"object storage refused the credentials for {uri} ({code}); check "
                    "aws_access_key_id / aws_secret_access_key in storage_options or AWS_* in the environment")
    if re.search(r"Connect|connection|dns error|timed out|Timeout|error sending request|HTTP error", text):
        return f"cannot reach the object store for {uri} (connection failed or timed out; check the endpoint)"
    first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
    return f"object storage error for {uri}: {first[:300]}"


def _now() -> datetime:
    return datetime.now(timezone.utc)


class Lease:
    """An exclusive, expiring lease object in the bucket of an ``s3://`` workspace.

    Parameters
    ----------
    uri
        The workspace URI (``s3://bucket/prefix``); the lease is ``<prefix>/.cvops/write.lease``.
    storage_options
        LanceDB's options for the workspace (endpoint, keys, region, timeouts).
    expiry
        Seconds the lease lives without renewal (default :data:`DEFAULT_EXPIRY`, or
        ``$CVOPS_LEASE_EXPIRY``); the heartbeat renews it every third of that.
    timeout
        Seconds :meth:`acquire` waits for another holder before :class:`LockTimeout`.

    Examples
    --------
    >>> lease = Lease("s3://bucket/ws", {"endpoint": "http://127.0.0.1:9000"}, expiry=10)  # doctest: +SKIP
    >>> with lease:                                                                         # doctest: +SKIP
    ...     ...  # several commits no other machine interleaves with
    """

    def __init__(
        self,
        uri: str,
        storage_options: Mapping[str, str] | None = None,
        *,
        expiry: float | None = None,
        timeout: float = 120.0,
    ) -> None:
        self.uri = uri
        self.bucket, prefix = split_uri(uri)
        self.key = f"{prefix}/{LEASE_KEY}" if prefix else LEASE_KEY
        self.storage_options = dict(storage_options or {})
        env_expiry = os.environ.get("CVOPS_LEASE_EXPIRY")
        self.expiry = float(expiry if expiry is not None else env_expiry or DEFAULT_EXPIRY)
        self.timeout = timeout
        self.holder = {"host": socket.gethostname(), "pid": os.getpid(), "id": uuid.uuid4().hex}
        self._client: Any = None
        self._etag: str | None = None
        self._expires: float = 0.0  # monotonic time our lease runs out unless renewed
        self._lost: str | None = None
        self._stop = threading.Event()
        self._beat: threading.Thread | None = None
        self._mutex = threading.Lock()  # guards _etag between the heartbeat and release

    # -- state ---------------------------------------------------------------
    @property
    def held(self) -> bool:
        """Whether this object holds the lease now (and has not lost it)."""
        return self._etag is not None and self._lost is None

    def _s3(self) -> Any:
        if self._client is None:
            self._client = s3_client(self.storage_options)
        return self._client

    def _body(self, acquired: datetime) -> bytes:
        return json.dumps({
            "holder": self.holder,
            "acquired": acquired.isoformat(),
            "expires": (_now() + timedelta(seconds=self.expiry)).isoformat(),
            "expiry_s": self.expiry,
        }).encode()

    def _storage_error(self, error: BaseException) -> WorkspaceError:
        return WorkspaceError(f"cannot take the write lease: {describe_storage_error(self.uri, error)}")

    # -- acquire / release ---------------------------------------------------
    def acquire(self) -> None:
        """Take the lease, waiting up to ``timeout`` seconds for another holder.

        Raises :class:`LockTimeout` naming the holder and when its lease expires, or
        :class:`WorkspaceError` (one line) when the store cannot be reached."""
        if self._etag is not None:
            raise RuntimeError("lease already held by this object")
        s3 = self._s3()  # first: without boto3, the error that names the extra to install
        from botocore.exceptions import BotoCoreError, ClientError

        self.holder["pid"] = os.getpid()  # a forked child writes as itself
        deadline = time.monotonic() + self.timeout
        seen: dict[str, float] = {}  # etag -> when this waiter first saw it (monotonic)
        delay = 0.05
        current: dict[str, Any] = {}
        while True:
            acquired = _now()
            start = time.monotonic()
            try:
                resp = s3.put_object(Bucket=self.bucket, Key=self.key, Body=self._body(acquired), IfNoneMatch="*")
                self._took(resp["ETag"], start)
                return
            except ClientError as error:
                if not _conflict(error):
                    raise self._storage_error(error) from None
            except BotoCoreError as error:
                raise self._storage_error(error) from None
            try:  # someone holds it: read who, and whether it expired
                got = s3.get_object(Bucket=self.bucket, Key=self.key)
                etag, raw = got["ETag"], got["Body"].read()
            except ClientError as error:
                if _missing(error):
                    continue  # released in between: try again at once
                raise self._storage_error(error) from None
            except BotoCoreError as error:
                raise self._storage_error(error) from None
            try:
                current = json.loads(raw)
                expires = datetime.fromisoformat(current["expires"])
                stale_after = float(current.get("expiry_s", self.expiry))
            except (ValueError, KeyError, TypeError):
                current, expires, stale_after = {}, _now(), 0.0  # unreadable: treat as expired
            first_seen = seen.setdefault(etag, time.monotonic())
            if expires <= _now() or time.monotonic() - first_seen > stale_after:
                try:
                    start = time.monotonic()
                    resp = s3.put_object(Bucket=self.bucket, Key=self.key, Body=self._body(acquired), IfMatch=etag)
                    self._took(resp["ETag"], start)
                    return
                except ClientError as error:
                    if not (_conflict(error) or _missing(error)):
                        raise self._storage_error(error) from None
                    continue  # another waiter won the takeover
                except BotoCoreError as error:
                    raise self._storage_error(error) from None
            if time.monotonic() >= deadline:
                raise LockTimeout(self._held_message(current)) from None
            time.sleep(min(delay, max(0.0, deadline - time.monotonic())))
            delay = min(delay * 2, 1.0)

    def _held_message(self, current: Mapping[str, Any]) -> str:
        holder = current.get("holder") or {}
        who = f"{holder.get('host', '?')} pid {holder.get('pid', '?')} ({str(holder.get('id', '?'))[:8]})"
        return (f"workspace {self.uri} is being written by {who} since {current.get('acquired', '?')}; "
                f"its write lease expires at {current.get('expires', '?')} unless renewed "
                f"(waited {self.timeout:.0f} s)")

    def _took(self, etag: str, start: float) -> None:
        self._etag = etag
        self._expires = start + self.expiry
        self._lost = None
        self._stop.clear()
        self._beat = threading.Thread(target=self._heartbeat, name="cvops-lease-heartbeat", daemon=True)
        self._beat.start()

    def _heartbeat(self) -> None:
        acquired = _now()
        while not self._stop.wait(self.expiry / 3):
            self.renew(acquired)

    def renew(self, acquired: datetime | None = None) -> bool:
        """Push the expiry forward (``If-Match`` on our ETag); False if the lease was lost.

        The heartbeat thread calls this every ``expiry / 3`` seconds while held."""
        from botocore.exceptions import BotoCoreError, ClientError

        with self._mutex:
            if self._etag is None or self._lost is not None:
                return False
            start = time.monotonic()
            try:
                resp = self._s3().put_object(
                    Bucket=self.bucket, Key=self.key, Body=self._body(acquired or _now()), IfMatch=self._etag
                )
            except ClientError as error:
                if _conflict(error) or _missing(error):
                    self._lost = "another writer took over the expired write lease"
                    return False
                return time.monotonic() < self._expires  # transient: retry at the next beat
            except BotoCoreError:
                return time.monotonic() < self._expires
            self._etag = resp["ETag"]
            self._expires = start + self.expiry
            return True

    def check(self) -> None:
        """Raise if the lease was lost or ran out (call before each commit while held).

        Examples
        --------
        >>> Lease("s3://bucket/ws").check()  # not held: nothing to check
        """
        if self._etag is None:
            return
        if self._lost is None and time.monotonic() >= self._expires:
            self._lost = f"the write lease was not renewed within {self.expiry:.0f} s"
        if self._lost is not None:
            raise WorkspaceError(
                f"lost the write lease of {self.uri}: {self._lost}; this operation stopped before its next commit"
            )

    def release(self) -> None:
        """Stop renewing and delete the lease object if it is still ours."""
        from botocore.exceptions import BotoCoreError, ClientError

        self._stop.set()
        if self._beat is not None and self._beat is not threading.current_thread():
            self._beat.join()
        self._beat = None
        with self._mutex:
            etag, lost, self._etag = self._etag, self._lost, None
        if etag is None or lost is not None:
            return
        try:
            self._s3().delete_object(Bucket=self.bucket, Key=self.key, IfMatch=etag)
        except (ClientError, BotoCoreError):
            pass  # not ours any more, or unreachable: it expires on its own

    def __enter__(self) -> Lease:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()
