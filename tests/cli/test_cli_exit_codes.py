"""One exit-code convention for the whole CLI (0 ok, 1 error, 2 usage, 3 verify failed, 4 alert), shown in
``cvops --help``; usage mistakes are one line; the installed ``cvops`` console script runs a check."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from conftest import CliWorld, Cvops, Hook

REPO = Path(__file__).resolve().parents[2]


def _console_script() -> str:
    found = shutil.which("cvops", path=str(Path(sys.executable).parent)) or shutil.which("cvops")
    assert found, "the cvops console script is not installed"
    return found


def test_help_shows_the_exit_codes(cvops: Cvops) -> None:
    code, out, _ = cvops("--help")
    assert code == 0
    table = out[out.index("exit codes:"):].splitlines()
    assert [ln.split()[0] for ln in table[1:6]] == ["0", "1", "2", "3", "4"]
    assert "verification failed" in table[4] and "alert" in table[5] and "audit --fail-under" in table[5]
    for command in ("embed", "agreement", "drift", "skew", "shadow", "audit", "models", "alias", "evaluate",
                    "predictions", "lineage", "impact"):
        assert f"    {command} " in out


@pytest.mark.parametrize("args,needle", [
    (["drift"], "the following arguments are required: reference"),
    (["audit", "--fail-under", "many"], "argument --fail-under: invalid int value: 'many'"),
    (["alias", "set", "clf"], "the following arguments are required: ALIAS, VERSION"),
    (["shadow", "clf", "--min-agreement"], "argument --min-agreement: expected one argument"),
    (["no-such-command"], "argument COMMAND: invalid choice: 'no-such-command'"),
])
def test_usage_mistakes_are_one_line_and_exit_2(cvops: Cvops, args: list[str], needle: str) -> None:
    code, out, err = cvops("-w", "/nonexistent", *args)
    assert code == 2 and out == "" and err.count("\n") == 1 and needle in err, err
    assert err.rstrip().endswith("--help')")


def test_verify_exits_3_and_notifies(tmp_path: Path, cvops: Cvops, shared_data: Path) -> None:
    imgs = tmp_path / "imgs"
    imgs.mkdir()
    for p in sorted((shared_data / "images" / "neu-surface-defects").rglob("*.jpg"))[:3]:
        shutil.copy(p, imgs / p.name)
    ws = str(tmp_path / "ws")
    assert cvops("init", ws)[0] == 0 and cvops("-w", ws, "add-images", str(imgs))[0] == 0
    assert cvops("-w", ws, "snapshot", "--name", "v1")[0] == 0
    assert cvops("-w", ws, "verify", "v1")[0] == 0
    next(imgs.iterdir()).write_bytes(b"changed")
    hook = Hook()
    try:
        code, out, _ = cvops("-w", ws, "verify", "v1", "--json", "--notify", hook.url)
    finally:
        hook.close()
    assert code == 3 and json.loads(out)["ok"] is False  # the JSON of verify is as before
    (body,) = hook.bodies
    assert (body["command"], body["target"], body["exit_code"], body["result"]["changed"]) == ("verify", "v1", 3, 1)


def test_console_script_runs_a_check(world: CliWorld) -> None:
    scripts = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["scripts"]
    assert scripts["cvops"] == "jupyter_cvops.cli:main"
    env = os.environ | {"CVOPS_WORKSPACE": world.uri}
    p = subprocess.run([_console_script(), "audit", "--as-of", "2030-01-01", "--fail-under", "10", "--json"],
                       capture_output=True, text=True, timeout=300, env=env)
    assert p.returncode == 4, p.stderr
    body = json.loads(p.stdout)
    assert body["command"] == "audit" and body["exit_code"] == 4 and body["workspace"] == world.uri
    p = subprocess.run([_console_script(), "drift"], capture_output=True, text=True, timeout=300, env=env)
    assert p.returncode == 2 and p.stderr.count("\n") == 1 and "Traceback" not in p.stderr
