"""Projected geometry -> WGS84 lon/lat for the readers whose products carry map coordinates
(ODC EO3 ``geometry``, raster bounds). Uses rasterio (GDAL/PROJ), already a dependency."""

from __future__ import annotations

from typing import Any

from rasterio._err import CPLE_BaseError  # GDAL's errors; rasterio exports no public base class
from rasterio.crs import CRS
from rasterio.errors import CRSError
from rasterio.warp import transform, transform_geom

from terrahash.metadata.record import ring_centroid

WGS84 = CRS.from_epsg(4326)


def parse_crs(value: Any) -> CRS | None:
    """``epsg:32655`` / ``EPSG:4326`` / WKT / an int into a CRS, or ``None`` when unusable."""
    if value is None or str(value).strip() == "":
        return None
    try:
        if isinstance(value, int):
            return CRS.from_epsg(value)
        return CRS.from_user_input(str(value).strip())
    except (CRSError, ValueError):
        return None


def epsg_code(crs: CRS | None) -> int | None:
    if crs is None:
        return None
    try:
        return crs.to_epsg()
    except CRSError:
        return None


def to_wgs84(geometry: dict[str, Any], crs: CRS) -> dict[str, Any]:
    """A GeoJSON geometry reprojected to lon/lat (coordinates as plain lists)."""
    if crs == WGS84:
        return geometry
    try:
        out = transform_geom(crs, WGS84, geometry)
    except CPLE_BaseError as exc:
        raise ValueError(f"cannot reproject the footprint to WGS84: {exc}") from exc
    return {"type": out["type"], "coordinates": _lists(out["coordinates"])}


def _lists(value: Any) -> Any:
    if isinstance(value, (list, tuple)):
        return [_lists(v) for v in value]
    return float(value)


def centre_lonlat(geometry: dict[str, Any], crs: CRS) -> tuple[float, float]:
    """(lon, lat) of the area centroid of the outer ring, computed in the map CRS."""
    coords = geometry["coordinates"]
    ring = coords[0][0] if geometry["type"] == "MultiPolygon" else coords[0]
    x, y = ring_centroid(ring)
    if crs == WGS84:
        return x, y
    lons, lats = points_to_wgs84(crs, [x], [y])
    return lons[0], lats[0]


def points_to_wgs84(crs: CRS, xs: list[float], ys: list[float]) -> tuple[list[float], list[float]]:
    """Map coordinates to (lons, lats); ``ValueError`` where GDAL/PROJ cannot reproject them."""
    try:
        lons, lats = transform(crs, WGS84, xs, ys)
    except CPLE_BaseError as exc:
        raise ValueError(f"cannot reproject to WGS84: {exc}") from exc
    return [float(v) for v in lons], [float(v) for v in lats]
