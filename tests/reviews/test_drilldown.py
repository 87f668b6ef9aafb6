"""Drill-down of agreement cells: hand-computed cases, and equality with the agreement report's counts."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import numpy as np
import polars as pl
import pytest

from jupyter_cvops.reviews._drilldown import (
    DRILL_SCHEMA, alert_cell, consensus_cell, drill_down, pair_cell, pooled_cell, rating_table, window_cell,
)
from jupyter_cvops.agreement.metrics import agreement_report

UTC = timezone.utc
MON = datetime(2026, 1, 5, tzinfo=UTC)  # a Monday: weekly windows start here


def labels(rows: list[tuple]) -> pl.DataFrame:
    """(image_id, annotator, class_name[, created_at]) rows as a labels frame."""
    cols = ["image_id", "annotator", "class_name", "created_at"][: len(rows[0])]
    schema = {c: pl.String for c in cols[:3]} | ({"created_at": pl.Datetime("us", "UTC")} if len(cols) == 4 else {})
    return pl.DataFrame(rows, schema=schema, orient="row")


#: Five images, three annotators (hand-checked expectations below).
#:   i1: a=x b=y c=y    i2: a=x b=x        i3: a=y c=x    i4: a=x b=x c=x    i5: b=z (alone)
HAND = labels([
    ("i1", "a", "x", MON), ("i1", "b", "y", MON + timedelta(days=1)), ("i1", "c", "y", MON + timedelta(days=8)),
    ("i2", "a", "x", MON + timedelta(days=7)), ("i2", "b", "x", MON + timedelta(days=7)),
    ("i3", "a", "y", MON + timedelta(days=8)), ("i3", "c", "x", MON + timedelta(days=9)),
    ("i4", "a", "x", MON + timedelta(days=14)), ("i4", "b", "x", MON + timedelta(days=14)),
    ("i4", "c", "x", MON + timedelta(days=15)),
    ("i5", "b", "z", MON + timedelta(days=2)),
])


def ids(frame: pl.DataFrame) -> list[str]:
    return frame["image_id"].to_list()


def test_rating_table_keeps_the_latest_label_and_drops_classless_rows() -> None:
    df = labels([
        ("i1", "a", "x", MON + timedelta(days=2)), ("i1", "a", "y", MON),  # later row is older: x wins
        ("i1", "b", None, MON), ("i2", "a", "x", MON), ("i2", "a", "z", MON + timedelta(days=1)),
    ])
    t = rating_table(df)
    assert t.select("image_id", "annotator", "class_name").rows() == [("i1", "a", "x"), ("i2", "a", "z")]
    assert t.schema["created_at"] == pl.Datetime("us", "UTC")
    # no time: the last row wins and times are null
    t2 = rating_table(df.drop("created_at"))
    assert t2.select("image_id", "class_name").rows() == [("i1", "y"), ("i2", "z")]
    assert t2["created_at"].null_count() == 2
    # only image-level labels count
    with_kind = df.with_columns(pl.Series("kind", ["image", "box", "image", "image", "box"]))
    assert rating_table(with_kind).select("image_id", "class_name").rows() == [("i1", "x"), ("i2", "x")]


def test_rating_table_rejects_bad_frames() -> None:
    with pytest.raises(ValueError, match="lacks"):
        rating_table(pl.DataFrame({"image_id": ["1"], "annotator": ["a"]}))
    with pytest.raises(TypeError):
        rating_table({"image_id": ["1"]})  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="Datetime or Date"):
        rating_table(pl.DataFrame({"image_id": ["1"], "annotator": ["a"], "class_name": ["x"], "time": [3]}))


def test_pair_cells_by_hand() -> None:
    t = rating_table(HAND)
    assert ids(pair_cell(t, "a", "b")) == ["i1"]                  # i2, i4 agree; i3, i5 not both
    assert ids(pair_cell(t, "a", "c")) == ["i1", "i3"]
    assert ids(pair_cell(t, "b", "c")) == []                      # i1: y/y, i4: x/x
    assert ids(pair_cell(t, "a", "b", "x", "y")) == ["i1"]
    assert ids(pair_cell(t, "a", "b", "x", "x")) == ["i2", "i4"]
    assert ids(pair_cell(t, "b", "a", "x", "y")) == []            # rows are the first annotator's
    assert ids(pair_cell(t, "c", "a", "x", "y")) == ["i3"]
    assert pair_cell(t, "a", "c")["n_pairs"].to_list() == [1, 1]
    with pytest.raises(ValueError, match="two different"):
        pair_cell(t, "a", "a")
    with pytest.raises(ValueError, match="both classes"):
        pair_cell(t, "a", "b", "x")
    with pytest.raises(ValueError, match="no labels by"):
        pair_cell(t, "a", "zed")


def test_pooled_cells_by_hand() -> None:
    t = rating_table(HAND)
    xy = pooled_cell(t, "x", "y")
    assert xy.select("image_id", "n_pairs").rows() == [("i1", 2), ("i3", 1)]  # i1: x with two y's
    assert pooled_cell(t, "y", "x").select("image_id", "n_pairs").rows() == xy.select("image_id", "n_pairs").rows()
    assert pooled_cell(t, "x", "x").select("image_id", "n_pairs").rows() == [("i2", 1), ("i4", 3)]
    assert pooled_cell(t, "y", "y").select("image_id", "n_pairs").rows() == [("i1", 1)]
    assert pooled_cell(t, "z", "z").height == 0                   # one rating: no pair
    assert pooled_cell(t, "x", "nope").height == 0


def test_consensus_cell_by_hand() -> None:
    t = rating_table(HAND)
    cons = pl.DataFrame({"item": ["i1", "i2", "i3", "i4", "i5"], "class_name": ["y", "x", "x", "x", "z"]})
    assert ids(consensus_cell(t, "a", cons)) == ["i1", "i3"]
    assert ids(consensus_cell(t, "b", cons)) == []                # i5 is rated once: not compared
    assert ids(consensus_cell(t, "c", cons.rename({"item": "image_id"}))) == []
    with pytest.raises(ValueError, match="consensus needs"):
        consensus_cell(t, "a", pl.DataFrame({"x": [1]}))


def test_window_and_alert_cells_by_hand() -> None:
    t = rating_table(HAND)
    # first labels: i1 week 1, i5 week 1, i2 week 2, i3 week 2, i4 week 3
    w1 = window_cell(t, MON)
    assert w1.select("image_id", "n_pairs").rows() == [("i1", 2)]          # a/b and a/c disagree
    assert ids(window_cell(t, MON + timedelta(days=7))) == ["i3"]         # i2 agrees
    assert ids(window_cell(t, MON + timedelta(days=14))) == []
    assert ids(window_cell(t, datetime(2026, 1, 5))) == ["i1"]           # naive: read in the labels' zone
    assert ids(window_cell(t, MON, every="2w")) == ["i1", "i3"]
    # c's labels from week 2 on (i1: y, i3: x, i4: x): others said x and c did not -> i1 (a said x);
    # others said y and c did not -> i3 (a said y)
    assert alert_cell(t, "c", "x", MON + timedelta(days=7)).select("image_id", "n_pairs").rows() == [("i1", 1)]
    assert ids(alert_cell(t, "c", "x", MON + timedelta(days=14))) == []   # only i4 left: c said x
    assert alert_cell(t, "c", "y", MON + timedelta(days=7)).select("image_id", "n_pairs").rows() == [("i3", 1)]
    assert ids(alert_cell(t, "a", "y", MON)) == ["i1"]
    assert alert_cell(t, "a", "y", MON).select("n_pairs").item() == 2
    assert alert_cell(t, "a", "y", MON, compared_with=["b"]).select("n_pairs").item() == 1
    assert ids(alert_cell(t, "a", "y", MON + timedelta(days=7))) == []   # a's i1 label is in week 1
    with pytest.raises(ValueError, match="no time"):
        window_cell(rating_table(HAND.drop("created_at")), MON)
    with pytest.raises(ValueError, match="valid polars duration"):
        window_cell(t, MON, every="fortnight")


def test_frames_have_the_fixed_schema_and_full_labels() -> None:
    t = rating_table(HAND)
    out = pair_cell(t, "a", "c")
    assert out.schema == pl.Schema(DRILL_SCHEMA)
    assert out["labels"][0].to_list() == [{"annotator": "a", "class_name": "x"}, {"annotator": "b", "class_name": "y"},
                                          {"annotator": "c", "class_name": "y"}]
    assert out["first_label_at"].to_list() == [MON, MON + timedelta(days=8)]
    assert pair_cell(t, "b", "c").schema == pl.Schema(DRILL_SCHEMA)     # empty, same columns


def test_drill_down_dispatches() -> None:
    t = rating_table(HAND)
    cons = pl.DataFrame({"item": ["i1", "i3"], "class_name": ["y", "x"]})
    assert ids(drill_down(t, {"kind": "pair", "annotator_a": "a", "annotator_b": "c"})) == ["i1", "i3"]
    assert ids(drill_down(t, {"kind": "pooled", "class_a": "x", "class_b": "y"})) == ["i1", "i3"]
    assert ids(drill_down(t, {"kind": "consensus", "annotator": "a"}, consensus=cons)) == ["i1", "i3"]
    assert ids(drill_down(t, {"kind": "window", "window_start": MON})) == ["i1"]
    assert ids(drill_down(t, {"kind": "alert", "annotator": "a", "class_name": "y", "window_start": MON,
                              "compared_with": ["c"]})) == ["i1"]
    with pytest.raises(ValueError, match="needs consensus"):
        drill_down(t, {"kind": "consensus", "annotator": "a"})
    with pytest.raises(ValueError, match="unknown drill-down kind"):
        drill_down(t, {"kind": "cell"})


def random_labels(seed: int, tz: str | None) -> pl.DataFrame:
    """300 images, 4 annotators (2-4 per image), 4 classes, times over 6 weeks, some relabelled."""
    rng = np.random.default_rng(seed)
    start = datetime(2026, 3, 2, 22, 30)  # near midnight: the time zone decides the day
    rows = []
    for i in range(300):
        truth = rng.integers(4)
        t0 = start + timedelta(hours=float(rng.uniform(0, 42 * 24)))
        for a in rng.choice(4, size=rng.integers(2, 5), replace=False):
            c = truth if rng.random() < 0.7 else rng.integers(4)
            t = t0 + timedelta(hours=float(rng.uniform(0, 200)))
            rows.append((f"img{i:03d}", f"ann{a}", f"c{c}", t))
            if rng.random() < 0.05:  # relabelled later: the later label counts
                rows.append((f"img{i:03d}", f"ann{a}", f"c{rng.integers(4)}", t + timedelta(hours=1)))
    df = pl.DataFrame(rows, schema=["image_id", "annotator", "class_name", "created_at"], orient="row")
    if tz is not None:
        df = df.with_columns(pl.col("created_at").dt.replace_time_zone("UTC").dt.convert_time_zone(tz))
    return df.sample(fraction=1.0, shuffle=True, seed=seed)


@pytest.mark.parametrize("tz", ["UTC", "America/New_York", None])
def test_cells_hold_exactly_what_the_report_counted(tz: str | None) -> None:
    df = random_labels(7, tz)
    rep = agreement_report(df, bootstrap=0, consensus="majority")
    t = rating_table(df)
    assert t.height == rep.meta["n_labels"]
    for r in rep.pairwise.iter_rows(named=True):
        got = pair_cell(t, r["annotator_a"], r["annotator_b"]).height
        assert got == round(r["n_shared"] * (1 - r["observed_agreement"]))
    for r in rep.confusion_pairs.iter_rows(named=True):
        assert pair_cell(t, r["annotator_a"], r["annotator_b"], r["class_a"], r["class_b"]).height == r["n"]
    for r in rep.confusion_pooled.iter_rows(named=True):
        assert pooled_cell(t, r["class_a"], r["class_b"])["n_pairs"].sum() == r["n"]
    for r in rep.annotators.iter_rows(named=True):
        got = consensus_cell(t, r["annotator"], rep.consensus).height
        assert got == round(r["n_compared"] * (1 - r["agreement_with_consensus"]))
    # windows: every disputed image lies in exactly one window, the one of its first label
    disputed = set(t.group_by("image_id").agg(pl.col("class_name").n_unique().alias("k"))
                   .filter(pl.col("k") > 1)["image_id"].to_list())
    seen: list[str] = []
    for r in rep.windows.iter_rows(named=True):
        cell = window_cell(t, r["window_start"])
        seen += ids(cell)
        first = cell["first_label_at"]
        assert ((first >= r["window_start"]) & (first < r["window_end"])).all()
    assert sorted(seen) == sorted(disputed)


def test_alert_cell_holds_the_detectors_failed_units() -> None:
    """The weighted count of alert images equals the report's n_after * (1 - agreement_after)."""
    rng = np.random.default_rng(3)
    rows = []
    for i in range(240):
        t = datetime(2026, 1, 5, tzinfo=UTC) + timedelta(hours=i * 14)
        truth = ("ok", "dent", "scratch")[i % 3]
        for a in ("ana", "ben", "chloe"):
            c = truth if rng.random() < 0.9 else ("ok", "dent", "scratch")[rng.integers(3)]
            if a == "chloe" and truth == "dent" and i >= 120 and rng.random() < 0.6:
                c = "scratch"
            rows.append((f"i{i}", a, c, t))
    df = pl.DataFrame(rows, schema=["image_id", "annotator", "class_name", "created_at"], orient="row")
    rep = agreement_report(df, bootstrap=0)
    assert rep.alerts.height >= 1
    t = rating_table(df)
    for r in rep.alerts.iter_rows(named=True):
        cell = alert_cell(t, r["annotator"], r["class_name"], r["window_start"], compared_with=r["compared_with"])
        others = (t.filter(pl.col("annotator").is_in(r["compared_with"])).group_by("image_id").len("m"))
        weighted = cell.join(others, on="image_id").select((pl.col("n_pairs") / pl.col("m")).sum()).item()
        assert weighted == pytest.approx(r["n_after"] * (1 - r["agreement_after"]), abs=1e-9)
        labels_of = {(x["annotator"]) for row in cell["labels"].to_list() for x in row}
        assert r["annotator"] in labels_of


def test_time_zone_of_the_labels_decides_the_window() -> None:
    berlin = ZoneInfo("Europe/Berlin")
    # 23:30 on Sunday in UTC is 00:30 on Monday in Berlin: a different week
    df = labels([("i1", "a", "x", datetime(2026, 1, 11, 23, 30, tzinfo=UTC)),
                 ("i1", "b", "y", datetime(2026, 1, 11, 23, 30, tzinfo=UTC))])
    t_utc = rating_table(df)
    t_ber = rating_table(df.with_columns(pl.col("created_at").dt.convert_time_zone("Europe/Berlin")))
    assert ids(window_cell(t_utc, datetime(2026, 1, 5, tzinfo=UTC))) == ["i1"]
    assert ids(window_cell(t_ber, datetime(2026, 1, 12, tzinfo=berlin))) == ["i1"]
    assert ids(window_cell(t_ber, datetime(2026, 1, 12))) == ["i1"]
    assert ids(window_cell(t_ber, datetime(2026, 1, 5, tzinfo=berlin))) == []
    rep = agreement_report(t_ber, bootstrap=0)
    assert rep.windows["window_start"].to_list() == [datetime(2026, 1, 12, tzinfo=berlin)]
