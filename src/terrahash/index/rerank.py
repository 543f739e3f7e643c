"""Re-ranking a Hamming shortlist by real-valued embeddings: the one rule every backend applies.

The shortlist of a query is its ``size`` best items by ``(distance, insertion order)``,
extended to *every* item tied with the k-th distance when that tie group runs past
``size``, so no item that ties with a result is left out by the tie order. It is then
re-ranked by the cosine between the query's vector and each stored embedding (descending;
equal scores keep the Hamming order, i.e. distance then insertion order), and the first
``k`` are returned with their Hamming distances and scores.

Items without a stored embedding keep their Hamming positions: the re-scored items are
permuted among the positions the re-scored items held. An index without embeddings, or a
query without a vector, therefore gives exactly the Hamming ranking.

The query's vector is quantised as the stored ones are (``index.embeddings``) and the score
is the cosine of the two ``int8`` vectors, ``q . s / sqrt(|q|^2 |s|^2)``. Comparing like
with like makes an item's own vector score exactly 1 and every other one at most 1 (equal
only for a parallel vector), so an image searched by itself comes first however close its
neighbours are: comparing a float query with rounded rows instead lets rounding noise
(about 0.002) outrank a near duplicate. The sums are of integers below ``2**53`` in float64,
so they are exact in any order and the scores agree bit for bit between backends and with a
NumPy reference.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from terrahash.index.embeddings import quantize_embeddings

#: Shortlist = ``SHORTLIST_FACTOR * k`` Hamming candidates (plus the k-th distance's ties);
#: chosen on UC Merced's validation part and the 1 M-item latency (``bench/rerank.py``).
SHORTLIST_FACTOR = 2
#: Scans for a shortlist fetch this many times its size, so that the end of the k-th
#: distance's tie group is nearly always among what they fetched (see ``index.flat``).
SHORTLIST_LOOKAHEAD = 2


def shortlist_size(k: int, shortlist: int | None) -> int:
    """Hamming candidates for a top-``k``: ``shortlist`` (at least ``k``), else ``k * SHORTLIST_FACTOR``."""
    if shortlist is not None and shortlist < 1:
        raise ValueError(f"shortlist must be a positive integer, got {shortlist!r}")
    return max(k, shortlist if shortlist is not None else k * SHORTLIST_FACTOR)


def needs_ties(distances: np.ndarray, k: int, fetched: int) -> bool:
    """Whether a top-``fetched`` list may have cut the k-th distance's tie group (it is full and
    its last distance equals the k-th), so a scan for that whole group must follow."""
    return len(distances) == fetched >= k and int(distances[fetched - 1]) == int(distances[k - 1])


def shortlist_length(distances: np.ndarray, k: int, size: int) -> int:
    """How many of a ranked list (ascending distances, longer than needed, holding the k-th
    distance's whole tie group) form the shortlist: ``size``, or the tie group's end if later."""
    if len(distances) <= size:
        return len(distances)
    kth = distances[min(k, len(distances)) - 1]
    return max(size, int(np.searchsorted(distances, kth, side="right")))


@dataclass(frozen=True)
class Candidates:
    """One query's shortlist in Hamming order (distance, then insertion order).

    Attributes:
        distances: (n,) Hamming distances, ascending.
        embeddings: (n, D) stored ``int8`` rows (all-zero: none stored), or ``None`` when the
            index stores no embeddings.
        ids: the ids of chosen shortlist positions (resolved only for the results).
        scanned: codes the Hamming stage scanned.
    """

    distances: np.ndarray
    embeddings: np.ndarray | None
    ids: Callable[[np.ndarray], list[str]]
    scanned: int


@dataclass(frozen=True)
class Reranked:
    """One query's results: ids, Hamming distances and scores (``None``: not re-scored)."""

    ids: list[str]
    distances: list[int]
    scores: list[float | None]


def quantized_query(vector: np.ndarray | None) -> np.ndarray | None:
    """The query's vector quantised like the stored ones, as float64 (``None``: zero or no vector)."""
    if vector is None:
        return None
    v = np.asarray(vector, dtype=np.float64).reshape(1, -1)
    if not np.isfinite(v).all():
        raise ValueError("query embedding holds NaN or infinite values")
    q = quantize_embeddings(v)[0].astype(np.float64)
    return q if q.any() else None


def scores_of(stored: np.ndarray, query: np.ndarray) -> np.ndarray:
    """Exact cosines (n,) of stored ``int8`` rows with a quantised query; NaN for all-zero rows
    (no embedding)."""
    rows = np.asarray(stored, dtype=np.float64)
    norms = np.einsum("ij,ij->i", rows, rows) * float(query @ query)
    with np.errstate(invalid="ignore", divide="ignore"):
        return (rows @ query) / np.sqrt(norms)


def rerank(candidates: Candidates, vector: np.ndarray | None, k: int) -> Reranked:
    """Re-rank one shortlist by ``vector`` (float (D,), any length scale) and keep the top ``k``.

    Raises:
        ValueError: ``vector`` has another length than the stored embeddings.
    """
    n = len(candidates.distances)
    order = np.arange(n)
    query = quantized_query(vector)
    stored = candidates.embeddings
    if query is None or stored is None or not n:
        top = order[:k]
        return Reranked(candidates.ids(top), candidates.distances[top].tolist(), [None] * len(top))
    if stored.shape[1] != query.shape[0]:
        raise ValueError(f"query embedding has {query.shape[0]} dimensions, the index stores "
                         f"{stored.shape[1]}")
    scores = scores_of(stored, query)
    present = ~np.isnan(scores)
    if present.all():
        order = np.lexsort((order, -scores))
    else:
        slots = np.flatnonzero(present)
        order[slots] = slots[np.lexsort((slots, -scores[slots]))]
    top = order[:k]
    return Reranked(
        candidates.ids(top),
        candidates.distances[top].tolist(),
        [None if s != s else s for s in scores[top].tolist()],  # NaN (no embedding) -> None
    )
