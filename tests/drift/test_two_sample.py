"""Drift statistics against reference implementations (O(n^2) loops, scipy, scikit-learn, statsmodels)
and on real steel-surface images with planted brightness, blur and rotation changes."""

from __future__ import annotations

import datetime as dt
import math
import shutil
from pathlib import Path

import cv2
import numpy as np
import polars as pl
import pytest
import torch
from scipy import stats as sps
from scipy.spatial.distance import cdist, pdist
from sklearn.metrics import roc_auc_score

from jupyter_cvops.drift import _machinery as _t
from jupyter_cvops.drift.two_sample import (
    bh_adjust, classifier_test, conformal_novelty, drift_by_window, feature_tests, holm_adjust, knn_distances,
    mmd_test, novel_clusters,
)

# ----------------------------------------------------------------------------- references


def mmd2_loops(x: np.ndarray, y: np.ndarray, k) -> float:  # noqa: ANN001
    """Unbiased MMD^2 by explicit double loops (Gretton et al. 2012, eq. 3)."""
    n, m = len(x), len(y)
    sxx = sum(k(x[i], x[j]) for i in range(n) for j in range(n) if i != j)
    syy = sum(k(y[i], y[j]) for i in range(m) for j in range(m) if i != j)
    sxy = sum(k(x[i], y[j]) for i in range(n) for j in range(m))
    return sxx / (n * (n - 1)) + syy / (m * (m - 1)) - 2 * sxy / (n * m)


def rbf(sigma: float):  # noqa: ANN201
    return lambda a, b: math.exp(-float(((a - b) ** 2).sum()) / (2 * sigma * sigma))


def laplace(sigma: float):  # noqa: ANN201
    return lambda a, b: math.exp(-math.sqrt(float(((a - b) ** 2).sum())) / sigma)


@pytest.fixture
def xy() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(7)
    return rng.normal(size=(17, 3)), rng.normal(0.3, 1.2, size=(11, 3))


# ----------------------------------------------------------------------------- MMD


def test_mmd_statistic_equals_double_loop(xy) -> None:  # noqa: ANN001
    x, y = xy
    res = mmd_test(x, y, n_permutations=0, device="cpu")
    sigma = math.sqrt(np.median(pdist(np.vstack([x, y]), "sqeuclidean")) / 2)
    assert res.bandwidth == pytest.approx(sigma, rel=1e-12)
    assert abs(res.statistic - mmd2_loops(x, y, rbf(sigma))) < 1e-10
    assert math.isnan(res.p_value) and (res.n_x, res.n_y) == (17, 11)
    fixed = mmd_test(x, y, n_permutations=0, bandwidth=0.7)
    assert abs(fixed.statistic - mmd2_loops(x, y, rbf(0.7))) < 1e-10
    lap = mmd_test(x, y, n_permutations=0, kernel="laplacian")
    assert lap.bandwidth == pytest.approx(np.median(pdist(np.vstack([x, y]))), rel=1e-12)
    assert abs(lap.statistic - mmd2_loops(x, y, laplace(lap.bandwidth))) < 1e-10


def test_median_heuristic_uses_distinct_pooled_pairs_odd_count() -> None:
    z = np.array([[0.0], [1.0], [3.0], [7.0]])  # 6 pairs; sq distances 1 9 49 4 36 16 -> median 12.5
    res = mmd_test(z[:2], z[2:], n_permutations=0)
    assert res.bandwidth == pytest.approx(math.sqrt(12.5 / 2))
    z5 = np.array([[0.0], [1.0], [3.0], [7.0], [15.0]])  # 10 pairs: even count; 7 pairs odd below
    assert mmd_test(z5[:2], z5[2:], n_permutations=0).bandwidth == pytest.approx(
        math.sqrt(np.median(pdist(z5, "sqeuclidean")) / 2))
    rng = np.random.default_rng(0)  # the accelerator path (kthvalue, no copy) agrees, ties included
    for n in (2, 3, 7, 30):
        pts = np.round(rng.normal(size=(n, 2)), 1)
        d2 = _t.sq_dists(torch.from_numpy(pts), torch.from_numpy(pts)).fill_diagonal_(0.0)
        expect = np.median(pdist(pts, "sqeuclidean"))
        assert _t.median_offdiag_kth(d2) == pytest.approx(expect) and _t._median_offdiag(d2) == pytest.approx(expect)


