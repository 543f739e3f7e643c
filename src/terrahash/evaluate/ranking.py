"""Ranking metrics over a stable Hamming ranking: mAP, precision@k, recall@k, NDCG@k.

Conventions (stated once, used by every function here):

* **Ranking**: database items sorted by Hamming distance to the query, ties kept in
  database order (``argsort(kind="stable")``). Put the database in a seeded random order
  first (:mod:`terrahash.evaluate.protocol`) or use :func:`tie_aware_map`.
* **k**: ``None`` means the whole database; a ``k`` above the database size is capped at it.
* **Zero-hit queries**: a query with no relevant database item (R = 0) has no defined AP,
  recall or NDCG. It is *excluded* from every mean in this package and *counted*
  (``RankingResult.zero_hit_queries``). A mean over no queries is ``nan``.
* **AP@k**, with ``rel(i)`` the relevance of rank i and ``P(i) = sum_{j<=i} rel(j) / i``::

      AP@k = sum_{i<=k} P(i) rel(i) / Z
      Z = min(R, k)                     normalizer="relevant" (default)
      Z = sum_{i<=k} rel(i)             normalizer="retrieved" (DeepHash-pytorch CalcTopMap)

  With ``"retrieved"``, a query with R > 0 but no relevant item in its top k scores 0 and
  stays in the mean, as in DeepHash-pytorch. ``"relevant"`` is the TREC definition: it
  penalises relevant items that were not retrieved, ``"retrieved"`` does not, so its
  numbers are higher and only comparable with papers that use it.
* **P@k** = hits in the top k' / k' and **R@k** = hits in the top k' / R, k' = min(k, n_db).
* **NDCG@k** with graded gains ``g >= 0`` (linear gain, log2 discount)::

      DCG@k = sum_{i<=k} g(i) / log2(i + 1),   NDCG@k = DCG@k / IDCG@k

  IDCG@k is the DCG of the gains sorted in decreasing order; queries with IDCG = 0 (no item
  with positive gain) are the zero-hit queries for NDCG.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from terrahash.evaluate.hamming import EvaluationError, check_k, check_pair, iter_ranked

Normalizer = Literal["relevant", "retrieved"]
_NORMALIZERS = ("relevant", "retrieved")


def mean_over_queries(values: np.ndarray) -> float:
    """Mean of per-query values, skipping the nan of zero-hit queries; nan when none is left."""
    finite = values[~np.isnan(values)]
    return float(finite.mean()) if finite.size else float("nan")


@dataclass(frozen=True)
class RankingResult:
    """Mean AP and what went into it.

    Attributes:
        map: mean AP over the queries with at least one relevant item (nan if none).
        ap: (n_queries,) AP per query, nan for zero-hit queries.
        zero_hit_queries: queries excluded because R = 0.
        queries: queries that entered the mean.
        k: the cut-off actually used (database size for ``k=None``).
        normalizer: ``"relevant"`` or ``"retrieved"``.
    """

    map: float
    ap: np.ndarray
    zero_hit_queries: int
    queries: int
    k: int
    normalizer: str

    @classmethod
    def from_ap(cls, ap: np.ndarray, k: int, normalizer: str = "relevant") -> RankingResult:
        """Summarise per-query APs (nan = zero-hit query)."""
        zero = int(np.isnan(ap).sum())
        return cls(mean_over_queries(ap), ap, zero, len(ap) - zero, k, normalizer)


def average_precision_sorted(
    relevant_sorted: np.ndarray, n_relevant: np.ndarray, k: int, normalizer: Normalizer = "relevant"
) -> np.ndarray:
    """Per-query AP@k from relevance in ranked order; nan where R = 0 (see module docstring).

    The one AP of the package: Hamming rankings and FAISS engines' ranked ids both end here.
    ``relevant_sorted`` may hold fewer than ``k`` ranks (a search that returned fewer items);
    the normaliser still uses ``k``.
    """
    rel = relevant_sorted[:, :k]
    hits = np.cumsum(rel, axis=1, dtype=np.int64)
    ranks = np.arange(1, rel.shape[1] + 1, dtype=np.float64)
    precision_sum = np.where(rel, hits / ranks, 0.0).sum(axis=1)
    if normalizer == "relevant":
        denom = np.minimum(n_relevant, k).astype(np.float64)
    else:
        denom = hits[:, -1].astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        ap = np.where(denom > 0, precision_sum / np.maximum(denom, 1.0), 0.0)
    return np.where(n_relevant > 0, ap, np.nan)


def evaluate_ranking(
    query_codes: np.ndarray,
    db_codes: np.ndarray,
    relevance: np.ndarray,
    k: int | None = None,
    normalizer: Normalizer = "relevant",
) -> RankingResult:
    """mAP@k with per-query APs and the zero-hit count (conventions in the module docstring).

    Args:
        query_codes: (n_q, bits/8) packed uint8 codes.
        db_codes: (n_db, bits/8) packed uint8 codes, in the order that breaks ties.
        relevance: (n_q, n_db) bool, True where the database item is relevant to the query.
        k: cut-off, ``None`` for the whole database.
        normalizer: ``"relevant"`` (min(R, k)) or ``"retrieved"`` (hits within k).

    Raises:
        EvaluationError: on a dtype/shape mismatch, a bad ``k`` or an unknown normalizer.
    """
    if normalizer not in _NORMALIZERS:
        raise EvaluationError(f"normalizer: expected one of {_NORMALIZERS}, got {normalizer!r}")
    query_codes, db_codes = check_pair(query_codes, db_codes, relevance, "relevance")
    k_used = check_k(k, len(db_codes))
    ap = np.full(len(query_codes), np.nan)
    for block in iter_ranked(query_codes, db_codes, relevance):
        ap[block.rows] = average_precision_sorted(
            block.relevant_sorted, block.n_relevant, k_used, normalizer
        )
    return RankingResult.from_ap(ap, k_used, normalizer)


def mean_average_precision(
    query_codes: np.ndarray, db_codes: np.ndarray, relevance: np.ndarray,
    k: int | None = None, normalizer: Normalizer = "relevant",
) -> float:
    """mAP@k over a stable Hamming ranking; see :func:`evaluate_ranking` for the details."""
    return evaluate_ranking(query_codes, db_codes, relevance, k, normalizer).map


def precision_recall_sorted(
    relevant_sorted: np.ndarray, n_relevant: np.ndarray, k: int
) -> tuple[np.ndarray, np.ndarray]:
    """Per-query (P@k, R@k); nan for zero-hit queries."""
    hits = relevant_sorted[:, :k].sum(axis=1).astype(np.float64)
    valid = n_relevant > 0
    precision = np.where(valid, hits / k, np.nan)
    recall = np.where(valid, hits / np.maximum(n_relevant, 1), np.nan)
    return precision, recall


def _precision_recall(
    query_codes: np.ndarray, db_codes: np.ndarray, relevance: np.ndarray, k: int
) -> tuple[np.ndarray, np.ndarray]:
    query_codes, db_codes = check_pair(query_codes, db_codes, relevance, "relevance")
    k_used = check_k(k, len(db_codes))
    precision = np.full(len(query_codes), np.nan)
    recall = np.full(len(query_codes), np.nan)
    for block in iter_ranked(query_codes, db_codes, relevance):
        precision[block.rows], recall[block.rows] = precision_recall_sorted(
            block.relevant_sorted, block.n_relevant, k_used
        )
    return precision, recall


def precision_at_k(
    query_codes: np.ndarray, db_codes: np.ndarray, relevance: np.ndarray, k: int
) -> float:
    """Mean P@k = hits in the top min(k, n_db) / min(k, n_db), over queries with R > 0."""
    return mean_over_queries(_precision_recall(query_codes, db_codes, relevance, k)[0])


def recall_at_k(
    query_codes: np.ndarray, db_codes: np.ndarray, relevance: np.ndarray, k: int
) -> float:
    """Mean R@k = hits in the top min(k, n_db) / R, over queries with R > 0."""
    return mean_over_queries(_precision_recall(query_codes, db_codes, relevance, k)[1])


def ideal_dcg(gains: np.ndarray, k: int) -> np.ndarray:
    """Per-query IDCG@k: the DCG of each row's gains sorted in decreasing order."""
    # Only the k largest gains matter: partition (linear) before sorting k values.
    top = -np.partition(-gains, k - 1, axis=1)[:, :k] if k < gains.shape[1] else gains
    return -np.sort(-top, axis=1)[:, :k] @ (1.0 / np.log2(np.arange(2, k + 2, dtype=np.float64)))


