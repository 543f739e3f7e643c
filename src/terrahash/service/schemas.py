"""Request and response models: what OpenAPI documents and what JSON bodies are checked against."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from terrahash.service.params import DEFAULT_K, MAX_K


class SearchFields(BaseModel):
    """Filters and knobs shared by every way of searching (STAC API names)."""

    model_config = ConfigDict(extra="forbid")

    k: int = Field(DEFAULT_K, ge=1, le=MAX_K, description="Number of results (at most 1000).")
    exact: bool = Field(True, description="Exact top-k (False: approximate tree search).")
    rerank: bool = Field(True, description="Re-rank the Hamming shortlist by the query's embedding "
                                           "(False: Hamming order alone).")
    nprobe: int | None = Field(None, ge=1, le=1_000_000, description="Leaves visited when not exact.")
    bbox: str | list[float] | None = Field(
        None, description="W,S,E,N in WGS84 degrees; the footprint must intersect it.",
        examples=["14.4,45.8,14.7,46.0"],
    )
    datetime: str | None = Field(
        None, max_length=100,
        description="STAC interval: an instant, 'start/end', '../end' or 'start/..'.",
        examples=["2015-01-01T00:00:00Z/2016-01-01T00:00:00Z", "../2020-01-01"],
    )
    platform: list[str] | str | None = Field(
        None, description="Platform(s), e.g. sentinel-2a; a list or comma-separated."
    )
    gsd_min: float | None = Field(None, ge=0, description="Minimum ground sample distance, m.")
    gsd_max: float | None = Field(None, ge=0, description="Maximum ground sample distance, m.")
    cloud_max: float | None = Field(None, ge=0, le=100, description="Maximum cloud cover, %.")
    label: list[str] | str | None = Field(None, description="Class label(s); any may match.")


class SimilarTo(BaseModel):
    """The similarity extension's query object: an indexed item's id, or a text."""

    model_config = ConfigDict(extra="forbid")

    id: str | None = Field(None, min_length=1, max_length=256, description="An indexed item's id.")
    text: str | None = Field(None, min_length=1, max_length=2000, description="A text query.")


class JsonSearch(SearchFields):
    """``POST /search`` with a JSON body: STAC Item Search (``bbox``, ``intersects``,
    ``datetime``, ``ids``, ``collections``, ``limit``, ``token``), ranked by similarity when it
    holds a query (``similar_to``, or the shorthand ``text`` / ``id``)."""

    text: str | None = Field(None, min_length=1, max_length=2000,
                             examples=["sentinel-2a scene of forest in Slovenia, August 2015"])
    id: str | None = Field(None, min_length=1, max_length=256, description="Query by an indexed item.")
    similar_to: SimilarTo | None = Field(
        None, description="Similarity extension: rank by Hamming distance to this item or text; "
                          "each Item gets terrahash:distance (and terrahash:score when re-ranked).")
    intersects: dict[str, Any] | None = Field(None, description="GeoJSON geometry the items must meet.")
    ids: list[str] | str | None = Field(None, description="Only these item ids.")
    collections: list[str] | str | None = Field(None, description="Only items of these collections.")
    limit: int | str | None = Field(None, description="Items per page, 1..10000 (10 by default; "
                                                      "a similarity query: 1..1000, default k).")
    token: str | int | None = Field(None, description="Page token from a 'next' link.")


class Health(BaseModel):
    """``GET /health``."""

    status: str
    version: str
    items: int
    bits: int
    model_run: str | None
    model_loaded: bool
    index: str
    loaded_at: str
    read_only: bool
    platforms: list[str]
    labels: list[str]
    #: Reloads since start (``POST /admin/reload`` or SIGHUP) that published a new index.
    reloads: int = 0
    #: Micro-batching settings and counters (batches, queries, largest, refused, waiting);
    #: ``null`` when each request is searched alone (``terrahash serve --no-batching``).
    batching: dict[str, Any] | None = None


class Reloaded(BaseModel):
    """``POST /admin/reload``."""

    status: str
    items: int
    reloads: int
    took_ms: float


class ErrorBody(BaseModel):
    """Every error: ``{"detail": ...}`` (a message, or a list for 422 validation errors)."""

    detail: str | list[dict[str, Any]]


#: OpenAPI for ``POST /search``, which takes multipart or JSON (read by hand in the route).
SEARCH_REQUEST_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "properties": {
                        "image": {"type": "string", "format": "binary",
                                  "description": "PNG, JPEG, TIFF or WebP query image."},
                        "metadata": {"type": "string", "format": "binary",
                                     "description": "Metadata file in any supported format."},
                        "text": {"type": "string"},
                        "id": {"type": "string"},

                        **{name: {"type": "string"} for name in SearchFields.model_fields},
                    },
                },
            },
            "application/json": {"schema": {"$ref": "#/components/schemas/JsonSearch"}},
        },
    },
}
