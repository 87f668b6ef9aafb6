"""``GET /cvops/api/audit`` (the panel's Audit section) against a real ``jupyter server`` process.

The route is also in tests/server/test_server.py's lists, so the deny-all authorizer, the default
authorizer, every path-escape case and "reads never write" cover it there; here: the answer itself
(equal to ``ws.audit(...).to_dict()`` computed in this process), its parameters and their refusals."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from browser.jupyter_process import JupyterProcess, Response
from conftest import jupyter_server, refused

pytestmark = pytest.mark.slow

AS_OF = "2030-01-01T00:00:00+00:00"  # after everything the fixtures record: the answers are fixed


@pytest.fixture(scope="module")
def layout(tmp_path_factory: pytest.TempPathFactory, shared_data: Path) -> dict[str, Path]:
    """``base/root`` served: ``fresh`` (30 real images, nothing else) and ``served`` (labels, a snapshot,
    a tiny model trained on it in a run and aliased ``production``); ``base/outside/ws`` a real workspace
    outside the root, reachable through the symlink ``root/escape``."""
    import torch

    from jupyter_cvops import Preprocess, Workspace

    base = tmp_path_factory.mktemp("audit-server")
    root, outside = base / "root", base / "outside"
    root.mkdir()
    outside.mkdir()
    images = base / "images"
    shutil.copytree(shared_data / "images" / "neu-surface-defects", images)
    Workspace.create(root / "fresh").add_images(images, progress=False)
    Workspace.create(outside / "ws").add_images(images, progress=False)
    (root / "escape").symlink_to(outside, target_is_directory=True)

    ws = Workspace.create(root / "served")
    ws.add_images(images, progress=False)
    ids = ws.images()["image_id"].to_list()
    ws.add_annotations(pl.DataFrame([{"image_id": i, "annotator": "ana", "kind": "image",
                                      "class_name": ("dent", "scratch")[k % 2]} for k, i in enumerate(ids)]))
    ws.snapshot(name="first", message="first labelled set")
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Conv2d(3, 2, 3), torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten()).eval()
    with ws.run("train-clf", params={"lr": 0.01}) as run:
        run.use("first")
        run.log_metrics({"val_accuracy": 0.75}, step=1)
        version = run.register_model("clf", net, preprocess=Preprocess(16, crop=16), classes=["dent", "scratch"])
    ws.set_alias("clf", "production", version, reason="first rollout")
    return {"base": base, "root": root, "outside": outside}


@pytest.fixture(scope="module")
def server(layout: dict[str, Path]) -> Iterator[JupyterProcess]:
    with jupyter_server(layout["root"], layout["base"] / "home") as proc:
        yield proc


def _audit(server: JupyterProcess, query: dict[str, str], *, token: bool = True) -> Response:
    return server.get("/cvops/api/audit", query, token=token)


def _expected(layout: dict[str, Path], name: str, **kwargs: Any) -> dict[str, Any]:
    from jupyter_cvops import Workspace

    out: dict[str, Any] = Workspace.open(layout["root"] / name, readonly=True).audit(**kwargs).to_dict()
    return out


def _refused(answer: Response, status: int, reason: str, layout: dict[str, Path]) -> str:
    body = refused(answer, status, reason)
    assert "answers" not in body
    message = str(body["message"])
    assert str(layout["base"]) not in message
    return message


def test_audit_needs_the_token(server: JupyterProcess, layout: dict[str, Path]) -> None:
    answer = _audit(server, {"workspace": "fresh"}, token=False)
    assert answer.status == 403
    assert answer.headers["Content-Type"].startswith("application/json")
    assert b"answers" not in answer.body


@pytest.mark.parametrize(("value", "reason"), [("../outside/ws", "outside_roots"), ("escape/ws", "outside_roots"),
                                               ("OUTSIDE", "absolute_outside_roots")])
def test_a_workspace_outside_the_roots_is_refused(server: JupyterProcess, layout: dict[str, Path], value: str,
                                                  reason: str) -> None:
    """``outside/ws`` is a real workspace: reached by a relative escape, a symlink or its absolute path."""
    value = str(layout["outside"] / "ws") if value == "OUTSIDE" else value
    _refused(_audit(server, {"workspace": value}), 403, reason, layout)


def test_a_fresh_workspace_answers_0_of_10_with_ten_next_steps(server: JupyterProcess,
                                                               layout: dict[str, Path]) -> None:
    answer = _audit(server, {"workspace": "fresh", "as_of": AS_OF})
    assert answer.status == 200, answer.body
    body = answer.json()
    assert body.pop("workspace") == "fresh"
    assert body == _expected(layout, "fresh", as_of=AS_OF)
    assert (body["score"], body["of"], body["partial"]) == (0, 10, 0)
    assert [a["number"] for a in body["answers"]] == list(range(1, 11))
    assert all(a["answer"] == "no" for a in body["answers"])
    steps = [a["next_step"] for a in body["answers"]]
    assert all(isinstance(s, str) and s for s in steps) and len(set(steps)) == 10
    assert sum(x["of"] for x in body["areas"]) == 10


def test_the_default_is_now_and_production(server: JupyterProcess, layout: dict[str, Path]) -> None:
    body = _audit(server, {"workspace": "served"}).json()
    assert body["alias"] == "production" and body["parameters"]["max_age_days"] == 30.0
    expected = _expected(layout, "served", as_of=body["as_of"])
    assert {a["number"]: a["answer"] for a in body["answers"]} == \
        {a["number"]: a["answer"] for a in expected["answers"]}
    assert body["answers"][0]["answer"] == "yes"  # the production model's dataset version is on record


def test_parameters_reach_ws_audit(server: JupyterProcess, layout: dict[str, Path]) -> None:
    query = {"workspace": "served", "as_of": "2030-01-01", "alias": "production", "model": "clf",
             "max_age_days": "7"}
    body = _audit(server, query).json()
    body.pop("workspace")
    assert body == _expected(layout, "served", as_of="2030-01-01", alias="production", model="clf",
                             max_age_days=7)
    assert body["as_of"] == "2030-01-01T00:00:00+00:00" and body["parameters"]["max_age_days"] == 7.0
    before = _audit(server, {"workspace": "served", "as_of": "2000-01-01"}).json()  # before anything existed
    assert before["score"] == 0 and before["answers"][0]["answer"] == "no"


@pytest.mark.parametrize(("param", "value", "reason"), [
    ("as_of", "yesterday", "bad_as_of"),
    ("as_of", "2026-13-45", "bad_as_of"),
    ("alias", "staging", "unknown_alias"),
    ("alias", "clf@production", "bad_alias"),
    ("model", "nope", "unknown_model"),
    ("max_age_days", "-1", "bad_max_age_days"),
    ("max_age_days", "soon", "bad_max_age_days"),
    ("max_age_days", "inf", "bad_max_age_days"),
])
def test_a_bad_parameter_is_400_with_one_line(server: JupyterProcess, layout: dict[str, Path], param: str,
                                              value: str, reason: str) -> None:
    message = _refused(_audit(server, {"workspace": "served", param: value}), 400, reason, layout)
    assert repr(value) in message
