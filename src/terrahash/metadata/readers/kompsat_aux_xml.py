"""KOMPSAT-3/3A and CAS500-1 ``*_Aux.xml`` (``<Auxiliary>``, UTF-8 with BOM).

``Image`` holds one block per band (``PAN``, ``MS1``..``MS4``) with its own time, corners, GSD
and angles. The first multispectral block is used on purpose (``gsd_m`` is the multispectral
GSD; PAN would give the pan GSD); a PAN-only product falls back to PAN and says so. GSD is
the product's ``ImageGSD`` (resampled grid, L1G), else ``CollectedGSD``. Times are UTC
(``YYYYMMDDhhmmss.fffffff``).
"""

from __future__ import annotations

from typing import Any, ClassVar

from lxml import etree

from terrahash.metadata.base import MetadataReader
from terrahash.metadata.document import Document
from terrahash.metadata.readers._vendor_common import centre_fields, corner_footprint, drop_none
from terrahash.metadata.values import cloud_percent, parse_datetime, tag, to_float, xml_text

_CORNER_TAGS = ("TL", "TR", "BR", "BL")


def _band_block(image: etree._Element) -> tuple[etree._Element | None, bool]:
    """(first multispectral block, is_pan_fallback)."""
    ms = [b for b in image if tag(b).upper().startswith("MS")]
    if ms:
        return sorted(ms, key=tag)[0], False
    pan = [b for b in image if tag(b).upper() == "PAN"]
    return (pan[0], True) if pan else (None, False)


def _pair_mean(block: etree._Element, name: str) -> float | None:
    col, row = to_float(xml_text(block, f"{name}/Column")), to_float(xml_text(block, f"{name}/Row"))
    if col is None or row is None:
        return col or row
    return round((col + row) / 2.0, 6)


class KompsatAuxXmlReader(MetadataReader):
    """Root ``<Auxiliary>`` with ``General/Satellite``."""

    name: ClassVar[str] = "kompsat_aux_xml"
    description: ClassVar[str] = "KOMPSAT-3/3A, CAS500 Aux XML (*_Aux.xml)"

    @classmethod
    def sniff(cls, doc: Document) -> bool:
        return not doc.is_raster and doc.root_tag == "Auxiliary" and "<Satellite>" in doc.text[:3000]

    def read(self, doc: Document) -> list[dict[str, Any]]:
        root = doc.xml
        image = root.find("Image")
        block, pan_fallback = _band_block(image) if image is not None else (None, False)
        if block is None:
            raise self.refuse(doc, "no Image/MS* or Image/PAN block (no time or location)")
        coords = block.find("ImagingCoordinates")
        corners = [] if coords is None else [
            (xml_text(coords, f"ImageGeog{c}/Longitude"), xml_text(coords, f"ImageGeog{c}/Latitude"))
            for c in _CORNER_TAGS
        ]
        centre = {} if coords is None else centre_fields(
            xml_text(coords, "ImageGeogCenter/Latitude"), xml_text(coords, "ImageGeogCenter/Longitude")
        )
        cloud = xml_text(root, "CloudCover/Average") or xml_text(root, "CloudCover")
        sun = root.find(".//Metadata/MetadataBlock/SunAngle")
        if sun is None:
            sun = root.find(".//SunAngle")
        return [{
            "platform": xml_text(root, "General/Satellite"),
            "instrument": xml_text(root, "General/Sensor"),
            "processing_level": xml_text(root, "General/ProductLevel"),
            "datetime": parse_datetime(xml_text(block, "ImagingTime/ImagingCenterTime/UTC")),
            "start_datetime": parse_datetime(xml_text(block, "ImagingTime/ImagingStartTime/UTC")),
            "end_datetime": parse_datetime(xml_text(block, "ImagingTime/ImagingEndTime/UTC")),
            "footprint": corner_footprint(corners),
            **centre,
            "gsd_m": _pair_mean(block, "ImageGSD") or _pair_mean(block, "CollectedGSD"),
            "cloud_cover": cloud_percent(cloud),
            "sun_elevation": to_float(xml_text(sun, "Elevation")) if sun is not None else None,
            "sun_azimuth": to_float(xml_text(sun, "Azimuth")) if sun is not None else None,
            "view_angle": to_float(xml_text(block, "Angle/OffNadir", "Angle/Offnadir")),  # K3 2016
            "extra": drop_none({
                "band_block": tag(block),
                "gsd_note": "no multispectral block: gsd_m is the pan GSD" if pan_fallback else None,
                "collected_gsd": _pair_mean(block, "CollectedGSD"),
                "incidence_angle": to_float(xml_text(block, "Angle/Incidence")),
                "orbit": xml_text(root, "General/OrbitNumber"),
                "orbit_direction": xml_text(root, "General/OrbitDirection"),
            }),
        }]
