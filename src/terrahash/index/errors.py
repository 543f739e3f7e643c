"""Errors raised by the index: each names the index path or the value at fault."""

from __future__ import annotations

from terrahash.errors import TerraHashError


class HashIndexError(TerraHashError):
    """Base class of index errors."""


class CodeShapeError(HashIndexError, ValueError):
    """Codes with the wrong dtype, rank or length (also a ``ValueError``, as FAISS users expect)."""


class CorruptIndexError(HashIndexError):
    """An index directory is missing files or holds files that do not agree."""


class IndexMismatchError(HashIndexError):
    """A model (or its codes) does not match the index it is used with."""
