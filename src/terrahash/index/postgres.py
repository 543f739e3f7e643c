"""The PostgreSQL index backend: the catalog and the codes in one table, searched in SQL.

An index is a PostgreSQL schema addressed by a URI, ``postgresql://user@host:port/db``,
with optional query parameters that TerraHash reads itself and libpq never sees:
``schema=NAME`` (default ``terrahash``) and ``cache=faiss`` (keep an in-process FAISS copy
of the codes for unfiltered queries, refreshed whenever a writer has committed).

Hamming distance is ``bit_count(code # query)`` (PostgreSQL 14+). Results are ordered by
``(distance, seq)``, where ``seq`` is the insertion number an upsert keeps, exactly as the
embedded backend ranks; every write is one transaction, bulk loads go through ``COPY``.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import numpy as np

from terrahash.errors import lazy_import
from terrahash.index.backend import LabelLike, RecordLike, SearchResult
from terrahash.index.catalog import CatalogRow
from terrahash.index.codes import check_codes, check_search_args
from terrahash.index.embedded import FORMAT, _now, normalize_labels, normalize_record
from terrahash.index.errors import CorruptIndexError, HashIndexError
from terrahash.index.filters import Filters, normalize_filters
from terrahash.index.flat import FlatScanner
from terrahash.index.postgres_rows import (
    LOAD_COLUMNS,
    bits_to_codes,
    codes_to_bits,
    cube_probe,
    filter_columns,
    filter_sql,
    typed_values,
)
from terrahash.index.postgres_schema import create_meta, migrate, quoted

psycopg = lazy_import("psycopg", "postgres")
from psycopg.types.json import Jsonb  # noqa: E402 - after the helpful import error

DEFAULT_SCHEMA = "terrahash"
#: Lowest server version with ``bit_count(bit)``.
MIN_SERVER_VERSION = 140000
_OWN_PARAMS = ("schema", "cache")
_UPDATE_COLUMNS = [c for c in LOAD_COLUMNS if c not in ("ord", "id")]
#: An add() of at least this many items ends with VACUUM (ANALYZE): fresh planner statistics,
#: and a visibility map that lets the covering index answer without reading the heap.
VACUUM_MIN_ROWS = 10_000


def parse_location(location: str) -> tuple[str, str, bool]:
    """``postgresql://...?schema=X&cache=faiss`` -> (libpq DSN, schema, cache on).

    Also accepts the ``postgresql:/host/db`` form that ``pathlib.Path`` makes of a URI.
    """
    text = str(location)
    for scheme in ("postgresql:", "postgres:"):
        if text.startswith(scheme + "/") and not text.startswith(scheme + "//"):
            text = scheme + "//" + text[len(scheme) + 1 :]
    parts = urlsplit(text)
    query = parse_qsl(parts.query, keep_blank_values=True)
    own = {k: v for k, v in query if k in _OWN_PARAMS}
    rest = [(k, v) for k, v in query if k not in _OWN_PARAMS]
    schema = own.get("schema") or DEFAULT_SCHEMA
    cache = own.get("cache", "")
    if cache not in ("", "faiss", "none"):
        raise HashIndexError(f"{location}: error: cache={cache!r}; expected cache=faiss or none")
    dsn = urlunsplit(parts._replace(query=urlencode(rest)))
    return dsn, schema, cache == "faiss"


def _display(dsn: str, schema: str) -> str:
    """The location without a password, for messages."""
    parts = urlsplit(dsn)
    netloc = parts.netloc
    if "@" in netloc and ":" in netloc.split("@", 1)[0]:
        user = netloc.split("@", 1)[0].split(":", 1)[0]
        netloc = f"{user}:***@{netloc.split('@', 1)[1]}"
    return urlunsplit(parts._replace(netloc=netloc)) + f" (schema {schema})"


def _connect(dsn: str, where: str) -> Any:
    try:
        conn = psycopg.connect(dsn, autocommit=True)
    except psycopg.OperationalError as exc:
        raise HashIndexError(f"{where}: error: cannot connect ({str(exc).strip()})") from exc
    if conn.info.server_version < MIN_SERVER_VERSION:
        conn.close()
        raise HashIndexError(
            f"{where}: error: PostgreSQL {conn.info.server_version} lacks bit_count(); "
            "TerraHash needs PostgreSQL 14 or newer"
        )
    return conn


class _CodeCache:
    """All codes in seq order with a FAISS flat scanner, tagged with the change counter."""

    def __init__(self, version: int, ids: list[str], codes: np.ndarray) -> None:
        self.version = version
        self.ids = ids
        self.scanner = FlatScanner(codes)


class PostgresIndex:
    """An index stored in a PostgreSQL schema; safe for many concurrent writers and readers."""

    def __init__(self, location: str, conn: Any, schema: str, cache: bool) -> None:
        self.location = location
        self.conn = conn
        self.schema = schema
        self.s = quoted(schema)
        self.use_cache = cache
        self._cache: _CodeCache | None = None
        self.where = _display(*parse_location(location)[:2])
        self.postgis = self._has_postgis_column()
        self.cube = self._scalar("SELECT to_regclass(%s)", (f"{self.s}.items_place_time_cube",)) is not None
        self.manifest = self._read_meta("manifest")
        self.bits = int(self.manifest["bits"])

    # -- lifecycle ----------------------------------------------------------------------
    @classmethod
    def create(cls, location: str, bits: int, **meta: Any) -> PostgresIndex:
        """Create the schema and an empty index in it (PostGIS footprints when available)."""
        if bits <= 0 or bits % 8:
            raise ValueError(f"bits must be a positive multiple of 8, got {bits}")
        dsn, schema, cache = parse_location(location)
        where = _display(dsn, schema)
        conn = _connect(dsn, where)
        try:
            with conn.transaction(), conn.cursor() as cur:
                cur.execute("SELECT 1 FROM pg_namespace WHERE nspname = %s", (schema,))
                if cur.fetchone() is not None:
                    cur.execute("SELECT to_regclass(%s)", (f"{quoted(schema)}.meta",))
                    if cur.fetchone()[0] is not None:
                        raise HashIndexError(
                            f"{where}: error: an index already exists here "
                            "(open it, or drop the schema first)"
                        )
                postgis = _enable_postgis(conn)
                create_meta(cur, schema)
                migrate(cur, schema, bits, postgis, where)
                manifest = {
                    "format": FORMAT,
                    "backend": "postgres",
                    "bits": bits,
                    "created": _now(),
                    "updated": _now(),
                    "model": None,
                    "code_kind": None,
                    "template_version": None,
                    "tree": None,
                    **meta,
                }
                cur.execute(f"INSERT INTO {quoted(schema)}.meta VALUES ('manifest', %s)", (Jsonb(manifest),))
        except BaseException:
            conn.close()
            raise
        return cls(location, conn, schema, cache)

    @classmethod
    def open(cls, location: str) -> PostgresIndex:
        """Open an existing index, migrating an older schema version in place."""
        dsn, schema, cache = parse_location(location)
        where = _display(dsn, schema)
        conn = _connect(dsn, where)
        try:
            with conn.cursor() as cur:
                cur.execute("SELECT to_regclass(%s)", (f"{quoted(schema)}.meta",))
                if cur.fetchone()[0] is None:
                    raise CorruptIndexError(f"{where}: error: no TerraHash index in this schema")
                cur.execute(f"SELECT value FROM {quoted(schema)}.meta WHERE key = 'manifest'")
                row = cur.fetchone()
                if row is None or row[0].get("format") != FORMAT:
                    raise CorruptIndexError(f"{where}: error: meta table holds no index manifest")
                cur.execute("SELECT to_regclass(%s)", (f"{quoted(schema)}.items",))
                postgis = cur.fetchone()[0] is not None and _column_exists(cur, schema, "footprint")
            with conn.transaction(), conn.cursor() as cur:
                cur.execute(f"LOCK TABLE {quoted(schema)}.meta IN EXCLUSIVE MODE")
                migrate(cur, schema, int(row[0]["bits"]), postgis, where)
        except BaseException:
            conn.close()
            raise
        return cls(location, conn, schema, cache)

    def close(self) -> None:
        self.conn.close()

    def __len__(self) -> int:
        return int(self._scalar(f"SELECT count(*) FROM {self.s}.items"))

    def _scalar(self, query: str, params: Any = None) -> Any:
        with self.conn.cursor() as cur:
            cur.execute(query, params)
            row = cur.fetchone()
        return row[0] if row else None

    def _read_meta(self, key: str) -> Any:
        return self._scalar(f"SELECT value FROM {self.s}.meta WHERE key = %s", (key,))

    def _has_postgis_column(self) -> bool:
        with self.conn.cursor() as cur:
            return _column_exists(cur, self.schema, "footprint")

    # -- writes -------------------------------------------------------------------------
    def add(
        self,
        ids: Sequence[str],
        codes: np.ndarray,
        records: Sequence[RecordLike] | None = None,
        labels: Sequence[LabelLike] | None = None,
        paths: Sequence[str | None] | None = None,
        replace: bool = False,
        **manifest_fields: Any,
    ) -> None:
        """Upsert items in one transaction: COPY into a temp table, then INSERT ... ON CONFLICT.

        A new id gets the next insertion number; an existing id keeps its own (as in the
        embedded backend), so ties rank the same in both. ``replace=True`` first deletes
        every item, in the same transaction.
        """
        codes = check_codes(codes, self.bits)
        ids = [str(i) for i in ids]
        n = len(ids)
        for name, seq in (("codes", codes), ("records", records), ("labels", labels), ("paths", paths)):
            if seq is not None and len(seq) != n:
                raise ValueError(f"{name}: expected {n} entries (one per id), got {len(seq)}")
        if len(set(ids)) != n:
            seen: set[str] = set()
            dup = next(i for i in ids if i in seen or seen.add(i))  # type: ignore[func-returns-value]
            raise ValueError(f"ids: {dup!r} appears more than once in one add()")
        recs = [normalize_record(r, i) for r, i in zip(records, ids, strict=True)] if records else [None] * n
        labs = [normalize_labels(lab, i) for lab, i in zip(labels, ids, strict=True)] if labels else [()] * n
        pths = [str(p) if p is not None else None for p in paths] if paths else [None] * n
        bits = codes_to_bits(codes)
        base = self._reserve_seqs(n) if n else 0
        cols = ", ".join(LOAD_COLUMNS)
        with self.conn.transaction(), self.conn.cursor() as cur:
            if replace:
                cur.execute(f"DELETE FROM {self.s}.items")
            cur.execute(
                f"CREATE TEMP TABLE terrahash_load (LIKE {self.s}.items INCLUDING DEFAULTS) ON COMMIT DROP"
            )
            cur.execute("ALTER TABLE terrahash_load DROP COLUMN seq, ADD COLUMN ord bigint")
            if self.postgis:
                cur.execute("ALTER TABLE terrahash_load DROP COLUMN footprint")
            with cur.copy(f"COPY terrahash_load ({cols}) FROM STDIN") as copy:
                for i in range(n):
                    rec = recs[i]
                    copy.write_row(
                        (
                            i,
                            ids[i],
                            pths[i],
                            list(labs[i]),
                            *typed_values(rec),
                            Jsonb(rec) if rec is not None else None,
                            bits[i],
                        )
                    )
            footprint_col = ", footprint" if self.postgis else ""
            footprint_val = (
                ", CASE WHEN west IS NULL THEN NULL ELSE ST_MakeEnvelope(west, south, east, north, 4326) END"
                if self.postgis
                else ""
            )
            updates = ", ".join(f"{c} = EXCLUDED.{c}" for c in _UPDATE_COLUMNS)
            if self.postgis:
                updates += ", footprint = EXCLUDED.footprint"
            insert_cols = ", ".join(c for c in LOAD_COLUMNS if c != "ord")
            cur.execute(
                f"INSERT INTO {self.s}.items (seq, {insert_cols}{footprint_col}) "
                f"SELECT %s + ord, {insert_cols}{footprint_val} FROM terrahash_load ORDER BY id "
                f"ON CONFLICT (id) DO UPDATE SET {updates}",
                (base,),
            )
            if manifest_fields:
                self._merge_manifest(cur, manifest_fields)
            self._bump_version(cur)
        if manifest_fields:
            self.manifest.update(manifest_fields)
        if n >= VACUUM_MIN_ROWS:  # outside the transaction, as VACUUM must be
            self.conn.execute(f"VACUUM (ANALYZE) {self.s}.items")

    def _reserve_seqs(self, n: int) -> int:
        """First of ``n`` consecutive insertion numbers, reserved atomically across clients.

        Sequence calls are not transactional, so the reservation survives a rolled-back
        load as a harmless gap; the advisory lock only makes nextval + setval one step.
        """
        lock = f"terrahash:{self.schema}:seq"
        with self.conn.cursor() as cur:
            cur.execute("SELECT pg_advisory_lock(hashtext(%s))", (lock,))
            try:
                cur.execute(f"SELECT nextval('{self.s}.item_seq')")
                first = int(cur.fetchone()[0])
                if n > 1:
                    cur.execute(f"SELECT setval('{self.s}.item_seq', %s)", (first + n - 1,))
            finally:
                cur.execute("SELECT pg_advisory_unlock(hashtext(%s))", (lock,))
        return first

    def _bump_version(self, cur: Any) -> None:
        """Last statement of every write: readers compare this counter to refresh caches."""
        cur.execute(
            f"UPDATE {self.s}.meta SET value = to_jsonb(value::text::bigint + 1) WHERE key = 'version'"
        )

    def _merge_manifest(self, cur: Any, fields: dict[str, Any]) -> None:
        fields = {**fields, "updated": _now()}
        cur.execute(f"UPDATE {self.s}.meta SET value = value || %s WHERE key = 'manifest'", (Jsonb(fields),))

    def remove(self, ids: Sequence[str]) -> int:
        """Delete items by id; unknown ids are ignored. Returns how many were removed."""
        with self.conn.transaction(), self.conn.cursor() as cur:
            cur.execute(f"DELETE FROM {self.s}.items WHERE id = ANY(%s)", ([str(i) for i in ids],))
            removed = cur.rowcount
            if removed:
                self._bump_version(cur)
        return int(removed)

    def update_manifest(self, **fields: Any) -> None:
        with self.conn.transaction(), self.conn.cursor() as cur:
            self._merge_manifest(cur, fields)
        self.manifest = self._read_meta("manifest")

    # -- reads --------------------------------------------------------------------------
    def search(
        self,
        codes: np.ndarray,
        k: int = 10,
        filters: Filters | Mapping[str, Any] | None = None,
        exact: bool = True,
        nprobe: int | None = None,
    ) -> SearchResult:
        """Top-k by ``(distance, seq)``; always exact (``exact``/``nprobe`` are tree knobs)."""
        start = time.perf_counter()
        queries, k = check_search_args(codes, self.bits, k, nprobe)
        flt = normalize_filters(filters)
        if flt.empty and self.use_cache:
            ids, dists, scanned, method = self._search_cache(queries, k)
        else:
            ids, dists, scanned, method = self._search_sql(queries, k, flt)
        took = (time.perf_counter() - start) * 1000.0
        return SearchResult(ids, dists, scanned, took, {"method": method})

    def _search_sql(
        self, queries: np.ndarray, k: int, flt: Filters
    ) -> tuple[list[list[str]], list[list[int]], list[int], str]:
        probe = cube_probe(flt) if self.cube else None
        if probe is not None:
            return self._search_probed(queries, k, flt, *probe)
        where, params = filter_sql(flt, self.postgis)
        clause = f" WHERE {where}" if where else ""
        sql = (
            f"SELECT id, bit_count(code # %(q)s::bit({self.bits})) AS d, count(*) OVER () "
            f"FROM {self.s}.items{clause} ORDER BY d, seq LIMIT %(k)s"
            if where
            else f"SELECT id, bit_count(code # %(q)s::bit({self.bits})) AS d "
            f"FROM {self.s}.items ORDER BY d, seq LIMIT %(k)s"
        )
        ids, dists, scanned = self._rank(sql, params, queries, k, None if where else len(self))
        return ids, dists, scanned, "sql-filtered" if where else "sql"

    def _rank(
        self, sql: str, params: dict[str, Any], queries: np.ndarray, k: int, total: int | None
    ) -> tuple[list[list[str]], list[list[int]], list[int]]:
        """Run a ranking query once per code: (ids, distances, codes scanned).

        With ``total=None`` the query's third column counts the rows that passed the filter;
        otherwise every one of ``total`` codes was scanned.
        """
        ids, dists, scanned = [], [], []
        with self.conn.cursor() as cur:
            for bits in codes_to_bits(queries):
                cur.execute(sql, {**params, "q": bits, "k": k})
                rows = cur.fetchall()
                ids.append([r[0] for r in rows])
                dists.append([int(r[1]) for r in rows])
                scanned.append(total if total is not None else int(rows[0][2]) if rows else 0)
        return ids, dists, scanned

    def probed_sql(
        self, flt: Filters, probe: str, probe_params: dict[str, Any]
    ) -> tuple[str, dict[str, Any]]:
        """The filter-first query and its parameters (``q`` and ``k`` still to bind).

        The cube index yields the candidates of a bbox/time filter (an index-only scan: it
        carries every column read here), the exact comparisons keep the passing ones,
        ``bit_count(code # q)`` ranks them and only the top k get their ids. The candidates
        are a MATERIALIZED CTE so that the planner cannot AND the probe with a B-tree on one
        time edge (which passes a third of the table for a 1 % query).
        """
        exact, params = filter_sql(flt, self.postgis, probes=False)
        sql = (
            f"WITH cand AS MATERIALIZED (SELECT {', '.join(filter_columns(flt))} "
            f"FROM {self.s}.items WHERE {probe}), "
            f"hits AS (SELECT seq, bit_count(code # %(q)s::bit({self.bits})) AS d, count(*) OVER () AS c "
            f"FROM cand WHERE {exact} ORDER BY d, seq LIMIT %(k)s) "
            f"SELECT i.id, hits.d, hits.c FROM hits JOIN {self.s}.items i USING (seq) "
            "ORDER BY hits.d, hits.seq"
        )
        return sql, {**params, **probe_params}

    def _search_probed(
        self, queries: np.ndarray, k: int, flt: Filters, probe: str, probe_params: dict[str, Any]
    ) -> tuple[list[list[str]], list[list[int]], list[int], str]:
        """Filter first, then rank (see ``probed_sql``)."""
        sql, params = self.probed_sql(flt, probe, probe_params)
        ids, dists, scanned = self._rank(sql, params, queries, k, None)
        return ids, dists, scanned, "sql-filtered"

    def _search_cache(
        self, queries: np.ndarray, k: int
    ) -> tuple[list[list[str]], list[list[int]], list[int], str]:
        cache = self.refresh_cache()
        dist, rows = cache.scanner.search(queries, k)
        ids = [[cache.ids[r] for r in row if r >= 0] for row in rows]
        dists = [
            [int(d) for d, r in zip(drow, row, strict=True) if r >= 0]
            for drow, row in zip(dist, rows, strict=True)
        ]
        return ids, dists, [len(cache.ids)] * len(ids), "faiss-cache"

    def refresh_cache(self) -> _CodeCache:
        """Reload the codes if any writer committed since the last load (one cheap query)."""
        version = int(self._read_meta("version"))
        if self._cache is not None and self._cache.version == version:
            return self._cache
        with self.conn.transaction(), self.conn.cursor() as cur:
            cur.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
            cur.execute(f"SELECT value FROM {self.s}.meta WHERE key = 'version'")
            version = int(cur.fetchone()[0])
            cur.execute(f"SELECT id, code::text FROM {self.s}.items ORDER BY seq")
            rows = cur.fetchall()
        ids = [r[0] for r in rows]
        self._cache = _CodeCache(version, ids, bits_to_codes([r[1] for r in rows], self.bits))
        return self._cache

    def get(self, ids: Sequence[str]) -> list[CatalogRow | None]:
        with self.conn.cursor() as cur:
            cur.execute(
                f"SELECT seq, id, path, labels, record FROM {self.s}.items WHERE id = ANY(%s)",
                ([str(i) for i in ids],),
            )
            found = {r[1]: CatalogRow(int(r[0]), r[1], r[2], tuple(r[3]), r[4]) for r in cur}
        return [found.get(str(i)) for i in ids]

    def codes_of(self, ids: Sequence[str]) -> np.ndarray:
        with self.conn.cursor() as cur:
            cur.execute(
                f"SELECT id, code::text FROM {self.s}.items WHERE id = ANY(%s)",
                ([str(i) for i in ids],),
            )
            found = dict(cur.fetchall())
        missing = [i for i in ids if str(i) not in found]
        if missing:
            raise HashIndexError(f"{self.where}: error: no item with id {missing[0]!r} in this index")
        return bits_to_codes([found[str(i)] for i in ids], self.bits)

    def info(self) -> dict[str, Any]:
        out = dict(self._read_meta("manifest"))
        with self.conn.cursor() as cur:
            cur.execute(
                f"SELECT count(*), min(t_start), max(t_end), min(gsd), max(gsd), "
                f"count(west) FROM {self.s}.items"
            )
            count, t0, t1, g0, g1, with_box = cur.fetchone()
            cur.execute(
                f"SELECT coalesce(platform, '(none)'), count(*) FROM {self.s}.items "
                "GROUP BY 1 ORDER BY 2 DESC"
            )
            platforms = dict(cur.fetchall())
            cur.execute(
                f"SELECT l, count(*) FROM {self.s}.items, unnest(labels) AS l GROUP BY 1 ORDER BY 2 DESC, 1"
            )
            labels = dict(cur.fetchall())
            cur.execute(f"SELECT pg_total_relation_size('{self.s}.items')")
            size = int(cur.fetchone()[0])
        out.update(
            path=self.where,
            count=count,
            schema_version=int(self._read_meta("schema_version")),
            spatial_index="postgis" if self.postgis else "bbox",
            server_version=self.conn.info.server_version,
            bytes_per_item=round(size / count, 1) if count else None,
            catalog={
                "items": count,
                "time_range": [t0.isoformat() if t0 else None, t1.isoformat() if t1 else None],
                "gsd_range": [g0, g1],
                "platforms": platforms,
                "labels": labels,
                "with_footprint": with_box,
            },
        )
        return out

    def __repr__(self) -> str:
        return f"PostgresIndex({self.where!r}, bits={self.bits})"


def _column_exists(cur: Any, schema: str, column: str) -> bool:
    cur.execute(
        "SELECT 1 FROM information_schema.columns "
        "WHERE table_schema = %s AND table_name = 'items' AND column_name = %s",
        (schema, column),
    )
    return cur.fetchone() is not None


def _enable_postgis(conn: Any) -> bool:
    """True if PostGIS is (or could be made) available in this database."""
    with conn.cursor() as cur:
        cur.execute("SELECT 1 FROM pg_extension WHERE extname = 'postgis'")
        if cur.fetchone() is not None:
            return True
        cur.execute("SELECT 1 FROM pg_available_extensions WHERE name = 'postgis'")
        if cur.fetchone() is None:
            return False
        try:
            with conn.transaction():
                cur.execute("CREATE EXTENSION IF NOT EXISTS postgis")
        except psycopg.Error:
            return False
    return True


def index_exists(location: str) -> bool:
    """True when ``location`` names a schema that holds a TerraHash index."""
    dsn, schema, _ = parse_location(location)
    with _connect(dsn, _display(dsn, schema)) as conn:
        row = conn.execute("SELECT to_regclass(%s)", (f"{quoted(schema)}.meta",)).fetchone()
    return row[0] is not None


def build_postgres_index(
    location: str,
    model: Any,
    dataset: Any,
    meta: dict[str, Any],
    progress: Any,
    cluster: Any,
    add_dataset: Any,
) -> Any:
    """``index build`` into PostgreSQL: create or open, then replace all items in one transaction.

    The caller's ``add_dataset`` encodes (locally or on Dask) and writes; readers see the old
    items until the new ones are committed.
    """
    from terrahash.index.api import Index

    if index_exists(location):
        index = Index.open(location)
        if index.bits != model.bits:
            where = index.backend.where  # type: ignore[attr-defined]
            index.close()
            raise HashIndexError(
                f"{where}: error: holds {index.bits}-bit codes but the model makes "
                f"{model.bits}-bit codes; use another schema (?schema=NAME) or drop this one"
            )
    else:
        index = Index.create(location, model.bits, **meta)
    add_dataset(index, model, dataset, progress, replace=True, cluster=cluster, **meta)
    if cluster is not None and cluster.staging is not None:
        import shutil

        shutil.rmtree(cluster.staging, ignore_errors=True)
    return index
