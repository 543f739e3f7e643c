"""HTTP endpoints: health, search (POST multipart/JSON and GET), items, thumbnails, coverage,
"why this match", the basemap and reload."""

from __future__ import annotations

import hmac
import io
import ipaddress
import time
from collections.abc import Callable, Iterable
from dataclasses import replace
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from PIL import Image
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData, UploadFile

from terrahash.app import Query as SearchQuery
from terrahash.data import decode_image
from terrahash.errors import DatasetError
from terrahash.index.filters import parse_bbox
from terrahash.service import uploads
from terrahash.service.basemap import countries_geojson
from terrahash.service.coverage import MAX_FOOTPRINTS
from terrahash.service.engine import Engine, NotFoundError, Outcome
from terrahash.service.params import DEFAULT_K, MAX_K, ParamError, SearchParams, check_id, parse_params
from terrahash.service.responses import FastJSONResponse
from terrahash.service.schemas import (
    SEARCH_REQUEST_BODY,
    ErrorBody,
    Health,
    JsonSearch,
    Reloaded,
    SearchFields,
)
from terrahash.service.stac_items import item_collection, stac_item
from terrahash.service.stac_search import (
    GEOJSON,
    ItemSearch,
    feature_collection,
    get_next_link,
    has_next,
    item_search,
    parse_limit,
    parse_names,
    parse_token,
    post_next_link,
    run_item_search,
)
from terrahash.service.uploads import MAX_IMAGE_PIXELS, parse_metadata

router = APIRouter()
_ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorBody} for code in (400, 401, 403, 404, 413, 422, 503)
}
#: Longest thumbnail side served, in pixels.
THUMBNAIL_SIZE = 256


def current(request: Request) -> Engine:
    """The engine this request uses from start to end (a reload does not change it)."""
    return request.app.state.holder.current


@router.get("/health", response_model=Health, tags=["service"])
def health(request: Request) -> dict[str, Any]:
    """Index size, code length, model run, version, reloads and micro-batching counters."""
    batcher = request.app.state.batcher
    return {**current(request).health(), "reloads": request.app.state.holder.reloads,
            "batching": batcher.stats() if batcher is not None else None}


@router.post("/search", tags=["search"], responses=_ERRORS, openapi_extra=SEARCH_REQUEST_BODY)
async def search_post(request: Request) -> JSONResponse:
    """STAC Item Search, ranked by similarity when the body holds a query.

    ``application/json``: the STAC fields (``bbox``, ``intersects``, ``datetime``, ``ids``,
    ``collections``, ``limit``, ``token``); add ``similar_to`` (``{"id": ...}`` or
    ``{"text": ...}``, or the shorthand ``id`` / ``text``) for the similarity extension.
    ``multipart/form-data``: a similarity query by an uploaded ``image`` and/or ``metadata``
    file (or ``text`` / ``id``) plus filter fields.
    """
    engine = current(request)
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if ctype == "multipart/form-data":
        form = await request.form(max_files=2, max_fields=40, max_part_size=64 * 1024)
        try:
            query, params = await run_in_threadpool(_from_form, form)
        finally:
            await form.close()
        return await _run(request, engine, query, params)
    if ctype != "application/json":
        raise HTTPException(415, f"send multipart/form-data or application/json, not {ctype or 'nothing'!r}")
    body = await _json_body(request)
    echo = body.model_dump(mode="json", exclude_unset=True, exclude={"token"})
    similar = _json_query(body)
    if similar is None:
        if isinstance(body.bbox, str):
            raise ParamError("bbox: a JSON search takes an array [west, south, east, north], not a string")
        search = item_search(bbox=body.bbox, datetime=body.datetime, intersects=body.intersects,
                             ids=body.ids, collections=body.collections, limit=body.limit,
                             token=body.token, **_extra_filters(body))
        return await _item_page(request, engine, search,
                                lambda offset: post_next_link(_url(request, "search"), echo, offset))
    if body.ids is not None or body.intersects is not None:
        raise ParamError("ids and intersects are not supported with a similarity query; use bbox")
    params = _params(body, k=parse_limit(body.limit, body.k, MAX_K))
    return await _run(request, engine, similar, params, parse_token(body.token), body.collections,
                      lambda offset: post_next_link(_url(request, "search"), echo, offset))


