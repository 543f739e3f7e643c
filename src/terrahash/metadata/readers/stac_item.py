"""A single STAC Item (any STAC version from 0.7 to 1.1).

Generic JSON, so it sniffs late (priority 80): vendor JSON formats that are also GeoJSON
Features (Planet, BlackSky...) are claimed by their own readers first, and this one
requires STAC's own members (``stac_version``, ``stac_extensions`` or ``assets``).
See ``_stac_common`` for the field mapping.
"""

from __future__ import annotations

from typing import Any

from terrahash.metadata.base import MetadataReader
from terrahash.metadata.document import Document
from terrahash.metadata.readers._stac_common import item_fields, looks_like_stac_item


class StacItem(MetadataReader):
    name = "stac_item"
    description = "STAC Item JSON (0.7-1.1; eo, view, proj, sat, s2, landsat extensions)"
    priority = 80

    @classmethod
    def sniff(cls, doc: Document) -> bool:
        return doc.looks_json and doc.stripped.startswith("{") and looks_like_stac_item(doc.json)

    def read(self, doc: Document) -> list[dict[str, Any]]:
        return [item_fields(doc.json)]
