"""Per-image novelty through LanceDB: equal to the exact torch kNN reference, a cached
reference table per content, an indexed path for large references, bounded calibration."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
from vector_tables import vector_table

from jupyter_cvops import Workspace
from jupyter_cvops.drift import _novelty as N
from jupyter_cvops.drift._conformal import conformal_p_values, knn_distances

SCALES = np.array([1, 10, 100, 1, 1, 1, 1, 1], np.float32)  # named statistics live on very different scales


@pytest.fixture
def data(tmp_path: Path) -> tuple[Workspace, str, list[str], np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    ref = rng.standard_normal((500, 8)).astype(np.float32) * SCALES
    cur = rng.standard_normal((200, 8)).astype(np.float32) * SCALES
    cur[:20, 0] += 5  # novel on a small-scale feature: raw distances would not see it
    ws = Workspace.create(tmp_path / "ws")
    table = vector_table(ws, "stats", np.vstack([ref, cur]), "l2")
    return ws, table, [f"stats-{i:06d}" for i in range(500)], ref, cur


def test_equals_exact_knn_on_z_scores(data: tuple[Workspace, str, list[str], np.ndarray, np.ndarray]) -> None:
    ws, table, ids, ref, cur = data
    nov = N.reference_novelty(ws, table, ids, ref, cur, k=5)
    mu, sd = ref.mean(axis=0), ref.std(axis=0) + 1e-12
    loo = knn_distances((ref - mu) / sd, k=5)
    dist = knn_distances((cur - mu) / sd, (ref - mu) / sd, k=5)
    np.testing.assert_allclose(nov.calibration, loo, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(nov.distances, dist, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(nov.p_values, conformal_p_values(loo, dist), atol=1e-12)
    assert (nov.p_values[:20] <= 0.05).mean() == 1.0 and (nov.p_values[20:] <= 0.05).mean() < 0.1


def test_cosine_tables_search_unit_vectors(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    x = rng.standard_normal((300, 16)).astype(np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    ws = Workspace.create(tmp_path / "ws")
    table = vector_table(ws, "clip", x, "cosine")
    nov = N.reference_novelty(ws, table, [f"clip-{i:06d}" for i in range(200)], x[:200], x[200:], k=3)
    np.testing.assert_allclose(nov.distances, knn_distances(x[200:], x[:200], k=3, metric="cosine"), atol=1e-5)
    np.testing.assert_allclose(nov.calibration, knn_distances(x[:200], k=3, metric="cosine"), atol=1e-5)


def test_reference_table_is_cached_rebuilt_when_half_written_and_pruned(
        data: tuple[Workspace, str, list[str], np.ndarray, np.ndarray], monkeypatch: pytest.MonkeyPatch) -> None:
    ws, table, ids, ref, cur = data
    first = N.reference_novelty(ws, table, ids, ref, cur, k=5).table
    version = ws.store.version(first)
    assert N.reference_novelty(ws, table, ids, ref, cur, k=5).table == first
    assert ws.store.version(first) == version  # reused, not rewritten
    ws.store.drop_table(first)
    ws.store.ensure_table(first, cache_schema(ref.shape[1]))
    ws.store.append(first, [{"row": 0, "vector": ref[0].tolist()}])  # an interrupted write: 1 of 500 rows
    again = N.reference_novelty(ws, table, ids, ref, cur, k=5)
    assert again.table == first and ws.store.count(first) == 500
    for j in range(1, N.KEEP + 2):  # other references: all younger than an hour, all kept
        N.reference_novelty(ws, table, ids[j:], ref[j:], cur, k=5)
    assert len([t for t in ws.store.table_names() if t.startswith(N.PREFIX)]) == N.KEEP + 2
    monkeypatch.setattr(N, "MIN_AGE", timedelta(0))  # an hour later: the oldest go
    N.reference_novelty(ws, table, ids[9:], ref[9:], cur, k=5)
    kept = [t for t in ws.store.table_names() if t.startswith(N.PREFIX)]
    assert len(kept) == N.KEEP and first not in kept


def cache_schema(dim: int) -> pa.Schema:
    """The reference table's schema, for the half-write test."""
    return pa.schema([pa.field("row", pa.int32()), pa.field("vector", pa.list_(pa.float32(), dim))])


def test_large_reference_is_indexed_and_stays_close_to_exact(tmp_path: Path) -> None:
    rng = np.random.default_rng(2)
    centres = rng.standard_normal((30, 64)).astype(np.float32) * 3
    ref = centres[rng.integers(0, 30, 3000)] + rng.standard_normal((3000, 64)).astype(np.float32)
    cur = centres[rng.integers(0, 30, 300)] + rng.standard_normal((300, 64)).astype(np.float32)
    cur[:30] += 4.0
    ws = Workspace.create(tmp_path / "ws")
    table = vector_table(ws, "big", np.vstack([ref, cur]), "l2")
    ids = [f"big-{i:06d}" for i in range(3000)]
    nov = N.reference_novelty(ws, table, ids, ref, cur, k=5, index_threshold=1000)
    info = ws.store.read("meta", where=f"key = '{N.META_PREFIX}{nov.table}'")
    assert info.height == 1 and '"IVF_FLAT"' in info["value"][0]
    mu, sd = ref.mean(axis=0), ref.std(axis=0) + 1e-12
    exact = knn_distances((cur - mu) / sd, (ref - mu) / sd, k=5)
    rel = nov.distances / exact - 1
    assert (nov.distances >= exact - 1e-3).all()  # an index never finds closer than exact search
    assert np.mean(rel < 1e-3) >= 0.95 and np.quantile(rel, 0.99) < 0.05  # a missed neighbour is a near one
    assert (nov.p_values[:30] <= 0.05).mean() >= 0.9 and (nov.p_values[30:] <= 0.05).mean() < 0.15


def test_calibration_is_a_seeded_subset_for_large_references(
        data: tuple[Workspace, str, list[str], np.ndarray, np.ndarray], monkeypatch: pytest.MonkeyPatch) -> None:
    ws, table, ids, ref, cur = data
    monkeypatch.setattr(N, "CALIBRATION_MAX", 100)
    a = N.reference_novelty(ws, table, ids, ref, cur, k=5, seed=3)
    b = N.reference_novelty(ws, table, ids, ref, cur, k=5, seed=3)
    c = N.reference_novelty(ws, table, ids, ref, cur, k=5, seed=4)
    assert a.calibration.shape == (100,) and np.array_equal(a.calibration, b.calibration)
    assert not np.array_equal(a.calibration, c.calibration)
    assert a.p_values.min() >= 1 / 101  # the resolution of 100 calibration scores


def test_bad_arguments(data: tuple[Workspace, str, list[str], np.ndarray, np.ndarray]) -> None:
    ws, table, ids, ref, cur = data
    with pytest.raises(ValueError, match="k must be between 1 and 499"):
        N.reference_novelty(ws, table, ids, ref, cur, k=500)
    with pytest.raises(ValueError, match="499 reference ids for 500 vectors"):
        N.reference_novelty(ws, table, ids[1:], ref, cur, k=5)
