"""PostgreSQL schema of an index: DDL, the schema version and the migrations between versions.

One index lives in one PostgreSQL schema (namespace), so a database can hold several. The
``meta`` table keeps the manifest, the schema version and a change counter that readers
compare against to refresh their in-process code cache.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from terrahash.index.errors import CorruptIndexError
from terrahash.index.postgres_rows import CUBE_INCLUDE, PLACE_TIME_CUBE

#: Version written by this TerraHash; ``migrate`` upgrades older schemas to it.
SCHEMA_VERSION = 4


def _ident(name: str) -> str:
    """Quote a schema name as an SQL identifier."""
    return '"' + name.replace('"', '""') + '"'


def _v1_tables(cur: Any, schema: str, bits: int, postgis: bool) -> None:
    """Version 1: items with typed filter columns, the code as ``bit(K)``, and their indexes."""
    s = _ident(schema)
    footprint = "footprint geometry(Polygon, 4326)," if postgis else ""
    cur.execute(f"CREATE SEQUENCE {s}.item_seq")
    cur.execute(
        f"""
        CREATE TABLE {s}.items (
            seq bigint NOT NULL UNIQUE,
            id text PRIMARY KEY,
            path text,
            labels text[] NOT NULL DEFAULT '{{}}',
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
        )"""
    )
    for column in ("t_start", "t_end", "platform", "gsd", "cloud"):
        cur.execute(f"CREATE INDEX items_{column} ON {s}.items ({column})")
    cur.execute(f"CREATE INDEX items_labels ON {s}.items USING gin (labels)")
    if postgis:
        cur.execute(f"CREATE INDEX items_footprint ON {s}.items USING gist (footprint)")
    else:
        cur.execute(
            f"CREATE INDEX items_bbox ON {s}.items USING gist (box(point(west, south), point(east, north)))"
        )


def _v2_time_span(cur: Any, schema: str, bits: int, postgis: bool) -> None:
    """Version 2: one GiST index on the acquisition interval, so a time window is one probe."""
    s = _ident(schema)
    cur.execute(f"CREATE INDEX items_span ON {s}.items USING gist (tstzrange(t_start, t_end, '[]'))")


def _v3_place_time(cur: Any, schema: str, bits: int, postgis: bool) -> None:
    """Version 3: one GiST over (place, time), so bbox + time window is a single index probe.

    Separate indexes each pass about a tenth of the rows for a query that keeps 1 %; the
    composite one walks only the rows inside both.
    """
    s = _ident(schema)
    place = "footprint" if postgis else "box(point(west, south), point(east, north))"
    cur.execute(
        f"CREATE INDEX items_place_time ON {s}.items USING gist ({place}, tstzrange(t_start, t_end, '[]'))"
    )


def _v4_place_time_cube(cur: Any, schema: str, bits: int, postgis: bool) -> None:
    """Version 4: a 3-D R-tree (``cube``: lon, lat, time) that also carries the scan's columns.

    The version 3 index is an R-tree on the place whose entries also hold a time range: it
    prunes pages by place only, so a query keeping 1 % reads every page of its ~10 % place
    slice, then the wide heap rows. One box per row in (lon, lat, time) prunes by both, and
    with ``INCLUDE`` the filter-then-rank query is an index-only scan (after VACUUM). Where
    the ``cube`` extension cannot be had, the version 3 indexes stay and are used.
    """
    s = _ident(schema)
    try:
        with cur.connection.transaction():  # a savepoint: a refusal leaves the rest intact
            cur.execute("CREATE EXTENSION IF NOT EXISTS cube")
    except Exception:  # noqa: BLE001 - not installed or not allowed: keep version 3's indexes
        return
    cur.execute(
        f"CREATE INDEX items_place_time_cube ON {s}.items USING gist ({PLACE_TIME_CUBE}) "
        f"INCLUDE ({', '.join(CUBE_INCLUDE)})"
    )
    cur.execute(f"DROP INDEX IF EXISTS {s}.items_place_time, {s}.items_span")


#: ``MIGRATIONS[v]`` upgrades a schema at version ``v`` to ``v + 1`` (0: nothing yet).
MIGRATIONS: dict[int, Callable[[Any, str, int, bool], None]] = {
    0: _v1_tables,
    1: _v2_time_span,
    2: _v3_place_time,
    3: _v4_place_time_cube,
}


def create_meta(cur: Any, schema: str) -> None:
    """The schema itself and its ``meta`` key/value table (version 0)."""
    s = _ident(schema)
    cur.execute(f"CREATE SCHEMA IF NOT EXISTS {s}")
    cur.execute(f"CREATE TABLE {s}.meta (key text PRIMARY KEY, value jsonb NOT NULL)")
    cur.execute(f"INSERT INTO {s}.meta VALUES ('schema_version', '0'), ('version', '0')")


def schema_version(cur: Any, schema: str) -> int:
    cur.execute(f"SELECT value FROM {_ident(schema)}.meta WHERE key = 'schema_version'")
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
            f"UPDATE {_ident(schema)}.meta SET value = to_jsonb(%s::int) WHERE key = 'schema_version'",
            (SCHEMA_VERSION,),
        )
    return current


def quoted(schema: str) -> str:
    """The public name of ``_ident`` for the backend's queries."""
    return _ident(schema)
