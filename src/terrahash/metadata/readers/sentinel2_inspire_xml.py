"""Sentinel-2 ``INSPIRE.xml`` (ISO 19139 ``MD_Metadata`` shipped inside every SAFE product).

Recognised by an ISO 19139 record whose citation title is a Sentinel-2 product name.
Only what proper ISO fields state is mapped: the title (as id) and the
``EX_GeographicBoundingBox`` (footprint and centre). Deliberately null:

* platform: the only mention is the free-text title, not a platform field;
* datetime: ``dateStamp`` and ``CI_Date`` are metadata dates (2012, 2014...). The
  ``EX_TemporalExtent`` written by ESA's generator is not the sensing time either: in
  the samples it is the product *generation* time with the month off by one
  (``2017-01-26T10:24:58`` for a product sensed 2017-02-26T10:20 and generated 10:24:58),
  so it is kept raw in ``extra`` but not used as the acquisition time;
* GSD (``equivalentScale`` 1:20 is not a ground distance), cloud cover, sun angles.
"""

from __future__ import annotations

import re
from typing import Any

from lxml import etree

from terrahash.metadata.base import MetadataReader
from terrahash.metadata.document import Document
from terrahash.metadata.record import box_polygon
from terrahash.metadata.values import xml_float, xml_text

_S2_TITLE = re.compile(r"^S2[A-D]_(?:MSI|OPER_)", re.I)
_TITLE = "identificationInfo/MD_DataIdentification/citation/CI_Citation/title/CharacterString"


class Sentinel2InspireXml(MetadataReader):
    name = "sentinel2_inspire_xml"
    description = "Sentinel-2 INSPIRE.xml (ISO 19139): product name and bounding box only"
    priority = 45

    @classmethod
    def sniff(cls, doc: Document) -> bool:
        if not doc.looks_xml or doc.root_tag != "MD_Metadata":
            return False
        return bool(_S2_TITLE.match(xml_text(doc.xml, _TITLE) or ""))

    def read(self, doc: Document) -> list[dict[str, Any]]:
        root = doc.xml
        title = xml_text(root, _TITLE)
        footprint = _bbox_polygon(root)
        if footprint is None:
            raise self.refuse(doc, "no EX_GeographicBoundingBox: nothing locates the scene")
        return [
            {
                "id": title.removesuffix(".SAFE") if title else None,
                "footprint": footprint,
                "extra": {
                    k: v
                    for k, v in {
                        "metadata_date": xml_text(root, "dateStamp/Date", "dateStamp/DateTime"),
                        "iso_temporal_extent": [
                            xml_text(root, "TimePeriod/beginPosition"),
                            xml_text(root, "TimePeriod/endPosition"),
                        ],
                        "datetime_note": "no acquisition time in a proper field (see reader)",
                    }.items()
                    if v and v != [None, None]
                },
            }
        ]


def _bbox_polygon(root: etree._Element) -> dict[str, Any] | None:
    box = root.find(".//EX_GeographicBoundingBox")
    if box is None:
        return None
    west = xml_float(box, "westBoundLongitude/Decimal")
    east = xml_float(box, "eastBoundLongitude/Decimal")
    south = xml_float(box, "southBoundLatitude/Decimal")
    north = xml_float(box, "northBoundLatitude/Decimal")
    return box_polygon(west, south, east, north)
