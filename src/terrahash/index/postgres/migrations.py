"""The tables and indexes of an index in PostgreSQL, version by version, and the upgrades.

One index lives in one PostgreSQL schema (namespace), so a database can hold several. Each
schema version adds to the one before (``MIGRATIONS``); a new index runs them all, and
opening an older one runs the missing ones, so every index ends up with the same DDL.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from terrahash.index.errors import CorruptIndexError
from terrahash.index.postgres.connection import schema_sql

#: Version written by this TerraHash; ``migrate`` upgrades older schemas to it.
SCHEMA_VERSION = 5

_EPOCH = "timestamptz '1970-01-01 00:00:00+00'"
#: Each row as a box in (lon, lat, epoch seconds), unbounded along what it lacks, so that
#: one 3-D GiST (``cube``) finds "here, then" (schema version 4). Every function in it is
#: immutable, as an index expression must be; the query repeats it verbatim.
PLACE_TIME_CUBE = (
    "cube(ARRAY[coalesce(west, '-Infinity'), coalesce(south, '-Infinity'), "
    f"coalesce(extract(epoch FROM t_start - {_EPOCH})::float8, '-Infinity')], "
    "ARRAY[coalesce(east, 'Infinity'), coalesce(north, 'Infinity'), "
    f"coalesce(extract(epoch FROM t_end - {_EPOCH})::float8, 'Infinity')])"
)
#: Columns the covering cube index carries, so that bbox + time queries never read the heap.
CUBE_INCLUDE = ("seq", "code", "west", "south", "east", "north", "t_start", "t_end")


def _v1_tables(cur: Any, schema: str, bits: int, postgis: bool) -> None:
    """Version 1: items with typed filter columns, the code as ``bit(K)``, and their indexes."""
    footprint = "footprint geometry(Polygon, 4326)," if postgis else ""
    cur.execute(schema_sql("CREATE SEQUENCE {item_seq}", schema))
    cur.execute(schema_sql(
        f"""
        CREATE TABLE {{items}} (
            seq bigint NOT NULL UNIQUE,
            id text PRIMARY KEY,
            path text,
            labels text[] NOT NULL DEFAULT '{{{{}}}}',
            datetime timestamptz,
            t_start timestamptz,
            t_end timestamptz,
            platform text,
            gsd double precision,
            cloud double precision,
            west double precision,
            south double precision,
            east double precision,
            north double precision,
            {footprint}
            record jsonb,
            code bit({bits}) NOT NULL
        )""",
        schema,
    ))
    for column in ("t_start", "t_end", "platform", "gsd", "cloud"):
        cur.execute(schema_sql(f"CREATE INDEX items_{column} ON {{items}} ({column})", schema))
    cur.execute(schema_sql("CREATE INDEX items_labels ON {items} USING gin (labels)", schema))
    if postgis:
        cur.execute(schema_sql("CREATE INDEX items_footprint ON {items} USING gist (footprint)", schema))
    else:
        cur.execute(schema_sql(
            "CREATE INDEX items_bbox ON {items} USING gist (box(point(west, south), point(east, north)))",
            schema,
        ))


def _v2_time_span(cur: Any, schema: str, bits: int, postgis: bool) -> None:
    """Version 2: one GiST index on the acquisition interval, so a time window is one probe."""
    cur.execute(schema_sql(
        "CREATE INDEX items_span ON {items} USING gist (tstzrange(t_start, t_end, '[]'))", schema
    ))


def _v3_place_time(cur: Any, schema: str, bits: int, postgis: bool) -> None:
    """Version 3: one GiST over (place, time), so bbox + time window is a single index probe.

    Separate indexes each pass about a tenth of the rows for a query that keeps 1 %; the
    composite one walks only the rows inside both.
    """
    place = "footprint" if postgis else "box(point(west, south), point(east, north))"
    cur.execute(schema_sql(
        f"CREATE INDEX items_place_time ON {{items}} USING gist ({place}, tstzrange(t_start, t_end, '[]'))",
        schema,
    ))


def _v4_place_time_cube(cur: Any, schema: str, bits: int, postgis: bool) -> None:
    """Version 4: a 3-D R-tree (``cube``: lon, lat, time) that also carries the scan's columns.

    The version 3 index is an R-tree on the place whose entries also hold a time range: it
    prunes pages by place only, so a query keeping 1 % reads every page of its ~10 % place
    slice, then the wide heap rows. One box per row in (lon, lat, time) prunes by both, and
    with ``INCLUDE`` the filter-then-rank query is an index-only scan (after VACUUM). Where
    the ``cube`` extension cannot be had, the version 3 indexes stay and are used.
    """
    try:
        with cur.connection.transaction():  # a savepoint: a refusal leaves the rest intact
            cur.execute("CREATE EXTENSION IF NOT EXISTS cube")
    except Exception:  # noqa: BLE001 - not installed or not allowed: keep version 3's indexes
        return
    cur.execute(schema_sql(
        f"CREATE INDEX items_place_time_cube ON {{items}} USING gist ({PLACE_TIME_CUBE}) "
        f"INCLUDE ({', '.join(CUBE_INCLUDE)})",
        schema,
    ))
    cur.execute(schema_sql("DROP INDEX IF EXISTS {items_place_time}, {items_span}", schema))


def _v5_embeddings(cur: Any, schema: str, bits: int, postgis: bool) -> None:
    """Version 5: each item's re-ranking embedding, ``int8`` bytes as ``index.embeddings``
    quantises them (``NULL``: none; older rows have none until rewritten)."""
    cur.execute(schema_sql("ALTER TABLE {items} ADD COLUMN IF NOT EXISTS embedding bytea", schema))


#: ``MIGRATIONS[v]`` upgrades a schema at version ``v`` to ``v + 1`` (0: nothing yet).
MIGRATIONS: dict[int, Callable[[Any, str, int, bool], None]] = {
    0: _v1_tables,
    1: _v2_time_span,
    2: _v3_place_time,
    3: _v4_place_time_cube,
    4: _v5_embeddings,
}


def schema_version(cur: Any, schema: str) -> int:
    cur.execute(schema_sql("SELECT value FROM {meta} WHERE key = 'schema_version'", schema))
    row = cur.fetchone()
    return int(row[0]) if row else 0


def migrate(cur: Any, schema: str, bits: int, postgis: bool, where: str) -> int:
    """Bring the schema up to ``SCHEMA_VERSION`` (call inside a transaction); returns the old one.

    Raises:
        CorruptIndexError: the schema is newer than this TerraHash understands.
    """
    current = schema_version(cur, schema)
    if current > SCHEMA_VERSION:
        raise CorruptIndexError(
            f"{where}: error: index schema version {current} is newer than this TerraHash "
            f"supports ({SCHEMA_VERSION}); upgrade terrahash"
        )
    for version in range(current, SCHEMA_VERSION):
        MIGRATIONS[version](cur, schema, bits, postgis)
    if current != SCHEMA_VERSION:
        cur.execute(
            schema_sql("UPDATE {meta} SET value = to_jsonb(%s::int) WHERE key = 'schema_version'", schema),
            (SCHEMA_VERSION,),
        )
    return current
