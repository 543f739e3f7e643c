"""The normalised spatiotemporal record of one scene (the R2STFT input).

Units are fixed here, at the boundary: datetimes are timezone-aware UTC, coordinates are
WGS84 lon/lat, cloud cover is a percentage, angles are degrees, GSD is metres. Readers
convert vendor conventions before building a record, so nothing downstream has to.
"""

from __future__ import annotations

import datetime as dt
import math
from datetime import UTC
from numbers import Real
from typing import Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationInfo,
    field_serializer,
    field_validator,
    model_validator,
)

from terrahash.metadata.bounds import oversized

#: Version of the record schema; bump it and add a migration in ``migrate_record``.
RECORD_SCHEMA_VERSION = 1


def format_datetime(value: dt.datetime) -> str:
    """ISO 8601 in UTC with a ``Z`` suffix (microseconds only when present)."""
    value = value.astimezone(UTC)
    text = value.strftime("%Y-%m-%dT%H:%M:%S")
    if value.microsecond:
        text += f".{value.microsecond:06d}".rstrip("0")
    return text + "Z"


def _finite(value: float | None, name: str, low: float, high: float) -> float | None:
    if value is None:
        return None
    value = float(value)
    if math.isnan(value):
        return None
    if not (low <= value <= high):
        raise ValueError(f"{name} must be within [{low}, {high}], got {value}")
    return value


#: Bounds on ``extra``: vendor values are flat or shallow, while pydantic cannot serialise
#: past a few hundred levels and a YAML alias bomb expands to a billion shared values.
MAX_EXTRA_DEPTH = 32
MAX_EXTRA_VALUES = 100_000


#: Physical ranges of the numeric fields: field -> (name in messages, low, high).
_RANGES: dict[str, tuple[str, float, float]] = {
    "center_lat": ("center_lat", -90.0, 90.0),
    "center_lon": ("center_lon", -180.0, 180.0),
    "cloud_cover": ("cloud_cover (percent)", 0.0, 100.0),
    "sun_elevation": ("sun_elevation", -90.0, 90.0),
    "sun_azimuth": ("sun_azimuth", -360.0, 360.0),
    "view_angle": ("view_angle", -90.0, 90.0),
}


#: What ``SceneRecord.provenance`` may say of a value.
PROVENANCE_KINDS = ("nominal", "derived")


