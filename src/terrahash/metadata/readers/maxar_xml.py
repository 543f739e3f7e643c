"""Maxar / DigitalGlobe ``<isd><IMD>`` XML (the ``.IMD`` content in upper-case tags, plus the
ATT/EPH/GEO/RPB tables) and the order ``<README>`` XML.

The README describes the delivery, not the image: it has the collection window, the order's
NW/SE corners and ``CLOUDCOVER`` (the same 0-1 fraction as the IMD) but no satellite, GSD or
angles. Those are read as they are and the rest stays null.
"""

from __future__ import annotations

from typing import Any, ClassVar

from terrahash.metadata.document import Document
from terrahash.metadata.readers._maxar_common import TOP, MaxarImdReaderBase, Tree
from terrahash.metadata.readers._vendor_common import corner_footprint, drop_none, midpoint
from terrahash.metadata.values import cloud_percent, parse_datetime, tag, xml_text


class MaxarXmlReader(MaxarImdReaderBase):
    """Root ``<isd>`` with an ``<IMD>`` child, or a DigitalGlobe order ``<README>``."""

    name: ClassVar[str] = "maxar_xml"
    description: ClassVar[str] = "Maxar/DigitalGlobe ISD XML (<isd><IMD>) and order README.XML"

    @classmethod
    def sniff(cls, doc: Document) -> bool:
        if doc.is_raster:
            return False
        root = doc.root_tag
        if root == "isd":
            return "<IMD>" in doc.text[:2000]
        return root == "README" and "<CLOUDCOVER>" in doc.text and "<COLLECTIONSTART>" in doc.text

    def tree(self, doc: Document) -> Tree:
        imd = doc.xml.find("IMD")
        if imd is None:
            raise self.refuse(doc, "<isd> without an <IMD> block")
        tree: Tree = {TOP: {}}
        for child in imd:
            if len(child):
                tree[tag(child)] = {
                    tag(g).lower(): g.text.strip() for g in child if g.text and g.text.strip()
                }
            elif child.text and child.text.strip():
                tree[TOP].setdefault(tag(child).lower(), child.text.strip())
        return tree

    def read(self, doc: Document) -> list[dict[str, Any]]:
        if tag(doc.xml) == "README":
            return [self._readme(doc)]
        return super().read(doc)

    @staticmethod
    def _readme(doc: Document) -> dict[str, Any]:
        root = doc.xml
        start = parse_datetime(xml_text(root, "COLLECTIONSTART"))
        stop = parse_datetime(xml_text(root, "COLLECTIONSTOP"))
        north, west = xml_text(root, "NWLAT"), xml_text(root, "NWLONG")
        south, east = xml_text(root, "SELAT"), xml_text(root, "SELONG")
        return {
            "id": xml_text(root, "ORDERNO"),
            "datetime": start,
            "start_datetime": start,
            "end_datetime": stop,
            "footprint": corner_footprint([(west, north), (east, north), (east, south), (west, south)]),
            "cloud_cover": cloud_percent(xml_text(root, "CLOUDCOVER"), fraction=True),
            "extra": drop_none({
                "source": "order README: no satellite, GSD or angles are stated",
                "collection_middle": (m := midpoint(start, stop)) and m.isoformat(),
                "area_description": xml_text(root, "AREADESCRIPTION"),
            }),
        }
