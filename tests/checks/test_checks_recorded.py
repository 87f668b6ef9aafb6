"""ws.agreement and ws.drift record what they found in the ``checks`` table (one commit each);
a read-only workspace computes the same and records nothing."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import polars as pl
import pytest

from jupyter_cvops import Workspace, WorkspaceError
from jupyter_cvops.checks import check_row, describe_selection, drift_summary, record_check

TRAIN = pl.col("source") == "train"
LINE = pl.col("source") == "line-1"


def test_agreement_records_its_summary(small_ws: Workspace) -> None:
    before = small_ws.store.version("checks")
    rep = small_ws.agreement(bootstrap=50, every="1d")
    assert small_ws.store.version("checks") == before + 1  # one append, one commit
    row = small_ws.last_check("agreement", "annotations")
    assert row is not None and row["kind"] == "agreement"
    alpha = row["result"]["metrics"]["krippendorff_alpha"]
    assert alpha["value"] == pytest.approx(rep.metric("krippendorff_alpha"), abs=1e-4)
    assert alpha["ci_low"] is not None and alpha["ci_low"] <= alpha["value"] <= alpha["ci_high"]
    assert row["result"]["annotators"] == ["ana", "ben", "chloe"]
    assert row["alert"] == (rep.alerts.height > 0) and row["result"]["n_alerts"] == rep.alerts.height
    assert row["parameters"]["bootstrap"] == 50 and row["parameters"]["every"] == "1d"
    assert row["summary"].startswith("Krippendorff's alpha ") and row["summary"].endswith(".")
    assert row["author"] and row["created_at"].tzinfo is not None


def test_agreement_on_a_selection_names_it(small_ws: Workspace) -> None:
    ids = small_ws.images().filter(TRAIN)["image_id"].head(10).to_list()
    small_ws.agreement(images=iter(ids), bootstrap=0)  # an iterator: read once for the test, once for the name
    row = small_ws.checks(kind="agreement").row(-1, named=True)
    assert row["target"] == f"annotations of {describe_selection(ids)}"
    assert row["target"].startswith("annotations of 10 images (")
    assert json.loads(row["result"])["n_items"] == 10


def test_drift_records_windows_flags_and_novelty(small_ws: Workspace) -> None:
    before = small_ws.store.version("checks")
    d = small_ws.drift(TRAIN, LINE, by="1d", progress=False, seed=0)
    assert small_ws.store.version("checks") == before + 1
    row = small_ws.last_check("input_drift", str(TRAIN))
    assert row is not None
    res = row["result"]
    assert d.height == 4 and d["drifted"].to_list() == [False, False, True, True]  # the last two days are brighter
    assert res["n_windows"] == 4 and res["n_drifted"] == 2 and row["alert"] is True
    assert res["drifted_windows"] == [w.isoformat() for w in d.filter("drifted")["window"]]
    assert [w["drifted"] for w in res["windows"]] == d["drifted"].to_list()
    assert res["max_statistic"] == pytest.approx(d["statistic"].max(), rel=1e-4)
    assert res["max_novel_frac"] == pytest.approx(d["novel_frac"].max(), abs=1e-4)
    assert res["n_current"] == 48 and res["current"] == str(LINE)
    assert row["parameters"]["by"] == "1d" and "progress" not in row["parameters"]
    assert row["summary"].startswith(f"Input drift against {TRAIN} in 2 of 4 windows (first ")


def test_no_drift_is_recorded_without_alert(small_ws: Workspace) -> None:
    early = small_ws.images().filter(LINE).sort("captured_at")["image_id"].head(24).to_list()
    small_ws.drift(TRAIN, iter(early), by="1d", progress=False, seed=0)
    row = small_ws.checks(kind="input_drift").row(-1, named=True)
    assert row["alert"] is False and row["summary"].startswith("No input drift against")
    assert json.loads(row["parameters"])["current"] == describe_selection(early)


def test_read_only_workspace_computes_without_recording(small_ws: Workspace) -> None:
    d = small_ws.drift(TRAIN, LINE, by="1d", progress=False, seed=0)
    ro = Workspace.open(small_ws.uri, readonly=True)
    n = ro.checks().height
    version = ro.store.version("checks")
    rep = ro.agreement(bootstrap=0)
    assert rep.overall.height > 0 and rep.metric("krippendorff_alpha") > 0
    # ws.drift itself needs a writable workspace today (embeddings are written as it goes); what it
    # records goes through the same path, which skips read-only workspaces
    assert ro._record_check("input_drift", "x", {}, drift_summary(d, reference="x")) is None
    assert ro.checks().height == n and ro.store.version("checks") == version
    with pytest.raises(WorkspaceError, match="read-only"):
        record_check(ro.store, "agreement", "annotations", parameters={}, result={}, alert=False, summary="x")


def test_checks_filters_and_last_check(small_ws: Workspace) -> None:
    store = small_ws.store
    record_check(store, "skew", "clf@production", parameters={"n": 5}, result={"ok": True}, alert=False,
                 summary="no skew")
    record_check(store, "skew", "clf@production", parameters={"n": 7}, result={"ok": False}, alert=True,
                 summary="BGR  vs\nRGB")
    record_check(store, "skew", "clf@candidate", parameters={}, result={}, alert=False, summary="ok")
    skews = small_ws.checks(kind="skew")
    assert skews["target"].to_list() == ["clf@production", "clf@production", "clf@candidate"]
    assert small_ws.checks(kind="skew", target="clf@candidate").height == 1
    last = small_ws.last_check("skew", "clf@production")
    assert last is not None and last["parameters"] == {"n": 7} and last["alert"] is True
    assert last["summary"] == "BGR vs RGB"
    assert small_ws.last_check("skew") is not None and small_ws.last_check("skew")["target"] == "clf@candidate"
    assert small_ws.last_check("evaluation") is None
    future = datetime.now(timezone.utc) + timedelta(hours=1)
    assert small_ws.checks(since=future).height == 0
    assert small_ws.checks(kind="skew", since=(future - timedelta(days=1)).isoformat()).height == 3
    with pytest.raises(WorkspaceError, match="ISO"):
        small_ws.checks(since="last tuesday")


def test_check_rows_refuse_what_cannot_be_read_back() -> None:
    with pytest.raises(WorkspaceError, match="kind"):
        check_row("", "x", parameters={}, result={}, alert=False, summary="")
    with pytest.raises(WorkspaceError, match="target"):
        check_row("skew", None, parameters={}, result={}, alert=False, summary="")  # type: ignore[arg-type]
    row = check_row("skew", "m", parameters={"t": datetime(2024, 1, 1)}, result={"x": float("inf")},
                    alert=True, summary="s")
    assert json.loads(row["parameters"]) == {"t": "2024-01-01T00:00:00"} and json.loads(row["result"]) == {"x": None}
