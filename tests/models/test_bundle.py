"""Serving bundles: one folder with the artifact, preprocessing, classes, card and a manifest of hashes;
``load_bundle`` checks every hash (and the version id) before it loads anything."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from tiny_nets import tiny

from jupyter_cvops import Preprocess, Workspace
from jupyter_cvops.models import ArtifactIntegrityError, ModelError, load_bundle

CLASSES = ["dent", "scuff", "ok"]


@pytest.mark.parametrize("fmt", ["torch.export", "torch-state-dict"])
def test_export_and_load_a_bundle(ws: Workspace, pre: Preprocess, tmp_path: Path, fmt: str) -> None:
    model = tiny(seed=7)
    mv = ws.register_model("defect-clf", model, preprocess=pre, classes=CLASSES, format=fmt,
                           metrics={"val_accuracy": 0.9})
    ws.set_alias("defect-clf", "production", mv)
    out = ws.model("defect-clf@production").export_bundle(tmp_path / "bundle")
    names = sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file())
    artifact = "artifact/model.pt2" if fmt == "torch.export" else "artifact/weights.safetensors"
    assert names == sorted([artifact, "card.md", "classes.json", "manifest.json", "preprocess.json"])
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["version"] == mv.version and manifest["preprocess_fingerprint"] == pre.fingerprint
    assert set(manifest["files"]) == set(names) - {"manifest.json"}
    b = load_bundle(out)
    assert (b.name, b.version, b.classes, b.fingerprint) == ("defect-clf", mv.version, tuple(CLASSES), pre.fingerprint)
    assert "**aliases now**: production" in b.card
    served_pre = b.preprocess
    assert served_pre == pre
    images = [np.random.default_rng(i).integers(0, 255, (20, 24, 3), dtype=np.uint8) for i in range(3)]
    x = torch.from_numpy(served_pre.batch(images))
    with torch.no_grad():
        assert torch.equal(b.load()(x), model(x))


@pytest.mark.parametrize("target", ["artifact/model.pt2", "classes.json", "preprocess.json", "card.md"])
def test_a_changed_bundle_file_is_refused(ws: Workspace, pre: Preprocess, tmp_path: Path, target: str) -> None:
    mv = ws.register_model("defect-clf", tiny(), preprocess=pre, classes=CLASSES)
    out = mv.export_bundle(tmp_path / "bundle")
    path = out / target
    path.write_bytes(path.read_bytes() + b" ")
    with pytest.raises(ArtifactIntegrityError, match=rf"{target} does not match its hash in the manifest"):
        load_bundle(out)


def test_added_missing_and_forged_bundles_are_refused(ws: Workspace, pre: Preprocess, tmp_path: Path) -> None:
    mv = ws.register_model("defect-clf", tiny(), preprocess=pre, classes=CLASSES)
    out = mv.export_bundle(tmp_path / "bundle")
    (out / "artifact" / "hook.py").write_text("import os")
    with pytest.raises(ArtifactIntegrityError, match="artifact/hook.py is not in the manifest"):
        load_bundle(out)
    (out / "artifact" / "hook.py").unlink()
    (out / "card.md").unlink()
    with pytest.raises(ArtifactIntegrityError, match="card.md is missing"):
        load_bundle(out)
    out = mv.export_bundle(tmp_path / "bundle", overwrite=True)
    # a manifest edited consistently (classes renamed, file hashes updated) no longer matches the version id
    manifest = json.loads((out / "manifest.json").read_text())
    classes = json.dumps(["a", "b", "c"], indent=1).encode()
    (out / "classes.json").write_bytes(classes)
    import hashlib

    manifest["files"]["classes.json"] = hashlib.sha256(classes).hexdigest()
    manifest["classes"] = ["a", "b", "c"]
    (out / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(ArtifactIntegrityError, match="is not the hash of its artifact, preprocessing fingerprint "
                                                     "and classes"):
        load_bundle(out)
    with pytest.raises(ModelError, match="exists and is not empty"):
        mv.export_bundle(out)
    with pytest.raises(ModelError, match="not a model bundle"):
        load_bundle(tmp_path)
