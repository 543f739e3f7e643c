"""Landsat MTL in ODL text (``*_MTL.txt``): pre-collection, Collection 1 and Collection 2."""

from __future__ import annotations

import re
from typing import Any, ClassVar

from terrahash.metadata.document import Document
from terrahash.metadata.readers._landsat_common import MTL_ROOTS, LandsatMtlReader, parse_odl

_ROOT = re.compile(r"^[ \t]*GROUP\s*=\s*(" + "|".join(MTL_ROOTS) + r")\s*$", re.MULTILINE)


class LandsatMtlTxtReader(LandsatMtlReader):
    """``GROUP = LANDSAT_METADATA_FILE`` / ``L1_METADATA_FILE`` ODL (NUL padding is stripped)."""

    name: ClassVar[str] = "landsat_mtl_txt"
    description: ClassVar[str] = "Landsat MTL, ODL text (MSS/TM/ETM+/OLI; pre-collection, C1, C2)"

    @classmethod
    def sniff(cls, doc: Document) -> bool:
        if doc.is_raster or doc.looks_xml or doc.looks_json:
            return False
        return bool(_ROOT.search(doc.text[:2000]))

    def tree(self, doc: Document) -> dict[str, Any]:
        return parse_odl(doc.text)
