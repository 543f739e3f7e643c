"""Query planning for an index folder: which rows to scan, and how.

Three plans, each exact unless asked otherwise, each ranking by (distance, row):

* **filtered**: the filter columns (and SQLite's label index) give the allowed rows; the
  flat scanner ranks only those (gathered, or skipped by a FAISS bitmap, by selectivity);
* **flat**: FAISS (or NumPy) over every code;
* **tree**: the RSHST tree, best-first; approximate when ``exact=False`` (``nprobe`` buckets).

``plan_candidates`` takes the same plans for the re-ranking shortlist (``index.rerank``).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from terrahash.codes import as_words
from terrahash.index.backend import SearchRequest, SearchResult
from terrahash.index.embedded.generation import Generation
from terrahash.index.filters import Filters
from terrahash.index.rerank import SHORTLIST_LOOKAHEAD, Candidates, shortlist_length

#: Per query: (distances, row positions) in rank order.
Ranked = list[tuple[np.ndarray, np.ndarray]]


def allowed_rows(gen: Generation, filters: Filters) -> np.ndarray:
    """Row positions (ascending) of the items passing ``filters``."""
    allowed = gen.columns.rows(filters)
    if filters.labels:  # labels are many-to-many: ask SQLite's label index
        seqs = np.asarray(gen.catalog.matching(Filters(labels=filters.labels)), np.int64)
        labelled = np.zeros(len(gen), dtype=bool)
        labelled[gen.rows_of(seqs)] = True
        allowed = allowed[labelled[allowed]]
    return allowed


def _result(gen: Generation, ranked: Ranked, scanned: list[int], method: str) -> SearchResult:
    return SearchResult(
        [gen.ids(rows) for _, rows in ranked],
        [dist.tolist() for dist, _ in ranked],
        scanned,
        details={"method": method},
    )


def tree_search(
    gen: Generation, queries: np.ndarray, k: int, exact: bool, nprobe: int | None
) -> SearchResult:
    """The tree plan (the caller checks that ``gen.tree`` exists)."""
    assert gen.tree is not None
    words = as_words(np.asarray(gen.codes))
    found = [gen.tree.search_one(words, q, k, exact=exact, nprobe=nprobe) for q in as_words(queries)]
    return _result(gen, [(d, r) for d, r, _ in found], [s for _, _, s in found], "tree")


def plan_search(gen: Generation, request: SearchRequest) -> SearchResult:
    """Top-k through the cheapest exact plan, or the tree when ``exact=False``."""
    queries, k, filters = request.queries, request.k, request.filters
    if not filters.empty:
        allowed = allowed_rows(gen, filters)
        ranked = gen.flat.search_rows(queries, k, allowed)
        return _result(gen, ranked, [int(allowed.size)] * len(queries), "filtered")
    if request.exact or gen.tree is None:
        dist, rows = gen.flat.search(queries, k)
        full = rows.shape[1] == 0 or rows[:, -1].min() >= 0  # no -1 padding (k <= items)
        ranked = [(d, r) if full else (d[r >= 0], r[r >= 0]) for d, r in zip(dist, rows, strict=True)]
        return _result(gen, ranked, [len(gen)] * len(queries), "flat")
    return tree_search(gen, queries, k, exact=False, nprobe=request.nprobe)


def _candidates(gen: Generation, ranked: Ranked, scanned: list[int]) -> list[Candidates]:
    def ids_of(rows: np.ndarray) -> Callable[[np.ndarray], list[str]]:
        return lambda chosen: gen.ids(rows[chosen])

    stored = gen.embeddings
    return [
        Candidates(dist, np.asarray(stored[rows]) if stored is not None else None, ids_of(rows), count)
        for (dist, rows), count in zip(ranked, scanned, strict=True)
    ]


def plan_candidates(gen: Generation, request: SearchRequest, size: int) -> list[Candidates]:
    """The re-ranking shortlists (see ``IndexBackend.candidates``) through ``plan_search``'s plans."""
    queries, k, filters = request.queries, request.k, request.filters
    if not filters.empty:
        allowed = allowed_rows(gen, filters)
        ranked = gen.flat.shortlist(queries, k, size, allowed)
        return _candidates(gen, ranked, [int(allowed.size)] * len(queries))
    if request.exact or gen.tree is None:
        return _candidates(gen, gen.flat.shortlist(queries, k, size), [len(gen)] * len(queries))
    # approximate: the tree's best of what it visits, cut like an exact scan's look-ahead
    words = as_words(np.asarray(gen.codes))
    found = [gen.tree.search_one(words, q, SHORTLIST_LOOKAHEAD * size, exact=False, nprobe=request.nprobe)
             for q in as_words(queries)]
    cut = [shortlist_length(d, k, size) for d, _, _ in found]
    return _candidates(gen, [(d[:n], r[:n]) for (d, r, _), n in zip(found, cut, strict=True)],
                       [int(s) for _, _, s in found])
