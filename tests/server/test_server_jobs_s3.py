"""Recipe re-runs as background jobs on a workspace in a bucket (a URI root), against a real ``jupyter server``
and the S3 test server: the server knows the bucket only through ``CvopsServerConfig.storage_options``
(no AWS_* variables in its environment), so the runner and its kernel reach it through those options."""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import nbformat
import pytest
from browser.jupyter_process import JupyterProcess
from conftest import ENABLE, post, refused, wait_job

pytestmark = pytest.mark.slow

KERNELSPEC = {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}
#: A run that uses the pinned version and logs a constant metric (no training); the fixture records the
#: same run in-process as the notebook's (no kernel), the job re-runs it in a kernel.
CELLS = [
    ("lr = 0.1", ["parameters"]),
    ("import os\nimport jupyter_cvops as cv\nws = cv.Workspace.open(os.environ['CVOPS_WORKSPACE'])", []),
    ("with ws.run('train', params={'lr': lr}) as run:\n"
     "    run.use('first')\n"
     "    run.log_metrics({'accuracy': 0.75})\nrun", []),
]


@pytest.fixture(scope="module")
def bucket_layout(s3_server: Any, tmp_path_factory: pytest.TempPathFactory, shared_data: Path
                  ) -> Iterator[dict[str, Any]]:
    """A workspace ``s3://<bucket>/team/line-1`` (6 images, version ``first``), ``root/train.ipynb`` run once on
    it and exported as ``root/recipes/train``, and a server whose URI root is ``s3://<bucket>/team``."""
    from jupyter_cvops import Workspace
    from jupyter_cvops.recipes import export_recipe

    base = tmp_path_factory.mktemp("jobs-s3")
    root, images = base / "root", base / "images"
    root.mkdir()
    images.mkdir()
    for src in sorted((shared_data / "images" / "neu-surface-defects").iterdir())[:6]:
        shutil.copy(src, images / src.name)
    bucket = s3_server.new_bucket()
    uri = bucket.uri("team/line-1")
    with pytest.MonkeyPatch.context() as mp:  # the environment only while the notebook first runs
        for key, value in s3_server.env().items():
            mp.setenv(key, value)
        ws = Workspace.create(uri)
        ws.add_images(images, progress=False)
        ws.snapshot(name="first", message="first")
        cells = []
        for source, tags in CELLS:
            cell = nbformat.v4.new_code_cell(source)
            cell.metadata["tags"] = tags
            cells.append(cell)
        nb_path = root / "train.ipynb"
        nbformat.write(nbformat.v4.new_notebook(metadata={"kernelspec": KERNELSPEC}, cells=cells), nb_path)
        mp.setenv("JPY_SESSION_NAME", str(nb_path))  # the notebook's run, recorded here (as its kernel would)
        ipython = sys.modules.get("IPython")  # an IPython shell left by an earlier test would name its notebook
        shell = ipython.get_ipython() if ipython is not None else None
        for key in ("__session__", "__vsc_ipynb_file__"):
            if shell is not None and key in shell.user_ns:
                mp.delitem(shell.user_ns, key)
        with ws.run("train", params={"lr": 0.1}) as run:
            run.use("first")
            run.log_metrics({"accuracy": 0.75})
        export_recipe(nb_path, root / "recipes" / "train", workspace=ws)
    home = base / "home"
    (home / "config").mkdir(parents=True)
    (home / "config" / "jupyter_server_config.py").write_text(
        f"c.CvopsServerConfig.roots = [{str(root)!r}, {bucket.uri('team')!r}]\n"
        f"c.CvopsServerConfig.storage_options = {bucket.storage_options!r}\n")
    with pytest.MonkeyPatch.context() as mp:  # the server starts without any AWS_* variable
        for key in [k for k in os.environ if k.startswith("AWS_")]:
            mp.delenv(key)
        server = JupyterProcess("server", root, home, [ENABLE]).start()
    try:
        yield {"server": server, "bucket": bucket, "uri": uri, "root": root}
    finally:
        server.stop()


def _counts(layout: dict[str, Any]) -> dict[str, int]:
    from jupyter_cvops import Workspace

    ws = Workspace.open(layout["uri"], readonly=True, storage_options=layout["bucket"].storage_options)
    return {t: ws.store.count(t) for t in ("runs", "checks")}


def test_check_of_a_recipe_on_a_bucket_workspace_runs_as_a_job(bucket_layout: dict[str, Any]) -> None:
    server: JupyterProcess = bucket_layout["server"]
    before = _counts(bucket_layout)
    answer = post(server, "/cvops/api/recipes/retrain", {"recipe": "recipes/train", "check": True})
    assert answer.status == 202, answer.body
    started = answer.json()
    assert (started["kind"], started["workspace"]) == ("check", bucket_layout["uri"])
    job = wait_job(server, started["id"], timeout=120)
    assert job["status"] == "succeeded", (job, server.log()[-3000:])
    result = job["result"]
    assert result["ok"] is True and result["check"] is True
    assert [(c["metric"], c["expected"], c["got"]) for c in result["comparison"]] == [("accuracy", 0.75, 0.75)]
    # the kernel recorded its run (and the re-run its check) in the bucket's workspace
    assert _counts(bucket_layout) == {"runs": before["runs"] + 1, "checks": before["checks"] + 1}


def test_a_workspace_uri_outside_the_uri_roots_is_refused(bucket_layout: dict[str, Any]) -> None:
    server: JupyterProcess = bucket_layout["server"]
    bucket = bucket_layout["bucket"]
    for value, status, reason in [(bucket.uri("other/line-1"), 403, "outside_roots"),
                                  ("s3://another-bucket/team/line-1", 403, "outside_roots"),
                                  (bucket.uri("team/../other"), 400, "bad_workspace"),
                                  (bucket.uri("team/empty"), 404, "not_a_workspace")]:
        body = refused(post(server, "/cvops/api/recipes/retrain", {"recipe": "recipes/train", "check": True,
                                                                    "workspace": value}), status, reason)
        assert str(bucket_layout["root"]) not in body["message"]
    assert all(j["workspace"] == bucket_layout["uri"] for j in server.get("/cvops/api/jobs").json()["jobs"])
