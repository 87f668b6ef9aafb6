"""Bad input to a re-run: each a clear one-line error before anything executes; nothing is registered."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from recipe_helpers import Small, counts, make_workspace, reseal

from jupyter_cvops.recipes import Recipe, RecipeEnvironmentWarning, RecipeError, retrain


def _refused(small: Small, match: str, **kwargs: object) -> str:
    before = counts(small.ws)
    with pytest.raises(RecipeError, match=match) as info:
        retrain(small.recipe.path, progress=False, **kwargs)  # type: ignore[arg-type]
    assert counts(small.ws) == before
    assert not (small.recipe.path / "executed").exists()  # nothing ran
    message = str(info.value)
    assert "\n" not in message
    return message


def test_notebook_edited_by_hand(small: Small) -> None:
    nb_file = small.recipe.notebook_path
    nb = json.loads(nb_file.read_text())
    nb["cells"][2]["source"] = "print('something else')"
    nb_file.write_text(json.dumps(nb))
    msg = _refused(small, r"edited by hand: train.ipynb hashes")
    assert "export the notebook again" in msg


def test_notebook_saved_unchanged_keeps_its_hash(small: Small) -> None:
    nb_file = small.recipe.notebook_path
    nb = json.loads(nb_file.read_text())
    nb["cells"][2]["outputs"] = [{"output_type": "stream", "name": "stdout", "text": "0.1 2\n"}]
    nb["cells"][2]["source"] = nb["cells"][2]["source"].splitlines(keepends=True)  # as JupyterLab saves it
    nb_file.write_text(json.dumps(nb, indent=2))
    assert Recipe.load(small.recipe.path).id == small.recipe.id


def test_recipe_yaml_edited_by_hand(small: Small) -> None:
    spec = small.recipe.path / "recipe.yaml"
    spec.write_text(spec.read_text().replace("tolerance: 1.0e-06", "tolerance: 0.5", 1))
    _refused(small, r"recipe.yaml no longer matches its digest")


def test_lock_edited_by_hand(small: Small) -> None:
    with small.recipe.lock_path.open("a") as f:
        f.write("fakepkg==1.0\n")
    _refused(small, r"requirements.lock no longer matches")


def test_missing_dataset_version(small: Small, tmp_path: Path, shared_data: Path) -> None:
    other = make_workspace(tmp_path / "elsewhere", shared_data, n_first=10, rest=False)  # its own baseline: other content
    before = counts(other)
    with pytest.raises(RecipeError, match=r"dataset version 'baseline' \([0-9a-f]{12}\) that recipe 'train' pins "
                                          r"is not in workspace .*--dataset"):
        retrain(small.recipe.path, workspace=other, progress=False)
    assert counts(other) == before
    with pytest.raises(RecipeError, match=r"--dataset nope: no dataset version named"):
        retrain(small.recipe.path, dataset="nope", progress=False)


def test_tampered_image(small: Small) -> None:
    path = Path(small.ws.version("baseline").items()["path"][3])
    data = bytearray(path.read_bytes())
    data[-10] ^= 0xFF
    path.write_bytes(bytes(data))
    msg = _refused(small, r"dataset version 'baseline' .*: image [0-9a-f]{12} at .* is changed since it was recorded")
    assert "restore the file" in msg


def test_fast_verify_misses_what_full_catches(small: Small) -> None:
    """An in-place edit that keeps size, mtime and inode passes the stat cache; --verify full re-hashes it."""
    path = Path(small.ws.version("baseline").items()["path"][5])
    st = path.stat()
    data = bytearray(path.read_bytes())
    data[-10] ^= 0xFF
    with open(path, "r+b") as f:  # same inode
        f.write(bytes(data))
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
    from jupyter_cvops.recipes._inputs import verify_version

    assert verify_version(small.ws.store, small.ws.version("baseline"), "fast").ok
    full = verify_version(small.ws.store, small.ws.version("baseline"), "full")
    assert not full.ok and full.n_hashed == 30
    _refused(small, r"is changed since it was recorded", verify="full")


def test_package_missing_from_the_environment(small: Small) -> None:
    with small.recipe.lock_path.open("a") as f:
        f.write("fakepkg-cvops-test==1.0\n")
    reseal(small.recipe)  # as if exported where that package was installed
    msg = _refused(small, r"environment differs from recipe 'train'.s lock \(1 package differs from the lock: "
                          r"fakepkg-cvops-test 1.0 not installed\); install it with `pip install -r", strict=True)
    assert "without --strict" in msg
    # without --strict it warns and goes on (here to the next refusal)
    with pytest.warns(RecipeEnvironmentWarning, match="fakepkg-cvops-test 1.0 not installed"):
        with pytest.raises(RecipeError, match="--dataset nope"):
            retrain(small.recipe.path, dataset="nope", progress=False)


def test_unknown_parameter(small: Small) -> None:
    _refused(small, r"recipe 'train' has no parameter 'lrr' \(did you mean 'lr'\?\); its parameters: epochs, lr, seed",
             params={"lrr": 0.5})


def test_parameters_without_a_parameters_cell(small: Small) -> None:
    reseal(small.recipe, parameters=None)
    _refused(small, r"takes no parameters: its notebook has no cell tagged 'parameters', so -p lr=...",
             params={"lr": 0.5})


def test_check_refuses_other_data_or_parameters(small: Small) -> None:
    _refused(small, r"--check re-runs the recipe on its own data", check=True, params={"lr": 0.5})


def test_cli_one_line_errors(small: Small) -> None:
    cmd = [sys.executable, "-m", "jupyter_cvops.cli"]
    p = subprocess.run([*cmd, "retrain", str(small.recipe.path), "-p", "lrr=1"], capture_output=True, text=True,
                       timeout=120)
    lines = [ln for ln in p.stderr.splitlines() if ln.strip()]
    assert p.returncode == 1 and len(lines) == 1 and "Traceback" not in p.stderr
    assert lines[0].startswith("cvops retrain: error: recipe 'train' has no parameter 'lrr'")
    p = subprocess.run([*cmd, "recipe", "show", str(small.recipe.path), "--json"], capture_output=True, text=True,
                       timeout=120)
    assert p.returncode == 0 and json.loads(p.stdout)["recipe_id"] == small.recipe.id
    p = subprocess.run([*cmd, "-w", small.ws.uri, "recipe", "list", "--json"], capture_output=True, text=True,
                       timeout=120)
    assert p.returncode == 0 and [r["name"] for r in json.loads(p.stdout)] == ["train"]
