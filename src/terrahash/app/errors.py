"""The application layer's query error, apart so that every ``app`` module may raise it."""

from __future__ import annotations

from terrahash.errors import TerraHashError


class QueryError(TerraHashError):
    """A query that cannot be encoded (no input, two inputs, unreadable file, text not understood)."""
