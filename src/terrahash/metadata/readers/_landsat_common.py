"""Shared mapping of Landsat MTL key/value trees (ODL text, XML and JSON carry the same keys).

USGS writes one metadata model in three syntaxes, and it changed its key names twice
(GDAL-era ``ACQUISITION_DATE``/``PRODUCT_UL_CORNER_LAT``, Collection 1 ``L1_METADATA_FILE``,
Collection 2 ``LANDSAT_METADATA_FILE``). The subclasses only turn their syntax into a nested
``{group: {key: value}}`` tree; everything else lives here once.
"""

from __future__ import annotations

import re
from abc import abstractmethod
from typing import Any

from terrahash.metadata.base import MetadataReader
from terrahash.metadata.document import Document
from terrahash.metadata.record import polygon
from terrahash.metadata.values import Nominal, cloud_percent, combine_date_time, to_float

#: Root group names of an MTL (the first two are the ones USGS ships today).
MTL_ROOTS = ("LANDSAT_METADATA_FILE", "L1_METADATA_FILE", "LPGS_METADATA_FILE")

_CORNERS = ("UL", "UR", "LR", "LL")  # ring order
_BAND_KEY = re.compile(r"^FILE_NAME_BAND_(?:[A-Z]+_)?B?(\d+(?:_VCID_\d)?)$|^BAND(\d+)_FILE_NAME$")
#: ``KEY = value``; the value is stripped in code (a lazy ``(.*?)\s*$`` backtracks quadratically
#: over a long run of blanks).
_ODL_LINE = re.compile(r"^\s*([A-Za-z_][\w.]*)\s*=(.*)$")


def parse_odl(text: str) -> dict[str, Any]:
    """``GROUP = X ... END_GROUP = X`` / ``KEY = value`` text into a nested dict (values as str).

    Parenthesised values may continue over several lines (angle files); quotes are stripped.
    """
    root: dict[str, Any] = {}
    stack: list[dict[str, Any]] = [root]
    pending: tuple[str, str] | None = None
    for line in text.splitlines():
        if pending is not None:
            key, value = pending
            value += " " + line.strip()
            if value.count("(") <= value.count(")"):
                stack[-1].setdefault(key, value)
                pending = None
            else:
                pending = (key, value)
            continue
        match = _ODL_LINE.match(line)
        if not match:
            continue
        key, value = match.group(1), match.group(2).strip().strip('"')
        upper = key.upper()
        if upper in ("GROUP", "OBJECT"):
            child: dict[str, Any] = {}
            stack[-1].setdefault(value, child)
            stack.append(child)
        elif upper in ("END_GROUP", "END_OBJECT"):
            if len(stack) > 1:
                stack.pop()
        elif value.startswith("(") and value.count("(") > value.count(")"):
            pending = (key, value)
        else:
            stack[-1].setdefault(key, value)
    return root


def _groups(tree: dict[str, Any]) -> list[dict[str, Any]]:
    """Every group below the root, in document order (depth first), as flat key dicts."""
    out: list[dict[str, Any]] = []

    def walk(node: dict[str, Any]) -> None:
        leaves = {k: v for k, v in node.items() if not isinstance(v, dict)}
        if leaves:
            out.append(leaves)
        for value in node.values():
            if isinstance(value, dict):
                walk(value)

    walk(tree)
    return out


class _Keys:
    """First-occurrence lookup over the groups (Collection 2 repeats keys in the L1 record)."""

    def __init__(self, tree: dict[str, Any]) -> None:
        self.groups = _groups(tree)

    def get(self, *names: str) -> str | None:
        for name in names:
            for group in self.groups:
                value = group.get(name)
                if value is not None and str(value).strip() != "":
                    return str(value).strip().strip('"')
        return None

    def num(self, *names: str) -> float | None:
        return to_float(self.get(*names))

    def integer(self, *names: str) -> int | None:
        number = self.num(*names)
        return int(number) if number is not None else None


def _bands(keys: _Keys) -> list[str] | None:
    """Band names (``B1``.. ``B11``, ``B6_VCID_1``) from the first group that lists band files."""
    for group in keys.groups:
        names = []
        for key in group:
            match = _BAND_KEY.match(key)
            if match:
                names.append("B" + (match.group(1) or match.group(2)))
        if names:
            return names
    return None


def _epsg(keys: _Keys) -> int | None:
    """EPSG of the product grid: UTM on WGS84 (Landsat numbers southern scenes as north zones
    with negative northings, or as negative zones) or GDA94 (MGA), and Antarctic polar stereo."""
    projection = (keys.get("MAP_PROJECTION") or "").upper()
    datum = (keys.get("DATUM", "REFERENCE_DATUM") or "WGS84").upper().replace("-", "")
    if projection == "PS" and datum == "WGS84":
        return 3031
    zone = keys.integer("UTM_ZONE", "ZONE_NUMBER")
    if projection != "UTM" or not zone or abs(zone) > 60:
        return None
    if datum == "WGS84":
        return (32600 if zone > 0 else 32700) + abs(zone)
    if datum == "GDA94":
        return 28300 + abs(zone)
    return None


