"""Hash-lookup metrics: precision within a Hamming radius and the PR curve over radii.

A hash table lookup returns every item within radius ``r``, in no order, so these metrics do
not depend on tie order. For a query with R relevant database items::

    retrieved(r) = #{items with distance <= r},  hits(r) = #{relevant items with distance <= r}
    precision(r) = hits(r) / retrieved(r), and 0 when retrieved(r) = 0
    recall(r)    = hits(r) / R

A query that retrieves *nothing* within the radius scores precision 0 and stays in the mean
(a lookup that returns nothing failed that user); how many did so is reported beside the
mean (``empty_queries``), so the two effects can be told apart. Zero-hit queries (R = 0) are
excluded and counted, as everywhere in :mod:`terrahash.evaluate`. At ``r = bits`` everything
is retrieved, so recall is 1: recall never decreases with r.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from terrahash.evaluate.hamming import (
    EvaluationError,
    check_pair,
    code_bits,
    distance_histograms,
    iter_distances,
)


@dataclass(frozen=True)
class PRCurve:
    """Mean precision and recall at Hamming radii ``0..bits``.

    Attributes:
        radii: (bits+1,) radii.
        precision: (bits+1,) mean precision (empty lookups count 0).
        recall: (bits+1,) mean recall.
        empty_queries: (bits+1,) queries retrieving nothing at each radius.
        queries: queries in the means (R > 0).
        zero_hit_queries: queries excluded because R = 0.
    """

    radii: np.ndarray
    precision: np.ndarray
    recall: np.ndarray
    empty_queries: np.ndarray
    queries: int
    zero_hit_queries: int

    def at(self, radius: int) -> float:
        """Mean precision within ``radius``."""
        if not 0 <= radius < len(self.radii):
            raise EvaluationError(f"radius: expected 0..{len(self.radii) - 1}, got {radius}")
        return float(self.precision[radius])


def radius_counts(
    query_codes: np.ndarray, db_codes: np.ndarray, relevance: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Cumulative (retrieved, hits) per query and radius: two (n_q, bits+1) int arrays."""
    query_codes, db_codes = check_pair(query_codes, db_codes, relevance, "relevance")
    relevance = np.asarray(relevance, dtype=bool)
    bits = code_bits(db_codes)
    retrieved = np.zeros((len(query_codes), bits + 1), dtype=np.int64)
    hits = np.zeros_like(retrieved)
    for rows, dist in iter_distances(query_codes, db_codes):
        counts, rel = distance_histograms(dist, relevance[rows], bits)
        retrieved[rows], hits[rows] = np.cumsum(counts, axis=1), np.cumsum(rel, axis=1)
    return retrieved, hits


def curve_from_counts(retrieved: np.ndarray, hits: np.ndarray) -> PRCurve:
    """Average cumulative per-radius counts into a :class:`PRCurve`."""
    n_relevant = hits[:, -1]
    valid = n_relevant > 0
    retrieved, hits = retrieved[valid], hits[valid].astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        precision = np.where(retrieved > 0, hits / np.maximum(retrieved, 1), 0.0)
        recall = hits / n_relevant[valid][:, None]
    n = int(valid.sum())
    nan = np.full(retrieved.shape[1], np.nan)
    return PRCurve(
        radii=np.arange(retrieved.shape[1]),
        precision=precision.mean(axis=0) if n else nan,
        recall=recall.mean(axis=0) if n else nan,
        empty_queries=(retrieved == 0).sum(axis=0),
        queries=n,
        zero_hit_queries=int((~valid).sum()),
    )


def pr_curve(query_codes: np.ndarray, db_codes: np.ndarray, relevance: np.ndarray) -> PRCurve:
    """Precision and recall of Hamming-ball lookups at every radius 0..bits."""
    return curve_from_counts(*radius_counts(query_codes, db_codes, relevance))


def precision_within_radius(
    query_codes: np.ndarray, db_codes: np.ndarray, relevance: np.ndarray, radius: int = 2
) -> float:
    """Mean precision of a Hamming-ball lookup of ``radius`` (empty lookups count 0)."""
    if isinstance(radius, bool) or not isinstance(radius, int | np.integer) or radius < 0:
        raise EvaluationError(f"radius: expected an integer >= 0, got {radius!r}")
    curve = pr_curve(query_codes, db_codes, relevance)
    return curve.at(min(int(radius), len(curve.radii) - 1))
