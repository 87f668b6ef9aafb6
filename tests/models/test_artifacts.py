"""Artifacts load without unpickling anything, and a changed artifact is refused before it is loaded."""

from __future__ import annotations

import io
import pickle
import zipfile
from pathlib import Path
from typing import Any

import pytest
import torch
from tiny_nets import tiny

from jupyter_cvops import Preprocess, Workspace
from jupyter_cvops.models import ArtifactIntegrityError, ModelAdapter, ModelError
from jupyter_cvops.models import _artifacts

FORMATS = ["torch.export", "torchscript", "torch-state-dict"]
CLASSES = ["dent", "scuff", "ok"]


def _no_pickle(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Make every way to unpickle arbitrary objects raise; returns the list of attempts."""
    attempts: list[str] = []

    def refuse(what: str) -> Any:
        def f(*args: Any, **kwargs: Any) -> Any:
            attempts.append(what)
            raise AssertionError(f"{what} was called")
        return f

    real_load = torch.load

    def weights_only_load(*args: Any, **kwargs: Any) -> Any:
        if kwargs.get("weights_only") is not True:
            import os
            if os.environ.get("TORCH_FORCE_WEIGHTS_ONLY_LOAD") != "1":
                attempts.append("torch.load without weights_only")
                raise AssertionError("torch.load without weights_only")
        return real_load(*args, **kwargs)

    monkeypatch.setattr(pickle, "loads", refuse("pickle.loads"))
    monkeypatch.setattr(pickle, "load", refuse("pickle.load"))
    monkeypatch.setattr(pickle, "Unpickler", refuse("pickle.Unpickler"))
    monkeypatch.setattr(torch, "load", weights_only_load)
    return attempts


@pytest.mark.parametrize("fmt", FORMATS)
def test_loading_never_unpickles(ws: Workspace, pre: Preprocess, batch: torch.Tensor, fmt: str,
                                 monkeypatch: pytest.MonkeyPatch) -> None:
    model = tiny(seed=5)
    mv = ws.register_model("clf", model, preprocess=pre, classes=CLASSES, format=fmt)
    attempts = _no_pickle(monkeypatch)
    loaded = Workspace.open(ws.uri).model("clf").load()
    with torch.no_grad():
        assert torch.equal(loaded(batch), model(batch))
    assert attempts == []
    assert mv.preprocess is not None  # the preprocessing record is JSON, read with pickle refused too


def test_the_pickle_guard_is_real(monkeypatch: pytest.MonkeyPatch) -> None:
    """The guard of the test above catches an unpickling load (so its silence means something)."""
    buf = io.BytesIO()
    torch.save({"w": torch.zeros(2)}, buf)
    attempts = _no_pickle(monkeypatch)
    with pytest.raises(AssertionError):
        torch.load(io.BytesIO(buf.getvalue()), weights_only=False)
    with pytest.raises(AssertionError):
        pickle.loads(b"")
    assert attempts == ["torch.load without weights_only", "pickle.loads"]


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_tampered_artifact_is_refused_before_loading(ws: Workspace, pre: Preprocess, fmt: str,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    mv = ws.register_model("clf", tiny(), preprocess=pre, classes=CLASSES, format=fmt)
    path = mv.artifact_path / _artifacts.FILE_NAMES[fmt]
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    touched: list[str] = []
    for name in ("_check_pt2",):
        monkeypatch.setattr(_artifacts, name, lambda *a, **k: touched.append(name))
    monkeypatch.setattr(torch.export, "load", lambda *a, **k: touched.append("torch.export.load"))
    monkeypatch.setattr(torch.jit, "load", lambda *a, **k: touched.append("torch.jit.load"))
    with pytest.raises(ArtifactIntegrityError, match=rf"does not match its recorded hash {mv.artifact_hash[:12]}.*"
                                                     "refusing to load it"):
        mv.load()
    with pytest.raises(ArtifactIntegrityError):
        mv.export_bundle(Path(ws.uri).parent / "bundle")
    assert touched == []


def test_an_added_or_missing_artifact_file_is_refused(ws: Workspace, pre: Preprocess) -> None:
    mv = ws.register_model("clf", tiny(), preprocess=pre, classes=CLASSES)
    (mv.artifact_path / "extra.py").write_text("print('hi')")
    with pytest.raises(ArtifactIntegrityError, match=r"files \['extra.py', 'model.pt2'\], expected \['model.pt2'\]|"
                                                     "does not match"):
        mv.load()
    (mv.artifact_path / "extra.py").unlink()
    assert mv.load() is not None
    for p in mv.artifact_path.iterdir():
        p.unlink()
    mv.artifact_path.rmdir()
    with pytest.raises(ArtifactIntegrityError, match="is missing"):
        mv.load()
    # registering the same content again restores the artifact
    again = ws.register_model("clf", tiny(), preprocess=pre, classes=CLASSES)
    assert again.note == "already registered"


def test_a_pt2_archive_with_pickled_objects_is_refused() -> None:
    saved = _artifacts.save(tiny(), "torch.export", example=(torch.zeros(2, 3, 8, 8),))
    data = saved.files["model.pt2"]
    buf = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as src, zipfile.ZipFile(buf, "w") as dst:
        for item in src.infolist():
            dst.writestr(item, src.read(item.filename))
        dst.writestr("archive/data/constants/opaque_obj_0", pickle.dumps({"evil": 1}))
    evil = {"model.pt2": buf.getvalue()}
    with pytest.raises(ModelError, match="holds pickled objects .*opaque_obj_0.* refused"):
        _artifacts.load("torch.export", evil, {})


class Doubler(ModelAdapter):
    """A model that is not torch: a factor, saved as JSON."""

    def save(self, model: Any, folder: Path) -> dict[str, Any]:
        (folder / "factor.json").write_text(str(model.factor))
        return {"kind": "scale"}

    def load(self, folder: Path) -> Any:
        k = float((folder / "factor.json").read_text())
        return lambda x: x * k


def test_any_callable_through_a_named_adapter(ws: Workspace) -> None:
    class Scale:
        factor = 2.5

    mv = ws.register_model("scaler", Scale(), classes=["value"], adapter=Doubler)
    assert mv.framework == "adapter" and mv.info["adapter"].endswith(":Doubler")
    assert mv.info["adapter_info"] == {"kind": "scale"}
    assert Workspace.open(ws.uri).model("scaler").load()(4.0) == 10.0
    with pytest.raises(ModelError, match="adapter must subclass jupyter_cvops.models.ModelAdapter"):
        ws.register_model("scaler", Scale(), classes=["value"], adapter=dict)
    (mv.artifact_path / "factor.json").write_text("1000")
    with pytest.raises(ArtifactIntegrityError):
        mv.load()


def test_unknown_format_is_a_clear_error(ws: Workspace, pre: Preprocess) -> None:
    with pytest.raises(ModelError, match="unknown model format 'onnx'; choose one of torch.export, torchscript"):
        ws.register_model("clf", tiny(), preprocess=pre, classes=CLASSES, format="onnx")
    with pytest.raises(ModelError, match="format 'torchscript' needs a torch.nn.Module"):
        ws.register_model("clf", object(), classes=CLASSES, format="torchscript")


def test_eval_mode_runs_an_exported_module_that_refuses_eval_and_restores_the_others() -> None:
    net = tiny()
    exported = torch.export.export(net.eval(), (torch.zeros(1, 3, 8, 8),)).module()
    with pytest.raises(NotImplementedError):
        exported.eval()  # what eval_mode meets: torch.export's modules run as exported
    x = torch.zeros(1, 3, 8, 8)
    with _artifacts.eval_mode(exported):
        assert torch.equal(exported(x), net(x))
    net.train()
    with _artifacts.eval_mode(net):
        assert not net.training
    assert net.training
