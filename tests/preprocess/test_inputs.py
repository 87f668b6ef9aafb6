"""Inputs of every kind give the same outputs, twice; bad inputs get one clear error; the torch side runs
the same code; importing the folder stays light and never reaches the store."""

from __future__ import annotations

import io
import pickle
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from PIL import Image

from jupyter_cvops.images import DEFAULT_MAX_PIXELS
from jupyter_cvops.preprocess import ImageDecodeError, Preprocess, PreprocessError

REPO = Path(__file__).resolve().parents[2]
PRE = Preprocess(256, crop=224, mean=(0.485, 0.456, 0.406), std=(0.229, 0.224, 0.225))


def _png_header_only(width: int, height: int) -> bytes:
    """A PNG that declares ``width`` x ``height`` RGB pixels and holds almost no data."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b"")


def test_every_input_kind_gives_the_same_output(images: list[Path]) -> None:
    p = images[1]
    expected = PRE(p)
    bgr = cv2.imread(str(p))
    for x, kw in [(str(p), {}), (p.read_bytes(), {}), (bytearray(p.read_bytes()), {}), (Image.open(p), {}),
                  (np.asarray(Image.open(p)), {}), (bgr, {"color": "BGR"}),
                  (np.dstack([np.asarray(Image.open(p)), np.full(bgr.shape[:2], 7, np.uint8)]), {})]:
        np.testing.assert_array_equal(PRE(x, **kw), expected, err_msg=type(x).__name__)


def test_outputs_are_deterministic_and_batch_equals_single(images: list[Path]) -> None:
    for pre in (PRE, Preprocess(224, library="torch", crop=224), Preprocess(224, library="opencv", crop=224)):
        first = pre.batch(images)
        np.testing.assert_array_equal(first, pre.batch(images))
        np.testing.assert_array_equal(first[3], pre(images[3]))
        assert first.shape == (len(images), 3, 224, 224)


@pytest.mark.parametrize("data,words", [
    (b"", "zero-byte"),
    (b"GIF89a-not-really", "cannot decode image"),
    (b"\x89PNG\r\n\x1a\n" + b"\0" * 40, "cannot decode image"),
])
def test_corrupt_bytes_say_why(data: bytes, words: str) -> None:
    with pytest.raises(ImageDecodeError, match=words):
        PRE(data)


def test_truncated_files_say_why(images: list[Path]) -> None:
    for decode in ("pil", "opencv"):
        buf = io.BytesIO()
        Image.open(images[6]).save(buf, format="JPEG")
        with pytest.raises(ImageDecodeError, match="cannot decode image"):
            Preprocess(224, decode=decode)(buf.getvalue()[: len(buf.getvalue()) // 3])  # type: ignore[arg-type]


def test_huge_declared_image_is_refused_before_decoding() -> None:
    huge = _png_header_only(100_000, 100_000)
    for decode in ("pil", "opencv"):
        with pytest.raises(ImageDecodeError, match="too large|megapixels"):
            Preprocess(224, decode=decode)(huge)  # type: ignore[arg-type]
    with pytest.raises(ImageDecodeError, match=r"2,000 x 2,000|2000 x 2000"):
        PRE(_png_header_only(2000, 2000), max_pixels=1_000_000)
    assert DEFAULT_MAX_PIXELS == 178_956_970  # the package's cap, shared with images/


def test_bad_paths_and_types(tmp_path: Path) -> None:
    with pytest.raises(ImageDecodeError, match="file not found"):
        PRE(tmp_path / "missing.png")
    with pytest.raises(ImageDecodeError, match="is a folder"):
        PRE(tmp_path)
    with pytest.raises(ImageDecodeError, match="must be uint8"):
        PRE(np.zeros((4, 4, 3), np.float32))
    with pytest.raises(ImageDecodeError, match=r"shape \(4, 4, 2\)"):
        PRE(np.zeros((4, 4, 2), np.uint8))
    with pytest.raises(PreprocessError, match="cannot preprocess a builtins.int"):
        PRE(3)
    with pytest.raises(PreprocessError, match="different shapes"):
        Preprocess(32).batch([np.zeros((40, 50, 3), np.uint8), np.zeros((40, 60, 3), np.uint8)])


def test_dataset_and_loader_run_the_same_code(images: list[Path]) -> None:
    torch.manual_seed(0)
    ds = PRE.dataset([str(p) for p in images], labels=list(range(len(images))))
    assert isinstance(ds, torch.utils.data.Dataset)
    loader = torch.utils.data.DataLoader(ds, batch_size=5, shuffle=False)
    xs, ys = zip(*loader)
    np.testing.assert_array_equal(torch.cat(xs).numpy(), PRE.batch(images))
    assert torch.cat(ys).tolist() == list(range(len(images)))
    t = pickle.loads(pickle.dumps(PRE.torch_transform()))  # DataLoader workers pickle it
    np.testing.assert_array_equal(t(images[0]).numpy(), PRE(images[0]))
    with pytest.raises(PreprocessError, match="2 items but 1 labels"):
        PRE.dataset(images[:2], labels=[0])


def test_importing_preprocess_loads_neither_torch_nor_the_store() -> None:
    code = ("import sys, jupyter_cvops.preprocess as p; p.Preprocess(8).fingerprint; "
            "bad = [m for m in ('torch', 'jupyter_cvops._store.store', 'jupyter_cvops.workspace', 'lancedb') "
            "if m in sys.modules]; assert not bad, bad")
    subprocess.run([sys.executable, "-c", code], cwd=REPO, check=True, timeout=120)
