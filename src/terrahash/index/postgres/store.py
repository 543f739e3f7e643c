"""``PostgresIndex``: the verbs of an index kept in one PostgreSQL schema.

Schema and migrations, bulk loading, query SQL and the FAISS code cache live in the modules
beside this one; the class holds the connection and decides which of them to call.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from terrahash.index.backend import SearchRequest, SearchResult, Selection
from terrahash.index.embeddings import embedding_summary
from terrahash.index.errors import HashIndexError
from terrahash.index.filters import Filters
from terrahash.index.items import CatalogRow, ItemBatch
from terrahash.index.manifest import new_manifest
from terrahash.index.postgres.bitstrings import bits_to_codes, bytes_to_embeddings
from terrahash.index.postgres.cache import CodeCache
from terrahash.index.postgres.connection import (
    connect,
    display,
    index_exists,
    parse_location,
    relation_exists,
    schema_sql,
    sql,
)
from terrahash.index.postgres.load import (
    VACUUM_MIN_ROWS,
    bump_version,
    merge_manifest,
    reserve_seqs,
    set_embedding_dim,
    upsert,
)
from terrahash.index.postgres.query import (
    Ranked,
    Shape,
    cube_probe,
    filter_sql,
    probed_sql,
    rank,
    ranking_sql,
    shortlists,
)
from terrahash.index.postgres.reconnect import LiveConnection, reading, writing
from terrahash.index.postgres.schema import column_exists, create_schema, open_schema
from terrahash.index.postgres.summary import catalog_info
from terrahash.index.rerank import Candidates


class PostgresIndex:
    """An index stored in a PostgreSQL schema; safe for many concurrent writers and readers.

    It outlives a server restart: the connection is replaced once found lost (``reconnect``)."""

    def __init__(self, location: str, conn: Any, schema: str, cache: bool) -> None:
        self.location = location
        self.schema = schema
        self.use_cache = cache
        self._cache: CodeCache | None = None
        dsn = parse_location(location)[0]
        self.where = display(dsn, schema)
        self.live = LiveConnection(dsn, self.where, conn)
        with conn.cursor() as cur:
            self.postgis = column_exists(cur, schema, "footprint")
            #: Filters on bbox/time go through the (lon, lat, time) cube index (schema version 4).
            self.cube = relation_exists(cur, schema, "items_place_time_cube")
        self.manifest: dict[str, Any] = self._read_meta("manifest")
        self.bits = int(self.manifest["bits"])

    # -- lifecycle ----------------------------------------------------------------------
    @classmethod
    def _connect(
        cls, location: str | os.PathLike[str], setup: Callable[[Any, str, str], None]
    ) -> PostgresIndex:
        """Connect, run ``setup(conn, schema, where)``, and wrap the connection (closed on error)."""
        dsn, schema, cache = parse_location(location)
        conn = connect(dsn, display(dsn, schema))
        try:
            setup(conn, schema, display(dsn, schema))
            return cls(os.fspath(location), conn, schema, cache)
        except BaseException:
            conn.close()
            raise

    @classmethod
    def create(cls, location: str | os.PathLike[str], bits: int, **meta: Any) -> PostgresIndex:
        """Create the schema and an empty index in it (PostGIS footprints when available)."""
        manifest = new_manifest(bits, backend="postgres", **meta)

        def setup(conn: Any, schema: str, where: str) -> None:
            create_schema(conn, schema, manifest, where)

        return cls._connect(location, setup)

    @classmethod
    def open(cls, location: str | os.PathLike[str]) -> PostgresIndex:
        """Open an existing index, migrating an older schema version in place."""
        return cls._connect(location, open_schema)

    @classmethod
    def exists(cls, location: str | os.PathLike[str]) -> bool:
        """Whether ``location`` names a schema that holds an index."""
        return index_exists(location)

    @property
    def conn(self) -> Any:
        """The live connection (a new one after the server closed the last)."""
        return self.live.conn

    def close(self) -> None:
        self.live.close()

    @reading
    def __len__(self) -> int:
        return int(self.scalar(self.statement("SELECT count(*) FROM {items}")))

    def statement(self, template: str) -> sql.Composed:
        """``template`` with ``{items}``, ``{meta}`` ... naming this index's tables (quoted)."""
        return schema_sql(template, self.schema)

    def scalar(self, query: str | sql.Composable, params: Any = None) -> Any:
        """The first column of the first row of ``query`` (``None`` without rows)."""
        with self.conn.cursor() as cur:
            cur.execute(query, params)
            row = cur.fetchone()
        return row[0] if row else None

    def _read_meta(self, key: str) -> Any:
        return self.scalar(self.statement("SELECT value FROM {meta} WHERE key = %s"), (key,))

    # -- writes -------------------------------------------------------------------------
    @writing
    def add(self, batch: ItemBatch, replace: bool = False, **manifest: Any) -> None:
        """Upsert items in one transaction (``replace=True``: deleting every other item in it)."""
        lock, conn = f"terrahash:{self.schema}:seq", self.conn
        first = reserve_seqs(conn, self.schema, lock, len(batch)) if len(batch) else 0
        with conn.transaction(), conn.cursor() as cur:
            manifest = {**set_embedding_dim(cur, self.schema, batch, replace, self.where), **manifest}
            upsert(conn, self.schema, self.postgis, batch, first, replace)
            if manifest:
                merge_manifest(cur, self.schema, manifest)
            bump_version(cur, self.schema)
        if manifest:
            self.manifest = self._read_meta("manifest")
        if len(batch) >= VACUUM_MIN_ROWS:  # outside the transaction, as VACUUM must be
            conn.execute(self.statement("VACUUM (ANALYZE) {items}"))

    @writing
    def remove(self, ids: Sequence[str]) -> int:
        """Delete items by id; unknown ids are ignored. Returns how many were removed."""
        conn = self.conn
        with conn.transaction(), conn.cursor() as cur:
            cur.execute(self.statement("DELETE FROM {items} WHERE id = ANY(%s)"), ([str(i) for i in ids],))
            removed = cur.rowcount
            if removed:
                bump_version(cur, self.schema)
        return int(removed)

    @writing
    def update_manifest(self, **fields: Any) -> None:
        conn = self.conn
        with conn.transaction(), conn.cursor() as cur:
            merge_manifest(cur, self.schema, fields)
        self.manifest = self._read_meta("manifest")

    # -- reads --------------------------------------------------------------------------
    @reading
    def search(self, request: SearchRequest) -> SearchResult:
        """Top-k by ``(distance, seq)``; always exact (``exact``/``nprobe`` are tree knobs)."""
        queries, k, filters = request.queries, request.k, request.filters
        if filters.empty and self.use_cache:
            ranked, method = self.refresh_cache().search(queries, k), "faiss-cache"
        else:
            ranked, method = self._search_sql(queries, k, filters), "sql" if filters.empty else "sql-filtered"
        ids, dists, scanned = ranked
        return SearchResult(ids, dists, scanned, details={"method": method})

    def _search_sql(self, queries: np.ndarray, k: int, filters: Filters) -> Ranked:
        probe = cube_probe(filters) if self.cube else None
        if probe is not None:
            query, params = self.probed_sql(filters, *probe)
            return rank(self.conn, query, params, queries, k, None)
        query, params, counts = ranking_sql(self.schema, self.bits, filters, self.postgis)
        return rank(self.conn, query, params, queries, k, None if counts else len(self))

    def probed_sql(
        self, filters: Filters, probe: str, probe_params: dict[str, Any], shape: Shape = Shape()
    ) -> tuple[sql.Composed, dict[str, Any]]:
        """The filter-first query of ``filters`` through the cube probe (see ``query.probed_sql``)."""
        return probed_sql(self.schema, self.bits, filters, self.postgis, probe, probe_params, shape)

    @reading
    def candidates(self, request: SearchRequest, size: int) -> list[Candidates]:
        """Re-ranking shortlists (see ``IndexBackend.candidates``) by the plan ``search`` takes;
        always exact."""
        queries, k, filters = request.queries, request.k, request.filters
        if filters.empty and self.use_cache:
            return self.refresh_cache().candidates(queries, k, size)
        top, ties = Shape(embedding=True), Shape(embedding=True, within=True)
        probe = cube_probe(filters) if self.cube else None
        if probe is not None:
            query, params = self.probed_sql(filters, *probe, top)
            return shortlists(self.conn, query, self.probed_sql(filters, *probe, ties)[0], params,
                              queries, k, size, None)
        query, params, counts = ranking_sql(self.schema, self.bits, filters, self.postgis, top)
        ties_sql = ranking_sql(self.schema, self.bits, filters, self.postgis, ties)[0]
        return shortlists(self.conn, query, ties_sql, params, queries, k, size, None if counts else len(self))

    @reading
    def select(self, filters: Filters, offset: int, limit: int) -> Selection:
        """A page of the passing items (see ``IndexBackend.select``), by seq; one statement,
        so the page and the count come from the same snapshot."""
        where, params = filter_sql(filters, self.postgis)
        # the filter text holds only placeholders for values; the table goes through Identifier
        statement = (self.statement("WITH m AS (SELECT id, seq FROM {items}")
                     + sql.SQL((f" WHERE {where}" if where else "") + ") SELECT (SELECT count(*) FROM m), "
                           "array(SELECT id FROM m ORDER BY seq LIMIT %(limit)s OFFSET %(offset)s)"))
        with self.conn.cursor() as cur:
            cur.execute(statement, {**params, "limit": limit, "offset": offset})
            matched, ids = cur.fetchone()
        return Selection(list(ids), int(matched))

    def refresh_cache(self) -> CodeCache:
        """Reload the codes if any writer committed since the last load (one cheap query)."""
        if self._cache is None or self._cache.version != int(self._read_meta("version")):
            self._cache = CodeCache.load(self.conn, self.schema, self.bits)
        return self._cache

    @reading
    def get(self, ids: Sequence[str]) -> list[CatalogRow | None]:
        with self.conn.cursor() as cur:
            cur.execute(
                self.statement("SELECT seq, id, path, labels, record FROM {items} WHERE id = ANY(%s)"),
                ([str(i) for i in ids],),
            )
            found = {r[1]: CatalogRow(int(r[0]), r[1], r[2], tuple(r[3]), r[4]) for r in cur}
        return [found.get(str(i)) for i in ids]

    @reading
    def ids(self) -> list[str]:
        with self.conn.cursor() as cur:
            cur.execute(self.statement("SELECT id FROM {items} ORDER BY seq"))
            return [row[0] for row in cur]

    def _column_of(self, ids: Sequence[str], column: str) -> list[Any]:
        """``column`` of existing ids, in their order (``HashIndexError`` naming an unknown one)."""
        with self.conn.cursor() as cur:
            query = self.statement(f"SELECT id, {column} FROM {{items}} WHERE id = ANY(%s)")
            cur.execute(query, ([str(i) for i in ids],))
            found = dict(cur.fetchall())
        missing = [i for i in ids if str(i) not in found]
        if missing:
            raise HashIndexError(f"{self.where}: error: no item with id {missing[0]!r} in this index")
        return [found[str(i)] for i in ids]

    @reading
    def codes_of(self, ids: Sequence[str]) -> np.ndarray:
        return bits_to_codes(self._column_of(ids, "code::text"), self.bits)

    @reading
    def embeddings_of(self, ids: Sequence[str]) -> np.ndarray | None:
        stored = bytes_to_embeddings(self._column_of(ids, "embedding"))
        dim = self._read_meta("manifest").get("embedding_dim")
        if stored is None and dim is not None:  # these items have none, the index has some
            return np.zeros((len(ids), int(dim)), np.int8)
        return stored

    @reading
    def footprints(self) -> tuple[list[str], np.ndarray]:
        with self.conn.cursor() as cur:
            cur.execute(self.statement(
                "SELECT id, west, south, east, north FROM {items} WHERE west IS NOT NULL ORDER BY seq"
            ))
            rows = cur.fetchall()
        boxes = np.array([r[1:] for r in rows], dtype=np.float64).reshape(len(rows), 4)
        return [r[0] for r in rows], boxes

    @reading
    def info(self) -> dict[str, Any]:
        catalog, size = catalog_info(self.conn, self.schema)
        count = catalog["items"]
        manifest = self._read_meta("manifest")
        embedded = int(self.scalar(self.statement("SELECT count(embedding) FROM {items}")))
        return {
            **manifest,
            "embeddings": embedding_summary(manifest.get("embedding_dim"), embedded),
            "path": self.where,
            "count": count,
            "schema_version": int(self._read_meta("schema_version")),
            "spatial_index": "postgis" if self.postgis else "bbox",
            "server_version": self.conn.info.server_version,
            "bytes_per_item": round(size / count, 1) if count else None,
            "catalog": catalog,
        }

    def __repr__(self) -> str:
        return f"PostgresIndex({self.where!r}, bits={self.bits})"
