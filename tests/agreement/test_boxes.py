"""Box agreement: IoU, Hungarian matching, pair scores, object alpha; on hand-made cases and the demo."""

from __future__ import annotations

import itertools
import math
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from jupyter_cvops.agreement.metrics import box_agreement, krippendorff_alpha, match_boxes
from jupyter_cvops.agreement._boxes import NO_BOX, iou_matrix

pytest.importorskip("scipy")


def _brute_iou(a: list[float], b: list[float]) -> float:
    w = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    h = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = w * h
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def test_iou_matrix_matches_brute_force() -> None:
    rng = np.random.default_rng(0)
    xy = rng.uniform(0, 50, size=(12, 2))
    wh = rng.uniform(0, 20, size=(12, 2))
    boxes = np.hstack([xy, xy + wh])
    boxes[3, 2:] = boxes[3, :2]                     # an empty box
    got = iou_matrix(boxes[:7], boxes[5:])
    want = [[_brute_iou(a, b) for b in boxes[5:]] for a in boxes[:7]]
    assert np.allclose(got, want)
    assert iou_matrix(np.empty((0, 4)), boxes).shape == (0, 12)


def _best_total(gain: np.ndarray) -> float:
    """Largest total gain over all partial one-to-one matchings (brute force)."""
    n, k = gain.shape
    if n > k:
        return _best_total(gain.T)
    return max(sum(gain[i, p[i]] for i in range(n)) for p in itertools.permutations(range(k), n))


@pytest.mark.parametrize("seed", range(6))
def test_hungarian_matching_is_optimal(seed: int) -> None:
    rng = np.random.default_rng(seed)
    xy = rng.uniform(0, 30, size=(9, 2))
    boxes = np.hstack([xy, xy + rng.uniform(5, 15, size=(9, 2))])
    a, b = boxes[:4], boxes[4:]
    ia, ib, iou = match_boxes(a, b, iou_threshold=0.2)
    full = iou_matrix(a, b)
    assert len(set(ia.tolist())) == ia.size and len(set(ib.tolist())) == ib.size
    assert (iou >= 0.2).all() and np.allclose(iou, full[ia, ib])
    assert iou.sum() == pytest.approx(_best_total(np.where(full >= 0.2, full, 0.0)))


def test_matching_threshold() -> None:
    a = [[0, 0, 10, 10], [6, 0, 16, 10]]
    b = [[3, 0, 13, 10], [0, 0, 8, 10]]
    ia, ib, _ = match_boxes(a, b, iou_threshold=0.3)
    assert sorted(zip(ia.tolist(), ib.tolist())) == [(0, 1), (1, 0)]
    ia, ib, _ = match_boxes(a, b, iou_threshold=0.9)
    assert ia.size == 0
    with pytest.raises(ValueError, match="iou_threshold"):
        match_boxes(a, b, iou_threshold=0)


def _frame(rows: list[tuple]) -> pl.DataFrame:
    return pl.DataFrame(rows, orient="row", schema={
        "item": pl.String, "annotator": pl.String, "class_name": pl.String, "kind": pl.String,
        "x0": pl.Float64, "y0": pl.Float64, "x1": pl.Float64, "y1": pl.Float64})


