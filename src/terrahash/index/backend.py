"""The storage protocol every index backend speaks (embedded directory, PostgreSQL, ...).

The verbs mirror FAISS (``add``, ``remove``, ``search``, ``ntotal`` as ``len``) with string
ids and per-call search parameters; ``terrahash.Index`` only forwards to one of these.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from terrahash.index.catalog import CatalogRow
from terrahash.index.filters import Filters

RecordLike = Any  # SceneRecord | Mapping[str, Any] | None
LabelLike = str | Sequence[str] | None


@dataclass
class SearchResult:
    """Per-query results in rank order plus the work done (codes scanned, wall time)."""

    ids: list[list[str]]
    distances: list[list[int]]
    scanned: list[int]
    took_ms: float
    #: Extra per-query facts a backend may report (``method``: flat/tree/filtered).
    details: dict[str, Any] = field(default_factory=dict)


class IndexBackend(Protocol):
    """What ``terrahash.Index`` needs from a store."""

    bits: int
    manifest: dict[str, Any]

    def add(
        self,
        ids: Sequence[str],
        codes: np.ndarray,
        records: Sequence[RecordLike] | None = None,
        labels: Sequence[LabelLike] | None = None,
        paths: Sequence[str | None] | None = None,
    ) -> None:
        """Insert or update (upsert) items; atomic: all or nothing."""

    def remove(self, ids: Sequence[str]) -> int:
        """Delete items by id; returns how many existed."""

    def search(
        self,
        codes: np.ndarray,
        k: int = 10,
        filters: Filters | Mapping[str, Any] | None = None,
        exact: bool = True,
        nprobe: int | None = None,
    ) -> SearchResult:
        """Top-k by Hamming distance, ties by insertion order; filtered results stay exact."""

    def get(self, ids: Sequence[str]) -> list[CatalogRow | None]:
        """Catalog rows for ids (``None`` where unknown)."""

    def codes_of(self, ids: Sequence[str]) -> np.ndarray:
        """Stored packed codes of existing ids (for query-by-id)."""

    def info(self) -> dict[str, Any]:
        """Manifest plus catalog and tree summaries."""

    def update_manifest(self, **fields: Any) -> None:
        """Record provenance (model run, code kind) in the manifest."""

    def __len__(self) -> int: ...

    def close(self) -> None: ...
