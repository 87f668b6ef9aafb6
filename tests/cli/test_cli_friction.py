"""Friction a new user met with ``cvops``: positional definitions, refused extra arguments,
exit codes that say when nothing happened, ``--problems``, help on every option, ``--version``."""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image

import jupyter_cvops
from jupyter_cvops.cli._app import build_parser

sys.path.insert(0, str(Path(__file__).resolve().parent))
from cli_inprocess import run_cli  # noqa: E402



def run(*args: str) -> subprocess.CompletedProcess[str]:
    return run_cli(*args)  # in-process (tests/cli/test_cli.py keeps real processes for one-line errors)


def ok(*args: str) -> subprocess.CompletedProcess[str]:
    p = run(*args)
    assert p.returncode == 0, p.stderr
    return p


def one_line(p: subprocess.CompletedProcess[str]) -> str:
    lines = [ln for ln in p.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and "Traceback" not in p.stderr, p.stderr
    return lines[0]


def definition(ws: str, name: str) -> str:
    classes = json.loads(ok("-w", ws, "taxonomy", "--json").stdout)
    return str(next(c["definition"] for c in classes if c["name"] == name))


@pytest.fixture
def ws(tmp_path: Path) -> str:
    path = str(tmp_path / "ws")
    ok("init", path)
    ok("-w", path, "taxonomy", "add", "dent", "--definition", "any dent", "-m", "init")
    return path


def test_redefine_takes_the_definition_positionally(ws: str) -> None:
    p = ok("-w", ws, "taxonomy", "redefine", "dent", "deeper than 0.2 mm", "-m", "clarify")
    assert '-> "deeper than 0.2 mm"' in p.stdout
    assert definition(ws, "dent") == "deeper than 0.2 mm"
    ok("-w", ws, "taxonomy", "redefine", "dent", "--definition", "deeper than 0.3 mm")  # the option form too
    assert definition(ws, "dent") == "deeper than 0.3 mm"
    p = run("-w", ws, "taxonomy", "redefine", "dent")  # no text: refused, never wiped
    assert p.returncode == 2 and "definition is required" in p.stderr
    assert definition(ws, "dent") == "deeper than 0.3 mm"
    ok("-w", ws, "taxonomy", "add", "scratch", "a line", "-m", "more")
    assert definition(ws, "scratch") == "a line"


@pytest.mark.parametrize(
    "args",
    [
        ["taxonomy", "rename", "dent", "dnt", "extra"],
        ["taxonomy", "deprecate", "dent", "extra"],
        ["taxonomy", "show", "extra"],
        ["taxonomy", "rename", "dent", "dnt", "--color", "red"],
    ],
)
def test_extra_arguments_are_refused(ws: str, args: list[str]) -> None:
    p = run("-w", ws, *args)
    assert p.returncode == 2, p.stdout
    assert "unrecognized arguments" in p.stderr and args[-1] in p.stderr
    assert f"cvops {args[0]} {args[1]}" in p.stderr  # the usage of the command that was given them
    assert len(json.loads(ok("-w", ws, "taxonomy", "history", "--json").stdout)) == 1  # nothing committed


def test_merge_help_names_the_target() -> None:
    out = ok("taxonomy", "merge", "-h").stdout
    assert "SOURCE [SOURCE ...] TARGET" in out and "the last name" in out


def test_add_images_of_a_missing_path_fails(tmp_path: Path, ws: str) -> None:
    for extra in ([], ["--json"]):
        p = run("-w", ws, "add-images", "/no/such/dir", *extra)
        assert p.returncode == 1
        line = one_line(p)
        assert "/no/such/dir" in line and "no such file" in line
    good = tmp_path / "good"
    good.mkdir()
    Image.new("RGB", (8, 8)).save(good / "a.png")
    p = run("-w", ws, "add-images", str(good), str(tmp_path / "typo"))  # one path of two gave nothing
    assert p.returncode == 1 and "typo" in one_line(p)
    ok("-w", ws, "add-images", str(good))  # unchanged files: fine


COCO = {
    "images": [{"id": 1, "file_name": "a.jpg", "width": 8, "height": 8}],
    "annotations": [{"id": 1, "image_id": 1, "category_id": 1, "bbox": [1, 1, 2, 2], "area": 4, "iscrowd": 0}],
    "categories": [{"id": 1, "name": "dent"}],
}


def test_import_that_adds_nothing_fails(tmp_path: Path, ws: str) -> None:
    export = tmp_path / "export"
    export.mkdir()
    ann = export / "ann.json"
    ann.write_text(json.dumps(COCO))
    p = run("-w", ws, "import", str(ann), "--format", "coco")
    assert p.returncode == 1
    line = one_line(p)
    assert "none of its 1 images was found" in line and "a.jpg" in line and f"data root {export}" in line
    assert "--data-root" in line
    p = run("-w", ws, "import", str(ann), "--format", "coco", "--data-root", str(tmp_path), "--json")
    assert p.returncode == 1 and json.loads(p.stdout)["labels_added"] == 0
    assert f"looked under --data-root {tmp_path}" in one_line(p)
    Image.new("RGB", (8, 8)).save(export / "a.jpg")
    assert json.loads(ok("-w", ws, "import", str(ann), "--format", "coco", "--json").stdout)["labels_added"] == 1
    ok("-w", ws, "import", str(ann), "--format", "coco")  # re-import: already present, not a failure


def test_problems_flag_lists_every_problem(tmp_path: Path, ws: str) -> None:
    imgs = tmp_path / "imgs"
    imgs.mkdir()
    Image.new("RGB", (8, 8)).save(imgs / "good.png")
    for i in range(12):
        (imgs / f"empty{i:02}.png").write_bytes(b"")
    short = ok("-w", ws, "add-images", str(imgs)).stdout
    assert ".problems_frame()" not in short
    assert sum("empty" in ln for ln in short.splitlines()) == 10
    assert "... and 2 more (rerun with --problems to list them all)" in short
    full = ok("-w", ws, "add-images", str(imgs), "--problems").stdout.splitlines()
    assert full[0].startswith("<RegisterReport")
    problems = [ln for ln in full[1:] if "empty" in ln]
    assert len(problems) == 12 == len(full) - 1  # one line per problem, nothing else
    assert all(ln.strip().startswith(str(imgs)) for ln in problems)


def _actions(parser: argparse.ArgumentParser) -> Iterator[tuple[str, argparse.Action]]:
    for action in parser._actions:
        yield parser.prog, action
        if isinstance(action, argparse._SubParsersAction):
            for choice in action._choices_actions:
                yield parser.prog, choice
            for sub in action.choices.values():
                yield from _actions(sub)


def test_every_option_and_command_has_help() -> None:
    missing = [f"{prog}: {a.option_strings or a.dest}" for prog, a in _actions(build_parser())
               if not a.help or a.help == argparse.SUPPRESS]
    assert not missing


def test_version() -> None:
    assert ok("--version").stdout.strip() == f"cvops {jupyter_cvops.__version__}"


def test_version_names_from_the_command_line(tmp_path: Path, ws: str, shared_data: Path) -> None:
    """B4 on the CLI: a name of other content is refused with a hint, --move moves it, history is kept."""
    imgs = tmp_path / "imgs"
    imgs.mkdir()
    for p in sorted((shared_data / "images" / "neu-surface-defects").rglob("*.jpg"))[:4]:
        shutil.copy(p, imgs / p.name)
    ok("-w", ws, "add-images", str(imgs / sorted(os.listdir(imgs))[0]))
    first = json.loads(ok("-w", ws, "snapshot", "--name", "baseline", "--json").stdout)
    same = json.loads(ok("-w", ws, "snapshot", "--name", "also-baseline", "--json").stdout)
    assert same["id"] == first["id"] and set(same["names"]) == {"baseline", "also-baseline"}
    ok("-w", ws, "add-images", str(imgs))
    p = run("-w", ws, "snapshot", "--name", "baseline")
    assert p.returncode == 1 and "--move" in one_line(p)
    moved = json.loads(ok("-w", ws, "snapshot", "--name", "baseline", "--move", "--json").stdout)
    assert moved["id"] != first["id"]
    ok("-w", ws, "name", "first", first["id"][:12], "-m", "the first batch")
    ok("-w", ws, "name", "also-baseline", "--remove")
    history = json.loads(ok("-w", ws, "names", "--history", "--json").stdout)
    actions = [(r["name"], r["action"]) for r in history]
    assert ("baseline", "move") in actions and ("also-baseline", "remove") in actions
    now = {r["name"]: r["version_id"] for r in json.loads(ok("-w", ws, "names", "--json").stdout)}
    assert now == {"baseline": moved["id"], "first": first["id"]}
    assert run("-w", ws, "name", "first").returncode == 1
