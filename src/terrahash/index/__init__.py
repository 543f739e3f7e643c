"""Index layer: packed hash codes -> a searchable structure (flat scan, RSHST tree, catalog)."""

from terrahash.index.api import Index
from terrahash.index.backend import IndexBackend, SearchResult
from terrahash.index.catalog import CatalogRow
from terrahash.index.errors import (
    CodeShapeError,
    CorruptIndexError,
    HashIndexError,
    IndexMismatchError,
)
from terrahash.index.filters import FilterError, Filters

__all__ = [
    "CatalogRow",
    "CodeShapeError",
    "CorruptIndexError",
    "FilterError",
    "Filters",
    "HashIndexError",
    "Index",
    "IndexBackend",
    "IndexMismatchError",
    "SearchResult",
]