@router.get("/search", tags=["search"], responses=_ERRORS)
async def search_get(
    request: Request,
    id: Annotated[str | None, Query(min_length=1, max_length=256,
                                    description="Similarity: rank by an indexed item.")] = None,
    k: Annotated[int | None, Query(ge=1, le=MAX_K, description="Similarity: results (or limit).")] = None,
    exact: bool = True,
    rerank: Annotated[bool, Query(description="Re-rank by embeddings (false: Hamming order).")] = True,
    nprobe: Annotated[int | None, Query(ge=1)] = None,
    bbox: Annotated[str | None, Query(description="W,S,E,N")] = None,
    intersects: Annotated[str | None, Query(max_length=100_000, description="GeoJSON geometry")] = None,
    datetime: Annotated[str | None, Query(max_length=100, description="STAC interval")] = None,
    ids: Annotated[list[str] | None, Query(description="Item ids (comma-separated)")] = None,
    collections: Annotated[list[str] | None, Query(description="Collection ids")] = None,
    limit: Annotated[str | None, Query(description="Items per page (1..10000, default 10)")] = None,
    token: Annotated[str | None, Query(description="Page token from a 'next' link")] = None,
    platform: Annotated[list[str] | None, Query()] = None,
    gsd_min: float | None = None,
    gsd_max: float | None = None,
    cloud_max: float | None = None,
    label: Annotated[list[str] | None, Query()] = None,
) -> JSONResponse:
    """STAC Item Search; with ``id``, 'more like this': the items nearest to an indexed item,
    in rank order, under the same filters."""
    engine = current(request)
    filters: dict[str, Any] = {"platform": platform, "gsd_min": gsd_min, "gsd_max": gsd_max,
                               "cloud_max": cloud_max, "label": label}
    query = list(request.query_params.multi_items())
    url = _url(request, "search")
    if id is None:
        if k is not None:
            raise ParamError("k: applies to a similarity query (id); an item search pages with 'limit'")
        search = item_search(bbox=bbox, datetime=datetime, intersects=intersects, ids=ids,
                             collections=collections, limit=limit, token=token, **filters)
        return await _item_page(request, engine, search, lambda offset: get_next_link(url, query, offset))
    if ids is not None or intersects is not None:
        raise ParamError("ids and intersects are not supported with a similarity query; use bbox")
    params = parse_params(k=parse_limit(limit, k or DEFAULT_K, MAX_K), exact=exact, nprobe=nprobe,
                          bbox=bbox, datetime=datetime, rerank=rerank, **filters)
    return await _run(request, engine, SearchQuery(id=check_id(id)), params, parse_token(token),
                      collections, lambda offset: get_next_link(url, query, offset))


@router.get("/items/{item_id:path}/thumbnail", tags=["items"], responses=_ERRORS,
            response_class=Response)
async def thumbnail(request: Request, item_id: str) -> Response:
    """A PNG or JPEG thumbnail of an indexed item's image (read from the catalog's path)."""
    engine = current(request)
    path = engine.image_path(check_id(item_id))
    body, media_type = await run_in_threadpool(_thumbnail_bytes, path)
    return Response(body, media_type=media_type, headers={"Cache-Control": "public, max-age=3600"})


@router.get("/items/{item_id:path}", tags=["items"], responses=_ERRORS)
def get_item(request: Request, item_id: str) -> JSONResponse:
    """The STAC Item of an indexed item."""
    engine = current(request)
    entry = engine.entry(check_id(item_id))
    return FastJSONResponse(stac_item(entry, str(request.base_url), collection=engine.collection_id),
                        media_type=GEOJSON)


