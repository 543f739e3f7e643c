"""Errors raised by the index: each names the index path or the value at fault."""

from __future__ import annotations

from terrahash.codes import CodeShapeError
from terrahash.errors import TerraHashError

__all__ = [
    "CodeShapeError", "CorruptIndexError", "HashIndexError", "IndexMismatchError", "IndexUnavailableError",
]


class HashIndexError(TerraHashError):
    """Base class of index errors (bad codes raise the shared ``CodeShapeError``, a ``ValueError``)."""


class CorruptIndexError(HashIndexError):
    """An index directory is missing files or holds files that do not agree."""


class IndexMismatchError(HashIndexError):
    """A model (or its codes) does not match the index it is used with."""


class IndexUnavailableError(HashIndexError):
    """The index's server cannot be reached now (down, restarting); a later call may succeed."""
