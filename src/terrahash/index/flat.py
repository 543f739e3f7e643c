"""Exact flat top-k: FAISS ``IndexBinaryFlat`` for the scan, ties re-ranked by position.

FAISS's binary k-NN keeps its heap for small k and is asked for its counting variant
(``use_heap = False``: one bucket per distance, filled in database order and closed once k
codes are nearer) above ``HEAP_MAX_K``; with either, among equal distances the earliest rows
win. Measured on one thread, 1 M codes: at 128 and 256 bits the heap takes about 80 % and 70 %
of the counting variant's time for k <= 200 (at 64 bits they are even), while the heap's
cost grows with k and the counting variant's hardly does (k = 1000: the counting variant
wins at every length), which the re-ranking shortlist asks for. The output is re-sorted by
(distance, row) here so that no tie order depends on either variant. The NumPy
``bitwise_count`` path gives the same answer where FAISS is unavailable.

``FlatScanner.search_rows`` is the filtered scan: few allowed rows are gathered and
popcounted in NumPy; many are scanned in place by FAISS with a bitmap ``IDSelector`` (no copy
of the allowed codes), whichever touches less memory. ``FlatScanner.shortlist`` is the
re-ranking stage's scan: a top-``size`` that never cuts the k-th distance's tie group. It asks
FAISS for ``SHORTLIST_LOOKAHEAD`` times the shortlist (a few per cent more heap work), so the
end of that tie group is nearly always in sight and a second, range scan over every code is
rare.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from terrahash.codes import as_words, hamming
from terrahash.index.codes import pad_results, topk_stable
from terrahash.index.rerank import SHORTLIST_LOOKAHEAD, needs_ties, shortlist_length

#: Below this many codes the NumPy scan is as fast as building a FAISS index.
FAISS_MIN_ITEMS = 4096
#: Largest k searched with FAISS's heap; above it the counting variant is faster.
HEAP_MAX_K = 256
#: Row positions fit in this many bits of a (distance, row) sort key (distances need 14).
ROW_BITS = 48
#: A filtered scan gathers the allowed codes (NumPy) while they are at most this fraction of
#: the rows; above it, FAISS scans every row in place and skips the others by a bitmap.
GATHER_MAX_FRACTION = 0.05


def faiss_module() -> Any:
    """The ``faiss`` module, or ``None`` where it is not installed (NumPy then does the scans)."""
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


def gather_search(
    codes: np.ndarray, rows: np.ndarray, queries: np.ndarray, k: int
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Exact top-k among ``codes[rows]`` (one gather for all queries); rows as positions."""
    words = as_words(np.ascontiguousarray(codes[rows]))
    return [topk_stable(hamming(words, q), rows, k) for q in as_words(queries)]


