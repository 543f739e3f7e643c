"""The one backend resolver: which locations are PostgreSQL, and ``index build``'s target."""

from __future__ import annotations

from pathlib import Path

import pytest

from terrahash.index import HashIndexError, is_postgres_uri, resolve_location
from terrahash.index.locations import postgres_url


@pytest.mark.parametrize(
    ("location", "want"),
    [
        ("postgresql://me@db/x?schema=s", True),
        ("postgres://db/x", True),
        (Path("postgresql://db/x"), True),  # pathlib folds // into /
        ("postgresql:/db/x", True),
        ("scenes.thi", False),
        (Path("runs/postgresql"), False),
        ("postgresql", False),
    ],
)
def test_is_postgres_uri(location: str | Path, want: bool) -> None:
    assert is_postgres_uri(location) is want


def test_postgres_url_undoes_pathlib() -> None:
    assert postgres_url(Path("postgresql://db/x")) == "postgresql://db/x"
    assert postgres_url("postgres://db/x") == "postgres://db/x"


def test_resolve_location() -> None:
    assert resolve_location("out.thi") == "out.thi"
    assert resolve_location(None, "postgres", "postgresql://u@h/db") == "postgresql://u@h/db"
    assert resolve_location("postgres://h/db", "postgres") == "postgres://h/db"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("out", "sqlite"), "--backend: error: 'sqlite' is not embedded or postgres"),
        (("out", "postgres"), "--dsn: error: --backend postgres needs --dsn postgresql://USER@HOST/DB"),
        ((None, "postgres", None), "--dsn: error: --backend postgres needs --dsn postgresql://USER@HOST/DB"),
        ((None,), "--out: error: give the index folder to write (or --backend postgres --dsn ...)"),
    ],
)
def test_resolve_location_errors(args: tuple, message: str) -> None:
    with pytest.raises(HashIndexError) as err:
        resolve_location(*args)
    assert str(err.value) == message
