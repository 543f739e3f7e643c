"""The stable Hamming ranking every metric in this package shares, chunk by chunk.

Validation and distances are :mod:`terrahash.codes` (the one code checker and Hamming
kernel); what this module adds is evaluation's own: the query/database/matrix consistency
check, the cut-off ``k``, query chunks (a 2 000 x 8 000 evaluation then needs a few tens of
MB, not n_q x n_db x bytes) and per-distance histograms.

Tie-break: the ranking is ``argsort(distance, kind="stable")``, so items at the same distance
keep their database order. Metrics that depend on that order are only meaningful when the
database order is random (see :mod:`terrahash.evaluate.protocol`); ``tie_aware_map`` removes
the dependence altogether.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from terrahash.codes import CodeShapeError, check_codes, hamming_distances
from terrahash.errors import TerraHashError

#: Queries per chunk: bounds memory at about chunk x n_db x 12 bytes.
DEFAULT_CHUNK = 512


class EvaluationError(TerraHashError, ValueError):
    """Inputs to a metric are inconsistent (dtype, shape, k); the message names the argument."""


def _checked(codes: np.ndarray, name: str) -> np.ndarray:
    """:func:`terrahash.codes.check_codes`, failing as this package's ``EvaluationError``."""
    try:
        return check_codes(codes, name=name)
    except CodeShapeError as exc:
        raise EvaluationError(str(exc)) from exc


def check_pair(
    query_codes: np.ndarray, db_codes: np.ndarray, matrix: np.ndarray | None = None, name: str = ""
) -> tuple[np.ndarray, np.ndarray]:
    """Validate query/database codes (and an (n_q, n_db) matrix such as relevance)."""
    query_codes = _checked(query_codes, "query_codes")
    db_codes = _checked(db_codes, "db_codes")
    if query_codes.shape[1] != db_codes.shape[1]:
        raise EvaluationError(
            f"query_codes have {query_codes.shape[1]} bytes ({8 * query_codes.shape[1]} bits) "
            f"but db_codes have {db_codes.shape[1]} ({8 * db_codes.shape[1]} bits)"
        )
    if len(db_codes) == 0:
        raise EvaluationError("db_codes: the database is empty")
    if matrix is not None:
        expected = (len(query_codes), len(db_codes))
        if np.shape(matrix) != expected:
            raise EvaluationError(
                f"{name}: expected shape {expected} (n_queries, n_database), got {np.shape(matrix)}"
            )
    return query_codes, db_codes


def check_k(k: int | None, n_db: int) -> int:
    """``None`` -> ``n_db``; otherwise a positive int, capped at ``n_db``."""
    if k is None:
        return n_db
    if isinstance(k, bool) or not isinstance(k, int | np.integer) or k < 1:
        raise EvaluationError(f"k: expected a positive integer or None, got {k!r}")
    return min(int(k), n_db)


def code_bits(codes: np.ndarray) -> int:
    """Number of bits in a packed code row."""
    return 8 * int(np.asarray(codes).shape[1])


def stable_ranking(distances: np.ndarray) -> np.ndarray:
    """Database indices per row, nearest first, ties in database order."""
    # numpy's stable sort on <=16-bit integers is a radix sort: linear time.
    small = distances.astype(np.uint16) if distances.max(initial=0) < 2**16 else distances
    return np.argsort(small, axis=1, kind="stable")


def iter_distances(
    query_codes: np.ndarray, db_codes: np.ndarray, chunk: int = DEFAULT_CHUNK
) -> Iterator[tuple[slice, np.ndarray]]:
    """(query rows, (n, n_db) Hamming distances) per block of ``chunk`` validated queries."""
    for start in range(0, len(query_codes), chunk):
        rows = slice(start, min(start + chunk, len(query_codes)))
        yield rows, hamming_distances(query_codes[rows], db_codes)


@dataclass(frozen=True)
class RankedChunk:
    """A block of queries ranked against the whole database.

    Attributes:
        rows: the query rows of this block.
        distances: (n, n_db) Hamming distances in database order.
        order: (n, n_db) database indices, nearest first, ties in database order.
        relevance: (n, n_db) relevance in database order.
        relevant_sorted: (n, n_db) relevance in ranked order.
        n_relevant: (n,) number of relevant database items per query (R).
    """

    rows: slice
    distances: np.ndarray
    order: np.ndarray
    relevance: np.ndarray
    relevant_sorted: np.ndarray
    n_relevant: np.ndarray


def iter_ranked(
    query_codes: np.ndarray,
    db_codes: np.ndarray,
    relevance: np.ndarray,
    chunk: int = DEFAULT_CHUNK,
) -> Iterator[RankedChunk]:
    """Yield :class:`RankedChunk` blocks covering all queries (stable Hamming ranking)."""
    query_codes, db_codes = check_pair(query_codes, db_codes, relevance, "relevance")
    relevance = np.asarray(relevance, dtype=bool)
    for rows, dist in iter_distances(query_codes, db_codes, chunk):
        order = stable_ranking(dist)
        rel = relevance[rows]
        yield RankedChunk(
            rows=rows,
            distances=dist,
            order=order,
            relevance=rel,
            relevant_sorted=np.take_along_axis(rel, order, axis=1),
            n_relevant=rel.sum(axis=1),
        )


def distance_histograms(
    distances: np.ndarray, relevance: np.ndarray, bits: int
) -> tuple[np.ndarray, np.ndarray]:
    """Per query, items and relevant items at each distance 0..bits: two (n, bits+1) arrays.

    These are the tie groups: everything the tie-aware and radius metrics need.
    """
    n = len(distances)
    width = bits + 1
    flat = (distances.astype(np.int64) + (np.arange(n, dtype=np.int64) * width)[:, None]).ravel()
    counts = np.bincount(flat, minlength=n * width).reshape(n, width)
    relevant = np.bincount(flat, weights=np.asarray(relevance, dtype=np.float64).ravel(),
                           minlength=n * width).reshape(n, width)
    return counts, np.rint(relevant).astype(np.int64)
