"""The application layer: what every front end (CLI, Python, HTTP service, benchmarks) calls.

It owns the three jobs that cross the library's stages: finding and loading the model that
belongs to an index (``models``), turning any query into codes and ranked hits (``query``,
``searcher``), and building or extending an index from a dataset on any backend and
scheduler (``build``, ``distributed``). Front ends only parse and print.
"""

from terrahash.app.build import add_to_index, build_index, dataset_size
from terrahash.app.distributed import ClusterOptions
from terrahash.app.errors import QueryError
from terrahash.app.models import (
    ModelUnavailableError,
    check_model,
    load_index_model,
    model_fingerprint,
    model_provenance,
)
from terrahash.app.query import ItemNotFoundError, Query, QueryKind, encode_query
from terrahash.app.searcher import Hit, Searcher, SearchOutcome
from terrahash.app.sheet import contact_sheet

__all__ = [
    "ClusterOptions",
    "Hit",
    "ItemNotFoundError",
    "ModelUnavailableError",
    "Query",
    "QueryError",
    "QueryKind",
    "SearchOutcome",
    "Searcher",
    "add_to_index",
    "build_index",
    "check_model",
    "contact_sheet",
    "dataset_size",
    "encode_query",
    "load_index_model",
    "model_fingerprint",
    "model_provenance",
]
