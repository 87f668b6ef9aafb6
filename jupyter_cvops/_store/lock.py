"""The write lock: re-entrant within a process, exclusive across processes.

Every mutation of a workspace runs under this lock, so the kernel, the CLI and the
Jupyter server extension can all write to one workspace without losing updates.
Across processes it is an ``fcntl.flock`` on a lock file; within a process a
re-entrant thread lock, so a store method may call another store method.
"""

from __future__ import annotations

import fcntl
import os
import threading
import time
from pathlib import Path
from types import TracebackType


class LockTimeout(TimeoutError):
    """Another process held the workspace write lock for longer than the timeout."""


class WriteLock:
    """Re-entrant, cross-process exclusive lock on ``path``.

    Parameters
    ----------
    path
        Lock file; created (with its folder) on first use.
    timeout
        Seconds to wait for another process before raising :class:`LockTimeout`.

    Examples
    --------
    >>> import tempfile, os
    >>> lock = WriteLock(os.path.join(tempfile.mkdtemp(), "write.lock"))
    >>> with lock:
    ...     with lock:  # re-entrant
    ...         lock.held
    True
    """

    def __init__(self, path: str | Path, *, timeout: float = 120.0) -> None:
        self.path = Path(path)
        self.timeout = timeout
        self._thread_lock = threading.RLock()
        self._depth = 0
        self._fd: int | None = None

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
        self._depth += 1

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
        if self._depth == 0 and self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None
        self._thread_lock.release()

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
