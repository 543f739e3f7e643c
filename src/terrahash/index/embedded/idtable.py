"""Row position -> id in memory, for the readers that search a generation many times.

A search's last step names its results. Asking SQLite for 100 ids costs about 0.1-0.2 ms on a
1 M-item catalog, a third of the scan itself; a table of every id (about as many bytes as
the ids have characters) answers in 6-20 µs. Loading it reads the whole catalog once (about
0.6 s per million items), which a one-shot search (the
CLI) should not pay, so a generation keeps asking SQLite for its first
``IdLookup.TABLE_AFTER`` lookups and loads the table only when it is being searched again
and again (a service, a batch, a benchmark).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from terrahash.index.embedded.catalog import Catalog


class IdTable:
    """Every id of a generation in row order, in one of two compact layouts (never a million
    small objects). ASCII ids of similar lengths: one fixed-width byte array, each id followed
    by a newline and NUL padding, so a lookup is a gather, one decode and one split (about 6 µs
    for 100 ids, a fifth of slicing them one by one). Any others: one string with offsets."""

    def __init__(self, ids: Sequence[str]) -> None:
        text = "".join(ids)
        width = max(map(len, ids), default=0) + 1
        #: Fixed-width bytes, ``id + "\n"`` NUL-padded (``None``: the ids are not ASCII, hold a
        #: newline or NUL, or vary so much in length that padding would more than double them).
        self.fixed: np.ndarray | None = None
        self.text, self.offsets = "", np.zeros(1, np.int64)
        plain = text.isascii() and "\n" not in text and "\x00" not in text
        if plain and width * len(ids) <= 2 * (len(text) + len(ids)):
            self.fixed = np.array([i + "\n" for i in ids], dtype=f"S{width}")
        else:
            self.text = text
            self.offsets = np.zeros(len(ids) + 1, np.int64)
            np.cumsum(np.fromiter(map(len, ids), np.int64, len(ids)), out=self.offsets[1:])

    @classmethod
    def from_catalog(cls, catalog: Catalog) -> IdTable:
        """The ids of every catalog row in ``seq`` order (= row order of the generation)."""
        return cls([row[0] for row in catalog.conn.execute("SELECT id FROM items ORDER BY seq")])

    def __len__(self) -> int:
        return int(self.fixed.shape[0] if self.fixed is not None else self.offsets.shape[0] - 1)

    def __call__(self, rows: np.ndarray) -> list[str]:
        """Ids of row positions, in their order."""
        rows = np.asarray(rows, np.int64)
        if self.fixed is not None:
            return self.fixed[rows].tobytes().decode("ascii").replace("\x00", "").split("\n")[:-1]
        text = self.text
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
