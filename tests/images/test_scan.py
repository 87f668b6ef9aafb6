"""Scanning real image files, and every way a file can be unusable."""

from __future__ import annotations

import os
import shutil
import struct
import threading
import time
import zlib
from datetime import datetime, timezone
from pathlib import Path
from types import SimpleNamespace

import pytest
from pytest import MonkeyPatch
import xxhash
from PIL import Image, ImageFile

from jupyter_cvops.images import scan as images
from jupyter_cvops._store import statcache
from jupyter_cvops._store.statcache import StatCache
from jupyter_cvops.images.scan import (
    DEFAULT_MAX_PIXELS,
    FileProblem,
    ImageInfo,
    ScanResult,
    expand_paths,
    scan_images,
)

NEU = Path("images/neu-surface-defects")
GP8000 = Path("formats/cvat-export-concretenet/data/Cleaned/Training/GP8000")


def age(*paths: Path, seconds: int = 60) -> None:
    """Move mtimes into the past, as for files that were not just written (see is_racy)."""
    then = time.time_ns() - seconds * 10**9
    for p in paths:
        for f in [p] if p.is_file() else [q for q in p.rglob("*") if q.is_file()]:
            os.utime(f, ns=(then, then))


def reasons(result: ScanResult) -> dict[str, str]:
    return {Path(p.path).name: p.reason for p in result.problems}


def png_chunk(tag: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data))


