"""Geoscience Australia EO1 dataset document (``ga-metadata.yaml``, eodatasets 0.x).

The older GA format names the platform ``platform.code`` and the instrument ``instrument.name``.
Processed products add ``extent`` (``center_dt``, lat/lon corner ``coord``) and ``image``
(cloud, sun); raw telemetry packages only have the pass ``acquisition.aos``/``los``, which
become ``datetime``/``start_datetime`` (acquisition of signal) and ``end_datetime``.
"""

from __future__ import annotations

import re
from typing import Any, ClassVar

from terrahash.metadata.base import MetadataReader
from terrahash.metadata.document import Document
from terrahash.metadata.record import polygon
from terrahash.metadata.values import cloud_percent, parse_datetime, to_float

_PLATFORM = re.compile(r"^platform:\s*\n\s+code:", re.M)
_EO1_KEYS = re.compile(r"^(acquisition|extent|ga_label|ga_level):", re.M)


def _section(data: dict[str, Any], name: str) -> dict[str, Any]:
    value = data.get(name)
    return value if isinstance(value, dict) else {}


def _footprint(coord: dict[str, Any]) -> dict[str, Any] | None:
    points = []
    for corner in ("ul", "ur", "lr", "ll"):
        point = coord.get(corner) or {}
        lon, lat = to_float(point.get("lon")), to_float(point.get("lat"))
        if lon is None or lat is None:
            return None
        points.append((lon, lat))
    return polygon(points)


class GaEo1YamlReader(MetadataReader):
    """``platform: {code: ...}`` + ``acquisition``/``extent`` YAML."""

    name: ClassVar[str] = "ga_eo1_yaml"
    description: ClassVar[str] = "Geoscience Australia EO1 ga-metadata.yaml (eodatasets 0.x)"

    @classmethod
    def sniff(cls, doc: Document) -> bool:
        if doc.is_raster or doc.looks_xml or doc.looks_json:
            return False
        text = doc.text
        return bool(_PLATFORM.search(text) and _EO1_KEYS.search(text))

    def read(self, doc: Document) -> list[dict[str, Any]]:
        data = doc.yaml
        if not isinstance(data, dict):
            raise self.refuse(doc, "expected a YAML mapping")
        acquisition, extent = _section(data, "acquisition"), _section(data, "extent")
        image = _section(data, "image")
        start = parse_datetime(extent.get("from_dt") or acquisition.get("aos"))
        end = parse_datetime(extent.get("to_dt") or acquisition.get("los"))
        when = parse_datetime(extent.get("center_dt")) or start
        if when is None:
            raise self.refuse(doc, "no extent.center_dt or acquisition.aos")
        ref_start = _section(image, "satellite_ref_point_start")
        ref_end = _section(image, "satellite_ref_point_end")
        optional = {
            "product_type": data.get("product_type"),
            "ga_label": data.get("ga_label"),
            "wrs_path": ref_start.get("x"),
            "wrs_row": ref_start.get("y"),
            "wrs_row_end": ref_end.get("y") if ref_end.get("y") != ref_start.get("y") else None,
            "interval_id": _section(data, "usgs").get("interval_id"),
            "groundstation": _section(acquisition, "groundstation").get("code"),
        }
        return [
            {
                "id": data.get("ga_label") or (str(data["id"]) if data.get("id") else None),
                "platform": _section(data, "platform").get("code"),
                "instrument": _section(data, "instrument").get("name"),
                "processing_level": data.get("product_level") or data.get("ga_level"),
                "datetime": when,
                "start_datetime": start,
                "end_datetime": end,
                "footprint": _footprint(_section(extent, "coord")),
                "cloud_cover": cloud_percent(image.get("cloud_cover_percentage")),
                "sun_elevation": to_float(image.get("sun_elevation")),
                "sun_azimuth": to_float(image.get("sun_azimuth")),
                "bands": sorted(str(k) for k in _section(image, "bands")) or None,
                "extra": {k: v for k, v in optional.items() if v is not None},
            }
        ]
