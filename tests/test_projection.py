"""2D projections: PCA by numpy SVD equals scikit-learn's PCA; scaling, subsampled fits, UMAP gating."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.decomposition import PCA

from jupyter_cvops._projection import pca, project, standardize, umap_available


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


def test_umap_is_optional() -> None:
    x = _data(60, 5)
    if umap_available():
        assert project(x, "umap", n_neighbors=5).method == "umap"
    else:
        with pytest.raises(ImportError, match="umap-learn"):
            project(x, "umap")
        assert project(x, "auto").method == "pca"
