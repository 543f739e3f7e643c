"""Landsat 8 interval definition file (``*_IDF.xml``): recognised so it is refused clearly.

An IDF describes a downlinked *interval* (several WRS rows) for the ground system: it has the
sensor, the path and row range and the file generation time (``gen_time``), but no scene
acquisition time, footprint or cloud cover. The user needs the scene's MTL instead.
"""

from __future__ import annotations

from typing import Any, ClassVar

from terrahash.metadata.base import MetadataReader
from terrahash.metadata.document import Document


class LandsatIdfReader(MetadataReader):
    """``<idf>`` root with ``landsat_interval_id``."""

    name: ClassVar[str] = "landsat_idf"
    description: ClassVar[str] = "Landsat interval definition file (refused: no acquisition time)"

    @classmethod
    def sniff(cls, doc: Document) -> bool:
        return (
            not doc.is_raster
            and doc.root_tag == "idf"
            and "landsat_interval_id" in doc.text[:5000]
        )

    def read(self, doc: Document) -> list[dict[str, Any]]:
        raise self.refuse(
            doc,
            "interval definition file (IDF): it describes a downlink interval and has only its "
            "generation time, no scene acquisition time or footprint; read the scene's MTL file "
            "(*_MTL.txt/.xml/.json) instead",
        )
