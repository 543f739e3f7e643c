"""Small helpers shared by the commercial / national-agency readers (CRESDA, DIMAP, Maxar,
Planet, Roscosmos, ISRO, ...): corner polygons, centre times, axis-order checks, solar geometry.

Kept here (private, ``_`` prefix: not registered as a reader) because several vendor readers
need the same conversions and none of them belongs in ``values.py``'s generic parsers.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from terrahash.metadata.record import polygon
from terrahash.metadata.values import Derived, to_float

#: Corner keys in ring order (upper-left, upper-right, lower-right, lower-left).
CORNERS = ("UL", "UR", "LR", "LL")


def valid_points(points: Iterable[tuple[Any, Any]]) -> list[tuple[float, float]]:
    """(lon, lat) pairs that are numbers in range; the (0, 0) filler some vendors write is dropped."""
    out: list[tuple[float, float]] = []
    for lon, lat in points:
        x, y = to_float(lon), to_float(lat)
        if x is None or y is None or not (-180 <= x <= 180 and -90 <= y <= 90):
            continue
        if x == 0.0 and y == 0.0:
            continue
        out.append((x, y))
    return out


def corner_footprint(points: Iterable[tuple[Any, Any]]) -> dict[str, Any] | None:
    """A GeoJSON polygon from (lon, lat) corners, or ``None`` with fewer than 3 usable corners."""
    pts = valid_points(points)
    return polygon(pts) if len(pts) >= 3 else None


def point_mean(points: Sequence[tuple[float, float]]) -> tuple[float, float] | None:
    """Vertex mean (lon, lat) of corner points (the documented 'corner mean' centre)."""
    if not points:
        return None
    return sum(p[0] for p in points) / len(points), sum(p[1] for p in points) / len(points)


def centre_fields(lat: Any, lon: Any) -> dict[str, float]:
    """``center_lat``/``center_lon`` when both are usable numbers (else nothing: the base
    derives the centre from the footprint)."""
    y, x = to_float(lat), to_float(lon)
    if y is None or x is None or not (-90 <= y <= 90 and -180 <= x <= 180) or (x == 0 and y == 0):
        return {}
    return {"center_lat": y, "center_lon": x}


def midpoint(start: datetime | None, end: datetime | None) -> datetime | None:
    """Centre of an acquisition window (the scene-centre time when only start/stop are given)."""
    if start is None or end is None:
        return start or end
    if end < start:
        return start
    return Derived.of(start + (end - start) / 2)


def strip_keys(text: str, pattern: str) -> dict[str, str]:
    """``KEY<sep>value`` lines matched by ``pattern`` (groups ``key``, ``value``); first wins."""
    out: dict[str, str] = {}
    regex = re.compile(pattern)
    for line in text.splitlines():
        m = regex.match(line.strip())
        if m and m.group("key") not in out:
            out[m.group("key")] = m.group("value").strip().strip('"').strip()
    return out


def lon_lat_order(a: float, b: float, bbox: tuple[float, float, float, float] | None) -> bool:
    """True when the pair ``(a, b)`` is (lon, lat): decided against a (w, s, e, n) bbox when
    one is known, else by range (|lat| <= 90); defaults to lon, lat (GML 2 / GeoJSON)."""
    if bbox is not None:
        w, s, e, n = bbox
        if w - 0.5 <= a <= e + 0.5 and s - 0.5 <= b <= n + 0.5:
            return True
        if w - 0.5 <= b <= e + 0.5 and s - 0.5 <= a <= n + 0.5:
            return False
    return not (abs(b) > 90 >= abs(a))


# -- solar geometry ------------------------------------------------------------------------
def solar_elevation(when: datetime, lat: float, lon: float) -> float:
    """Approximate solar elevation in degrees (low-precision almanac, about 0.1 deg).

    Used only to tell apart conventions a file does not state (zenith vs elevation labels,
    local vs UTC clocks), never to fill a missing value.
    """
    utc = when.astimezone(UTC)
    n = (utc - datetime(2000, 1, 1, 12, tzinfo=UTC)) / timedelta(days=1)
    mean_lon = (280.460 + 0.9856474 * n) % 360.0
    anomaly = math.radians((357.528 + 0.9856003 * n) % 360.0)
    ecl_lon = math.radians(mean_lon + 1.915 * math.sin(anomaly) + 0.020 * math.sin(2 * anomaly))
    obliquity = math.radians(23.439 - 0.0000004 * n)
    ra = math.atan2(math.cos(obliquity) * math.sin(ecl_lon), math.cos(ecl_lon))
    dec = math.asin(math.sin(obliquity) * math.sin(ecl_lon))
    gmst_h = (18.697374558 + 24.06570982441908 * n) % 24.0
    hour_angle = math.radians(gmst_h * 15.0 + lon) - ra
    phi = math.radians(lat)
    sin_el = math.sin(phi) * math.sin(dec) + math.cos(phi) * math.cos(dec) * math.cos(hour_angle)
    return math.degrees(math.asin(max(-1.0, min(1.0, sin_el))))


def elevation_from_labelled_zenith(
    value: Any, when: datetime | None, lat: float | None, lon: float | None
) -> tuple[float | None, str]:
    """Sun elevation from a field *labelled* zenith, and which convention the value follows.

    Some producers write the elevation into a ``SolarZenith`` field (all GF-4 samples: noon
    scenes near the sub-solar point say ``SolarZenith 86.5``). When time and place are known,
    the reading closer to the computed elevation wins; otherwise the label is trusted.
    """
    angle = to_float(value)
    if angle is None or not -90.0 <= angle <= 180.0:
        return None, "missing"
    as_zenith = round(90.0 - angle, 6)
    if when is None or lat is None or lon is None or not 0.0 <= angle <= 90.0:
        return as_zenith, "zenith"
    computed = solar_elevation(when, lat, lon)
    if abs(angle - computed) < abs(as_zenith - computed):
        return angle, "elevation (field labelled zenith)"
    return as_zenith, "zenith"


def drop_none(values: dict[str, Any]) -> dict[str, Any]:
    """``extra`` without the keys the file left empty."""
    return {k: v for k, v in values.items() if v is not None and v != ""}
