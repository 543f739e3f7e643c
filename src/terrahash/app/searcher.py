"""The one search path: an opened index, its model (loaded once, on first need) and ``search``.

The CLI, the Python API, the HTTP service and the benchmarks all search through a
``Searcher``, so a query and its filters give the same ids, distances and scores everywhere.

Search is two stages where the index stores embeddings: a Hamming shortlist (filters
applied first), re-ranked by the query's real-valued vector, made by the model in the same
pass as its code, from the source the index was built with (``embedding_source`` in its
manifest); an id query takes the item's stored embedding. ``rerank=False`` is the Hamming
stage alone.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from terrahash.app.concepts import Concept
from terrahash.app.models import load_index_model, model_run_of
from terrahash.app.query import (
    ItemNotFoundError,
    PreparedQuery,
    Query,
    encode_image_queries,
    prepare_query,
    require_model,
)
from terrahash.app.text_reading import TextReading, text_filters
from terrahash.index import CatalogRow, FilterLike, Index, SearchResult, normalize_filters
from terrahash.model import HashModel


@dataclass(frozen=True)
class Hit:
    """One ranked result with its catalog row."""

    rank: int
    id: str
    path: str | None
    distance: int
    labels: tuple[str, ...]
    record: dict[str, Any] | None
    #: Re-ranking score (~ cosine of query and item vectors); ``None`` when not re-scored.
    score: float | None = None

    @property
    def label(self) -> str | None:
        """The primary (first) label."""
        return self.labels[0] if self.labels else None

    def to_json(self) -> dict[str, Any]:
        """The ``--json`` form: keys ``id, path, distance, score, label, record``."""
        return {"id": self.id, "path": self.path, "distance": self.distance, "score": self.score,
                "label": self.label, "record": self.record}


@dataclass(frozen=True)
class SearchOutcome:
    """Ranked results of one query and the work done."""

    query: Query
    hits: list[Hit]
    scanned: int
    took_ms: float
    method: str | None = None
    #: How a text query was read (``None`` for other kinds).
    reading: TextReading | None = None
    #: The land cover a text query was searched as, if it named one.
    concept: Concept | None = None

    @property
    def ids(self) -> list[str]:
        return [h.id for h in self.hits]

    @property
    def distances(self) -> list[int]:
        return [h.distance for h in self.hits]

    @property
    def scores(self) -> list[float | None]:
        return [h.score for h in self.hits]

    def to_json(self) -> dict[str, Any]:
        """``{"results": [...], "scanned": n, "took_ms": t}``: the CLI's ``--json``."""
        return {"results": [h.to_json() for h in self.hits], "scanned": self.scanned,
                "took_ms": round(self.took_ms, 3)}


