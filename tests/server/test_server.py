"""The /cvops/api server extension against a real ``jupyter server`` process."""

from __future__ import annotations

import datetime as dt
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
import tornado.routing
import tornado.web
from browser.jupyter_process import JupyterProcess, Response

from jupyter_cvops import __version__
from jupyter_cvops._server.paths import (
    WorkspaceRefused,
    check_workspace_contents,
    resolve_roots,
    resolve_workspace,
)

ENABLE = '--ServerApp.jpserver_extensions={"jupyter_cvops": True}'


@pytest.fixture(scope="module")
def layout(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """``base/root`` served, ``base/outside`` beside it, a symlink from one to the other."""
    base = tmp_path_factory.mktemp("server")
    root, outside = base / "root", base / "outside"
    (root / "sub" / "plain").mkdir(parents=True)
    (outside / "ws").mkdir(parents=True)
    (root / "escape").symlink_to(outside, target_is_directory=True)
    (root / "inner-link").symlink_to(root / "sub", target_is_directory=True)
    return {"base": base, "root": root, "outside": outside}


@pytest.fixture(scope="module")
def server(layout: dict[str, Path]) -> Iterator[JupyterProcess]:
    proc = JupyterProcess("server", layout["root"], layout["base"] / "home", [ENABLE])
    proc.start()
    try:
        yield proc
    finally:
        proc.stop()


@pytest.fixture(scope="module")
def workspace(layout: dict[str, Path], shared_data: Path) -> Path:
    """A real workspace ``root/ws`` with images and one dataset version."""
    from jupyter_cvops import Workspace

    images = layout["base"] / "images"
    shutil.copytree(shared_data / "images" / "neu-surface-defects", images)
    ws = Workspace.create(layout["root"] / "ws")
    ws.add_images(images, progress=False)
    ws.snapshot(name="first", message="first snapshot")
    return layout["root"] / "ws"


def _refused(answer: Response, status: int, reason: str) -> None:
    assert answer.status == status, answer.body
    body = answer.json()
    assert body["reason"] == reason
    assert isinstance(body["message"], str) and body["message"]


# -- authentication ----------------------------------------------------------------------
@pytest.mark.parametrize("endpoint", ["status", "versions?workspace=ws", "taxonomy?workspace=ws"])
def test_every_endpoint_needs_the_token(server: JupyterProcess, endpoint: str) -> None:
    answer = server.get(f"/cvops/api/{endpoint}", token=False)
    assert answer.status == 403
    assert answer.headers["Content-Type"].startswith("application/json")


def test_status_reports_version_and_roots(server: JupyterProcess, layout: dict[str, Path]) -> None:
    answer = server.get("/cvops/api/status")
    assert answer.status == 200
    assert answer.json() == {"version": __version__, "roots": [str(layout["root"].resolve())]}


# -- path confinement --------------------------------------------------------------------
@pytest.mark.parametrize("endpoint", ["versions", "taxonomy"])
@pytest.mark.parametrize("value", ["../outside/ws", "sub/../../outside/ws", "..", "escape/ws", "escape"])
def test_relative_escape_is_forbidden(server: JupyterProcess, endpoint: str, value: str) -> None:
    _refused(server.get(f"/cvops/api/{endpoint}", {"workspace": value}), 403, "outside_roots")


@pytest.mark.parametrize("endpoint", ["versions", "taxonomy"])
def test_absolute_path_outside_is_forbidden(server: JupyterProcess, layout: dict[str, Path],
                                            endpoint: str) -> None:
    for value in ("/etc", str(layout["outside"] / "ws"), str(layout["root"] / ".." / "outside")):
        _refused(server.get(f"/cvops/api/{endpoint}", {"workspace": value}), 403,
                 "absolute_outside_roots")


def test_uri_is_forbidden(server: JupyterProcess) -> None:
    _refused(server.get("/cvops/api/versions", {"workspace": "s3://bucket/ws"}), 403, "not_local")


def test_missing_workspace_is_404(server: JupyterProcess) -> None:
    _refused(server.get("/cvops/api/versions", {"workspace": "nope"}), 404, "not_found")
    _refused(server.get("/cvops/api/taxonomy", {"workspace": "sub/nope"}), 404, "not_found")


def test_missing_parameter_is_400(server: JupyterProcess) -> None:
    _refused(server.get("/cvops/api/versions"), 400, "missing_workspace")


def test_folder_without_workspace_is_404(server: JupyterProcess) -> None:
    _refused(server.get("/cvops/api/versions", {"workspace": "sub/plain"}), 404, "not_a_workspace")


# -- data ----------------------------------------------------------------------------------
def test_versions_lists_the_workspace_versions(server: JupyterProcess, workspace: Path) -> None:
    from jupyter_cvops import Workspace

    expected = Workspace.open(workspace).versions()
    for value in ("ws", str(workspace), "sub/../ws"):
        answer = server.get("/cvops/api/versions", {"workspace": value})
        assert answer.status == 200, answer.body
        body = answer.json()
        assert body["workspace"] == value
        versions = body["versions"]
        assert [v["id"] for v in versions] == expected["id"].to_list()
        assert versions[0]["name"] == "first"
        assert versions[0]["n_images"] == 30
        dt.datetime.fromisoformat(versions[0]["created_at"])


def test_taxonomy_history(server: JupyterProcess, workspace: Path) -> None:
    from jupyter_cvops import Workspace

    ws = Workspace.open(workspace)
    answer = server.get("/cvops/api/taxonomy", {"workspace": "ws"})
    assert answer.status == 200, answer.body
    body = answer.json()
    assert body["version"] == ws.taxonomy.version
    assert len(body["history"]) == ws.taxonomy.history().height


# -- configured roots ------------------------------------------------------------------------
def test_configured_roots_replace_root_dir(layout: dict[str, Path], workspace: Path) -> None:
    roots_arg = "--CvopsServerConfig.roots=sub"
    proc = JupyterProcess("server", layout["root"], layout["base"] / "home-roots", [ENABLE, roots_arg])
    proc.start()
    try:
        status = proc.get("/cvops/api/status").json()
        assert status["roots"] == [str((layout["root"] / "sub").resolve())]
        # root/ws exists but is outside the only configured root now.
        _refused(proc.get("/cvops/api/versions", {"workspace": "../ws"}), 403, "outside_roots")
        _refused(proc.get("/cvops/api/versions", {"workspace": str(workspace)}), 403,
                 "absolute_outside_roots")
        _refused(proc.get("/cvops/api/versions", {"workspace": "plain"}), 404, "not_a_workspace")
    finally:
        proc.stop()


# -- pure path logic ---------------------------------------------------------------------------
def test_resolve_workspace_tries_roots_in_order(tmp_path: Path) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    (a / "x").mkdir(parents=True)
    (b / "y").mkdir(parents=True)
    roots = resolve_roots([a, "b"], tmp_path)
    assert resolve_workspace("x", roots) == (a / "x").resolve()
    assert resolve_workspace("y", roots) == (b / "y").resolve()
    assert resolve_workspace("../b/y", roots) == (b / "y").resolve()  # inside another root
    with pytest.raises(WorkspaceRefused) as info:
        resolve_workspace("../../etc", roots)
    assert info.value.status == 403
    with pytest.raises(WorkspaceRefused) as info:
        resolve_workspace("z", roots)
    assert info.value.status == 404
    with pytest.raises(WorkspaceRefused) as info:
        resolve_workspace("x\x00", roots)
    assert info.value.status == 400


# -- authorization (a deny-all Authorizer) -------------------------------------------------------
#: Every route under /cvops/api, with the query each needs to answer 200 on ``workspace``.
ENDPOINTS = ["status", "versions?workspace=ws", "taxonomy?workspace=ws"]

DENY_ALL = """
from jupyter_server.auth.authorizer import Authorizer


class DenyAll(Authorizer):
    # Refuses everything but resource "api" (GET /api/status: the readiness probe
    # JupyterProcess.start waits on).
    def is_authorized(self, handler, user, action, resource):
        return resource == "api"
"""


def test_endpoints_lists_every_route(tmp_path: Path) -> None:
    """ENDPOINTS must name every registered route, so the authorization tests cover all."""
    from jupyter_cvops._server.handlers import setup_handlers

    app = tornado.web.Application(base_url="/")
    setup_handlers(app, [tmp_path])
    paths = {
        rule.matcher.regex.pattern.rstrip("$")
        for host in app.default_router.rules
        for rule in getattr(host.target, "rules", [])
        if isinstance(rule.matcher, tornado.routing.PathMatches)
    }
    assert paths == {"/cvops/api/" + e.split("?")[0] for e in ENDPOINTS}


@pytest.fixture(scope="module")
def deny_server(layout: dict[str, Path], workspace: Path) -> Iterator[JupyterProcess]:
    """A server over the same root whose ``Authorizer`` refuses everything."""
    helper = layout["base"] / "authz"
    helper.mkdir()
    (helper / "cvops_test_denyall.py").write_text(DENY_ALL)
    proc = JupyterProcess("server", layout["root"], layout["base"] / "home-deny",
                          [ENABLE, "--ServerApp.authorizer_class=cvops_test_denyall.DenyAll"])
    with pytest.MonkeyPatch.context() as mp:  # Popen copies the environment at start
        path = os.environ.get("PYTHONPATH")
        mp.setenv("PYTHONPATH", os.pathsep.join([str(helper), *([path] if path else [])]))
        proc.start()
    try:
        yield proc
    finally:
        proc.stop()


def test_deny_all_authorizer_refuses_contents(deny_server: JupyterProcess) -> None:
    assert deny_server.get("/api/contents").status == 403  # jupyter_server's own handler


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_deny_all_authorizer_refuses_every_endpoint(deny_server: JupyterProcess, endpoint: str) -> None:
    answer = deny_server.get(f"/cvops/api/{endpoint}")
    assert answer.status == 403, answer.body
    assert answer.headers["Content-Type"].startswith("application/json")
    assert "not authorized" in answer.json()["message"]


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_default_authorizer_allows_every_endpoint(server: JupyterProcess, workspace: Path,
                                                   endpoint: str) -> None:
    assert server.get("/api/contents").status == 200
    answer = server.get(f"/cvops/api/{endpoint}")
    assert answer.status == 200, answer.body


# -- symlinked tables -------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def linked_workspace(layout: dict[str, Path], workspace: Path) -> dict[str, Path]:
    """``root/linked``: a fresh workspace whose version tables are symlinks to the tables of
    ``outside/copy`` (a copy of ``root/ws``, holding one version) outside the root."""
    from jupyter_cvops import Workspace

    outside = layout["outside"] / "copy"
    shutil.copytree(workspace, outside, symlinks=True)
    linked = layout["root"] / "linked"
    Workspace.create(linked)
    for table in ("dataset_versions.lance", "taxonomy_versions.lance"):
        shutil.rmtree(linked / table)
        (linked / table).symlink_to(outside / table, target_is_directory=True)
    return {"linked": linked, "outside": outside}


def test_symlinked_table_outside_the_root_is_not_served(server: JupyterProcess,
                                                        linked_workspace: dict[str, Path]) -> None:
    from jupyter_cvops import Workspace

    outside_ids = Workspace.open(linked_workspace["outside"]).versions()["id"].to_list()
    assert outside_ids  # the outside table has a row the answer must not show
    answer = server.get("/cvops/api/versions", {"workspace": "linked"})
    assert not any(i.encode() in answer.body for i in outside_ids), answer.body
    _refused(answer, 403, "table_outside_roots")
    assert "dataset_versions" in answer.json()["message"]
    assert str(linked_workspace["outside"]).encode() not in answer.body
    _refused(server.get("/cvops/api/taxonomy", {"workspace": "linked"}), 403, "table_outside_roots")


def test_check_workspace_contents(tmp_path: Path) -> None:
    root, out = tmp_path / "root", tmp_path / "out"
    ws = root / "ws"
    (ws / "images.lance" / "data").mkdir(parents=True)
    (root / "other.lance").mkdir()
    (out / "t.lance" / "data").mkdir(parents=True)
    (out / "f.lance").write_bytes(b"x")
    (out / "meta").mkdir()
    roots = [root.resolve()]
    real = ws.resolve()

    def refused(reason: str) -> None:
        with pytest.raises(WorkspaceRefused) as info:
            check_workspace_contents(real, "ws", roots)
        assert (info.value.status, info.value.reason) == (403, reason)
        assert str(tmp_path) not in info.value.message

    check_workspace_contents(real, "ws", roots)
    (ws / "inside.lance").symlink_to(root / "other.lance")  # a link that stays inside is fine
    (ws / "notes").symlink_to(out)  # not a table: never opened
    check_workspace_contents(real, "ws", roots)
    deep = ws / "images.lance" / "data" / "0.lance"  # a data file deep in a table
    deep.symlink_to(out / "f.lance")
    refused("table_outside_roots")
    deep.unlink()
    loop = ws / "images.lance" / "loop"
    loop.symlink_to(loop)
    refused("table_outside_roots")
    loop.unlink()
    (root / "other.lance" / "up").symlink_to(out)  # inside link -> folder whose link leaves
    refused("table_outside_roots")
    (root / "other.lance" / "up").unlink()
    (ws / ".cvops").symlink_to(out / "meta")
    refused("metadata_outside_roots")