#: Nominal reflective-band GSD (m) per sensor, for products gridded in degrees (geographic
#: ``EQR`` products from the GA/ASA ground station write ``GRID_CELL_SIZE_REF = 0.00025``).
_NOMINAL_REFLECTIVE_GSD_M = {s: Nominal(30.0) for s in ("TM", "ETM", "ETM+", "OLI", "OLI_TIRS")}


def _reflective_gsd(keys: _Keys) -> tuple[float | None, float | None]:
    """(GSD in metres, raw cell size when it is in degrees).

    A cell size below 1 cannot be metres: the product grid is geographic (degrees), so the
    sensor's nominal reflective GSD is reported instead (``None`` for an unknown sensor).
    """
    cell = keys.num("GRID_CELL_SIZE_REFLECTIVE", "GRID_CELL_SIZE_REF")
    if cell is None or cell >= 1.0:
        return cell, None
    sensor = (keys.get("SENSOR_ID") or "").upper()
    return _NOMINAL_REFLECTIVE_GSD_M.get(sensor), cell


class LandsatMtlReader(MetadataReader):
    """Landsat MTL in any syntax: subclasses provide ``tree(doc)`` only."""

    @abstractmethod
    def tree(self, doc: Document) -> dict[str, Any]:
        """The MTL as ``{root: {group: {KEY: value}}}``."""

    def read(self, doc: Document) -> list[dict[str, Any]]:
        keys = _Keys(self.tree(doc))
        date = keys.get("DATE_ACQUIRED", "ACQUISITION_DATE")
        clock = keys.get("SCENE_CENTER_TIME", "SCENE_CENTER_SCAN_TIME")
        when = combine_date_time(date, clock)
        if when is None:
            raise self.refuse(doc, "no DATE_ACQUIRED / ACQUISITION_DATE in the MTL")
        extra: dict[str, Any] = {}
        if not clock:
            extra["datetime_precision"] = "day"
        roll = keys.num("ROLL_ANGLE")
        gsd, cell_degrees = _reflective_gsd(keys)
        optional = {
            "grid_cell_size_degrees": cell_degrees,
            "scene_id": keys.get("LANDSAT_SCENE_ID"),
            "wrs_path": keys.integer("WRS_PATH"),
            "wrs_row": keys.integer("WRS_ROW", "STARTING_ROW"),
            "collection_number": keys.integer("COLLECTION_NUMBER"),
            "collection_category": keys.get("COLLECTION_CATEGORY"),
            "cloud_cover_land": cloud_percent(keys.get("CLOUD_COVER_LAND")),
            "station_id": keys.get("STATION_ID"),
            "nadir_offnadir": keys.get("NADIR_OFFNADIR"),
            "roll_angle": roll,
            "earth_sun_distance": keys.num("EARTH_SUN_DISTANCE"),
            "gsd_panchromatic": keys.num("GRID_CELL_SIZE_PANCHROMATIC", "GRID_CELL_SIZE_PAN"),
            "gsd_thermal": keys.num("GRID_CELL_SIZE_THERMAL"),
        }
        extra.update({k: v for k, v in optional.items() if v is not None})
        return [
            {
                "id": keys.get("LANDSAT_PRODUCT_ID", "LANDSAT_SCENE_ID"),
                "platform": keys.get("SPACECRAFT_ID"),
                "instrument": keys.get("SENSOR_ID"),
                "processing_level": keys.get("PROCESSING_LEVEL", "DATA_TYPE", "PRODUCT_TYPE"),
                "datetime": when,
                "footprint": self._footprint(keys),
                "gsd_m": gsd,
                "cloud_cover": cloud_percent(keys.get("CLOUD_COVER")),
                "sun_elevation": keys.num("SUN_ELEVATION"),
                "sun_azimuth": keys.num("SUN_AZIMUTH"),
                "view_angle": abs(roll) if roll is not None else None,
                "bands": _bands(keys),
                "epsg": _epsg(keys),
                "extra": extra,
            }
        ]

    @staticmethod
    def _footprint(keys: _Keys) -> dict[str, Any] | None:
        """Product-grid corners (lon, lat); ``None`` unless all four are present."""
        points = []
        for corner in _CORNERS:
            lat = keys.num(f"CORNER_{corner}_LAT_PRODUCT", f"PRODUCT_{corner}_CORNER_LAT")
            lon = keys.num(f"CORNER_{corner}_LON_PRODUCT", f"PRODUCT_{corner}_CORNER_LON")
            if lat is None or lon is None:
                return None
            points.append((lon, lat))
        return polygon(points)