@router.get("/coverage", tags=["map"], responses=_ERRORS)
async def coverage(
    request: Request,
    bbox: Annotated[str | None, Query(description="W,S,E,N: the map's viewport (default: the world)")] = None,
    limit: Annotated[int, Query(ge=1, le=5000, description="Most items returned one by one; "
                                "more are grouped into grid cells")] = MAX_FOOTPRINTS,
) -> JSONResponse:
    """What the archive covers: footprints (``properties.id``) of the items in the viewport, or
    grid clusters (``properties.count``) when more than ``limit`` lie there. ``total`` counts
    the items with coordinates (0: the index has none, so there is nothing to map)."""
    engine = current(request)
    box = parse_bbox(bbox) if bbox is not None else None
    cover = await run_in_threadpool(engine.coverage)
    body = cover.geojson(box, limit)
    body["items"] = len(engine.index)
    return FastJSONResponse(body, media_type=GEOJSON)


@router.get("/explain", tags=["search"], responses=_ERRORS)
def explain(
    request: Request,
    item: Annotated[str, Query(min_length=1, max_length=256, description="The matched item.")],
    id: Annotated[str | None, Query(min_length=1, max_length=256,
                                    description="The query item (an id query); leave out for "
                                                "other queries")] = None,
) -> JSONResponse:
    """Why ``item`` matched: Hamming distance to the query item, the taxonomy path both share
    and how their metadata agree (platform, days apart, GSD, cloud, km between centres)."""
    engine = current(request)
    return FastJSONResponse(engine.explain(check_id(item), check_id(id) if id is not None else None))


@router.get("/basemap/countries.geojson", tags=["map"], response_class=Response)
def basemap(request: Request) -> Response:
    """Natural Earth 1:110m country outlines (public domain), shipped with the package."""
    body, etag = countries_geojson()
    headers = {"ETag": etag, "Cache-Control": "public, max-age=86400"}
    if request.headers.get("if-none-match") == etag:
        return Response(status_code=304, headers=headers)
    return Response(body, media_type=GEOJSON, headers=headers)


@router.post("/admin/reload", response_model=Reloaded, tags=["service"], responses=_ERRORS)
async def reload(request: Request) -> dict[str, Any]:
    """Re-open the index directory and swap it in; running searches finish on the old one."""
    check_admin(request)
    holder = request.app.state.holder
    t0 = time.perf_counter()
    new = await run_in_threadpool(holder.reload)
    took = (time.perf_counter() - t0) * 1000.0
    return {"status": "reloaded", "items": len(new.index), "reloads": holder.reloads,
            "took_ms": round(took, 3)}


# -- helpers ---------------------------------------------------------------------------------
def check_admin(request: Request) -> None:
    """Admin verbs need the configured token (``TERRAHASH_ADMIN_TOKEN``) from every client;
    without one they are open to this machine only (loopback), so a service that was never
    given a token cannot be driven from the network.

    Raises:
        HTTPException: 401 (token configured, not sent or wrong), 403 (no token, not loopback).
    """
    token = request.app.state.admin_token
    if token is not None:
        sent = request.headers.get("authorization", "")
        if not hmac.compare_digest(sent.encode(), f"Bearer {token}".encode()):
            raise HTTPException(401, "admin token required (Authorization: Bearer ...)")
        return
    host = request.client.host if request.client is not None else ""
    if not _is_loopback(host):
        raise HTTPException(403, "admin endpoints answer only on loopback (127.0.0.1, ::1) unless "
                                 "TERRAHASH_ADMIN_TOKEN is set")


def _is_loopback(host: str) -> bool:
    try:
        address = ipaddress.ip_address(host)
    except ValueError:  # not an address ("testclient", a Unix socket path)
        return False
    mapped = address.ipv4_mapped if isinstance(address, ipaddress.IPv6Address) else None
    return (mapped or address).is_loopback


NextLink = Callable[[int], dict[str, Any]]


