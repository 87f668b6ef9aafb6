"""The /cvops/api server extension against a real ``jupyter server`` process."""

from __future__ import annotations

import datetime as dt
import http.cookiejar
import shutil
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import polars as pl
import pytest
import tornado.routing
import tornado.web
from browser.jupyter_process import JupyterProcess
from conftest import jupyter_server, post, refused

from jupyter_cvops import __version__
from jupyter_cvops._server.paths import (
    WorkspaceRefused,
    check_workspace_contents,
    resolve_roots,
    resolve_workspace,
)

#: Every GET route under /cvops/api, with the query each needs to answer 200 on ``workspace``.
ENDPOINTS = ["status", "workspaces", "versions?workspace=ws", "taxonomy?workspace=ws", "runs?workspace=ws",
             "models?workspace=ws", "aliases?workspace=ws", "checks?workspace=ws", "recipes?workspace=ws", "jobs",
             "audit?workspace=ws"]
#: The GET routes that open a workspace.
WORKSPACE_ENDPOINTS = ["versions", "taxonomy", "runs", "models", "aliases", "checks", "recipes", "audit"]
#: Every POST route under /cvops/api.
POST_ENDPOINTS = ["aliases/rollback", "recipes/export", "recipes/retrain"]
#: Routes with a path parameter (GET and DELETE ``jobs/<id>``: tests/server/test_server_jobs.py).
PATTERN_ROUTES = ["jobs/([0-9a-f]{32})"]


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
    with jupyter_server(layout["root"], layout["base"] / "home") as proc:
        yield proc


@pytest.fixture(scope="module")
def workspace(layout: dict[str, Path], shared_data: Path) -> Path:
    """A real workspace ``root/ws`` with images and one dataset version, a run that registered a tiny
    torch model, a second version of it, ``production`` set twice, and one stored check (an alert)."""
    import torch

    from jupyter_cvops import Preprocess, Workspace
    from jupyter_cvops.checks import record_check

    images = layout["base"] / "images"
    shutil.copytree(shared_data / "images" / "neu-surface-defects", images)
    ws = Workspace.create(layout["root"] / "ws")
    ws.add_images(images, progress=False)
    ws.add_annotations(pl.DataFrame([{"image_id": image_id, "annotator": "ana", "kind": "image",
                                      "class_name": ("dent", "scratch")[k % 2]}
                                     for k, image_id in enumerate(ws.images()["image_id"].to_list())]))
    ws.snapshot(name="first", message="first snapshot")
    pre = Preprocess(16, crop=16, mean=(0.5, 0.5, 0.5), std=(0.25, 0.25, 0.25))

    def tiny(seed: int) -> torch.nn.Module:
        torch.manual_seed(seed)
        return torch.nn.Sequential(torch.nn.Conv2d(3, 2, 3), torch.nn.AdaptiveAvgPool2d(1),
                                   torch.nn.Flatten()).eval()

    with ws.run("train-clf", params={"lr": 0.01}) as run:
        run.use("first")
        run.log_metrics({"val_accuracy": 0.75}, step=1)
        v1 = run.register_model("clf", tiny(0), preprocess=pre)
    v2 = ws.register_model("clf", tiny(1), preprocess=pre, classes=["dent", "scratch"])
    ws.set_alias("clf", "production", v1, reason="first rollout")
    ws.set_alias("clf", "production", v2, reason="better recall")
    record_check(ws.store, "input_drift", "first", parameters={"by": "1d"}, result={"n_drifted": 1},
                 alert=True, summary="mean grey level drifted on 2026-03-02")
    return layout["root"] / "ws"


# -- authentication ----------------------------------------------------------------------
@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_every_endpoint_needs_the_token(server: JupyterProcess, endpoint: str) -> None:
    answer = server.get(f"/cvops/api/{endpoint}", token=False)
    assert answer.status == 403
    assert answer.headers["Content-Type"].startswith("application/json")


