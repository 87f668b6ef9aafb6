"""Logged predictions are the production sample of ``ws.drift``: a predictions frame is ``current``,
windows follow the served time of images that carry no capture time, and the check is recorded."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from pathlib import Path

import polars as pl

from jupyter_cvops import Workspace
from jupyter_cvops.checks import describe_selection

T0 = datetime(2024, 6, 1, 9, tzinfo=timezone.utc)


def test_predictions_as_drift_current(ws: Workspace, make_images: Callable[..., list[Path]], tmp_path: Path) -> None:
    ref = make_images(30, brightness=90, seed=1, folder="train")
    ws.add_images([str(p) for p in ref], source="train", captured_at=T0 - timedelta(days=30), progress=False)
    served = make_images(15, brightness=90, seed=2, folder="day1") + make_images(15, brightness=200, seed=3,
                                                                                   folder="day2")
    times = [T0 + timedelta(days=i // 15, minutes=i) for i in range(30)]
    frame = pl.DataFrame({"path": [str(p) for p in served] + [str(tmp_path / "lost.png")],
                          "predicted_class": ["ok"] * 31, "time": times + [T0]})
    ws.log_predictions(frame, model="clf", version="v1", source="line-1")
    other = make_images(5, brightness=20, seed=4, folder="other")  # another model's traffic: not current
    ws.log_predictions(pl.DataFrame({"path": [str(p) for p in other]}), model="other")
    current = ws.predictions(model="clf")
    assert current.height == 31 and current["image_id"].null_count() == 1
    d = ws.drift(pl.col("source") == "train", current, by="1d", progress=False, seed=0)
    assert d["n"].to_list() == [15, 15]  # by served time; the failed row is left out
    assert d["window"].dt.date().to_list() == [T0.date(), (T0 + timedelta(days=1)).date()]
    assert d["drifted"].to_list() == [False, True]
    check = ws.last_check("input_drift")
    assert check is not None and check["alert"] is True
    assert check["parameters"]["current"] == describe_selection(current)
    assert check["parameters"]["current"].startswith("30 images (")
    assert check["result"]["drifted_windows"] == [d["window"][1].isoformat()]
