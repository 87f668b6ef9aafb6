"""Registering model versions: round trips for each torch format, content addressing, classes against the
taxonomy, what a run passes, the model card, and looking versions up."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from types import SimpleNamespace

import polars as pl
import pytest
import torch
from tiny_nets import TinyNet, tiny

from jupyter_cvops import Preprocess, Workspace, WorkspaceError
from jupyter_cvops.models import ModelError, ModelVersion, register_model
from jupyter_cvops.models._artifacts import import_path

CLASSES = ["dent", "scuff", "ok"]


@pytest.mark.parametrize("fmt", ["torch.export", "torchscript", "torch-state-dict"])
def test_register_and_load_round_trip(ws: Workspace, pre: Preprocess, batch: torch.Tensor, fmt: str) -> None:
    model = tiny(seed=3)
    extra = {"architecture": import_path(TinyNet), "architecture_kwargs": {"n_classes": 3}} \
        if fmt == "torch-state-dict" else {}
    mv = ws.register_model("defect-clf", model, preprocess=pre, classes=CLASSES, format=fmt, **extra)
    assert mv.framework == fmt and mv.classes == tuple(CLASSES) and mv.note == "registered"
    again = Workspace.open(ws.uri).model("defect-clf", version=mv.version)  # another handle, as another process
    loaded = again.load()
    with torch.no_grad():
        assert torch.equal(loaded(batch), model(batch))  # any batch size, same numbers
        assert loaded(batch[:1]).shape == (1, 3)
    assert again.preprocess == pre and again.preprocess.fingerprint == mv.preprocess_fingerprint
    assert (ws.store.local_root / ".cvops" / "artifacts" / mv.artifact_hash).is_dir()


def test_state_dict_architecture_defaults_to_the_models_class(ws: Workspace, batch: torch.Tensor) -> None:
    model = tiny(seed=4)
    mv = ws.register_model("sd", model, classes=CLASSES, format="torch-state-dict")
    assert mv.info["architecture"] == "tiny_nets:TinyNet"
    with torch.no_grad():
        assert torch.equal(mv.load()(batch), model(batch))
    with pytest.raises(ModelError, match="is not a subclass of torch.nn.modules.module.Module"):
        ws.register_model("sd", model, classes=CLASSES, format="torch-state-dict",
                          architecture="collections:OrderedDict")
    with pytest.raises(ModelError, match="cannot import the architecture 'nowhere.mod:Net'"):
        ws.register_model("sd", model, classes=CLASSES, format="torch-state-dict", architecture="nowhere.mod:Net")


def test_the_example_input_comes_from_the_preprocessing(ws: Workspace, pre: Preprocess) -> None:
    mv = ws.register_model("clf", tiny(), preprocess=pre, classes=CLASSES)
    assert mv.info["inputs"] == [[2, 3, 16, 16]] and mv.info["dynamic_batch"] is True
    with pytest.raises(ModelError, match="torch.export needs an example input"):
        ws.register_model("clf", tiny(), classes=CLASSES)
    given = ws.register_model("clf2", tiny(), classes=CLASSES, example_input=torch.zeros(1, 3, 12, 12))
    assert given.info["inputs"] == [[2, 3, 12, 12]]  # a batch of one is doubled so the batch stays dynamic
    assert given.load()(torch.zeros(7, 3, 12, 12)).shape == (7, 3)


def test_content_addressing(ws: Workspace, pre: Preprocess) -> None:
    first = ws.register_model("clf", tiny(seed=0), preprocess=pre, classes=CLASSES)
    same = ws.register_model("clf", tiny(seed=0), preprocess=pre, classes=CLASSES)
    assert same.version == first.version and same.note == "already registered"
    assert ws.store.count("model_versions") == 1 and ws.store.count("preprocess_specs") == 1
    ids = {first.version}
    changed = [
        dict(model=tiny(seed=1), preprocess=pre, classes=CLASSES),                        # weights
        dict(model=tiny(seed=0), preprocess=Preprocess(16, crop=16), classes=CLASSES),    # preprocessing
        dict(model=tiny(seed=0), preprocess=pre, classes=["scuff", "dent", "ok"]),        # class order
        dict(model=tiny(seed=0), preprocess=pre, classes=["dent", "scuff", "fine"]),      # class names
        dict(model=tiny(seed=0), preprocess=None, classes=CLASSES,
             example_input=torch.zeros(2, 3, 16, 16)),                                    # no preprocessing
        dict(model=tiny(seed=0), preprocess=pre, classes=CLASSES, format="torchscript"),  # artifact format
    ]
    for kwargs in changed:
        mv = ws.register_model("clf", **kwargs)  # type: ignore[arg-type]
        assert mv.version not in ids, kwargs
        ids.add(mv.version)
    assert ws.models().height == len(changed) + 1
    # the same content under another model name is that model's version (same id, one artifact folder)
    other = ws.register_model("clf-copy", tiny(seed=0), preprocess=pre, classes=CLASSES)
    assert other.version == first.version and other.artifact_hash == first.artifact_hash
    state_a = ws.register_model("sd", tiny(seed=0), classes=CLASSES, format="torch-state-dict",
                                architecture_kwargs={"n_classes": 3})
    state_b = ws.register_model("sd", tiny(seed=0), classes=CLASSES, format="torch-state-dict",
                                architecture_kwargs={"n_classes": 3, "width": 4})
    assert state_a.artifact_hash == state_b.artifact_hash and state_a.version != state_b.version


def test_classes_come_from_and_must_match_the_taxonomy(ws: Workspace, pre: Preprocess) -> None:
    for name in ("dent", "scuff", "pit"):
        ws.taxonomy.add(name, f"a {name}")
    tv = ws.taxonomy.commit("three classes").version
    mv = ws.register_model("clf", tiny(), preprocess=pre, taxonomy_version=tv)
    assert mv.classes == ("dent", "scuff", "pit") and mv.taxonomy_version == tv
    with pytest.raises(ModelError, match=r"do not match taxonomy version 1: 'dnet' \(did you mean 'dent'\?\) is not "
                                         r"among its classes \(dent, scuff, pit\)"):
        ws.register_model("clf", tiny(), preprocess=pre, taxonomy_version=tv, classes=["dnet", "scuff", "pit"])
    with pytest.raises(ModelError, match=r"the model outputs 3 scores but 2 classes are named \(dent, pit\)"):
        ws.register_model("clf", tiny(), preprocess=pre, taxonomy_version=tv, classes=["dent", "pit"])
    with pytest.raises(ModelError, match=r"the model outputs 2 scores but 3 classes"):
        ws.register_model("clf", tiny(n_classes=2), preprocess=pre, taxonomy_version=tv)
    with pytest.raises(ModelError, match="pass classes="):
        ws.register_model("clf", tiny(), preprocess=pre)
    with pytest.raises(ModelError, match="classes must be distinct; repeated: dent"):
        ws.register_model("clf", tiny(), preprocess=pre, classes=["dent", "dent", "pit"])
    reordered = ws.register_model("clf", tiny(), preprocess=pre, taxonomy_version=tv, classes=["pit", "dent", "scuff"])
    assert reordered.classes == ("pit", "dent", "scuff") and ws.models().height == 2


def test_a_run_passes_its_id_inputs_and_metrics(tmp_path: Path, shared_data: Path, pre: Preprocess) -> None:
    shutil.copytree(shared_data / "images" / "neu-surface-defects", tmp_path / "imgs")
    ws = Workspace.create(tmp_path / "ws")
    ws.add_images(tmp_path / "imgs", progress=False)
    for name in CLASSES:
        ws.taxonomy.add(name)
    ws.taxonomy.commit("classes")
    base = ws.snapshot(name="baseline")
    run = SimpleNamespace(id="run-42", inputs=[{"version_id": base.id, "taxonomy_version": base.taxonomy_version}],
                          metrics={"val_accuracy": 0.94, "loss": 0.2})
    mv = register_model(ws, "clf", tiny(), preprocess=pre, run=run, metrics={"loss": 0.1})
    assert (mv.run_id, mv.dataset_version, mv.taxonomy_version) == ("run-42", base.id, base.taxonomy_version)
    assert mv.metrics == {"val_accuracy": 0.94, "loss": 0.1} and mv.classes == tuple(CLASSES)
    by_name = ws.register_model("clf2", tiny(), preprocess=pre, dataset_version="baseline")
    assert by_name.dataset_version == base.id and by_name.taxonomy_version == base.taxonomy_version
    events = ws.events().filter(pl.col("op") == "model.register")
    assert json.loads(events["details"][0])["run_id"] == "run-42"


def test_the_model_card(ws: Workspace, pre: Preprocess, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CVOPS_USER", "ana")
    mv = ws.register_model("defect-clf", tiny(), preprocess=pre, classes=CLASSES, metrics={"val_accuracy": 0.9412},
                           dataset_version=None, card="Trained on line 1 only.\n\n**Do not** use on line 3.")
    ws.set_alias("defect-clf", "production", mv, reason="first")
    md = ws.model("defect-clf@production")._repr_markdown_()
    assert md.startswith(f"# defect-clf · version {mv.short_version}")
    for part in (f"`{mv.version}`", "by ana", "**aliases now**: production", "torch.export (classification)",
                 f"{pre.fingerprint} — {pre.describe()}", "0. dent\n1. scuff\n2. ok", "| val_accuracy | 0.9412 |",
                 "## Notes\n\nTrained on line 1 only."):
        assert part in md, part
    assert mv.card.startswith("# defect-clf") and "aliases now" not in mv.card  # the stored card: no moving parts
    html = mv._repr_html_()
    assert "<h3>defect-clf · version" in html and "<b>" not in html and "**Do not**" in html
    assert repr(ws.model("defect-clf@production")).startswith(f"ModelVersion('defect-clf', {mv.short_version} "
                                                               "via @production, torch.export, 3 classes")


def test_looking_versions_up(ws: Workspace, pre: Preprocess) -> None:
    v1 = ws.register_model("clf", tiny(seed=1), preprocess=pre, classes=CLASSES)
    v2 = ws.register_model("clf", tiny(seed=2), preprocess=pre, classes=CLASSES)
    assert ws.model("clf").version == v2.version  # newest
    assert ws.model("clf", version=v1.version[:8]).version == v1.version
    assert isinstance(ws.model("clf", version=v1.version), ModelVersion)
    with pytest.raises(ModelError, match=r"no model named 'clg'; did you mean 'clf'\? Registered: clf"):
        ws.model("clg")
    with pytest.raises(ModelError, match=r"model 'clf' has no version 'ffffff'; its versions, oldest first: "
                                         rf"{v1.short_version}, {v2.short_version}"):
        ws.model("clf", version="ffffff")
    with pytest.raises(ModelError, match="give at least 6 characters"):
        ws.model("clf", version=v1.version[:3])
    with pytest.raises(ModelError, match="give an alias"):
        ws.model("clf@production", version=v1.version)
    with pytest.raises(ModelError, match="must not contain '@'"):
        ws.register_model("a@b", tiny(), preprocess=pre, classes=CLASSES)
    listed = ws.models()
    assert listed.columns[:3] == ["model", "version", "aliases"]
    assert listed["version"].to_list() == [v1.version, v2.version] and listed["n_classes"].to_list() == [3, 3]


def test_other_objects_need_an_adapter_and_sklearn_needs_skops(ws: Workspace) -> None:
    with pytest.raises(ModelError, match="name an adapter"):
        ws.register_model("fn", lambda x: x, classes=["a"])
    from sklearn.linear_model import LogisticRegression

    try:
        import skops  # noqa: F401
    except ImportError:
        with pytest.raises(ModelError, match="stored with skops .* pip install skops"):
            ws.register_model("sk", LogisticRegression(), classes=["a", "b"])
    assert ws.models().height == 0


def test_a_model_in_training_mode_is_stored_in_eval_mode_and_left_as_it_was(ws: Workspace, pre: Preprocess,
                                                                            batch: torch.Tensor) -> None:
    torch.manual_seed(0)
    model = torch.nn.Sequential(tiny(seed=2), torch.nn.Dropout(0.5)).train()
    for fmt in ("torch.export", "torchscript"):
        mv = ws.register_model(f"drop-{fmt}", model, preprocess=pre, classes=CLASSES, format=fmt)
        assert model.training
        loaded = mv.load()
        with torch.no_grad():
            expected = model.eval()(batch)
            model.train()
            assert torch.equal(loaded(batch), expected) and torch.equal(loaded(batch), expected)  # no dropout


def test_a_read_only_workspace_refuses_before_writing(ws: Workspace, pre: Preprocess) -> None:
    mv = ws.register_model("clf", tiny(), preprocess=pre, classes=CLASSES)
    ro = Workspace.open(ws.uri, readonly=True)
    before = sorted(p.name for p in (Path(ws.uri) / ".cvops" / "artifacts").iterdir())
    with pytest.raises(WorkspaceError, match="read-only"):
        ro.register_model("clf", tiny(seed=8), preprocess=pre, classes=CLASSES)
    with pytest.raises(WorkspaceError, match="read-only"):
        ro.set_alias("clf", "production", mv)
    assert sorted(p.name for p in (Path(ws.uri) / ".cvops" / "artifacts").iterdir()) == before
    assert ro.model("clf").load() is not None and ro.models().height == 1
