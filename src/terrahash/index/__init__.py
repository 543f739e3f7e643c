"""Index layer (the store): packed hash codes -> a searchable structure with its catalog.

Backends: an embedded folder (flat scan, RSHST tree, SQLite catalog) or PostgreSQL. This
package imports nothing from the model, data, training, search, service or app layers.
"""

from terrahash.index.api import Index, index_exists
from terrahash.index.backend import IndexBackend, SearchRequest, SearchResult, Selection
from terrahash.index.errors import (
    CodeShapeError,
    CorruptIndexError,
    HashIndexError,
    IndexMismatchError,
    IndexUnavailableError,
)
from terrahash.index.filters import (
    FilterError,
    FilterLike,
    Filters,
    normalize_filters,
    parse_bbox,
    parse_interval,
    parse_number,
)
from terrahash.index.items import CatalogRow, LabelLike, RecordLike
from terrahash.index.locations import is_postgres_uri, resolve_location

__all__ = [
    "CatalogRow",
    "CodeShapeError",
    "CorruptIndexError",
    "FilterError",
    "FilterLike",
    "Filters",
    "HashIndexError",
    "Index",
    "IndexBackend",
    "IndexMismatchError",
    "IndexUnavailableError",
    "LabelLike",
    "RecordLike",
    "SearchRequest",
    "SearchResult",
    "Selection",
    "index_exists",
    "is_postgres_uri",
    "normalize_filters",
    "parse_bbox",
    "parse_interval",
    "parse_number",
    "resolve_location",
]
