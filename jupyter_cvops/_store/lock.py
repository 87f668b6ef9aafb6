"""The write lock: re-entrant within a process, exclusive across processes and machines.

Every mutation of a workspace runs under this lock, so the kernel, the CLI and the
Jupyter server extension can all write to one workspace without losing updates.
Three layers, taken in this order and released in reverse:

1. within a process, a re-entrant thread lock, so a store method may call another;
2. across processes of one machine, an ``fcntl.flock`` on a lock file (for a remote
   workspace, in ``~/.cache/jupyter-cvops/``): cheap, and it keeps one machine's
   writers from racing each other for the lease;
3. across machines, for an ``s3://`` workspace only, a :class:`~.lease.Lease` object in
   the bucket taken with a conditional write, renewed while held, expiring if its
   holder dies. A single Lance commit is safe without it (Lance's own conditional
   commit makes a concurrent writer retry); the lease keeps the several commits of
   one operation from interleaving with another machine's.
"""

from __future__ import annotations

import fcntl
import os
import threading
import time
from pathlib import Path
from collections.abc import Mapping
from types import TracebackType

from .lease import Lease, LockTimeout, supports_lease

__all__ = ["LockTimeout", "WriteLock"]


class WriteLock:
    """Re-entrant, cross-process exclusive lock on ``path``.

    Parameters
    ----------
    path
        Lock file; created (with its folder) on first use.
    timeout
        Seconds to wait for another process before raising :class:`LockTimeout`.
    uri
        The workspace URI: an ``s3://`` one adds the cross-machine :class:`~.lease.Lease`
        (with ``storage_options`` and ``lease_expiry`` seconds, default ``$CVOPS_LEASE_EXPIRY``
        or 30 s).

    Examples
    --------
    >>> import tempfile, os
    >>> lock = WriteLock(os.path.join(tempfile.mkdtemp(), "write.lock"))
    >>> with lock:
    ...     with lock:  # re-entrant
    ...         lock.held
    True
    """

    def __init__(
        self,
        path: str | Path,
        *,
        timeout: float = 120.0,
        uri: str | None = None,
        storage_options: Mapping[str, str] | None = None,
        lease_expiry: float | None = None,
    ) -> None:
        self.path = Path(path)
        self.timeout = timeout
        self._thread_lock = threading.RLock()
        self._depth = 0
        self._fd: int | None = None
        self.lease: Lease | None = (
            Lease(uri, storage_options, expiry=lease_expiry, timeout=timeout)
            if uri is not None and supports_lease(uri) else None
        )

    @property
    def held(self) -> bool:
        """Whether this process currently holds the lock."""
        return self._depth > 0

    def acquire(self) -> None:
        """Take the lock (blocking up to ``timeout`` seconds)."""
        if not self._thread_lock.acquire(timeout=self.timeout):
            raise LockTimeout(f"workspace write lock busy in this process: {self.path}")
        if self._depth == 0:
            try:
                self._acquire_file()
            except BaseException:
                self._thread_lock.release()
                raise
            if self.lease is not None:
                try:
                    self.lease.timeout = self.timeout
                    self.lease.acquire()
                except BaseException:
                    self._release_file()
                    self._thread_lock.release()
                    raise
        self._depth += 1

    def check(self) -> None:
        """Raise :class:`~._errors.WorkspaceError` if the cross-machine lease was lost
        (the store calls this before each commit); a no-op for local workspaces."""
        if self.lease is not None:
            self.lease.check()

    def _acquire_file(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        deadline = time.monotonic() + self.timeout
        delay = 0.005
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    os.close(fd)
                    raise LockTimeout(
                        f"another process holds the workspace write lock {self.path} "
                        f"for more than {self.timeout:.0f} s"
                    ) from None
                time.sleep(delay)
                delay = min(delay * 2, 0.2)
        self._fd = fd

    def release(self) -> None:
        """Release one level of the lock."""
        if self._depth <= 0:
            raise RuntimeError("release of an unheld workspace lock")
        self._depth -= 1
        try:
            if self._depth == 0 and self.lease is not None:
                self.lease.release()
        finally:
            if self._depth == 0:
                self._release_file()
            self._thread_lock.release()

    def _release_file(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> WriteLock:
        self.acquire()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.release()