class FlatScanner:
    """Exact top-k over all rows of a code array; the FAISS copy is built once, on first use."""

    def __init__(self, codes: np.ndarray) -> None:
        self.codes = codes
        self._index: object | None = None

    def _faiss_index(self) -> object | None:
        if self._index is not None:
            return self._index
        faiss = faiss_module()
        if faiss is None or self.codes.shape[0] < FAISS_MIN_ITEMS:
            return None
        if self._index is None:
            index = faiss.IndexBinaryFlat(self.codes.shape[1] * 8)
            index.add(np.ascontiguousarray(self.codes))
            self._index = index
        return self._index

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """(distances, rows), each (nq, k), padded with -1 sentinels."""
        index = self._faiss_index()
        if index is None:
            return numpy_search(self.codes, queries, k)
        return faiss_rerank(index, queries, k)

    def search_rows(
        self, queries: np.ndarray, k: int, rows: np.ndarray
    ) -> list[tuple[np.ndarray, np.ndarray]]:
        """Exact top-k restricted to ``rows`` (ascending positions); per query (distances, rows).

        Picks the cheaper plan by selectivity: gather + popcount for a few rows, FAISS over
        all codes with a bitmap selector for many. Both rank by (distance, row).
        """
        index = self._faiss_index() if not self._gather(rows) else None
        if index is None:
            return gather_search(self.codes, rows, queries, k)
        params, _keep_alive = self._selector(rows)
        dist, found = faiss_rerank(index, queries, k, params)
        return [(d[r >= 0], r[r >= 0]) for d, r in zip(dist, found, strict=True)]

    def _gather(self, rows: np.ndarray | None) -> bool:
        """Whether a scan restricted to ``rows`` is cheaper gathered (NumPy) than in place."""
        return rows is not None and rows.size <= GATHER_MAX_FRACTION * self.codes.shape[0]

    def _selector(self, rows: np.ndarray) -> tuple[object, tuple[object, np.ndarray]]:
        """FAISS search parameters that skip every row but ``rows`` (a bitmap, no copy of codes),
        and what the caller must keep alive while FAISS reads them (it holds raw pointers)."""
        faiss = faiss_module()
        mask = np.zeros(self.codes.shape[0], dtype=bool)
        mask[rows] = True
        bitmap = np.packbits(mask, bitorder="little")
        selector = faiss.IDSelectorBitmap(mask.size, faiss.swig_ptr(bitmap))
        return faiss.SearchParameters(sel=selector), (selector, bitmap)

    def within(
        self, query: np.ndarray, radius: int, rows: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Every row (of ``rows``, ascending; default all) at distance <= ``radius`` from one
        query (1, bits/8), ranked by (distance, row): a tie group in full."""
        index = None if self._gather(rows) else self._faiss_index()
        if index is None:
            positions = np.arange(self.codes.shape[0], dtype=np.int64) if rows is None else rows
            codes = self.codes if rows is None else self.codes[rows]
            dist = hamming(as_words(np.ascontiguousarray(codes)), as_words(query)[0])
            keep = np.flatnonzero(dist <= radius)
            dist, positions = dist[keep], positions[keep]
        else:
            params, _keep_alive = (None, None) if rows is None else self._selector(rows)
            _, dist, positions = index.range_search(  # type: ignore[attr-defined]
                np.ascontiguousarray(query), radius + 1, params=params
            )
        order = np.lexsort((positions, dist))
        return dist[order].astype(np.int32), positions[order].astype(np.int64)

    def shortlist(
        self, queries: np.ndarray, k: int, size: int, rows: np.ndarray | None = None
    ) -> list[tuple[np.ndarray, np.ndarray]]:
        """Per query, the top ``size`` (of ``rows``, default all) by (distance, row), or every
        row at or below the k-th distance when that tie group runs past ``size``."""
        fetch = SHORTLIST_LOOKAHEAD * size
        if rows is None:
            dist, found = self.search(queries, fetch)
            ranked = [(d[r >= 0], r[r >= 0]) for d, r in zip(dist, found, strict=True)]
        else:
            ranked = self.search_rows(queries, fetch, rows)
        out = []
        for i, (d, r) in enumerate(ranked):
            if needs_ties(d, k, fetch):
                out.append(self.within(queries[i : i + 1], int(d[k - 1]), rows))
            else:
                n = shortlist_length(d, k, size)
                out.append((d[:n], r[:n]))
        return out


def faiss_rerank(
    index: object, queries: np.ndarray, k: int, params: object | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Search a FAISS binary index and order each row by (distance, position), -1 padded."""
    x = np.ascontiguousarray(queries)
    # the variant only changes speed (both keep the earliest rows among ties), so concurrent
    # callers setting it differently cannot change an answer
    index.use_heap = k <= HEAP_MAX_K  # type: ignore[attr-defined]
    if params is None:
        dist, rows = index.search(x, k)  # type: ignore[attr-defined]
    else:
        dist, rows = index.search(x, k, params=params)  # type: ignore[attr-defined]
    dist = dist.astype(np.int32, copy=False)
    rows = rows.astype(np.int64, copy=False)
    # usual case: nothing missing (FAISS pads at the end), and the order only needs checking
    # within ties: one key per result, (distance, row), must rise strictly along each row
    if rows[:, -1].min() >= 0:
        key = (dist.astype(np.int64) << ROW_BITS) | rows
        if (key[:, 1:] > key[:, :-1]).all():
            return dist, rows
    missing = rows < 0
    # one lexsort over every query's row (2-D keys sort along the last axis): missing last,
    # then distance, then position
    key_rows = np.where(missing, np.iinfo(np.int64).max, rows)
    key_dist = np.where(missing, np.iinfo(np.int32).max, dist)
    order = np.lexsort((key_rows, key_dist), axis=-1)
    dist = np.take_along_axis(dist, order, axis=1)
    rows = np.take_along_axis(rows, order, axis=1)
    missing = rows < 0
    dist[missing] = -1
    return dist, rows
