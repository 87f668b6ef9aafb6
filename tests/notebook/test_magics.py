"""%cvops magics in a real IPython shell: snapshot records run metadata and shows the card."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from IPython.core.error import UsageError
from IPython import get_ipython
from IPython.testing.globalipapp import start_ipython

from jupyter_cvops import Workspace
from jupyter_cvops.notebook._magics import SNAPSHOT_MIME, parse_splits


@pytest.fixture(scope="module")
def ip():  # noqa: ANN201
    shell = start_ipython() or get_ipython()  # None when another test module started it
    shell.run_line_magic("load_ext", "jupyter_cvops")
    return shell


@pytest.fixture
def ws_path(tmp_path: Path, shared_data: Path) -> Path:
    imgs = tmp_path / "imgs"
    shutil.copytree(shared_data / "images" / "neu-surface-defects", imgs)
    ws = Workspace.create(tmp_path / "ws")
    ws.add_images(imgs, progress=False)
    return tmp_path / "ws"


def test_snapshot_magic_records_run_and_displays_bundle(ip, ws_path: Path, monkeypatch) -> None:  # noqa: ANN001
    shown: list[dict] = []
    import jupyter_cvops.notebook._magics as magics

    monkeypatch.setattr(magics, "display", lambda obj, raw=False: shown.append(obj))
    ip.user_ns["__session__"] = "/tmp/analysis.ipynb"
    ip.run_line_magic("cvops", f"use {ws_path}")
    ip.run_line_magic("cvops", "snapshot --name first -m 'first snapshot' --splits train=0.5,val=0.5")
    ws = Workspace.open(ws_path)
    v = ws.version("first")
    assert v.message == "first snapshot" and set(v.splits) == {"train", "val"}
    runs = ws.runs()
    assert runs.height == 1 and runs["dataset_version"][0] == v.id
    env = ws.get_run(runs["run_id"][0]).environment
    assert env["python"] and "polars" in env["packages"]
    assert runs["notebook"][0] == "/tmp/analysis.ipynb"
    bundle = shown[-1]
    payload = bundle[SNAPSHOT_MIME]
    assert payload["dataset_version"]["id"] == v.id and payload["run_id"] == runs["run_id"][0]
    assert payload["dataset_version"]["n_images"] == 30
    assert v.id[:12] in bundle["text/plain"]
    versions = ip.run_line_magic("cvops", "versions")
    assert versions["id"].to_list() == [v.id]


def test_magic_errors_are_usage_errors(ip, tmp_path: Path) -> None:  # noqa: ANN001
    with pytest.raises(UsageError, match="no workspace"):
        ip.run_line_magic("cvops", f"use {tmp_path / 'none'}")
    with pytest.raises(UsageError):
        ip.run_line_magic("cvops", "frobnicate")
    with pytest.raises(UsageError, match="name=fraction"):
        parse_splits("train")


def test_use_create(ip, tmp_path: Path) -> None:  # noqa: ANN001
    ip.run_line_magic("cvops", f"use {tmp_path / 'new'} --create")
    assert isinstance(ip.user_ns["cvops_ws"], Workspace)


def test_snapshot_magic_records_the_name_given_on_unchanged_content(ip, ws_path: Path, monkeypatch) -> None:  # noqa: ANN001
    """``%cvops snapshot --name baseline`` after ``--name magic-snap`` on the same content: both names."""
    shown: list[dict] = []
    import jupyter_cvops.notebook._magics as magics

    monkeypatch.setattr(magics, "display", lambda obj, raw=False: shown.append(obj))
    ip.run_line_magic("cvops", f"use {ws_path}")
    ip.run_line_magic("cvops", "snapshot --name magic-snap")
    ip.run_line_magic("cvops", "snapshot --name baseline")
    ws = Workspace.open(ws_path)
    listed = ws.versions()
    assert listed.height == 1 and listed["names"].to_list() == [["magic-snap", "baseline"]]
    assert listed["name"].to_list() == ["baseline"]
    v = ws.version("baseline")
    assert v.id == ws.version("magic-snap").id
    dv = shown[-1][SNAPSHOT_MIME]["dataset_version"]
    assert dv["name"] == "baseline" and dv["names"] == ["magic-snap", "baseline"]
    assert f"named 'baseline' (content unchanged since {v.id[:12]})" in shown[-1]["text/plain"]
    assert ws.runs()["dataset_version"].to_list() == [v.id, v.id]


def test_snapshot_magic_refuses_a_name_of_other_content_unless_moved(ip, ws_path: Path, monkeypatch) -> None:  # noqa: ANN001
    import jupyter_cvops.notebook._magics as magics

    monkeypatch.setattr(magics, "display", lambda obj, raw=False: None)
    ip.run_line_magic("cvops", f"use {ws_path}")
    ip.run_line_magic("cvops", "snapshot --name baseline")
    first = Workspace.open(ws_path).version("baseline").id
    with pytest.raises(UsageError, match=r"'baseline' already points at dataset version .*"
                                         r"`%cvops snapshot --name baseline --move`"):
        ip.run_line_magic("cvops", "snapshot --name baseline --splits train=0.5,val=0.5")
    ws = Workspace.open(ws_path)
    assert ws.versions().height == 1 and ws.runs().height == 1
    ip.run_line_magic("cvops", "snapshot --name baseline --move --splits train=0.5,val=0.5")
    ws = Workspace.open(ws_path)
    assert ws.versions().height == 2
    moved = ws.version("baseline")
    assert moved.id != first and set(moved.splits) == {"train", "val"}
    with pytest.raises(UsageError, match="--move needs --name"):
        ip.run_line_magic("cvops", "snapshot --move")