@pytest.mark.parametrize("endpoint", POST_ENDPOINTS)
def test_every_post_needs_the_token(server: JupyterProcess, workspace: Path, endpoint: str) -> None:
    answer = post(server, f"/cvops/api/{endpoint}", {"workspace": "ws", "model": "clf", "alias": "production",
                                                     "reason": "x", "notebook": "nb.ipynb"}, token=False)
    assert answer.status == 403
    assert answer.headers["Content-Type"].startswith("application/json")


@pytest.mark.parametrize("endpoint", POST_ENDPOINTS)
def test_every_post_needs_the_xsrf_token(server: JupyterProcess, workspace: Path, endpoint: str) -> None:
    """A browser session (login cookie, no token header) must send the _xsrf cookie's value back."""
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    with opener.open(f"{server.url}/api/status?token={server.token}", timeout=60) as answer:
        assert answer.status == 200
    assert any(c.name.startswith("username-") for c in jar)  # logged in by cookie from now on
    xsrf = "5f" * 16  # JupyterLab sends back the _xsrf cookie's value; tornado accepts a hex token
    jar.set_cookie(http.cookiejar.Cookie(0, "_xsrf", xsrf, None, False, "127.0.0.1", False, False, "/", True,
                                         False, None, False, None, None, {}))
    body = {"workspace": "ws", "model": "nope", "alias": "production", "reason": "x", "notebook": "nope.ipynb",
            "recipe": "nope"}
    denied = post(server, f"/cvops/api/{endpoint}", body, token=False, opener=opener)
    assert denied.status == 403, denied.body
    assert "_xsrf" in denied.json()["message"]
    allowed = post(server, f"/cvops/api/{endpoint}", body, token=False, opener=opener,
                   headers={"X-XSRFToken": xsrf})
    assert allowed.status in (404, 409, 501), allowed.body  # past authentication: refused by the handler


def test_status_reports_version_and_roots(server: JupyterProcess, layout: dict[str, Path]) -> None:
    answer = server.get("/cvops/api/status")
    assert answer.status == 200
    assert answer.json() == {"version": __version__, "roots": [str(layout["root"].resolve())]}


# -- path confinement --------------------------------------------------------------------
@pytest.mark.parametrize("endpoint", WORKSPACE_ENDPOINTS)
@pytest.mark.parametrize("value", ["../outside/ws", "sub/../../outside/ws", "..", "escape/ws", "escape"])
def test_relative_escape_is_forbidden(server: JupyterProcess, endpoint: str, value: str) -> None:
    refused(server.get(f"/cvops/api/{endpoint}", {"workspace": value}), 403, "outside_roots")


@pytest.mark.parametrize("endpoint", WORKSPACE_ENDPOINTS)
def test_absolute_path_outside_is_forbidden(server: JupyterProcess, layout: dict[str, Path],
                                            endpoint: str) -> None:
    for value in ("/etc", str(layout["outside"] / "ws"), str(layout["root"] / ".." / "outside")):
        refused(server.get(f"/cvops/api/{endpoint}", {"workspace": value}), 403,
                 "absolute_outside_roots")


def test_uri_is_forbidden(server: JupyterProcess) -> None:
    refused(server.get("/cvops/api/versions", {"workspace": "s3://bucket/ws"}), 403, "not_local")


def test_missing_workspace_is_404(server: JupyterProcess) -> None:
    refused(server.get("/cvops/api/versions", {"workspace": "nope"}), 404, "not_found")
    refused(server.get("/cvops/api/taxonomy", {"workspace": "sub/nope"}), 404, "not_found")


def test_missing_parameter_is_400(server: JupyterProcess) -> None:
    refused(server.get("/cvops/api/versions"), 400, "missing_workspace")


def test_folder_without_workspace_is_404(server: JupyterProcess) -> None:
    refused(server.get("/cvops/api/versions", {"workspace": "sub/plain"}), 404, "not_a_workspace")


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


