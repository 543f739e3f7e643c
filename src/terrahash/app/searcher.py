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

from terrahash.app.models import ModelUnavailableError, load_index_model, model_run_of
from terrahash.app.query import ItemNotFoundError, Query, encode_queries_and_vectors
from terrahash.index import CatalogRow, FilterLike, Index
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
        codes, vectors = self.encode_many([query], rerank)
        return codes, None if vectors[0] is None else vectors[0][None, :]

    def encode_many(
        self, queries: Sequence[Query], rerank: bool = True
    ) -> tuple[np.ndarray, list[np.ndarray | None]]:
        """Packed codes (n, bits/8) of ``queries`` and each one's re-ranking vector (D,) or
        ``None``, as ``encode_with_vector`` makes them, with one model pass per input kind."""
        for query in queries:
            query.validate()
        encoded = [q for q in queries if q.id is None]
        if encoded and self.model_run is None and self._model is None:
            raise ModelUnavailableError(
                f"{self.index.where}: error: the index names no model run, "
                "so only id queries can be answered"
            )
        stored = rerank and self.index.manifest.get("embedding_dim") is not None
        source = self.index.manifest.get("embedding_source") if stored else None
        model = self.model if encoded else None
        return encode_queries_and_vectors(queries, self.index, model, source, id_vectors=stored)

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
            query: what to search by (see ``Query``).
            k: results wanted (fewer when fewer items pass the filters).
            filters: a ``Filters`` or a dict of its keys (``bbox``, ``start``, ``end``,
                ``platforms``, ``gsd_min``, ``gsd_max``, ``cloud_max``, ``labels``); a date-only
                ``end`` covers its whole day (STAC interval semantics).
            exact: ``False`` searches the RSHST tree approximately (``nprobe`` buckets) for the
                Hamming stage.
            rerank: re-rank the Hamming shortlist by the query's vector (where the index stores
                embeddings); ``False``: Hamming order alone. Distances stay Hamming distances.
        """
        return self.search_many([query], k, filters, exact, nprobe, rerank)[0]

    def search_many(
        self,
        queries: Sequence[Query],
        k: int = 20,
        filters: FilterLike = None,
        exact: bool = True,
        nprobe: int | None = None,
        rerank: bool = True,
    ) -> list[SearchOutcome]:
        """``search`` for several queries with the same parameters, in one model pass per input
        kind and one index scan: each outcome is the one ``search`` gives that query (a server
        answering concurrent requests together). ``took_ms`` is the whole batch's time.

        Raises for the whole batch when any query fails (unknown id, no model, ...).
        """
        t0 = time.perf_counter()
        codes, vectors = self.encode_many(queries, rerank)
        # Queries without a vector are answered in Hamming order, as a lone query would be.
        plain = [i for i, v in enumerate(vectors) if v is None]
        scored = [i for i, v in enumerate(vectors) if v is not None]
        found: dict[int, tuple[list[str], list[int], int, list[float | None], str | None]] = {}
        for rows, with_vectors in ((plain, False), (scored, True)):
            if not rows:
                continue
            result = self.index.query(codes[rows], k=k, filters=filters, exact=exact, nprobe=nprobe,
                                      embeddings=[vectors[i] for i in rows] if with_vectors else None)
            method = result.details.get("method")
            for j, i in enumerate(rows):
                name = str(method[j]) if isinstance(method, list) and len(method) > j else None
                ids = [str(x) for x in result.ids[j]]
                scores = result.scores[j] if result.scores is not None else [None] * len(ids)
                found[i] = (ids, [int(d) for d in result.distances[j]], int(result.scanned[j]),
                            list(scores), name)
        catalog = self.rows([item_id for ids, *_ in found.values() for item_id in ids])
        took = (time.perf_counter() - t0) * 1000.0
        outcomes = []
        for i, query in enumerate(queries):
            ids, distances, scanned, scores, method = found[i]
            ranked = enumerate(zip(ids, distances, scores, strict=True), 1)
            hits = [_hit(rank, item_id, dist, catalog.get(item_id), score)
                    for rank, (item_id, dist, score) in ranked]
            outcomes.append(SearchOutcome(query, hits, scanned, took, method))
        return outcomes

    def rows(self, ids: Sequence[str]) -> dict[str, CatalogRow]:
        """Catalog rows by id (ids not in the catalog are left out)."""
        return {row.id: row for row in self.index.get(list(ids)) if row is not None}

    def row(self, item_id: str) -> CatalogRow:
        """The catalog row of ``item_id`` or ``ItemNotFoundError``."""
        found = self.rows([item_id])
        if item_id not in found:
            raise ItemNotFoundError(f"no item {item_id!r} in the index")
        return found[item_id]


def _hit(rank: int, item_id: str, distance: int, row: CatalogRow | None, score: float | None) -> Hit:
    if row is None:
        return Hit(rank, item_id, None, distance, (), None, score)
    return Hit(rank, item_id, row.path, distance, tuple(row.labels), row.record, score)