def test_permutation_p_value_equals_loop_reference(xy) -> None:  # noqa: ANN001
    x, y = xy
    n_perm, seed = 300, 11
    res = mmd_test(x, y, n_permutations=n_perm, seed=seed)
    z = np.vstack([x, y])
    kfun = rbf(res.bandwidth)
    kmat = np.array([[kfun(a, b) for b in z] for a in z])
    np.fill_diagonal(kmat, 0.0)

    def stat(sel: np.ndarray) -> float:
        rest = np.setdiff1d(np.arange(len(z)), sel)
        n, m = len(sel), len(rest)
        return (kmat[np.ix_(sel, sel)].sum() / (n * (n - 1)) + kmat[np.ix_(rest, rest)].sum() / (m * (m - 1))
                - 2 * kmat[np.ix_(sel, rest)].sum() / (n * m))

    gen = torch.Generator().manual_seed(seed)  # the documented draw: CPU randperm, first n_x rows are "x"
    perms = [torch.randperm(len(z), generator=gen)[:len(x)].numpy() for _ in range(n_perm + 1)][1:]
    null = np.array([stat(p) for p in perms])
    observed = stat(np.arange(len(x)))
    assert observed == pytest.approx(res.statistic, abs=1e-12)
    k, _ = _t.pooled_kernel(torch.from_numpy(z), "rbf", res.bandwidth)
    obs_b, null_b = _t.permutation_null(k, len(x), n_perm, seed)
    np.testing.assert_allclose(null_b, null, atol=1e-12)
    assert res.p_value == (1 + np.sum(null >= observed - 1e-12)) / (1 + n_perm)


def test_permutation_batches_agree(monkeypatch, xy) -> None:  # noqa: ANN001
    x, y = xy
    full = mmd_test(x, y, n_permutations=250, seed=3, witness=False)
    monkeypatch.setattr(_t, "PERM_BATCH_BYTES", 2 * 28 * 8 * 7)  # 7 permutations per batch
    assert mmd_test(x, y, n_permutations=250, seed=3, witness=False).p_value == full.p_value


def test_float32_close_to_float64() -> None:
    rng = np.random.default_rng(1)
    x, y = rng.normal(size=(300, 16)), rng.normal(size=(300, 16)) + 0.08
    r64 = mmd_test(x, y, 500, dtype="float64")
    r32 = mmd_test(x, y, 500, dtype="float32")
    assert r32.statistic == pytest.approx(r64.statistic, rel=1e-3, abs=1e-7)
    assert abs(r32.p_value - r64.p_value) <= 2 / 501


def test_witness_values_and_sign(xy) -> None:  # noqa: ANN001
    x, y = xy
    res = mmd_test(x, y, n_permutations=0)
    kfun = rbf(res.bandwidth)
    i, j = 4, 2
    wx = (np.mean([kfun(x[i], b) for b in y]) - np.mean([kfun(x[i], b) for t, b in enumerate(x) if t != i]))
    wy = (np.mean([kfun(y[j], b) for t, b in enumerate(y) if t != j]) - np.mean([kfun(y[j], b) for b in x]))
    assert res.witness_x[i] == pytest.approx(wx, abs=1e-12) and res.witness_y[j] == pytest.approx(wy, abs=1e-12)
    assert res.witness.shape == (28,)
    rng = np.random.default_rng(0)
    ref, cur = rng.normal(size=(80, 2)), np.vstack([rng.normal(size=(60, 2)), rng.normal(5, 0.3, (20, 2))])
    w = mmd_test(ref, cur, n_permutations=0).witness_y
    assert set(np.argsort(-w)[:20]) == set(range(60, 80))  # the new cluster drives the drift


