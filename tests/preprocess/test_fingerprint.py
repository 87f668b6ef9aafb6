"""Fingerprints: canonical (aliases agree), stable across processes, different when any parameter or a
library version changes; records round-trip and refuse tampering; wrapped transforms describe themselves."""

from __future__ import annotations

import json
import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from torchvision.transforms import v2

from jupyter_cvops.preprocess import Preprocess, PreprocessError, spec_differences
from jupyter_cvops.preprocess import spec as spec_module

REPO = Path(__file__).resolve().parents[2]
MEAN, STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)

V2_CODE = """
import torch
from torchvision.transforms import v2
t = v2.Compose([v2.ToImage(), v2.Resize({size}, antialias=True), v2.CenterCrop(224),
                v2.ToDtype(torch.float32, scale=True), v2.Normalize(mean=[0.485, 0.456, 0.406],
                std=[0.229, 0.224, 0.225])])
"""
CLIP_CODE = "import open_clip\nt = open_clip.image_transform({size}, is_train=False)\n"
SPEC_CODE = ("from jupyter_cvops.preprocess import Preprocess\n"
             "pre = Preprocess({size}, crop=224, mean=(0.485, 0.456, 0.406), std=(0.229, 0.224, 0.225))\n")


def _fingerprint_in_subprocess(code: str) -> str:
    script = code + ("\nfrom jupyter_cvops.preprocess import Preprocess\n"
                     "pre = Preprocess.wrap(t) if 'pre' not in dir() else pre\nprint(pre.fingerprint)\n")
    done = subprocess.run([sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True, timeout=300,
                          check=True)
    return done.stdout.strip().splitlines()[-1]


def _here(code: str) -> Preprocess:
    ns: dict[str, object] = {}
    exec(code, ns)
    pre = ns.get("pre")
    return pre if isinstance(pre, Preprocess) else Preprocess.wrap(ns["t"])


@pytest.mark.parametrize("code", [V2_CODE, CLIP_CODE, SPEC_CODE], ids=["torchvision-v2", "open_clip", "spec"])
def test_fingerprint_is_stable_across_processes_and_changes_with_a_parameter(code: str) -> None:
    here = _here(code.format(size=256))
    assert _fingerprint_in_subprocess(code.format(size=256)) == here.fingerprint
    other = _here(code.format(size=240))
    assert other.fingerprint != here.fingerprint
    fields = [d.field for d in spec_differences(here, other)]
    assert fields and all(f == "size" or f.endswith(".params.size") for f in fields), fields


def test_wrapped_open_clip_preprocess_runs_like_the_transform(images: list[Path]) -> None:
    import open_clip
    from PIL import Image

    t = open_clip.image_transform(224, is_train=False)
    pre = Preprocess.wrap(t, name="clip")
    assert pre.to_spec()["transform_kind"] == "open_clip"
    assert {"open_clip", "torch", "torchvision", "pillow"} <= set(pre.versions)
    for p in images[:4]:
        np.testing.assert_array_equal(pre(p), t(Image.open(p)).numpy())
    assert "open_clip" in repr(pre) and "clip" in repr(pre)


def test_wrapped_v2_equals_declarative_torch_spec_outputs(images: list[Path]) -> None:
    t = v2.Compose([v2.ToImage(), v2.Resize(256, antialias=True), v2.CenterCrop(224),
                    v2.ToDtype(torch.float32, scale=True), v2.Normalize(mean=list(MEAN), std=list(STD))])
    wrapped = Preprocess.wrap(t, input="tensor")
    spec = Preprocess(256, library="torch", crop=224, mean=MEAN, std=STD)
    assert wrapped.fingerprint != spec.fingerprint
    for p in images[:4]:
        np.testing.assert_allclose(wrapped(p), spec(p), rtol=0, atol=1e-6)


def test_aliases_and_defaults_are_canonical() -> None:
    a = Preprocess(224, resize="bilinear", library="opencv", mean=(0.5, 0.5, 0.5), std=(0.25, 0.25, 0.25))
    b = Preprocess(224, resize="LINEAR", library="cv2", mean=0.5, std=[0.25], antialias=False,
                   resize_mode="shorter-side")
    assert a.fingerprint == b.fingerprint and a == b and hash(a) == hash(b)
    assert Preprocess((224, 224)).fingerprint == Preprocess(224, resize_mode="exact").fingerprint
    assert Preprocess(name="x").fingerprint == Preprocess(name="y").fingerprint  # a label, not the pipeline
    assert Preprocess(resize="nearest").antialias is False


@pytest.mark.parametrize("kwargs,words", [
    (dict(library="opencv", antialias=True), "OpenCV's resize never antialiases"),
    (dict(library="pil", antialias=False), "PIL always antialiases"),
    (dict(library="torch", resize="area"), "library='torch' resizes with"),
    (dict(dtype="uint8"), "scale=None"),
    (dict(mean=(0.5, 0.5, 0.5)), "both mean and std"),
    (dict(mean=(0.5, 0.5), std=(1, 1)), "2 values"),
    (dict(color="HSV"), "color must be one of"),
    (dict(size=(224, 0)), "positive"),
    (dict(size=(224, 200), resize_mode="shorter"), "one integer size"),
    (dict(std=(0, 1, 1), mean=(0, 0, 0)), "zeros"),
])
def test_invalid_specs_say_why(kwargs: dict[str, object], words: str) -> None:
    with pytest.raises(PreprocessError, match=None) as err:
        Preprocess(**kwargs)  # type: ignore[arg-type]
    assert words in str(err.value)


def test_a_library_version_change_changes_the_fingerprint(monkeypatch: pytest.MonkeyPatch) -> None:
    pre = Preprocess(224)
    before = pre.fingerprint  # versions are read once, when first needed
    real = spec_module.library_versions

    def bumped(names: list[str]) -> dict[str, str]:
        return {k: ("99.0" if k == "pillow" else v) for k, v in real(names).items()}

    monkeypatch.setattr(spec_module, "library_versions", bumped)
    later = Preprocess(224)
    assert later.fingerprint != before == pre.fingerprint
    assert [d.field for d in spec_differences(pre, later)] == ["versions.pillow"]
    assert spec_differences(pre, later, versions=False) == []


def test_record_round_trip_and_tampering() -> None:
    pre = Preprocess(256, crop=224, library="torch", mean=MEAN, std=STD, name="train")
    rec = pre.to_record()
    assert all(isinstance(v, str) for v in rec.values())
    json.loads(rec["golden_json"])
    back = Preprocess.from_record(rec)
    assert back == pre and back.name == "train" and back.recorded == rec
    np.testing.assert_array_equal(back.golden_outputs()["grey.png"], pre.golden_outputs()["grey.png"])
    bad = dict(rec, spec_json=rec["spec_json"].replace('"antialias":true', '"antialias":false'))
    with pytest.raises(PreprocessError, match="inconsistent"):
        Preprocess.from_record(bad)
    with pytest.raises(PreprocessError, match="missing"):
        Preprocess.from_record({"fingerprint": "x"})
    assert pickle.loads(pickle.dumps(pre)) == pre


def test_wrapped_record_is_a_stub_until_the_transform_is_given_again() -> None:
    t = v2.Compose([v2.Resize(40), v2.CenterCrop(32)])
    pre = Preprocess.wrap(t, input="tensor")
    rec = pre.to_record()
    stub = Preprocess.from_record(rec)
    assert not stub.runnable and stub.fingerprint == pre.fingerprint
    assert spec_differences(stub, pre) == []
    with pytest.raises(PreprocessError, match="pass it again"):
        stub(np.zeros((8, 8, 3), np.uint8))
    again = Preprocess.from_record(rec, transform=t)
    assert again.runnable and again.fingerprint == pre.fingerprint
    with pytest.raises(PreprocessError, match=r"not the recorded one .*size"):
        Preprocess.from_record(rec, transform=v2.Compose([v2.Resize(41), v2.CenterCrop(32)]))


def test_lambdas_in_a_wrapped_pipeline_are_described_by_source() -> None:
    a = Preprocess.wrap(v2.Compose([v2.ToImage(), v2.Lambda(lambda x: x * 2)]), input="tensor")
    b = Preprocess.wrap(v2.Compose([v2.ToImage(), v2.Lambda(lambda x: x * 3)]), input="tensor")
    assert a.fingerprint != b.fingerprint
    assert " at 0x" not in a.to_record()["spec_json"]


def test_albumentations_is_described_by_its_dict() -> None:
    A = pytest.importorskip("albumentations", reason="albumentations is not installed in this environment")
    t = A.Compose([A.Resize(64, 64), A.Normalize()])
    pre = Preprocess.wrap(t)
    assert pre.to_spec()["input"] == "numpy" and "albumentations" in pre.versions
    assert pre(np.zeros((80, 90, 3), np.uint8)).shape == (64, 64, 3)
    other = Preprocess.wrap(A.Compose([A.Resize(65, 64), A.Normalize()]))
    assert other.fingerprint != pre.fingerprint


def test_repr_and_html_are_short() -> None:
    pre = Preprocess(256, crop=224, library="opencv", mean=MEAN, std=STD)
    assert len(repr(pre)) < 200 and pre.fingerprint[:12] in repr(pre)
    html = pre._repr_html_()
    assert "<table>" in html and pre.fingerprint in html and "opencv" in html
