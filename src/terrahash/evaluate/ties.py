"""Tie-aware mAP: the expected AP over all orderings of items at equal Hamming distance.

Reference: K. He, F. Cakir, S. A. Bargal, S. Sclaroff, "Hashing as Tie-Aware Learning to
Rank", CVPR 2018 (tie-aware AP). Hash codes tie massively (a B-bit code has
only B+1 distances), so the stable AP depends on the database order; this one does not.

Derivation (normalizer ``Z = min(R, k)``, which does not depend on the order). For a query,
group the database by distance d: ``n_d`` items, ``r_d`` relevant, ``N`` items and ``Rb``
relevant items strictly closer. Within the group all orders are equally likely. The item at
group position j (overall rank ``i = N + j``) contributes ``rel(i) * c(i) / i`` to the AP
sum, with ``c(i)`` the relevant items ranked at or before ``i``. Over random orders::

    E[rel(i)]                     = r/n
    E[rel(i) * rel(i')], i != i'  = r(r-1) / (n(n-1))
    E[rel(i) c(i)] = (r/n)(Rb + 1) + (j-1) r(r-1) / (n(n-1))

Truncating at k keeps positions ``j = 1..m`` with ``m = clip(k - N, 0, n)``. Using harmonic
numbers ``H``, ``sum_{j<=m} 1/(N+j) = H[N+m] - H[N] =: dH`` and
``sum_{j<=m} (j-1)/(N+j) = m - (N+1) dH``, so a group adds::

    (r/n)(Rb + 1) dH + r(r-1)/(n(n-1)) (m - (N+1) dH)

and ``E[AP@k] = sum_d group_d / min(R, k)``. This is exact and costs O(bits) per query once
the per-distance counts are known. Zero-hit queries (R = 0) are excluded and counted, as in
:mod:`terrahash.evaluate.ranking`. Only the ``"relevant"`` normaliser is supported: with
``"retrieved"`` the normaliser itself depends on the order and the expectation of the ratio
has no such closed form.
"""

from __future__ import annotations

import numpy as np

from terrahash.evaluate.hamming import (
    check_k,
    check_pair,
    code_bits,
    distance_histograms,
    iter_distances,
)
from terrahash.evaluate.ranking import RankingResult


def harmonic_numbers(n: int) -> np.ndarray:
    """``H[0..n]`` with ``H[0] = 0`` and ``H[i] = sum_{j<=i} 1/j``."""
    return np.concatenate([[0.0], np.cumsum(1.0 / np.arange(1, n + 1, dtype=np.float64))])


def tie_aware_ap_from_histograms(
    counts: np.ndarray, relevant: np.ndarray, k: int, harmonic: np.ndarray
) -> np.ndarray:
    """Per-query expected AP@k from per-distance (n, bits+1) counts; nan where R = 0."""
    n = counts.astype(np.float64)
    r = relevant.astype(np.float64)
    before = np.cumsum(counts, axis=1) - counts  # N: items strictly closer
    rel_before = np.cumsum(r, axis=1) - r  # Rb
    m = np.clip(k - before, 0, counts)
    d_h = harmonic[before + m] - harmonic[before]
    with np.errstate(invalid="ignore", divide="ignore"):
        p_rel = np.where(n > 0, r / np.maximum(n, 1.0), 0.0)
        p_pair = np.where(n > 1, r * (r - 1) / np.maximum(n * (n - 1), 1.0), 0.0)
    expected = p_rel * (rel_before + 1) * d_h + p_pair * (m - (before + 1) * d_h)
    n_relevant = r.sum(axis=1)
    denom = np.minimum(n_relevant, k)
    return np.where(n_relevant > 0, expected.sum(axis=1) / np.maximum(denom, 1.0), np.nan)


def evaluate_tie_aware(
    query_codes: np.ndarray,
    db_codes: np.ndarray,
    relevance: np.ndarray,
    k: int | None = None,
) -> RankingResult:
    """Tie-aware mAP@k with per-query values and the zero-hit count."""
    query_codes, db_codes = check_pair(query_codes, db_codes, relevance, "relevance")
    relevance = np.asarray(relevance, dtype=bool)
    k_used = check_k(k, len(db_codes))
    bits = code_bits(db_codes)
    harmonic = harmonic_numbers(len(db_codes))
    ap = np.full(len(query_codes), np.nan)
    for rows, dist in iter_distances(query_codes, db_codes):
        counts, rel = distance_histograms(dist, relevance[rows], bits)
        ap[rows] = tie_aware_ap_from_histograms(counts, rel, k_used, harmonic)
    return RankingResult.from_ap(ap, k_used)


def tie_aware_map(
    query_codes: np.ndarray,
    db_codes: np.ndarray,
    relevance: np.ndarray,
    k: int | None = None,
) -> float:
    """Expected mAP@k over random orderings of tied items (independent of database order).

    Args:
        query_codes: (n_q, bits/8) packed uint8 codes.
        db_codes: (n_db, bits/8) packed uint8 codes.
        relevance: (n_q, n_db) bool.
        k: cut-off, ``None`` for the whole database.
    """
    return evaluate_tie_aware(query_codes, db_codes, relevance, k).map