def test_subsampling_is_seeded_and_witness_covers_every_row() -> None:
    rng = np.random.default_rng(2)
    x, y = rng.normal(size=(120, 4)), rng.normal(size=(90, 4))
    a = mmd_test(x, y, 200, seed=5, max_n=50)
    b = mmd_test(x, y, 200, seed=5, max_n=50)
    c = mmd_test(x, y, 200, seed=6, max_n=50)
    assert (a.n_x, a.n_y) == (50, 50) and a.statistic == b.statistic and a.p_value == b.p_value
    assert a.statistic != c.statistic
    assert a.witness_x.shape == (120,) and a.witness_y.shape == (90,) and np.isfinite(a.witness).all()
    rng2 = np.random.default_rng([5, 1])  # the documented draw: x first, then y, without replacement
    ix, iy = np.sort(rng2.choice(120, 50, replace=False)), np.sort(rng2.choice(90, 50, replace=False))
    kfun = rbf(a.bandwidth)
    out = np.setdiff1d(np.arange(120), ix)[0]  # a row left out of the test: plain means over the subsamples
    expect = np.mean([kfun(x[out], t) for t in y[iy]]) - np.mean([kfun(x[out], t) for t in x[ix]])
    assert a.witness_x[out] == pytest.approx(expect, abs=1e-12)
    assert a.statistic == pytest.approx(mmd2_loops(x[ix], y[iy], kfun), abs=1e-10)


def test_mmd_input_checks() -> None:
    x = np.zeros((5, 2))
    with pytest.raises(ValueError, match="features"):
        mmd_test(x, np.zeros((5, 3)))
    with pytest.raises(ValueError, match="at least 2"):
        mmd_test(x, np.zeros((1, 2)))
    with pytest.raises(ValueError, match="NaN"):
        mmd_test(x, np.full((3, 2), np.nan))
    with pytest.raises(ValueError, match="kernel"):
        mmd_test(x, x, kernel="poly")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="bandwidth"):
        mmd_test(x, x, bandwidth=-1.0)
    same = mmd_test(np.ones((4, 2)), np.ones((4, 2)), 50)  # identical points: bandwidth falls back, p = 1
    assert same.statistic == 0.0 and same.p_value == 1.0 and same.bandwidth == 1.0
    one_d = mmd_test([0.0, 1.0, 2.0], [5.0, 6.0, 7.0], 50)
    assert one_d.statistic > 0 and one_d.n_x == 3


# ----------------------------------------------------------------------------- KS, BH, AUC


def test_feature_tests_match_scipy_and_effects() -> None:
    rng = np.random.default_rng(3)
    ref = pl.DataFrame({"a": rng.normal(0, 1, 40), "b": rng.normal(0, 1, 40), "c": rng.normal(0, 1, 40),
                        "name": ["x"] * 40})
    cur = pl.DataFrame({"a": rng.normal(1.2, 1, 300), "b": rng.normal(0, 3, 300), "c": rng.normal(0, 1, 300),
                        "name": ["y"] * 300})
    cur = cur.with_columns(pl.when(pl.int_range(300) < 5).then(None).otherwise(pl.col("c")).alias("c"))
    out = feature_tests(ref, cur)
    assert out["feature"].to_list()[:2] == ["b", "a"] and set(out["feature"]) == {"a", "b", "c"}
    p_expected = []
    for row in out.iter_rows(named=True):
        a = ref[row["feature"]].to_numpy()
        b = cur[row["feature"]].drop_nulls().to_numpy()
        ks = sps.ks_2samp(a, b)
        assert row["ks"] == pytest.approx(ks.statistic, abs=1e-12) and row["p_value"] == pytest.approx(ks.pvalue)
        assert row["wasserstein"] == pytest.approx(sps.wasserstein_distance(a, b), rel=1e-10)
        assert row["effect"] == pytest.approx(row["wasserstein"] / a.std(ddof=1))
        assert row["n_cur"] == b.size
        sp = math.sqrt(((a.size - 1) * a.var(ddof=1) + (b.size - 1) * b.var(ddof=1)) / (a.size + b.size - 2))
        assert row["smd"] == pytest.approx((b.mean() - a.mean()) / sp)
        p_expected.append(ks.pvalue)
    np.testing.assert_allclose(out["q_value"].to_numpy(), sps.false_discovery_control(p_expected), rtol=1e-12)
    assert dict(zip(out["feature"], out["drifted"])) == {"a": True, "b": True, "c": False}


