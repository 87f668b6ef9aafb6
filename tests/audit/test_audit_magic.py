"""``%cvops audit`` in a real IPython shell: it displays the report (card, text) and keeps it as ``cvops_audit``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from IPython import get_ipython
from IPython.core.error import UsageError
from IPython.testing.globalipapp import start_ipython

from jupyter_cvops import Workspace
from jupyter_cvops.audit import AUDIT_MIME, AuditReport


@pytest.fixture(scope="module")
def ip() -> Any:
    shell = start_ipython() or get_ipython()  # None when another test module started it
    shell.run_line_magic("load_ext", "jupyter_cvops")
    return shell


def test_audit_magic_displays_the_report(ip: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import jupyter_cvops.notebook._magics as magics

    shown: list[Any] = []
    monkeypatch.setattr(magics, "display", lambda obj, raw=False: shown.append(obj))
    Workspace.create(tmp_path / "ws")
    ip.run_line_magic("cvops", f"use {tmp_path / 'ws'}")
    ip.run_line_magic("cvops", "audit --as-of 2026-11-30T12:00:00 --max-age-days 7")
    report = shown[-1]
    assert isinstance(report, AuditReport) and ip.user_ns["cvops_audit"] is report
    assert report.score == 0 and report.as_of.isoformat() == "2026-11-30T12:00:00+00:00"
    assert report.parameters["max_age_days"] == 7.0
    assert report._repr_mimebundle_()[AUDIT_MIME]["answers"][0]["answer"] == "no"
    with pytest.raises(UsageError, match="as_of must be a datetime"):
        ip.run_line_magic("cvops", "audit --as-of yesterday")
    with pytest.raises(UsageError, match="max_age_days must be a positive"):
        ip.run_line_magic("cvops", "audit --max-age-days -1")
