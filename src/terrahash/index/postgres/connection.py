"""Reaching an index in PostgreSQL: its URI, a checked connection, and whether it exists.

An index is a PostgreSQL schema addressed by a URI, ``postgresql://user@host:port/db``,
with optional query parameters that TerraHash reads itself and libpq never sees:
``schema=NAME`` (default ``terrahash``) and ``cache=faiss`` (keep an in-process FAISS copy
of the codes for unfiltered queries, refreshed whenever a writer has committed).
"""

from __future__ import annotations

import os
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from terrahash.errors import lazy_import
from terrahash.index.errors import HashIndexError
from terrahash.index.locations import postgres_url

psycopg = lazy_import("psycopg", "postgres")
from psycopg.types.json import Jsonb  # noqa: E402 - after the helpful import error

__all__ = ["Jsonb", "connect", "display", "index_exists", "parse_location", "psycopg"]

DEFAULT_SCHEMA = "terrahash"
#: Lowest server version with ``bit_count(bit)``.
MIN_SERVER_VERSION = 140000
_OWN_PARAMS = ("schema", "cache")


def parse_location(location: str | os.PathLike[str]) -> tuple[str, str, bool]:
    """``postgresql://...?schema=X&cache=faiss`` -> (libpq DSN, schema, cache on).

    Also accepts the ``postgresql:/host/db`` form that ``pathlib.Path`` makes of a URI.
    """
    parts = urlsplit(postgres_url(location))
    query = parse_qsl(parts.query, keep_blank_values=True)
    own = {k: v for k, v in query if k in _OWN_PARAMS}
    rest = [(k, v) for k, v in query if k not in _OWN_PARAMS]
    schema = own.get("schema") or DEFAULT_SCHEMA
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
    """An autocommit connection to a server new enough for ``bit_count`` (14+)."""
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


def quoted(schema: str) -> str:
    """A schema name as an SQL identifier."""
    return '"' + schema.replace('"', '""') + '"'


def index_exists(location: str | os.PathLike[str]) -> bool:
    """True when ``location`` names a schema that holds a TerraHash index."""
    dsn, schema, _ = parse_location(location)
    with connect(dsn, display(dsn, schema)) as conn:
        row = conn.execute("SELECT to_regclass(%s)", (f"{quoted(schema)}.meta",)).fetchone()
    return row[0] is not None
