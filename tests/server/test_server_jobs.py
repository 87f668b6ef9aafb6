"""Recipe re-runs as background jobs (``POST recipes/retrain``, ``GET|DELETE jobs/<id>``) against a real
``jupyter server``: a real recipe exported from an executed notebook, re-run in a real kernel."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import nbformat
import polars as pl
import pytest
from browser.jupyter_process import JupyterProcess
from conftest import jupyter_server, refused, request, wait_job
from nbclient import NotebookClient

pytestmark = pytest.mark.slow

KERNELSPEC = {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}

#: A notebook that runs in a second: ``pause`` sleeps inside the run, ``fail`` fails it, a ``WORSE`` file
#: beside it lowers the metric (a check outside tolerance with the same data and parameters).
CELLS = [
    ("lr = 0.1\npause = 0.0\nfail = False", ["parameters"]),
    ("import os, time\nimport jupyter_cvops as cv\nws = cv.Workspace.open('ws')", []),
    ("with ws.run('train', params={'lr': lr}) as run:\n"
     "    run.use('baseline')\n"
     "    time.sleep(pause)\n"
     "    if fail:\n"
     "        raise ValueError('loss is nan')\n"
     "    import torch\n"
     "    torch.manual_seed(0)\n"
     "    net = torch.nn.Sequential(torch.nn.Conv2d(3, 2, 3), torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten())\n"
     "    run.log_metrics({'accuracy': 0.5 if os.path.exists('WORSE') else 0.75})\n"
     "    run.register_model('tiny', net.eval(), preprocess=cv.Preprocess(16, crop=16))\nrun", []),
]


@pytest.fixture(scope="module")
def layout(tmp_path_factory: pytest.TempPathFactory, shared_data: Path) -> dict[str, Path]:
    """``root/ws`` (a ``baseline`` version of 30 NEU images), ``root/train.ipynb`` run once and exported as
    ``root/recipes/train``; ``outside/`` beside the root, ``root/escape`` a symlink to it."""
    from jupyter_cvops import Workspace
    from jupyter_cvops.recipes import export_recipe

    base = tmp_path_factory.mktemp("jobs")
    root, outside = base / "root", base / "outside"
    root.mkdir()
    outside.mkdir()
    (root / "escape").symlink_to(outside, target_is_directory=True)
    images = base / "images"
    shutil.copytree(shared_data / "images" / "neu-surface-defects", images)
    ws = Workspace.create(root / "ws")
    ws.add_images(images, progress=False)
    ws.add_annotations(pl.DataFrame([{"image_id": i, "annotator": "ana", "kind": "image",
                                      "class_name": ("dent", "scratch")[k % 2]}
                                     for k, i in enumerate(ws.images()["image_id"].to_list())]))
    ws.snapshot(name="baseline")
    cells = []
    for source, tags in CELLS:
        cell = nbformat.v4.new_code_cell(source)
        if tags:
            cell.metadata["tags"] = tags
        cells.append(cell)
    nb_path = root / "train.ipynb"
    nb = nbformat.v4.new_notebook(metadata={"kernelspec": KERNELSPEC}, cells=cells)
    NotebookClient(nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(root)}}).execute(
        env={**os.environ, "JPY_SESSION_NAME": str(nb_path)}, stderr=subprocess.DEVNULL)
    nbformat.write(nb, nb_path)
    export_recipe(nb_path, root / "recipes" / "train", workspace=ws)
    return {"base": base, "root": root, "outside": outside, "ws": root / "ws"}


@pytest.fixture(scope="module")
def server(layout: dict[str, Path]) -> Iterator[JupyterProcess]:
    with jupyter_server(layout["root"], layout["base"] / "home") as proc:
        yield proc


def counts(ws_path: Path) -> dict[str, int]:
    from jupyter_cvops import Workspace

    ws = Workspace.open(ws_path, readonly=True)
    return {t: ws.store.count(t) for t in ("runs", "model_versions", "checks")}


def test_check_job_reports_progress_and_passes(server: JupyterProcess, layout: dict[str, Path]) -> None:
    from jupyter_cvops import Workspace

    answer = request(server, "POST", "/cvops/api/recipes/retrain", {"recipe": "recipes/train", "check": True})
    assert answer.status == 202, answer.body
    job = answer.json()
    assert job["status"] in ("queued", "running") and job["kind"] == "check"
    assert (job["recipe"], job["name"], job["workspace"]) == ("recipes/train", "train", "ws")
    seen: list[dict[str, Any]] = []
    done = wait_job(server, job["id"], lambda j: seen.append(j["progress"]) or j["status"] in
                ("succeeded", "failed", "cancelled"))
    assert done["status"] == "succeeded", (done["reason"], done["warnings"], done["result"])
    assert done["progress"] == {"done": 3, "total": 3, "cell": None, "source": ""}
    result = done["result"]
    assert result["ok"] is True and result["check"] is True
    assert [(c["metric"], c["expected"], c["got"]) for c in result["comparison"]] == [("accuracy", 0.75, 0.75)]
    assert result["executed_notebook"].startswith("recipes/train/executed/")
    assert str(layout["root"]) not in json.dumps(done)
    ws = Workspace.open(layout["ws"], readonly=True)
    check = ws.last_check("recipe", "train")
    assert check is not None and check["check_id"] == result["check_id"] and check["alert"] is False
    assert ws.get_run(result["run_id"]).status == "finished"
    assert any(p["total"] == 3 and p["done"] < 3 for p in seen if p["total"])  # progress seen mid-way
    listed = server.get("/cvops/api/jobs").json()["jobs"]
    assert done["id"] in [j["id"] for j in listed]


def test_check_outside_tolerance_fails_with_the_diff(server: JupyterProcess, layout: dict[str, Path]) -> None:
    (layout["root"] / "WORSE").write_text("")
    try:
        job = request(server, "POST", "/cvops/api/recipes/retrain",
                      {"recipe": "recipes/train/recipe.yaml", "check": True}).json()
        done = wait_job(server, job["id"])
    finally:
        (layout["root"] / "WORSE").unlink()
    assert done["status"] == "failed"
    assert "did not reproduce" in done["reason"] and "accuracy 0.75 -> 0.5" in done["reason"]
    assert done["result"]["ok"] is False
    (row,) = done["result"]["comparison"]
    assert (row["expected"], row["got"]) == (0.75, 0.5)


def test_failing_cell_gives_the_one_line_reason(server: JupyterProcess, layout: dict[str, Path]) -> None:
    before = counts(layout["ws"])
    job = request(server, "POST", "/cvops/api/recipes/retrain",
                  {"recipe": "recipes/train", "params": {"fail": True}}).json()
    assert job["kind"] == "retrain" and job["params"] == {"fail": True}
    done = wait_job(server, job["id"])
    assert done["status"] == "failed" and done["result"] is None
    assert done["reason"].startswith("cell 4 failed: ValueError: loss is nan; the executed notebook is at recipes/")
    assert "\n" not in done["reason"] and str(layout["root"]) not in done["reason"]
    after = counts(layout["ws"])
    assert after["model_versions"] == before["model_versions"] and after["checks"] == before["checks"]


def test_cancel_interrupts_the_kernel_and_registers_nothing(server: JupyterProcess, layout: dict[str, Path]) -> None:
    from jupyter_cvops import Workspace

    before = counts(layout["ws"])
    job = request(server, "POST", "/cvops/api/recipes/retrain",
                  {"recipe": "recipes/train", "params": {"pause": 120}}).json()
    wait_job(server, job["id"], lambda j: j["progress"]["cell"] == 4)  # the run cell, after the injected parameters
    deadline = time.monotonic() + 120
    while "running" not in Workspace.open(layout["ws"], readonly=True).runs()["status"].to_list():  # now sleeping
        assert time.monotonic() < deadline
        time.sleep(0.3)
    # The same recipe cannot start twice at once.
    again = refused(request(server, "POST", "/cvops/api/recipes/retrain", {"recipe": "recipes/train"}), 409,
                     "already_running")
    assert again["job"]["id"] == job["id"]
    t0 = time.monotonic()
    cancel = request(server, "DELETE", f"/cvops/api/jobs/{job['id']}")
    assert cancel.status == 200 and cancel.json()["cancel_requested"] is True
    done = wait_job(server, job["id"], timeout=30)
    assert done["status"] == "cancelled", (done["reason"], done["progress"])
    assert time.monotonic() - t0 < 15  # interrupted, not waited out
    after = counts(layout["ws"])
    assert after["model_versions"] == before["model_versions"] and after["checks"] == before["checks"]
    runs = Workspace.open(layout["ws"], readonly=True).runs()
    last = runs.sort("started_at").row(-1, named=True)
    assert last["status"] == "failed" and "KeyboardInterrupt" in (last["error"] or "")  # the run says so
    assert request(server, "DELETE", f"/cvops/api/jobs/{job['id']}").json()["status"] == "cancelled"  # idempotent


@pytest.mark.parametrize(("body", "status", "reason"), [
    ({}, 400, "missing_recipe"),
    ({"recipe": "../outside/r"}, 403, "outside_roots"),
    ({"recipe": "escape/r"}, 403, "outside_roots"),
    ({"recipe": "/etc"}, 403, "outside_roots"),
    ({"recipe": "recipes/nope"}, 404, "not_found"),
    ({"recipe": "ws"}, 409, "recipe_refused"),
    ({"recipe": "recipes/train", "check": "yes"}, 400, "bad_check"),
    ({"recipe": "recipes/train", "params": {"lrr": 1}}, 409, "recipe_refused"),
    ({"recipe": "recipes/train", "params": {"lr": [1]}}, 400, "bad_params"),
    ({"recipe": "recipes/train", "params": ["lr"]}, 400, "bad_params"),
    ({"recipe": "recipes/train", "check": True, "params": {"lr": 1}}, 400, "check_with_changes"),
    ({"recipe": "recipes/train", "verify": "none"}, 400, "bad_verify"),
    ({"recipe": "recipes/train", "workspace": "../outside"}, 403, "outside_roots"),
    ({"recipe": "recipes/train", "workspace": "recipes"}, 404, "not_a_workspace"),
])
def test_retrain_refusals(server: JupyterProcess, layout: dict[str, Path], body: dict[str, object], status: int,
                          reason: str) -> None:
    before = counts(layout["ws"])
    answer = refused(request(server, "POST", "/cvops/api/recipes/retrain", body), status, reason)
    assert str(layout["root"]) not in answer["message"]
    assert counts(layout["ws"]) == before


def test_a_recipe_whose_workspace_is_outside_the_roots_isrefused(server: JupyterProcess,
                                                                  layout: dict[str, Path]) -> None:
    from recipes.recipe_helpers import reseal

    from jupyter_cvops.recipes import Recipe

    copy = layout["root"] / "recipes" / "moved"
    shutil.copytree(layout["root"] / "recipes" / "train", copy)
    reseal(Recipe.load(copy), workspace=str(layout["outside"]))
    answer = refused(request(server, "POST", "/cvops/api/recipes/retrain", {"recipe": "recipes/moved"}), 403,
                      "workspace_outside_roots")
    assert str(layout["outside"]) not in answer["message"]
    # A recipe file that links out of the roots is refused before it is read.
    linked = layout["root"] / "recipes" / "linked"
    linked.mkdir()
    for f in (layout["root"] / "recipes" / "train").iterdir():
        if f.is_file():
            shutil.copy(f, linked / f.name)
    shutil.copy(linked / "recipe.yaml", layout["outside"] / "recipe.yaml")
    (linked / "recipe.yaml").unlink()
    (linked / "recipe.yaml").symlink_to(layout["outside"] / "recipe.yaml")
    refused(request(server, "POST", "/cvops/api/recipes/retrain", {"recipe": "recipes/linked"}), 403,
             "outside_roots")


def test_unknown_job_is_404(server: JupyterProcess) -> None:
    refused(server.get("/cvops/api/jobs/" + "0" * 32), 404, "no_job")
    refused(request(server, "DELETE", "/cvops/api/jobs/" + "0" * 32), 404, "no_job")
    assert server.get("/cvops/api/jobs/not-an-id").status == 404


@pytest.mark.parametrize(("method", "path"), [("POST", "recipes/retrain"), ("GET", "jobs"),
                                              ("GET", "jobs/" + "0" * 32), ("DELETE", "jobs/" + "0" * 32)])
def test_job_endpoints_need_the_token(server: JupyterProcess, method: str, path: str) -> None:
    answer = request(server, method, f"/cvops/api/{path}", {"recipe": "recipes/train"} if method == "POST" else None,
                     token=False)
    assert answer.status == 403
    assert answer.headers["Content-Type"].startswith("application/json")


NO_EXECUTE = """
from jupyter_server.auth.authorizer import Authorizer


