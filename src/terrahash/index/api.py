"""``terrahash.Index``: the public face of every index backend (FAISS-sized API, string ids)."""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from typing import Any

import numpy as np

from terrahash.index.backend import BackendType, IndexBackend, SearchRequest, SearchResult, Selection
from terrahash.index.embedded import EmbeddedIndex
from terrahash.index.embeddings import dequantize_embeddings
from terrahash.index.filters import FilterLike, normalize_filters
from terrahash.index.items import CatalogRow, ItemBatch, LabelLike, RecordLike
from terrahash.index.locations import is_postgres_uri
from terrahash.index.rerank import rerank, shortlist_size

Location = str | os.PathLike[str]
#: Query vectors for re-ranking: float (n, D), or one row (or ``None``: Hamming order) per query.
QueryVectors = np.ndarray | Sequence[np.ndarray | None] | None


def backend_type(location: Location) -> BackendType:
    """The backend class for ``location``: PostgreSQL for a ``postgresql://`` URI, else a folder."""
    if not is_postgres_uri(location):
        return EmbeddedIndex
    # imported here, not above: psycopg is an optional dependency (``terrahash[postgres]``),
    # and a folder index must work without it
    from terrahash.index.postgres import PostgresIndex

    return PostgresIndex


def index_exists(location: Location) -> bool:
    """Whether ``location`` holds an index: a folder with a manifest, or a schema with one."""
    return backend_type(location).exists(location)


