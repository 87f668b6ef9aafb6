"""2D projections: PCA by numpy SVD equals scikit-learn's PCA; scaling, subsampled fits, UMAP gating."""

from __future__ import annotations

import contextlib
import sys
import warnings
from collections.abc import Iterator

import numpy as np
import pytest
from sklearn.decomposition import PCA

from jupyter_cvops.embeddings import _projection
from jupyter_cvops.embeddings._projection import _umap_options, pca, project, standardize, umap_available


def _data(n: int = 300, d: int = 12, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, d)) @ rng.normal(size=(d, d)) + rng.normal(size=d) * 5


@pytest.mark.parametrize(("n", "d"), [(300, 12), (40, 3), (5, 20)])
def test_pca_equals_sklearn_up_to_sign(n: int, d: int) -> None:
    x = _data(n, d)
    ours, ratio = pca(x, 2)
    ref = PCA(n_components=2, svd_solver="full").fit(x)
    theirs = ref.transform(x)
    signs = np.sign((ours * theirs).sum(axis=0))
    np.testing.assert_allclose(ours * signs, theirs, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(ratio, ref.explained_variance_ratio_, rtol=1e-6)
    assert ours.dtype == np.float32 and ours.flags["C_CONTIGUOUS"]


def test_pca_sign_convention_is_deterministic() -> None:
    x = _data()
    a, _ = pca(x, 2)
    b, _ = pca(x[::-1].copy(), 2)
    np.testing.assert_allclose(a[::-1], b, rtol=1e-4, atol=1e-4)


def test_pca_more_components_than_rank_pads_with_zeros() -> None:
    coords, ratio = pca(np.array([[0.0, 1.0], [1.0, 0.0], [2.0, -1.0]]), 3)
    assert coords.shape == (3, 3) and ratio.shape == (2,)
    assert np.all(coords[:, 2] == 0)


def test_subsampled_fit_is_seeded_and_close_to_the_full_fit() -> None:
    x = _data(4000, 6)
    full, _ = pca(x, 2)
    sub1, _ = pca(x, 2, seed=1, max_fit=1000)
    sub2, _ = pca(x, 2, seed=1, max_fit=1000)
    np.testing.assert_array_equal(sub1, sub2)
    corr = [abs(np.corrcoef(full[:, k], sub1[:, k])[0, 1]) for k in range(2)]
    assert min(corr) > 0.99


def test_standardize_uses_the_reference_rows() -> None:
    ref = np.array([[0.0, 10.0], [2.0, 10.0]])
    out = standardize(np.array([[1.0, 10.0], [3.0, 12.0]]), ref)
    np.testing.assert_allclose(out, [[0.0, 0.0], [2.0, 2.0]])


def test_project_scales_by_default_and_labels_itself() -> None:
    x = _data(200, 4)
    x[:, 0] *= 1e6  # one column in other units must not own the map
    p = project(x)
    q = project(x, scale=False)
    assert p.method == "pca" and p.describe().startswith("PCA (")
    assert p.explained_variance_ratio[0] < 0.9 < q.explained_variance_ratio[0]
    assert p.coords.shape == (200, 2)


def test_project_rejects_unknown_methods_and_bad_shapes() -> None:
    with pytest.raises(ValueError, match="method"):
        project(np.zeros((3, 2)), "tsne")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="shape"):
        project(np.zeros(3))
    with pytest.raises(ValueError, match="non-empty"):
        pca(np.zeros((0, 3)))
    with pytest.raises(ValueError, match="non-empty"):  # before standardize warns on an empty mean
        project(np.zeros((0, 3)))


def test_umap_missing_names_the_package_and_auto_falls_back(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "umap", None)  # import umap -> ImportError, find_spec -> None
    x = _data(60, 5)
    assert not umap_available()
    with pytest.raises(ImportError, match=r"umap-learn.*pip install umap-learn"):
        project(x, "umap")
    assert project(x, "auto").method == "pca"


def test_auto_falls_back_to_pca_when_umap_is_installed_but_broken(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "umap", None)
    monkeypatch.setattr(_projection, "umap_available", lambda: True)  # found, but the import fails
    p = project(_data(60, 5), "auto")
    assert p.method == "pca" and p.describe().startswith("PCA")


