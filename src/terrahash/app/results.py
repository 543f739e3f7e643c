"""Search results as the CLI and service show them: rows with id, path, distance, label, record."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from terrahash.index.api import Index
from terrahash.index.backend import SearchResult


@dataclass(frozen=True)
class Hit:
    """One ranked result."""

    rank: int
    id: str
    path: str | None
    distance: int
    label: str | None
    record: dict[str, Any] | None

    def to_json(self) -> dict[str, Any]:
        """The ``--json`` form: keys ``id, path, distance, label, record``."""
        return {
            "id": self.id,
            "path": self.path,
            "distance": self.distance,
            "label": self.label,
            "record": self.record,
        }


def hits(index: Index, result: SearchResult, query: int = 0) -> list[Hit]:
    """Catalog-enriched hits of one query of ``result``."""
    ids = result.ids[query]
    rows = index.get(ids)
    out = []
    for rank, (item_id, dist, row) in enumerate(zip(ids, result.distances[query], rows, strict=True), 1):
        out.append(
            Hit(
                rank,
                item_id,
                row.path if row else None,
                int(dist),
                row.label if row else None,
                row.record if row else None,
            )
        )
    return out


def to_json(index: Index, result: SearchResult, query: int = 0) -> dict[str, Any]:
    """``{"results": [...], "scanned": n, "took_ms": t}`` for one query."""
    return {
        "results": [h.to_json() for h in hits(index, result, query)],
        "scanned": int(result.scanned[query]),
        "took_ms": round(float(result.took_ms), 3),
    }