def test_feature_tests_degenerate_columns() -> None:
    ref = pl.DataFrame({"k": [1.0, 1.0, 1.0], "few": [1.0, None, None], "v": [1.0, 2.0, 3.0]})
    cur = pl.DataFrame({"k": [1.0, 1.0, 1.0], "few": [1.0, 2.0, 3.0], "v": [np.nan, 2.0, 5.0]})
    out = feature_tests(ref, cur).sort("feature")
    assert out.filter(pl.col("feature") == "few")["p_value"].to_list() == [None]
    assert out.filter(pl.col("feature") == "k").select("ks", "smd", "effect").row(0) == (0.0, 0.0, 0.0)
    assert out.filter(pl.col("feature") == "v")["n_cur"].item() == 2
    with pytest.raises(ValueError, match="missing"):
        feature_tests(ref, cur, features=["nope"])


def test_bh_and_holm_match_scipy_and_statsmodels() -> None:
    multipletests = pytest.importorskip("statsmodels.stats.multitest").multipletests
    rng = np.random.default_rng(4)
    p = np.r_[rng.uniform(size=40), rng.uniform(0, 0.01, 10), [0.5, 0.5, 1.0]]
    np.testing.assert_allclose(bh_adjust(p), sps.false_discovery_control(p), rtol=1e-12)
    np.testing.assert_allclose(bh_adjust(p), multipletests(p, method="fdr_bh")[1], rtol=1e-12)
    np.testing.assert_allclose(holm_adjust(p), multipletests(p, method="holm")[1], rtol=1e-12)
    with_nan = np.r_[p[:5], np.nan]
    np.testing.assert_allclose(bh_adjust(with_nan)[:5], sps.false_discovery_control(p[:5]))
    assert np.isnan(bh_adjust(with_nan)[5]) and np.isnan(bh_adjust(np.array([np.nan]))).all()


def test_rank_auc_matches_sklearn_and_mannwhitney() -> None:
    rng = np.random.default_rng(5)
    scores = np.round(rng.normal(size=90), 1)  # plenty of ties
    labels = (rng.uniform(size=90) < 0.4).astype(int)
    scores[labels == 1] += 0.4
    auc, p = _t.rank_auc(scores, labels)
    assert auc == pytest.approx(roc_auc_score(labels, scores), abs=1e-12)
    mw = sps.mannwhitneyu(scores[labels == 1], scores[labels == 0], alternative="greater",
                          method="asymptotic", use_continuity=True)
    assert p == pytest.approx(mw.pvalue, rel=1e-10)


