"""The storage protocol every index backend speaks (embedded directory, PostgreSQL, ...).

The verbs mirror FAISS (``add``, ``remove``, ``search``, ``ntotal`` as ``len``) with string
ids and per-call search parameters. ``terrahash.Index`` validates the arguments once (an
``ItemBatch``, a ``SearchRequest``) and hands them to one of these, so no backend repeats
the checks and every backend raises the same errors.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from terrahash.index.codes import check_search_args
from terrahash.index.filters import FilterLike, Filters, normalize_filters
from terrahash.index.items import CatalogRow, ItemBatch
from terrahash.index.rerank import Candidates


@dataclass
class SearchResult:
    """Per-query results in rank order plus the work done (codes scanned, wall time)."""

    ids: list[list[str]]
    distances: list[list[int]]
    scanned: list[int]
    #: Wall time of the whole call, set by ``terrahash.Index``.
    took_ms: float = 0.0
    #: Extra per-query facts a backend may report (``method``: flat/tree/filtered).
    details: dict[str, Any] = field(default_factory=dict)
    #: Per query, the re-ranking score of each result (``None`` where not re-scored); ``None``
    #: for a search that was not re-ranked.
    scores: list[list[float | None]] | None = None


@dataclass(frozen=True)
class Selection:
    """One page of the items passing some filters, in index (insertion) order, and how many
    pass in all; what a metadata-only browse (a STAC item listing) pages over."""

    ids: list[str]
    matched: int


@dataclass(frozen=True)
class SearchRequest:
    """Validated search arguments: (n, bits/8) query codes, ``k`` >= 1, normalised filters."""

    queries: np.ndarray
    k: int
    filters: Filters
    #: ``False`` lets a backend with a tree search it approximately (others are always exact).
    exact: bool = True
    #: Buckets an approximate tree search may visit (``None``: the tree's default).
    nprobe: int | None = None

    @classmethod
    def build(
        cls, bits: int, codes: np.ndarray, k: object, filters: FilterLike, exact: bool, nprobe: int | None
    ) -> SearchRequest:
        queries, checked_k = check_search_args(codes, bits, k, nprobe)
        return cls(queries, checked_k, normalize_filters(filters), exact, nprobe)


class IndexBackend(Protocol):
    """What ``terrahash.Index`` needs from a store."""

    bits: int
    manifest: dict[str, Any]
    #: The location for messages (a folder, or a URI without its password).
    where: str

    def add(self, batch: ItemBatch, replace: bool = False, **manifest: Any) -> None:
        """Upsert items, atomically: all or nothing. ``replace=True`` drops every other item in
        the same write, and ``manifest`` fields are recorded with it."""

    def remove(self, ids: Sequence[str]) -> int:
        """Delete items by id; returns how many existed."""

    def search(self, request: SearchRequest) -> SearchResult:
        """Top-k by Hamming distance, ties by insertion order; filtered results stay exact."""

    def select(self, filters: Filters, offset: int, limit: int) -> Selection:
        """Ids ``offset .. offset + limit`` (in insertion order) of the items passing ``filters``,
        and the count of all that pass; no code is compared."""

    def candidates(self, request: SearchRequest, size: int) -> list[Candidates]:
        """Per query, the re-ranking shortlist: the top ``size`` (``size >= request.k``) as
        ``search`` ranks them, or every item at or below the k-th distance when that tie group
        runs past ``size`` (approximate tree searches: the same cut of what the tree found), with
        their stored embeddings."""

    def embeddings_of(self, ids: Sequence[str]) -> np.ndarray | None:
        """Stored ``int8`` embeddings of existing ids (zero rows: none); ``None`` when the index
        stores none."""

    def get(self, ids: Sequence[str]) -> list[CatalogRow | None]:
        """Catalog rows for ids (``None`` where unknown)."""

    def ids(self) -> list[str]:
        """Every id, in insertion order (the order ties are ranked in)."""

    def codes_of(self, ids: Sequence[str]) -> np.ndarray:
        """Stored packed codes of existing ids (for query-by-id)."""

    def footprints(self) -> tuple[list[str], np.ndarray]:
        """Ids and (n, 4) float64 ``W, S, E, N`` boxes of every item with a footprint (a centre
        point is a zero-size box), in insertion order."""

    def info(self) -> dict[str, Any]:
        """Manifest plus catalog and tree summaries."""

    def update_manifest(self, **fields: Any) -> None:
        """Record provenance (model run, code kind) in the manifest."""

    def __len__(self) -> int: ...

    def close(self) -> None: ...


class BackendType(Protocol):
    """A backend class: makes or opens the store at a location."""

    def create(self, location: str | os.PathLike[str], bits: int, **meta: Any) -> IndexBackend: ...

    def open(self, location: str | os.PathLike[str]) -> IndexBackend: ...

    def exists(self, location: str | os.PathLike[str]) -> bool: ...
