"""Landsat MTL as JSON (``*_MTL.json``, Collection 2): the ODL groups as nested objects, all
values strings."""

from __future__ import annotations

import re
from typing import Any, ClassVar

from terrahash.metadata.document import Document
from terrahash.metadata.readers._landsat_common import MTL_ROOTS, LandsatMtlReader

_ROOT = re.compile(r'^\s*\{\s*"(' + "|".join(MTL_ROOTS) + r')"\s*:')


class LandsatMtlJsonReader(LandsatMtlReader):
    """``{"LANDSAT_METADATA_FILE": {...}}`` JSON."""

    name: ClassVar[str] = "landsat_mtl_json"
    description: ClassVar[str] = "Landsat MTL, JSON (Collection 2)"

    @classmethod
    def sniff(cls, doc: Document) -> bool:
        return not doc.is_raster and doc.looks_json and bool(_ROOT.match(doc.text[:200]))

    def tree(self, doc: Document) -> dict[str, Any]:
        data = doc.json
        if not isinstance(data, dict):
            raise self.refuse(doc, "expected a JSON object with a LANDSAT_METADATA_FILE member")
        return data