def test_classifier_test_auc_and_p_values() -> None:
    rng = np.random.default_rng(6)
    x, y = rng.normal(size=(60, 3)), rng.normal(size=(50, 3)) + [1.0, 0, 0]
    res = classifier_test(x, y, n_permutations=40, seed=1)
    labels = np.r_[np.zeros(60), np.ones(50)]
    assert res.auc == pytest.approx(roc_auc_score(labels, res.scores), abs=1e-12)
    assert res.auc > 0.7 and res.p_value == pytest.approx(1 / 41) and res.method == "permutation"
    hold = classifier_test(x, y, p_value="holdout", seed=1)
    seen = ~np.isnan(hold.scores)
    assert seen.sum() == 55 and hold.auc == pytest.approx(roc_auc_score(labels[seen], hold.scores[seen]))
    mw = sps.mannwhitneyu(hold.scores[seen & (labels == 1)], hold.scores[seen & (labels == 0)], alternative="greater")
    assert hold.p_value == pytest.approx(mw.pvalue) and hold.p_value < 1e-3
    null = classifier_test(x, rng.normal(size=(50, 3)), p_value="holdout", model="knn")
    assert null.p_value > 0.05
    boosted = classifier_test(x, y, p_value="holdout", model="boosting")
    assert boosted.auc > 0.6
    with pytest.raises(ValueError, match="folds"):
        classifier_test(x[:3], y, folds=5)
    with pytest.raises(ValueError, match="p_value"):
        classifier_test(x, y, p_value="normal")  # type: ignore[arg-type]


# ----------------------------------------------------------------------------- novelty


def test_knn_distances_match_brute_force() -> None:
    rng = np.random.default_rng(8)
    ref, q = rng.normal(size=(60, 5)), rng.normal(size=(9, 5))
    d = cdist(q, ref)
    np.testing.assert_allclose(knn_distances(q, ref, k=3), np.sort(d, 1)[:, 2], rtol=1e-10)
    np.testing.assert_allclose(knn_distances(q, ref, k=3, reduce="mean"), np.sort(d, 1)[:, :3].mean(1), rtol=1e-10)
    np.testing.assert_allclose(knn_distances(q, ref, k=2, metric="sqeuclidean"), np.sort(d**2, 1)[:, 1], rtol=1e-9)
    np.testing.assert_allclose(knn_distances(q, ref, k=1, metric="cosine"), np.sort(cdist(q, ref, "cosine"), 1)[:, 0],
                               atol=1e-12)
    dref = cdist(ref, ref)
    np.fill_diagonal(dref, np.inf)
    np.testing.assert_allclose(knn_distances(ref, k=4), np.sort(dref, 1)[:, 3], rtol=1e-10)
    with pytest.raises(ValueError, match="k must be"):
        knn_distances(ref, k=60)


def test_conformal_novelty_formula() -> None:
    rng = np.random.default_rng(9)
    ref = rng.exponential(size=50)
    cur = np.r_[rng.exponential(size=20), ref[:3], 100.0, 0.0]
    p = conformal_novelty(ref, cur)
    expect = [(1 + np.sum(ref >= d)) / (ref.size + 1) for d in cur]
    np.testing.assert_array_equal(p, expect)
    assert p[-2] == 1 / 51 and p[-1] == 1.0
    with pytest.raises(ValueError, match="finite"):
        conformal_novelty(ref, [np.nan])


def test_novel_clusters_find_the_new_regions() -> None:
    rng = np.random.default_rng(10)
    ref = rng.normal(size=(300, 4))
    cur = np.vstack([rng.normal(size=(100, 4)), rng.normal(0, 0.2, (15, 4)) + [7, 0, 0, 0],
                     rng.normal(0, 0.2, (10, 4)) + [0, -7, 0, 0]])
    d = knn_distances(cur, ref, k=5)
    p = conformal_novelty(knn_distances(ref, k=5), d)
    out = novel_clusters(cur, p, n_clusters=2, scores=d, seed=0)
    groups = [set(m) for m in out["members"].to_list()]  # plus the few in-distribution p <= alpha rows
    assert groups[0] >= set(range(100, 115)) and groups[1] >= set(range(115, 125))
    assert out["size"].sum() == int((p <= 0.05).sum()) < 25 + 10
    assert out["exemplar"][0] in range(100, 115)
    assert novel_clusters(cur, np.ones(125)).height == 0


# ----------------------------------------------------------------------------- windows


