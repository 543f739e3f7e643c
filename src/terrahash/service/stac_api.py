"""The STAC API face of the service: landing page, conformance, collections and their items.

Item Search itself is ``/search`` (``routes.py``, through ``stac_search``), where the
similarity extension ranks results when the request holds a query. An index is one
collection (``Engine.collection_id``): the dataset it was built from.
"""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import quote

import pystac
from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from terrahash import __version__
from terrahash.service.engine import Engine, NotFoundError
from terrahash.service.params import check_id
from terrahash.service.responses import FastJSONResponse
from terrahash.service.stac_items import stac_item
from terrahash.service.stac_search import (
    GEOJSON,
    feature_collection,
    get_next_link,
    has_next,
    item_search,
    run_item_search,
)

STAC_VERSION = pystac.get_stac_version()
JSON = "application/json"
OPENAPI = "application/vnd.oai.openapi+json;version=3.0"
CONFORMANCE = [
    "https://api.stacspec.org/v1.0.0/core",
    "https://api.stacspec.org/v1.0.0/collections",
    "https://api.stacspec.org/v1.0.0/ogcapi-features",
    "https://api.stacspec.org/v1.0.0/item-search",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/oas30",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson",
]
#: What an index built from several sources (or of unstated origin) declares as its licence.
DEFAULT_LICENSE = "various"

router = APIRouter(tags=["STAC API"])


def current(request: Request) -> Engine:
    return request.app.state.holder.current


def landing_page(request: Request) -> dict[str, Any]:
    """The STAC API landing page (a Catalog): what the service offers and where."""
    base = str(request.base_url)
    engine = current(request)
    return {
        "type": "Catalog",
        "stac_version": STAC_VERSION,
        "id": "terrahash",
        "title": "TerraHash retrieval service",
        "description": "Remote sensing scenes searchable by place, time and metadata (STAC API "
                       "Item Search) and by similarity to an item, an image or a text.",
        "conformsTo": CONFORMANCE,
        "links": [
            {"rel": "self", "href": base, "type": JSON},
            {"rel": "root", "href": base, "type": JSON},
            {"rel": "conformance", "href": f"{base}conformance", "type": JSON},
            {"rel": "data", "href": f"{base}collections", "type": JSON},
            {"rel": "search", "href": f"{base}search", "type": GEOJSON, "method": "GET"},
            {"rel": "search", "href": f"{base}search", "type": GEOJSON, "method": "POST"},
            {"rel": "service-desc", "href": f"{base}openapi.json", "type": OPENAPI},
            {"rel": "service-doc", "href": f"{base}docs", "type": "text/html"},
            {"rel": "alternate", "href": f"{base}map", "type": "text/html", "title": "Map page"},
            {"rel": "child", "href": _collection_url(base, engine.collection_id), "type": JSON},
        ],
        "terrahash:version": __version__,
    }


@router.get("/conformance")
def conformance() -> dict[str, Any]:
    """The conformance classes this API implements."""
    return {"conformsTo": CONFORMANCE}


@router.get("/collections")
def collections(request: Request) -> dict[str, Any]:
    """Every collection: one per index (the dataset it was built from)."""
    base = str(request.base_url)
    return {
        "collections": [collection_body(current(request), base)],
        "links": [{"rel": "self", "href": f"{base}collections", "type": JSON},
                  {"rel": "root", "href": base, "type": JSON},
                  {"rel": "parent", "href": base, "type": JSON}],
    }


@router.get("/collections/{collection_id}")
def collection(request: Request, collection_id: str) -> dict[str, Any]:
    """One collection, with its extent (footprint hull, time range) and summaries."""
    return collection_body(_engine_of(request, collection_id), str(request.base_url))


