"""Exact flat top-k: FAISS ``IndexBinaryFlat`` for the scan, ties re-ranked by position.

FAISS's binary k-NN keeps a heap that only admits strictly better codes while it walks the
database in order, so among equal distances the earliest rows win; its output is re-sorted
by (distance, row) here so that no tie order depends on its heap layout. The NumPy
``bitwise_count`` path gives the same answer where FAISS is unavailable.
"""

from __future__ import annotations

import numpy as np

from terrahash.index.codes import as_words, hamming, pad_results, topk_stable

#: Below this many codes the NumPy scan is as fast as building a FAISS index.
FAISS_MIN_ITEMS = 4096


def _faiss():  # noqa: ANN202 - module or None
    try:
        import faiss
    except ImportError:  # pragma: no cover
        return None
    return faiss


def numpy_search(codes: np.ndarray, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """(distances, rows), each (nq, k), padded with -1; NumPy only."""
    words = as_words(np.ascontiguousarray(codes))
    rows = np.arange(codes.shape[0], dtype=np.int64)
    return pad_results([topk_stable(hamming(words, q), rows, k) for q in as_words(queries)], k)


class FlatScanner:
    """Exact top-k over all rows of a code array; the FAISS copy is built once, on first use."""

    def __init__(self, codes: np.ndarray) -> None:
        self.codes = codes
        self._index: object | None = None

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """(distances, rows), each (nq, k), padded with -1 sentinels."""
        faiss = _faiss()
        if faiss is None or self.codes.shape[0] < FAISS_MIN_ITEMS:
            return numpy_search(self.codes, queries, k)
        if self._index is None:
            index = faiss.IndexBinaryFlat(self.codes.shape[1] * 8)
            index.add(np.ascontiguousarray(self.codes))
            self._index = index
        return faiss_rerank(self._index, queries, k)


def faiss_rerank(index: object, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Search a FAISS binary index and order each row by (distance, position)."""
    dist, rows = index.search(np.ascontiguousarray(queries), k)  # type: ignore[attr-defined]
    dist = dist.astype(np.int32)
    rows = rows.astype(np.int64)
    for i in range(rows.shape[0]):
        valid = rows[i] >= 0
        order = np.lexsort((rows[i][valid], dist[i][valid]))
        n = order.size
        dist[i, :n], rows[i, :n] = dist[i][valid][order], rows[i][valid][order]
        dist[i, n:], rows[i, n:] = -1, -1
    return dist, rows
