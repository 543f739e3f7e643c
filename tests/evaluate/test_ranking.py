"""mAP, P@k, R@k and NDCG against hand-computed values and a brute-force reference."""

from __future__ import annotations

import math

import numpy as np
import pytest

from terrahash.codes import hamming_distances
from terrahash.evaluate import (
    EvaluationError,
    evaluate_ranking,
    mean_average_precision,
    multilabel_relevance,
    ndcg_at_k,
    precision_at_k,
    recall_at_k,
    shared_label_gains,
    single_label_relevance,
)
from tests.evaluate.helpers import (
    codes_at_distances,
    popcount_distance,
    random_problem,
    reference_map,
    reference_ndcg,
)

# One query (code 0); database distances 1, 0, 1, 2 with relevance T, F, F, T.
# Stable ranking: item1 (d0, F), item0 (d1, T), item2 (d1, F), item3 (d2, T) -> F T F T.
QUERY, DB = codes_at_distances([1, 0, 1, 2])
REL = np.array([[True, False, False, True]])


def test_hand_example_ap_with_ties_in_database_order() -> None:
    assert mean_average_precision(QUERY, DB, REL) == pytest.approx((1 / 2 + 2 / 4) / 2)
    # AP@2: one hit at rank 2, normalised by min(R, k) = 2.
    assert mean_average_precision(QUERY, DB, REL, k=2) == pytest.approx(0.25)
    # DeepHash-pytorch normaliser: divide by the single hit retrieved within k.
    assert mean_average_precision(QUERY, DB, REL, k=2, normalizer="retrieved") == pytest.approx(0.5)


def test_tie_order_follows_database_order() -> None:
    # Swap the two items at distance 1: the relevant one now comes second among the tie.
    _, db = codes_at_distances([1, 0, 1, 2])
    db_swapped = db[[2, 1, 0, 3]]
    rel_swapped = REL[:, [2, 1, 0, 3]]
    assert mean_average_precision(QUERY, db_swapped, rel_swapped) == pytest.approx(
        (1 / 3 + 2 / 4) / 2
    )


def test_zero_hit_queries_are_excluded_and_counted() -> None:
    queries = np.concatenate([QUERY, QUERY])
    relevance = np.concatenate([REL, np.zeros((1, 4), dtype=bool)])
    result = evaluate_ranking(queries, DB, relevance)
    assert result.zero_hit_queries == 1
    assert result.queries == 1
    assert result.map == pytest.approx(0.5)
    assert np.isnan(result.ap[1])
    only_zero = evaluate_ranking(QUERY, DB, np.zeros((1, 4), dtype=bool))
    assert math.isnan(only_zero.map) and only_zero.zero_hit_queries == 1


def test_retrieved_normalizer_scores_zero_when_nothing_relevant_in_top_k() -> None:
    # Top 1 is irrelevant: AP@1 = 0 under both normalisers, and the query stays in the mean.
    result = evaluate_ranking(QUERY, DB, REL, k=1, normalizer="retrieved")
    assert result.map == 0.0 and result.queries == 1


def test_k_larger_than_database_equals_map_at_all() -> None:
    result = evaluate_ranking(QUERY, DB, REL, k=1000)
    assert result.k == 4
    assert result.map == pytest.approx(mean_average_precision(QUERY, DB, REL))


def test_precision_and_recall_at_k_hand_example() -> None:
    assert precision_at_k(QUERY, DB, REL, 2) == pytest.approx(0.5)
    assert recall_at_k(QUERY, DB, REL, 2) == pytest.approx(0.5)
    assert precision_at_k(QUERY, DB, REL, 1) == 0.0
    # k above the database size: precision of everything returned.
    assert precision_at_k(QUERY, DB, REL, 50) == pytest.approx(0.5)
    assert recall_at_k(QUERY, DB, REL, 50) == 1.0


