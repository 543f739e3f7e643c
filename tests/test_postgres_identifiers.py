"""Hostile ``?schema=`` names against a real server: every verb works inside exactly that
schema and nothing outside it is touched (no SQL injection through the identifier)."""

from __future__ import annotations

from urllib.parse import quote

import numpy as np
import pytest

from terrahash.index import HashIndexError, Index
from tests.pg_server import pg_server  # noqa: F401 - fixture
from tests.postgres_helpers import BITS, synthetic_items, tied_codes

HOSTILE = [
    'x"; DROP TABLE items; --',
    "a'b",
    "a'); DROP TABLE canary; --",
    "Ünïcode \"'.dots",
]


def _location(server: str, schema: str, extra: str = "") -> str:
    return f"{server}?schema={quote(schema, safe='')}{extra}"


@pytest.fixture
def canary(pg_server: str):  # noqa: F811
    """Tables an injected statement would drop or change: ``public.items`` and ``public.canary``."""
    import psycopg

    with psycopg.connect(pg_server, autocommit=True) as conn:
        for table in ("items", "canary"):
            conn.execute(f"DROP TABLE IF EXISTS public.{table}")
            conn.execute(f"CREATE TABLE public.{table} (v int)")
            conn.execute(f"INSERT INTO public.{table} VALUES (42)")
    yield pg_server
    with psycopg.connect(pg_server, autocommit=True) as conn:
        for table in ("items", "canary"):
            assert conn.execute(f"SELECT v FROM public.{table}").fetchall() == [(42,)]
            conn.execute(f"DROP TABLE public.{table}")


@pytest.mark.parametrize("schema", HOSTILE)
def test_hostile_schema_name_is_one_identifier(canary: str, schema: str) -> None:
    import psycopg

    from terrahash.index.postgres import index_exists

    location = _location(canary, schema)
    ids, records, labels = synthetic_items(40, seed=3)
    codes = tied_codes(40, seed=3)
    assert not index_exists(location)
    with Index.create(location, BITS) as index:
        index.add(ids, codes, records=records, labels=labels,
                  embeddings=np.random.default_rng(0).normal(size=(40, 8)))
        index.add(ids[:5], codes[5:10])  # an upsert: reserves insertion numbers (nextval/setval)
        assert index.remove(ids[-3:]) == 3
        got = index.query(codes[:2], k=5, filters={"bbox": (-180, -90, 180, 90), "start": "2019-01-01"})
        assert all(len(row) == 5 for row in got.ids)
        assert index.search(codes[:1], k=1)[1][0] == [0]
        info = index.info()
        assert info["count"] == 37 and info["bytes_per_item"] > 0
        assert index.get(["syn-00007"])[0].labels == tuple(labels[7])
        plain = index.search(codes[:1], k=3)
    assert index_exists(location)
    with Index.open(_location(canary, schema, "&cache=faiss")) as cached:
        assert cached.search(codes[:1], k=3) == plain
    with psycopg.connect(canary, autocommit=True) as conn:
        tables = {r[0] for r in conn.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = %s", (schema,))}
        assert tables == {"items", "meta"}
        conn.execute(psycopg.sql.SQL("DROP SCHEMA {} CASCADE").format(psycopg.sql.Identifier(schema)))


@pytest.mark.parametrize(("schema", "problem"), [
    ("pg_mine", "starts with pg_"),
    ("s" * 64, "longer than PostgreSQL's 63 bytes"),
    ("a\x00b", "NUL"),
])
def test_schema_names_postgres_cannot_hold_are_refused(schema: str, problem: str) -> None:
    pytest.importorskip("psycopg")
    from terrahash.index.postgres import parse_location

    with pytest.raises(HashIndexError, match=problem):
        parse_location(_location("postgresql://u@127.0.0.1:1/db", schema))
    assert parse_location(_location("postgresql://u@127.0.0.1:1/db", "ä" * 31))[1] == "ä" * 31
