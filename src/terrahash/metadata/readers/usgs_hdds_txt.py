"""USGS HDDS (Hazards Data Distribution System) delivery text: ``KEY=VALUE`` lines describing a
commercial scene (WorldView, GeoEye, ...) released for a disaster event.

``PLATFORM`` + ``PLATFORM_NUMBER`` name the satellite, ``ACQUISITION_DATE`` (``YYYYMMDD``) +
``ACQUISITION_TIME`` (``hhmmss``) are UTC, ``CLOUD_COVER`` is a percentage. ``PIXEL_SIZE_X/Y``
are in ``PIX_SIZE_UNITS``: metres are taken as they are; degrees (geographic products) are
converted at the scene-centre latitude on the WGS84 ellipsoid (east-west and north-south
spacing averaged), which is exact for the centre pixel and the raw values stay in ``extra``.
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

from terrahash.metadata.base import MetadataReader
from terrahash.metadata.document import Document
from terrahash.metadata.readers._vendor_common import (
    CORNERS,
    centre_fields,
    corner_footprint,
    drop_none,
)
from terrahash.metadata.values import cloud_percent, combine_date_time, parse_key_values, to_float

_WGS84_A = 6378137.0
_WGS84_E2 = 6.69437999014e-3


def degrees_to_metres(dx_deg: float, dy_deg: float, lat: float) -> float:
    """Mean ground spacing (m) of a ``dx`` x ``dy`` degree pixel at latitude ``lat``."""
    phi = math.radians(lat)
    w = math.sqrt(1.0 - _WGS84_E2 * math.sin(phi) ** 2)
    meridional = _WGS84_A * (1.0 - _WGS84_E2) / w**3  # north-south radius of curvature
    prime_vertical = _WGS84_A / w
    dx = math.radians(abs(dx_deg)) * prime_vertical * math.cos(phi)
    dy = math.radians(abs(dy_deg)) * meridional
    return round((dx + dy) / 2.0, 3)


class UsgsHddsTxtReader(MetadataReader):
    """Text with ``ENTITY_ID=`` and ``ACQUISITION_DATE=`` lines."""

    name: ClassVar[str] = "usgs_hdds_txt"
    description: ClassVar[str] = "USGS HDDS commercial-scene delivery text (KEY=VALUE)"

    @classmethod
    def sniff(cls, doc: Document) -> bool:
        if doc.is_raster or doc.looks_xml or doc.looks_json:
            return False
        head = doc.text[:20_000]
        return all(f"\n{k}=" in f"\n{head}" for k in ("ENTITY_ID", "ACQUISITION_DATE", "PLATFORM"))

    def read(self, doc: Document) -> list[dict[str, Any]]:
        kv = parse_key_values(doc.text, "=")
        clock = kv.get("ACQUISITION_TIME", "")
        if clock.isdigit() and len(clock) == 6:
            clock = f"{clock[:2]}:{clock[2:4]}:{clock[4:]}"
        centre = centre_fields(kv.get("CENTER_LAT"), kv.get("CENTER_LONG"))
        unit = kv.get("PIX_SIZE_UNITS", "").strip().upper()
        px, py = to_float(kv.get("PIXEL_SIZE_X")), to_float(kv.get("PIXEL_SIZE_Y"))
        gsd = None
        if unit in ("M", "METERS", "METRES") and px:
            gsd = (abs(px) + abs(py or px)) / 2.0
        elif unit in ("DEG", "DEGREES") and px and centre:
            gsd = degrees_to_metres(px, py or px, centre["center_lat"])
        corners = [(kv.get(f"{c}_LONG"), kv.get(f"{c}_LAT")) for c in CORNERS]
        return [{
            "id": kv.get("ENTITY_ID"),
            "platform": " ".join(p for p in (kv.get("PLATFORM"), kv.get("PLATFORM_NUMBER")) if p)
            or None,
            "instrument": kv.get("SENSOR") or None,
            "processing_level": kv.get("VENDOR_PROCESS_LEVEL") or kv.get("PROCESS_LEVEL") or None,
            "datetime": combine_date_time(kv.get("ACQUISITION_DATE"), clock),
            "footprint": corner_footprint(corners),
            **centre,
            "gsd_m": gsd,
            "cloud_cover": cloud_percent(kv.get("CLOUD_COVER")),
            "sun_elevation": to_float(kv.get("SUN_ELEVATION")),
            "sun_azimuth": to_float(kv.get("SUN_AZIMUTH")),
            "view_angle": to_float(kv.get("INCIDENCE_ANGLE")),
            "extra": drop_none({
                "event": kv.get("EVENT"),
                "vendor_scene_id": kv.get("VENDOR_SCENE_ID"),
                "catalog_id": kv.get("CATALOG_ID"),
                "pixel_size_raw": f"{px} x {py} {unit}" if px else None,
                "gsd_source": "PIXEL_SIZE in degrees converted at the centre latitude (WGS84)"
                if unit.startswith("DEG") and gsd else None,
            }),
        }]