def test_multilabel_relevance_means_one_shared_label() -> None:
    #                   a  b  c
    query = np.array([[1, 1, 0]], dtype=bool)
    db = np.array([[0, 0, 1], [0, 1, 1], [1, 1, 0], [0, 0, 0]], dtype=bool)
    assert multilabel_relevance(query, db).tolist() == [[False, True, True, False]]
    assert shared_label_gains(query, db).tolist() == [[0, 1, 2, 0]]
    q, d = codes_at_distances([0, 1, 2, 3])
    # Ranking is database order here: F T T F -> AP = (1/2 + 2/3) / 2.
    assert mean_average_precision(q, d, multilabel_relevance(query, db)) == pytest.approx(
        (1 / 2 + 2 / 3) / 2
    )


def test_ndcg_hand_example_and_ideal_ranking() -> None:
    gains = np.array([[2.0, 0.0, 1.0, 3.0]])
    # Ranked gains 0, 2, 1, 3; ideal 3, 2, 1, 0.
    dcg = 0 + 2 / math.log2(3) + 1 / 2 + 3 / math.log2(5)
    idcg = 3 + 2 / math.log2(3) + 1 / 2
    assert ndcg_at_k(QUERY, DB, gains, 4) == pytest.approx(dcg / idcg)
    q, d = codes_at_distances([0, 1, 2, 3])
    assert ndcg_at_k(q, d, np.array([[3.0, 2.0, 1.0, 0.0]]), 4) == pytest.approx(1.0)
    assert ndcg_at_k(q, d, np.array([[3.0, 2.0, 1.0, 0.0]]), 2) == pytest.approx(1.0)


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("k", [None, 1, 7, 25, 500])
@pytest.mark.parametrize("normalizer", ["relevant", "retrieved"])
def test_map_matches_brute_force(seed: int, k: int | None, normalizer: str) -> None:
    q, d, lq, ld = random_problem(seed)
    rel = single_label_relevance(lq, ld)
    expected = reference_map(q, d, rel, k, normalizer)
    assert mean_average_precision(q, d, rel, k, normalizer) == pytest.approx(expected, abs=1e-12)


@pytest.mark.parametrize("seed", range(4))
def test_ndcg_and_distances_match_brute_force(seed: int) -> None:
    q, d, _, _ = random_problem(seed, bits=24)
    gains = np.random.default_rng(seed).integers(0, 4, (len(q), len(d))).astype(float)
    for k in (1, 10, 100):
        assert ndcg_at_k(q, d, gains, k) == pytest.approx(reference_ndcg(q, d, gains, k))
        assert 0.0 <= ndcg_at_k(q, d, gains, k) <= 1.0
    dist = hamming_distances(q, d)
    assert dist[3, 5] == popcount_distance(q[3], d[5])
    assert dist.shape == (len(q), len(d))


def test_chunking_does_not_change_results() -> None:
    q, d, lq, ld = random_problem(7, n_q=1100, n_db=60)
    rel = single_label_relevance(lq, ld)
    first = evaluate_ranking(q[:600], d, rel[:600], k=20).ap
    second = evaluate_ranking(q[600:], d, rel[600:], k=20).ap
    whole = evaluate_ranking(q, d, rel, k=20).ap  # spans three 512-query chunks
    np.testing.assert_array_equal(whole, np.concatenate([first, second]))


def test_bad_inputs_name_the_argument() -> None:
    with pytest.raises(EvaluationError, match="query_codes: expected packed uint8"):
        mean_average_precision(QUERY.astype(np.int64), DB, REL)
    with pytest.raises(EvaluationError, match="16 bits"):
        mean_average_precision(np.zeros((1, 2), np.uint8), DB, REL)
    with pytest.raises(EvaluationError, match=r"relevance: expected shape \(1, 4\)"):
        mean_average_precision(QUERY, DB, REL[:, :3])
    with pytest.raises(EvaluationError, match="k: expected a positive integer"):
        mean_average_precision(QUERY, DB, REL, k=0)
    with pytest.raises(EvaluationError, match="normalizer"):
        mean_average_precision(QUERY, DB, REL, normalizer="hits")  # type: ignore[arg-type]
    with pytest.raises(EvaluationError, match="gains: expected finite values"):
        ndcg_at_k(QUERY, DB, -np.ones((1, 4)), 2)
