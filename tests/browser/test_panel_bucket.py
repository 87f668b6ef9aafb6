"""The CV Ops side panel with a URI root, in JupyterLab driven through Chromium: a workspace in a bucket (the
local S3 server) is listed, opened from the URI a notebook remembers (kept as is, never made relative to the
notebook's folder), and the cells the panel inserts open that URI."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import nbformat
import pytest
from jupyter_process import JupyterProcess
from notebook_ui import SLOW_MS, open_notebook, save
from playwright.sync_api import expect

pytestmark = [pytest.mark.browser, pytest.mark.slow]

KERNELSPEC = {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}


@pytest.fixture(scope="module")
def bucket(s3_server: Any) -> Iterator[Any]:
    """A bucket for the module, with the AWS_* environment (the server inherits it) pointing at it."""
    with pytest.MonkeyPatch.context() as mp:
        for k, v in s3_server.env().items():
            mp.setenv(k, v)
        yield s3_server.new_bucket("cvops-panel")


@pytest.fixture(scope="module")
def inside(bucket: Any, lab_root: Path, shared_data: Path) -> str:
    """A workspace in the bucket: 6 real images and a snapshot."""
    from jupyter_cvops import Workspace

    images = lab_root.parent / f"{lab_root.name}-bucket-images"
    images.mkdir()
    for src in sorted((shared_data / "images" / "neu-surface-defects").iterdir())[:6]:
        shutil.copy(src, images / src.name)
    uri = bucket.uri("team/line-1")
    ws = Workspace.create(uri)
    ws.add_images(images, progress=False)
    ws.snapshot(name="first", message="first in the bucket")
    return str(uri)


@pytest.fixture(scope="module")
def lab_server_config(lab_root: Path, bucket: Any, inside: str) -> str:
    """The lab's CV Ops roots: its own folder and the bucket's ``team/`` prefix."""
    return f"c.CvopsServerConfig.roots = [{str(lab_root)!r}, {bucket.uri('team') + '/'!r}]\n"


def test_panel_opens_the_bucket_workspace_a_notebook_remembers(page: Any, lab: JupyterProcess, lab_root: Path,
                                                                 inside: str) -> None:
    (lab_root / "analysis").mkdir()
    nb_path = lab_root / "analysis" / "bucket.ipynb"  # in a subfolder: a relative path would change
    nbformat.write(nbformat.v4.new_notebook(metadata={"kernelspec": KERNELSPEC, "cvops": {"workspace": inside}},
                                            cells=[nbformat.v4.new_code_cell("1 + 1")]), nb_path)
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    open_notebook(page, lab, "analysis/bucket.ipynb", workspace="bucket")
    panel = page.locator("#cvops-panel")
    if not panel.is_visible():
        page.locator('.jp-SideBar .lm-TabBar-tab[data-id="cvops-panel"]').click()
    expect(panel).to_be_visible()
    expect(panel.locator(f'.cvops-panel-workspace option[value="{inside}"]')).to_have_count(1, timeout=SLOW_MS)
    expect(panel.locator(".cvops-panel-notebook")).to_contain_text(f"bucket.ipynb uses {inside}", timeout=SLOW_MS)
    expect(panel.locator(".cvops-panel-workspace")).to_have_value(inside)

    versions = panel.locator('[data-section="versions"] .cvops-panel-item')
    expect(versions).to_have_count(1, timeout=SLOW_MS)
    expect(versions.first).to_contain_text("first")
    expect(versions.first).to_contain_text("6 images")

    # an inserted cell opens the URI itself
    versions.first.locator(".cvops-panel-verify").click()
    expect(page.locator(".jp-NotebookPanel .jp-Cell")).to_have_count(2)
    sources = page.locator(".jp-NotebookPanel .jp-Cell .cm-content").all_inner_texts()
    assert f'ws = cv.Workspace.open("{inside}")' in sources[1], sources[1]
    save(page, "analysis/bucket.ipynb")
    assert nbformat.read(nb_path, as_version=4).metadata["cvops"]["workspace"] == inside
    assert not errors, errors
