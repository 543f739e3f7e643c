"""STAC Item -> record fields, shared by the single-item and item-list readers.

Plain dict access on purpose: the archive holds STAC 0.7 (``eo:platform``,
``eo:sun_elevation``, date-only ``datetime``), 1.0.0-beta.2 and 1.0/1.1 items, and
pystac refuses or rewrites some of those. Names follow the STAC spec and extensions.
"""

from __future__ import annotations

import re
from typing import Any

from terrahash.metadata.platforms import normalize_platform
from terrahash.metadata.record import polygon
from terrahash.metadata.values import cloud_percent, elevation_from_zenith, parse_datetime, to_float

#: Common names of the main multispectral bands; ``nir08`` stands in where ``nir`` is absent
#: (Landsat).
MAIN_BANDS = ("blue", "green", "red", "nir")
FALLBACK_BANDS = ("nir08",)
#: Vendor keys holding a processing level, most specific first.
LEVEL_KEYS = (
    "processing:level",
    "landsat:correction",
    "s2:product_type",
    "pl:item_type",
    "cbers:data_type",
    "satl:product_name",
)
#: Constellations whose satellites are anonymous serials (``101c``): the constellation is the
#: platform.
SERIAL_CONSTELLATIONS = frozenset({"planetscope"})


def looks_like_stac_item(obj: Any) -> bool:
    """A GeoJSON Feature carrying STAC's own members (Planet's metadata JSON has none)."""
    return (
        isinstance(obj, dict)
        and obj.get("type") == "Feature"
        and isinstance(obj.get("properties"), dict)
        and any(k in obj for k in ("stac_version", "stac_extensions", "assets"))
    )


def _first(props: dict[str, Any], *keys: str) -> Any:
    for key in keys:
        if props.get(key) is not None:
            return props[key]
    return None


def item_fields(item: dict[str, Any]) -> dict[str, Any]:
    """Record fields for one STAC Item (any version)."""
    props = item.get("properties") or {}
    raw_dt = props.get("datetime")
    start = parse_datetime(props.get("start_datetime"))
    end = parse_datetime(props.get("end_datetime"))
    extra: dict[str, Any] = {
        "stac_version": item.get("stac_version"),
        "collection": item.get("collection"),
        "constellation": _first(props, "constellation", "eo:constellation"),
    }
    if isinstance(raw_dt, str) and re.fullmatch(r"\s*\d{4}-\d{2}-\d{2}\s*", raw_dt):
        extra["datetime_precision"] = "day"
    if raw_dt is not None and start is not None and end is not None:
        extra["datetime_note"] = (
            "datetime as given by STAC; the acquisition period is start/end_datetime"
        )
    sun_zenith = to_float(props.get("s2:mean_solar_zenith"))
    sun_el = to_float(_first(props, "view:sun_elevation", "eo:sun_elevation"))
    if sun_el is None and sun_zenith is not None:
        sun_el = elevation_from_zenith(sun_zenith)
        extra["sun_zenith"] = sun_zenith
    footprint = _footprint(item)
    centroid = props.get("proj:centroid")
    center_lat = center_lon = None
    if isinstance(centroid, dict):
        center_lat, center_lon = to_float(centroid.get("lat")), to_float(centroid.get("lon"))
    elif (
        footprint is None
        and isinstance(item.get("geometry"), dict)
        and item["geometry"].get("type") == "Point"
    ):
        center_lon, center_lat = (to_float(v) for v in item["geometry"]["coordinates"][:2])
    return {
        "id": item.get("id"),
        "platform": _platform(props),
        "instrument": _instrument(props),
        "processing_level": _level(props),
        "datetime": parse_datetime(raw_dt) or start,
        "start_datetime": start,
        "end_datetime": end,
        "footprint": footprint,
        "center_lat": center_lat,
        "center_lon": center_lon,
        "gsd_m": to_float(_first(props, "gsd", "eo:gsd")) or band_gsd(item),
        "cloud_cover": cloud_percent(props.get("eo:cloud_cover")),
        "sun_elevation": sun_el,
        "sun_azimuth": to_float(
            _first(props, "view:sun_azimuth", "eo:sun_azimuth", "s2:mean_solar_azimuth")
        ),
        "view_angle": to_float(
            _first(props, "view:off_nadir", "eo:off_nadir", "view:incidence_angle")
        ),
        "bands": _band_names(item),
        "epsg": _epsg(props),
        "extra": {k: v for k, v in extra.items() if v is not None},
    }


