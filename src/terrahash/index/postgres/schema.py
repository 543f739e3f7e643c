"""Creating and opening an index's PostgreSQL schema (its ``meta`` table, PostGIS, migrations).

The ``meta`` table keeps the manifest, the schema version and a change counter (``version``)
that readers compare against to refresh their in-process code cache.
"""

from __future__ import annotations

from typing import Any

from terrahash.index.errors import CorruptIndexError, HashIndexError
from terrahash.index.manifest import FORMAT
from terrahash.index.postgres.connection import Jsonb, psycopg, quoted
from terrahash.index.postgres.migrations import migrate


def column_exists(cur: Any, schema: str, column: str) -> bool:
    """Whether the ``items`` table of ``schema`` has ``column`` (``footprint``: PostGIS)."""
    cur.execute(
        "SELECT 1 FROM information_schema.columns "
        "WHERE table_schema = %s AND table_name = 'items' AND column_name = %s",
        (schema, column),
    )
    return cur.fetchone() is not None


def enable_postgis(conn: Any) -> bool:
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


def _has_meta(cur: Any, schema: str) -> bool:
    cur.execute("SELECT to_regclass(%s)", (f"{quoted(schema)}.meta",))
    return cur.fetchone()[0] is not None


def create_schema(conn: Any, schema: str, manifest: dict[str, Any], where: str) -> None:
    """A new index in ``schema`` (made if missing, refused if it holds an index), in one
    transaction: ``meta``, the tables at the latest version, PostGIS footprints when available."""
    s = quoted(schema)
    with conn.transaction(), conn.cursor() as cur:
        if _has_meta(cur, schema):
            raise HashIndexError(
                f"{where}: error: an index already exists here (open it, or drop the schema first)"
            )
        postgis = enable_postgis(conn)
        cur.execute(f"CREATE SCHEMA IF NOT EXISTS {s}")
        cur.execute(f"CREATE TABLE {s}.meta (key text PRIMARY KEY, value jsonb NOT NULL)")
        cur.execute(f"INSERT INTO {s}.meta VALUES ('schema_version', '0'), ('version', '0')")
        migrate(cur, schema, int(manifest["bits"]), postgis, where)
        cur.execute(f"INSERT INTO {s}.meta VALUES ('manifest', %s)", (Jsonb(manifest),))


def open_schema(conn: Any, schema: str, where: str) -> None:
    """Check that ``schema`` holds an index and bring it to the latest schema version."""
    s = quoted(schema)
    with conn.cursor() as cur:
        if not _has_meta(cur, schema):
            raise CorruptIndexError(f"{where}: error: no TerraHash index in this schema")
        cur.execute(f"SELECT value FROM {s}.meta WHERE key = 'manifest'")
        row = cur.fetchone()
        if row is None or row[0].get("format") != FORMAT:
            raise CorruptIndexError(f"{where}: error: meta table holds no index manifest")
        cur.execute("SELECT to_regclass(%s)", (f"{s}.items",))
        postgis = cur.fetchone()[0] is not None and column_exists(cur, schema, "footprint")
    with conn.transaction(), conn.cursor() as cur:
        cur.execute(f"LOCK TABLE {s}.meta IN EXCLUSIVE MODE")
        migrate(cur, schema, int(row[0]["bits"]), postgis, where)
