"""2D projections of embeddings for display: PCA (numpy SVD) and, when installed, UMAP.

Pure functions on arrays: no store, no widget. The drift explorer projects reference and
current embeddings together so both sets share one map.

Examples
--------
>>> import numpy as np
>>> x = np.random.default_rng(0).normal(size=(100, 5))
>>> project(x).coords.shape
(100, 2)
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

__all__ = ["Projection", "pca", "project", "standardize", "umap_available"]

Method = Literal["pca", "umap", "auto"]

_UMAP_MIN_ROWS = 3  # fewer rows leave UMAP no neighbour graph (n_neighbors must be >= 2)


@dataclass(frozen=True)
class Projection:
    """Coordinates of a projection and how they were made.

    Attributes
    ----------
    coords
        (n, n_components) float32, C-contiguous (ready for a binary buffer).
    method
        ``"pca"`` or ``"umap"``.
    explained_variance_ratio
        Share of the variance each PCA component explains (empty for UMAP).

    Examples
    --------
    >>> p = project(np.eye(4))
    >>> p.method, p.coords.dtype
    ('pca', dtype('float32'))
    """

    coords: np.ndarray
    method: str
    explained_variance_ratio: np.ndarray

    def describe(self) -> str:
        """A short label, e.g. ``"PCA (71% of variance)"``.

        Examples
        --------
        >>> project(np.diag([3.0, 2.0, 1.0])).describe().startswith("PCA")
        True
        """
        if self.method == "pca":
            return f"PCA ({100 * float(self.explained_variance_ratio.sum()):.0f}% of variance)"
        return "UMAP"


def umap_available() -> bool:
    """Whether ``umap-learn`` is importable (``method="auto"`` then uses it).

    Examples
    --------
    >>> isinstance(umap_available(), bool)
    True
    """
    return importlib.util.find_spec("umap") is not None


def _import_umap(required: bool) -> Any:
    """The ``umap`` module; ``None`` when it cannot be imported and is not ``required``."""
    try:
        import umap
    except ImportError as exc:
        if required:
            raise ImportError("method='umap' needs the umap-learn package (pip install umap-learn); "
                              "method='pca' needs nothing") from exc
        return None
    return umap


def _umap_options(n: int, n_components: int, seed: int, options: dict[str, Any]) -> dict[str, Any]:
    """``umap.UMAP`` keywords that work for ``n`` rows and are quiet about the seed.

    ``n_neighbors`` (default 15) is clipped to ``n - 1``, spectral initialisation needs
    more than ``n_components + 1`` rows (else ``init="random"``), and a seed makes UMAP
    single-threaded, so ``n_jobs=1`` is passed with it. Options the caller gives win,
    except ``n_neighbors``, which is only ever lowered.
    """
    out = dict(options)
    out["n_neighbors"] = min(int(out.get("n_neighbors", 15)), n - 1)
    if n <= n_components + 1:
        out.setdefault("init", "random")
    out.setdefault("random_state", seed)
    if out["random_state"] is not None:
        out.setdefault("n_jobs", 1)
    return out


def standardize(x: Any, reference: Any = None) -> np.ndarray:
    """Z-score the columns of ``x`` with the mean and std of ``reference`` (default ``x``).

    Constant columns (std 0) are centred and left unscaled, so they contribute nothing.

    Parameters
    ----------
    x
        (n, d) array.
    reference
        (m, d) array giving the mean and std; ``None`` uses ``x``.

    Returns
    -------
    numpy.ndarray
        (n, d) float64.

    Examples
    --------
    >>> standardize(np.array([[0.0, 5.0], [2.0, 5.0]])).tolist()
    [[-1.0, 0.0], [1.0, 0.0]]
    """
    arr = np.asarray(x, dtype=np.float64)
    ref = arr if reference is None else np.asarray(reference, dtype=np.float64)
    mean = ref.mean(axis=0)
    std = ref.std(axis=0)
    std[~np.isfinite(std) | (std <= 1e-12)] = 1.0
    z: np.ndarray = (arr - mean) / std
    return z


def pca(x: Any, n_components: int = 2, *, seed: int = 0, max_fit: int = 50_000) -> tuple[np.ndarray, np.ndarray]:
    """Principal components by numpy SVD of the centred data.

    Signs follow scikit-learn's convention (the largest-magnitude loading of each
    component is positive), so results equal ``sklearn.decomposition.PCA`` up to
    floating-point error. Above ``max_fit`` rows the components are fitted on a
    seeded random subset of that many rows and every row is projected.

    Parameters
    ----------
    x
        (n, d) array, n >= 1.
    n_components
        Output dimensions; columns beyond ``min(n, d)`` are zeros.
    seed
        Seed of the fitting subset (only used when n > ``max_fit``).
    max_fit
        Most rows the SVD sees.

    Returns
    -------
    coords : numpy.ndarray
        (n, n_components) float32 scores.
    explained_variance_ratio : numpy.ndarray
        (k,) float64 with k = min(n_components, n, d).

    Examples
    --------
    >>> x = np.array([[0.0, 0.0], [1.0, 1.0], [2.0, 2.0]])
    >>> coords, ratio = pca(x, 1)
    >>> coords.ravel().astype(float).round(3).tolist(), ratio.round(3).tolist()
    ([-1.414, 0.0, 1.414], [1.0])
    """
    arr = np.asarray(x, dtype=np.float64)
    if arr.ndim != 2 or arr.shape[0] == 0:
        raise ValueError(f"pca needs a non-empty (n, d) array, got shape {arr.shape}")
    arr = np.where(np.isfinite(arr), arr, 0.0)
    n, d = arr.shape
    fit = arr
    if n > max_fit:
        rows = np.random.default_rng(seed).choice(n, size=max_fit, replace=False)
        fit = arr[np.sort(rows)]
    mean = fit.mean(axis=0)
    _, s, vt = np.linalg.svd(fit - mean, full_matrices=False)
    k = min(n_components, vt.shape[0])
    comps = vt[:k]
    signs = np.sign(comps[np.arange(k), np.abs(comps).argmax(axis=1)])
    signs[signs == 0] = 1.0
    comps = comps * signs[:, None]
    var = s**2
    total = var.sum()
    ratio = var[:k] / total if total > 0 else np.zeros(k)
    out = np.zeros((n, n_components), dtype=np.float32)
    out[:, :k] = (arr - mean) @ comps.T
    return out, ratio


def project(
    x: Any,
    method: Method = "pca",
    *,
    n_components: int = 2,
    seed: int = 0,
    scale: bool = True,
    scale_reference: Any = None,
    **umap_options: Any,
) -> Projection:
    """Project embeddings to ``n_components`` dimensions for a scatter plot.

    Parameters
    ----------
    x
        (n, d) array of embeddings.
    method
        ``"pca"`` (default: fast at any n), ``"umap"`` (needs ``umap-learn``; raises
        ``ImportError`` naming the package otherwise, ``ValueError`` below 3 rows) or
        ``"auto"`` (UMAP when ``umap-learn`` is installed and importable and there are
        at least 3 rows, else PCA).
    n_components
        Output dimensions.
    seed
        Seed (PCA's fitting subset; UMAP's ``random_state``: seeded UMAP is repeatable
        but single-threaded; pass ``random_state=None`` for a parallel, unseeded fit).
    scale
        Z-score the columns first (named image statistics come in very different
        units). ``False`` for embeddings whose geometry matters as is.
    scale_reference
        Rows whose mean and std scale ``x`` (e.g. the reference set); default ``x``.
    **umap_options
        Passed to ``umap.UMAP`` (e.g. ``n_neighbors``, ``min_dist``, ``n_epochs``).
        ``n_neighbors`` is clipped to ``n - 1`` so small sets work.

    Returns
    -------
    Projection

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> p = project(rng.normal(size=(500, 8)), "pca", seed=0)
    >>> p.coords.shape, p.coords.flags["C_CONTIGUOUS"]
    ((500, 2), True)
    """
    if method not in ("pca", "umap", "auto"):
        raise ValueError(f"method must be 'pca', 'umap' or 'auto', got {method!r}")
    arr = np.asarray(x, dtype=np.float64)
    if arr.ndim != 2 or arr.shape[0] == 0:
        raise ValueError(f"project needs a non-empty (n, d) array, got shape {arr.shape}")
    if scale:
        arr = standardize(arr, scale_reference)
    if method == "umap" and arr.shape[0] < _UMAP_MIN_ROWS:
        raise ValueError(f"method='umap' needs at least {_UMAP_MIN_ROWS} rows, got {arr.shape[0]}; "
                         "use 'pca' or 'auto'")
    umap = None
    if method == "umap":
        umap = _import_umap(required=True)
    elif method == "auto" and arr.shape[0] >= _UMAP_MIN_ROWS and umap_available():
        umap = _import_umap(required=False)  # None (PCA) when installed but broken, e.g. numba vs numpy
    if umap is not None:
        options = _umap_options(arr.shape[0], n_components, seed, umap_options)
        reducer = umap.UMAP(n_components=n_components, **options)
        coords = np.ascontiguousarray(reducer.fit_transform(arr), dtype=np.float32)
        return Projection(coords, "umap", np.zeros(0))
    coords, ratio = pca(arr, n_components, seed=seed)
    return Projection(np.ascontiguousarray(coords), "pca", ratio)
