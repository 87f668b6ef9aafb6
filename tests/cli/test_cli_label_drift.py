"""``cvops agreement`` on a planted label drift (one annotator starts calling dents ok in week 5): exit 4,
the alert names her, the check is recorded with the alert, and ``--notify`` posts it."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import polars as pl
from conftest import Cvops, Hook
from PIL import Image

from jupyter_cvops import Workspace

START = datetime(2026, 1, 5, tzinfo=timezone.utc)  # a Monday


def _labelled(root: Path, weeks: int = 8, per_week: int = 24) -> str:
    rng = np.random.default_rng(3)
    (root / "imgs").mkdir(parents=True)
    for i in range(weeks * per_week):
        Image.fromarray(rng.integers(0, 255, (8, 8, 3), dtype=np.uint8)).save(root / "imgs" / f"i{i:03d}.png")
    ws = Workspace.create(root / "ws")
    ws.add_images(root / "imgs", progress=False)
    ids = ws.images().sort("path")["image_id"].to_list()
    rows = []
    for i, iid in enumerate(ids):
        week = i // per_week
        truth = "dent" if i % 2 else "ok"
        when = START + timedelta(weeks=week, hours=i % per_week)
        for annotator in ("ana", "bob", "eve"):
            label = truth if rng.random() > 0.04 else ("ok" if truth == "dent" else "dent")
            if annotator == "eve" and week >= 4 and truth == "dent" and rng.random() < 0.7:
                label = "ok"
            rows.append({"image_id": iid, "annotator": annotator, "class_name": label, "kind": "image",
                         "created_at": when})
    ws.add_annotations(pl.DataFrame(rows))
    return ws.uri


def test_a_label_drift_alerts(tmp_path: Path, cvops: Cvops, hook: Hook) -> None:
    uri = _labelled(tmp_path)
    rep = cvops.json("-w", uri, "agreement", "--bootstrap", "0", "--notify", hook.url, code=4)
    assert rep["alert"] and rep["exit_code"] == 4 and rep["result"]["n_alerts"] >= 1
    first = rep["result"]["alerts"][0]
    assert (first["annotator"], first["class_name"]) == ("eve", "dent")
    assert first["window_start"].startswith("2026-02-02")  # week 5
    stored = Workspace.open(uri).checks(kind="agreement")
    assert stored["check_id"].to_list() == [rep["check_id"]] and stored["alert"][0]
    (body,) = hook.bodies
    assert body["command"] == "agreement" and body["summary"] == rep["summary"] and "eve on dent" in body["summary"]