def test_box_agreement_hand_case() -> None:
    df = _frame([
        ("img1", "a", "dent", "image", None, None, None, None),
        ("img1", "a", "dent", "box", 0, 0, 10, 10),
        ("img1", "a", "stain", "box", 50, 50, 60, 60),
        ("img1", "b", "dent", "image", None, None, None, None),
        ("img1", "b", "dent", "box", 1, 0, 11, 10),
        ("img1", "b", "scratch", "box", 50, 50, 60, 61),
        ("img1", "c", "ok", "image", None, None, None, None),   # looked, drew nothing
        ("img2", "a", "ok", "image", None, None, None, None),
        ("img2", "c", "dent", "image", None, None, None, None),
        ("img2", "c", "dent", "box", 5, 5, 9, 9),
    ])
    rep = box_agreement(df)
    pairs = {(r["annotator_a"], r["annotator_b"]): r for r in rep.pairs.iter_rows(named=True)}
    ab = pairs[("a", "b")]
    assert (ab["n_images"], ab["n_a"], ab["n_b"], ab["n_matched"]) == (1, 2, 2, 2)
    assert ab["f1"] == 1.0 and ab["class_agreement"] == 0.5
    assert ab["mean_iou"] == pytest.approx((_brute_iou([0, 0, 10, 10], [1, 0, 11, 10])
                                            + _brute_iou([50, 50, 60, 60], [50, 50, 60, 61])) / 2)
    ac = pairs[("a", "c")]
    assert (ac["n_images"], ac["n_a"], ac["n_b"], ac["n_matched"], ac["f1"]) == (2, 2, 1, 0, 0.0)
    assert ac["reason"] == "no matched boxes" and math.isnan(ac["class_agreement"])
    assert rep.matches.height == 2 and rep.iou_summary["n"][0] == 2
    objects = rep.objects.sort("object", "annotator")
    assert objects["object"].n_unique() == 3                      # dent pair, stain/scratch pair, c's dent
    # alpha over objects: units are objects, annotators without a box are missing
    overall = dict(zip(rep.overall["metric"], rep.overall["value"]))
    names = {"dent": 0, "stain": 1, "scratch": 2}
    mat = np.full((3, 3), np.nan)
    for o, a, c in objects.select("object", "annotator", "class_name").iter_rows():
        mat["abc".index(a), o] = names[c]
    assert overall["alpha_matched"] == pytest.approx(krippendorff_alpha(mat), abs=1e-12)
    # with "no box" for annotators who saw the image: c saw img1 and drew nothing, a saw img2
    absent = mat.copy()
    absent[2, [o for o in range(3) if objects.filter(pl.col("object") == o)["item"][0] == "img1"]] = 3
    absent[0, [o for o in range(3) if objects.filter(pl.col("object") == o)["item"][0] == "img2"]] = 3
    assert overall["alpha_with_absent"] == pytest.approx(krippendorff_alpha(absent), abs=1e-12)
    assert rep.to_dict()["meta"]["iou_threshold"] == 0.5
    assert NO_BOX not in rep.objects["class_name"].to_list()


def test_box_agreement_without_kind_column_and_bad_boxes() -> None:
    df = pl.DataFrame({"image_id": ["i", "i", "j"], "annotator": ["a", "b", "b"], "label": ["x", "x", "x"],
                       "x0": [0.0, 0.0, None], "y0": [0.0, 0.0, None], "x1": [4.0, 4.0, None],
                       "y1": [4.0, 4.0, None]})
    rep = box_agreement(df)
    assert rep.pairs["f1"].to_list() == [1.0]
    assert math.isnan(dict(zip(rep.overall["metric"], rep.overall["value"]))["alpha_matched"])
    bad = df.with_columns(pl.Series("x1", [-1.0, 4.0, None]))
    with pytest.raises(ValueError, match="x1 >= x0"):
        box_agreement(bad)
    with pytest.raises(ValueError, match="columns"):
        box_agreement(df.drop("y1"))


def test_no_boxes_and_never_the_same_image() -> None:
    df = _frame([("i", "a", "ok", "image", None, None, None, None),
                 ("j", "b", "ok", "image", None, None, None, None)])
    rep = box_agreement(df)
    assert rep.pairs["reason"].to_list() == ["never looked at the same image"]
    assert rep.matches.height == 0 and math.isnan(rep.overall["value"][0])


def test_demo_boxes(tmp_path: Path) -> None:
    from jupyter_cvops.demo.build import generate_scenario

    sc = generate_scenario(tmp_path / "sc", n_train=160, n_production=0, image_size=64, workers=1)
    rep = box_agreement(sc.labels)
    assert rep.pairs.height == 3
    assert (rep.pairs["f1"] > 0.5).all() and (rep.pairs["mean_iou"] > 0.5).all()
    # every box appears once in the objects, with the annotator and class it was drawn with
    assert rep.objects.height == sc.labels.filter(pl.col("kind") == "box").height
    # ana pads her boxes, ben draws tight ones: their IoU is the lowest of the three pairs
    iou = {(r["annotator_a"], r["annotator_b"]): r["mean_iou"] for r in rep.pairs.iter_rows(named=True)}
    assert iou[("ana", "ben")] == min(iou.values())


def test_report_includes_boxes_or_says_why_not(monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib.util

    from jupyter_cvops.agreement.metrics import agreement_report

    df = _frame([("i", "a", "dent", "image", None, None, None, None),
                 ("i", "a", "dent", "box", 0, 0, 4, 4),
                 ("i", "b", "dent", "image", None, None, None, None),
                 ("i", "b", "dent", "box", 0, 0, 4, 5)])
    rep = agreement_report(df, bootstrap=0)
    assert rep.boxes is not None and rep.boxes.pairs["n_matched"].to_list() == [1]
    assert agreement_report(df, bootstrap=0, boxes=False).boxes is None
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "scipy" else real(name, *a))
    rep = agreement_report(df, bootstrap=0)
    assert rep.boxes is None and "box agreement skipped: scipy is not installed" in rep.meta["notes"]
    with pytest.raises(ImportError, match="scipy"):
        agreement_report(df, bootstrap=0, boxes=True)