def test_umap_options_fit_small_sets_and_keep_the_seed_quiet() -> None:
    assert _umap_options(30, 2, 7, {}) == {"n_neighbors": 15, "random_state": 7, "n_jobs": 1}
    assert _umap_options(10, 2, 0, {"n_neighbors": 50})["n_neighbors"] == 9
    assert _umap_options(3, 2, 0, {})["init"] == "random"  # spectral init needs n > n_components + 1
    assert "init" not in _umap_options(4, 2, 0, {})
    assert _umap_options(100, 2, 0, {"init": "pca", "n_jobs": 2}) | {"n_neighbors": 0} == {
        "n_neighbors": 0, "init": "pca", "random_state": 0, "n_jobs": 2}
    assert "n_jobs" not in _umap_options(100, 2, 0, {"random_state": None})  # unseeded: parallel


def test_too_few_rows_for_umap() -> None:
    with pytest.raises(ValueError, match="at least 3 rows"):
        project(np.zeros((2, 4)), "umap")
    assert project(np.array([[0.0, 1.0], [1.0, 0.0]]), "auto").method == "pca"


# ---- the real UMAP path (umap-learn is in the test extra; the first fit pays numba's JIT once)

needs_umap = pytest.mark.skipif(not umap_available(), reason="umap-learn not installed")
UMAP_FAST = {"n_epochs": 100}


def _blobs(n: int = 200, d: int = 10, gap: float = 20.0, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Two unit Gaussian blobs whose centres are ``gap`` apart along the diagonal (so they
    stay apart after ``project``'s per-column z-scoring), labels alternating 0, 1."""
    rng = np.random.default_rng(seed)
    labels = np.arange(n) % 2
    centre = np.full(d, gap / np.sqrt(d))
    return rng.normal(size=(n, d)) + labels[:, None] * centre, labels


@contextlib.contextmanager
def _umap_strict() -> Iterator[None]:
    """umap's own UserWarnings (n_neighbors truncated, n_jobs overridden) become errors."""
    with warnings.catch_warnings():
        warnings.filterwarnings("error", category=UserWarning, module=r"umap\.")
        yield


@needs_umap
def test_umap_gives_finite_2d_float32_coords_labelled_umap() -> None:
    x, _ = _blobs()
    with _umap_strict():
        p = project(x, "umap", seed=0, **UMAP_FAST)
    assert p.method == "umap" and p.describe() == "UMAP" and p.explained_variance_ratio.size == 0
    assert p.coords.shape == (200, 2) and p.coords.dtype == np.float32 and p.coords.flags["C_CONTIGUOUS"]
    assert np.isfinite(p.coords).all()


@needs_umap
def test_umap_is_repeatable_for_a_seed() -> None:
    x, _ = _blobs()
    a = project(x, "umap", seed=3, **UMAP_FAST).coords
    b = project(x, "umap", seed=3, **UMAP_FAST).coords
    c = project(x, "umap", seed=4, **UMAP_FAST).coords
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


@needs_umap
def test_auto_picks_umap_when_installed() -> None:
    x, _ = _blobs(60)
    assert project(x, "auto", **UMAP_FAST).method == "umap"


@needs_umap
def test_umap_keeps_two_separated_blobs_apart() -> None:
    x, labels = _blobs()
    coords = project(x, "umap", seed=0, **UMAP_FAST).coords.astype(np.float64)
    centroids = np.stack([coords[labels == k].mean(axis=0) for k in (0, 1)])
    nearest = np.linalg.norm(coords[:, None, :] - centroids[None], axis=2).argmin(axis=1)
    assert (nearest == labels).all()  # a nearest-centroid rule separates them perfectly
    spread = max(np.linalg.norm(coords[labels == k] - centroids[k], axis=1).max() for k in (0, 1))
    assert np.linalg.norm(centroids[0] - centroids[1]) > 2 * spread


@needs_umap
@pytest.mark.parametrize("n", [3, 4, 10, 30])
def test_umap_works_for_small_sets_without_warnings(n: int) -> None:
    x, _ = _blobs(n)
    with _umap_strict():
        p = project(x, "umap", n_neighbors=50, **UMAP_FAST)
    assert p.method == "umap" and p.coords.shape == (n, 2) and np.isfinite(p.coords).all()
