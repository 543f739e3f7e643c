"""JAXA ALOS (PRISM / AVNIR-2) CEOS ``summary.txt``: ``Key="value"`` lines.

``Img_SceneCenterDateTime`` (``YYYYMMDD hh:mm:ss.fff``, UTC) is used when present; many
summaries have only ``Lbi_ObservationDate`` (``YYYYMMDD``; the time exists only as the raw
satellite clock counter ``Img_1ACenterSatelliteTime``), so ``datetime`` is midnight UTC and
``extra['datetime_precision']`` is ``day``. Frame centre and corners are stated; the file
gives no pixel spacing, so ``gsd_m`` is null. ``Img_CloudQuantityOfAllImage`` is JAXA's cloud
*rank* 0-10 (tenths of the scene; GDAL reads it the same way), 99 = not assessed.
"""

from __future__ import annotations

from typing import Any, ClassVar

from terrahash.metadata.base import MetadataReader
from terrahash.metadata.document import Document
from terrahash.metadata.readers._vendor_common import centre_fields, corner_footprint, drop_none
from terrahash.metadata.values import parse_datetime, parse_key_values, to_float

_CORNERS = ("LeftTop", "RightTop", "RightBottom", "LeftBottom")


def cloud_from_rank(rank: str | None) -> float | None:
    """JAXA cloud rank (0-10 tenths) -> percent; 99 (no assessment) and junk -> None."""
    value = to_float(rank)
    if value is None or not 0 <= value <= 10:
        return None
    return value * 10.0


class AlosSummaryReader(MetadataReader):
    """Text with ``Lbi_Satellite="..."`` and ``Img_`` keys."""

    name: ClassVar[str] = "alos_summary"
    description: ClassVar[str] = "JAXA ALOS CEOS summary.txt (PRISM, AVNIR-2)"

    @classmethod
    def sniff(cls, doc: Document) -> bool:
        if doc.is_raster or doc.looks_xml or doc.looks_json:
            return False
        return "Lbi_Satellite=" in doc.text and "Img_FrameSceneCenter" in doc.text

    def read(self, doc: Document) -> list[dict[str, Any]]:
        kv = parse_key_values(doc.text, "=")
        date = kv.get("Lbi_ObservationDate")
        when = parse_datetime(kv.get("Img_SceneCenterDateTime"))
        precision = None
        if when is None:
            when = parse_datetime(date)
            precision = "day" if when else None
        corners = [
            (kv.get(f"Img_FrameScene{c}Longitude"), kv.get(f"Img_FrameScene{c}Latitude"))
            for c in _CORNERS
        ]
        return [{
            "id": kv.get("Scs_SceneID"),
            "platform": kv.get("Lbi_Satellite"),
            "instrument": kv.get("Lbi_Sensor"),
            "processing_level": kv.get("Lbi_ProcessLevel"),
            "datetime": when,
            "footprint": corner_footprint(corners),
            **centre_fields(
                kv.get("Img_FrameSceneCenterLatitude"), kv.get("Img_FrameSceneCenterLongitude")
            ),
            "cloud_cover": cloud_from_rank(kv.get("Img_CloudQuantityOfAllImage")),
            "sun_elevation": to_float(kv.get("Img_SunAngleElevation")),
            "sun_azimuth": to_float(kv.get("Img_SunAngleAzimuth")),
            "extra": drop_none({
                "datetime_precision": precision,
                "cloud_rank": kv.get("Img_CloudQuantityOfAllImage"),
                "product_id": kv.get("Pds_ProductID"),
                "scene_center_angle": kv.get("Img_SceneCenterAngle"),
                "satellite_clock_center": kv.get("Img_1ACenterSatelliteTime"),
            }),
        }]
