"""Tie-aware mAP: hand example, exact enumeration, Monte Carlo over random tie orders."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from terrahash.evaluate import (
    evaluate_tie_aware,
    mean_average_precision,
    single_label_relevance,
    tie_aware_map,
)
from tests.evaluate.helpers import codes_at_distances, random_problem


def test_hand_example_averages_the_two_tie_orders() -> None:
    # Distances 1, 0, 1, 2, relevance T F F T: the tie at distance 1 gives F T F T or F F T T.
    q, d = codes_at_distances([1, 0, 1, 2])
    rel = np.array([[True, False, False, True]])
    order_a = (1 / 2 + 2 / 4) / 2
    order_b = (1 / 3 + 2 / 4) / 2
    assert tie_aware_map(q, d, rel) == pytest.approx((order_a + order_b) / 2)
    assert tie_aware_map(q, d, rel, k=2) == pytest.approx((0.25 + 0.0) / 2)


def test_without_ties_equals_stable_map() -> None:
    q, d = codes_at_distances([3, 0, 8, 5, 1, 2, 7, 4, 6])
    rel = np.array([[True, False, True, True, False, False, True, False, True]])
    for k in (None, 1, 3, 9):
        assert tie_aware_map(q, d, rel, k) == pytest.approx(mean_average_precision(q, d, rel, k))


def test_matches_exact_enumeration_of_all_tie_orders() -> None:
    distances = [1, 1, 0, 1, 2, 1, 2, 0]
    q, d = codes_at_distances(distances)
    rel = np.array([[True, False, True, True, False, False, True, False]])
    groups = [[i for i, x in enumerate(distances) if x == g] for g in sorted(set(distances))]
    orders = [
        [i for group in combo for i in group]
        for combo in itertools.product(*(itertools.permutations(g) for g in groups))
    ]
    assert len(orders) == 2 * 24 * 2
    for k in (None, 2, 4, 6):
        exact = np.mean([mean_average_precision(q, d[o], rel[:, o], k) for o in orders])
        assert tie_aware_map(q, d, rel, k) == pytest.approx(exact, abs=1e-12)


@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize("k", [None, 5, 20])
def test_matches_monte_carlo_over_random_tie_orders(seed: int, k: int | None) -> None:
    q, d, lq, ld = random_problem(seed, n_q=10, n_db=60, bits=8, spread=1)
    rel = single_label_relevance(lq, ld)
    rng = np.random.default_rng(100 + seed)
    trials = 600
    samples = np.empty(trials)
    for t in range(trials):
        perm = rng.permutation(len(d))
        samples[t] = mean_average_precision(q, d[perm], rel[:, perm], k)
    expected = tie_aware_map(q, d, rel, k)
    stderr = samples.std(ddof=1) / np.sqrt(trials)
    assert stderr > 0  # the problem really has ties that matter
    assert abs(samples.mean() - expected) < 4 * stderr + 1e-9


def test_zero_hit_queries_excluded_and_independent_of_order() -> None:
    q, d, lq, ld = random_problem(3, n_q=8, n_db=30, bits=8, spread=1)
    rel = single_label_relevance(lq, ld)
    rel[0] = False
    result = evaluate_tie_aware(q, d, rel, k=10)
    assert result.zero_hit_queries == 1 and result.queries == 7
    perm = np.random.default_rng(0).permutation(len(d))
    assert tie_aware_map(q, d[perm], rel[:, perm], 10) == pytest.approx(result.map)
