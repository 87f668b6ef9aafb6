"""ws.agreement() on the demo workspace: finds the planted label drift and nothing else."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from jupyter_cvops import Workspace
from jupyter_cvops.demo.build import build_demo


@pytest.fixture(scope="module")
def demo_ws(tmp_path_factory: pytest.TempPathFactory) -> Workspace:
    path = tmp_path_factory.mktemp("demo") / "ws"
    build_demo(path, seed=0, n_production=0, image_size=64, progress=False)
    return Workspace.open(path)


@pytest.mark.slow
def test_agreement_report_finds_the_planted_drift(demo_ws: Workspace) -> None:
    rep = demo_ws.agreement(bootstrap=200)
    overall = {r["metric"]: r for r in rep.overall.to_dicts()}
    assert 0 < overall["krippendorff_alpha"]["value"] < 1
    assert rep.meta["annotators"] == ["ana", "ben", "chloe"]
    alerts = rep.alerts
    assert alerts.height >= 1, "the planted change must be found"
    assert set(alerts["annotator"]) == {"chloe"}
    assert set(alerts["class_name"]) <= {"dent", "scratch"}
    week5 = alerts.row(0, named=True)
    assert week5["taxonomy_version"] == 2  # the redefinition of "dent" sits next to it
    kap = rep.kappa_matrix()
    assert kap.height == 3


def test_box_agreement_through_the_workspace(demo_ws: Workspace) -> None:
    rep = demo_ws.agreement(kind="box", bootstrap=0)
    assert rep.boxes is not None
    f1 = rep.boxes.to_dict()
    assert f1


def test_selection_by_expression(demo_ws: Workspace) -> None:
    first = demo_ws.images()["image_id"][:50].to_list()
    rep = demo_ws.agreement(images=pl.col("image_id").is_in(first), bootstrap=0)
    n_items = {r["metric"]: r["n_items"] for r in rep.overall.to_dicts()}["krippendorff_alpha"]
    assert n_items <= 50
