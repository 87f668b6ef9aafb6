"""A recipe's notebook: outputs stripped, a content hash, the ``parameters`` cell, papermill-style injection.

Pure functions over notebook dicts (nbformat 4 JSON); nothing here runs a kernel. The
content hash covers what the notebook *does*: each cell's type, source and tags (not
outputs, execution counts or metadata that a front end rewrites on save), so opening and
saving the recipe's notebook unchanged keeps its hash and any edit of a cell changes it.
"""

from __future__ import annotations

import ast
import copy
import hashlib
import json
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from ._errors import RecipeError

PARAMETERS_TAG = "parameters"
INJECTED_TAG = "injected-parameters"
RUN_MIME = "application/vnd.cvops.run+json"
SNAPSHOT_MIME = "application/vnd.cvops.snapshot+json"
_VOLATILE_METADATA = ("execution", "collapsed", "scrolled", "jupyter", "widgets")


def read_notebook(path: str | Path) -> dict[str, Any]:
    """The notebook at ``path`` as nbformat 4 JSON (a dict); a :class:`RecipeError` when it is not one.

    Examples
    --------
    >>> read_notebook("/no/such.ipynb")
    Traceback (most recent call last):
    ...
    jupyter_cvops.recipes._errors.RecipeError: no notebook at /no/such.ipynb
    """
    p = Path(path)
    if not p.is_file():
        raise RecipeError(f"no notebook at {p}")
    try:
        nb = json.loads(p.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise RecipeError(f"{p} is not a readable notebook: {type(exc).__name__}: {exc}") from None
    if not isinstance(nb, dict) or not isinstance(nb.get("cells"), list) or int(nb.get("nbformat", 0)) < 4:
        raise RecipeError(f"{p} is not an nbformat 4 notebook (open and save it in JupyterLab to upgrade it)")
    for cell in nb["cells"]:
        if isinstance(cell.get("source"), list):
            cell["source"] = "".join(cell["source"])
    return nb


def _tags(cell: Mapping[str, Any]) -> list[str]:
    tags = (cell.get("metadata") or {}).get("tags") or []
    return [str(t) for t in tags] if isinstance(tags, list) else []


def strip_outputs(nb: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of ``nb`` without outputs, execution counts and per-cell volatile metadata.

    The notebook's own ``metadata`` (kernelspec, ``metadata.cvops`` provenance) is kept,
    less widget state.

    Examples
    --------
    >>> nb = {"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": [
    ...     {"cell_type": "code", "source": "1", "metadata": {"execution": {}}, "execution_count": 3,
    ...      "outputs": [{"output_type": "stream"}]}]}
    >>> strip_outputs(nb)["cells"][0]
    {'cell_type': 'code', 'source': '1', 'metadata': {}, 'execution_count': None, 'outputs': []}
    """
    out = copy.deepcopy(dict(nb))
    out["metadata"] = {k: v for k, v in dict(out.get("metadata") or {}).items() if k != "widgets"}
    for cell in out["cells"]:
        cell["metadata"] = {k: v for k, v in dict(cell.get("metadata") or {}).items() if k not in _VOLATILE_METADATA}
        if cell.get("cell_type") == "code":
            cell["execution_count"] = None
            cell["outputs"] = []
    return out


def content_hash(nb: Mapping[str, Any]) -> str:
    """SHA-256 (hex) of the notebook's cells: type, source and tags, in order.

    Examples
    --------
    >>> a = {"cells": [{"cell_type": "code", "source": "x = 1", "outputs": [1]}]}
    >>> b = {"cells": [{"cell_type": "code", "source": ["x = ", "1"], "outputs": []}]}
    >>> content_hash(a) == content_hash(b), len(content_hash(a))
    (True, 64)
    """
    cells = []
    for cell in nb.get("cells") or []:
        source = cell.get("source") or ""
        cells.append([cell.get("cell_type"), "".join(source) if isinstance(source, list) else str(source),
                      sorted(_tags(cell))])
    text = json.dumps(cells, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def parameters_cell(nb: Mapping[str, Any]) -> int | None:
    """Index of the first code cell tagged ``parameters`` (papermill's convention), else None.

    Examples
    --------
    >>> parameters_cell({"cells": [{"cell_type": "code", "metadata": {"tags": ["parameters"]}}]})
    0
    """
    for k, cell in enumerate(nb.get("cells") or []):
        if cell.get("cell_type") == "code" and PARAMETERS_TAG in _tags(cell):
            return k
    return None


def parse_parameters(source: str) -> tuple[dict[str, Any], dict[str, str]]:
    """The names a parameters cell assigns: (literal values, other expressions as source text).

    Examples
    --------
    >>> parse_parameters("lr = 1e-3  # learning rate\\nepochs: int = 3\\ndevice = 'cuda' if gpu else 'cpu'")
    ({'lr': 0.001, 'epochs': 3}, {'device': "'cuda' if gpu else 'cpu'"})
    """
    try:
        tree = ast.parse(source)
    except SyntaxError as exc:
        raise RecipeError(f"the cell tagged 'parameters' is not valid Python: {exc.msg} (line {exc.lineno})") from None
    values: dict[str, Any] = {}
    exprs: dict[str, str] = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1:
            target, value = node.targets[0], node.value
        elif isinstance(node, ast.AnnAssign) and node.value is not None:
            target, value = node.target, node.value
        else:
            continue
        if not isinstance(target, ast.Name):
            continue
        try:
            values[target.id] = ast.literal_eval(value)
            exprs.pop(target.id, None)
        except (ValueError, SyntaxError, TypeError):
            exprs[target.id] = ast.get_source_segment(source, value) or ast.unparse(value)
            values.pop(target.id, None)
    return values, exprs


def inject_parameters(nb: Mapping[str, Any], params: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of ``nb`` with a cell tagged ``injected-parameters`` right after the ``parameters`` cell.

    As papermill does it: the new cell assigns each value (``name = repr(value)``), so it
    overrides the defaults above it. Earlier injected cells are removed first.

    Examples
    --------
    >>> nb = {"cells": [{"cell_type": "code", "source": "lr = 0.1", "metadata": {"tags": ["parameters"]}}]}
    >>> out = inject_parameters(nb, {"lr": 0.5})
    >>> out["cells"][1]["source"], out["cells"][1]["metadata"]["tags"]
    ('# Parameters\\nlr = 0.5\\n', ['injected-parameters'])
    """
    out = copy.deepcopy(dict(nb))
    out["cells"] = [c for c in out["cells"] if INJECTED_TAG not in _tags(c)]
    where = parameters_cell(out)
    if where is None:
        raise RecipeError("the notebook has no cell tagged 'parameters' to inject after")
    lines = "".join(f"{k} = {v!r}\n" for k, v in params.items())
    cell: dict[str, Any] = {"cell_type": "code", "execution_count": None, "metadata": {"tags": [INJECTED_TAG]},
                            "outputs": [], "source": f"# Parameters\n{lines}"}
    if (int(out.get("nbformat", 4)), int(out.get("nbformat_minor", 0))) >= (4, 5):
        cell["id"] = f"injected-parameters-{len(out['cells'])}"
    out["cells"].insert(where + 1, cell)
    return out


def _payloads(nb: Mapping[str, Any], mime: str) -> Iterator[dict[str, Any]]:
    for cell in nb.get("cells") or []:
        for output in cell.get("outputs") or []:
            data = output.get("data") if isinstance(output, dict) else None
            payload = data.get(mime) if isinstance(data, dict) else None
            if isinstance(payload, dict):
                yield payload


def recorded_runs(nb: Mapping[str, Any]) -> list[str]:
    """Ids of the runs the notebook shows (run cards in its saved outputs), in order.

    Examples
    --------
    >>> recorded_runs({"cells": [{"outputs": [{"data": {RUN_MIME: {"run_id": "ab12"}}}]}]})
    ['ab12']
    """
    ids = [str(p["run_id"]) for p in _payloads(nb, RUN_MIME) if p.get("run_id")]
    return list(dict.fromkeys(ids))


def snapshots(nb: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Snapshot payloads the notebook recorded: ``metadata.cvops.snapshots`` and snapshot cards in its outputs.

    Examples
    --------
    >>> snapshots({"metadata": {"cvops": {"snapshots": [{"run_id": "r1"}]}}, "cells": []})
    [{'run_id': 'r1'}]
    """
    meta = (nb.get("metadata") or {}).get("cvops") or {}
    found = [p for p in (meta.get("snapshots") or []) if isinstance(p, dict)] if isinstance(meta, dict) else []
    found += list(_payloads(nb, SNAPSHOT_MIME))
    seen: set[str] = set()
    out = []
    for p in found:
        key = str(p.get("run_id") or json.dumps(p, sort_keys=True, default=str))
        if key not in seen:
            seen.add(key)
            out.append(p)
    return out


def workspaces(nb: Mapping[str, Any]) -> list[str]:
    """Workspace URIs the notebook names: ``metadata.cvops.workspace``, its snapshots and its run cards.

    Examples
    --------
    >>> workspaces({"metadata": {"cvops": {"workspace": "/data/ws"}}, "cells": []})
    ['/data/ws']
    """
    meta = (nb.get("metadata") or {}).get("cvops") or {}
    found = [meta["workspace"]] if isinstance(meta, dict) and isinstance(meta.get("workspace"), str) else []
    found += [str(p["workspace"]) for p in snapshots(nb) if p.get("workspace")]
    found += [str(p["workspace"]) for p in _payloads(nb, RUN_MIME) if p.get("workspace")]
    return list(dict.fromkeys(found))
