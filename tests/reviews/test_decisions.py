"""Review queue ranking and decisions feeding the next snapshot."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import polars as pl
import pytest

from jupyter_cvops import Workspace, WorkspaceError
from jupyter_cvops.demo.build import build_demo

T = datetime(2026, 3, 1, tzinfo=timezone.utc)


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("demo") / "ws"
    build_demo(path, seed=3, n_train=60, n_production=0, image_size=64, progress=False)
    return path


def test_queue_ranks_disputed_first(demo: Path) -> None:
    ws = Workspace.open(demo)
    q = ws.review_queue()
    assert q.height == 60
    scores = q["disagreement"].to_list()
    assert scores == sorted(scores, reverse=True)
    assert q.filter(pl.col("disputed")).height > 0
    top = q.row(0, named=True)
    assert len(top["verdicts"]) > 1 and top["disagreement"] > 0
    only_chloe = ws.review_queue(pl.col("annotators").list.contains("chloe"))
    assert 0 < only_chloe.height < 60


def test_decisions_supersede_and_feed_the_snapshot(tmp_path: Path, demo: Path) -> None:
    import shutil

    path = tmp_path / "ws"
    shutil.copytree(demo, path)
    ws = Workspace.open(path)
    q = ws.review_queue(disputed_only=True)
    a, b, c = q["image_id"][:3].to_list()
    ws.decide(a, "accept", annotator="majority", reviewer="rita", at=T)
    ws.decide(b, "set", class_name="stain", reviewer="rita", at=T)
    ws.decide(b, "set", class_name="dent", boxes=[("dent", (5, 5, 20, 20))], reviewer="rita", at=T + timedelta(minutes=1))
    ws.decide(c, "flag", reason="bad_image", reviewer="rita", at=T)
    ws.decide(c, "comment", comment="glare", reviewer="rita", at=T + timedelta(minutes=1))
    v = ws.snapshot(name="reviewed")
    labels = v.labels()
    la = labels.filter(pl.col("image_id") == a)
    assert set(la["origin"]) == {"review"} and set(la["annotator"]) == {"rita"}
    lb = labels.filter(pl.col("image_id") == b).sort("kind")
    assert lb["class_name"].to_list() == ["dent", "dent"] and lb["kind"].to_list() == ["box", "image"]
    assert c not in v.items()["image_id"].to_list()  # flagged: left out
    assert ws.review_queue().filter(pl.col("image_id").is_in([a, b, c])).height == 0
    hist = ws.reviews(b)
    assert hist["superseded"].to_list() == [True, False, False]
    # undo the flag: the image comes back with its annotators' labels
    ws.decide(c, "clear", reviewer="rita", at=T + timedelta(minutes=2))
    v2 = ws.snapshot(name="after-undo")
    assert c in v2.items()["image_id"].to_list()
    assert set(v2.labels().filter(pl.col("image_id") == c)["origin"]) == {"annotator"}
    assert ws.reviews().height == 7  # history is never overwritten


def test_bad_decisions_are_clear_errors(demo: Path) -> None:
    ws = Workspace.open(demo)
    iid = ws.images()["image_id"][0]
    with pytest.raises(ValueError, match="unknown decision"):
        ws.decide(iid, "approve")
    with pytest.raises(ValueError, match="reason="):
        ws.decide(iid, "flag")
    with pytest.raises(WorkspaceError, match="did not label"):
        ws.decide(iid, "accept", annotator="nobody")
    with pytest.raises(WorkspaceError, match="not registered"):
        ws.decide("f" * 32, "comment", comment="x")
    with pytest.raises(KeyError):
        ws.decide(iid, "set", class_name="no-such-class")
