"""FGDC CSDGM XML (``<metadata><idinfo>...``), as delivered with NAIP DOQQs."""

from __future__ import annotations

from typing import ClassVar

from terrahash.metadata.document import Document
from terrahash.metadata.readers._fgdc_common import FgdcFields, FgdcReader
from terrahash.metadata.values import tag, xml_text


class NaipFgdcXmlReader(FgdcReader):
    """``<metadata>`` root with ``idinfo/timeperd``."""

    name: ClassVar[str] = "naip_fgdc_xml"
    description: ClassVar[str] = "FGDC CSDGM XML (NAIP aerial orthoimagery)"

    @classmethod
    def sniff(cls, doc: Document) -> bool:
        if doc.is_raster or doc.root_tag != "metadata":
            return False
        head = doc.text[:200000]
        return "<idinfo>" in head and "<timeperd>" in head

    def collect(self, doc: Document) -> FgdcFields:
        root = doc.xml
        period = root.find(".//idinfo/timeperd")
        dates: list[str] = []
        times: list[str] = []
        if period is not None:
            for el in period.iter("caldate", "begdate", "enddate"):
                if el.text and el.text.strip():
                    dates.append(el.text.strip())
                    sibling = "time" if tag(el) == "caldate" else tag(el).replace("date", "time")
                    parent = el.getparent()
                    clock = parent.findtext(sibling) if parent is not None else None
                    times.append((clock or "").strip() if clock and clock.strip() != "Unknown"
                                 else "")
        keywords = " ".join(t.strip() for t in root.xpath(".//themekey/text()") if t.strip())
        return FgdcFields(
            dates=dates,
            times=times,
            west=xml_text(root, "idinfo/spdom/bounding/westbc"),
            east=xml_text(root, "idinfo/spdom/bounding/eastbc"),
            north=xml_text(root, "idinfo/spdom/bounding/northbc"),
            south=xml_text(root, "idinfo/spdom/bounding/southbc"),
            resolution=xml_text(root, "planar/planci/coordrep/absres"),
            units=xml_text(root, "planar/planci/plandu"),
            utm_zone=xml_text(root, "utm/utmzone"),
            datum=xml_text(root, "geodetic/horizdn"),
            title=xml_text(root, "idinfo/citation/citeinfo/title"),
            resource=xml_text(root, "distinfo/resdesc"),
            keywords=keywords + " " + (xml_text(root, "idinfo/descript/abstract") or ""),
        )
