"""CRESDA ``<ProductMetaData>`` (GF-1/2/4/6, ZY-3, CBERS-04 as delivered by China's data centre).

Traps handled here:

* times carry no zone and are Beijing time (UTC+8): ``CenterTime`` is used, else the middle of
  ``StartTime``/``EndTime``;
* ``CloudPercent`` outside 0-100 (``101`` in GF-2 2023 deliveries) means "not assessed";
* ``SolarZenith`` is a zenith for GF-1/GF-2 but holds the *elevation* in GF-4 files; the
  convention is checked against the sun position at the scene (see ``_vendor_common``);
* GF-4 writes ``SensorID=PMI`` for both cameras: the 50 m visible/NIR (PMS) and the 400 m
  mid-wave infrared (IRS) files differ only by ``ImageGSD``;
* the ``__order.xml`` ``<InterfaceFile>`` order sidecar has no acquisition and is refused.
"""

from __future__ import annotations

from typing import Any, ClassVar

from terrahash.metadata.base import MetadataReader
from terrahash.metadata.document import Document
from terrahash.metadata.readers._vendor_common import (
    centre_fields,
    corner_footprint,
    drop_none,
    elevation_from_labelled_zenith,
    midpoint,
    point_mean,
    valid_points,
)
from terrahash.metadata.values import BEIJING, cloud_percent, parse_datetime, tag, to_float, xml_text

#: GF-4 staring camera: ImageGSD at or above this (m) is the IRS mid-wave infrared camera.
GF4_IRS_MIN_GSD_M = 200.0
_CORNER_TAGS = ("TopLeft", "TopRight", "BottomRight", "BottomLeft")


def _instrument(satellite: str | None, sensor: str | None, gsd: float | None) -> str | None:
    compact = (satellite or "").upper().replace("-", "").replace("_", "")
    if compact == "GF4" and (sensor or "").upper() == "PMI" and gsd is not None:
        return "IRS" if gsd >= GF4_IRS_MIN_GSD_M else "PMS"
    return sensor


class CresdaXmlReader(MetadataReader):
    """Root ``<ProductMetaData>`` with ``SatelliteID``; order sidecars are recognised and refused."""

    name: ClassVar[str] = "cresda_xml"
    description: ClassVar[str] = "CRESDA ProductMetaData XML (GF-1/2/4/6, ZY-3, CBERS-04)"

    @classmethod
    def sniff(cls, doc: Document) -> bool:
        if doc.is_raster or not doc.looks_xml:
            return False
        root = doc.root_tag
        if root == "ProductMetaData":
            return "<SatelliteID>" in doc.text
        return root == "InterfaceFile" and "<SatelliteID>" in doc.text and "<FileBody>" in doc.text

    def read(self, doc: Document) -> list[dict[str, Any]]:
        root = doc.xml
        if tag(root) == "InterfaceFile":
            raise self.refuse(
                doc, "CRESDA order/interface file (<InterfaceFile>): it describes a processing "
                "order and has no acquisition time or footprint; read the product's XML instead"
            )
        start = parse_datetime(xml_text(root, "StartTime"), BEIJING)
        end = parse_datetime(xml_text(root, "EndTime"), BEIJING)
        when = parse_datetime(xml_text(root, "CenterTime"), BEIJING) or midpoint(start, end)
        corners = valid_points(
            (xml_text(root, f"{c}Longitude"), xml_text(root, f"{c}Latitude")) for c in _CORNER_TAGS
        )
        centre = centre_fields(xml_text(root, "CenterLatitude"), xml_text(root, "CenterLongitude"))
        if not centre and len(corners) == 4 and (mean := point_mean(corners)):
            lon, lat = mean  # older files (GF-1 WFV 2020) have no centre
            centre = {"center_lat": lat, "center_lon": lon}
        satellite = xml_text(root, "SatelliteID")
        sensor = xml_text(root, "SensorID")
        gsd = to_float(xml_text(root, "ImageGSD"))
        elevation, convention = elevation_from_labelled_zenith(
            xml_text(root, "SolarZenith"), when, centre.get("center_lat"), centre.get("center_lon")
        )
        bands = xml_text(root, "Bands")
        return [{
            "id": xml_text(root, "ProductID", "SceneID"),
            "platform": satellite,
            "instrument": _instrument(satellite, sensor, gsd),
            "processing_level": xml_text(root, "ProductLevel"),
            "datetime": when,
            "start_datetime": start,
            "end_datetime": end,
            "footprint": corner_footprint(corners),
            **centre,
            "gsd_m": gsd,
            "cloud_cover": cloud_percent(xml_text(root, "CloudPercent")),
            "sun_elevation": elevation,
            "sun_azimuth": to_float(xml_text(root, "SolarAzimuth")),
            "bands": [b.strip() for b in bands.split(",") if b.strip()] if bands else None,
            "extra": drop_none({
                "sensor_id": sensor,
                "scene_id": xml_text(root, "SceneID"),
                "orbit": xml_text(root, "OrbitID"),
                "scene_path": xml_text(root, "ScenePath"),
                "scene_row": xml_text(root, "SceneRow"),
                "cloud_percent_raw": xml_text(root, "CloudPercent"),
                "solar_zenith_raw": xml_text(root, "SolarZenith"),
                "solar_angle_convention": convention,
                "time_zone": "Beijing (UTC+8), converted",
            }),
        }]
