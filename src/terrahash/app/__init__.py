"""Search layer: queries (image, image + metadata, text, id) -> codes -> ranked, described results."""

from terrahash.app.query import Query, QueryError, load_index_model, query_codes
from terrahash.app.results import Hit, hits, to_json
from terrahash.app.sheet import contact_sheet

__all__ = [
    "Hit",
    "Query",
    "QueryError",
    "contact_sheet",
    "hits",
    "load_index_model",
    "query_codes",
    "to_json",
]
