"""%cvops run ... and %%cvops run in a real IPython shell: what they record, what they show, their errors."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
from IPython.core.error import UsageError
from IPython import get_ipython
from IPython.testing.globalipapp import start_ipython

import jupyter_cvops.notebook._magics as magics
from jupyter_cvops import Workspace
from jupyter_cvops.notebook._magics import USAGE, parse_assignments
from jupyter_cvops.runs import Run


@pytest.fixture(scope="module")
def ip():  # noqa: ANN201
    shell = start_ipython() or get_ipython()  # None when another test module started it
    shell.run_line_magic("load_ext", "jupyter_cvops")
    return shell


@pytest.fixture
def shown(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    out: list[Any] = []
    monkeypatch.setattr(magics, "display", lambda obj, raw=False: out.append(obj))
    return out


@pytest.fixture
def ws_path(ip, tmp_path: Path, shared_data: Path, monkeypatch: pytest.MonkeyPatch) -> Path:  # noqa: ANN001
    imgs = tmp_path / "imgs"
    shutil.copytree(shared_data / "images" / "neu-surface-defects", imgs)
    ws = Workspace.create(tmp_path / "ws")
    ws.add_images(imgs, progress=False)
    ws.snapshot(name="baseline")
    monkeypatch.setitem(ip.user_ns, "__session__", str(tmp_path / "train.ipynb"))
    ip.run_line_magic("cvops", f"use {tmp_path / 'ws'}")
    yield tmp_path / "ws"
    magic = ip.magics_manager.registry["CvopsMagics"]
    if magic.run is not None:  # a failed test must not leave a run going for the next one
        magic.run.end("failed", error="test teardown")
        magic.run = None


def test_run_start_use_log_seed_end(ip, ws_path: Path, shown: list[Any], capsys) -> None:  # noqa: ANN001
    ip.run_line_magic("cvops", "run start train-defect-clf -p lr=1e-3 epochs=5 -p opt=adam")
    assert "run 'train-defect-clf' started" in capsys.readouterr().out
    run = ip.user_ns["cvops_run"]
    assert isinstance(run, Run) and run.active
    version = ip.run_line_magic("cvops", "run use baseline")
    ip.run_line_magic("cvops", "run seed 11")
    ip.run_line_magic("cvops", "run log loss=0.5 val_accuracy=0.9 --step 2")
    ip.run_cell("cvops_run.log_metrics({'loss': 0.25})")  # the run object works beside the magics
    ip.run_line_magic("cvops", "run end")
    assert shown[-1] is run and not run.active

    ws = Workspace.open(ws_path)
    stored = ws.get_run(run.id)
    assert (stored.name, stored.status) == ("train-defect-clf", "finished")
    assert stored.params == {"lr": 1e-3, "epochs": 5, "opt": "adam"}
    assert stored.inputs == [{"version_id": version.id, "name": "baseline", "taxonomy_version": 0}]
    assert stored.seeds["seeded"]["python"] == 11
    assert stored.metrics == {"loss": 0.25, "val_accuracy": 0.9}
    assert ws.run_metrics(run.id).select("key", "step").rows() == [("loss", 2), ("loss", 3), ("val_accuracy", 2)]
    assert stored.notebook == str(ws_path.parent / "train.ipynb")
    assert "the kernel cannot read" in stored.info["notebook"]["error"]  # never saved: said, not hidden
    listed = ip.run_line_magic("cvops", "runs")
    assert listed.filter(listed["kind"] == "run")["name"].to_list() == ["train-defect-clf"]
    ip.run_line_magic("cvops", "run show")
    assert shown[-1] is run


def test_a_snapshot_inside_a_run_is_one_of_its_inputs(ip, ws_path: Path, shown: list[Any]) -> None:  # noqa: ANN001
    ip.run_line_magic("cvops", "run start with-snapshot")
    ip.run_line_magic("cvops", "snapshot --name fresh --splits train=0.5,val=0.5")
    ip.run_line_magic("cvops", "run end --failed 'diverged at epoch 3'")
    ws = Workspace.open(ws_path)
    stored = ws.get_run("with-snapshot")
    assert [i["name"] for i in stored.inputs] == ["fresh"]
    assert (stored.status, stored.error) == ("failed", "diverged at epoch 3")
    snapshot_run = ws.runs().filter(ws.runs()["kind"] == "snapshot")
    assert snapshot_run["dataset_version"].to_list() == [ws.version("fresh").id]
    assert ws.get_run(snapshot_run["run_id"][0]).environment["packages"]  # the full environment, in its column


def test_cell_magic_records_the_cell_as_one_run(ip, ws_path: Path, shown: list[Any]) -> None:  # noqa: ANN001
    ip.run_cell_magic("cvops", "run cell-train -p lr=0.1",
                      "ds = cvops_run.use('baseline')\nfor s in range(3):\n    cvops_run.log_metrics({'acc': s / 10})\n")
    run = shown[-1]
    assert isinstance(run, Run) and run.status == "finished"
    stored = Workspace.open(ws_path).get_run(run.id)
    assert stored.params == {"lr": 0.1} and stored.metrics == {"acc": 0.2} and stored.inputs[0]["name"] == "baseline"


def test_cell_magic_records_a_failing_cell_as_failed(ip, ws_path: Path, shown: list[Any]) -> None:  # noqa: ANN001
    with pytest.raises(UsageError, match=r"run 'cell-fails' \(\w+\) failed and is recorded as failed: "
                                         r"RuntimeError: CUDA out of memory"):
        ip.run_cell_magic("cvops", "run cell-fails", "cvops_run.log_metrics({'loss': 1.0})\n"
                                                     "raise RuntimeError('CUDA out of memory')\n")
    stored = Workspace.open(ws_path).get_run("cell-fails")
    assert (stored.status, stored.error, stored.metrics) == ("failed", "RuntimeError: CUDA out of memory",
                                                             {"loss": 1.0})
    with pytest.raises(UsageError):
        ip.run_cell_magic("cvops", "run cell-syntax", "def (:\n")
    assert Workspace.open(ws_path).get_run("cell-syntax").error.startswith("SyntaxError")


def test_run_magic_errors_are_usage_errors(ip, ws_path: Path, shown: list[Any]) -> None:  # noqa: ANN001
    with pytest.raises(UsageError, match="no run is going on"):
        ip.run_line_magic("cvops", "run log acc=1")
    with pytest.raises(UsageError, match="say start, use, log, seed, end or show"):
        ip.run_line_magic("cvops", "run")
    ip.run_line_magic("cvops", "run start first")
    with pytest.raises(UsageError, match="run 'first' .* is still going on"):
        ip.run_line_magic("cvops", "run start second")
    with pytest.raises(UsageError, match="'high' is not a number"):
        ip.run_line_magic("cvops", "run log acc=high")
    with pytest.raises(UsageError, match="expected key=value"):
        ip.run_line_magic("cvops", "run log acc")
    with pytest.raises(UsageError, match="did you mean 'baseline'"):
        ip.run_line_magic("cvops", "run use baselin")
    with pytest.raises(UsageError, match=r"in \[0, 2\*\*32\)"):
        ip.run_line_magic("cvops", "run seed -- -1")
    ip.run_line_magic("cvops", "run end")
    with pytest.raises(UsageError, match="%%cvops"):
        ip.run_cell_magic("cvops", "snapshot", "pass\n")
    assert "%cvops run start NAME" in USAGE and "%%cvops run NAME" in USAGE


def test_parse_assignments() -> None:
    assert parse_assignments(["lr=1e-3", "layers=[64, 32]", "name=a=b", "flag=false"]) == {
        "lr": 0.001, "layers": [64, 32], "name": "a=b", "flag": False}
    with pytest.raises(UsageError, match="not a number"):
        parse_assignments(["flag=true"], numbers=True)
