"""Agreement per window, class frequencies, and the label-drift detector (incl. the demo's planted drift)."""

from __future__ import annotations

import math
from datetime import datetime, timedelta, timezone

import numpy as np
import polars as pl
import pytest

from jupyter_cvops.agreement.metrics import agreement_over_time, agreement_report, detect_label_drift, ratings_from_labels
from jupyter_cvops.demo.build import generate_scenario

UTC = timezone.utc
START = datetime(2026, 1, 5, tzinfo=UTC)          # a Monday


@pytest.fixture(scope="module")
def drifted(tmp_path_factory: pytest.TempPathFactory):  # noqa: ANN201
    # n_train=1200 over 8 weeks: enough labels that the planted change is found reliably
    # (about 19 seeds in 20; at the default 600 images only about 7 in 20 clear the threshold)
    return generate_scenario(tmp_path_factory.mktemp("drift"), seed=0, n_train=1200, n_production=0,
                             image_size=32, workers=1)


@pytest.fixture(scope="module")
def stationary(tmp_path_factory: pytest.TempPathFactory):  # noqa: ANN201
    return generate_scenario(tmp_path_factory.mktemp("null"), seed=0, n_train=1200, n_production=0,
                             image_size=32, workers=1, drift_rate=0.0)


def _taxonomy(sc) -> pl.DataFrame:  # noqa: ANN001
    tc = sc.ground_truth["taxonomy_change"]
    return pl.DataFrame({"version": [tc["version_before"], tc["version_after"]],
                         "created_at": [sc.ground_truth["training_period"]["start"], tc["at"]]})


def test_demo_planted_drift_is_found_and_nothing_else(drifted) -> None:  # noqa: ANN001
    gt = drifted.ground_truth["label_drift"]
    image_labels = drifted.labels.filter(pl.col("kind") == "image")
    alerts = detect_label_drift(image_labels, taxonomy=_taxonomy(drifted))
    assert alerts.height == 1, alerts
    a = alerts.row(0, named=True)
    assert (a["annotator"], a["class_name"], a["confused_with"]) == (gt["annotator"], gt["class"],
                                                                     gt["confused_with"])
    assert a["window_start"] == gt["week_start_at"]
    assert a["taxonomy_version"] == 2 and a["taxonomy_changed_at"] == drifted.ground_truth["taxonomy_change"]["at"]
    assert a["taxonomy_gap_days"] == 0.0
    assert a["agreement_before"] - a["agreement_after"] >= 0.15 and a["p_value"] < a["threshold"]
    assert sorted(a["compared_with"]) == ["ana", "ben"] and a["note"] == ""


def test_demo_without_drift_gives_no_alert(stationary) -> None:  # noqa: ANN001
    assert detect_label_drift(stationary.labels.filter(pl.col("kind") == "image")).height == 0


def test_report_on_demo_labels(drifted) -> None:  # noqa: ANN001
    rep = agreement_report(drifted.labels, taxonomy=_taxonomy(drifted), bootstrap=200)
    assert rep.alerts.height == 1 and rep.alerts["annotator"][0] == "chloe"
    assert rep.windows.height == 8 and rep.windows["n_items"].sum() == 1200
    assert rep.boxes is not None and rep.boxes.pairs.height == 3
    assert rep.meta["columns"]["item"] == "name" and rep.meta["columns"]["time"] == "created_at"
    # chloe agrees less with the others after the change than before
    w = rep.windows.with_columns(after=pl.col("window_start") >= drifted.ground_truth["label_drift"]["at"])
    freq = rep.class_frequency.filter((pl.col("annotator") == "chloe") & (pl.col("class_name") == "scratch"))
    freq = freq.with_columns(after=pl.col("window_start") >= drifted.ground_truth["label_drift"]["at"])
    share = freq.group_by("after").agg(pl.col("share").mean()).sort("after")["share"].to_list()
    assert share[1] > share[0] + 0.05
    assert w.height == 8


