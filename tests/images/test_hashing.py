"""Content hashes: XXH3-128 of the bytes, whatever the chunking, checked against xxhash."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from types import SimpleNamespace

import pytest
import xxhash
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from jupyter_cvops.images._hashing import (
    CHUNK_SIZE,
    FileChangedError,
    hash_bytes,
    hash_file,
    read_and_hash,
)


def reference(data: bytes) -> str:
    return xxhash.xxh3_128(data).hexdigest()


def test_real_images_match_the_reference(shared_data: Path) -> None:
    files = sorted((shared_data / "images" / "neu-surface-defects").glob("*.jpg"))[:5]
    files += sorted(
        (shared_data / "formats/cvat-export-concretenet/data/Cleaned/Training/GP8000").glob("*.png")
    )[:2]
    assert len(files) == 7
    for f in files:
        data = f.read_bytes()
        digest = hash_file(f)
        assert digest == reference(data) == hash_bytes(data)
        assert len(digest) == 32 and int(digest, 16) >= 0 and digest == digest.lower()
        assert read_and_hash(f).digest == digest


def test_known_digest_of_empty_input(tmp_path: Path) -> None:
    (tmp_path / "empty").write_bytes(b"")
    assert hash_file(tmp_path / "empty") == hash_bytes(b"") == "99aa06d3014798d86001c324468d497f"


@pytest.mark.parametrize(
    "size", [CHUNK_SIZE - 1, CHUNK_SIZE, CHUNK_SIZE + 1, 3 * CHUNK_SIZE + 7]
)
def test_default_chunk_boundaries(tmp_path: Path, size: int) -> None:
    data = os.urandom(size)
    (tmp_path / "f").write_bytes(data)
    assert hash_file(tmp_path / "f") == reference(data)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.binary(max_size=5000), chunk=st.integers(min_value=1, max_value=700))
def test_hash_file_equals_hash_bytes_for_any_chunking(data: bytes, chunk: int) -> None:
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "blob"
        path.write_bytes(data)
        assert hash_file(path, chunk_size=chunk) == hash_bytes(data) == reference(data)
        kept, streamed = read_and_hash(path), read_and_hash(path, keep_limit=chunk)
        assert kept.data == data and kept.digest == reference(data)
        assert streamed.digest == reference(data)
        assert streamed.data is (None if len(data) > chunk else streamed.data)


def test_read_and_hash_reports_the_stat_it_read(tmp_path: Path) -> None:
    path = tmp_path / "f"
    path.write_bytes(b"abc")
    got = read_and_hash(path)
    st = os.stat(path)
    assert (got.stat.st_size, got.stat.st_mtime_ns, got.stat.st_ino) == (
        st.st_size,
        st.st_mtime_ns,
        st.st_ino,
    )
    assert got.read_done_ns >= st.st_mtime_ns


def test_a_file_changing_while_read_is_an_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "f"
    path.write_bytes(b"abc")
    real_fstat, calls = os.fstat, []

    def growing_fstat(fd: int) -> object:
        st = real_fstat(fd)
        calls.append(fd)
        if len(calls) == 2:  # the check after reading sees a grown file, same mtime
            return SimpleNamespace(st_size=st.st_size + 1, st_mtime_ns=st.st_mtime_ns)
        return st

    monkeypatch.setattr(os, "fstat", growing_fstat)
    with pytest.raises(FileChangedError, match="changed while being read"):
        read_and_hash(path)


def test_errors_are_os_errors(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        hash_file(tmp_path / "missing")
    with pytest.raises(IsADirectoryError):
        hash_file(tmp_path)
    with pytest.raises(ValueError, match="chunk_size"):
        hash_file(tmp_path / "missing", chunk_size=0)
