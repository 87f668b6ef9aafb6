"""A run renders as a card: text/plain, text/html and the run MIME payload, through IPython's formatter."""

from __future__ import annotations

import json

import pytest

from jupyter_cvops import Workspace
from jupyter_cvops.runs import RUN_MIME
from jupyter_cvops.runs._card import format_duration


@pytest.fixture
def finished(ws: Workspace):  # noqa: ANN201
    with ws.run("train-<clf>", params={"lr": 1e-3, "opt": "adam & co"}) as run:
        run.use("baseline")
        run.seed(7)
        run.log_metrics({"val_accuracy": 0.9412345}, step=3)
    return ws.get_run(run.id)


def test_the_card_shows_what_the_run_recorded(finished, ws: Workspace) -> None:  # noqa: ANN001
    from IPython.core.formatters import DisplayFormatter

    data, _ = DisplayFormatter().format(finished)  # what a notebook front end receives
    assert {"text/plain", "text/html", RUN_MIME} <= set(data)
    baseline = ws.version("baseline")
    text = data["text/plain"]
    head = text.splitlines()[0]
    assert head.startswith("cvops run 'train-<clf>' finished in ") and finished.id[:12] in head
    for part in (f"baseline ({baseline.id[:12]}), taxonomy v1", "lr=0.001", "opt=adam & co",
                 "val_accuracy=0.9412 (step 3)", "python=7, numpy=7, torch=7", "packages"):
        assert part in text
    html = data["text/html"]
    assert "train-&lt;clf&gt;" in html and "train-<clf>" not in html and "adam &amp; co" in html
    assert f'data-run-id="{finished.id}"' in html and 'data-status="finished"' in html
    payload = data[RUN_MIME]
    json.dumps(payload, allow_nan=False)
    assert payload["run_id"] == finished.id and payload["status"] == "finished"
    assert payload["inputs"][0]["version_id"] == baseline.id and payload["metrics"] == {"val_accuracy": 0.9412345}
    assert payload["environment"]["python"] == finished.environment["python"]
    assert "packages" not in payload["environment"]  # the card payload stays small
    assert repr(finished) == head


def test_failed_and_running_cards(ws: Workspace) -> None:
    with pytest.raises(ZeroDivisionError):
        with ws.run("fails") as run:
            1 / 0  # noqa: B018
    failed = ws.get_run(run.id)._repr_mimebundle_()
    assert "failed after" in failed["text/plain"] and "error        ZeroDivisionError: division by zero" in \
        failed["text/plain"]
    assert 'data-status="failed"' in failed["text/html"] and "ZeroDivisionError" in failed["text/html"]
    live = ws.run("still-going")
    card = live._repr_mimebundle_()
    assert "running for" in card["text/plain"] and card[RUN_MIME]["ended_at"] is None
    live.end()


def test_durations_read_naturally() -> None:
    assert [format_duration(s) for s in (0.004, 9.999, 12.34, 59.9, 60, 3599, 3600, 90061)] == [
        "0.00 s", "10.0 s", "12.3 s", "59.9 s", "1 min 00 s", "59 min 59 s", "1 h 00 min", "25 h 01 min"]
