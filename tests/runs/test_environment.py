"""The environment, git commit and notebook a run records, against independent references."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from jupyter_cvops import Workspace
from jupyter_cvops.runs import environment
from jupyter_cvops.runs._provenance import git_facts, notebook_facts


def _norm(name: str) -> str:
    return name.lower().replace("_", "-").replace(".", "-")


def test_environment_lists_every_installed_package_as_pip_does() -> None:
    done = subprocess.run([sys.executable, "-m", "pip", "list", "--format", "json", "--disable-pip-version-check"],
                          capture_output=True, text=True, timeout=300, check=True)
    pip = {_norm(p["name"]): p["version"] for p in json.loads(done.stdout)}
    ours = {_norm(k): v for k, v in environment()["packages"].items()}
    assert len(pip) > 50
    assert ours == pip


def test_torch_facts_without_importing_torch() -> None:
    code = ("import sys, json; from jupyter_cvops.runs import environment; e = environment(); "
            "print(json.dumps([('torch' in sys.modules), e['torch'], e['cuda'], e['torch_info']['source']]))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, check=True)
    imported, version, cuda, source = json.loads(done.stdout.strip().splitlines()[-1])
    import torch

    assert (imported, version, cuda, source) == (False, torch.__version__, torch.version.cuda, "files")
    live = environment()  # torch is imported here: read from the module
    assert (live["torch"], live["cuda"], live["torch_info"]["source"]) == (torch.__version__, torch.version.cuda,
                                                                           "imported")
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        assert live["gpus"] == [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]


def _git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True, check=True,
                          timeout=60).stdout.strip()


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    repo = tmp_path / "project"
    repo.mkdir()
    _git(repo, "init", "-q", "-b", "main")
    _git(repo, "config", "user.email", "ana@example.com")
    _git(repo, "config", "user.name", "Ana")
    (repo / "train.py").write_text("print('train')\n")
    _git(repo, "add", "train.py")
    _git(repo, "commit", "-q", "-m", "first")
    return repo


def test_git_commit_of_the_working_directory(ws: Workspace, repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    head = _git(repo, "rev-parse", "HEAD")
    (repo / "sub").mkdir()
    monkeypatch.chdir(repo / "sub")
    with ws.run("clean") as clean:
        pass
    stored = ws.get_run(clean.id)
    assert stored.git_commit == head and stored.git["dirty"] is False and stored.git["branch"] == "main"
    assert stored.git["root"] == str(repo.resolve())
    (repo / "train.py").write_text("print('changed')\n")
    (repo / "notes.txt").write_text("untracked\n")
    with ws.run("dirty") as dirty:
        pass
    git = ws.get_run(dirty.id).git
    assert git["commit"] == head and git["dirty"] is True and git["changed"] == ["train.py"]
    assert git["untracked"] == 1
    assert ws.runs()["git_commit"].to_list() == [head, head]
    assert f"{head[:12]} (dirty) on main" in ws.get_run(dirty.id)._repr_mimebundle_()["text/plain"]


def test_no_repository_is_said(ws: Workspace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    outside = tmp_path / "plain"
    outside.mkdir()
    monkeypatch.chdir(outside)
    with ws.run("no-git") as run:
        pass
    stored = ws.get_run(run.id)
    assert stored.git_commit is None and "is not inside a git repository" in stored.git["error"]
    empty = tmp_path / "empty"
    empty.mkdir()
    _git(empty, "init", "-q")
    assert git_facts(empty)["error"] == "the repository has no commit yet"


def _notebook(path: Path, cvops: dict | None) -> Path:
    meta = {"kernelspec": {"name": "python3", "display_name": "Python 3"}}
    if cvops is not None:
        meta["cvops"] = cvops
    path.write_text(json.dumps({"nbformat": 4, "nbformat_minor": 5, "metadata": meta, "cells": []}))
    return path


def test_a_run_in_a_notebook_records_its_path_snapshots_and_git(
        ws: Workspace, repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from IPython import get_ipython
    from IPython.testing.globalipapp import start_ipython

    shell = start_ipython() or get_ipython()  # None when another test module started it
    snapshots = {"snapshots": [{"run_id": "r1", "dataset_version": {"id": "abc", "name": "baseline"}}]}
    nb = _notebook(repo / "train.ipynb", snapshots)
    elsewhere = tmp_path / "cwd"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)  # the kernel's folder is not the notebook's: git follows the notebook
    monkeypatch.setitem(shell.user_ns, "__session__", str(nb))
    with ws.run("in-notebook") as run:
        pass
    stored = ws.get_run(run.id)
    assert stored.notebook == str(nb)
    facts = stored.info["notebook"]
    assert facts["cvops"] == snapshots and facts["resolved"] == str(nb.resolve()) and facts["error"] is None
    assert stored.git_commit == _git(repo, "rev-parse", "HEAD")
    assert stored.git["dirty"] is False  # the notebook is untracked, the commit clean


def test_a_notebook_the_kernel_cannot_read_is_recorded_with_the_reason(
        ws: Workspace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JPY_SESSION_NAME", "/nowhere/analysis.ipynb")
    with ws.run("lost-notebook") as run:
        pass
    stored = ws.get_run(run.id)
    assert stored.notebook == "/nowhere/analysis.ipynb"
    assert stored.info["notebook"]["cvops"] is None
    assert "the kernel cannot read /nowhere/analysis.ipynb" in stored.info["notebook"]["error"]
    assert "cannot read" in stored._repr_mimebundle_()["text/plain"]
    broken = tmp_path / "broken.ipynb"
    broken.write_text("{not json")
    assert "JSONDecodeError" in notebook_facts(str(broken))["error"]
    plain = _notebook(tmp_path / "plain.ipynb", None)
    assert notebook_facts(str(plain))["error"] == "the notebook (as last saved) has no metadata.cvops"


def test_a_path_relative_to_the_server_root_is_found_in_the_kernel_folder(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = tmp_path / "projects" / "defects"
    folder.mkdir(parents=True)
    nb = _notebook(folder / "train.ipynb", {"snapshots": []})
    monkeypatch.chdir(folder)  # Jupyter starts the kernel in the notebook's folder
    facts = notebook_facts("projects/defects/train.ipynb")
    assert facts["resolved"] == str(nb.resolve()) and facts["cvops"] == {"snapshots": []}


def test_vendored_copies_on_sys_path_are_not_installed_packages(monkeypatch: pytest.MonkeyPatch, tmp_path: Path
                                                                ) -> None:
    """Ray puts ray/thirdparty_files (colorama, ...) on sys.path when imported; pip does not list them."""
    import sysconfig

    vendored = Path(sysconfig.get_paths()["purelib"]) / "cvops_test_vendor_dir"
    monkeypatch.syspath_prepend(str(vendored))
    from jupyter_cvops.runs._environment import _install_paths

    assert str(vendored) not in _install_paths() and sysconfig.get_paths()["purelib"] in _install_paths()
