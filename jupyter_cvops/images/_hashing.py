"""Content hashes: the identity of every image in a workspace.

An image's id is the XXH3-128 digest of its bytes, as 32 lowercase hex characters.

Why XXH3-128
------------
* Speed. XXH3 runs at roughly memory bandwidth (10+ GB/s on one core here), so hashing
  is never the bottleneck of a scan: reading the file is. The ``xxhash`` binding
  releases the GIL while it hashes, so a thread pool scales it across cores.
* Width. With 128 bits the chance that any two of ``n`` distinct files collide is about
  ``n**2 / 2**129``: for ``n = 1e9`` files that is ~1.5e-21, negligible. A 64-bit hash
  would already reach ~2.7% at 1e9 files, which is why we do not use XXH64 or XXH3-64.
* Not cryptographic. XXH3 is not collision-resistant against an adversary: someone who
  wants to can build two different files with the same digest. Identity here guards
  against accidents (renames, copies, re-exports), not against an attacker who can write
  into the workspace's image folders. Where that matters, sign the files out of band.

The digest of a file equals the digest of its bytes, whatever the chunking (the
streaming state of XXH3 is exact), which the tests check with random chunk boundaries.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from stat import S_ISREG
from typing import BinaryIO, NamedTuple

import xxhash
from xxhash import xxh3_128_hexdigest

CHUNK_SIZE = 1 << 20
"""Bytes read per step when hashing a file (1 MiB): large enough to amortize the syscall,
small enough that memory use stays flat for huge files."""

_OPEN_FLAGS = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0)
# O_NONBLOCK: a named pipe swapped in after the caller's stat must not hang the scan.

HEX_LENGTH = 32
"""Length of a digest in hex characters (128 bits)."""


def hash_bytes(data: bytes | bytearray | memoryview) -> str:
    """XXH3-128 digest of an in-memory buffer.

    Parameters
    ----------
    data : bytes, bytearray or memoryview
        The content to hash.

    Returns
    -------
    str
        32 lowercase hex characters.

    Examples
    --------
    >>> hash_bytes(b"")
    '99aa06d3014798d86001c324468d497f'
    >>> len(hash_bytes(b"pixels"))
    32
    """
    return xxhash.xxh3_128_hexdigest(data)


def hash_file(path: str | os.PathLike[str], *, chunk_size: int = CHUNK_SIZE) -> str:
    """XXH3-128 digest of a file's bytes, streamed in fixed-size chunks.

    Memory use is one chunk whatever the file size. The result equals
    ``hash_bytes(Path(path).read_bytes())``.

    Parameters
    ----------
    path : str or os.PathLike
        The file to hash. Symbolic links are followed.
    chunk_size : int, default 1 MiB
        Bytes read per step; any positive value gives the same digest.

    Returns
    -------
    str
        32 lowercase hex characters.

    Raises
    ------
    OSError
        If the file cannot be opened or read (missing, permission denied, a directory).

    Examples
    --------
    >>> import tempfile
    >>> with tempfile.NamedTemporaryFile(delete=False) as f:
    ...     _ = f.write(b"pixels")
    >>> hash_file(f.name) == hash_bytes(b"pixels")
    True
    >>> os.remove(f.name)
    """
    if chunk_size <= 0:
        raise ValueError(f"chunk_size must be positive, got {chunk_size}")
    with open(Path(path), "rb", buffering=0) as f:
        return _hash_stream(f, chunk_size)


def _hash_stream(f: BinaryIO, chunk_size: int = CHUNK_SIZE) -> str:
    state = xxhash.xxh3_128()
    buf = bytearray(chunk_size)
    view = memoryview(buf)
    while n := f.readinto(buf):  # type: ignore[attr-defined]
        state.update(view[:n])
    return state.hexdigest()


class FileChangedError(OSError):
    """A file's size or mtime changed while it was being hashed."""


class HashedFile(NamedTuple):
    """A file read once: its bytes (None when streamed), digest and stat while read."""

    data: bytes | None
    digest: str
    stat: os.stat_result
    read_done_ns: int


def read_and_hash(path: str | os.PathLike[str], *, keep_limit: int = 64 << 20) -> HashedFile:
    """Hash a file and keep its bytes when small, so callers need not read it twice.

    Parameters
    ----------
    path : str or os.PathLike
        The file. Symbolic links are followed.
    keep_limit : int, default 64 MiB
        Files up to this size are read whole and returned in ``data``; larger ones are
        streamed in chunks and ``data`` is None.

    Returns
    -------
    HashedFile
        ``stat`` is the ``fstat`` of the open file and ``read_done_ns`` the wall clock
        (``time.time_ns``) when reading finished: a cache compares both to decide whether
        the file could still change without its mtime moving.

    Raises
    ------
    OSError
        If the file cannot be read; ``FileChangedError`` if its size or mtime changed
        while it was being read (the digest would describe no version of the file).

    Examples
    --------
    >>> import tempfile
    >>> with tempfile.NamedTemporaryFile(delete=False) as f:
    ...     _ = f.write(b"pixels")
    >>> r = read_and_hash(f.name)
    >>> (r.data, r.digest == hash_bytes(b"pixels"), r.stat.st_size)
    (b'pixels', True, 6)
    >>> os.remove(f.name)
    """
    fd = os.open(path, _OPEN_FLAGS)
    try:
        st = os.fstat(fd)
        size = st.st_size
        if size <= keep_limit and S_ISREG(st.st_mode):
            # The common case, kept lean (a scan does it per file): one read() for the whole
            # file, asking one byte more so that a file grown since the fstat shows.
            buf = os.read(fd, size + 1)
            if len(buf) != size and buf:
                buf += _readall(fd)  # a short read (network file systems) or a grown file
            data: bytes | None = buf
            digest = xxh3_128_hexdigest(buf)
            done, after = time.time_ns(), os.fstat(fd)
        else:
            with open(fd, "rb", buffering=0, closefd=False) as f:
                if size <= keep_limit:
                    data = f.readall() or b""
                    digest = hash_bytes(data)
                else:
                    data, digest = None, _hash_stream(f)
            done, after = time.time_ns(), os.fstat(fd)
    finally:
        os.close(fd)
    if after.st_size != size or after.st_mtime_ns != st.st_mtime_ns:
        raise FileChangedError(f"{path} changed while being read")
    return HashedFile(data, digest, st, done)


def _readall(fd: int) -> bytes:
    chunks: list[bytes] = []
    while chunk := os.read(fd, CHUNK_SIZE):
        chunks.append(chunk)
    return b"".join(chunks)

