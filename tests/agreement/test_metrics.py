"""Agreement metrics against published values, reference packages and real multi-annotator data."""

from __future__ import annotations

import doctest
import io
import json
import math
import pickle
import zipfile
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from jupyter_cvops.agreement import _boxes as _agreement_boxes, _stats as _agreement_stats, _over_time as _agreement_time, _dawid_skene, metrics as agreement
from jupyter_cvops.agreement.metrics import (
    AgreementReport, Ratings, agreement_report, annotator_agreement, bootstrap_ci, class_confusion, cohen_kappa,
    consensus, fleiss_kappa, krippendorff_alpha, krippendorff_alpha_from_counts, pairwise_kappa,
    per_class_agreement, ratings_from_labels,
)

krippendorff = pytest.importorskip("krippendorff")
sm_inter_rater = pytest.importorskip("statsmodels.stats.inter_rater")
sk_metrics = pytest.importorskip("sklearn.metrics")

LEVELS = ("nominal", "ordinal", "interval", "ratio")


# ------------------------------------------------------------------ reference material

@pytest.fixture(scope="module")
def refs(shared_data: Path) -> dict:
    return json.loads((shared_data / "reference-values" / "reference_values.json").read_text())


def _table(shared_data: Path, name: str) -> pl.DataFrame:
    return pl.read_csv(shared_data / "reference-values" / "transcribed" / name)


def _coders(shared_data: Path, name: str) -> np.ndarray:
    df = _table(shared_data, name)
    return df.drop("coder").cast(pl.Float64).to_numpy()          # nulls -> NaN


def _load_cifar10n(path: Path) -> dict[str, np.ndarray]:
    """CIFAR-10_human.pt is a zipped pickle of numpy arrays: read it without torch, numpy classes only."""

    class NumpyOnly(pickle.Unpickler):
        def find_class(self, module: str, name: str):  # noqa: ANN202
            if module.split(".")[0] == "numpy" or (module, name) == ("_codecs", "encode"):
                return super().find_class(module, name)
            raise pickle.UnpicklingError(f"refusing {module}.{name}")

        def persistent_load(self, pid):  # noqa: ANN001, ANN202
            raise pickle.UnpicklingError("tensor storage not expected")

    with zipfile.ZipFile(path) as z:
        name = next(n for n in z.namelist() if n.endswith("data.pkl"))
        return NumpyOnly(io.BytesIO(z.read(name))).load()


@pytest.fixture(scope="module")
def cifar10n(shared_data: Path) -> dict[str, np.ndarray]:
    return _load_cifar10n(shared_data / "multi-annotator" / "cifar-10n" / "data" / "CIFAR-10_human.pt")


# ------------------------------------------------------------------ published values

def test_krippendorff_2011_example_all_levels(shared_data: Path, refs: dict) -> None:
    data = _coders(shared_data, "krippendorff_2011_4coders_12units.csv")
    ref = refs["krippendorff_alpha"]["K2011_4x12"]
    assert krippendorff_alpha(data) == pytest.approx(113 / 152, abs=1e-12)
    assert krippendorff_alpha(data, "nominal") == pytest.approx(ref["nominal"], abs=1e-6)
    for level in ("ordinal", "interval", "ratio"):
        assert round(krippendorff_alpha(data, level), 3) == ref[level]
    for level in LEVELS:
        assert krippendorff_alpha(data, level) == pytest.approx(
            krippendorff.alpha(data, level_of_measurement=level), abs=1e-9)


def test_krippendorff_wikipedia_example(shared_data: Path, refs: dict) -> None:
    data = _coders(shared_data, "krippendorff_wikipedia_3coders_15units.csv")
    ref = refs["krippendorff_alpha"]["wikipedia_3x15"]
    assert round(krippendorff_alpha(data, "nominal"), 6) == ref["nominal"]
    assert round(krippendorff_alpha(data, "interval"), 6) == ref["interval"]


def test_krippendorff_string_ratings_with_domain(shared_data: Path) -> None:
    data = _coders(shared_data, "krippendorff_2011_4coders_12units.csv")
    names = np.array(["very low", "low", "mid", "high", "very high"], dtype=object)
    words = np.where(np.isnan(data), None, names[np.nan_to_num(data, nan=1).astype(int) - 1])
    assert krippendorff_alpha(words) == pytest.approx(113 / 152, abs=1e-12)
    assert krippendorff_alpha(words, "ordinal", value_domain=list(names)) == pytest.approx(
        krippendorff_alpha(data, "ordinal"), abs=1e-12)
    numbers = np.where(np.isnan(data), None, data).astype(object)      # numbers with None
    assert krippendorff_alpha(numbers, "interval") == pytest.approx(krippendorff_alpha(data, "interval"), abs=1e-12)


