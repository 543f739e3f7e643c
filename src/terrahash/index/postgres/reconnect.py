"""Surviving a PostgreSQL restart: a connection that is replaced once it is found lost.

A server that restarts (or fails over) closes every client connection. Without help an
opened index would then fail every later call; here the call that meets the dead
connection is retried once on a new one when it only reads (a search, a lookup), and
otherwise fails with ``IndexUnavailableError`` (a write is never replayed: it may have
committed). While the server is down, calls fail fast with that error, which the service
answers as 503; the first call after the server is back reconnects.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from typing import Any, ParamSpec, Protocol, TypeVar

from terrahash.index.errors import IndexUnavailableError
from terrahash.index.postgres.connection import connect, psycopg

P = ParamSpec("P")
R = TypeVar("R")


class LiveConnection:
    """The current connection of one index; ``conn`` connects again when the last one died."""

    def __init__(self, dsn: str, where: str, conn: Any) -> None:
        self._dsn = dsn
        self._where = where
        self._conn = conn
        self._closed = False
        self._lock = threading.Lock()

    @property
    def conn(self) -> Any:
        """The connection; a new one when the server closed the last (``IndexUnavailableError``
        while it cannot be reached)."""
        with self._lock:
            if not self._closed and self.lost():
                self._conn = connect(self._dsn, self._where)
            return self._conn

    def lost(self) -> bool:
        """Whether the connection died under us (not closed by ``close``)."""
        return not self._closed and bool(self._conn.closed or self._conn.broken)

    def close(self) -> None:
        self._closed = True
        self._conn.close()

    def unavailable(self, exc: Exception) -> IndexUnavailableError:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return IndexUnavailableError(
            f"{self._where}: error: lost the connection to PostgreSQL ({reason}); "
            "the next request connects again"
        )


class HasLiveConnection(Protocol):
    live: LiveConnection


def _guarded(retry: bool) -> Callable[[Callable[P, R]], Callable[P, R]]:
    def decorate(method: Callable[P, R]) -> Callable[P, R]:
        @functools.wraps(method)
        def call(*args: P.args, **kwargs: P.kwargs) -> R:
            owner: HasLiveConnection = args[0]  # type: ignore[assignment]
            live = owner.live
            try:
                return method(*args, **kwargs)
            except psycopg.OperationalError as exc:
                if not live.lost():  # the statement's own error, the connection is fine
                    raise
                if not retry:
                    raise live.unavailable(exc) from exc
            try:  # once, on a new connection (the server may be back already)
                return method(*args, **kwargs)
            except psycopg.OperationalError as exc:
                if not live.lost():
                    raise
                raise live.unavailable(exc) from exc

        return call

    return decorate


#: For a method that only reads: retried once on a new connection when the old one died.
reading = _guarded(retry=True)
#: For a method that writes: a lost connection is ``IndexUnavailableError`` (never replayed).
writing = _guarded(retry=False)