def _platform(props: dict[str, Any]) -> str | None:
    raw = _first(props, "platform", "eo:platform")
    constellation = _first(props, "constellation", "eo:constellation")
    if (
        constellation is not None
        and normalize_platform(str(constellation)) in SERIAL_CONSTELLATIONS
    ):
        return normalize_platform(str(constellation))
    return raw if raw is not None else constellation


def _instrument(props: dict[str, Any]) -> str | None:
    value = _first(props, "instruments", "eo:instrument", "instrument")
    if isinstance(value, list):
        names = [str(v).strip() for v in value if str(v).strip()]
        return ",".join(names) or None
    return str(value).strip() or None if value is not None else None


def _level(props: dict[str, Any]) -> str | None:
    value = _first(props, *LEVEL_KEYS)
    return str(value) if value is not None else None


def _epsg(props: dict[str, Any]) -> int | None:
    value = _first(props, "proj:epsg", "proj:code")
    if isinstance(value, int):
        return value
    match = re.search(r"EPSG:+(\d+)", str(value or ""), re.I)
    return int(match.group(1)) if match else None


def _valid_lonlat(geometry: dict[str, Any]) -> bool:
    rings = (
        geometry["coordinates"]
        if geometry["type"] == "Polygon"
        else [r for poly in geometry["coordinates"] for r in poly]
    )
    points = [p for ring in rings for p in ring]
    return bool(points) and all(
        len(p) >= 2 and -180.0 <= float(p[0]) <= 180.0 and -90.0 <= float(p[1]) <= 90.0
        for p in points
    )


def _footprint(item: dict[str, Any]) -> dict[str, Any] | None:
    """``geometry`` when it is a lon/lat (Multi)Polygon, else a polygon of ``bbox``."""
    geometry = item.get("geometry")
    if (
        isinstance(geometry, dict)
        and geometry.get("type") in ("Polygon", "MultiPolygon")
        and geometry.get("coordinates")
    ):
        try:
            if _valid_lonlat(geometry):
                return {"type": geometry["type"], "coordinates": geometry["coordinates"]}
        except (TypeError, ValueError, IndexError):
            pass
    bbox = item.get("bbox")
    if isinstance(bbox, list) and len(bbox) in (4, 6):
        west, south, east, north = (
            float(v) for v in (bbox[:2] + bbox[-3:-1] if len(bbox) == 6 else bbox)
        )
        if west <= east and west >= -180 and east <= 180 and -90 <= south <= north <= 90:
            return polygon([(west, south), (east, south), (east, north), (west, north)])
    return None


def _list(value: Any) -> list[Any]:
    """``value`` when it is a JSON array, else ``[]``: STAC extensions are often malformed."""
    return value if isinstance(value, list) else []


def _iter_bands(item: dict[str, Any]) -> list[tuple[dict[str, Any], float | None]]:
    """(band, resolution) for every band declared at item level (STAC < 1.0) or on assets."""
    props = item.get("properties") or {}
    item_bands = _list(props.get("eo:bands"))
    out: list[tuple[dict[str, Any], float | None]] = [
        (b, to_float(b.get("gsd"))) for b in item_bands if isinstance(b, dict)
    ]
    for asset in (item.get("assets") or {}).values():
        if not isinstance(asset, dict):
            continue
        raster = _list(asset.get("raster:bands"))
        for i, band in enumerate(_list(asset.get("eo:bands") or asset.get("bands"))):
            if isinstance(band, int) and 0 <= band < len(
                item_bands
            ):  # STAC 0.x: index into item eo:bands
                band = item_bands[band]
            if not isinstance(band, dict):
                continue
            res = to_float(_first(band, "gsd", "spatial_resolution", "raster:spatial_resolution"))
            if res is None and i < len(raster) and isinstance(raster[i], dict):
                res = to_float(raster[i].get("spatial_resolution"))
            out.append((band, res if res is not None else to_float(asset.get("gsd"))))
    return out


def band_gsd(item: dict[str, Any]) -> float | None:
    """Finest resolution of the main multispectral bands, if they all agree; else ``None``."""
    finest: dict[str, float] = {}
    for band, res in _iter_bands(item):
        name = str(band.get("common_name") or band.get("eo:common_name") or "").lower()
        if res is not None and res > 0:
            finest[name] = min(res, finest.get(name, res))
    for names in (MAIN_BANDS, FALLBACK_BANDS):
        values = {finest[n] for n in names if n in finest}
        if values:
            return values.pop() if len(values) == 1 else None
    return None


def _band_names(item: dict[str, Any]) -> list[str] | None:
    names: list[str] = []
    for band, _ in _iter_bands(item):
        name = band.get("name")
        if isinstance(name, str) and name not in names:
            names.append(name)
    return names or None