def test_workspaces_lists_the_folders_inside_the_roots(server: JupyterProcess, workspace: Path,
                                                      layout: dict[str, Path]) -> None:
    from jupyter_cvops import Workspace

    Workspace.create(layout["outside"] / "elsewhere")  # reachable only through the symlink "escape"
    answer = server.get("/cvops/api/workspaces")
    assert answer.status == 200, answer.body
    listed = answer.json()["workspaces"]
    assert {"workspace": "ws", "path": "ws"} in listed
    assert not any("elsewhere" in w["workspace"] or "escape" in w["workspace"] for w in listed)
    assert str(layout["outside"]).encode() not in answer.body


def test_runs_models_aliases_and_checks(server: JupyterProcess, workspace: Path) -> None:
    from jupyter_cvops import Workspace

    ws = Workspace.open(workspace)
    runs = server.get("/cvops/api/runs", {"workspace": "ws"}).json()
    train = next(r for r in runs["runs"] if r["name"] == "train-clf")
    assert train["status"] == "finished" and train["input_names"] == ["first"]
    assert train["params"] == {"lr": 0.01} and train["metrics"] == {"val_accuracy": 0.75}
    assert runs["total"] == ws.runs().height

    models = server.get("/cvops/api/models", {"workspace": "ws"}).json()["models"]
    assert [m["version"] for m in models] == ws.models()["version"].to_list()[::-1]  # newest first
    assert models[0]["aliases"] == ["production"] and models[1]["aliases"] == []
    assert models[1]["run_id"] == train["run_id"]

    history = server.get("/cvops/api/aliases", {"workspace": "ws", "model": "clf"}).json()["history"]
    assert [h["action"] for h in history[:2]] == ["set", "move"]
    assert [h["message"] for h in history[:2]] == ["first rollout", "better recall"]
    refused(server.get("/cvops/api/aliases", {"workspace": "ws", "model": "nope"}), 409, "refused")

    checks = server.get("/cvops/api/checks", {"workspace": "ws"}).json()
    (drift,) = [c for c in checks["checks"] if c["kind"] == "input_drift"]
    assert drift["alert"] is True and drift["target"] == "first"
    assert drift["summary"] == "mean grey level drifted on 2026-03-02"
    assert drift["result"] == {"n_drifted": 1} and drift["parameters"] == {"by": "1d"}
    assert checks["retrain_due_available"] == hasattr(ws, "retrain_due")
    if not hasattr(ws, "retrain_due"):
        assert checks["retrain_due"] == []

    recipes = server.get("/cvops/api/recipes", {"workspace": "ws"}).json()
    assert recipes["available"] == (hasattr(ws, "recipes") or ws.store.has_table("recipes"))


def test_reads_never_write(server: JupyterProcess, workspace: Path) -> None:
    from jupyter_cvops import Workspace

    before = {t: Workspace.open(workspace, readonly=True).store.version(t) for t in ("aliases", "checks", "runs")}
    for endpoint in WORKSPACE_ENDPOINTS:
        assert server.get(f"/cvops/api/{endpoint}", {"workspace": "ws"}).status == 200
    ws = Workspace.open(workspace, readonly=True)
    assert {t: ws.store.version(t) for t in before} == before


def test_recipes_lists_the_recipes_table(server: JupyterProcess, layout: dict[str, Path], workspace: Path) -> None:
    table = pytest.importorskip("jupyter_cvops.recipes._table")
    from jupyter_cvops import Workspace

    work = layout["root"] / "recipes-ws"
    shutil.copytree(workspace, work, symlinks=True)
    table.upsert_recipe(Workspace.open(work).store, {"recipe_id": "ab12", "name": "train",
                                                     "notebook": {"hash": "h"}}, str(layout["root"] / "r" / "train"))
    body = server.get("/cvops/api/recipes", {"workspace": "recipes-ws"}).json()
    assert body["available"] is True
    (recipe,) = body["recipes"]
    assert (recipe["name"], recipe["recipe_id"], recipe["location"]) == ("train", "ab12", "r/train")