class Index:
    """A searchable set of hash codes with their catalog, on disk (a folder) or in PostgreSQL.

    Example::

        index = terrahash.Index.create("scenes.thi", bits=64)
        index.add(["a", "b"], codes, records=[rec_a, rec_b], labels=["forest", "river"],
                  embeddings=vectors)  # optional float (2, D): stored as int8 for re-ranking
        ids, distances = index.search(query_codes, k=10, filters={"cloud_max": 20})
        reranked = index.query(query_codes, k=10, embeddings=query_vectors)  # + .scores
    """

    def __init__(self, backend: IndexBackend) -> None:
        self.backend = backend

    @classmethod
    def create(cls, path: Location, bits: int, **meta: Any) -> Index:
        """Create an empty index for ``bits``-bit codes at ``path`` (a folder or a PostgreSQL URI)."""
        return cls(backend_type(path).create(path, bits, **meta))

    @classmethod
    def open(cls, path: Location) -> Index:
        """Open an existing index (raises ``CorruptIndexError`` naming what is wrong)."""
        return cls(backend_type(path).open(path))

    @property
    def bits(self) -> int:
        return self.backend.bits

    @property
    def manifest(self) -> dict[str, Any]:
        return self.backend.manifest

    @property
    def where(self) -> str:
        """The index's location for messages (a folder, or a URI without its password)."""
        return self.backend.where

    def __len__(self) -> int:
        return len(self.backend)

    def close(self) -> None:
        """Release the backend (its open files or its connection)."""
        self.backend.close()

    def __enter__(self) -> Index:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def add(
        self, ids: Sequence[str], codes: np.ndarray,
        records: Sequence[RecordLike] | None = None,
        labels: Sequence[LabelLike] | None = None,
        paths: Sequence[str | None] | None = None,
        embeddings: np.ndarray | None = None,
    ) -> None:
        """Insert items, or update those whose id exists (upsert); atomic.

        Args:
            ids: one string id per code.
            codes: packed ``uint8`` array (n, bits/8).
            records: ``SceneRecord`` or its JSON dict per item (filters read them).
            labels: a label or a list of labels per item (the first one places it in the tree).
            paths: image path per item (shown in results).
            embeddings: float (n, D), D <= 256, for re-ranking; stored as ``int8``, each row
                L2-normalised and rounded to multiples of 1/127 (``index.embeddings``). Items
                written without one (or with a zero row) have none. One index, one D.
        """
        self.backend.add(ItemBatch.build(self.bits, ids, codes, records, labels, paths, embeddings))

    def replace_all(
        self, ids: Sequence[str], codes: np.ndarray, records: Sequence[RecordLike] | None = None,
        labels: Sequence[LabelLike] | None = None, paths: Sequence[str | None] | None = None,
        embeddings: np.ndarray | None = None, **manifest: Any,
    ) -> None:
        """Make these items the whole index and record ``manifest`` fields, in one atomic write
        (readers see the old items until it commits): a rebuild. Arguments as in ``add``."""
        batch = ItemBatch.build(self.bits, ids, codes, records, labels, paths, embeddings)
        self.backend.add(batch, True, **manifest)

    def update_manifest(self, **fields: Any) -> None:
        """Record provenance (model run, code kind, dataset, ...) in the manifest."""
        self.backend.update_manifest(**fields)

    def remove(self, ids: Sequence[str]) -> int:
        """Delete items by id; returns how many existed."""
        return self.backend.remove(ids)

    def search(
        self, codes: np.ndarray, k: int = 10, filters: FilterLike = None,
        exact: bool = True, nprobe: int | None = None, embeddings: QueryVectors = None,
    ) -> tuple[list[list[str]], list[list[int]]]:
        """Top-k by Hamming distance, ties by insertion order (or re-ranked: see ``query``).

        Args:
            codes: packed query codes (n, bits/8) (or one code (bits/8,)).
            k: results per query (fewer when fewer items pass the filters).
            filters: a ``Filters`` or a dict with its keys; the filtered top-k is exact.
            exact: ``False`` searches the RSHST tree approximately (at most ``nprobe`` buckets).
            nprobe: buckets visited in approximate mode (default 16).
            embeddings: float query vectors (n, D): re-rank a Hamming shortlist by them.

        Returns:
            ``(ids, distances)``: ``ids[i]`` the ids for query i in rank order, ``distances[i]``
            their Hamming distances.
        """
        result = self.query(codes, k, filters, exact, nprobe, embeddings)
        return result.ids, result.distances

    def query(
        self, codes: np.ndarray, k: int = 10, filters: FilterLike = None,
        exact: bool = True, nprobe: int | None = None, embeddings: QueryVectors = None,
        shortlist: int | None = None,
    ) -> SearchResult:
        """Like ``search`` but returns a ``SearchResult`` with codes scanned and time taken.

        With ``embeddings`` (float (n, D), one row per query, or ``None`` rows), each query's
        Hamming shortlist (``shortlist`` candidates, default ``k * SHORTLIST_FACTOR``, extended
        to every item tied with the k-th distance; filtered first; approximate with
        ``exact=False``) is re-ranked by its dot product with the stored embeddings
        (``index.rerank``); distances stay Hamming distances and ``scores`` holds the scores.
        An index without stored embeddings answers in Hamming order.
        """
        start = time.perf_counter()
        request = SearchRequest.build(self.bits, codes, k, filters, exact, nprobe)
        if embeddings is None:
            result = self.backend.search(request)
        else:
            vectors = list(embeddings)
            if len(vectors) != len(request.queries):
                raise ValueError(f"embeddings: {len(vectors)} rows for {len(request.queries)} query codes")
            shortlists = self.backend.candidates(request, shortlist_size(request.k, shortlist))
            ranked = [rerank(c, v, request.k) for c, v in zip(shortlists, vectors, strict=True)]
            result = SearchResult(
                [r.ids for r in ranked], [r.distances for r in ranked], [c.scanned for c in shortlists],
                details={"method": "rerank", "shortlist": [len(c.distances) for c in shortlists]},
                scores=[r.scores for r in ranked],
            )
        result.took_ms = (time.perf_counter() - start) * 1000.0
        return result

    def select(self, filters: FilterLike = None, offset: int = 0, limit: int = 100) -> Selection:
        """Browse by metadata alone: the ids of the items passing ``filters`` in insertion order,
        ``limit`` of them from ``offset``, and how many pass in all (``Selection.matched``).

        The same filter semantics (and the same column indexes) as a filtered ``search``, so a
        page of ``select`` holds exactly the items a filtered search may return.
        """
        if isinstance(offset, bool) or not isinstance(offset, int) or offset < 0:
            raise ValueError(f"offset: must be an integer >= 0, got {offset!r}")
        if isinstance(limit, bool) or not isinstance(limit, int) or limit < 0:
            raise ValueError(f"limit: must be an integer >= 0, got {limit!r}")
        return self.backend.select(normalize_filters(filters), offset, limit)

    def get(self, ids: Sequence[str]) -> list[CatalogRow | None]:
        """Catalog rows (id, path, labels, record) for ids; ``None`` for unknown ids."""
        return self.backend.get(ids)

    def ids(self) -> list[str]:
        """Every id, in insertion order (the order in which ties are ranked)."""
        return self.backend.ids()

    def codes_of(self, ids: Sequence[str]) -> np.ndarray:
        """Stored codes of ids (raises for an unknown id)."""
        return self.backend.codes_of(ids)

    def embeddings_of(self, ids: Sequence[str]) -> np.ndarray | None:
        """Stored embeddings of ids, dequantised to float32 (n, D) (zero rows: none stored);
        ``None`` when the index stores none. Raises for an unknown id."""
        stored = self.backend.embeddings_of(ids)
        return dequantize_embeddings(stored) if stored is not None else None

    def footprints(self) -> tuple[list[str], np.ndarray]:
        """Where the archive lies: ids and (n, 4) ``W, S, E, N`` boxes (WGS84 degrees) of the
        items with a footprint or a centre point (a point is a zero-size box); items without
        coordinates are left out. For coverage maps, which group them as they need."""
        return self.backend.footprints()

    def info(self) -> dict[str, Any]:
        """Manifest, catalog summary and tree statistics."""
        return self.backend.info()

    def __repr__(self) -> str:
        return f"Index(bits={self.bits}, items={len(self)}, backend={type(self.backend).__name__})"
