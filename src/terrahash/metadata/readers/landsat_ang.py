"""Landsat angle-coefficient sidecar (``*_ANG.txt``): recognised so it is refused clearly.

The file holds the satellite ephemeris, solar vectors and per-band angle RPCs, but no scene
acquisition time, footprint or cloud cover: the ephemeris epoch is the start of the orbit
samples, not the scene-centre time. Guessing a scene from it would be wrong, so the reader
points the user at the scene's MTL instead.
"""

from __future__ import annotations

import re
from typing import Any, ClassVar

from terrahash.metadata.base import MetadataReader
from terrahash.metadata.document import Document

_HEADER = re.compile(r"^[ \t]*GROUP\s*=\s*FILE_HEADER\s*$", re.MULTILINE)
_ANGLE_GROUPS = re.compile(r"^[ \t]*GROUP\s*=\s*(EPHEMERIS|SOLAR_VECTOR|RPC_BAND\d+)\s*$", re.M)


class LandsatAngReader(MetadataReader):
    """``GROUP = FILE_HEADER`` + ``EPHEMERIS`` / ``RPC_BANDnn`` ODL."""

    name: ClassVar[str] = "landsat_ang"
    description: ClassVar[str] = "Landsat angle-coefficient file (refused: no acquisition time)"

    @classmethod
    def sniff(cls, doc: Document) -> bool:
        if doc.is_raster or doc.looks_xml or doc.looks_json:
            return False
        head = doc.text[:20000]
        return bool(_HEADER.search(head) and _ANGLE_GROUPS.search(head) and "LANDSAT" in head)

    def read(self, doc: Document) -> list[dict[str, Any]]:
        raise self.refuse(
            doc,
            "angle-coefficient sidecar (ANG): it has no acquisition time, footprint or cloud "
            "cover; read the scene's MTL file (*_MTL.txt/.xml/.json) instead",
        )