@router.get("/collections/{collection_id}/items")
async def collection_items(
    request: Request,
    collection_id: str,
    bbox: Annotated[str | None, Query(description="W,S,E,N")] = None,
    datetime: Annotated[str | None, Query(max_length=100, description="STAC interval")] = None,
    limit: Annotated[str | None, Query(description="Items per page (1..10000, default 10)")] = None,
    token: Annotated[str | None, Query(description="Page token from a 'next' link")] = None,
) -> JSONResponse:
    """The collection's items (OGC API Features), filtered by ``bbox`` and ``datetime``, paged."""
    engine = _engine_of(request, collection_id)
    search = item_search(bbox=bbox, datetime=datetime, limit=limit, token=token)
    base = str(request.base_url)
    items, matched = await run_in_threadpool(run_item_search, engine, search, base)
    url = f"{_collection_url(base, collection_id)}/items"
    query = list(request.query_params.multi_items())
    links = [{"rel": "self", "href": str(request.url), "type": GEOJSON},
             {"rel": "root", "href": base, "type": JSON},
             {"rel": "parent", "href": _collection_url(base, collection_id), "type": JSON},
             {"rel": "collection", "href": _collection_url(base, collection_id), "type": JSON}]
    if has_next(search.offset, len(items), search.limit, matched):
        links.append(get_next_link(url, query, search.offset + len(items)))
    return FastJSONResponse(feature_collection(items, matched, links), media_type=GEOJSON)


@router.get("/collections/{collection_id}/items/{item_id:path}")
def collection_item(request: Request, collection_id: str, item_id: str) -> JSONResponse:
    """One item of the collection, as a STAC Item."""
    engine = _engine_of(request, collection_id)
    entry = engine.entry(check_id(item_id))
    return FastJSONResponse(stac_item(entry, str(request.base_url), collection=engine.collection_id),
                        media_type=GEOJSON)


def collection_body(engine: Engine, base: str) -> dict[str, Any]:
    """The STAC Collection of an index: extent from its catalog summary, links to its items."""
    summary = engine.summary
    cid = engine.collection_id
    url = _collection_url(base, cid)
    manifest = engine.index.manifest
    bbox = summary.get("bbox") or [-180.0, -90.0, 180.0, 90.0]
    summaries: dict[str, Any] = {}
    platforms = sorted(p for p in summary.get("platforms", {}) if p != "(none)")
    if platforms:
        summaries["platform"] = platforms
    gsd = [g for g in summary.get("gsd_range") or [] if g is not None]
    if len(gsd) == 2:
        summaries["gsd"] = {"minimum": gsd[0], "maximum": gsd[1]}
    if summary.get("labels"):
        summaries["terrahash:labels"] = sorted(summary["labels"])
    return {
        "type": "Collection",
        "stac_version": STAC_VERSION,
        "id": cid,
        "title": str(manifest.get("title") or cid),
        "description": str(manifest.get("description") or f"The {summary.get('items', 0)} scenes of "
                           f"the TerraHash index '{cid}', searchable by metadata and by similarity."),
        "license": str(manifest.get("license") or DEFAULT_LICENSE),
        "extent": {
            "spatial": {"bbox": [bbox]},
            "temporal": {"interval": [_interval(summary.get("time_range"))]},
        },
        "summaries": summaries,
        "links": [
            {"rel": "self", "href": url, "type": JSON, "title": cid},
            {"rel": "root", "href": base, "type": JSON, "title": "TerraHash retrieval service"},
            {"rel": "parent", "href": base, "type": JSON, "title": "TerraHash retrieval service"},
            {"rel": "items", "href": f"{url}/items", "type": GEOJSON, "title": "Items"},
        ],
    }


def _interval(time_range: list[str | None] | None) -> list[str | None]:
    """The catalog's time range as a STAC interval (RFC 3339 with ``Z``; open ends ``None``)."""
    ends = list(time_range or [None, None])
    return [t.replace("+00:00", "Z") if t else None for t in ends]


def _engine_of(request: Request, collection_id: str) -> Engine:
    engine = current(request)
    if collection_id != engine.collection_id:
        raise NotFoundError(f"no collection {collection_id[:80]!r}; this service has "
                            f"{engine.collection_id!r} (see /collections)")
    return engine


def _collection_url(base: str, collection_id: str) -> str:
    return f"{base}collections/{quote(collection_id, safe='')}"
