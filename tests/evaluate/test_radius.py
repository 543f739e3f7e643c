"""Hamming-ball precision and the PR curve over radii."""

from __future__ import annotations

import numpy as np
import pytest

from terrahash.codes import hamming_distances
from terrahash.evaluate import (
    EvaluationError,
    pr_curve,
    precision_within_radius,
    single_label_relevance,
)
from tests.evaluate.helpers import codes_at_distances, random_problem


def test_hand_example_precision_and_recall_per_radius() -> None:
    q, d = codes_at_distances([1, 0, 1, 2])
    rel = np.array([[True, False, False, True]])
    curve = pr_curve(q, d, rel)
    assert curve.radii.tolist() == list(range(9))
    np.testing.assert_allclose(curve.precision[:4], [0.0, 1 / 3, 0.5, 0.5])
    np.testing.assert_allclose(curve.recall[:4], [0.0, 0.5, 1.0, 1.0])
    assert precision_within_radius(q, d, rel, 2) == pytest.approx(0.5)


def test_empty_lookups_count_as_zero_and_are_reported() -> None:
    q, d = codes_at_distances([3, 4, 8])
    queries = np.concatenate([q, d[:1]])  # query 1 is item 0: items at distance 0, 1 and 5
    rel = np.array([[True, False, True], [True, True, False]])
    curve = pr_curve(queries, d, rel)
    # Radius 2: query 0 retrieves nothing (precision 0); query 1 retrieves items 0, 1 (1.0).
    assert curve.precision[2] == pytest.approx(0.5)
    assert curve.empty_queries[2] == 1
    assert precision_within_radius(queries, d, rel, 2) == pytest.approx(0.5)


@pytest.mark.parametrize("seed", range(3))
def test_recall_monotone_and_matches_brute_force(seed: int) -> None:
    q, d, lq, ld = random_problem(seed, bits=16)
    rel = single_label_relevance(lq, ld)
    rel[0] = False  # a zero-hit query
    curve = pr_curve(q, d, rel)
    assert curve.zero_hit_queries == 1 and curve.queries == len(q) - 1
    assert np.all(np.diff(curve.recall) >= 0) and curve.recall[-1] == pytest.approx(1.0)
    dist = hamming_distances(q, d)
    for radius in (0, 2, 5):
        within = dist <= radius
        values = []
        for i in range(1, len(q)):
            n = within[i].sum()
            values.append(0.0 if n == 0 else (within[i] & rel[i]).sum() / n)
        assert curve.precision[radius] == pytest.approx(np.mean(values))


def test_bad_radius() -> None:
    q, d = codes_at_distances([0, 1])
    with pytest.raises(EvaluationError, match="radius"):
        precision_within_radius(q, d, np.ones((1, 2), bool), -1)