def _url(request: Request, path: str) -> str:
    return f"{request.base_url}{path}"


async def _item_page(request: Request, engine: Engine, search: ItemSearch,
                     next_link: NextLink) -> JSONResponse:
    """One page of a metadata-only Item Search, with ``next`` while more items match."""
    items, matched = await run_in_threadpool(run_item_search, engine, search, str(request.base_url))
    links = [{"rel": "root", "href": str(request.base_url), "type": "application/json"}]
    if has_next(search.offset, len(items), search.limit, matched):
        links.append(next_link(search.offset + len(items)))
    return FastJSONResponse(feature_collection(items, matched, links), media_type=GEOJSON)


async def _run(request: Request, engine: Engine, query: SearchQuery, params: SearchParams,
               offset: int = 0, collections: Iterable[str] | str | None = None,
               next_link: NextLink | None = None) -> JSONResponse:
    """A similarity page: the ranked results ``offset .. offset + k`` (``k`` is the page size)."""
    page = params.k
    if offset + page > MAX_K:
        raise ParamError(f"token: a similarity search ranks at most {MAX_K} items; this page ends "
                         f"at {offset + page}")
    wanted = parse_names(collections, "collections")
    if wanted is not None and engine.collection_id not in wanted:
        outcome = Outcome([], [], 0.0)  # no item of this index is in those collections
    else:
        paged = replace(params, k=offset + page)
        batcher = request.app.state.batcher
        if batcher is not None and query.id is None:  # one model pass for concurrent requests
            outcome = await batcher.search(engine, query, paged)
        else:  # id queries need no model: threads answer them side by side
            outcome = await run_in_threadpool(engine.search, query, paged)
    echo: dict[str, Any] = {"kind": query.kind, "k": params.k, "exact": params.exact, "rerank": params.rerank}
    if query.id is not None:
        echo["id"] = query.id
    if query.text is not None:
        echo["text"] = query.text
    if outcome.concept is not None:
        echo["concept"] = outcome.concept
    scores = outcome.scores[offset:] if outcome.scores is not None else None
    body = item_collection(outcome.entries[offset:], outcome.distances[offset:], str(request.base_url),
                           outcome.took_ms, echo, scanned=outcome.scanned, scores=scores,
                           collection=engine.collection_id, first_rank=offset + 1)
    body["links"] = [{"rel": "root", "href": str(request.base_url), "type": "application/json"}]
    returned = len(body["features"])
    if next_link is not None and offset + page < MAX_K and has_next(offset, returned, page, None):
        body["links"].append(next_link(offset + returned))
    return FastJSONResponse(body, media_type=GEOJSON)


async def _json_body(request: Request) -> JsonSearch:
    raw = await request.body()
    try:
        return JsonSearch.model_validate_json(raw)
    except ValidationError as exc:
        raise RequestValidationError(exc.errors(include_url=False, include_context=False)) from exc


def _json_query(body: JsonSearch) -> SearchQuery | None:
    """The similarity query of a JSON body (``similar_to``, ``text`` or ``id``), if any."""
    given = {name: value for name, value in (
        ("text", body.text), ("id", body.id),
        ("similar_to.text", body.similar_to.text if body.similar_to else None),
        ("similar_to.id", body.similar_to.id if body.similar_to else None)) if value is not None}
    if len(given) > 1:
        raise ParamError(f"give one similarity query ('similar_to', 'text' or 'id'), got {', '.join(given)}")
    if body.similar_to is not None and not given:
        raise ParamError("similar_to: give 'id' or 'text'")
    if not given:
        knobs = sorted({"k", "exact", "rerank", "nprobe"} & body.model_fields_set)
        if knobs:
            raise ParamError(f"{', '.join(knobs)}: apply to a similarity query ('similar_to', 'text' "
                             "or 'id'); an item search pages with 'limit'")
        return None
    (name, value), = given.items()
    return SearchQuery(text=value) if name.endswith("text") else SearchQuery(id=check_id(value))


