"""BlackSky Global ``*_metadata.json``: a flat JSON object with ``acquisitionDate`` (UTC, no
zone suffix), ``sensorName`` (``Global-8``), ``gsd``, ``cloudCoverPercent`` (percent),
``sunElevation``/``sunAzimuth``, ``offNadirAngle`` and a GeoJSON ``geometry`` (lon, lat)."""

from __future__ import annotations

from typing import Any, ClassVar

from terrahash.metadata.base import MetadataReader
from terrahash.metadata.document import Document
from terrahash.metadata.readers._vendor_common import centre_fields, drop_none
from terrahash.metadata.record import ring_centroid
from terrahash.metadata.values import cloud_percent, parse_datetime, to_float

_KEYS = ("acquisitionDate", "sensorName", "gsd")


class BlackSkyJsonReader(MetadataReader):
    """A JSON object with ``acquisitionDate``, ``sensorName`` and ``gsd`` (no ``stac_version``)."""

    name: ClassVar[str] = "blacksky_json"
    description: ClassVar[str] = "BlackSky Global scene metadata JSON (*_metadata.json)"

    @classmethod
    def sniff(cls, doc: Document) -> bool:
        if doc.is_raster or not doc.stripped.startswith("{") or '"sensorName"' not in doc.text:
            return False
        data = doc.json
        return isinstance(data, dict) and "stac_version" not in data and all(k in data for k in _KEYS)

    def read(self, doc: Document) -> list[dict[str, Any]]:
        data = doc.json
        geometry = data.get("geometry")
        footprint = geometry if isinstance(geometry, dict) and geometry.get("type") == "Polygon" else None
        centre: dict[str, float] = {}
        if footprint is not None and footprint.get("coordinates"):
            lon, lat = ring_centroid(footprint["coordinates"][0])
            centre = centre_fields(lat, lon)
        sensor = data.get("sensorName")
        return [{
            "id": data.get("id"),
            "platform": f"BlackSky {sensor}" if sensor else None,
            "instrument": sensor,
            "processing_level": "ORTHO" if data.get("orthorectified") else None,
            "datetime": parse_datetime(data.get("acquisitionDate")),
            "footprint": footprint,
            **centre,
            "gsd_m": to_float(data.get("gsd")),
            "cloud_cover": cloud_percent(data.get("cloudCoverPercent")),
            "sun_elevation": to_float(data.get("sunElevation")),
            "sun_azimuth": to_float(data.get("sunAzimuth")),
            "view_angle": to_float(data.get("offNadirAngle")),
            "extra": drop_none({
                "satellite_elevation": to_float(data.get("satelliteElevation")),
                "satellite_azimuth": to_float(data.get("satelliteAzimuth")),
                "estimated_ce90": to_float(data.get("estimatedCE90")),
                "georeferenced": data.get("georeferenced"),
            }),
        }]
