"""Retrieval evaluation: exact, documented metrics over packed hash codes.

Every metric states its normaliser, tie-break and zero-hit handling in its module:
:mod:`~terrahash.evaluate.ranking` (mAP, P@k, R@k, NDCG), :mod:`~terrahash.evaluate.ties`
(tie-aware mAP), :mod:`~terrahash.evaluate.radius` (Hamming-ball precision, PR curve) and
:mod:`~terrahash.evaluate.protocol` (the train-as-database / test-as-queries protocol).
Distances come from :mod:`terrahash.codes`, the kernel the index and the model share.
"""

from terrahash.evaluate.hamming import EvaluationError
from terrahash.evaluate.radius import PRCurve, pr_curve, precision_within_radius
from terrahash.evaluate.ranking import (
    RankingResult,
    evaluate_ranking,
    mean_average_precision,
    ndcg_at_k,
    precision_at_k,
    recall_at_k,
)
from terrahash.evaluate.relevance import (
    multilabel_relevance,
    shared_label_gains,
    single_label_relevance,
    taxonomy_gains,
)
from terrahash.evaluate.ties import evaluate_tie_aware, tie_aware_map

__all__ = [
    "EvaluationError",
    "PRCurve",
    "RankingResult",
    "evaluate_ranking",
    "evaluate_tie_aware",
    "mean_average_precision",
    "multilabel_relevance",
    "ndcg_at_k",
    "pr_curve",
    "precision_at_k",
    "precision_within_radius",
    "recall_at_k",
    "shared_label_gains",
    "single_label_relevance",
    "taxonomy_gains",
    "tie_aware_map",
]
