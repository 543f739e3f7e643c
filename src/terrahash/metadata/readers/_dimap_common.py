"""What DIMAP v1 (SPOT-era, DMCii/SpaceMetric, GEOSAT) and DIMAP v2 (Airbus Pleiades, SPOT 6/7,
Pleiades Neo, PeruSat) share: the ``METADATA_FORMAT`` version check, ``MISSION`` +
``MISSION_INDEX`` platform naming, the volume-descriptor refusal and unit-aware numbers."""

from __future__ import annotations

import re
from typing import ClassVar

from lxml import etree

from terrahash.metadata.base import MetadataReader
from terrahash.metadata.document import Document
from terrahash.metadata.values import to_float

_FORMAT_VERSION = re.compile(r"<METADATA_FORMAT\s+version\s*=\s*[\"'](\d)")
#: ``unit`` attributes meaning metres / degrees (DIMAP writes both cases).
METRES = {"m", "M", "meter", "metre", "meters", "metres"}


def platform_name(mission: str | None, index: str | None) -> str | None:
    """``PHR`` + ``1A`` -> ``PHR 1A``, ``S1`` + ``4`` -> ``S1 4`` (Vision-1); ``Deimos 2`` +
    ``0001`` stays ``Deimos 2``: when the mission name already ends in a separate number, the
    index is a unit serial, not the satellite number."""
    if not mission:
        return None
    if index and not re.search(r"[\s_-]\d+[A-Za-z]?$", mission.strip()):
        return f"{mission.strip()} {index.strip()}"
    return mission.strip()


def metres(el: etree._Element | None) -> float | None:
    """A length element's value in metres; ``None`` for degree-valued or unitless-in-degrees."""
    if el is None:
        return None
    unit = (el.get("unit") or "m").strip()
    if unit not in METRES:
        return None
    return to_float(el.text)


class DimapReaderBase(MetadataReader):
    """Sniffs ``<Dimap_Document>`` by its ``METADATA_FORMAT`` major version."""

    #: Major DIMAP version this reader handles ("1" or "2").
    major_version: ClassVar[str]
    #: Other root elements holding the same content (Vision-1 ``Metadata_Document``).
    extra_roots: ClassVar[tuple[str, ...]] = ()

    @classmethod
    def sniff(cls, doc: Document) -> bool:
        if doc.is_raster or doc.root_tag not in ("Dimap_Document", *cls.extra_roots):
            return False
        m = _FORMAT_VERSION.search(doc.text[:4000])
        return m is not None and m.group(1) == cls.major_version

    def refuse_volume(self, doc: Document, root: etree._Element) -> None:
        profile = (root.findtext(".//Metadata_Identification/METADATA_PROFILE") or "").upper()
        if profile == "VOLUME":
            raise self.refuse(
                doc, "DIMAP volume descriptor (METADATA_PROFILE VOLUME): it lists the delivery's "
                "components and holds no acquisition metadata; read the DIM_*.XML it points to"
            )