class NoExecute(Authorizer):
    # May read and write everything, but execute nothing (no kernels, no re-runs).
    def is_authorized(self, handler, user, action, resource):
        return action != "execute"
"""


def test_starting_or_cancelling_a_job_needs_execute(layout: dict[str, Path]) -> None:
    helper = layout["base"] / "authz"
    helper.mkdir()
    (helper / "cvops_test_noexecute.py").write_text(NO_EXECUTE)
    with jupyter_server(layout["root"], layout["base"] / "home-noexec",
                        "--ServerApp.authorizer_class=cvops_test_noexecute.NoExecute", pythonpath=helper) as proc:
        before = counts(layout["ws"])
        answer = request(proc, "POST", "/cvops/api/recipes/retrain", {"recipe": "recipes/train", "check": True})
        assert answer.status == 403 and "not authorized to execute" in answer.json()["message"]
        assert request(proc, "DELETE", "/cvops/api/jobs/" + "0" * 32).status == 403
        assert proc.get("/cvops/api/jobs").status == 200  # reading is allowed
        assert counts(layout["ws"]) == before


def test_cancel_from_a_browser_session_needs_the_xsrf_token(server: JupyterProcess) -> None:
    """A login cookie alone cannot cancel a job: DELETE is XSRF-checked like every POST."""
    import http.cookiejar

    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    with opener.open(f"{server.url}/api/status?token={server.token}", timeout=60) as answer:
        assert answer.status == 200
    xsrf = "5f" * 16
    jar.set_cookie(http.cookiejar.Cookie(0, "_xsrf", xsrf, None, False, "127.0.0.1", False, False, "/", True,
                                         False, None, False, None, None, {}))

    def delete(headers: dict[str, str]) -> int:
        req = urllib.request.Request(f"{server.url}/cvops/api/jobs/{'0' * 32}", headers=headers, method="DELETE")
        try:
            with opener.open(req, timeout=60) as answer:
                return int(answer.status)
        except urllib.error.HTTPError as error:
            return int(error.code)

    assert delete({}) == 403
    assert delete({"X-XSRFToken": xsrf}) == 404  # past the XSRF check: no such job
