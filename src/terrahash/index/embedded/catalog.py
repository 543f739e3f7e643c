"""The SQLite catalog: one row per item (id, path, labels, record) plus the filter indexes.

The R-tree indexes footprint bbox *and* acquisition interval, so "here, then" is one index
probe returning about the allowed rows (items without a date get an unbounded interval there
and are dropped by the exact column test that follows).

Rows are keyed by ``seq``, the item's insertion number, which never changes (an upsert keeps
it), so the code array can be compacted on removal without rewriting the catalog.
"""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from terrahash.index.filters import Filters, lon_ranges
from terrahash.index.items import BBox, CatalogRow, catalog_summary, record_interval

#: R-tree interval of items without a date: never excluded by the R-tree's time test.
_NO_TIME = (-1e30, 1e30)

SCHEMA = """
CREATE TABLE IF NOT EXISTS items (
    seq INTEGER PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    path TEXT,
    label TEXT,
    labels TEXT NOT NULL,
    record TEXT,
    t_start REAL,
    t_end REAL,
    platform TEXT,
    gsd REAL,
    cloud REAL
);
CREATE TABLE IF NOT EXISTS item_labels (seq INTEGER NOT NULL, label TEXT NOT NULL);
CREATE VIRTUAL TABLE IF NOT EXISTS footprints USING rtree(seq, west, east, south, north, t0, t1);
CREATE INDEX IF NOT EXISTS items_t_start ON items (t_start);
CREATE INDEX IF NOT EXISTS items_t_end ON items (t_end);
CREATE INDEX IF NOT EXISTS items_platform ON items (platform);
CREATE INDEX IF NOT EXISTS items_gsd ON items (gsd);
CREATE INDEX IF NOT EXISTS items_cloud ON items (cloud);
CREATE INDEX IF NOT EXISTS item_labels_label ON item_labels (label, seq);
CREATE INDEX IF NOT EXISTS item_labels_seq ON item_labels (seq);
"""


def _epoch(when: dt.datetime | None) -> float | None:
    return when.timestamp() if when is not None else None


def _utc(epoch: float | None) -> dt.datetime | None:
    return dt.datetime.fromtimestamp(epoch, dt.UTC) if epoch is not None else None


def typed_columns(record: dict[str, Any] | None) -> tuple[Any, ...]:
    """(t_start, t_end, platform, gsd, cloud) from a normalised record dict."""
    if not record:
        return (None, None, None, None, None)
    start, end = record_interval(record)
    platform, gsd, cloud = record.get("platform"), record.get("gsd_m"), record.get("cloud_cover")
    return (_epoch(start), _epoch(end), platform, gsd, cloud)


