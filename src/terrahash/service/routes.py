"""HTTP endpoints: health, search (POST multipart/JSON and GET), items, thumbnails, reload."""

from __future__ import annotations

import io
import time
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
from terrahash.service import uploads
from terrahash.service.engine import Engine, NotFoundError
from terrahash.service.params import MAX_K, ParamError, SearchParams, check_id, parse_params
from terrahash.service.schemas import (
    SEARCH_REQUEST_BODY,
    ErrorBody,
    Health,
    JsonSearch,
    Reloaded,
    SearchFields,
)
from terrahash.service.stac_items import item_collection, stac_item
from terrahash.service.uploads import MAX_IMAGE_PIXELS, parse_metadata

router = APIRouter()
GEOJSON = "application/geo+json"
_ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorBody} for code in (400, 404, 413, 422, 503)
}
#: Longest thumbnail side served, in pixels.
THUMBNAIL_SIZE = 256


def current(request: Request) -> Engine:
    """The engine this request uses from start to end (a reload does not change it)."""
    return request.app.state.holder.current


@router.get("/health", response_model=Health, tags=["service"])
def health(request: Request) -> dict[str, Any]:
    """Index size, code length, model run, version and micro-batching counters."""
    batcher = request.app.state.batcher
    return {**current(request).health(), "batching": batcher.stats() if batcher is not None else None}


@router.post("/search", tags=["search"], responses=_ERRORS, openapi_extra=SEARCH_REQUEST_BODY,
             response_class=JSONResponse)
async def search_post(request: Request) -> JSONResponse:
    """Search by image (+ metadata), metadata, text or id; returns a STAC ItemCollection.

    Send ``multipart/form-data`` with an ``image`` and/or ``metadata`` file (plus filter
    fields), or ``application/json`` with ``text`` (or ``id``) and the filters.
    """
    engine = current(request)
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if ctype == "multipart/form-data":
        form = await request.form(max_files=2, max_fields=40, max_part_size=64 * 1024)
        try:
            query, params = await run_in_threadpool(_from_form, form)
        finally:
            await form.close()
    elif ctype == "application/json":
        body = await _json_body(request)
        query, params = _from_json(body)
    else:
        raise HTTPException(415, f"send multipart/form-data or application/json, not {ctype or 'nothing'!r}")
    return await _run(request, engine, query, params)


@router.get("/search", tags=["search"], responses=_ERRORS, response_class=JSONResponse)
async def search_get(
    request: Request,
    id: Annotated[str, Query(min_length=1, max_length=256, description="Query by an indexed item.")],
    k: Annotated[int, Query(ge=1, le=MAX_K)] = 20,
    exact: bool = True,
    rerank: Annotated[bool, Query(description="Re-rank by embeddings (false: Hamming order).")] = True,
    nprobe: Annotated[int | None, Query(ge=1)] = None,
    bbox: Annotated[str | None, Query(description="W,S,E,N")] = None,
    datetime: Annotated[str | None, Query(max_length=100, description="STAC interval")] = None,
    platform: Annotated[list[str] | None, Query()] = None,
    gsd_min: float | None = None,
    gsd_max: float | None = None,
    cloud_max: float | None = None,
    label: Annotated[list[str] | None, Query()] = None,
) -> JSONResponse:
    """'More like this': the items nearest to an indexed item, with the same filters as POST."""
    engine = current(request)
    params = parse_params(k=k, exact=exact, nprobe=nprobe, bbox=bbox, datetime=datetime,
                          platform=platform, gsd_min=gsd_min, gsd_max=gsd_max,
                          cloud_max=cloud_max, label=label, rerank=rerank)
    return await _run(request, engine, SearchQuery(id=check_id(id)), params)


@router.get("/items/{item_id:path}/thumbnail", tags=["items"], responses=_ERRORS,
            response_class=Response)
async def thumbnail(request: Request, item_id: str) -> Response:
    """A PNG or JPEG thumbnail of an indexed item's image (read from the catalog's path)."""
    engine = current(request)
    path = engine.image_path(check_id(item_id))
    body, media_type = await run_in_threadpool(_thumbnail_bytes, path)
    return Response(body, media_type=media_type, headers={"Cache-Control": "public, max-age=3600"})


@router.get("/items/{item_id:path}", tags=["items"], responses=_ERRORS, response_class=JSONResponse)
def get_item(request: Request, item_id: str) -> JSONResponse:
    """The STAC Item of an indexed item."""
    entry = current(request).entry(check_id(item_id))
    return JSONResponse(stac_item(entry, str(request.base_url)), media_type=GEOJSON)


@router.post("/admin/reload", response_model=Reloaded, tags=["service"], responses=_ERRORS)
async def reload(request: Request) -> dict[str, Any]:
    """Re-open the index directory and swap it in; running searches finish on the old one."""
    token = request.app.state.admin_token
    if token is not None and request.headers.get("authorization") != f"Bearer {token}":
        raise HTTPException(401, "admin token required (Authorization: Bearer ...)")
    holder = request.app.state.holder
    t0 = time.perf_counter()
    new = await run_in_threadpool(holder.reload)
    took = (time.perf_counter() - t0) * 1000.0
    return {"status": "reloaded", "items": len(new.index), "reloads": holder.reloads,
            "took_ms": round(took, 3)}


# -- helpers ---------------------------------------------------------------------------------
async def _run(request: Request, engine: Engine, query: SearchQuery,
               params: SearchParams) -> JSONResponse:
    batcher = request.app.state.batcher
    if batcher is not None and query.id is None:  # one model pass for concurrent requests
        outcome = await batcher.search(engine, query, params)
    else:  # id queries need no model: threads answer them side by side
        outcome = await run_in_threadpool(engine.search, query, params)
    echo: dict[str, Any] = {"kind": query.kind, "k": params.k, "exact": params.exact, "rerank": params.rerank}
    if query.id is not None:
        echo["id"] = query.id
    if query.text is not None:
        echo["text"] = query.text
    body = item_collection(outcome.entries, outcome.distances, str(request.base_url),
                           outcome.took_ms, echo, scanned=outcome.scanned, scores=outcome.scores)
    return JSONResponse(body, media_type=GEOJSON)


async def _json_body(request: Request) -> JsonSearch:
    raw = await request.body()
    try:
        return JsonSearch.model_validate_json(raw)
    except ValidationError as exc:
        raise RequestValidationError(exc.errors(include_url=False, include_context=False)) from exc


def _from_json(body: JsonSearch) -> tuple[SearchQuery, SearchParams]:
    if (body.text is None) == (body.id is None):
        raise ParamError("give exactly one of 'text' or 'id' in a JSON search")
    if body.text is not None:
        return SearchQuery(text=body.text), _params(body)
    return SearchQuery(id=check_id(body.id or "")), _params(body)


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


def _params(fields: SearchFields) -> SearchParams:
    return parse_params(k=fields.k, exact=fields.exact, nprobe=fields.nprobe, bbox=fields.bbox,
                        datetime=fields.datetime, platform=fields.platform,
                        gsd_min=fields.gsd_min, gsd_max=fields.gsd_max,
                        cloud_max=fields.cloud_max, label=fields.label, rerank=fields.rerank)


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

