"""Shadow statistics against reference implementations (scikit-learn, statsmodels) and worked examples."""

from __future__ import annotations

import math
import time

import numpy as np
import pytest
from sklearn.metrics import cohen_kappa_score
from statsmodels.stats.contingency_tables import mcnemar as sm_mcnemar

from jupyter_cvops.shadow.stats import (
    agreement_kappa, box_agreement, confidence_summary, contingency, encode, flip_matrix, flip_summary, mcnemar,
    reviewed_comparison,
)


def test_kappa_hand_worked_example() -> None:
    # Wikipedia's Cohen's kappa example: 20 yes/yes, 5 yes/no, 10 no/yes, 15 no/no -> po 0.7, pe 0.5, kappa 0.4
    a = np.array([0] * 25 + [1] * 25)
    b = np.array([0] * 20 + [1] * 5 + [0] * 10 + [1] * 15)
    r = agreement_kappa(a, b, 2, bootstrap=0)
    assert r["agreement"] == pytest.approx(0.7) and r["kappa"] == pytest.approx(0.4)
    assert all(math.isnan(v) for v in r["agreement_ci"])


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_kappa_equals_sklearn(seed: int) -> None:
    rng = np.random.default_rng(seed)
    k = 5
    a = rng.integers(0, k, 2000)
    b = np.where(rng.random(2000) < 0.7, a, rng.integers(0, k, 2000))
    r = agreement_kappa(a, b, k, bootstrap=0)
    assert r["kappa"] == pytest.approx(cohen_kappa_score(a, b), abs=1e-12)
    assert r["agreement"] == pytest.approx(float((a == b).mean()), abs=1e-12)


def test_kappa_undefined_when_both_give_one_class() -> None:
    r = agreement_kappa(np.zeros(10, int), np.zeros(10, int), 3, bootstrap=50)
    assert r["agreement"] == 1.0 and math.isnan(r["kappa"]) and all(math.isnan(v) for v in r["kappa_ci"])


def test_bootstrap_is_seeded_and_matches_resampling_pairs() -> None:
    rng = np.random.default_rng(4)
    k, n = 4, 600
    a = rng.integers(0, k, n)
    b = np.where(rng.random(n) < 0.8, a, rng.integers(0, k, n))
    r1 = agreement_kappa(a, b, k, bootstrap=4000, seed=3)
    r2 = agreement_kappa(a, b, k, bootstrap=4000, seed=3)
    assert r1 == r2
    assert r1["agreement_ci"][0] < r1["agreement"] < r1["agreement_ci"][1]
    # the plain bootstrap (draw pair indices with replacement, recompute with scikit-learn)
    boot = np.random.default_rng(9)
    po, kap = [], []
    for _ in range(4000):
        idx = boot.integers(0, n, n)
        po.append(float((a[idx] == b[idx]).mean()))
        kap.append(cohen_kappa_score(a[idx], b[idx]))
    ref_po, ref_k = np.quantile(po, [0.025, 0.975]), np.quantile(kap, [0.025, 0.975])
    assert np.allclose(r1["agreement_ci"], ref_po, atol=0.006)
    assert np.allclose(r1["kappa_ci"], ref_k, atol=0.01)


def test_bootstrap_is_fast_for_100k_pairs() -> None:
    rng = np.random.default_rng(0)
    k, n = 10, 100_000
    a = rng.integers(0, k, n)
    b = np.where(rng.random(n) < 0.9, a, rng.integers(0, k, n))
    t0 = time.perf_counter()
    r = agreement_kappa(a, b, k, bootstrap=1000, seed=0)
    assert time.perf_counter() - t0 < 1.0
    assert r["agreement_ci"][1] - r["agreement_ci"][0] < 0.01


@pytest.mark.parametrize("b,c", [(0, 0), (1, 0), (3, 9), (12, 12), (24, 0), (121, 59), (40, 70)])
def test_mcnemar_equals_statsmodels(b: int, c: int) -> None:
    table = [[50, b], [c, 30]]
    r = mcnemar(b, c)
    exact = sm_mcnemar(table, exact=True)
    assert r["p_exact"] == pytest.approx(min(1.0, exact.pvalue), abs=1e-12)
    if b + c:
        chi = sm_mcnemar(table, exact=False, correction=True)
        assert r["statistic_chi2"] == pytest.approx(chi.statistic, abs=1e-12)
        assert r["p_chi2"] == pytest.approx(chi.pvalue, abs=1e-12)
    if b + c < 25:
        assert r["method"] == "exact" and r["statistic"] == pytest.approx(exact.statistic)
    else:
        assert r["method"] == "chi2"


