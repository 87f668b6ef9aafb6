"""Every docstring example in the package runs (examples that need a live workspace say +SKIP)."""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import pytest

import jupyter_cvops

SKIP = {"jupyter_cvops._server", "jupyter_cvops.notebook._magics"}  # need a running server / IPython


def _modules() -> list[str]:
    names = []
    for info in pkgutil.walk_packages(jupyter_cvops.__path__, "jupyter_cvops."):
        if any(info.name == s or info.name.startswith(s + ".") for s in SKIP):
            continue
        names.append(info.name)
    return sorted(names)


@pytest.mark.parametrize("name", _modules())
def test_docstring_examples(name: str, tmp_path, monkeypatch) -> None:  # noqa: ANN001
    monkeypatch.chdir(tmp_path)
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0