class Catalog:
    """A connection to one catalog file; writes happen inside ``with catalog.transaction():``."""

    def __init__(self, path: Path, readonly: bool = False) -> None:
        self.path = path
        uri = f"file:{path}?mode=ro" if readonly else f"file:{path}"
        self.conn = sqlite3.connect(uri, uri=True, check_same_thread=False)
        if not readonly:
            # Catalogs are only written inside a private generation folder that becomes
            # visible by rename, so SQLite's own journal would buy nothing.
            self.conn.executescript("PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF;" + SCHEMA)

    def close(self) -> None:
        self.conn.close()

    def transaction(self) -> sqlite3.Connection:
        return self.conn

    # -- writes -------------------------------------------------------------------------
    def upsert(
        self,
        rows: Iterable[CatalogRow],
        bboxes: Sequence[BBox | None],
        existing: Sequence[int] = (),
    ) -> None:
        """Insert or replace items (same ``seq`` for an existing id, listed in ``existing``)."""
        items: list[tuple[Any, ...]] = []
        labels: list[tuple[int, str]] = []
        boxes: list[tuple[Any, ...]] = []
        for row, box in zip(rows, bboxes, strict=True):
            rec = json.dumps(row.record, ensure_ascii=False) if row.record is not None else None
            items.append(
                (
                    row.seq,
                    row.id,
                    row.path,
                    row.label,
                    json.dumps(list(row.labels)),
                    rec,
                    *typed_columns(row.record),
                )
            )
            labels.extend((row.seq, lab) for lab in row.labels)
            if box is not None:
                w, s, e, n = box
                t0, t1 = items[-1][6], items[-1][7]
                boxes.append((row.seq, w, e, s, n, *((t0, t1) if t0 is not None else _NO_TIME)))
        seqs = [(int(s),) for s in existing]
        with self.conn:
            self.conn.executemany("DELETE FROM item_labels WHERE seq = ?", seqs)
            self.conn.executemany("DELETE FROM footprints WHERE seq = ?", seqs)
            self.conn.executemany("INSERT OR REPLACE INTO items VALUES (?,?,?,?,?,?,?,?,?,?,?)", items)
            self.conn.executemany("INSERT INTO item_labels VALUES (?, ?)", labels)
            self.conn.executemany("INSERT INTO footprints VALUES (?, ?, ?, ?, ?, ?, ?)", boxes)

    def delete(self, seqs: Sequence[int]) -> None:
        params = [(int(s),) for s in seqs]
        with self.conn:
            for table in ("items", "item_labels", "footprints"):
                self.conn.executemany(f"DELETE FROM {table} WHERE seq = ?", params)

    # -- reads --------------------------------------------------------------------------
    def seqs_of(self, ids: Sequence[str]) -> dict[str, int]:
        """``id -> seq`` for the ids that exist."""
        out: dict[str, int] = {}
        for chunk in _chunks(list(ids), 900):
            marks = ",".join("?" * len(chunk))
            for item_id, seq in self.conn.execute(f"SELECT id, seq FROM items WHERE id IN ({marks})", chunk):
                out[item_id] = seq
        return out

    def rows(self, seqs: Sequence[int]) -> dict[int, CatalogRow]:
        """``seq -> CatalogRow`` for the given seqs."""
        out: dict[int, CatalogRow] = {}
        for chunk in _chunks([int(s) for s in seqs], 900):
            marks = ",".join("?" * len(chunk))
            query = f"SELECT seq, id, path, labels, record FROM items WHERE seq IN ({marks})"
            for seq, item_id, path, labels, record in self.conn.execute(query, chunk):
                out[seq] = CatalogRow(
                    seq,
                    item_id,
                    path,
                    tuple(json.loads(labels)),
                    json.loads(record) if record else None,
                )
        return out

    def ids(self, seqs: Sequence[int]) -> list[str]:
        """Ids in the order of ``seqs``."""
        found: dict[int, str] = {}
        for chunk in _chunks([int(s) for s in seqs], 900):
            marks = ",".join("?" * len(chunk))
            found.update(self.conn.execute(f"SELECT seq, id FROM items WHERE seq IN ({marks})", chunk))
        return [found[int(s)] for s in seqs]

    def primary_labels(self) -> list[tuple[int, str | None]]:
        """(seq, primary label) of every item, in seq order (for tree rebuilds)."""
        return list(self.conn.execute("SELECT seq, label FROM items ORDER BY seq"))

    def matching(self, filters: Filters) -> list[int]:
        """Seqs of the items passing ``filters`` (ascending)."""
        where, params = filter_sql(filters)
        query = "SELECT seq FROM items" + (f" WHERE {where}" if where else "") + " ORDER BY seq"
        return [s for (s,) in self.conn.execute(query, params)]

    def footprints(self) -> tuple[list[str], np.ndarray]:
        """Ids and ``W, S, E, N`` boxes of the items in the footprint R-tree, in seq order."""
        rows = self.conn.execute(
            "SELECT i.id, f.west, f.south, f.east, f.north FROM footprints f "
            "JOIN items i ON i.seq = f.seq ORDER BY f.seq"
        ).fetchall()
        boxes = np.array([r[1:] for r in rows], dtype=np.float64).reshape(len(rows), 4)
        return [r[0] for r in rows], boxes

    def summary(self) -> dict[str, Any]:
        """Counts and ranges for ``index info``."""
        (count, t0, t1, g0, g1) = self.conn.execute(
            "SELECT count(*), min(t_start), max(t_end), min(gsd), max(gsd) FROM items"
        ).fetchone()
        platforms = dict(
            self.conn.execute(
                "SELECT coalesce(platform, '(none)'), count(*) FROM items GROUP BY 1 ORDER BY 2 DESC"
            ).fetchall()
        )
        labels = dict(
            self.conn.execute(
                "SELECT label, count(*) FROM item_labels GROUP BY 1 ORDER BY 2 DESC, 1"
            ).fetchall()
        )
        with_box, *hull = self.conn.execute(
            "SELECT count(*), min(west), min(south), max(east), max(north) FROM footprints"
        ).fetchone()
        return catalog_summary(count, (_utc(t0), _utc(t1)), (g0, g1), platforms, labels, with_box, hull)


def filter_sql(filters: Filters) -> tuple[str, list[Any]]:
    """A WHERE clause (over ``items``) and its parameters for ``filters``."""
    clauses: list[str] = []
    params: list[Any] = []
    if filters.bbox is not None:
        probes = []
        for lo, hi in lon_ranges(filters.bbox):  # one R-tree probe per range
            probe = "east >= ? AND west <= ? AND north >= ? AND south <= ?"
            params += [lo, hi, filters.bbox[1], filters.bbox[3]]
            if filters.start is not None:
                probe += " AND t1 >= ?"
                params.append(filters.start.timestamp())
            if filters.end is not None:
                probe += " AND t0 <= ?"
                params.append(filters.end.timestamp())
            probes.append(f"SELECT seq FROM footprints WHERE {probe}")
        clauses.append(f"seq IN ({' UNION '.join(probes)})")
    if filters.start is not None:
        clauses.append("t_end >= ?")
        params.append(filters.start.timestamp())
    if filters.end is not None:
        clauses.append("t_start <= ?")
        params.append(filters.end.timestamp())
    if filters.platforms:
        clauses.append(f"platform IN ({','.join('?' * len(filters.platforms))})")
        params += list(filters.platforms)
    if filters.gsd_min is not None:
        clauses.append("gsd >= ?")
        params.append(filters.gsd_min)
    if filters.gsd_max is not None:
        clauses.append("gsd <= ?")
        params.append(filters.gsd_max)
    if filters.cloud_max is not None:
        clauses.append("cloud <= ?")
        params.append(filters.cloud_max)
    if filters.labels:
        marks = ",".join("?" * len(filters.labels))
        clauses.append(f"seq IN (SELECT seq FROM item_labels WHERE label IN ({marks}))")
        params += list(filters.labels)
    return " AND ".join(clauses), params


def _chunks(values: list[Any], size: int) -> Iterable[list[Any]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]
