"""Base for ESA SAFE / XFDU manifests (``manifest.safe``, ``xfdumanifest.xml``) of Sentinel-1/2/3.

All three missions share ``metadataSection``: ``platform/familyName`` + ``number``, an
``instrument/familyName`` (with ``abbreviation``), ``acquisitionPeriod/startTime`` (UTC,
with or without ``Z``) and a ``footPrint`` as ``gml:coordinates`` (``lat,lon`` pairs) or
``gml:posList`` (``lat lon``). Subclasses differ only in the mission they accept and in
the few mission-specific fields they add.
"""

from __future__ import annotations

import re
from typing import Any, ClassVar

from lxml import etree

from terrahash.metadata.base import MetadataReader
from terrahash.metadata.document import Document
from terrahash.metadata.readers._sentinel_common import latlon_ring
from terrahash.metadata.values import parse_datetime, xml_text

_MISSION = re.compile(r"sentinel[\s_-]*(\d)", re.I)


def manifest_mission(root: etree._Element) -> int | None:
    """Sentinel mission number (1, 2, 3...) stated by the manifest's platform block."""
    platform = root.find(".//metadataSection//platform")
    if platform is None:
        return None
    family = xml_text(platform, "./familyName") or ""
    number = xml_text(platform, "./number") or ""
    match = _MISSION.search(f"{family}{number}") or _MISSION.search(f"{family}-{number}")
    return int(match.group(1)) if match else None


def _instrument_name(element: etree._Element | None) -> str | None:
    """``abbreviation`` (``MSI``, ``OLCI``) when given, else the spelled-out family name."""
    if element is None:
        return None
    return (element.get("abbreviation") or element.text or "").strip() or None


class SafeManifestReader(MetadataReader):
    """Shared sniffing and field mapping; ``mission`` picks the Sentinel family."""

    #: Sentinel mission number this reader accepts.
    mission: ClassVar[int]

    @classmethod
    def sniff(cls, doc: Document) -> bool:
        if not doc.looks_xml or doc.root_tag != "XFDU":
            return False
        return manifest_mission(doc.xml) == cls.mission

    def base_fields(self, doc: Document) -> dict[str, Any]:
        """Fields every Sentinel manifest states the same way."""
        root = doc.xml
        platform = root.find(".//metadataSection//platform")
        family = xml_text(platform, "./familyName") if platform is not None else None
        number = xml_text(platform, "./number") if platform is not None else None
        instrument = platform.find("./instrument/familyName") if platform is not None else None
        start = parse_datetime(xml_text(root, "acquisitionPeriod/startTime"))
        if start is None:
            raise self.refuse(doc, "no acquisitionPeriod/startTime")
        stop = parse_datetime(xml_text(root, "acquisitionPeriod/stopTime"))
        footprint = latlon_ring(xml_text(root, "footPrint/coordinates", "footPrint/posList"))
        return {
            "platform": f"{family} {number}" if family and number else family,
            "instrument": _instrument_name(instrument),
            "datetime": start,
            "start_datetime": start,
            "end_datetime": stop,
            "footprint": footprint,
        }