def _synthetic(change_at: int | None = 70, n: int = 120, annotators: tuple[str, ...] = ("ana", "ben", "chloe"),
               tz: str | None = "UTC") -> pl.DataFrame:
    rows = []
    for i in range(n):
        t = START + timedelta(days=i // 10, hours=3)
        truth = "dent" if i % 2 else "ok"
        for a in annotators:
            lab = "scratch" if (a == annotators[-1] and change_at is not None and i >= change_at
                                and truth == "dent") else truth
            rows.append((i, a, lab, t))
    df = pl.DataFrame(rows, schema=["item", "annotator", "class_name", "created_at"], orient="row")
    return df.with_columns(pl.col("created_at").dt.convert_time_zone(tz) if tz else
                           pl.col("created_at").dt.replace_time_zone(None))


def test_windows_and_class_frequency() -> None:
    df = _synthetic()
    windows, freq = agreement_over_time(df, every="1w")
    assert windows["window_start"].dt.weekday().to_list() == [1] * windows.height      # Mondays
    assert windows["n_items"].sum() == 120 and windows["n_labels"].sum() == 360
    assert (windows["window_end"] - windows["window_start"]).dt.total_days().to_list() == [7] * windows.height
    first = windows.row(0, named=True)
    assert first["krippendorff_alpha"] == 1.0 and first["observed_agreement"] == 1.0
    assert windows["krippendorff_alpha"][-1] < 1.0
    sums = freq.group_by("window_start", "annotator").agg(pl.col("share").sum())["share"]
    assert np.allclose(sums.to_numpy(), 1.0)
    assert freq.filter((pl.col("annotator") == "chloe") & (pl.col("class_name") == "scratch"))["n"].sum() == 25
    daily, _ = agreement_over_time(df, every="1d")
    assert daily.height == 12


def test_time_zones_and_naive_times() -> None:
    tokyo = detect_label_drift(_synthetic(tz="Asia/Tokyo"))
    naive = detect_label_drift(_synthetic(tz=None))
    assert tokyo.schema["window_start"] == pl.Datetime("us", "Asia/Tokyo")
    assert naive.schema["window_start"] == pl.Datetime("us", None)
    assert tokyo.height == naive.height == 1


def test_two_annotators() -> None:
    # ben's agreement on "scratch" cannot drop (he never sees chloe say scratch before), chloe's on dent does
    alerts = detect_label_drift(_synthetic(annotators=("ben", "chloe")))
    assert alerts.select("annotator", "class_name", "confused_with").rows() == [("chloe", "dent", "scratch")]
    assert alerts["compared_with"][0].to_list() == ["ben"]


def test_explaining_away_prefers_the_common_annotator_and_names_close_alternatives() -> None:
    from jupyter_cvops.agreement._over_time import _explain

    def sig_factory(culprits: set[int], p: dict[int, float]):  # noqa: ANN202
        def significant(a: int, excluded: frozenset[int]) -> list[tuple[int, int, float]]:
            # a compares with everyone not excluded; a drop shows when a culprit is in that comparison
            partners = set(range(len(p))) - excluded - {a}
            return [(0, 3, p[a])] if partners and (a in culprits or culprits & partners) else []
        return significant

    # three annotators, annotator 2 changed: everyone's drop vanishes once 2 is left out
    chosen, alt, note = _explain(3, [0, 1, 2], sig_factory({2}, {0: 1e-4, 1: 1e-4, 2: 1e-9}))
    assert chosen == frozenset({2}) and alt == [] and note == ""
    # two annotators, equally strong evidence: either could have changed
    chosen, alt, _ = _explain(2, [0, 1], sig_factory({1}, {0: 1e-6, 1: 2e-6}))
    assert chosen == frozenset({0}) and alt == [1]


def test_no_change_no_alert_and_small_data() -> None:
    assert detect_label_drift(_synthetic(change_at=None)).height == 0
    one_window = _synthetic(n=9)
    assert detect_label_drift(one_window).height == 0
    assert detect_label_drift(_synthetic().filter(pl.col("annotator") == "ana")).height == 0


def test_alerts_schema_is_fixed() -> None:
    empty = detect_label_drift(_synthetic(change_at=None))
    full = detect_label_drift(_synthetic())
    assert empty.schema == full.schema
    assert full["taxonomy_version"].is_null().all()


def test_bad_time_input() -> None:
    df = _synthetic()
    with pytest.raises(ValueError, match="valid polars duration"):
        agreement_over_time(df, every="fortnight")
    with pytest.raises(ValueError, match="no time"):
        detect_label_drift(df.drop("created_at"))
    with pytest.raises(ValueError, match="significance"):
        detect_label_drift(df, significance=2.0)
    with pytest.raises(ValueError, match="taxonomy needs"):
        detect_label_drift(df, taxonomy=pl.DataFrame({"v": [1]}))
    with pytest.raises(ValueError, match="Datetime or Date"):
        ratings_from_labels(df.with_columns(pl.col("created_at").cast(pl.String)))
    with_null = df.with_columns(pl.when(pl.col("item") == 0).then(None).otherwise(pl.col("created_at"))
                                .alias("created_at"))
    r = ratings_from_labels(with_null)
    assert r.times is None and any("no time analysis" in n for n in r.notes)
    with pytest.raises(ValueError, match="have no"):
        ratings_from_labels(with_null, time="created_at")
    rep = agreement_report(with_null, bootstrap=0)
    assert rep.windows.height == 0 and math.isnan(rep.pairwise["ci_low"][0])
