"""ABAE (Venezuela) VRSS-1 / VRSS-2 ``<productMeta>`` XML.

Times are UTC with a space-separated date (``2020 08 14 05:16:55.104310``); the scene-centre
time is the middle of ``Scene_imagingStartTime``/``StopTime``. Corners: ``product*`` (grid)
else ``data*``; VRSS-2 writes ``0.000000`` fillers for absent ones, which are dropped.
``cloudCoverage``/``sunElevation`` carry a ``Units`` attribute (Percent, Degrees); ``NULL`` is
written for invalid fields. ``sensorGSD`` is the band GSD (m); PAN products say so in extra.
"""

from __future__ import annotations

from typing import Any, ClassVar

from terrahash.metadata.base import MetadataReader
from terrahash.metadata.document import Document
from terrahash.metadata.readers._vendor_common import (
    centre_fields,
    corner_footprint,
    drop_none,
    midpoint,
    valid_points,
)
from terrahash.metadata.values import cloud_percent, parse_datetime, to_float, xml_text

_CORNERS = ("UpperLeft", "UpperRight", "LowerRight", "LowerLeft")


class VrssXmlReader(MetadataReader):
    """Root ``<productMeta>`` with ``satelliteId``."""

    name: ClassVar[str] = "vrss_xml"
    description: ClassVar[str] = "VRSS-1/VRSS-2 (ABAE, Venezuela) productMeta XML"

    @classmethod
    def sniff(cls, doc: Document) -> bool:
        return not doc.is_raster and doc.root_tag == "productMeta" and "<satelliteId>" in doc.text

    def read(self, doc: Document) -> list[dict[str, Any]]:
        root = doc.xml
        corners: list[tuple[float, float]] = []
        for kind in ("product", "data"):
            corners = valid_points(
                (xml_text(root, f"{kind}{c}Long"), xml_text(root, f"{kind}{c}Lat")) for c in _CORNERS
            )
            if len(corners) == 4:
                break
        start = parse_datetime(xml_text(root, "Scene_imagingStartTime"))
        stop = parse_datetime(xml_text(root, "Scene_imagingStopTime"))
        sensor = xml_text(root, "sensorId")
        off_nadir = to_float(xml_text(root, "satOffNadir"))
        return [{
            "id": xml_text(root, "productId"),
            "platform": xml_text(root, "satelliteId"),
            "instrument": sensor,
            "processing_level": xml_text(root, "productLevel"),
            "datetime": midpoint(start, stop),
            "start_datetime": start,
            "end_datetime": stop,
            "footprint": corner_footprint(corners),
            **centre_fields(xml_text(root, "sceneCenterLat"), xml_text(root, "sceneCenterLong")),
            "gsd_m": to_float(xml_text(root, "sensorGSD")),
            "cloud_cover": cloud_percent(xml_text(root, "cloudCoverage")),
            "sun_elevation": to_float(xml_text(root, "sunElevation")),
            "sun_azimuth": to_float(xml_text(root, "sunAzimuth")),
            "view_angle": off_nadir,
            "extra": drop_none({
                "scene_path": xml_text(root, "scenePath"),
                "scene_row": xml_text(root, "sceneRow"),
                "orbit": xml_text(root, "orbitId"),
                "gsd_note": "panchromatic product: gsd_m is the pan GSD"
                if (sensor or "").upper().startswith("PAN") else None,
            }),
        }]
