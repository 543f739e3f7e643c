"""Creating and opening an index's PostgreSQL schema (its ``meta`` table, PostGIS, migrations).

The ``meta`` table keeps the manifest, the schema version and a change counter (``version``)
that readers compare against to refresh their in-process code cache.
"""

from __future__ import annotations

from typing import Any

from terrahash.index.errors import CorruptIndexError, HashIndexError
from terrahash.index.manifest import FORMAT
from terrahash.index.postgres.connection import Jsonb, psycopg, relation_exists, schema_sql
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


def create_schema(conn: Any, schema: str, manifest: dict[str, Any], where: str) -> None:
    """A new index in ``schema`` (made if missing, refused if it holds an index), in one
    transaction: ``meta``, the tables at the latest version, PostGIS footprints when available."""
    with conn.transaction(), conn.cursor() as cur:
        if relation_exists(cur, schema, "meta"):
            raise HashIndexError(
                f"{where}: error: an index already exists here (open it, or drop the schema first)"
            )
        postgis = enable_postgis(conn)
        cur.execute(schema_sql("CREATE SCHEMA IF NOT EXISTS {schema}", schema))
        cur.execute(schema_sql("CREATE TABLE {meta} (key text PRIMARY KEY, value jsonb NOT NULL)", schema))
        cur.execute(schema_sql("INSERT INTO {meta} VALUES ('schema_version', '0'), ('version', '0')", schema))
        migrate(cur, schema, int(manifest["bits"]), postgis, where)
        cur.execute(schema_sql("INSERT INTO {meta} VALUES ('manifest', %s)", schema), (Jsonb(manifest),))


def open_schema(conn: Any, schema: str, where: str) -> None:
    """Check that ``schema`` holds an index and bring it to the latest schema version."""
    with conn.cursor() as cur:
        if not relation_exists(cur, schema, "meta"):
            raise CorruptIndexError(f"{where}: error: no TerraHash index in this schema")
        cur.execute(schema_sql("SELECT value FROM {meta} WHERE key = 'manifest'", schema))
        row = cur.fetchone()
        if row is None or row[0].get("format") != FORMAT:
            raise CorruptIndexError(f"{where}: error: meta table holds no index manifest")
        postgis = relation_exists(cur, schema, "items") and column_exists(cur, schema, "footprint")
    with conn.transaction(), conn.cursor() as cur:
        cur.execute(schema_sql("LOCK TABLE {meta} IN EXCLUSIVE MODE", schema))
        migrate(cur, schema, int(row[0]["bits"]), postgis, where)