class Searcher:
    """An index plus the model that made its codes; safe to share between threads.

    Example::

        with Searcher.open("ucm.thi") as searcher:
            outcome = searcher.search(Query(image=Path("tile.jpg")), k=10, filters={"end": "2020-01-31"})
            print(outcome.ids, outcome.distances)
    """

    def __init__(self, index: Index, model_run: str | Path | None = None,
                 model: HashModel | None = None) -> None:
        self.index = index
        self.model_run: Path | None = Path(model_run) if model_run is not None else model_run_of(index)
        self._model = model
        self._lock = threading.Lock()

    @classmethod
    def open(cls, location: str | Path, model_run: str | Path | None = None) -> Searcher:
        """Open the index at ``location`` (folder or ``postgresql://`` URI); the model loads lazily."""
        return cls(Index.open(location), model_run)

    def __enter__(self) -> Searcher:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.index.close()

    @property
    def model_loaded(self) -> bool:
        return self._model is not None

    @property
    def model(self) -> HashModel:
        """The index's model, checked by fingerprint, loaded once on first use."""
        if self._model is None:
            with self._lock:
                if self._model is None:
                    self._model = load_index_model(self.index, self.model_run)
        return self._model

    def warm_up(self) -> None:
        """Load the model now (servers do so at start-up, not on the first query)."""
        if self.model_run is not None:
            _ = self.model

    def share_model(self, other: Searcher) -> None:
        """Reuse ``other``'s loaded model when both name the same run (a reload of one index)."""
        if other._model is not None and other.model_run == self.model_run:
            self._model = other._model

    def encode(self, query: Query) -> np.ndarray:
        """Packed (1, bits/8) code of ``query`` (id queries need no model)."""
        return self.encode_with_vector(query, rerank=False)[0]

    def encode_with_vector(self, query: Query, rerank: bool = True) -> tuple[np.ndarray, np.ndarray | None]:
        """``encode``'s code and, with ``rerank`` on an index that stores embeddings, the query's
        re-ranking vector (1, D) from the same pass (else ``None``)."""
        prepared = self.prepare(query, rerank)
        return prepared.code, prepared.vector

    def prepare(
        self, query: Query, rerank: bool = True, catalog: dict[str, Any] | None = None
    ) -> PreparedQuery:
        """``encode_with_vector``'s code and vector, with how a text query was read (``prepare_query``)."""
        query.validate()
        model = None if query.id is not None else self._model_if_any()
        return prepare_query(query, self.index, model, self._rerank_source(query.id is not None, rerank),
                             catalog)

    def _model_if_any(self) -> HashModel | None:
        """The model (loaded on first use), or ``None`` when the index names no run."""
        return None if self.model_run is None and self._model is None else self.model

    def _rerank_source(self, by_id: bool, rerank: bool) -> str | None:
        """Which embedding re-ranks a query: the index's ``embedding_source`` for encoded
        queries, ``"stored"`` at least for id queries; ``None`` without re-ranking or stored
        embeddings."""
        source = self.index.manifest.get("embedding_source")
        if not rerank or self.index.manifest.get("embedding_dim") is None:
            return None
        if by_id:
            return source or "stored"  # an id query reads the stored embedding, whatever made it
        return source

    def search(
        self,
        query: Query,
        k: int = 20,
        filters: FilterLike = None,
        exact: bool = True,
        nprobe: int | None = None,
        rerank: bool = True,
    ) -> SearchOutcome:
        """Top-``k`` items nearest to ``query`` that pass ``filters``, nearest first.

        Args:
            query: what to search by (see ``Query``). Text naming a land cover is searched
                by the concept's code, its platform and date words narrowing ``filters``
                (see ``app.text_reading``).
            k: results wanted (fewer when fewer items pass the filters).
            filters: a ``Filters`` or a dict of its keys (``bbox``, ``start``, ``end``,
                ``platforms``, ``gsd_min``, ``gsd_max``, ``cloud_max``, ``labels``); a date-only
                ``end`` covers its whole day (STAC interval semantics).
            exact: ``False`` searches the RSHST tree approximately (``nprobe`` buckets) for the
                Hamming stage.
            rerank: re-rank the Hamming shortlist by the query's vector (where the index stores
                embeddings); ``False``: Hamming order alone. Distances stay Hamming distances.
        """
        t0 = time.perf_counter()
        base = normalize_filters(filters)
        catalog = self.index.info()["catalog"] if query.text is not None else None
        prepared = self.prepare(query, rerank, catalog)
        parts = [base]
        if prepared.concept is not None and prepared.reading is not None and catalog is not None:
            parts = text_filters(base, prepared.reading, catalog.get("time_range") or [None, None])
        embeddings = None if prepared.vector is None else [prepared.vector[0]]
        results = [self.index.query(prepared.code, k=k, filters=f, exact=exact, nprobe=nprobe,
                                    embeddings=embeddings) for f in parts]
        ranked = _merge(results, k)
        rows = self.index.get([item_id for item_id, _, _ in ranked])
        hits = [_hit(rank, item_id, dist, row, score)
                for rank, ((item_id, dist, score), row) in enumerate(zip(ranked, rows, strict=True), 1)]
        took = (time.perf_counter() - t0) * 1000.0
        methods = [r.details.get("method") for r in results]
        method = methods[0] if methods else None
        return SearchOutcome(query, hits, sum(int(r.scanned[0]) for r in results), took,
                             str(method[0]) if isinstance(method, list) and method else None,
                             prepared.reading, prepared.concept)

    def search_many(
        self,
        queries: Sequence[Query],
        k: int = 20,
        filters: FilterLike = None,
        exact: bool = True,
        nprobe: int | None = None,
        rerank: bool = True,
    ) -> list[SearchOutcome]:
        """``search`` for several queries with the same parameters: each outcome is the one
        ``search`` gives that query. Image queries (a server's concurrent uploads) share one
        model pass and one index scan; id and text queries are answered one by one (they
        need no image model pass, and text may split into several date intervals).
        ``took_ms`` of a batched query is the whole batch's time.

        Raises for the whole batch when any query fails (unknown id, no model, ...).
        """
        t0 = time.perf_counter()
        batched = [i for i, q in enumerate(queries)
                   if q.image is not None and q.id is None and q.text is None]
        with_meta = [i for i in batched if queries[i].metadata is not None]
        plain = [i for i in batched if queries[i].metadata is None]
        outcomes: dict[int, SearchOutcome] = {}
        for group in (plain, with_meta):
            if not group:
                continue
            model = require_model(self.index, self._model_if_any(), "image")
            codes, vectors = encode_image_queries([queries[i] for i in group], model,
                                                  self._rerank_source(False, rerank))
            result = self.index.query(codes, k=k, filters=filters, exact=exact, nprobe=nprobe,
                                      embeddings=None if vectors is None else list(vectors))
            catalog = self.rows([str(x) for ids in result.ids for x in ids])
            took = (time.perf_counter() - t0) * 1000.0
            method = result.details.get("method")
            for j, i in enumerate(group):
                ids = [str(x) for x in result.ids[j]]
                scores = result.scores[j] if result.scores is not None else [None] * len(ids)
                ranked = enumerate(zip(ids, result.distances[j], scores, strict=True), 1)
                hits = [_hit(rank, item_id, int(dist), catalog.get(item_id), score)
                        for rank, (item_id, dist, score) in ranked]
                name = str(method[j]) if isinstance(method, list) and len(method) > j else None
                outcomes[i] = SearchOutcome(queries[i], hits, int(result.scanned[j]), took, name)
        for i, query in enumerate(queries):
            if i not in outcomes:
                outcomes[i] = self.search(query, k, filters, exact, nprobe, rerank)
        return [outcomes[i] for i in range(len(queries))]

    def rows(self, ids: Sequence[str]) -> dict[str, CatalogRow]:
        """Catalog rows by id (ids not in the catalog are left out)."""
        return {row.id: row for row in self.index.get(list(ids)) if row is not None}

    def row(self, item_id: str) -> CatalogRow:
        """The catalog row of ``item_id`` or ``ItemNotFoundError``."""
        found = self.rows([item_id])
        if item_id not in found:
            raise ItemNotFoundError(f"no item {item_id!r} in the index")
        return found[item_id]


def _merge(results: Sequence[SearchResult], k: int) -> list[tuple[str, int, float | None]]:
    """One ranking from the searches of several date intervals: by score where re-ranked, else
    by Hamming distance (ties keep interval order); an item in two intervals counts once."""
    seen: set[str] = set()
    merged: list[tuple[str, int, float | None]] = []
    for result in results:
        scores = result.scores[0] if result.scores is not None else [None] * len(result.ids[0])
        for item_id, dist, score in zip(result.ids[0], result.distances[0], scores, strict=True):
            if str(item_id) not in seen:
                seen.add(str(item_id))
                merged.append((str(item_id), int(dist), score))
    if len(results) > 1:
        merged.sort(key=lambda t: (-t[2], t[1]) if t[2] is not None else (0.0, t[1]))
    return merged[:k]


def _hit(rank: int, item_id: str, distance: int, row: CatalogRow | None, score: float | None) -> Hit:
    if row is None:
        return Hit(rank, item_id, None, distance, (), None, score)
    return Hit(rank, item_id, row.path, distance, tuple(row.labels), row.record, score)
