"""verify re-reads files as registration does: same answers in one thread or many, every way a file can be lost."""

from __future__ import annotations

import os
from pathlib import Path

import polars as pl
import pytest

from jupyter_cvops.datasets._verify import verify_items
from jupyter_cvops.images._hashing import hash_bytes


@pytest.fixture()
def items(tmp_path: Path) -> pl.DataFrame:
    rows = []
    for k in range(300):
        f = tmp_path / f"f{k:03d}.bin"
        f.write_bytes(b"x" * k + b"!")
        rows.append({"image_id": hash_bytes(f.read_bytes()), "path": str(f)})
    (tmp_path / "f007.bin").unlink()  # gone
    (tmp_path / "f008.bin").write_bytes(b"edited")  # changed
    (tmp_path / "f009.bin").unlink()
    (tmp_path / "f009.bin").mkdir()  # a folder where the file was
    os.symlink(tmp_path / "f001.bin", tmp_path / "link")
    rows.append({"image_id": rows[1]["image_id"], "path": str(tmp_path / "link")})  # symlinks are followed
    rows.append({"image_id": rows[2]["image_id"], "path": str(tmp_path / "f002.bin")})  # listed twice
    return pl.DataFrame(rows)


@pytest.mark.parametrize("workers", [1, None, 4])
def test_verify_finds_missing_changed_and_folders_in_any_thread_mode(items: pl.DataFrame, workers: int | None) -> None:
    rep = verify_items(items, progress=False, workers=workers)
    assert rep.n_checked == 302
    assert sorted(Path(p).name for p in rep.missing["path"]) == ["f007.bin", "f009.bin"]
    assert rep.missing["reason"].to_list() == [None, None]
    assert rep.changed["path"].to_list() == [items["path"][8]]
    assert rep.changed["new_hash"].to_list() == [hash_bytes(b"edited")]
    assert not rep.ok


def test_unreadable_file_names_the_reason(items: pl.DataFrame) -> None:
    if os.geteuid() == 0:
        pytest.skip("root reads files whatever their mode")
    os.chmod(items["path"][3], 0)
    rep = verify_items(items, progress=False)
    assert rep.missing.filter(pl.col("path") == items["path"][3])["reason"].item().startswith("unreadable")