class SceneRecord(BaseModel):
    """One scene's spatiotemporal record. Unknown values are ``None``, never guessed."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    schema_version: int = RECORD_SCHEMA_VERSION
    #: The path the record was read from, as given.
    source: str | None = None
    #: Name of the reader that parsed it (see ``list_readers()``).
    format: str | None = None
    #: Scene / product identifier as the provider spells it.
    id: str | None = None
    #: STAC-style platform: lowercase, hyphenated (``landsat-8``, ``sentinel-2a``, ``gf-2``).
    platform: str | None = None
    instrument: str | None = None
    processing_level: str | None = None
    #: Acquisition instant (UTC); for composites, the start of the period.
    datetime: dt.datetime | None = None
    start_datetime: dt.datetime | None = None
    end_datetime: dt.datetime | None = None
    center_lat: float | None = None
    center_lon: float | None = None
    #: GeoJSON Polygon in WGS84 lon/lat.
    footprint: dict[str, Any] | None = None
    #: Nominal GSD of the main multispectral bands, metres.
    gsd_m: float | None = None
    #: Cloud cover in percent (0-100).
    cloud_cover: float | None = None
    sun_elevation: float | None = None
    sun_azimuth: float | None = None
    #: Off-nadir / viewing angle, degrees.
    view_angle: float | None = None
    bands: list[str] | None = None
    #: EPSG code of the product grid, where the product states one.
    epsg: int | None = None
    #: Fields the reader found but the schema has no slot for (kept, never dropped).
    extra: dict[str, Any] = Field(default_factory=dict)
    #: Values the file does not state, by field: ``nominal`` (the sensor's catalogue value,
    #: e.g. a GSD) or ``derived`` (computed from stated ones, e.g. a centre from the footprint,
    #: a time from a window). Every other value is as the file states it.
    provenance: dict[str, str] = Field(default_factory=dict)

    @field_validator("datetime", "start_datetime", "end_datetime")
    @classmethod
    def _utc(cls, value: dt.datetime | None) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("datetime must be timezone-aware (readers convert local times)")
        try:
            return value.astimezone(UTC)
        except OverflowError:  # 9999-12-31T23:59-05:00 is past the end of the calendar in UTC
            raise ValueError(f"datetime {value.isoformat()} is outside the representable range") from None

    @field_validator(*_RANGES)
    @classmethod
    def _in_range(cls, value: float | None, info: ValidationInfo) -> float | None:
        field = str(info.field_name)
        label, low, high = _RANGES[field]
        return _finite(value, label, low, high)

    @field_validator("gsd_m")
    @classmethod
    def _gsd(cls, value: float | None) -> float | None:
        value = _finite(value, "gsd_m", 0.0, 1e6)
        if value == 0.0:
            return None
        return value

    @field_validator("footprint")
    @classmethod
    def _footprint(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
        if value is None:
            return None
        if value.get("type") not in ("Polygon", "MultiPolygon"):
            raise ValueError(f"footprint must be a GeoJSON Polygon, got type {value.get('type')!r}")
        _check_shape(value)
        for ring in _rings(value):
            for lon, lat, *_ in ring:
                if not (-180.0 <= lon <= 180.0 and -90.0 <= lat <= 90.0):
                    raise ValueError(f"footprint vertex ({lon}, {lat}) is not WGS84 lon/lat")
        return value

    @field_validator("extra")
    @classmethod
    def _shallow_extra(cls, value: dict[str, Any]) -> dict[str, Any]:
        if problem := oversized(value, max_depth=MAX_EXTRA_DEPTH, max_values=MAX_EXTRA_VALUES):
            raise ValueError(f"extra {problem}")
        return value

    @field_validator("provenance")
    @classmethod
    def _provenance(cls, value: dict[str, str]) -> dict[str, str]:
        for name, kind in value.items():
            if name not in cls.model_fields or kind not in PROVENANCE_KINDS:
                raise ValueError(f"provenance {name!r}: {kind!r} (expected a record field marked "
                                 f"one of {', '.join(PROVENANCE_KINDS)})")
        return value

    @model_validator(mode="after")
    def _fill_center(self) -> SceneRecord:
        # The centre is derived from the footprint when the product does not state one.
        if self.center_lat is None and self.center_lon is None and self.footprint is not None:
            lon, lat = footprint_center(self.footprint)
            object.__setattr__(self, "center_lat", round(lat, 6))
            object.__setattr__(self, "center_lon", round(lon, 6))
            derived = {"center_lat": "derived", "center_lon": "derived"}
            object.__setattr__(self, "provenance", {**self.provenance, **derived})
        return self

    @field_serializer("datetime", "start_datetime", "end_datetime")
    def _ser_dt(self, value: dt.datetime | None) -> str | None:
        return format_datetime(value) if value is not None else None

    # -- views -------------------------------------------------------------------------
    def to_json_dict(self) -> dict[str, Any]:
        """The flat JSON form printed by ``terrahash meta --json``."""
        return self.model_dump(mode="json")

    @property
    def bbox(self) -> tuple[float, float, float, float] | None:
        """(west, south, east, north) of the footprint (``footprint_bbox``: west > east across
        the antimeridian, as in STAC), or of the centre point."""
        if self.footprint is not None:
            return footprint_bbox(self.footprint)
        if self.center_lat is not None and self.center_lon is not None:
            return (self.center_lon, self.center_lat, self.center_lon, self.center_lat)
        return None

    @classmethod
    def from_json_dict(cls, data: dict[str, Any]) -> SceneRecord:
        """Inverse of ``to_json_dict``, migrating older schema versions."""
        return cls.model_validate(migrate_record(dict(data)))


def migrate_record(data: dict[str, Any]) -> dict[str, Any]:
    """Bring a stored record dict up to ``RECORD_SCHEMA_VERSION`` (no-op at version 1)."""
    version = int(data.get("schema_version", 1))
    if version > RECORD_SCHEMA_VERSION:
        raise ValueError(
            f"record schema_version {version} is newer than this TerraHash supports "
            f"({RECORD_SCHEMA_VERSION}); upgrade terrahash"
        )
    data["schema_version"] = RECORD_SCHEMA_VERSION
    return data


def _check_shape(geometry: dict[str, Any]) -> None:
    """``ValueError`` unless every ring is a non-empty list of numeric (lon, lat) pairs, so the
    range check and ``footprint_center`` never meet a string, an empty ring or a bare number."""
    coords = geometry.get("coordinates")
    polygons = coords if geometry.get("type") == "MultiPolygon" else [coords]
    if not isinstance(polygons, list | tuple) or not polygons:
        raise ValueError("footprint has no coordinates")
    for rings in polygons:
        if not isinstance(rings, list | tuple) or not rings:
            raise ValueError("footprint polygon has no rings")
        for ring in rings:
            if not isinstance(ring, list | tuple) or not ring:
                raise ValueError("footprint ring is not a list of vertices")
            for vertex in ring:
                if not (
                    isinstance(vertex, list | tuple)
                    and len(vertex) >= 2
                    and all(isinstance(c, Real) and not isinstance(c, bool) for c in vertex[:2])
                ):
                    raise ValueError(f"footprint vertex {vertex!r:.60} is not a (lon, lat) pair")


def _rings(geometry: dict[str, Any]) -> list[list[list[float]]]:
    coords = geometry.get("coordinates") or []
    if geometry.get("type") == "MultiPolygon":
        return [ring for poly in coords for ring in poly]
    return list(coords)


def footprint_bbox(geometry: dict[str, Any]) -> tuple[float, float, float, float]:
    """(west, south, east, north) of a lon/lat (Multi)Polygon, the narrowest box on the globe.

    As in STAC, ``west > east`` means the box crosses the antimeridian; ``(-180, ..., 180, ...)``
    means every longitude. A ring edge that jumps more than 180° of longitude crosses the
    antimeridian (vendors write such rings), and a MultiPolygon split at ±180 (RFC 7946) is
    joined again, so neither becomes a box about 360° wide. A ring around a pole reaches it.
    """
    coords = geometry.get("coordinates") or []
    outers = [poly[0] for poly in coords if poly] if geometry.get("type") == "MultiPolygon" else coords[:1]
    arcs: list[tuple[float, float]] = []
    south, north = 90.0, -90.0
    for ring in outers:
        lons, lats = _unwrapped_lons(ring), [float(p[1]) for p in ring]
        south, north = min(south, *lats), max(north, *lats)
        if abs(lons[-1] - lons[0]) > 180.0:  # the ring winds round a pole
            arcs.append((-180.0, 180.0))
            if sum(lats) > 0:
                north = 90.0
            else:
                south = -90.0
        else:
            arcs.append((min(lons), max(lons)))
    west, east = _covering_arc(arcs)
    if east - west >= 360.0:
        return (-180.0, south, 180.0, north)
    turns = math.floor((west + 180.0) / 360.0)  # bring west into [-180, 180)
    west, east = west - 360.0 * turns, east - 360.0 * turns
    return (west, south, east - 360.0 if east > 180.0 else east, north)


def _unwrapped_lons(ring: list[list[float]]) -> list[float]:
    """The ring's longitudes (closed), shifted by whole turns so that no edge jumps more than
    180° (across ±180); a ring that does not cross keeps its values exactly."""
    lons = [float(p[0]) for p in ring]
    if ring[0][:2] != ring[-1][:2]:
        lons.append(lons[0])
    out, turn = [lons[0]], 0.0
    for before, lon in zip(lons, lons[1:], strict=False):
        if lon - before > 180.0:
            turn -= 360.0
        elif before - lon > 180.0:
            turn += 360.0
        out.append(lon + turn)
    return out


def _covering_arc(arcs: list[tuple[float, float]]) -> tuple[float, float]:
    """(start, end) of the shortest arc of the circle covering every (start, end) arc; it
    starts where some arc starts (after the widest gap). Arcs move by whole turns only."""
    best = (-180.0, 180.0 + 360.0)
    for start, _ in arcs:
        ends = []
        for other, end in arcs:
            turns = math.ceil((start - other) / 360.0)  # the other arc's start at or after ours
            ends.append(end + 360.0 * turns)
        if max(ends) - start < best[1] - best[0]:
            best = (start, max(ends))
    return best


def polygon(points: list[tuple[float, float]]) -> dict[str, Any]:
    """A closed GeoJSON Polygon from (lon, lat) vertices."""
    ring = [[float(lon), float(lat)] for lon, lat in points]
    if ring and ring[0] != ring[-1]:
        ring.append(list(ring[0]))
    return {"type": "Polygon", "coordinates": [ring]}


def box_polygon(
    west: float | None, south: float | None, east: float | None, north: float | None
) -> dict[str, Any] | None:
    """The polygon of a lon/lat box, or ``None`` when any side is missing (readers' bboxes)."""
    if west is None or south is None or east is None or north is None:
        return None
    return polygon([(west, south), (east, south), (east, north), (west, north)])


def ring_centroid(ring: list[list[float]]) -> tuple[float, float]:
    """Area centroid of a ring (shoelace); the vertex mean when the area is degenerate.

    Valid-data outlines have many vertices along some edges, so their vertex mean is pulled
    towards those edges; the area centroid is the scene's centre.
    """
    pts = [(float(p[0]), float(p[1])) for p in ring]
    if pts[0] != pts[-1]:
        pts.append(pts[0])
    area = cx = cy = 0.0
    for (x0, y0), (x1, y1) in zip(pts, pts[1:], strict=False):
        cross = x0 * y1 - x1 * y0
        area += cross
        cx += (x0 + x1) * cross
        cy += (y0 + y1) * cross
    if abs(area) < 1e-12:
        n = len(pts) - 1
        return sum(p[0] for p in pts[:-1]) / n, sum(p[1] for p in pts[:-1]) / n
    return cx / (3.0 * area), cy / (3.0 * area)


def footprint_center(geometry: dict[str, Any]) -> tuple[float, float]:
    """Centre of the outer ring, antimeridian-aware: returns (lon, lat); of the bbox for a
    MultiPolygon of several parts (a footprint split at the antimeridian).

    Four-corner footprints use the corner mean (the convention of every vendor that states
    corners); outlines with more vertices use the area centroid.
    """
    coords = geometry["coordinates"]
    if geometry.get("type") == "MultiPolygon" and len(coords) > 1:  # parts (split at ±180): the box's
        west, south, east, north = footprint_bbox(geometry)
        lon = (west + (east + 360.0 if east < west else east)) / 2.0
        return (lon - 360.0 if lon > 180.0 else lon), (south + north) / 2.0
    outer = coords[0][0] if geometry.get("type") == "MultiPolygon" else coords[0]
    ring = [list(p[:2]) for p in outer]
    lons = [p[0] for p in ring]
    shifted = max(lons) - min(lons) > 180.0  # crosses the antimeridian: work in [0, 360)
    if shifted:
        ring = [[lon + 360.0 if lon < 0 else lon, lat] for lon, lat in ring]
    corners = ring[:-1] if ring[0] == ring[-1] else ring
    if len(corners) <= 4:
        lon = sum(p[0] for p in corners) / len(corners)
        lat = sum(p[1] for p in corners) / len(corners)
    else:
        lon, lat = ring_centroid(ring)
    if lon > 180.0:
        lon -= 360.0
    return lon, lat
