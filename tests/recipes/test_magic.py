"""%cvops recipe export in a real IPython shell (the kernel knows its notebook through ``__session__``)."""

from __future__ import annotations

from pathlib import Path

import pytest
from IPython import get_ipython
from IPython.core.error import UsageError
from IPython.testing.globalipapp import start_ipython
from recipe_helpers import SMALL_CELLS, Small, notebook, write_notebook


@pytest.fixture(scope="module")
def ip():  # noqa: ANN201
    shell = start_ipython() or get_ipython()
    shell.run_line_magic("load_ext", "jupyter_cvops")
    return shell


def test_recipe_export_magic(ip, small: Small, monkeypatch: pytest.MonkeyPatch, capsys) -> None:  # noqa: ANN001
    monkeypatch.setitem(ip.user_ns, "__session__", str(small.notebook))
    ip.run_line_magic("cvops", f"use {small.ws.uri}")
    out = small.root / "from-magic"
    ip.run_line_magic("cvops", f"recipe export -o {out} --name magic")
    text = capsys.readouterr().out
    assert f"exported recipe 'magic' to {out}" in text and f"cvops retrain {out} --check" in text
    assert ip.user_ns["cvops_recipe"].name == "magic" and (out / "recipe.yaml").is_file()
    with pytest.raises(UsageError, match="already holds a recipe"):
        ip.run_line_magic("cvops", f"recipe export -o {out}")
    ip.run_line_magic("cvops", f"recipe export -o {out} --force")


def test_recipe_export_magic_refuses_unversioned_data(ip, small: Small, tmp_path: Path,  # noqa: ANN001
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    nb = write_notebook(tmp_path / "other.ipynb", notebook(SMALL_CELLS))
    monkeypatch.setitem(ip.user_ns, "__session__", str(nb))
    ip.run_line_magic("cvops", f"use {small.ws.uri}")
    with pytest.raises(UsageError, match=r"%cvops recipe export: no recorded run of other.ipynb"):
        ip.run_line_magic("cvops", "recipe export")
