"""The snapshot card renders in JupyterLab and its payload is saved into the notebook's metadata."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import nbformat
import pytest
from playwright.sync_api import expect
from jupyter_process import JupyterProcess
from notebook_ui import ARTIFACTS, SLOW_MS, open_notebook, run_all_cells, save, wait_until_all_executed

pytestmark = [pytest.mark.browser, pytest.mark.slow]

MIME = "application/vnd.cvops.snapshot+json"
KERNELSPEC = {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}


def _write_notebook(path: Path, cells: list[Any]) -> None:
    nb = nbformat.v4.new_notebook(cells=cells, metadata={"kernelspec": KERNELSPEC})
    nbformat.write(nb, path)


def _payload(run_id: str, version_id: str, name: str, n_images: int) -> dict[str, Any]:
    return {
        "run_id": run_id,
        "created_at": "2026-11-29T10:20:30+00:00",
        "workspace": "/data/inspection-ws",
        "dataset_version": {
            "id": version_id, "name": name, "message": f"{name} message", "n_images": n_images,
            "n_labels": 2 * n_images,
            "splits": {"train": n_images - 20, "val": 10, "test": 10},
        },
        "taxonomy_version": 3,
        "notebook": None,
        "kernel": {},
        "env": {"python": "3.11", "packages": {}},
    }


def _display_cell(*payloads: dict[str, Any]) -> Any:
    """A code cell that displays each payload as a raw MIME bundle, as the magic does."""
    lines = ["import json", "from IPython.display import display"]
    for p in payloads:
        bundle = {MIME: p, "text/plain": f"cvops snapshot {p['dataset_version']['id'][:12]}"}
        lines.append(f"display(json.loads({json.dumps(bundle)!r}), raw=True)")
    return nbformat.v4.new_code_cell("\n".join(lines))


def _snapshots(path: Path) -> list[dict[str, Any]]:
    return nbformat.read(path, as_version=4).metadata.get("cvops", {}).get("snapshots", [])


@pytest.fixture(scope="module")
def workspace(lab_root: Path, shared_data: Path) -> Path:
    """``ws`` inside the served folder, with the NEU surface-defect images registered."""
    from jupyter_cvops import Workspace

    images = lab_root.parent / f"{lab_root.name}-images"
    shutil.copytree(shared_data / "images" / "neu-surface-defects", images)
    ws = Workspace.create(lab_root / "ws")
    ws.add_images(images, progress=False)
    return lab_root / "ws"


def test_mime_payloads_are_rendered_and_recorded(page: Any, lab: JupyterProcess, lab_root: Path) -> None:
    """Extension side alone: cards, recording on load, dedup by run_id, order kept after clear."""
    pre = _payload("run-pre", "c" * 64, "preexisting", 40)
    a = _payload("run-a", "a" * 64, "alpha", 1234)
    b = _payload("run-b", "b" * 64, "beta", 50)
    saved_output = nbformat.v4.new_output("display_data", data={MIME: pre, "text/plain": "pre"})
    nb_path = lab_root / "raw.ipynb"
    _write_notebook(nb_path, [
        nbformat.v4.new_code_cell("1 + 1", outputs=[saved_output]),
        _display_cell(a, a, b),
    ])

    open_notebook(page, lab, nb_path.name)
    card = page.locator(".cvops-snapshot-card[data-version-id='%s']" % ("c" * 64))
    card.wait_for(state="visible")  # rendered from the file, before any execution

    run_all_cells(page)
    wait_until_all_executed(page)
    cards = page.locator(".cvops-snapshot-card")
    expect(cards).to_have_count(3)  # pre's output was cleared by re-running cell 1
    alpha = cards.nth(0)
    assert alpha.get_attribute("data-version-id") == "a" * 64
    assert alpha.get_attribute("data-run-id") == "run-a"
    text = alpha.inner_text()
    for expected in ("alpha", "a" * 12, "1,234", "2,468", "train 1,214 · val 10 · test 10", "v3",
                     "/data/inspection-ws", "2026-11-29 10:20:30 UTC", "alpha message"):
        assert expected in text, (expected, text)
    assert "a" * 13 not in text
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "snapshot-cards-raw.png"), full_page=True)

    save(page, nb_path.name)
    recorded = _snapshots(nb_path)
    assert [s["run_id"] for s in recorded] == ["run-pre", "run-a", "run-b"]
    assert recorded[1] == a


def test_cvops_snapshot_magic_card_and_saved_metadata(
    page: Any, lab: JupyterProcess, lab_root: Path, workspace: Path
) -> None:
    """Full path: %cvops snapshot in a kernel, card in the page, provenance in the saved .ipynb."""
    from jupyter_cvops import Workspace

    nb_path = lab_root / "magic.ipynb"
    _write_notebook(nb_path, [
        nbformat.v4.new_code_cell("%load_ext jupyter_cvops"),
        nbformat.v4.new_code_cell("%cvops use ws"),
        nbformat.v4.new_code_cell('%cvops snapshot --name first -m "first snapshot"'),
    ])

    open_notebook(page, lab, nb_path.name)
    run_all_cells(page)
    card = page.locator(".cvops-snapshot-card")
    card.wait_for(state="visible", timeout=SLOW_MS)
    wait_until_all_executed(page)

    versions = Workspace.open(workspace).versions()
    assert versions.height == 1
    version_id = versions["id"][0]
    assert card.get_attribute("data-version-id") == version_id
    text = card.inner_text()
    for expected in ("first", version_id[:12], "first snapshot", "Images", "30", "train", str(workspace.name)):
        assert expected in text, (expected, text)
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "snapshot-card-magic.png"), full_page=True)

    save(page, nb_path.name)
    recorded = _snapshots(nb_path)
    assert len(recorded) == 1
    assert recorded[0]["dataset_version"]["id"] == version_id
    assert recorded[0]["dataset_version"]["n_images"] == 30
    assert recorded[0]["run_id"]