def _extra_filters(fields: SearchFields) -> dict[str, Any]:
    """TerraHash's filters beyond STAC's (platform, GSD, cloud cover, label)."""
    return {"platform": fields.platform, "gsd_min": fields.gsd_min, "gsd_max": fields.gsd_max,
            "cloud_max": fields.cloud_max, "label": fields.label}


def _from_form(form: FormData) -> tuple[SearchQuery, SearchParams]:
    image_file = _file(form, "image")
    meta_file = _file(form, "metadata")
    text = _text(form, "text")
    item_id = _text(form, "id")
    given = [name for name, v in (("image", image_file), ("metadata", meta_file),
                                  ("text", text), ("id", item_id)) if v is not None]
    if not given:
        raise ParamError("give an 'image' file, a 'metadata' file, 'text' or 'id'")
    if len(given) > 1 and set(given) != {"image", "metadata"}:
        raise ParamError(f"give one query ('image' with optional 'metadata', or one of 'metadata', "
                         f"'text', 'id'), got {', '.join(given)}")
    raw: dict[str, Any] = {}
    for name in SearchFields.model_fields:
        values = [v for v in form.getlist(name) if isinstance(v, str) and v.strip() != ""]
        if values:
            raw[name] = values if name in ("platform", "label") else values[-1]
    try:
        fields = SearchFields.model_validate(raw)
    except ValidationError as exc:
        raise RequestValidationError(exc.errors(include_url=False, include_context=False)) from exc
    params = _params(fields)
    record = parse_metadata(meta_file.file.read(), meta_file.filename or "metadata") if meta_file else None
    if image_file is not None:
        image = uploads.decode_image(image_file.file.read(), image_file.filename or "image")
        return SearchQuery(image=image, metadata=record), params
    if record is not None:
        return SearchQuery(metadata=record), params
    if text is not None:
        return SearchQuery(text=text), params
    return SearchQuery(id=check_id(item_id or "")), params


def _params(fields: SearchFields, k: int | None = None) -> SearchParams:
    return parse_params(k=fields.k if k is None else k, exact=fields.exact, nprobe=fields.nprobe,
                        bbox=fields.bbox, datetime=fields.datetime, rerank=fields.rerank,
                        **_extra_filters(fields))


def _file(form: FormData, name: str) -> UploadFile | None:
    value = form.get(name)
    if isinstance(value, UploadFile):
        return value
    if value not in (None, ""):
        raise ParamError(f"'{name}' must be an uploaded file, not a text field")
    return None


def _text(form: FormData, name: str) -> str | None:
    value = form.get(name)
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if not isinstance(value, str):
        raise ParamError(f"'{name}' must be a text field, not a file")
    if len(value) > 2000:
        raise ParamError(f"'{name}' is longer than 2000 characters")
    return value.strip()


def _thumbnail_bytes(path: Path) -> tuple[bytes, str]:
    """PNG/JPEG bytes of a catalog image, else a small PNG made by the one image decoder.

    Going through ``decode_image`` gives 16-bit tiles the same stretch the model saw and
    bounds the pixels decoded per request.
    """
    try:
        with open(path, "rb") as fh:
            head = fh.read(8)
            if head.startswith((b"\x89PNG", b"\xff\xd8\xff")) and path.stat().st_size <= 2_000_000:
                fh.seek(0)
                return fh.read(), "image/png" if head.startswith(b"\x89PNG") else "image/jpeg"
        img = Image.fromarray(decode_image(path, max_pixels=MAX_IMAGE_PIXELS))
    except (OSError, DatasetError) as exc:
        why = type(exc).__name__
        raise NotFoundError(f"the image of this item cannot be read ({why})") from exc
    img.thumbnail((THUMBNAIL_SIZE, THUMBNAIL_SIZE))
    out = io.BytesIO()
    img.save(out, format="PNG")
    return out.getvalue(), "image/png"

