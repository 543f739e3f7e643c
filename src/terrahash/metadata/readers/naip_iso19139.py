"""NAIP ISO 19115-2 / 19139 metadata (``gmi:MI_Metadata``, 2020 onwards).

These files often have no acquisition-date element: ``dateStamp`` is the metadata date. The
acquisition date is then read from the DOQQ identifier in ``fileIdentifier``
(``m_4112001_sw_10_060_20220716``: quad, quarter, UTM zone, resolution in cm, date); that is
file content, not the file name. A ``temporalElement`` wins when present.
"""

from __future__ import annotations

import re
from typing import Any, ClassVar

from terrahash.metadata.base import MetadataReader
from terrahash.metadata.document import Document
from terrahash.metadata.record import box_polygon
from terrahash.metadata.values import parse_datetime, to_float, xml_text

#: NAIP DOQQ id: m_<quad 7>_<ne|nw|se|sw>_<utm zone>_<resolution: cm (3 digits) or m>_<date>.
_DOQQ = re.compile(r"^m_\d{7}_[a-z]{2}_(\d{1,2})_(\d{1,3})_(\d{8})(?:_\d{8})?(?:\.\w+)?$", re.I)
_UTM = re.compile(r"UTM[ _]zone[ _]?(\d{1,2})", re.I)


def _doqq_gsd(resolution: str) -> float:
    """``060`` is 60 cm (current names); ``1`` / ``2`` are metres (names before 2016)."""
    return int(resolution) / 100.0 if len(resolution) == 3 else float(resolution)


class NaipIso19139Reader(MetadataReader):
    """ISO 19139 ``MI_Metadata``/``MD_Metadata`` that describes NAIP imagery."""

    name: ClassVar[str] = "naip_iso19139"
    description: ClassVar[str] = "NAIP ISO 19115-2/19139 XML (date from the DOQQ identifier)"

    @classmethod
    def sniff(cls, doc: Document) -> bool:
        if doc.is_raster or doc.root_tag not in ("MI_Metadata", "MD_Metadata"):
            return False
        text = doc.text
        return "National Agriculture Imagery Program" in text or "(NAIP)" in text

    def read(self, doc: Document) -> list[dict[str, Any]]:
        root = doc.xml
        identifier = xml_text(root, "fileIdentifier/CharacterString")
        doqq = _DOQQ.match(identifier or "")
        extra: dict[str, Any] = {"program": "NAIP"}
        when = parse_datetime(
            xml_text(root, "temporalElement//timePosition", "temporalElement//beginPosition")
        )
        if when is None and doqq:
            when = parse_datetime(doqq.group(3))
            extra["datetime_source"] = "fileIdentifier"
        if when is None:
            raise self.refuse(
                doc, "no acquisition date: no temporalElement and no NAIP DOQQ fileIdentifier"
            )
        if when.hour == when.minute == when.second == 0:
            extra["datetime_precision"] = "day"
        box = root.find(".//EX_GeographicBoundingBox")
        footprint = None
        if box is not None:
            w, e, s, n = (
                to_float(xml_text(box, f"{k}/Decimal"))
                for k in ("westBoundLongitude", "eastBoundLongitude",
                          "southBoundLatitude", "northBoundLatitude")
            )
            footprint = box_polygon(w, s, e, n)
        gsd = None
        length = root.find(".//MD_Dimension/resolution/Length")
        if length is not None and (length.get("uom") or "m").lower() in ("m", "meter", "metre",
                                                                         "meters", "metres"):
            gsd = to_float(length.text)
        if gsd is None and doqq:
            gsd = _doqq_gsd(doqq.group(2))
        zone = _UTM.search(xml_text(root, "referenceSystemIdentifier//title") or "")
        utm = int(zone.group(1)) if zone else (int(doqq.group(1)) if doqq else None)
        return [
            {
                "id": identifier,
                "datetime": when,
                "footprint": footprint,
                "gsd_m": gsd,
                "epsg": 26900 + utm if utm and 1 <= utm <= 60 else None,
                "extra": extra,
            }
        ]
