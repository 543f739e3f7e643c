"""Planet Data API item JSON (``*_metadata.json``): a GeoJSON Feature whose ``properties`` hold
``acquired``, ``satellite_id``, ``item_type``, ``cloud_cover`` (a 0-1 fraction), ``gsd``...

Sniffed on those Planet properties and the *absence* of ``stac_version`` (Planet's STAC items
belong to the STAC reader). Anonymised samples (``XXXX`` ids, 2029 dates) are read as they are.
"""

from __future__ import annotations

from typing import Any, ClassVar

from terrahash.metadata.base import MetadataReader
from terrahash.metadata.document import Document
from terrahash.metadata.readers._vendor_common import centre_fields, drop_none
from terrahash.metadata.readers.planet_xml import planet_platform
from terrahash.metadata.record import ring_centroid
from terrahash.metadata.values import cloud_percent, parse_datetime, to_float

_PLANET_KEYS = ("acquired", "item_type", "satellite_id")


class PlanetJsonReader(MetadataReader):
    """A GeoJSON Feature with Planet item properties and no ``stac_version``."""

    name: ClassVar[str] = "planet_json"
    description: ClassVar[str] = "Planet Data API item JSON (*_metadata.json)"

    @classmethod
    def sniff(cls, doc: Document) -> bool:
        if doc.is_raster or not doc.stripped.startswith("{") or '"acquired"' not in doc.text:
            return False
        data = doc.json
        if not isinstance(data, dict) or "stac_version" in data:
            return False
        props = data.get("properties")
        return isinstance(props, dict) and sum(k in props for k in _PLANET_KEYS) >= 2

    def read(self, doc: Document) -> list[dict[str, Any]]:
        data = doc.json
        props = data["properties"]
        geometry = data.get("geometry")
        footprint = geometry if isinstance(geometry, dict) and geometry.get("type") in (
            "Polygon", "MultiPolygon") else None
        cloud = cloud_percent(props.get("cloud_cover"), fraction=True)
        if cloud is None and props.get("cloud_percent") is not None:
            cloud = cloud_percent(props.get("cloud_percent"))
        provider = props.get("provider") or props.get("item_type")
        centre: dict[str, float] = {}
        if footprint is not None and footprint["type"] == "Polygon":
            lon, lat = ring_centroid(footprint["coordinates"][0])  # outlines are irregular
            centre = centre_fields(lat, lon)
        epsg = props.get("epsg_code")
        return [{
            "id": data.get("id"),
            "platform": planet_platform(provider, props.get("satellite_id"))
            if provider else None,
            "instrument": props.get("instrument"),
            "processing_level": props.get("item_type"),
            "datetime": parse_datetime(props.get("acquired")),
            "footprint": footprint,
            **centre,
            "gsd_m": to_float(props.get("gsd")) or to_float(props.get("pixel_resolution")),
            "cloud_cover": cloud,
            "sun_elevation": to_float(props.get("sun_elevation")),
            "sun_azimuth": to_float(props.get("sun_azimuth")),
            "view_angle": to_float(props.get("view_angle")),
            "epsg": epsg if isinstance(epsg, int) else None,
            "extra": drop_none({
                "satellite_id": props.get("satellite_id"),
                "item_type": props.get("item_type"),
                "strip_id": props.get("strip_id"),
                "pixel_resolution": to_float(props.get("pixel_resolution")),
                "quality_category": props.get("quality_category"),
            }),
        }]
