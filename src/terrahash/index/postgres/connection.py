"""Reaching an index in PostgreSQL: its URI, a checked connection, and whether it exists.

An index is a PostgreSQL schema addressed by a URI, ``postgresql://user@host:port/db``,
with optional query parameters that TerraHash reads itself and libpq never sees:
``schema=NAME`` (default ``terrahash``) and ``cache=faiss`` (keep an in-process FAISS copy
of the codes for unfiltered queries, refreshed whenever a writer has committed).

The schema name comes from the URI, so it is never pasted into SQL text: statements name
their tables through ``schema_sql`` (``psycopg.sql.Identifier``), and functions that take a
relation get it by catalog lookup with the names bound as values (``RELATION``).
"""

from __future__ import annotations

import os
import string
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from terrahash.errors import lazy_import
from terrahash.index.errors import HashIndexError, IndexUnavailableError
from terrahash.index.locations import postgres_url

psycopg = lazy_import("psycopg", "postgres")
from psycopg import sql  # noqa: E402 - after the helpful import error
from psycopg.types.json import Jsonb  # noqa: E402

__all__ = [
    "RELATION",
    "Jsonb",
    "connect",
    "display",
    "index_exists",
    "parse_location",
    "psycopg",
    "relation_exists",
    "schema_sql",
    "sql",
]

DEFAULT_SCHEMA = "terrahash"
#: Seconds to wait for a server that does not answer (libpq would wait for ever, and a
#: reconnecting index would hold its callers that long); ``connect_timeout`` in the URI wins.
CONNECT_TIMEOUT_S = 10
#: Lowest server version with ``bit_count(bit)``.
MIN_SERVER_VERSION = 140000
_OWN_PARAMS = ("schema", "cache")
#: PostgreSQL keeps this many bytes of a name and silently drops the rest (NAMEDATALEN - 1),
#: so two longer names would be one schema.
MAX_NAME_BYTES = 63
#: ``(SELECT oid)`` of relation ``%s`` (a name) in schema ``%s``, as a ``regclass``: for
#: ``nextval``, ``pg_total_relation_size`` and the like, whose text argument would otherwise
#: be parsed as SQL-quoted text. Bind (schema, name) as values.
RELATION = (
    "(SELECT c.oid::regclass FROM pg_catalog.pg_class c "
    "JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace "
    "WHERE n.nspname = %s AND c.relname = %s)"
)


def parse_location(location: str | os.PathLike[str]) -> tuple[str, str, bool]:
    """``postgresql://...?schema=X&cache=faiss`` -> (libpq DSN, schema, cache on).

    Also accepts the ``postgresql:/host/db`` form that ``pathlib.Path`` makes of a URI.
    """
    parts = urlsplit(postgres_url(location))
    query = parse_qsl(parts.query, keep_blank_values=True)
    own = {k: v for k, v in query if k in _OWN_PARAMS}
    rest = [(k, v) for k, v in query if k not in _OWN_PARAMS]
    schema = check_schema(own.get("schema") or DEFAULT_SCHEMA, location)
    cache = own.get("cache", "")
    if cache not in ("", "faiss", "none"):
        raise HashIndexError(f"{location}: error: cache={cache!r}; expected cache=faiss or none")
    dsn = urlunsplit(parts._replace(query=urlencode(rest)))
    return dsn, schema, cache == "faiss"


def display(dsn: str, schema: str) -> str:
    """The location without a password, for messages."""
    parts = urlsplit(dsn)
    netloc = parts.netloc
    if "@" in netloc and ":" in netloc.split("@", 1)[0]:
        user = netloc.split("@", 1)[0].split(":", 1)[0]
        netloc = f"{user}:***@{netloc.split('@', 1)[1]}"
    return urlunsplit(parts._replace(netloc=netloc)) + f" (schema {schema})"


def connect(dsn: str, where: str) -> Any:
    """An autocommit connection to a server new enough for ``bit_count`` (14+);
    ``IndexUnavailableError`` when the server cannot be reached."""
    options = {} if "connect_timeout" in psycopg.conninfo.conninfo_to_dict(dsn) else {
        "connect_timeout": CONNECT_TIMEOUT_S}
    try:
        conn = psycopg.connect(dsn, autocommit=True, **options)
    except psycopg.OperationalError as exc:
        raise IndexUnavailableError(f"{where}: error: cannot connect ({str(exc).strip()})") from exc
    if conn.info.server_version < MIN_SERVER_VERSION:
        conn.close()
        raise HashIndexError(
            f"{where}: error: PostgreSQL {conn.info.server_version} lacks bit_count(); "
            "TerraHash needs PostgreSQL 14 or newer"
        )
    return conn


def check_schema(schema: str, location: str | os.PathLike[str]) -> str:
    """``schema`` if PostgreSQL can hold it as given (any other character is fine: names are
    always quoted as identifiers)."""
    problem = None
    if "\x00" in schema:
        problem = "contains a NUL character"
    elif len(schema.encode("utf-8")) > MAX_NAME_BYTES:
        problem = f"is longer than PostgreSQL's {MAX_NAME_BYTES} bytes (it would be cut short)"
    elif schema.lower().startswith("pg_"):
        problem = "starts with pg_, which PostgreSQL reserves for system schemas"
    if problem:
        raise HashIndexError(f"{location}: error: schema={schema!r} {problem}")
    return schema


def schema_sql(template: str, schema: str) -> sql.Composed:
    """``template`` with each ``{name}`` field replaced by the identifier ``schema.name``
    (``{schema}``: the schema itself), quoted by ``psycopg.sql.Identifier``.

    ``%s`` / ``%(x)s`` placeholders pass through for values; literal braces are doubled.
    """
    fields = {field for _, field, _, _ in string.Formatter().parse(template) if field}
    names = {f: sql.Identifier(schema) if f == "schema" else sql.Identifier(schema, f) for f in fields}
    return sql.SQL(template).format(**names)


def relation_exists(cur: Any, schema: str, name: str) -> bool:
    """Whether ``schema`` holds a relation (table, index, sequence) called ``name``."""
    cur.execute(f"SELECT {RELATION} IS NOT NULL", (schema, name))
    return bool(cur.fetchone()[0])


def index_exists(location: str | os.PathLike[str]) -> bool:
    """True when ``location`` names a schema that holds a TerraHash index."""
    dsn, schema, _ = parse_location(location)
    with connect(dsn, display(dsn, schema)) as conn, conn.cursor() as cur:
        return relation_exists(cur, schema, "meta")
