"""Calibration (false-alarm rate with no drift) and power of the drift tests on synthetic data.

The bound checked is the issue's: false-alarm rate <= alpha + 0.02. With 600 trials
the rate's standard error at alpha = 0.05 is about 0.009.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from jupyter_cvops.drift.two_sample import classifier_test, conformal_novelty, drift_by_window, knn_distances, mmd_test

ALPHAS = (0.01, 0.05, 0.1)


def _rates(p: np.ndarray) -> dict[float, float]:
    return {a: float(np.mean(p <= a)) for a in ALPHAS}


def test_mmd_false_alarm_rate_is_calibrated() -> None:
    p = np.array([mmd_test(rng.normal(size=(40, 5)), rng.normal(size=(40, 5)), 200, seed=i, witness=False).p_value
                  for i, rng in ((i, np.random.default_rng([1000, i])) for i in range(600))])
    rates = _rates(p)
    assert all(rates[a] <= a + 0.02 for a in ALPHAS), rates
    assert rates[0.05] >= 0.02, rates  # not trivially conservative either


def test_mmd_calibrated_for_unequal_sizes_heavy_tails_float32() -> None:
    p = np.array([mmd_test(rng.standard_t(3, size=(25, 3)), rng.standard_t(3, size=(60, 3)), 200, seed=i,
                           dtype="float32", witness=False).p_value
                  for i, rng in ((i, np.random.default_rng([2000, i])) for i in range(300))])
    rates = _rates(p)
    assert all(rates[a] <= a + 0.02 for a in ALPHAS), rates


@pytest.mark.parametrize(("shift", "min_power"), [("mean", 0.8), ("variance", 0.9)])
def test_mmd_power(shift: str, min_power: float) -> None:
    def current(rng: np.random.Generator) -> np.ndarray:
        y = rng.normal(size=(40, 5))
        return y + [1.0, 0, 0, 0, 0] if shift == "mean" else y * 1.8

    p = np.array([mmd_test(rng.normal(size=(40, 5)), current(rng), 200, seed=i, witness=False).p_value
                  for i, rng in ((i, np.random.default_rng([3000, i])) for i in range(100))])
    assert np.mean(p <= 0.05) >= min_power


def test_conformal_novelty_is_calibrated() -> None:
    p = np.concatenate([
        conformal_novelty(knn_distances(ref, k=5), knn_distances(rng.normal(size=(20, 5)), ref, k=5))
        for ref, rng in ((rng.normal(size=(100, 5)), rng) for rng in (np.random.default_rng([4000, i])
                                                                    for i in range(200)))])
    rates = _rates(p)
    assert all(rates[a] <= a + 0.02 for a in ALPHAS), rates


def test_classifier_holdout_is_calibrated() -> None:
    p = np.array([classifier_test(rng.normal(size=(40, 5)), rng.normal(size=(40, 5)), p_value="holdout",
                                  seed=i).p_value
                  for i, rng in ((i, np.random.default_rng([5000, i])) for i in range(300))])
    rates = _rates(p)
    assert all(rates[a] <= a + 0.02 for a in ALPHAS), rates


@pytest.mark.slow
def test_windows_family_false_alarm_rate() -> None:
    """With no drift anywhere, the chance that BH flags any of 4 windows stays <= alpha + 0.02."""
    times = [dt.datetime(2024, 1, 1 + i // 30, 12) for i in range(120)]
    any_flag = []
    for i in range(200):
        rng = np.random.default_rng([6000, i])
        out = drift_by_window(rng.normal(size=(100, 4)), rng.normal(size=(120, 4)), times, n_permutations=300,
                              seed=i)
        any_flag.append(bool(out["drifted"].any()))
    assert np.mean(any_flag) <= 0.05 + 0.02
