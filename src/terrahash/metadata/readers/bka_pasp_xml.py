"""Belarusian BKA passport (``<MetaData>`` with ``Processing/Satellite`` and
``Satellite_Data/Scene_Acquisition``), English version ``*_pasp-en.xml``.

``Acquisition_Time_GMT`` is UTC; the centre is stated; ``Percent_Cloud_Cover`` is a percentage;
GSD is the product ``Ground_Resolution/PixelSize_Easting``/``Northing`` (m).
"""

from __future__ import annotations

from typing import Any, ClassVar

from terrahash.metadata.base import MetadataReader
from terrahash.metadata.document import Document
from terrahash.metadata.readers._vendor_common import centre_fields, corner_footprint, drop_none
from terrahash.metadata.values import cloud_percent, parse_datetime, to_float, xml_text

_CORNERS = ("Corner2_NW", "Corner3_NE", "Corner4_SE", "Corner1_SW")


class BkaPaspXmlReader(MetadataReader):
    """Root ``<MetaData>`` with ``Scene_Acquisition``."""

    name: ClassVar[str] = "bka_pasp_xml"
    description: ClassVar[str] = "BKA (Belarus) passport XML (*_pasp-en.xml)"

    @classmethod
    def sniff(cls, doc: Document) -> bool:
        return (
            not doc.is_raster
            and doc.root_tag == "MetaData"
            and "<Scene_Acquisition>" in doc.text
            and "<Satellite>" in doc.text
        )

    def read(self, doc: Document) -> list[dict[str, Any]]:
        root = doc.xml
        acq = root.find(".//Scene_Acquisition")
        if acq is None:
            raise self.refuse(doc, "no Satellite_Data/Scene_Acquisition block")
        geo = root.find(".//Geodetic_Coordinates")
        corners = [] if geo is None else [
            (xml_text(geo, f"{c}_Lon"), xml_text(geo, f"{c}_Lat")) for c in _CORNERS
        ]
        px = to_float(xml_text(root, "Ground_Resolution/PixelSize_Easting"))
        py = to_float(xml_text(root, "Ground_Resolution/PixelSize_Northing"))
        epsg = xml_text(root, "Geo_Reference/EPSG_code") or ""
        return [{
            "id": xml_text(root, "Processing/Scene01_File_Name"),
            "platform": xml_text(root, "Processing/Satellite") or xml_text(acq, "Satellite"),
            "instrument": xml_text(root, "Processing/Instrument"),
            "processing_level": xml_text(root, "Processing/Level"),
            "datetime": parse_datetime(xml_text(acq, "Acquisition_Time_GMT")),
            "footprint": corner_footprint(corners),
            **centre_fields(xml_text(acq, "Center/Center_Lat"), xml_text(acq, "Center/Center_Lon")),
            "gsd_m": (px + (py or px)) / 2.0 if px else None,
            "cloud_cover": cloud_percent(xml_text(root, "Processing/Percent_Cloud_Cover")),
            "sun_elevation": to_float(xml_text(acq, "Sun_Elevation")),
            "sun_azimuth": to_float(xml_text(acq, "Sun_Azimuth")),
            "view_angle": to_float(xml_text(acq, "Viewing_Angle")),
            "epsg": int(epsg) if epsg.isdigit() else None,
            "extra": drop_none({
                "mission": xml_text(root, "Processing/Mission"),
                "level_info": xml_text(root, "Processing/Level_Info"),
                "country": xml_text(root, "Processing/Country_Cover"),
            }),
        }]
