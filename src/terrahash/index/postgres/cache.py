"""The in-process FAISS copy of an index's codes (``?cache=faiss``) for unfiltered queries.

The copy is tagged with the ``meta.version`` change counter it was read at; a reader checks
that counter (one cheap query) before each use and reloads after any writer's commit, so
the cache answers exactly what SQL would.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from terrahash.index.flat import FlatScanner
from terrahash.index.postgres.bitstrings import bits_to_codes, bytes_to_embeddings
from terrahash.index.postgres.connection import schema_sql
from terrahash.index.postgres.query import Ranked
from terrahash.index.rerank import Candidates


class CodeCache:
    """All codes (and embeddings) in seq order with a FAISS flat scanner, tagged with the
    change counter."""

    def __init__(
        self, version: int, ids: list[str], codes: np.ndarray, embeddings: np.ndarray | None = None
    ) -> None:
        self.version = version
        self.ids = ids
        self.scanner = FlatScanner(codes)
        self.embeddings = embeddings

    @classmethod
    def load(cls, conn: Any, schema: str, bits: int) -> CodeCache:
        """Read every code, embedding and the counter in one snapshot (REPEATABLE READ)."""
        with conn.transaction(), conn.cursor() as cur:
            cur.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
            cur.execute(schema_sql("SELECT value FROM {meta} WHERE key = 'version'", schema))
            version = int(cur.fetchone()[0])
            cur.execute(schema_sql("SELECT id, code::text, embedding FROM {items} ORDER BY seq", schema))
            rows = cur.fetchall()
        codes = bits_to_codes([r[1] for r in rows], bits)
        return cls(version, [r[0] for r in rows], codes, bytes_to_embeddings([r[2] for r in rows]))

    def candidates(self, queries: np.ndarray, k: int, size: int) -> list[Candidates]:
        """Re-ranking shortlists over the cached codes, as the SQL shortlist makes them."""

        def ids_of(rows: np.ndarray) -> Callable[[np.ndarray], list[str]]:
            return lambda chosen: [self.ids[r] for r in rows[chosen]]

        stored = self.embeddings
        return [
            Candidates(d, stored[r] if stored is not None else None, ids_of(r), len(self.ids))
            for d, r in self.scanner.shortlist(queries, k, size)
        ]

    def search(self, queries: np.ndarray, k: int) -> Ranked:
        """Exact top-k over the cached codes, ranked as the SQL query ranks."""
        dist, rows = self.scanner.search(queries, k)
        ids = [[self.ids[r] for r in row if r >= 0] for row in rows]
        dists = [
            [int(d) for d, r in zip(drow, row, strict=True) if r >= 0]
            for drow, row in zip(dist, rows, strict=True)
        ]
        return ids, dists, [len(self.ids)] * len(ids)
