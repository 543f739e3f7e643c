"""What the index adds to the shared code kernel (``terrahash.codes``): exact top-k with stable
ties, FAISS-style result padding, and the search-argument checks every backend shares.

Every search path in the package (flat scan, tree leaves, filtered scans) ranks by the same
key, ``(distance, insertion position)``, so their results can be compared element for element.
"""

from __future__ import annotations

import numpy as np

from terrahash.codes import check_codes

#: Distance reported for a missing result (FAISS's binary sentinel is also "larger than any").
MISSING_DISTANCE = -1
#: Position reported for a missing result (FAISS's ``-1`` label).
MISSING_POSITION = -1


def topk_stable(distances: np.ndarray, positions: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` best ``(distance, position)`` pairs, sorted by distance then position.

    ``argpartition`` alone may split a tie at the k-th distance arbitrarily; this takes every
    candidate at or below the k-th distance and sorts them, so the boundary is deterministic.
    """
    n = distances.shape[0]
    if n == 0 or k <= 0:
        return np.empty(0, np.int32), np.empty(0, np.int64)
    if n > k:
        kth = np.partition(distances, k - 1)[k - 1]
        keep = np.flatnonzero(distances <= kth)
        distances, positions = distances[keep], positions[keep]
    order = np.lexsort((positions, distances))[:k]
    return distances[order].astype(np.int32), positions[order].astype(np.int64)


def pad_results(rows: list[tuple[np.ndarray, np.ndarray]], k: int) -> tuple[np.ndarray, np.ndarray]:
    """Stack per-query results into (n, k) arrays padded with the FAISS-style sentinels."""
    dist = np.full((len(rows), k), MISSING_DISTANCE, dtype=np.int32)
    pos = np.full((len(rows), k), MISSING_POSITION, dtype=np.int64)
    for i, (d, p) in enumerate(rows):
        dist[i, : len(d)] = d
        pos[i, : len(p)] = p
    return dist, pos





def check_search_args(codes: np.ndarray, bits: int, k: object, nprobe: int | None) -> tuple[np.ndarray, int]:
    """Validated query codes and ``k`` for any backend's ``search`` (same errors everywhere)."""
    queries = check_codes(codes, bits, "query codes")
    if not isinstance(k, int | np.integer) or k < 1:
        raise ValueError(f"k must be a positive integer, got {k!r}")
    if nprobe is not None and nprobe < 1:
        raise ValueError(f"nprobe must be a positive integer, got {nprobe!r}")
    return queries, int(k)
