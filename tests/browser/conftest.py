"""Fixtures for browser tests: a real JupyterLab server and Debian's Chromium via Playwright."""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from jupyter_process import JupyterProcess
from notebook_ui import ARTIFACTS

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]


@pytest.fixture(scope="module")
def lab_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The folder JupyterLab serves (``ServerApp.root_dir``)."""
    return tmp_path_factory.mktemp("lab-root")


@pytest.fixture(scope="module")
def lab_server_config() -> str:
    """Lines of the lab's ``jupyter_server_config.py`` (none); a test module overrides this fixture to add some."""
    return ""


@pytest.fixture(scope="module")
def lab(lab_root: Path, lab_server_config: str) -> Iterator[JupyterProcess]:
    """A ``jupyter lab`` from the test venv, with the installed extensions; stopped at teardown."""
    home = lab_root.parent / f"{lab_root.name}-home"
    if lab_server_config:
        (home / "config").mkdir(parents=True, exist_ok=True)
        (home / "config" / "jupyter_server_config.py").write_text(lab_server_config)
    proc = JupyterProcess("lab", lab_root, home)
    proc.start()
    try:
        yield proc
    finally:
        proc.stop()
        ARTIFACTS.mkdir(exist_ok=True)
        (ARTIFACTS / "jupyter-lab.log").write_text(proc.log())


def launch_chromium(playwright: Any, extra_args: Sequence[str] = ()) -> Any:
    """Launch headless Debian Chromium (never a downloaded browser) with ``CHROMIUM_ARGS + extra_args``."""
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} missing: apt-get install -y chromium chromium-driver (make browser-deps)")
    return playwright.chromium.launch(executable_path=str(CHROMIUM), args=[*CHROMIUM_ARGS, *extra_args],
                                      headless=True)


@pytest.fixture(scope="module")
def chromium_extra_args() -> Sequence[str]:
    """Extra Chromium arguments for ``browser``; a test module overrides this fixture to add some."""
    return ()


@pytest.fixture(scope="module")
def browser(chromium_extra_args: Sequence[str]) -> Iterator[Any]:
    """Headless Debian Chromium driven by Playwright, one per test module."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = launch_chromium(p, chromium_extra_args)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def page(browser: Any, request: pytest.FixtureRequest) -> Iterator[Any]:
    """A fresh browser context and page; a screenshot lands in test-artifacts/ on failure."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    pg = context.new_page()
    pg.set_default_timeout(60_000)
    try:
        yield pg
    finally:
        report = getattr(request.node, "rep_call", None)
        if report is not None and report.failed:
            ARTIFACTS.mkdir(exist_ok=True)
            name = re.sub(r"[^\w.-]+", "_", request.node.name)
            pg.screenshot(path=str(ARTIFACTS / f"FAILED-{name}.png"), full_page=True)
        context.close()


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    """Keep the call-phase report on the item so ``page`` can screenshot failures."""
    report = yield
    if report.when == "call":
        item.rep_call = report  # type: ignore[attr-defined]
    return report
