"""The evaluation protocol: one-pass report, seeded database order, label ground truth."""

from __future__ import annotations

import numpy as np
import pytest

from terrahash.evaluate import (
    EvaluationError,
    evaluate_ranking,
    mean_average_precision,
    ndcg_at_k,
    precision_at_k,
    precision_within_radius,
    recall_at_k,
    single_label_relevance,
    taxonomy_gains,
    tie_aware_map,
)
from terrahash.evaluate.protocol import (
    database_order,
    evaluate_protocol,
    parse_ks,
    retrieval_metrics,
)
from terrahash.taxonomy import load_taxonomy
from tests.evaluate.helpers import random_problem

CONTRACT_KEYS = {
    "map@all", "map@100", "map@20", "tie_aware_map@100", "p@10", "p@100", "ndcg@100",
    "queries", "database", "bits", "zero_hit_queries", "unique_codes",
}


def test_report_agrees_with_the_individual_metrics() -> None:
    q, d, lq, ld = random_problem(1, n_q=30, n_db=150, bits=16)
    rel = single_label_relevance(lq, ld)
    rel[4] = False
    gains = np.random.default_rng(0).integers(0, 3, rel.shape).astype(float)
    report = retrieval_metrics(q, d, rel, gains, ks=(5, 20), chunk=7)
    assert set(report) >= CONTRACT_KEYS and "map@5" in report
    assert report["map@all"] == pytest.approx(mean_average_precision(q, d, rel))
    assert report["map@5"] == pytest.approx(mean_average_precision(q, d, rel, 5))
    assert report["tie_aware_map@100"] == pytest.approx(tie_aware_map(q, d, rel, 100))
    assert report["p@10"] == pytest.approx(precision_at_k(q, d, rel, 10))
    assert report["r@100"] == pytest.approx(recall_at_k(q, d, rel, 100))
    assert report["p@r2"] == pytest.approx(precision_within_radius(q, d, rel, 2))
    assert report["ndcg@100"] == pytest.approx(ndcg_at_k(q, d, gains, 100))
    assert report["zero_hit_queries"] == evaluate_ranking(q, d, rel).zero_hit_queries == 1
    assert (report["queries"], report["database"], report["bits"]) == (30, 150, 16)
    assert report["unique_codes"] == len({row.tobytes() for row in d})


def test_database_order_is_seeded_and_stated() -> None:
    assert np.array_equal(database_order(50, 3), database_order(50, 3))
    assert sorted(database_order(50, 3)) == list(range(50))
    assert not np.array_equal(database_order(50, 3), database_order(50, 4))
    q, d, lq, ld = random_problem(2, n_q=10, n_db=80, bits=8, spread=1)
    rel = single_label_relevance(lq, ld)
    report = evaluate_protocol(q, d, rel, seed=5)
    assert report["db_order_seed"] == 5 and "train split" in str(report["protocol"])
    order = database_order(len(d), 5)
    expected = mean_average_precision(q, d[order], rel[:, order], 100)
    assert report["map@100"] == pytest.approx(expected)


def test_class_sorted_manifest_biases_stable_map_but_not_tie_aware() -> None:
    # Collapsed codes: classes 0 and 1 share one code, so each of their queries ties with 80
    # items; in class-sorted (manifest) order class 0 wins every tie and class 1 loses all.
    labels = np.repeat([0, 1, 2, 3], 40)
    centres = np.array([[0] * 8, [0] * 8, [1] * 8, [1, 0] * 4], dtype=bool)
    codes = np.packbits(centres[labels], axis=1)
    q, q_labels = codes[::8], labels[::8]
    rel = single_label_relevance(q_labels, labels)
    in_manifest_order = evaluate_ranking(q, codes, rel, 40).ap
    assert np.all(in_manifest_order[q_labels == 0] == 1.0)
    assert np.all(in_manifest_order[q_labels == 1] == 0.0)
    order = database_order(len(codes), 0)
    shuffled = evaluate_ranking(q, codes[order], rel[:, order], 40).ap
    assert np.all((shuffled[q_labels < 2] > 0.1) & (shuffled[q_labels < 2] < 0.9))
    report = evaluate_protocol(q, codes, rel, ks=(40,), seed=0)
    assert report["map@40"] == pytest.approx(shuffled.mean())
    assert report["tie_aware_map@100"] == pytest.approx(tie_aware_map(q, codes, rel, 100))


def test_taxonomy_gains_grade_related_classes() -> None:
    tax = load_taxonomy()
    labels = ["denseresidential", "mediumresidential", "beach", "not-a-class"]
    result = taxonomy_gains(labels, labels, tax, dataset="ucmerced")
    g = result.gains
    assert g[0, 0] == tax.depth("denseresidential", "ucmerced") > g[0, 1] > g[0, 2] == 0
    assert g[3, 3] == 1.0 and g[3, 0] == 0.0  # unknown label: binary fallback
    assert result.unknown_labels == ("not-a-class",)


def test_parse_ks() -> None:
    assert parse_ks("100, 20,20") == (20, 100)
    with pytest.raises(EvaluationError, match="'x'"):
        parse_ks("20,x")
    with pytest.raises(EvaluationError, match=">= 1"):
        parse_ks("0")
