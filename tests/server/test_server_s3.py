"""The /cvops/api endpoints with a URI root: workspaces in a bucket (real S3 API), a real ``jupyter server``."""

from __future__ import annotations

import shutil
from pathlib import Path

from conftest import jupyter_server, refused

from jupyter_cvops import Workspace


def test_panel_lists_and_reads_workspaces_under_a_uri_root(s3_bucket, tmp_path: Path, shared_data: Path) -> None:
    images = tmp_path / "images"
    images.mkdir()
    for src in sorted((shared_data / "images" / "neu-surface-defects").iterdir())[:6]:
        shutil.copy(src, images / src.name)
    inside = s3_bucket.uri("team/line-1")
    ws = Workspace.create(inside)  # credentials and endpoint from the environment, as the server has them
    ws.add_images(images, progress=False)
    ws.snapshot(name="first", message="first")
    root = tmp_path / "root"
    (root / "local").mkdir(parents=True)
    Workspace.create(root / "local")
    home = tmp_path / "home"
    (home / "config").mkdir(parents=True)
    (home / "config" / "jupyter_server_config.py").write_text(
        f"c.CvopsServerConfig.roots = [{str(root)!r}, {s3_bucket.uri('team') + '/'!r}]\n")
    with jupyter_server(root, home) as server:
        status = server.get("/cvops/api/status").json()
        assert status["roots"] == [str(root.resolve()), s3_bucket.uri("team")]
        listed = server.get("/cvops/api/workspaces").json()["workspaces"]
        assert {w["workspace"] for w in listed} == {"local", inside}
        answer = server.get("/cvops/api/versions", {"workspace": inside})
        assert answer.status == 200, answer.body
        versions = answer.json()["versions"]
        assert [v["name"] for v in versions] == ["first"] and versions[0]["n_images"] == 6
        assert server.get("/cvops/api/taxonomy", {"workspace": inside + "/"}).status == 200
        for value, status_code, reason in [
            (s3_bucket.uri("other/ws"), 403, "outside_roots"),
            (s3_bucket.uri("team/../other/ws"), 400, "bad_workspace"),
            ("s3://another-bucket/team/line-1", 403, "outside_roots"),
            (s3_bucket.uri("team/empty"), 404, "not_a_workspace"),
        ]:
            refused(server.get("/cvops/api/versions", {"workspace": value}), status_code, reason)
        # reads never write: no lease object, nothing new in the bucket
        assert not [k for k in s3_bucket.keys() if ".cvops/" in k]