def bomb_png(width: int, height: int) -> bytes:
    """A real PNG header (valid IHDR CRC) claiming width x height gray pixels."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 4096)
    sig = b"\x89PNG\r\n\x1a\n"
    return sig + png_chunk(b"IHDR", ihdr) + png_chunk(b"IDAT", idat) + png_chunk(b"IEND", b"")


@pytest.fixture
def jpgs(shared_data: Path, tmp_path: Path) -> Path:
    """The 30 real NEU JPEGs, copied to a writable folder with mtimes in the past."""
    dst = tmp_path / "neu"
    shutil.copytree(shared_data / NEU, dst)
    for f in dst.iterdir():
        f.chmod(0o644)
    age(dst)
    return dst


def test_real_jpegs_and_pngs(shared_data: Path) -> None:
    result = scan_images([shared_data / NEU, str(shared_data / GP8000 / "*.png")], progress=False)
    assert result.problems == [] and result.n_hashed == len(result.images) and result.n_cached == 0
    jpegs = [i for i in result.images if i.format == "jpeg"]
    pngs = [i for i in result.images if i.format == "png"]
    assert len(jpegs) == 30 and len(pngs) == len(list((shared_data / GP8000).glob("*.png"))) > 0
    for info in result.images:
        path = Path(info.path)
        assert path.is_absolute() and str(path.resolve()) == info.path
        assert info.image_id == xxhash.xxh3_128(path.read_bytes()).hexdigest()
        with Image.open(path) as ref:
            assert (info.width, info.height) == ref.size
            assert info.channels == len(ref.getbands())
        st = path.stat()
        assert (info.bytes, info.mtime_ns) == (st.st_size, st.st_mtime_ns)
        assert info.source is None and info.captured_at is None
    assert {(i.width, i.height) for i in jpegs} == {(200, 200)}
    assert {(i.width, i.height) for i in pngs} == {(2445, 1485)}
    assert [i.path for i in jpegs] == sorted(i.path for i in jpegs)  # deterministic order


def test_broken_files_get_one_line_reasons(jpgs: Path, shared_data: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad"
    bad.mkdir()
    jpeg = (jpgs / "crazing_151.jpg").read_bytes()
    png = sorted((shared_data / GP8000).glob("*.png"))[0].read_bytes()
    (bad / "truncated.jpg").write_bytes(jpeg[: len(jpeg) // 2])
    (bad / "truncated.png").write_bytes(png[: len(png) * 9 // 10])
    (bad / "header_only.png").write_bytes(png[:20])
    (bad / "empty.jpg").write_bytes(b"")
    (bad / "notes.jpg").write_text("just some text, renamed to .jpg\n" * 10)
    (bad / "noise.png").write_bytes(os.urandom(5000))
    (bad / "bomb.png").write_bytes(bomb_png(100_000, 100_000))
    (bad / "folder.jpg").mkdir()  # a folder with an image-like name: walked, holds nothing
    if hasattr(os, "mkfifo"):  # POSIX only; elsewhere the check below sees a missing file
        os.mkfifo(bad / "pipe.png")
    args = [bad, bad / "folder.jpg", bad / "pipe.png", tmp_path / "missing.jpg"]
    result = scan_images([*args, jpgs / "crazing_151.jpg"], progress=False)
    why = reasons(result)
    assert why["truncated.jpg"] == "truncated file (no JPEG end-of-image marker)"
    assert why["truncated.png"] == "truncated file (no PNG IEND)"
    assert why["header_only.png"].startswith("truncated file")
    assert why["empty.jpg"] == "zero-byte file"
    assert why["notes.jpg"] == why["noise.png"] == "not an image (unknown format)"
    assert why["bomb.png"] == (
        f"decompression bomb: 100000 x 100000 = 10,000,000,000 pixels, "
        f"over max_pixels={DEFAULT_MAX_PIXELS:,}"
    )
    assert why["folder.jpg"] == "folder contains no image files"
    assert why["pipe.png"] == ("not a regular file" if hasattr(os, "mkfifo") else "no such file")
    assert why["missing.jpg"] == "no such file"
    assert [i.path for i in result.images] == [str(jpgs / "crazing_151.jpg")]
    for p in result.problems:
        assert "\n" not in p.reason and str(p) == f"{p.path}: {p.reason}"


def test_a_bomb_is_never_decoded(tmp_path: Path, monkeypatch: MonkeyPatch) -> None:
    (tmp_path / "bomb.png").write_bytes(bomb_png(100_000, 100_000))

    def no_decoding(self: ImageFile.ImageFile) -> None:
        raise AssertionError("a decompression bomb was decoded")

    monkeypatch.setattr(ImageFile.ImageFile, "load", no_decoding)
    result = scan_images(tmp_path, check="decode", progress=False)
    assert result.problems[0].reason.startswith("decompression bomb: 100000 x 100000")
    small = scan_images(tmp_path, max_pixels=None, progress=False, check="header")
    assert small.images[0].width == 100_000  # no limit: the header is still read


def test_max_pixels_is_ours_not_pillows(jpgs: Path) -> None:
    result = scan_images(jpgs / "crazing_151.jpg", max_pixels=200 * 200 - 1, progress=False)
    assert result.problems[0].reason == (
        "decompression bomb: 200 x 200 = 40,000 pixels, over max_pixels=39,999"
    )
    assert scan_images(jpgs / "crazing_151.jpg", max_pixels=40_000, progress=False).images
    with pytest.raises(ValueError, match="max_pixels"):
        scan_images(jpgs, max_pixels=0)
    with pytest.raises(ValueError, match="check"):
        scan_images(jpgs, check="full")  # type: ignore[arg-type]


def test_decode_check_catches_corrupt_pixel_data(shared_data: Path, tmp_path: Path) -> None:
    png = bytearray(sorted((shared_data / GP8000).glob("*.png"))[0].read_bytes())
    middle = len(png) // 3
    png[middle : middle + 2000] = bytes(b ^ 0x5A for b in png[middle : middle + 2000])
    (tmp_path / "scrambled.png").write_bytes(bytes(png))  # header and IEND intact
    assert scan_images(tmp_path, progress=False).images  # the header check trusts it
    result = scan_images(tmp_path, check="decode", progress=False)
    assert reasons(result)["scrambled.png"].startswith("corrupt image data (")


def test_trailing_bytes_after_the_end_marker_are_fine(jpgs: Path, tmp_path: Path) -> None:
    data = (jpgs / "crazing_151.jpg").read_bytes()
    (tmp_path / "trailer.jpg").write_bytes(data + os.urandom(5000))  # e.g. a phone's trailer
    assert scan_images(tmp_path, progress=False).images[0].width == 200


def test_duplicates_first_path_wins(jpgs: Path) -> None:
    shutil.copy(jpgs / "crazing_151.jpg", jpgs / "zz_copy.jpg")
    age(jpgs)
    result = scan_images(jpgs, progress=False)
    assert len(result.images) == 30
    assert reasons(result) == {"zz_copy.jpg": f"duplicate content of {jpgs / 'crazing_151.jpg'}"}


def test_inputs_in_order_without_repeats(jpgs: Path) -> None:
    one, two = jpgs / "crazing_151.jpg", jpgs / "crazing_153.jpg"
    result = scan_images([two, one, str(one), jpgs], progress=False)
    assert [Path(i.path).name for i in result.images[:2]] == ["crazing_153.jpg", "crazing_151.jpg"]
    assert len(result.images) == 30 and result.problems == []


def test_expand_paths(jpgs: Path, tmp_path: Path) -> None:
    nested = tmp_path / "nested" / "a" / "b"
    nested.mkdir(parents=True)
    shutil.copy(jpgs / "crazing_151.jpg", nested / "deep.JPG")
    (nested / "notes.txt").write_text("x")
    (nested / ".hidden.jpg").write_bytes(b"x")
    (tmp_path / "nested" / ".ipynb_checkpoints").mkdir()
    (tmp_path / "nested" / ".ipynb_checkpoints" / "x.png").write_bytes(b"x")
    os.symlink(nested / "deep.JPG", tmp_path / "nested" / "link.jpg")
    got = expand_paths(tmp_path / "nested")
    assert got == [nested / "deep.JPG"]  # the link resolves to the same file
    assert expand_paths(str(tmp_path / "**" / "*.JPG")) == [nested / "deep.JPG"]
    assert expand_paths(str(tmp_path / "nested" / "**")) == [nested / "deep.JPG"]
    assert expand_paths(str(jpgs / "crazing_15*.jpg")) == [
        jpgs / "crazing_151.jpg",
        jpgs / "crazing_153.jpg",
    ]
    assert expand_paths(nested / "notes.txt") == [nested / "notes.txt"]  # explicit: kept
    assert expand_paths(iter([jpgs / "crazing_151.jpg"])) == [jpgs / "crazing_151.jpg"]
    none = scan_images(str(tmp_path / "*.webp"), progress=False)
    assert none.problems[0].reason == "no files match this glob pattern"


def test_exif_capture_time(tmp_path: Path) -> None:
    def jpeg_with(name: str, tags: dict[int, str]) -> None:  # 0x9003 original, 0x9011 offset
        exif = Image.Exif()
        exif.get_ifd(0x8769).update(tags)
        Image.new("RGB", (32, 24), "red").save(tmp_path / name, exif=exif)

    jpeg_with("a_offset.jpg", {0x9003: "2024:03:05 14:30:00", 0x9011: "+02:00"})
    jpeg_with("b_plain.jpg", {0x9003: "2023:12:31 23:59:58"})
    jpeg_with("c_garbage.jpg", {0x9003: "0000:00:00 00:00:00"})
    Image.new("L", (8, 8)).save(tmp_path / "d_none.png")
    got = {Path(i.path).name: i.captured_at for i in scan_images(tmp_path, progress=False).images}
    assert got == {
        "a_offset.jpg": datetime(2024, 3, 5, 12, 30, tzinfo=timezone.utc),
        "b_plain.jpg": datetime(2023, 12, 31, 23, 59, 58, tzinfo=timezone.utc),
        "c_garbage.jpg": None,
        "d_none.png": None,
    }


def test_channels_and_formats(tmp_path: Path) -> None:
    Image.new("L", (5, 4)).save(tmp_path / "gray.png")
    Image.new("RGBA", (5, 4)).save(tmp_path / "rgba.png")
    Image.new("P", (5, 4)).save(tmp_path / "palette.gif")
    Image.new("RGB", (5, 4), "blue").save(tmp_path / "rgb.bmp")
    Image.new("RGB", (5, 4), "green").save(tmp_path / "rgb.tiff")
    Image.new("RGB", (5, 4), "white").save(tmp_path / "rgb.webp")
    got = {
        Path(i.path).name: (i.format, i.channels, i.width, i.height)
        for i in scan_images(tmp_path, progress=False, check="decode").images
    }
    assert got == {
        "gray.png": ("png", 1, 5, 4),
        "rgba.png": ("png", 4, 5, 4),
        "palette.gif": ("gif", 3, 5, 4),
        "rgb.bmp": ("bmp", 3, 5, 4),
        "rgb.tiff": ("tiff", 3, 5, 4),
        "rgb.webp": ("webp", 3, 5, 4),
    }


def test_unchanged_rescan_hashes_nothing(jpgs: Path, tmp_path: Path) -> None:
    cache = StatCache(tmp_path / "stat.sqlite")
    first = scan_images(jpgs, cache=cache, source="line-1", progress=False)
    assert (first.n_hashed, first.n_cached) == (30, 0)
    reopened = StatCache(tmp_path / "stat.sqlite")
    again = scan_images(jpgs, cache=reopened, source="line-1", progress=False)
    assert (again.n_hashed, again.n_cached) == (0, 30)
    assert again.images == first.images and again.problems == []
    assert {i.source for i in again.images} == {"line-1"}
    cache.close()


def test_changed_files_are_hashed_again(jpgs: Path, tmp_path: Path) -> None:
    cache = StatCache(tmp_path / "stat.sqlite")
    first = {Path(i.path).name: i for i in scan_images(jpgs, cache=cache, progress=False).images}
    touched, rewritten = jpgs / "crazing_151.jpg", jpgs / "crazing_153.jpg"
    os.utime(touched, ns=(time.time_ns() - 10**10, time.time_ns() - 10**10))  # mtime only
    Image.new("RGB", (20, 10)).save(rewritten, format="JPEG")  # new size and content
    age(rewritten)
    result = scan_images(jpgs, cache=cache, progress=False)
    assert (result.n_hashed, result.n_cached) == (2, 28)
    now = {Path(i.path).name: i for i in result.images}
    assert now["crazing_151.jpg"].image_id == first["crazing_151.jpg"].image_id
    assert now["crazing_153.jpg"].image_id != first["crazing_153.jpg"].image_id
    assert (now["crazing_153.jpg"].width, now["crazing_153.jpg"].height) == (20, 10)
    cache.close()


def test_a_moved_file_keeps_its_identity(jpgs: Path, tmp_path: Path) -> None:
    cache = StatCache(tmp_path / "stat.sqlite")
    first = scan_images(jpgs, cache=cache, progress=False)
    before = {Path(i.path).name: i.image_id for i in first.images}
    (jpgs / "moved").mkdir()
    os.rename(jpgs / "crazing_151.jpg", jpgs / "moved" / "renamed.jpg")
    result = scan_images(jpgs, cache=cache, progress=False)
    after = {Path(i.path).name: i.image_id for i in result.images}
    assert after["renamed.jpg"] == before["crazing_151.jpg"] and "crazing_151.jpg" not in after
    assert str(jpgs / "crazing_151.jpg") not in cache.paths()  # the gone path left the cache
    assert str(jpgs / "moved" / "renamed.jpg") in cache.paths()
    cache.close()


def test_fresh_files_are_not_cached(jpgs: Path, tmp_path: Path, monkeypatch: MonkeyPatch) -> None:
    # A 30 s window instead of 50 ms, so that a busy test machine cannot make this flaky.
    monkeypatch.setattr(statcache, "RACY_WINDOW_NS", 30 * 10**9)
    fresh = jpgs / "fresh.png"
    Image.new("RGB", (3, 3), "red").save(fresh)  # mtime is now: could change unseen
    cache = StatCache(tmp_path / "stat.sqlite")
    scan_images(jpgs, cache=cache, progress=False)
    assert str(fresh) not in cache.paths()
    assert scan_images(jpgs, cache=cache, progress=False).n_hashed == 1
    age(fresh)
    scan_images(jpgs, cache=cache, progress=False)
    assert scan_images(jpgs, cache=cache, progress=False).n_hashed == 0
    cache.close()


def test_cached_results_follow_the_scan_settings(jpgs: Path, tmp_path: Path) -> None:
    cache = StatCache(tmp_path / "stat.sqlite")
    scan_images(jpgs, cache=cache, progress=False)
    small = scan_images(jpgs, cache=cache, max_pixels=1000, progress=False)
    assert small.n_hashed == 0 and len(small.problems) == 30  # bombs from cached sizes
    decoded = scan_images(jpgs, cache=cache, check="decode", progress=False)
    assert decoded.n_hashed == 30 and len(decoded.images) == 30  # header-only was not enough
    assert scan_images(jpgs, cache=cache, progress=False).n_hashed == 0  # decode covers header
    cache.close()


def test_problems_are_cached_too(jpgs: Path, tmp_path: Path) -> None:
    (jpgs / "notes.jpg").write_text("not an image")
    age(jpgs / "notes.jpg")
    cache = StatCache(tmp_path / "stat.sqlite")
    scan_images(jpgs, cache=cache, progress=False)
    again = scan_images(jpgs, cache=cache, progress=False)
    assert again.n_hashed == 0
    assert reasons(again) == {"notes.jpg": "not an image (unknown format)"}
    cache.close()


def test_permission_denied(jpgs: Path, monkeypatch: MonkeyPatch) -> None:
    target = str(jpgs / "crazing_151.jpg")
    from jupyter_cvops.images import _probe

    real = _probe.read_and_hash

    def guarded(path: str, **kw: int) -> object:
        if path == target:  # root reads everything, so chmod 000 cannot show this here
            raise PermissionError(13, "Permission denied", path)
        return real(path, **kw)

    monkeypatch.setattr(_probe, "read_and_hash", guarded)
    assert reasons(scan_images(jpgs, progress=False)) == {"crazing_151.jpg": "permission denied"}


@pytest.mark.skipif(
    getattr(os, "geteuid", lambda: -1)() == 0, reason="root reads files without permission"
)
def test_permission_denied_for_real(jpgs: Path) -> None:
    (jpgs / "crazing_151.jpg").chmod(0)
    assert reasons(scan_images(jpgs, progress=False)) == {"crazing_151.jpg": "permission denied"}


def test_large_files_are_streamed(jpgs: Path, shared_data: Path, monkeypatch: MonkeyPatch) -> None:
    png = sorted((shared_data / GP8000).glob("*.png"))[0]
    in_memory = scan_images([png, jpgs], progress=False)
    from jupyter_cvops.images import _probe

    monkeypatch.setattr(_probe, "READ_WHOLE_LIMIT", 1000)
    streamed = scan_images([png, jpgs], progress=False)
    assert streamed.images == in_memory.images
    cut = jpgs / "cut.png"
    cut.write_bytes(png.read_bytes()[:300_000])
    assert reasons(scan_images(cut, progress=False))["cut.png"] == "truncated file (no PNG IEND)"


def test_threads_and_one_thread_agree(jpgs: Path) -> None:
    one, many = (scan_images(jpgs, workers=n, progress=False) for n in (1, 8))
    assert one == many


def test_progress_bar_above_200_files(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for i in range(210):
        Image.new("L", (2, 2), i).save(tmp_path / f"{i:03d}.png")
    result = scan_images(tmp_path, progress=True)
    assert len(result.images) == 210 and "hashing images" in capsys.readouterr().err
    scan_images(list(tmp_path.glob("00*.png")), progress=True)
    assert "hashing images" not in capsys.readouterr().err


def test_result_types_and_summary(jpgs: Path) -> None:
    (jpgs / "empty.jpg").write_bytes(b"")
    result = scan_images(jpgs, progress=False)
    assert isinstance(result.images[0], ImageInfo) and isinstance(result.problems[0], FileProblem)
    assert str(result).splitlines() == [
        "30 images, 1 problems (30 hashed, 0 from cache)",
        f"  {jpgs / 'empty.jpg'}: zero-byte file",
    ]


@pytest.mark.slow
def test_rescan_of_5000_files_is_fast(tmp_path: Path) -> None:
    src = tmp_path / "many"
    src.mkdir()
    for i in range(5000):
        raw = b"".join(b"\x00" + i.to_bytes(4, "big") * 6 for _ in range(8))
        ihdr = struct.pack(">IIBBBBB", 8, 8, 8, 2, 0, 0, 0)
        body = png_chunk(b"IHDR", ihdr) + png_chunk(b"IDAT", zlib.compress(raw, 1))
        (src / f"{i:05d}.png").write_bytes(b"\x89PNG\r\n\x1a\n" + body + png_chunk(b"IEND", b""))
    age(src)
    cache = StatCache(tmp_path / "stat.sqlite")
    assert scan_images(src, cache=cache, progress=False).n_hashed == 5000
    best = float("inf")
    for _ in range(3):
        t = time.perf_counter()
        again = scan_images(src, cache=cache, progress=False)
        best = min(best, time.perf_counter() - t)
        assert again.n_hashed == 0 and len(again.images) == 5000
    assert best < 0.5, f"re-scanning 5000 unchanged files took {best:.3f}s"
    cache.close()


def test_fast_header_path_equals_pillow(shared_data: Path, tmp_path: Path) -> None:
    """The Pillow-free header reader gives exactly what the Pillow probe gives."""
    import io

    import cv2
    import numpy as np

    from jupyter_cvops.images._probe import _fast_header, _probe

    files = sorted((shared_data / "images" / "neu-surface-defects").glob("*.jpg"))
    files += sorted((shared_data / GP8000).glob("*.png"))
    rng = np.random.default_rng(0)
    for shape in [(7, 9), (7, 9, 3), (7, 9, 4)]:
        for ext in (".png", ".jpg"):
            if ext == ".jpg" and len(shape) == 3 and shape[2] == 4:
                continue
            ok, buf = cv2.imencode(ext, rng.integers(0, 255, shape, dtype=np.uint8))
            f = tmp_path / f"gen_{len(shape)}_{shape[-1]}{ext}"
            f.write_bytes(buf.tobytes())
            files.append(f)
    n_fast = 0
    for f in files:
        data = f.read_bytes()
        fast = _fast_header(data)
        slow = _probe(io.BytesIO(data), "header", None)
        if fast is not None:
            n_fast += 1
            assert {k: slow[k] for k in fast} == fast, f
    assert n_fast >= len(files) - 2


def ticking(wall_step: float, cpu_step: float) -> SimpleNamespace:
    """A stand-in for the ``time`` module whose clocks move by fixed steps per call."""
    clock = {"wall": 0.0, "cpu": 0.0}

    def tick(which: str, step: float) -> float:
        clock[which] += step
        return clock[which]

    return SimpleNamespace(
        perf_counter=lambda: tick("wall", wall_step), thread_time=lambda: tick("cpu", cpu_step)
    )


@pytest.fixture
def mixed(jpgs: Path) -> Path:
    """30 JPEGs plus files that fail in the hasher, spread through the sorted order."""
    good = sorted(jpgs.glob("*.jpg"))[3].read_bytes()
    (jpgs / "a_notes.png").write_text("not an image")
    (jpgs / "m_cut.jpg").write_bytes(good[:400])
    (jpgs / "z_copy.jpg").write_bytes(good)
    (jpgs / "p_empty.jpg").write_bytes(b"")
    age(jpgs)
    return jpgs


def threads_used(monkeypatch: MonkeyPatch) -> list[str]:
    names: list[str] = []
    real = images._read_and_probe

    def spy(path: str, check: str, max_pixels: int | None) -> object:
        names.append(threading.current_thread().name)
        return real(path, check, max_pixels)

    monkeypatch.setattr(images, "_read_and_probe", spy)
    return names


@pytest.mark.parametrize(
    ("clock", "big", "threaded"),
    [
        ((1.0, 1.0), None, False),  # CPU-bound reads of small files: stay in this thread
        ((10.0, 1.0), None, True),  # reads wait on the disk: threads for the rest
        ((1.0, 1.0), 1, True),  # large files: threads for the rest
    ],
)
def test_scan_moves_to_threads_only_when_reads_wait_or_files_are_large(
    mixed: Path, monkeypatch: MonkeyPatch, clock: tuple[float, float], big: int | None,
    threaded: bool,
) -> None:
    serial = scan_images(mixed, workers=1, progress=False)
    assert reasons(serial) == {
        "a_notes.png": "not an image (unknown format)",
        "m_cut.jpg": "truncated file (header cut short)",
        "p_empty.jpg": "zero-byte file",
        "z_copy.jpg": f"duplicate content of {sorted(mixed.glob('*.jpg'))[3]}",
    }
    monkeypatch.setattr(images, "_STEP", 5)
    monkeypatch.setattr(images, "time", ticking(*clock))
    monkeypatch.setattr(os, "cpu_count", lambda: 4)  # threads are an option even on 1 core
    if big is not None:
        monkeypatch.setattr(images, "_BIG", big)
    names = threads_used(monkeypatch)
    adaptive = scan_images(mixed, workers=None, progress=False)
    assert adaptive == serial  # same images and per-file reasons, in input order
    main = threading.current_thread().name
    assert names[:5] == [main] * 5
    assert any(n.startswith("cvops-scan") for n in names[5:]) is threaded
    assert all(n == main for n in names) is not threaded


def test_fast_header_palette_transparency_and_exif_pngs(tmp_path: Path) -> None:
    import io

    from jupyter_cvops.images._probe import _fast_header, _probe

    plain, clear = Image.new("P", (5, 3)), Image.new("P", (5, 3))
    clear.info["transparency"] = 0
    for im, bands in ((plain, 3), (clear, 4), (Image.new("LA", (5, 3)), 2)):
        buf = io.BytesIO()
        im.save(buf, "PNG")
        data = buf.getvalue()
        fast, slow = _fast_header(data), _probe(io.BytesIO(data), "header", None)
        assert fast is not None and fast["channels"] == bands
        assert {k: slow[k] for k in fast} == fast
    exif = Image.Exif()
    exif[0x0132] = "2024:01:02 03:04:05"
    buf = io.BytesIO()
    Image.new("RGB", (5, 3)).save(buf, "PNG", exif=exif)
    assert b"eXIf" in buf.getvalue() and _fast_header(buf.getvalue()) is None  # Pillow decides
