"""Deterministic hash-based splits."""

from __future__ import annotations

import os

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from jupyter_cvops.datasets._splits import assign_splits, normalize_splits


def test_fractions_are_respected_on_uniform_hashes() -> None:
    rng = __import__("random").Random(0)
    ids = pl.Series([f"{rng.getrandbits(128):032x}" for _ in range(20000)])
    counts = assign_splits(ids).value_counts().to_dict(as_series=False)
    got = dict(zip(counts["split"], counts["count"]))
    assert abs(got["train"] / 20000 - 0.8) < 0.01
    assert abs(got["val"] / 20000 - 0.1) < 0.01
    assert abs(got["test"] / 20000 - 0.1) < 0.01


@settings(max_examples=50, deadline=None)
@given(st.lists(st.binary(min_size=16, max_size=16), min_size=1, max_size=50, unique=True))
def test_split_of_an_image_never_depends_on_the_others(raw: list[bytes]) -> None:
    ids = [b.hex() for b in raw]
    alone = [assign_splits(pl.Series([i]))[0] for i in ids]
    together = assign_splits(pl.Series(ids)).to_list()
    assert alone == together


def test_bad_fractions() -> None:
    with pytest.raises(ValueError, match="sum to 1"):
        normalize_splits({"train": 0.5, "val": 0.1})
    with pytest.raises(ValueError, match="non-negative"):
        normalize_splits({"train": 1.5, "val": -0.5})
    with pytest.raises(ValueError, match="at least one"):
        normalize_splits({})


def test_edges() -> None:
    ids = pl.Series(["0" * 32, "f" * 32, os.urandom(16).hex()])
    out = assign_splits(ids, {"train": 1.0}).to_list()
    assert out == ["train"] * 3