def _scenario(seed: int = 0) -> tuple:
    rng = np.random.default_rng(seed)
    d = 6
    ref = rng.normal(size=(300, d))
    feats = ["brightness", "contrast", "tilt"]

    def features(e: np.ndarray) -> pl.DataFrame:
        return pl.DataFrame({f: e[:, i] * 10 + 100 for i, f in enumerate(feats)})

    days = []
    for day in range(6):
        e = rng.normal(size=(60, d))
        if day == 3:
            e[:, 0] += 1.5  # lighting change
        if day == 5:
            e[:, 2] += 1.5  # camera tilt
        days.append(e)
    cur = np.vstack(days)
    times = [dt.datetime(2024, 3, 1 + i // 60, (i * 7) % 24, 5) for i in range(cur.shape[0])]
    return ref, cur, times, features(ref), features(cur)


def test_drift_by_window_flags_planted_windows_only() -> None:
    ref, cur, times, ref_f, cur_f = _scenario()
    out = drift_by_window(ref, cur, times, ref_features=ref_f, cur_features=cur_f, n_permutations=500)
    assert out.columns == ["window", "n", "statistic", "p_value", "q_value", "drifted", "novel_frac", "top_novel",
                           "witness_mean", "top_witness", "top_features", "rows", "witness"]
    assert out["window"].to_list() == [dt.datetime(2024, 3, d) for d in range(1, 7)]
    # per image: every current row in exactly one window, witness values that rank top_witness
    assert sorted(i for r in out["rows"].to_list() for i in r) == list(range(out["n"].sum()))
    for r in out.iter_rows(named=True):
        assert len(r["witness"]) == len(r["rows"])
        if r["statistic"] is not None:
            order = np.argsort(-np.asarray(r["witness"]), kind="stable")
            assert [r["rows"][i] for i in order[:len(r["top_witness"])]] == r["top_witness"]
            assert np.mean(r["witness"]) == pytest.approx(r["witness_mean"])
    assert out["n"].to_list() == [60] * 6
    assert out["drifted"].to_list() == [False, False, False, True, False, True]
    assert out["top_features"][3].to_list()[0] == "brightness" and out["top_features"][5].to_list()[0] == "tilt"
    assert out["top_features"][0].to_list() == []
    np.testing.assert_allclose(out["q_value"].to_numpy(), bh_adjust(out["p_value"].to_numpy()))
    for w in (3, 5):
        rows = range(60 * w, 60 * w + 60)
        assert out["top_novel"][w].len() == 5 and all(i in rows for i in out["top_novel"][w])
        assert all(i in rows for i in out["top_witness"][w])
        clean = out.filter(~pl.col("drifted"))
        assert out["novel_frac"][w] > clean["novel_frac"].max() and out["witness_mean"][w] > clean["witness_mean"].max()


def test_drift_by_window_options() -> None:
    ref, cur, times, _, _ = _scenario(1)
    hourly = drift_by_window(ref, cur[:120], times[:120], every="12h", n_permutations=100, min_n=31,
                             correction="holm")
    assert hourly.height == 4 and hourly["n"].sum() == 120
    assert hourly.select((pl.col("p_value").is_null() == (pl.col("n") < 31)).all()).item()
    assert hourly["drifted"].to_list() == [False] * 4
    ref_loo, cur_d = knn_distances(ref, k=3), knn_distances(cur, ref, k=3)
    pre = drift_by_window(ref, cur, times, ref_knn_dist_loo=ref_loo, cur_knn_dist=cur_d, n_permutations=200,
                          correction="none", max_ref=None)
    assert pre["drifted"][3] and pre["p_value"][3] == 1 / 201
    stamps = np.array(times, dtype="datetime64[us]")
    same = drift_by_window(ref, cur, stamps, ref_knn_dist_loo=ref_loo, cur_knn_dist=cur_d, n_permutations=200,
                           correction="none", max_ref=None)
    assert same.equals(pre)
    with pytest.raises(ValueError, match="timestamps"):
        drift_by_window(ref, cur, times[:5])
    with pytest.raises(ValueError, match="datetimes"):
        drift_by_window(ref, cur, list(range(cur.shape[0])))


# ----------------------------------------------------------------------------- real images


def image_stats(path: Path) -> dict[str, float]:
    """Tiny stand-in for the image-statistics embedder: brightness, contrast, sharpness, edge orientations."""
    g = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE).astype(np.float64)
    gx, gy = cv2.Sobel(g, cv2.CV_64F, 1, 0, ksize=3), cv2.Sobel(g, cv2.CV_64F, 0, 1, ksize=3)
    mag = np.hypot(gx, gy).ravel()
    ang = np.mod(np.degrees(np.arctan2(gy, gx)), 180.0).ravel()
    hist = np.bincount(((ang + 22.5) // 45).astype(int) % 4, weights=mag, minlength=4)
    hist /= hist.sum()
    return {"brightness": g.mean(), "contrast": g.std(), "sharpness": math.log1p(cv2.Laplacian(g, cv2.CV_64F).var()),
            **{f"edges_{a}": float(h) for a, h in zip((0, 45, 90, 135), hist)}}


def _rotate(g: np.ndarray, angle: float) -> np.ndarray:
    h, w = g.shape[:2]
    m = cv2.getRotationMatrix2D((w / 2, h / 2), angle, 1.0)
    return cv2.warpAffine(g, m, (w, h), borderMode=cv2.BORDER_REFLECT_101)


CHANGES = {
    "brightness": (lambda g: cv2.convertScaleAbs(g, alpha=1.0, beta=70), "brightness"),
    "blur": (lambda g: cv2.GaussianBlur(g, (0, 0), 2.0), "sharpness"),
    "rotation": (lambda g: _rotate(g, 30.0), "edges_135"),
}


@pytest.fixture(scope="module")
def neu_stats(shared_data: Path, tmp_path_factory) -> dict[str, pl.DataFrame]:  # noqa: ANN001
    src = shared_data / "images" / "neu-surface-defects"
    files = sorted(src.glob("*.jpg"))
    assert len(files) == 30
    work = tmp_path_factory.mktemp("neu")
    for f in files:
        shutil.copy(f, work / f.name)
    out = {"original": pl.DataFrame([image_stats(work / f.name) for f in files])}
    for name, (fn, _) in CHANGES.items():
        folder = work / name
        folder.mkdir()
        for f in files:
            assert cv2.imwrite(str(folder / f.with_suffix(".png").name), fn(cv2.imread(str(work / f.name))))
        out[name] = pl.DataFrame([image_stats(p) for p in sorted(folder.glob("*.png"))])
    return out


def _standardize(ref: pl.DataFrame, cur: pl.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    r, c = ref.to_numpy(), cur.to_numpy()
    mu, sd = r.mean(0), r.std(0)
    return (r - mu) / sd, (c - mu) / sd


@pytest.mark.parametrize("change", list(CHANGES))
def test_real_images_changes_are_flagged(neu_stats, change: str) -> None:  # noqa: ANN001
    ref, cur = neu_stats["original"], neu_stats[change]
    r, c = _standardize(ref, cur)
    res = mmd_test(r, c, 1000, seed=0)
    assert res.p_value <= 0.01, res
    ft = feature_tests(ref, cur)
    assert ft["drifted"][0] and ft["feature"][0] == CHANGES[change][1], ft


def test_real_images_random_split_is_not_flagged(neu_stats) -> None:  # noqa: ANN001
    ref = neu_stats["original"]
    for seed in range(3):
        perm = np.random.default_rng(seed).permutation(ref.height)
        a, b = ref[perm[:15]], ref[perm[15:]]
        r, c = _standardize(a, b)
        assert mmd_test(r, c, 1000, seed=seed).p_value > 0.05
        assert not feature_tests(a, b)["drifted"].any()