# -- rollback -------------------------------------------------------------------------------
def test_rollback_is_recorded_in_the_alias_history(server: JupyterProcess, layout: dict[str, Path],
                                                   workspace: Path) -> None:
    from jupyter_cvops import Workspace

    work = layout["root"] / "rollback-ws"
    shutil.copytree(workspace, work, symlinks=True)
    ws = Workspace.open(work)
    v_before = ws.model("clf@production").version
    body = {"workspace": "rollback-ws", "model": "clf", "alias": "production", "reason": "recall dropped"}
    answer = post(server, "/cvops/api/aliases/rollback", body)
    assert answer.status == 200, answer.body
    out = answer.json()
    assert out["previous_version"] == v_before
    assert out["version"] == ws.model("clf@production").version != v_before
    last = ws.alias_history("clf", alias="production").to_dicts()[-1]
    assert last["message"] == "recall dropped" and last["version"] == out["version"]
    assert out["history"]["action"] == last["action"]
    # Nothing further back: a one-line reason, nothing written.
    n = ws.alias_history().height
    again = post(server, "/cvops/api/aliases/rollback", body)
    refused(again, 409, "rollback_refused")
    assert "\n" not in again.json()["message"] and str(layout["root"]) not in again.json()["message"]
    assert Workspace.open(work).alias_history().height == n


@pytest.mark.parametrize(("body", "status", "reason"), [
    ({"model": "clf", "alias": "production", "reason": "r"}, 400, "missing_workspace"),
    ({"workspace": "ws", "alias": "production", "reason": "r"}, 400, "missing_model"),
    ({"workspace": "ws", "model": "clf", "alias": "production"}, 400, "missing_reason"),
    ({"workspace": "ws", "model": "clf", "alias": "production", "reason": "  "}, 400, "missing_reason"),
    ({"workspace": "ws", "model": 3, "alias": "production", "reason": "r"}, 400, "bad_model"),
    ({"workspace": "../outside/ws", "model": "clf", "alias": "production", "reason": "r"}, 403, "outside_roots"),
    ({"workspace": "escape/ws", "model": "clf", "alias": "production", "reason": "r"}, 403, "outside_roots"),
    ({"workspace": "/etc", "model": "clf", "alias": "production", "reason": "r"}, 403, "absolute_outside_roots"),
    ({"workspace": "sub/plain", "model": "clf", "alias": "production", "reason": "r"}, 404, "not_a_workspace"),
    ({"workspace": "ws", "model": "clf", "alias": "staging", "reason": "r"}, 409, "rollback_refused"),
    ({"workspace": "ws", "model": "nope", "alias": "production", "reason": "r"}, 409, "rollback_refused"),
])
def test_rollback_refusals(server: JupyterProcess, workspace: Path, body: dict[str, object], status: int,
                           reason: str) -> None:
    from jupyter_cvops import Workspace

    n = Workspace.open(workspace).alias_history().height
    refused(post(server, "/cvops/api/aliases/rollback", body), status, reason)
    assert Workspace.open(workspace).alias_history().height == n


def test_rollback_refuses_a_body_that_is_not_an_object(server: JupyterProcess) -> None:
    refused(post(server, "/cvops/api/aliases/rollback", b"not json"), 400, "bad_json")
    refused(post(server, "/cvops/api/aliases/rollback", ["ws"]), 400, "bad_json")


# -- recipe export ---------------------------------------------------------------------------
@pytest.mark.parametrize(("body", "status", "reason"), [
    ({}, 400, "missing_notebook"),
    ({"notebook": "../outside/nb.ipynb"}, 403, "outside_roots"),
    ({"notebook": "escape/nb.ipynb"}, 403, "outside_roots"),
    ({"notebook": "/etc/passwd"}, 403, "outside_roots"),
    ({"notebook": "missing.ipynb"}, 404, "not_found"),
    ({"notebook": "sub"}, 400, "not_a_notebook"),
    ({"notebook": "nb.ipynb", "out": "../outside/recipe"}, 403, "outside_roots"),
    ({"notebook": "nb.ipynb", "out": "escape/recipe"}, 403, "outside_roots"),
    ({"notebook": "nb.ipynb", "name": "../x"}, 400, "bad_name"),
    ({"notebook": "nb.ipynb", "out": "nb.ipynb"}, 409, "out_is_a_file"),
])
def test_export_refusals(server: JupyterProcess, layout: dict[str, Path], body: dict[str, object], status: int,
                         reason: str) -> None:
    (layout["root"] / "nb.ipynb").write_text('{"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}')
    (layout["outside"] / "nb.ipynb").write_text("{}")
    refused(post(server, "/cvops/api/recipes/export", body), status, reason)
    assert not (layout["outside"] / "recipe").exists()