def ndcg_sorted(gains_sorted: np.ndarray, gains: np.ndarray, k: int) -> np.ndarray:
    """Per-query NDCG@k from gains in ranked order and in database order; nan if IDCG = 0."""
    discount = 1.0 / np.log2(np.arange(2, k + 2, dtype=np.float64))
    dcg = gains_sorted[:, :k] @ discount
    idcg = ideal_dcg(gains, k)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(idcg > 0, dcg / np.where(idcg > 0, idcg, 1.0), np.nan)


def check_gains(gains: np.ndarray) -> np.ndarray:
    """Gains as float64, rejecting negative or non-finite values."""
    gains = np.asarray(gains, dtype=np.float64)
    if not np.all(np.isfinite(gains)) or (gains < 0).any():
        raise EvaluationError("gains: expected finite values >= 0")
    return gains


def ndcg_at_k(
    query_codes: np.ndarray, db_codes: np.ndarray, gains: np.ndarray, k: int
) -> float:
    """Mean NDCG@k with graded ``gains`` (n_q, n_db), over queries with a positive gain.

    Build ``gains`` with :func:`terrahash.evaluate.relevance.taxonomy_gains` (single-label
    sets: depth of the deepest common taxonomy node) or
    :func:`terrahash.evaluate.relevance.shared_label_gains` (multi-label sets).
    """
    query_codes, db_codes = check_pair(query_codes, db_codes, gains, "gains")
    gains = check_gains(gains)
    k_used = check_k(k, len(db_codes))
    values = np.full(len(query_codes), np.nan)
    for block in iter_ranked(query_codes, db_codes, gains > 0):
        g = gains[block.rows]
        values[block.rows] = ndcg_sorted(np.take_along_axis(g, block.order, axis=1), g, k_used)
    return mean_over_queries(values)
