"""FAISS engine baselines against exact NumPy rankings."""

from __future__ import annotations

import numpy as np
import pytest

from terrahash.evaluate import EvaluationError, single_label_relevance
from terrahash.evaluate.engines import compare_engines, map_from_ranked_ids
from terrahash.evaluate.protocol import database_order
from tests.evaluate.helpers import reference_ap


def _problem(seed: int = 0, n_q: int = 40, n_db: int = 300, dim: int = 16, bits: int = 32):
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(5, dim))
    lq, ld = rng.integers(0, 5, n_q), rng.integers(0, 5, n_db)
    q = centres[lq] + 0.8 * rng.normal(size=(n_q, dim))
    d = centres[ld] + 0.8 * rng.normal(size=(n_db, dim))
    projection = rng.normal(size=(dim, bits))
    qc = np.packbits(q @ projection >= 0, axis=1)
    dc = np.packbits(d @ projection >= 0, axis=1)
    return q, d, qc, dc, single_label_relevance(lq, ld)


def test_map_from_ranked_ids_hand_example() -> None:
    relevance = np.array([[True, False, True, False], [False] * 4])
    ids = np.array([[1, 0, -1], [0, 1, 2]])  # -1: FAISS's "no result" sentinel
    score, zero = map_from_ranked_ids(ids, relevance, 3)
    assert zero == 1
    assert score == pytest.approx((1 / 2) / 2)


def test_engines_report_and_exact_flat_search() -> None:
    q, d, qc, dc, rel = _problem()
    rows = {r["engine"]: r for r in compare_engines(q, d, qc, dc, rel, k=50, seed=3)}
    assert set(rows) == {"flat_ip", "hnsw_flat", "binary_flat"}
    # Exact cosine ranking in NumPy on the same seeded database order.
    order = database_order(len(d), 3)
    qn = q / np.linalg.norm(q, axis=1, keepdims=True)
    dn = d[order] / np.linalg.norm(d[order], axis=1, keepdims=True)
    ranked = np.argsort(-(qn @ dn.T), axis=1, kind="stable")
    relo = rel[:, order]
    expected = np.mean([
        reference_ap([bool(relo[i, j]) for j in ranked[i]], int(relo[i].sum()), 50, "relevant")
        for i in range(len(q))
    ])
    assert rows["flat_ip"]["map@50"] == pytest.approx(expected, abs=1e-6)
    assert rows["hnsw_flat"]["map@50"] == pytest.approx(expected, abs=0.02)
    assert abs(rows["binary_flat"]["map@50"] - rows["binary_flat"]["tie_aware_map@50"]) < 0.05
    assert rows["flat_ip"]["code_bytes"] == 64 and rows["binary_flat"]["code_bytes"] == 4
    assert rows["binary_flat"]["bytes_per_item"] < rows["flat_ip"]["bytes_per_item"]
    assert rows["hnsw_flat"]["bytes_per_item"] > rows["flat_ip"]["bytes_per_item"]
    for row in rows.values():
        assert row["latency_ms"] > 0 and row["queries"] == 40 and row["database"] == 300


def test_mismatched_inputs_are_named() -> None:
    q, d, qc, dc, rel = _problem()
    with pytest.raises(EvaluationError, match="different items"):
        compare_engines(q[:5], d, qc, dc, rel)
    with pytest.raises(EvaluationError, match="one dim"):
        compare_engines(q[:, :8], d, qc, dc, rel)
