"""``cvops shadow NAME --candidate REF``: the candidate re-run on served images through ``ws.shadow``, recorded
as a shadow check, exit 4 when it agrees with production less than ``--min-agreement``."""

from __future__ import annotations

import polars as pl
from conftest import CliWorld, Cvops, Hook


def test_a_flipping_candidate_alerts(world: CliWorld, cvops: Cvops, hook: Hook) -> None:
    rep = cvops.json("-w", world.uri, "shadow", "clf", "--candidate", "@candidate", "--bootstrap", "200",
                     "--notify", hook.url, code=4)
    api = world.ws.shadow("clf", candidate="@candidate", bootstrap=200, record=False, progress=False)
    assert rep["alert"] and rep["exit_code"] == 4 and rep["target"] == "clf"
    assert rep["result"]["agreement"] == api.agreement and rep["result"]["n"] == api.n == 45
    assert rep["result"]["agreement_ci"] == list(api.agreement_ci) and rep["summary"] == api.summary
    assert rep["report"]["candidate_version"] == world.versions["flip"]
    assert len(rep["report"]["disagreements"]) == api.disagreements.height  # under the default 100
    stored = world.ws.checks(kind="shadow").filter(pl.col("check_id") == rep["check_id"])
    assert stored.height == 1 and stored["alert"][0]
    (body,) = hook.bodies
    assert body["command"] == "shadow" and body["check_id"] == rep["check_id"] and body["exit_code"] == 4


def test_an_equal_candidate_passes_and_windows_select(world: CliWorld, cvops: Cvops, hook: Hook) -> None:
    # line-1 before day 3: line-2 logged made-up answers, and day 3's saturated images tie between classes
    code, out, _ = cvops("-w", world.uri, "shadow", "clf", "--candidate", world.versions["same"][:10],
                         "--source", "line-1", "--until", "2026-11-04", "--bootstrap", "0", "--notify", hook.url)
    assert code == 0 and out.count("\n") == 1 and "on 100.0% of 30 images" in out and hook.bodies == []
    day = cvops.json("-w", world.uri, "shadow", "clf", "--since", "2026-11-02", "--until", "2026-11-03",
                     "--source", "line-1", "--bootstrap", "0", "--disagreements", "3", code=4)
    assert day["result"]["n"] == 15 and len(day["report"]["disagreements"]) == 3
    code, _, err = cvops("-w", world.uri, "shadow", "clf", "--candidate", "@nobody")
    assert code == 1 and len(err.strip().splitlines()) == 1 and "nobody" in err
