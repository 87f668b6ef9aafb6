"""The cvops CLI: every command, --json output, one-line errors with non-zero exit."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from cli_inprocess import run_cli  # noqa: E402

CVOPS = [sys.executable, "-m", "jupyter_cvops.cli"]


def run(*args: str, ok: bool = True) -> subprocess.CompletedProcess[str]:
    """``cvops`` in-process (start-up costs 2-4 s a process; the error tests below use real ones)."""
    p = run_cli(*args)
    if ok:
        assert p.returncode == 0, p.stderr
    return p


def run_process(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CVOPS, *args], capture_output=True, text=True, timeout=300)


def test_cli_end_to_end(tmp_path: Path, shared_data: Path) -> None:
    ws = str(tmp_path / "ws")
    imgs = tmp_path / "imgs"
    shutil.copytree(shared_data / "formats" / "voc-neu-det", imgs)
    assert json.loads(run("init", ws, "--json").stdout)["workspace"].endswith("ws")
    rep = json.loads(run("-w", ws, "import", str(imgs), "--format", "voc", "--annotator", "neu", "--json").stdout)
    assert rep["images_found"] == 300 and rep["labels_added"] > 300
    tax = json.loads(run("-w", ws, "taxonomy", "--json").stdout)
    assert {c["name"] for c in tax} >= {"crazing", "scratches"}
    run("-w", ws, "taxonomy", "rename", "scratches", "scratch", "-m", "singular")
    hist = json.loads(run("-w", ws, "taxonomy", "history", "--json").stdout)
    assert len(hist) == 2
    v1 = json.loads(run("-w", ws, "snapshot", "--name", "v1", "-m", "first", "--json").stdout)
    assert v1["n_images"] == 300 and v1["run_id"]
    vers = json.loads(run("-w", ws, "versions", "--json").stdout)
    assert [v["name"] for v in vers] == ["v1"]
    ver = json.loads(run("-w", ws, "verify", "v1", "--json").stdout)
    assert ver["ok"] and ver["checked"] == 300
    out = tmp_path / "coco"
    run("-w", ws, "export", "v1", str(out), "--format", "coco")
    assert list(out.rglob("*.json"))
    ls = tmp_path / "ls"
    run("-w", ws, "export", "v1", str(ls), "--format", "labelstudio", "--as-annotations")
    tasks = json.loads((ls / "tasks.json").read_text())
    assert len(tasks) == 300 and all(t["annotations"] and t["predictions"] for t in tasks)
    assert len(list((ls / "images").rglob("*.jpg"))) == 300
    run("-w", ws, "taxonomy", "rename", "scratch", "scratch_mark")
    run("-w", ws, "snapshot", "--name", "v2")
    diff = json.loads(run("-w", ws, "diff", "v1", "v2", "--json").stdout)
    assert diff and {d["change"] for d in diff} == {"changed"}
    assert {d["class_after"] for d in diff} == {"scratch_mark"}
    add = json.loads(run("-w", ws, "add-images", str(imgs / "IMAGES"), "--json").stdout)
    assert add["added"] == 0 and add["hashed"] == 0


@pytest.mark.parametrize(
    "args,needle",
    [
        (["-w", "/nonexistent/ws", "versions"], "no workspace"),
        (["-w", "{ws}", "version-that-does-not-exist"], None),
        (["-w", "{ws}", "verify", "nope"], "no dataset version"),
        (["-w", "{ws}", "import", "/nonexistent.json", "--format", "coco"], "error"),
        (["-w", "{ws}", "taxonomy", "rename", "ghost", "x"], "error"),
    ],
)
def test_cli_errors_are_one_line(tmp_path: Path, args: list[str], needle: str | None) -> None:
    ws = tmp_path / "ws"
    run("init", str(ws))
    p = run_process(*[a.format(ws=ws) for a in args])  # a real process: all it prints is one line
    assert p.returncode != 0
    if needle is not None:
        lines = [ln for ln in p.stderr.strip().splitlines() if ln.strip()]
        assert len(lines) == 1 and needle in lines[0] and "Traceback" not in p.stderr