def test_fleiss_wikipedia_and_1971(shared_data: Path, refs: dict) -> None:
    wiki = _table(shared_data, "fleiss_wikipedia_10subjects_14raters.csv").select(
        [f"cat{i}" for i in range(1, 6)]).to_numpy()
    ref = refs["fleiss_kappa"]
    assert round(fleiss_kappa(wiki), ref["wikipedia"]["decimals"]) == ref["wikipedia"]["kappa"]
    raters = _table(shared_data, "fleiss1971_diagnoses_30subjects_6raters.csv").drop("subject").to_numpy()
    counts = np.stack([(raters == c).sum(1) for c in range(1, 6)], axis=1)
    assert counts.sum(0).tolist() == ref["fleiss1971_diagnoses"]["category_totals"]
    assert fleiss_kappa(counts) == pytest.approx(ref["fleiss1971_diagnoses"]["kappa"], abs=5e-8)
    for t in (wiki, counts):
        assert fleiss_kappa(t) == pytest.approx(sm_inter_rater.fleiss_kappa(t, method="fleiss"), abs=1e-12)
        assert fleiss_kappa(t, varying="generalized") == pytest.approx(fleiss_kappa(t), abs=1e-12)


def _expand(table: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    a, b = np.nonzero(table)
    reps = table[a, b]
    return np.repeat(a, reps), np.repeat(b, reps)


def test_cohen_sas_table(shared_data: Path, refs: dict) -> None:
    table = _table(shared_data, "cohen_sas_3x3_table.csv").drop("rater1\\rater2").to_numpy()
    a, b = _expand(table)
    ref = refs["cohen_kappa"]["sas_3x3"]
    assert round(cohen_kappa(a, b), 4) == ref["unweighted"]["kappa"]
    assert round(cohen_kappa(a, b, weights="linear"), 4) == ref["linear_weights_0_1_2"]["kappa"]


def test_cohen_irr_anxiety(shared_data: Path, refs: dict) -> None:
    df = _table(shared_data, "irr_anxiety_20subjects_3raters.csv")
    a, b = df["rater2"].to_numpy(), df["rater3"].to_numpy()
    ref = refs["cohen_kappa"]["irr_anxiety_rater2_vs_rater3"]
    assert cohen_kappa(a, b) == pytest.approx(ref["unweighted"], abs=5e-10)
    assert cohen_kappa(a, b, weights="linear") == pytest.approx(ref["linear"], abs=5e-8)
    assert cohen_kappa(a, b, weights="quadratic") == pytest.approx(ref["squared"], abs=5e-8)
    # irr's numeric weight vector c(0,0,1,1,2): disagreement weight by distance of the observed levels
    levels = np.unique(np.r_[a, b])
    dist = np.abs(np.subtract.outer(np.arange(levels.size), np.arange(levels.size)))
    w = np.array([0.0, 0.0, 1.0, 1.0, 2.0])[dist]
    assert cohen_kappa(a, b, weights=w) == pytest.approx(ref["weights_0_0_1_1_2"], abs=5e-8)
    for weights in (None, "linear", "quadratic"):
        assert cohen_kappa(a, b, weights=weights) == pytest.approx(
            sk_metrics.cohen_kappa_score(a, b, weights=weights), abs=1e-12)


# ------------------------------------------------------------------ reference packages, random data

@pytest.mark.parametrize("seed", range(4))
def test_alpha_equals_krippendorff_package(seed: int) -> None:
    rng = np.random.default_rng(seed)
    m, n, k = rng.integers(2, 7), rng.integers(5, 400), rng.integers(2, 8)
    data = rng.integers(0, k, size=(m, n)).astype(float) * (1.5 if seed % 2 else 1.0) - seed
    data[rng.random(data.shape) < 0.3] = np.nan
    for level in LEVELS if seed < 2 else ("nominal", "ordinal", "interval"):   # ratio needs >= 0 values
        assert krippendorff_alpha(data, level) == pytest.approx(
            krippendorff.alpha(data, level_of_measurement=level), abs=1e-9)


def test_alpha_from_counts_equals_package() -> None:
    rng = np.random.default_rng(7)
    counts = rng.integers(0, 4, size=(200, 5))
    for level in ("nominal", "ordinal", "interval"):
        assert krippendorff_alpha_from_counts(counts, level) == pytest.approx(
            krippendorff.alpha(value_counts=counts, level_of_measurement=level), abs=1e-9)


def test_alpha_non_integer_and_many_values_paths() -> None:
    rng = np.random.default_rng(3)
    data = rng.normal(size=(4, 300)).round(1)          # floats: the sorting path
    data[rng.random(data.shape) < 0.2] = np.nan
    assert krippendorff_alpha(data, "interval") == pytest.approx(
        krippendorff.alpha(data, level_of_measurement="interval"), abs=1e-9)
    wide = rng.integers(0, 5, size=(12, 500)).astype(float)   # 12 annotators: too many for the pattern keys
    wide[rng.random(wide.shape) < 0.5] = np.nan
    assert krippendorff_alpha(wide) == pytest.approx(krippendorff.alpha(wide, level_of_measurement="nominal"),
                                                     abs=1e-9)


@pytest.mark.parametrize("weights", [None, "linear", "quadratic"])
def test_cohen_equals_sklearn(weights: str | None) -> None:
    rng = np.random.default_rng(1)
    a = rng.integers(0, 5, 300)
    b = np.where(rng.random(300) < 0.6, a, rng.integers(0, 5, 300))
    assert cohen_kappa(a, b, weights=weights) == pytest.approx(
        sk_metrics.cohen_kappa_score(a, b, weights=weights), abs=1e-12)
    names = np.array(["ok", "dent", "scratch", "stain", "rust"], dtype=object)
    assert cohen_kappa(names[a], names[b]) == pytest.approx(sk_metrics.cohen_kappa_score(a, b), abs=1e-12)


def test_cohen_drops_missing_pairs() -> None:
    a = [1, 2, None, 3, 1]
    b = [1, 2, 3, float("nan"), 2]
    assert cohen_kappa(a, b) == pytest.approx(sk_metrics.cohen_kappa_score([1, 2, 1], [1, 2, 2]), abs=1e-12)


# ------------------------------------------------------------------ real multi-annotator data

def test_cifar10h_counts(shared_data: Path) -> None:
    counts = np.load(shared_data / "multi-annotator" / "cifar-10h" / "cifar10h-counts.npy")
    per_image = counts.sum(1)
    assert per_image.min() < per_image.max()
    with pytest.raises(ValueError, match="same number of ratings"):
        fleiss_kappa(counts)
    alpha = krippendorff_alpha_from_counts(counts)
    assert alpha == pytest.approx(krippendorff.alpha(value_counts=counts, level_of_measurement="nominal"),
                                  abs=1e-9)
    n = per_image.sum()
    assert fleiss_kappa(counts, varying="generalized") == pytest.approx(1 - n / (n - 1) * (1 - alpha), abs=1e-12)
    fifty = counts[per_image == 50]                    # the constant-rater subset: plain Fleiss
    assert fifty.shape[0] > 2000
    assert fleiss_kappa(fifty) == pytest.approx(sm_inter_rater.fleiss_kappa(fifty, method="fleiss"), abs=1e-12)
    assert 0.9 < fleiss_kappa(fifty) < 1.0             # CIFAR-10H annotators mostly agree


def test_cifar10n_three_labels(cifar10n: dict[str, np.ndarray]) -> None:
    labels = np.stack([cifar10n[f"random_label{i}"] for i in (1, 2, 3)])
    alpha = krippendorff_alpha(labels.astype(float))
    assert alpha == pytest.approx(krippendorff.alpha(labels, level_of_measurement="nominal"), abs=1e-9)
    n = labels.shape[1]
    frame = pl.DataFrame({"item": np.tile(np.arange(n), 3), "annotator": np.repeat(["r1", "r2", "r3"], n),
                          "class_name": labels.reshape(-1).astype(str)})
    r = ratings_from_labels(frame)
    assert krippendorff_alpha(r.reliability_data()) == pytest.approx(alpha, abs=1e-12)
    pw = pairwise_kappa(r)
    for (i, j), row in zip([(0, 1), (0, 2), (1, 2)], pw.iter_rows(named=True)):
        assert (row["annotator_a"], row["annotator_b"]) == (f"r{i + 1}", f"r{j + 1}")
        assert row["n_shared"] == n
        assert row["kappa"] == pytest.approx(sk_metrics.cohen_kappa_score(labels[i], labels[j]), abs=1e-12)
    # majority vote equals the published aggregate wherever the vote is not tied
    fit = consensus(r, "majority")
    vote = np.asarray(r.classes, dtype=int)[fit.labels]
    assert (vote[~fit.tied] == cifar10n["aggre_label"][~fit.tied]).all()
    assert (vote == cifar10n["clean_label"]).mean() > 0.85


def test_dawid_skene_equals_crowdkit(cifar10n: dict[str, np.ndarray]) -> None:
    crowdkit = pytest.importorskip("crowdkit.aggregation")
    pd = pytest.importorskip("pandas")
    labels = np.stack([cifar10n[f"random_label{i}"] for i in (1, 2, 3)])[:, :4000]
    ann, item = np.nonzero(np.ones_like(labels, dtype=bool))
    lab = labels[ann, item]
    fit = _dawid_skene.dawid_skene(item, ann, lab, n_items=4000, n_annotators=3, n_classes=10)
    ref = crowdkit.DawidSkene(n_iter=100, tol=1e-5)
    ref_labels = ref.fit_predict(pd.DataFrame({"task": item, "worker": ann, "label": lab}))
    probs = ref.probas_.sort_index()
    assert fit.n_iter == len(ref.loss_history_)
    assert np.abs(probs[sorted(probs.columns)].to_numpy() - fit.probabilities).max() < 1e-8
    assert (ref_labels.sort_index().to_numpy() == fit.labels).all()


# ------------------------------------------------------------------ properties

@st.composite
def _ratings(draw: st.DrawFn) -> np.ndarray:
    m = draw(st.integers(2, 5))
    n = draw(st.integers(2, 25))
    k = draw(st.integers(2, 5))
    vals = draw(st.lists(st.integers(0, k - 1), min_size=m * n, max_size=m * n))
    miss = draw(st.lists(st.booleans(), min_size=m * n, max_size=m * n))
    data = np.asarray(vals, dtype=float).reshape(m, n)
    data[np.asarray(miss).reshape(m, n)] = np.nan
    return data


@settings(max_examples=60, deadline=None)
@given(data=_ratings(), seed=st.integers(0, 2**16))
def test_alpha_invariant_to_annotator_order_and_relabeling(data: np.ndarray, seed: int) -> None:
    rng = np.random.default_rng(seed)
    base = krippendorff_alpha(data)
    perm_rows = data[rng.permutation(data.shape[0])]
    perm_items = data[:, rng.permutation(data.shape[1])]
    relabel = rng.permutation(10) * 3 + 7                       # a bijection on the class values
    relabeled = np.where(np.isnan(data), np.nan, relabel[np.nan_to_num(data).astype(int)])
    for other in (perm_rows, perm_items, relabeled):
        v = krippendorff_alpha(other)
        assert (math.isnan(v) and math.isnan(base)) or v == pytest.approx(base, abs=1e-12)


@settings(max_examples=40, deadline=None)
@given(data=_ratings())
def test_perfect_agreement_gives_one(data: np.ndarray) -> None:
    truth = np.arange(data.shape[1]) % 3
    perfect = np.where(np.isnan(data), np.nan, truth[None, :])
    pairable = (~np.isnan(perfect)).sum(0) >= 2
    values = set(truth[pairable].tolist())
    alpha = krippendorff_alpha(perfect)
    if len(values) >= 2:
        assert alpha == 1.0
    else:
        assert math.isnan(alpha)
    both = ~np.isnan(perfect[0]) & ~np.isnan(perfect[1])
    if len(set(truth[both].tolist())) >= 2:
        assert cohen_kappa(perfect[0][both], perfect[1][both]) == 1.0
    counts = np.stack([4 * (truth == c) for c in range(3)], axis=1)
    if len(set(truth.tolist())) >= 2:
        assert fleiss_kappa(counts) == 1.0


# ------------------------------------------------------------------ frames and reports

def _long(data: np.ndarray, names: list[str] | None = None) -> pl.DataFrame:
    a, i = np.nonzero(~np.isnan(data))
    names = names or [f"c{j}" for j in range(int(np.nanmax(data)) + 1)]
    return pl.DataFrame({"item": i, "annotator": [f"ann{x}" for x in a],
                         "class_name": [names[int(v)] for v in data[a, i]]})


@pytest.fixture(scope="module")
def noisy() -> np.ndarray:
    rng = np.random.default_rng(11)
    truth = rng.integers(0, 4, 300)
    data = np.stack([np.where(rng.random(300) < acc, truth, rng.integers(0, 4, 300)) for acc in (0.9, 0.8, 0.6, 0.7)])
    data = data.astype(float)
    data[rng.random(data.shape) < 0.25] = np.nan
    return data


def test_ratings_from_labels_columns_duplicates_and_kind() -> None:
    from datetime import datetime, timezone
    df = pl.DataFrame({
        "image_id": ["b", "a", "a", "a", "a"], "annotator": ["x", "x", "y", "x", "y"],
        "class_name": ["ok", "dent", "dent", "scratch", "dent"], "kind": ["image"] * 4 + ["box"],
        "created_at": [datetime(2026, 1, d) for d in (1, 2, 3, 4, 5)]})
    r = ratings_from_labels(df)
    assert r.items.to_list() == ["a", "b"] and r.annotators == ("x", "y")
    assert r.classes == ("dent", "ok", "scratch")
    assert r.codes.tolist() == [[2, 1], [0, -1]]            # x relabeled "a" later: the latest counts
    assert any("repeated" in n for n in r.notes) and any("kind" in n for n in r.notes)
    assert r.times[0, 0] == int(datetime(2026, 1, 4, tzinfo=timezone.utc).timestamp()) * 1_000_000
    r2 = ratings_from_labels(df, classes=["ok", "dent", "scratch", "stain"])
    assert r2.classes[-1] == "stain" and r2.counts().sum(0)[-1] == 0
    with pytest.raises(ValueError, match="not in `classes`"):
        ratings_from_labels(df, classes=["ok"])
    with pytest.raises(ValueError, match="no item column"):
        ratings_from_labels(df.drop("image_id"))


def test_pairwise_and_confusion_match_sklearn(noisy: np.ndarray) -> None:
    r = ratings_from_labels(_long(noisy))
    pw = pairwise_kappa(r)
    assert pw.height == 6
    for row in pw.iter_rows(named=True):
        i, j = int(row["annotator_a"][-1]), int(row["annotator_b"][-1])
        both = ~np.isnan(noisy[i]) & ~np.isnan(noisy[j])
        assert row["n_shared"] == both.sum()
        assert row["kappa"] == pytest.approx(sk_metrics.cohen_kappa_score(noisy[i, both], noisy[j, both]), abs=1e-12)
        conf = class_confusion(r, row["annotator_a"], row["annotator_b"])["n"].to_numpy().reshape(4, 4)
        assert (conf == sk_metrics.confusion_matrix(noisy[i, both], noisy[j, both], labels=[0, 1, 2, 3])).all()
    pooled = class_confusion(r)["n"].to_numpy().reshape(4, 4)
    assert (pooled == pooled.T).all()
    pairs_total = sum(class_confusion(r, row["annotator_a"], row["annotator_b"])["n"].sum()
                      for row in pw.iter_rows(named=True))
    assert pooled[np.triu_indices(4)].sum() == pairs_total                 # each label pair once


def test_per_class_kappa_is_fleiss_one_vs_rest() -> None:
    rng = np.random.default_rng(5)
    truth = rng.integers(0, 3, 200)
    data = np.stack([np.where(rng.random(200) < 0.75, truth, rng.integers(0, 3, 200)) for _ in range(4)]).astype(float)
    r = ratings_from_labels(_long(data))
    pc = per_class_agreement(r)
    counts = r.counts()
    for c, row in enumerate(pc.iter_rows(named=True)):
        binary = np.stack([counts[:, c], counts.sum(1) - counts[:, c]], axis=1)
        assert row["kappa"] == pytest.approx(sm_inter_rater.fleiss_kappa(binary), abs=1e-12)
        agree = (counts[:, c] * (counts[:, c] - 1)).sum()
        assert row["specific_agreement"] == pytest.approx(agree / (counts[:, c] * 3).sum(), abs=1e-12)


def test_majority_tie_break_and_dawid_skene_defaults() -> None:
    df = pl.DataFrame({"item": [1, 1, 2, 2, 3, 3, 4], "annotator": ["a", "b", "a", "b", "a", "b", "a"],
                       "class_name": ["x", "y", "y", "y", "x", "y", "z"]})
    fit = consensus(df, "majority")
    assert fit.labels.tolist() == [1, 1, 1, 2] and fit.tied.tolist() == [True, False, True, False]
    ds = consensus(df)
    assert ds.method == "dawid-skene" and ds.converged
    assert np.allclose(ds.probabilities.sum(1), 1.0)
    with pytest.raises(ValueError, match="method"):
        consensus(df, "vote")


def test_annotator_agreement(noisy: np.ndarray) -> None:
    r = ratings_from_labels(_long(noisy))
    fit = consensus(r, "majority")
    aa = annotator_agreement(r, fit)
    assert aa["annotator"].to_list() == ["ann0", "ann1", "ann2", "ann3"]
    ranks = aa["agreement_with_others"].to_numpy()
    assert ranks[0] > ranks[2]                                      # the most accurate agrees most
    row = aa.row(1, named=True)
    data = r.reliability_data()
    sel = (~np.isnan(data[1])) & ((~np.isnan(data)).sum(0) >= 2)
    assert row["agreement_with_consensus"] == pytest.approx((data[1, sel] == fit.labels[sel]).mean())


def test_bootstrap_interval_and_pattern_resampling(noisy: np.ndarray) -> None:
    r = ratings_from_labels(_long(noisy))
    b1 = bootstrap_ci(r, n_boot=400, seed=3)
    assert b1.equals(bootstrap_ci(r, n_boot=400, seed=3))
    alpha = b1.row(0, named=True)
    assert alpha["ci_low"] < alpha["estimate"] < alpha["ci_high"] and alpha["n_valid"] == 400
    # same distribution as resampling items one by one (naive reference, different random stream)
    rng = np.random.default_rng(0)
    data = r.reliability_data()
    naive = [krippendorff_alpha(data[:, rng.integers(0, data.shape[1], data.shape[1])]) for _ in range(400)]
    assert np.quantile(naive, 0.025) == pytest.approx(alpha["ci_low"], abs=0.03)
    assert np.quantile(naive, 0.975) == pytest.approx(alpha["ci_high"], abs=0.03)
    kap = b1.filter(pl.col("metric") == "cohen_kappa")
    assert kap.height == 6 and (kap["ci_low"] < kap["estimate"]).all()


def test_report_schema_and_to_dict(noisy: np.ndarray) -> None:
    rep = agreement_report(_long(noisy), bootstrap=200, consensus="majority")
    assert isinstance(rep, AgreementReport)
    assert rep.meta["consensus"] == "majority"
    assert rep.overall["metric"].to_list() == ["krippendorff_alpha", "fleiss_kappa", "mean_pairwise_kappa"]
    assert rep.metric("krippendorff_alpha") == pytest.approx(krippendorff_alpha(noisy), abs=1e-12)
    assert rep.pairwise.columns == ["annotator_a", "annotator_b", "n_shared", "observed_agreement", "kappa",
                                    "reason", "ci_low", "ci_high"]
    assert rep.consensus.columns == ["item", "class_name", "confidence", "n_ratings", "tied"]
    assert rep.windows.height == 0 and rep.alerts.height == 0 and rep.boxes is None
    km = rep.kappa_matrix()
    assert km.shape == (4, 5) and km["ann0"][0] == 1.0
    json.dumps(rep.to_dict(), default=str)
    assert set(rep.to_dict()) == set(AgreementReport.FRAMES) | {"boxes", "meta"}


def test_report_from_ratings_and_fleiss_method() -> None:
    data = np.array([[0, 1, 1, 0, 2], [0, 1, 0, 0, 2], [0, 1, 1, np.nan, 2]])
    rep = agreement_report(Ratings.from_matrix(data), bootstrap=0)
    assert rep.overall.filter(pl.col("metric") == "fleiss_kappa")["method"][0].startswith("fleiss-generalized")
    assert math.isnan(rep.pairwise["ci_low"][0])


# ------------------------------------------------------------------ bad input

def test_one_annotator_and_single_ratings() -> None:
    df = pl.DataFrame({"item": [1, 2, 3], "annotator": ["a"] * 3, "class_name": ["x", "y", "x"]})
    assert math.isnan(krippendorff_alpha(ratings_from_labels(df).reliability_data()))
    rep = agreement_report(df, bootstrap=50)
    row = rep.overall.row(0, named=True)
    assert math.isnan(row["value"]) and "2 or more ratings" in row["reason"]
    assert rep.pairwise.height == 0
    assert rep.annotators["reason"][0] == "no item rated by anyone else"
    assert (rep.per_class["reason"] == "only used on items rated once").all()


def test_unused_classes_and_no_variance() -> None:
    df = pl.DataFrame({"item": [1, 1, 2, 2], "annotator": ["a", "b"] * 2, "class_name": ["x"] * 4})
    pc = per_class_agreement(ratings_from_labels(df, classes=["x", "y"]))
    assert pc["reason"].to_list() == ["the only class among pairable ratings (no variance)", "never used"]
    assert pc["specific_agreement"][0] == 1.0 and math.isnan(pc["kappa"][1])
    pw = pairwise_kappa(df)
    assert math.isnan(pw["kappa"][0]) and pw["reason"][0].startswith("no variance")
    assert math.isnan(krippendorff_alpha([[1, 1], [1, 1]]))
    assert math.isnan(cohen_kappa(["x", "x"], ["x", "x"]))
    assert math.isnan(fleiss_kappa([[2, 0], [2, 0]]))


def test_annotators_who_never_overlap() -> None:
    df = pl.DataFrame({"item": [1, 1, 2, 2, 3], "annotator": ["a", "b", "a", "b", "c"],
                       "class_name": ["x", "y", "y", "y", "x"]})
    pw = pairwise_kappa(df).filter(pl.col("annotator_b") == "c")
    assert pw["reason"].to_list() == ["never rated the same item"] * 2 and pw["kappa"].is_nan().all()
    with pytest.raises(ValueError, match="no item has a label from both"):
        cohen_kappa(["x", None], [None, "y"])


def test_many_annotators_list_only_overlapping_pairs() -> None:
    rng = np.random.default_rng(2)
    rows = [(i, f"w{(i // 10 * 3 + j) % 400}", str(rng.integers(0, 3))) for i in range(2000) for j in range(3)]
    df = pl.DataFrame(rows, schema=["item", "annotator", "class_name"], orient="row")
    r = ratings_from_labels(df)
    assert r.n_annotators > _agreement_stats.MAX_LISTED_PAIRS_ANNOTATORS
    pw = pairwise_kappa(r)
    assert (pw["n_shared"] > 0).all()
    for row in pw.head(5).iter_rows(named=True):
        a, b = r.annotator_index(row["annotator_a"]), r.annotator_index(row["annotator_b"])
        both = (r.codes[a] >= 0) & (r.codes[b] >= 0)
        assert row["n_shared"] == both.sum()


@pytest.mark.parametrize("call, match", [
    (lambda: krippendorff_alpha([1, 2, 3]), "2-d"),
    (lambda: krippendorff_alpha([[1, np.inf], [1, 2]]), "infinite"),
    (lambda: krippendorff_alpha([["a", "b"], ["a", "b"]], "ordinal"), "value_domain"),
    (lambda: krippendorff_alpha([[1, 2]], "nominal", value_domain=[1]), "not in the domain"),
    (lambda: krippendorff_alpha([[1, 2]], "cardinal"), "level"),
    (lambda: fleiss_kappa([[1, -1]]), "non-negative"),
    (lambda: fleiss_kappa([[1, 0], [1, 0]]), "at least 2"),
    (lambda: fleiss_kappa([[2, 0]], varying="maybe"), "varying"),
    (lambda: cohen_kappa([1, 2], [1]), "length"),
    (lambda: cohen_kappa([1, 2], [1, 2], weights="cubic"), "weights"),
    (lambda: cohen_kappa([1, 2], [1, 2], weights=np.ones((3, 3))), "2 x 2"),
    (lambda: krippendorff_alpha_from_counts([[1, 1]], value_domain=[1, 2, 3]), "value_domain"),
    (lambda: bootstrap_ci(pl.DataFrame({"item": [1], "annotator": ["a"], "class_name": ["x"]}), ci=1.5), "ci"),
    (lambda: ratings_from_labels(pl.DataFrame({"item": [], "annotator": [], "class_name": []},
                                              schema={"item": pl.Int64, "annotator": pl.String,
                                                      "class_name": pl.String})), "no labels"),
])
def test_bad_input_raises_clearly(call, match: str) -> None:  # noqa: ANN001
    with pytest.raises(ValueError, match=match):
        call()


def test_docstring_examples() -> None:
    for mod in (agreement, _agreement_stats, _agreement_time, _agreement_boxes, _dawid_skene):
        res = doctest.testmod(mod, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
        assert res.failed == 0, mod.__name__