def test_export_without_the_recipe_api_says_so(server: JupyterProcess, layout: dict[str, Path]) -> None:
    try:
        import jupyter_cvops.recipes  # noqa: F401
    except ImportError:
        (layout["root"] / "nb.ipynb").write_text('{"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}')
        refused(post(server, "/cvops/api/recipes/export", {"notebook": "nb.ipynb"}), 501, "recipes_unavailable")
    else:
        pytest.skip("the recipe API exists (the export is tested in tests/browser/test_cvops_panel.py)")


# -- configured roots ------------------------------------------------------------------------
def test_configured_roots_replace_root_dir(layout: dict[str, Path], workspace: Path) -> None:
    with jupyter_server(layout["root"], layout["base"] / "home-roots", "--CvopsServerConfig.roots=sub") as proc:
        status = proc.get("/cvops/api/status").json()
        assert status["roots"] == [str((layout["root"] / "sub").resolve())]
        # root/ws exists but is outside the only configured root now.
        refused(proc.get("/cvops/api/versions", {"workspace": "../ws"}), 403, "outside_roots")
        refused(proc.get("/cvops/api/versions", {"workspace": str(workspace)}), 403,
                 "absolute_outside_roots")
        refused(proc.get("/cvops/api/versions", {"workspace": "plain"}), 404, "not_a_workspace")


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
    assert paths == {"/cvops/api/" + e.split("?")[0] for e in [*ENDPOINTS, *POST_ENDPOINTS, *PATTERN_ROUTES]}


@pytest.fixture(scope="module")
def deny_server(layout: dict[str, Path], workspace: Path) -> Iterator[JupyterProcess]:
    """A server over the same root whose ``Authorizer`` refuses everything."""
    helper = layout["base"] / "authz"
    helper.mkdir()
    (helper / "cvops_test_denyall.py").write_text(DENY_ALL)
    with jupyter_server(layout["root"], layout["base"] / "home-deny",
                        "--ServerApp.authorizer_class=cvops_test_denyall.DenyAll", pythonpath=helper) as proc:
        yield proc


def test_deny_all_authorizer_refuses_contents(deny_server: JupyterProcess) -> None:
    assert deny_server.get("/api/contents").status == 403  # jupyter_server's own handler


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_deny_all_authorizer_refuses_every_endpoint(deny_server: JupyterProcess, endpoint: str) -> None:
    answer = deny_server.get(f"/cvops/api/{endpoint}")
    assert answer.status == 403, answer.body
    assert answer.headers["Content-Type"].startswith("application/json")
    assert "not authorized" in answer.json()["message"]


@pytest.mark.parametrize("endpoint", POST_ENDPOINTS)
def test_deny_all_authorizer_refuses_every_post(deny_server: JupyterProcess, workspace: Path,
                                                endpoint: str) -> None:
    from jupyter_cvops import Workspace

    before = Workspace.open(workspace).alias_history().height
    answer = post(deny_server, f"/cvops/api/{endpoint}",
                  {"workspace": "ws", "model": "clf", "alias": "production", "reason": "denied",
                   "notebook": "nb.ipynb", "recipe": "recipes/train"})
    assert answer.status == 403, answer.body
    assert "not authorized" in answer.json()["message"]
    assert Workspace.open(workspace).alias_history().height == before


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
    refused(answer, 403, "table_outside_roots")
    assert "dataset_versions" in answer.json()["message"]
    assert str(linked_workspace["outside"]).encode() not in answer.body
    refused(server.get("/cvops/api/taxonomy", {"workspace": "linked"}), 403, "table_outside_roots")


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
