"""``terrahash.Index``: the public face of every index backend (FAISS-sized API, string ids)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from terrahash.index.backend import IndexBackend, LabelLike, RecordLike, SearchResult
from terrahash.index.catalog import CatalogRow
from terrahash.index.filters import Filters

#: Also matches ``postgresql:/host/db``, which is what ``pathlib.Path`` makes of a URI.
_POSTGRES_SCHEMES = ("postgresql:/", "postgres:/")


def _backend_class(path: str | Path) -> Any:
    if str(path).startswith(_POSTGRES_SCHEMES):
        try:
            from terrahash.index.postgres import PostgresIndex
        except ImportError as exc:
            from terrahash.index.errors import HashIndexError

            raise HashIndexError(f"{path}: error: the PostgreSQL backend is not available ({exc})") from exc
        return PostgresIndex
    from terrahash.index.embedded import EmbeddedIndex

    return EmbeddedIndex


class Index:
    """A searchable set of hash codes with their catalog, on disk (a folder) or in PostgreSQL.

    Example::

        index = terrahash.Index.create("scenes.thi", bits=64)
        index.add(["a", "b"], codes, records=[rec_a, rec_b], labels=["forest", "river"])
        ids, distances = index.search(query_codes, k=10, filters={"cloud_max": 20})
    """

    def __init__(self, backend: IndexBackend) -> None:
        self.backend = backend

    @classmethod
    def create(cls, path: str | Path, bits: int, **meta: Any) -> Index:
        """Create an empty index for ``bits``-bit codes at ``path``."""
        return cls(_backend_class(path).create(path, bits, **meta))

    @classmethod
    def open(cls, path: str | Path) -> Index:
        """Open an existing index (raises ``CorruptIndexError`` naming what is wrong)."""
        return cls(_backend_class(path).open(path))

    @property
    def bits(self) -> int:
        return self.backend.bits

    @property
    def manifest(self) -> dict[str, Any]:
        return self.backend.manifest

    def __len__(self) -> int:
        return len(self.backend)

    def __enter__(self) -> Index:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.backend.close()

    def add(
        self,
        ids: Sequence[str],
        codes: np.ndarray,
        records: Sequence[RecordLike] | None = None,
        labels: Sequence[LabelLike] | None = None,
        paths: Sequence[str | None] | None = None,
    ) -> None:
        """Insert items, or update those whose id exists (upsert); atomic on disk.

        Args:
            ids: one string id per code.
            codes: packed ``uint8`` array (n, bits/8).
            records: ``SceneRecord`` or its JSON dict per item (filters read them).
            labels: a label or a list of labels per item (the first one places it in the tree).
            paths: image path per item (shown in results).
        """
        self.backend.add(ids, codes, records=records, labels=labels, paths=paths)

    def remove(self, ids: Sequence[str]) -> int:
        """Delete items by id; returns how many existed."""
        return self.backend.remove(ids)

    def search(
        self,
        codes: np.ndarray,
        k: int = 10,
        filters: Filters | Mapping[str, Any] | None = None,
        exact: bool = True,
        nprobe: int | None = None,
    ) -> tuple[list[list[str]], list[list[int]]]:
        """Top-k by Hamming distance, ties by insertion order.

        Args:
            codes: packed query codes (n, bits/8) (or one code (bits/8,)).
            k: results per query (fewer when fewer items pass the filters).
            filters: a ``Filters`` or a dict with its keys; the filtered top-k is exact.
            exact: ``False`` searches the RSHST tree approximately (at most ``nprobe`` buckets).
            nprobe: buckets visited in approximate mode (default 16).

        Returns:
            ``(ids, distances)``: ``ids[i]`` the ids for query i in rank order, ``distances[i]``
            their Hamming distances.
        """
        result = self.backend.search(codes, k=k, filters=filters, exact=exact, nprobe=nprobe)
        return result.ids, result.distances

    def query(
        self,
        codes: np.ndarray,
        k: int = 10,
        filters: Filters | Mapping[str, Any] | None = None,
        exact: bool = True,
        nprobe: int | None = None,
    ) -> SearchResult:
        """Like ``search`` but returns a ``SearchResult`` with codes scanned and time taken."""
        return self.backend.search(codes, k=k, filters=filters, exact=exact, nprobe=nprobe)

    def get(self, ids: Sequence[str]) -> list[CatalogRow | None]:
        """Catalog rows (id, path, labels, record) for ids; ``None`` for unknown ids."""
        return self.backend.get(ids)

    def codes_of(self, ids: Sequence[str]) -> np.ndarray:
        """Stored codes of ids (raises for an unknown id)."""
        return self.backend.codes_of(ids)

    def info(self) -> dict[str, Any]:
        """Manifest, catalog summary and tree statistics."""
        return self.backend.info()

    def __repr__(self) -> str:
        return f"Index(bits={self.bits}, items={len(self)}, backend={type(self.backend).__name__})"