def test_mcnemar_hand_worked_example() -> None:
    # Wikipedia: b = 121, c = 59; with continuity correction (|121 - 59| - 1)^2 / 180 = 3721 / 180
    r = mcnemar(121, 59)
    assert r["statistic"] == pytest.approx(3721 / 180)
    assert mcnemar(121, 59, exact=True)["method"] == "exact"


def test_reviewed_comparison_counts_discordant_pairs() -> None:
    truth = ["a", "a", "b", "b", "c", "c"]
    prod = ["a", "b", "b", "a", "c", "a"]
    cand = ["a", "a", "a", "a", "c", "c"]
    r = reviewed_comparison(truth, prod, cand)
    assert r is not None
    assert (r["n"], r["b"], r["c"]) == (6, 1, 2)
    assert r["accuracy_production"] == pytest.approx(3 / 6) and r["accuracy_candidate"] == pytest.approx(4 / 6)
    ref = sm_mcnemar([[2, 1], [2, 1]], exact=True)
    assert r["mcnemar_p"] == pytest.approx(ref.pvalue)
    assert reviewed_comparison([], [], []) is None


def test_flip_matrix_direction_and_summary() -> None:
    classes = ["dent", "ok", "scratch"]
    prod = encode(["dent", "ok", "ok", "ok", "scratch", "scratch"], classes)
    cand = encode(["dent", "ok", "scratch", "scratch", "scratch", "dent"], classes)
    flips = flip_matrix(prod, cand, classes)
    assert flips.height == 9 and flips["count"].sum() == 6
    cell = {(r[0], r[1]): r[2] for r in flips.rows()}
    assert cell[("ok", "scratch")] == 2 and cell[("scratch", "dent")] == 1 and cell[("scratch", "ok")] == 0
    summary = {r[0]: r[1:] for r in flip_summary(flips).rows()}
    #                       n_production, n_candidate, moved_out, moved_in
    assert summary["ok"] == (3, 1, 2, 0)
    assert summary["scratch"] == (2, 3, 1, 2)
    assert summary["dent"] == (1, 2, 0, 1)
    assert (contingency(prod, cand, 3) == np.array(flips["count"]).reshape(3, 3)).all()
    with pytest.raises(ValueError, match="not among the classes"):
        encode(["dent", "rust"], classes)


def test_confidence_summary() -> None:
    p = np.array([0.9, 0.8, 0.6, 0.7])
    c = np.array([0.95, 0.7, 0.9, 0.5])
    f = confidence_summary(p, c, np.array([True, True, False, False]))
    row = f.row(0, named=True)
    assert row["n"] == 4 and row["mean_delta"] == pytest.approx(np.mean(c - p))
    assert row["production_median"] == pytest.approx(np.median(p))
    assert f.row(2, named=True)["mean_delta"] == pytest.approx(0.05)


def test_box_agreement_on_a_small_case() -> None:
    def js(*boxes: tuple[str, int, int, int, int]) -> str:
        import json
        return json.dumps([{"class": c, "score": 0.9, "x0": x0, "y0": y0, "x1": x1, "y1": y1}
                           for c, x0, y0, x1, y1 in boxes])

    prod = [js(("dent", 0, 0, 10, 10), ("dent", 20, 20, 30, 30)), js(("scratch", 0, 0, 5, 5)), js(), None]
    cand = [js(("dent", 1, 0, 11, 10), ("scratch", 20, 21, 30, 31)), js(), js(("dent", 0, 0, 4, 4)), js()]
    r = box_agreement(prod, cand, iou_threshold=0.5)
    # image 1: both boxes match (IoU 0.818 and 0.818), one with another class; image 2/3: one unmatched box each
    assert (r["n_production_boxes"], r["n_candidate_boxes"], r["n_matched"]) == (3, 3, 2)
    assert r["match_rate"] == pytest.approx(4 / 6)
    assert r["class_agreement"] == pytest.approx(0.5)
    assert r["mean_iou"] == pytest.approx(90 / 110)
    assert box_agreement([None], [None])["match_rate"] == 1.0
