"""Flat search equals the brute-force reference, ties included, on every code shape."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from terrahash.codes import check_codes
from terrahash.index.errors import CodeShapeError
from terrahash.index.flat import FAISS_MIN_ITEMS, FlatScanner, numpy_search
from tests.index.helpers import clustered_codes, random_codes, reference_search, tied_codes


@pytest.mark.parametrize("bits", [64, 128])
@pytest.mark.parametrize("n", [50, FAISS_MIN_ITEMS + 1000])
@pytest.mark.parametrize("kind", ["random", "clustered", "tied"])
def test_flat_equals_reference(bits: int, n: int, kind: str) -> None:
    if kind == "random":
        db = random_codes(n, bits, 1)
    elif kind == "clustered":
        db = clustered_codes(n, bits, 12, 0.05, 1)[0]
    else:
        db = tied_codes(n, bits, 9, 1)
    queries = np.concatenate([db[:3], random_codes(3, bits, 2)])
    ref_d, ref_r = reference_search(db, queries, 40)
    d, r = FlatScanner(db).search(queries, 40)
    assert np.array_equal(d, ref_d) and np.array_equal(r, ref_r)


def test_k_larger_than_database_pads_with_sentinels() -> None:
    db = random_codes(5, 64, 3)
    d, r = numpy_search(db, db[:1], 8)
    assert list(r[0, 5:]) == [-1, -1, -1] and list(d[0, 5:]) == [-1, -1, -1]
    assert sorted(r[0, :5]) == list(range(5)) and d[0, 0] == 0


@settings(max_examples=30, deadline=None)
@given(
    n=st.integers(1, 300),
    distinct=st.integers(1, 40),
    k=st.integers(1, 50),
    seed=st.integers(0, 10_000),
)
def test_numpy_scan_property(n: int, distinct: int, k: int, seed: int) -> None:
    db = tied_codes(n, 64, distinct, seed)
    queries = random_codes(2, 64, seed + 7)
    ref_d, ref_r = reference_search(db, queries, k)
    d, r = numpy_search(db, queries, k)
    assert np.array_equal(d, ref_d) and np.array_equal(r, ref_r)


def test_code_validation_messages() -> None:
    with pytest.raises(ValueError, match=r"expected 8-byte codes \(64 bits\), got 16"):
        check_codes(np.zeros((2, 16), np.uint8), 64)
    with pytest.raises(CodeShapeError, match="dtype int64"):
        check_codes(np.zeros((2, 8), np.int64), 64)
    with pytest.raises(CodeShapeError, match="2-D"):
        check_codes(np.zeros((2, 2, 8), np.uint8), 64)
    assert check_codes(np.zeros(8, np.uint8), 64).shape == (1, 8)
