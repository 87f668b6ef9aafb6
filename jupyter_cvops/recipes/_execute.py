"""Executing a recipe's notebook headless with nbclient: one kernel, a progress bar per cell, the
executed notebook written beside the recipe (also when a cell fails)."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ._errors import RecipeError


def skip_unused_schema_formats() -> None:
    """Keep nbformat's import from compiling a grammar it never uses (call in a process of our own).

    nbformat imports ``jsonschema``, whose optional IRI-syntax format checker
    (``rfc3987_syntax``, installed with Jupyter's ``jsonschema[format-nongpl]``) compiles its
    grammars at import: ~1.3 s of a re-run's start. nbformat validates notebooks without format
    checkers, so ``cvops retrain`` and the server's retrain runner block that one optional import
    (``jsonschema`` treats it as absent). Never called in a user's process (a kernel, a notebook).

    Examples
    --------
    >>> skip_unused_schema_formats()   # doctest: +SKIP
    """
    import sys

    sys.modules.setdefault("rfc3987_syntax", None)  # type: ignore[arg-type]


def write_notebook(nb: Mapping[str, Any], path: Path) -> None:
    """Write ``nb`` as nbformat JSON (what JupyterLab writes: one-space indent).

    Examples
    --------
    >>> import tempfile
    >>> p = Path(tempfile.mkdtemp()) / "a.ipynb"
    >>> write_notebook({"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}, p)
    >>> p.read_text().startswith("{")
    True
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")


@dataclass(frozen=True)
class CellProgress:
    """Where a headless execution stands, given to ``on_cell`` before and after each code cell.

    ``done`` of ``total`` code cells have run; ``cell`` is the 1-based index (among all cells) of
    the cell starting now (``None`` once it ran) and ``source`` its first line; ``kernel_pid``
    the kernel's process id (a caller that must stop the run interrupts it with SIGINT).

    Examples
    --------
    >>> CellProgress(1, 3, 2, "train()", None).done
    1
    """

    done: int
    total: int
    cell: int | None
    source: str
    kernel_pid: int | None


def _first_line(text: Any) -> str:
    lines = str(text or "").strip().splitlines()
    return lines[0] if lines else ""


def execute_notebook(nb: Mapping[str, Any], out: Path, *, cwd: Path, env: Mapping[str, str],
                     kernel_name: str | None = None, timeout: float | None = None, progress: bool = True,
                     label: str = "retrain", on_cell: Callable[[CellProgress], None] | None = None,
                     km: Any = None) -> dict[str, Any]:
    """Run every cell of ``nb`` in a fresh kernel (environment ``env``, working folder ``cwd``).

    The notebook as given is written to ``out`` first (a run started in it records a
    readable notebook), the executed one after, also when a cell fails; a failure raises a
    :class:`RecipeError` naming the cell, the error and ``out``. The kernel process's own
    messages (not the notebook's outputs) go to ``out`` with the suffix ``.kernel.log``.
    ``on_cell`` (optional) is called with a :class:`CellProgress` as each code cell starts and
    after it ran: a machine-readable twin of the progress bar. ``km`` (optional) is a kernel
    manager whose kernel was started already (see :mod:`._launch`; ``env``, ``cwd`` and the
    kernel log are then the ones it was started with); it is shut down after the last cell.

    Examples
    --------
    >>> execute_notebook(nb, Path("executed/train.ipynb"), cwd=Path("."), env=dict(os.environ))  # doctest: +SKIP
    """
    import nbformat
    from jupyter_client.kernelspec import NoSuchKernel
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError
    from tqdm.auto import tqdm

    write_notebook(nb, out)
    node = nbformat.from_dict(json.loads(json.dumps(nb)))  # type: ignore[no-untyped-call]
    code = [k for k, c in enumerate(node.cells) if c.cell_type == "code"]
    kernel = kernel_name or (node.metadata.get("kernelspec") or {}).get("name") or "python3"
    bar = tqdm(total=len(code), desc=label, unit="cell", disable=not progress, leave=True)

    ran = [0]  # a disabled bar does not count

    def report(cell: int | None, source: str) -> None:
        if on_cell is not None:
            pid = getattr(getattr(client.km, "provisioner", None), "pid", None)
            on_cell(CellProgress(ran[0], len(code), cell, source, pid if isinstance(pid, int) else None))

    def started(cell: Any, cell_index: int, **_: Any) -> None:
        first = _first_line(cell.source)[:50]
        bar.set_postfix_str(f"cell {cell_index + 1}: {first}", refresh=True)
        report(cell_index + 1, first)

    def done(cell: Any, cell_index: int, execute_reply: Any = None, **_: Any) -> None:
        bar.update(1)
        if ((execute_reply or {}).get("content") or {}).get("status", "ok") == "ok":  # a failed cell is not done
            ran[0] += 1
            report(None, "")

    client = NotebookClient(node, km=km, timeout=timeout, kernel_name=kernel, allow_errors=False,
                            resources={"metadata": {"path": str(cwd)}}, on_cell_start=started,
                            on_cell_executed=done)
    failure: str | None = None
    log = out.with_suffix(".kernel.log")  # the kernel process's own messages, not the notebook's outputs
    try:
        if km is not None:  # started (and logging) already; shut it down after the last cell as nbclient would
            client.execute(cleanup_kc=True)
        else:
            with open(log, "w", encoding="utf-8") as stderr:
                client.execute(env=dict(env), stderr=stderr)
    except NoSuchKernel:
        failure = f"no Jupyter kernel named {kernel!r} is installed here; pass kernel_name= (--kernel NAME)"
    except CellExecutionError as exc:
        index = next((k for k, c in enumerate(node.cells) for o in c.get("outputs", [])
                      if o.get("output_type") == "error"), None)
        where = f"cell {index + 1}" if index is not None else "a cell"
        failure = f"{where} failed: {exc.ename}: {_first_line(exc.evalue)}"
    except CellTimeoutError as exc:
        failure = f"a cell ran past the timeout: {_first_line(exc)}"
    except DeadKernelError as exc:
        failure = f"the kernel died: {_first_line(exc)}"
    finally:
        bar.close()
        write_notebook(json.loads(json.dumps(node)), out)
    if failure is not None:
        raise RecipeError(f"{failure}; the executed notebook is at {out}")
    result: dict[str, Any] = json.loads(json.dumps(node))
    return result
