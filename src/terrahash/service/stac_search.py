"""STAC API Item Search by metadata alone: its parameters, its pages and their ``next`` links.

Filters go through the index's own plans (``Index.select``: the same columns and semantics
as a filtered similarity search), so a page is found without scanning the catalog here. Only
``intersects`` adds an exact geometry test, on the items its bounding box lets through.
Pages are numbered by an offset carried in ``token``; for a POST the ``next`` link repeats
the whole body with the new token (``merge: false``), as STAC API clients expect.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import shapely.geometry
from shapely.errors import GeometryTypeError

from terrahash.index import Filters
from terrahash.service.engine import Engine
from terrahash.service.params import ParamError, parse_params
from terrahash.service.stac_items import stac_item

#: STAC API's limit bounds: a client may ask for 1 .. 10000 items per page, 10 by default.
DEFAULT_LIMIT = 10
MAX_LIMIT = 10_000
GEOJSON = "application/geo+json"
RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$")


@dataclass(frozen=True)
class ItemSearch:
    """One validated Item Search request: filters plus the STAC-only parameters."""

    filters: Filters
    limit: int = DEFAULT_LIMIT
    offset: int = 0
    ids: tuple[str, ...] | None = None
    collections: tuple[str, ...] | None = None
    #: The ``intersects`` GeoJSON geometry (its bbox is already in ``filters``).
    intersects: dict[str, Any] | None = None


def parse_limit(value: object, default: int = DEFAULT_LIMIT, high: int = MAX_LIMIT) -> int:
    """``limit`` as a positive integer (a string from a query string too), else 400; above
    ``high`` it is ``high``, as STAC API asks (the page says how many it holds)."""
    if value is None or value == "":
        return default
    try:
        number = int(str(value).strip()) if not isinstance(value, bool) else -1
    except ValueError:
        number = -1
    if number < 1:
        raise ParamError(f"limit: must be a positive integer (at most {high} are returned), got {value!r}")
    return min(number, high)


def check_rfc3339(interval: str | None) -> None:
    """Item Search takes RFC 3339 date-times only (``2020-01-01T00:00:00Z``, open ends ``..``);
    Python's ISO parser alone would also let ``1985-04-12T23:20:50,52Z`` or ``+0100`` through.
    (A similarity search keeps the date-only shorthand of the rest of TerraHash.)"""
    if interval is None or interval == "":
        return
    for end in interval.split("/"):
        if end.strip() not in ("", "..") and not RFC3339.match(end.strip()):
            raise ParamError(f"datetime: {end.strip()[:60]!r} is not an RFC 3339 date-time "
                             "(e.g. 2020-01-01T00:00:00Z; '..' for an open end)")


def parse_token(value: object) -> int:
    """The paging ``token`` (an offset the service wrote into a ``next`` link), else 400."""
    if value is None or value == "":
        return 0
    text = str(value).strip()
    if not text.isdigit() or len(text) > 12:
        raise ParamError(f"token: {str(value)[:40]!r} is not a page token from a 'next' link")
    return int(text)


def parse_names(value: Iterable[str] | str | None, name: str) -> tuple[str, ...] | None:
    """``ids``/``collections``: a JSON list or comma-separated (repeatable) query values."""
    if value is None:
        return None
    values = [value] if isinstance(value, str) else list(value)
    if not all(isinstance(v, str) for v in values):
        raise ParamError(f"{name}: expected strings, got {values!r:.80}")
    names = tuple(dict.fromkeys(p.strip() for v in values for p in v.split(",") if p.strip()))
    return names or None


def parse_intersects(value: dict[str, Any] | str | None) -> dict[str, Any] | None:
    """``intersects``: a GeoJSON geometry (a JSON string in a query string), else 400."""
    if value is None or value == "":
        return None
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError as exc:
            raise ParamError(f"intersects: not JSON ({exc})") from exc
    if not isinstance(value, dict):
        raise ParamError(f"intersects: expected a GeoJSON geometry object, got {type(value).__name__}")
    try:
        geometry = shapely.geometry.shape(value)
    except (GeometryTypeError, AttributeError, KeyError, TypeError, ValueError, IndexError) as exc:
        raise ParamError(f"intersects: not a GeoJSON geometry ({type(exc).__name__}: {exc})") from exc
    if geometry.is_empty or not geometry.is_valid:
        raise ParamError("intersects: the geometry is empty or invalid")
    return value


def item_search(
    *, bbox: str | Sequence[float] | None = None, datetime: str | None = None,
    intersects: dict[str, Any] | str | None = None, ids: Iterable[str] | str | None = None,
    collections: Iterable[str] | str | None = None, limit: object = None, token: object = None,
    platform: Iterable[str] | str | None = None, gsd_min: float | None = None,
    gsd_max: float | None = None, cloud_max: float | None = None,
    label: Iterable[str] | str | None = None,
) -> ItemSearch:
    """Validate Item Search parameters (GET query or POST body alike); errors name the parameter."""
    geometry = parse_intersects(intersects)
    check_rfc3339(datetime)
    if geometry is not None and bbox not in (None, ""):
        raise ParamError("bbox and intersects: give only one of them")
    if geometry is not None:
        bbox = list(shapely.geometry.shape(geometry).bounds)
    elif isinstance(bbox, list | tuple) and len(bbox) == 6:  # 3D: west, south, min z, east, north, max z
        bbox = [bbox[0], bbox[1], bbox[3], bbox[4]]
    elif isinstance(bbox, str) and bbox.count(",") == 5:
        parts = bbox.split(",")
        bbox = ",".join(parts[:2] + parts[3:5])
    filters = parse_params(bbox=bbox, datetime=datetime, platform=platform, gsd_min=gsd_min,
                           gsd_max=gsd_max, cloud_max=cloud_max, label=label).filters
    return ItemSearch(filters, parse_limit(limit), parse_token(token), parse_names(ids, "ids"),
                      parse_names(collections, "collections"), geometry)


def run_item_search(engine: Engine, search: ItemSearch, base_url: str) -> tuple[list[dict[str, Any]], int]:
    """One page of STAC Items for ``search`` and how many items match in all."""
    collection = engine.collection_id
    if search.collections is not None and collection not in search.collections:
        return [], 0
    end = search.offset + search.limit
    if search.ids is None and search.intersects is None:
        entries, matched = engine.select(search.filters, search.offset, search.limit)
        return [stac_item(e, base_url, collection=collection) for e in entries], matched
    # ids and intersects: the index's filters first, then the listed ids / the exact geometry
    if search.ids is not None:
        entries = engine.entries(search.ids)
        if not search.filters.empty:
            passing = set(_all_ids(engine, search.filters))
            entries = [e for e in entries if e.id in passing]
    else:
        entries = engine.entries(_all_ids(engine, search.filters))
    items = [stac_item(e, base_url, collection=collection) for e in entries]
    if search.intersects is not None:
        area = shapely.geometry.shape(search.intersects)
        items = [it for it in items
                 if it["geometry"] and shapely.geometry.shape(it["geometry"]).intersects(area)]
    return items[search.offset:end], len(items)


def _all_ids(engine: Engine, filters: Filters) -> list[str]:
    return engine.index.select(filters, 0, len(engine.index)).ids


def feature_collection(items: list[dict[str, Any]], matched: int | None,
                       links: list[dict[str, Any]]) -> dict[str, Any]:
    """The ItemCollection of one page (``numberMatched`` where known)."""
    body: dict[str, Any] = {"type": "FeatureCollection", "features": items, "links": links,
                            "numberReturned": len(items)}
    if matched is not None:
        body["numberMatched"] = matched
    return body


def has_next(offset: int, returned: int, limit: int, matched: int | None) -> bool:
    """Whether a page is followed by another (``matched`` unknown: a full page may be)."""
    if matched is not None:
        return offset + returned < matched
    return returned == limit


def get_next_link(url: str, query: Sequence[tuple[str, str]], offset: int) -> dict[str, Any]:
    """``next`` for a GET: the same query string with ``token`` set to ``offset``."""
    kept = [(k, v) for k, v in query if k != "token"] + [("token", str(offset))]
    return {"rel": "next", "type": GEOJSON, "method": "GET", "href": f"{url}?{urlencode(kept)}"}


def post_next_link(url: str, body: dict[str, Any], offset: int) -> dict[str, Any]:
    """``next`` for a POST: the same body with ``token`` set to ``offset`` (not merged)."""
    return {"rel": "next", "type": GEOJSON, "method": "POST", "href": url,
            "body": {**body, "token": str(offset)}, "merge": False}
