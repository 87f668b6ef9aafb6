"""``--notify URL``: the alert POSTed as JSON to a real webhook (``http.server`` on 127.0.0.1 in a thread),
only on an alert unless ``--notify-always``; a webhook that fails is one warning line, never another exit code."""

from __future__ import annotations

import socket

from conftest import CliWorld, Cvops, Hook

DRIFT = ("drift", "train", "--predictions", "clf@production")


def test_an_alert_is_posted(world: CliWorld, cvops: Cvops, hook: Hook) -> None:
    code, out, err = cvops("-w", world.uri, *DRIFT, "--notify", hook.url)
    assert code == 4 and err.count("warning") == 0
    (body,) = hook.bodies
    assert {"command", "target", "summary", "result", "check_id", "exit_code", "workspace", "alert"} <= set(body)
    assert (body["command"], body["target"], body["exit_code"], body["alert"]) == ("drift", "train", 4, True)
    assert body["workspace"] == world.uri and body["summary"] == out.splitlines()[0]
    assert body["check_id"] == world.ws.checks(kind="input_drift")["check_id"][-1]
    assert body["result"]["drifted_windows"] == ["2026-11-04T00:00:00+00:00"]
    assert hook.headers[0]["Content-Type"] == "application/json"
    assert hook.headers[0]["User-Agent"].startswith("cvops/")


def test_no_alert_posts_nothing_unless_always(world: CliWorld, cvops: Cvops, hook: Hook) -> None:
    code, _, _ = cvops("-w", world.uri, "agreement", "--bootstrap", "0", "--notify", hook.url)
    assert code == 0 and hook.bodies == []
    code, _, _ = cvops("-w", world.uri, "agreement", "--bootstrap", "0", "--notify", hook.url, "--notify-always")
    assert code == 0 and [b["command"] for b in hook.bodies] == ["agreement"]
    assert hook.bodies[0]["alert"] is False and hook.bodies[0]["exit_code"] == 0


def test_audit_and_skew_post_their_alerts(world: CliWorld, cvops: Cvops, hook: Hook) -> None:
    assert cvops("-w", world.uri, "skew", "clf@production", "--sample", "6", "--notify", hook.url)[0] == 4
    code, _, _ = cvops("-w", world.uri, "audit", "--as-of", "2030-01-01", "--fail-under", "10",
                       "--notify", hook.url)
    assert code == 4
    assert [(b["command"], b["exit_code"]) for b in hook.bodies] == [("skew", 4), ("audit", 4)]
    assert hook.bodies[1]["result"]["fail_under"] == 10 and hook.bodies[1]["target"] == "@production"


def test_a_failing_webhook_is_a_warning(world: CliWorld, cvops: Cvops) -> None:
    broken = Hook(status=500)
    try:
        code, out, err = cvops("-w", world.uri, *DRIFT, "--notify", broken.url)
    finally:
        broken.close()
    assert code == 4 and len(broken.bodies) == 1 and out.startswith("Input drift against train")
    assert err.strip().splitlines()[-1] == (f"cvops drift: warning: could not notify {broken.url}: "
                                            "HTTP 500 Internal Server Error")
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"http://127.0.0.1:{port}/hook"
    code, _, err = cvops("-w", world.uri, *DRIFT, "--notify", url, "--notify-timeout", "2")
    assert code == 4 and err.strip().splitlines()[-1].startswith(f"cvops drift: warning: could not notify {url}: ")


def test_a_bad_url_is_a_usage_mistake(world: CliWorld, cvops: Cvops) -> None:
    code, out, err = cvops("-w", world.uri, *DRIFT, "--notify", "hooks.example.com/x")
    assert code == 2 and out == "" and err.count("\n") == 1
    assert err.startswith("cvops drift: error: argument --notify: --notify needs an http:// or https:// URL")
