"""Drive a JupyterLab notebook through its UI (menus, keyboard) with Playwright."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import nbformat
from jupyter_process import JupyterProcess
from playwright.sync_api import expect

#: Screenshots and the server log of browser tests (gitignored).
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"

#: Kernel and startup can be slow on a cold machine; UI waits use this (ms).
SLOW_MS = 180_000


def open_notebook(page: Any, lab: JupyterProcess, name: str, workspace: str | None = None) -> None:
    """Open ``name`` (a path under the server root) in a fresh JupyterLab workspace (``workspace``: its
    name, by default ``name`` with dots as dashes; give one for a notebook in a subfolder) and wait for an
    idle kernel."""
    workspace = workspace or name.replace(".", "-")
    page.goto(f"{lab.url}/lab/workspaces/{workspace}/tree/{name}?reset&token={lab.token}")
    page.locator(".jp-NotebookPanel .jp-Notebook").first.wait_for(state="visible", timeout=SLOW_MS)
    # The status bar says "<kernel> | Idle" only once the kernel is connected and idle
    # (the toolbar indicator starts as "idle" before any session exists).
    page.locator(".jp-StatusBar-TextItem", has_text=re.compile(r"\| Idle$")).first.wait_for(
        state="visible", timeout=SLOW_MS
    )


def run_all_cells(page: Any) -> None:
    """Run > Run All Cells, through the main menu."""
    page.locator(".lm-MenuBar-itemLabel", has_text="Run").first.click()
    page.locator(".lm-Menu-itemLabel", has_text="Run All Cells").first.click()


def wait_until_all_executed(page: Any) -> None:
    """Wait until every code cell shows an execution count (``[n]``, not ``[ ]`` or ``[*]``).

    Notebooks under test are written without execution counts, so this is the state
    after Run All has finished, whatever the timing of the kernel.
    """
    page.wait_for_function(
        """() => {
            const prompts = [...document.querySelectorAll(
                '.jp-NotebookPanel .jp-CodeCell .jp-InputArea-prompt')];
            return prompts.length > 0 && prompts.every(p => /\\[\\d+\\]/.test(p.textContent));
        }""",
        timeout=SLOW_MS,
    )


def printed_json(scope: Any, marker: str) -> dict[str, Any]:
    """The JSON object a cell printed as ``print(marker, ..., json.dumps(obj))``, once it has all arrived.

    ``scope`` is the page or a cell. Waits until the output shows the closing brace (a stream
    output can arrive in pieces) and reads ``textContent``, which does not depend on layout.
    """
    # case-sensitive (a plain has_text string is not) and only outputs where the object has begun
    out = scope.locator(".jp-OutputArea-output", has_text=re.compile(re.escape(marker) + r"[^{]*\{")).first
    expect(out).to_contain_text(re.compile(re.escape(marker) + r"[^{]*\{.*\}", re.S), timeout=SLOW_MS)
    text = str(out.text_content())
    start = text.index("{", text.index(marker))
    obj, _ = json.JSONDecoder().raw_decode(text[start:])
    return dict(obj)


def save(page: Any, name: str) -> None:
    """Ctrl+S and wait for the contents PUT of ``name`` to succeed."""
    page.locator(".jp-NotebookPanel .jp-Notebook").first.click(position={"x": 5, "y": 5})
    with page.expect_response(
        lambda r: r.request.method == "PUT" and r.url.split("?")[0].endswith(f"/api/contents/{name}")
    ) as answer:
        page.keyboard.press("Control+s")
    assert answer.value.ok, answer.value.status


def write_with_parameters(notebook: Path, dest: Path, parameters: str) -> None:
    """Copy ``notebook`` to ``dest`` with its ``parameters`` cell replaced (as papermill would)."""
    nb = nbformat.read(notebook, as_version=4)
    (cell,) = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    cell.source = parameters
    nbformat.write(nb, dest)


def render_log(console: list[str], widget: str) -> list[dict[str, Any]]:
    """The ``<widget> render {json}`` entries a widget logged to the browser console (e.g. ``cvops-drift``)."""
    prefix = f"{widget} render "
    return [json.loads(line[len(prefix):]) for line in console if line.startswith(prefix)]


class RunLog:
    """Browser console lines and page errors collected while a notebook runs."""

    def __init__(self, page: Any) -> None:
        self.console: list[str] = []
        self.page_errors: list[str] = []
        page.on("console", lambda msg: self.console.append(msg.text))
        page.on("pageerror", lambda error: self.page_errors.append(str(error)))


def run_widget_notebook(page: Any, lab: JupyterProcess, notebook: Path, dest: Path, parameters: str,
                        widget_selector: str) -> tuple[RunLog, Any]:
    """Write ``notebook`` to ``dest`` with ``parameters``, run it all in JupyterLab, check no cell
    wrote to stderr, and return the run's log and the first ``widget_selector`` element, visible."""
    write_with_parameters(notebook, dest, parameters)
    log = RunLog(page)
    open_notebook(page, lab, dest.name)
    run_all_cells(page)
    wait_until_all_executed(page)
    errors = page.locator(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']")
    assert errors.count() == 0, errors.all_inner_texts()
    widget = page.locator(widget_selector).first
    widget.wait_for(state="visible", timeout=SLOW_MS)
    widget.scroll_into_view_if_needed()
    return log, widget
