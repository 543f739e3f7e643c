"""Helpers shared by the Copernicus Sentinel readers (S2 XML/JSON, SAFE manifests).

ESA writes footprints as flat ``lat lon`` lists (EPSG:4326 axis order), sometimes with
a height per vertex, and the AWS / tile layouts give UTM geometry only. These helpers
turn both into WGS84 lon/lat polygons; names follow ESA's own (``S2A``, ``MSIL1C``).
"""

from __future__ import annotations

import re
from typing import Any

from terrahash.metadata.record import polygon
from terrahash.metadata.values import Nominal

#: Nominal GSD (m) of the MSI bands B2/B3/B4/B8, the main multispectral set of Sentinel-2.
MSI_GSD_M = Nominal(10.0)
MSI_MAIN_BANDS = frozenset({"B2", "B3", "B4", "B8", "B02", "B03", "B04", "B08"})

_S2_NAME = re.compile(
    r"(?<![A-Z0-9])S2([A-D])_(?:OPER_(?:PRD|MSI|MTD)_)?(?:MSI)?_?(L1C|L2A|L1B|L2B)", re.I
)
_LEVELS = {"L1C": "Level-1C", "L2A": "Level-2A", "L1B": "Level-1B", "L2B": "Level-2B"}
_EPSG = re.compile(r"EPSG(?::[\d.]*)?:+(\d{4,5})\s*$", re.I)


def s2_name_parts(name: str | None) -> tuple[str | None, str | None]:
    """(platform, level) from an S2 product/tile/datastrip id such as ``S2B_MSIL2A_...``.

    ``S2A_OPER_MSI_L1C_TL_...`` and compact ``S2A_MSIL1C_...`` both carry the unit letter
    and processing level; nothing is returned for names that do not follow the pattern.
    """
    if not name:
        return None, None
    match = _S2_NAME.search(name.strip())
    if not match:
        return None, None
    unit, level = match.groups()
    return f"sentinel-2{unit.lower()}", _LEVELS[level.upper()]


def latlon_ring(text: str | None) -> dict[str, Any] | None:
    """A GeoJSON polygon from ESA's flat ``lat lon [h] lat lon [h] ...`` coordinate text.

    Accepts space or comma separators (``gml:coordinates`` uses ``lat,lon lat,lon``).
    Old L2A products write a zero height per vertex (``34.3 -119.1 0 33.3 ...``), so a
    list whose every third value is 0 is read as 3-D. Repeated vertices are dropped.
    """
    if not text:
        return None
    try:
        values = [float(v) for v in re.split(r"[\s,]+", text.strip()) if v]
    except ValueError:
        return None
    step = 2
    heights = values[2::3][: len(values) // 3]
    if len(values) >= 9 and heights and all(h == 0.0 for h in heights):
        step = 3
    points: list[tuple[float, float]] = []
    for i in range(0, len(values) - 1, step):
        lat, lon = values[i], values[i + 1]
        if not (-90.0 <= lat <= 90.0 and -180.0 <= lon <= 180.0):
            return None
        if not points or points[-1] != (lon, lat):
            points.append((lon, lat))
    if len(set(points)) < 3:
        return None
    return polygon(points)


def epsg_from_text(text: Any) -> int | None:
    """EPSG code from ``EPSG:32633`` or ``urn:ogc:def:crs:EPSG:8.8.1:32610``."""
    if not isinstance(text, str):
        return None
    match = _EPSG.search(text.strip())
    return int(match.group(1)) if match else None


def projected_to_wgs84(
    points: list[tuple[float, float]], epsg: int
) -> tuple[dict[str, Any], tuple[float, float]]:
    """Reproject a projected (UTM) ring to a WGS84 polygon and its centre (lon, lat).

    The centre is the projected vertex mean carried over, i.e. the true centre of a
    tile square, which a mean of reprojected corners misses at high latitudes.
    """
    from rasterio.crs import CRS
    from rasterio.errors import CRSError

    from terrahash.metadata.readers._geo import points_to_wgs84

    if points and points[0] == points[-1]:
        points = points[:-1]
    if len(set(points)) < 3:
        raise ValueError(f"projected footprint has {len(set(points))} distinct corners, not a polygon")
    cx = sum(p[0] for p in points) / len(points)
    cy = sum(p[1] for p in points) / len(points)
    xs = [p[0] for p in points] + [cx]
    ys = [p[1] for p in points] + [cy]
    try:
        crs = CRS.from_epsg(epsg)
    except CRSError as exc:
        raise ValueError(f"unknown projection EPSG:{epsg}") from exc
    lons, lats = points_to_wgs84(crs, xs, ys)
    ring = list(zip(lons[:-1], lats[:-1], strict=True))
    return polygon(ring), (round(lons[-1], 6), round(lats[-1], 6))


def mean(values: list[float | None]) -> float | None:
    """Mean of the known values, ``None`` when there are none."""
    known = [v for v in values if v is not None]
    return round(sum(known) / len(known), 6) if known else None
