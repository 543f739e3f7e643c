"""Row position -> id in memory, for the readers that search a generation many times.

A search's last step names its results. Asking SQLite for 100 ids costs about 0.1-0.2 ms on a
1 M-item catalog, a third of the scan itself; a table of every id (one string of them all
plus offsets: about 21 bytes per item for 13-character ASCII ids) answers in about 20 µs.
Loading it reads the whole catalog once (about 0.6 s per million items), which a one-shot search (the
CLI) should not pay, so a generation keeps asking SQLite for its first
``IdLookup.TABLE_AFTER`` lookups and loads the table only when it is being searched again
and again (a service, a batch, a benchmark).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from terrahash.index.embedded.catalog import Catalog


class IdTable:
    """Every id of a generation, in row order, joined into one string with their offsets
    (one compact object instead of a million small ones)."""

    def __init__(self, ids: Sequence[str]) -> None:
        self.text = "".join(ids)
        lengths = np.fromiter(map(len, ids), np.int64, len(ids))
        self.offsets = np.zeros(len(ids) + 1, np.int64)
        np.cumsum(lengths, out=self.offsets[1:])
        #: The common length when every id has one (generated ids): offsets are then implied,
        #: which spares one random memory read per id.
        self.width = int(lengths[0]) if lengths.size and (lengths == lengths[0]).all() else None

    @classmethod
    def from_catalog(cls, catalog: Catalog) -> IdTable:
        """The ids of every catalog row in ``seq`` order (= row order of the generation)."""
        return cls([row[0] for row in catalog.conn.execute("SELECT id FROM items ORDER BY seq")])

    def __len__(self) -> int:
        return int(self.offsets.shape[0] - 1)

    def __call__(self, rows: np.ndarray) -> list[str]:
        """Ids of row positions, in their order."""
        rows = np.asarray(rows, np.int64)
        text, width = self.text, self.width
        if width is not None:
            return [text[a:a + width] for a in (rows * width).tolist()]
        starts, ends = self.offsets[rows].tolist(), self.offsets[rows + 1].tolist()
        return [text[a:b] for a, b in zip(starts, ends, strict=True)]


class IdLookup:
    """Ids of row positions: SQLite for the first few lookups, then an in-memory ``IdTable``."""

    #: Lookups answered by SQLite before the table is loaded.
    TABLE_AFTER = 8

    def __init__(self, catalog: Catalog, seqs: np.ndarray) -> None:
        self.catalog = catalog
        self.seqs = seqs
        self.calls = 0
        self.table: Callable[[np.ndarray], list[str]] | None = None

    def __call__(self, rows: np.ndarray) -> list[str]:
        if self.table is None:
            self.calls += 1
            if self.calls <= self.TABLE_AFTER:
                return self.catalog.ids(self.seqs[rows])
            table = IdTable.from_catalog(self.catalog)
            if len(table) != self.seqs.shape[0]:  # pragma: no cover - the generation checks counts
                raise ValueError(f"catalog has {len(table)} ids for {self.seqs.shape[0]} rows")
            self.table = table
        return self.table(rows)
