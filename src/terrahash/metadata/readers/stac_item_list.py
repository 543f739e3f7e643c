"""Several STAC Items in one file: a JSON array of Items or an ItemCollection / FeatureCollection.

One record per Item, in file order. Mosaics such as Planet NICFI carry a mid-period
placeholder ``datetime`` plus ``start_datetime``/``end_datetime``: the record keeps the
``datetime`` as STAC gives it and also sets the start/end period (see ``_stac_common``).
"""

from __future__ import annotations

from typing import Any

from terrahash.metadata.base import MetadataReader
from terrahash.metadata.document import Document
from terrahash.metadata.readers._stac_common import item_fields, looks_like_stac_item


def _items(data: Any) -> list[Any] | None:
    if isinstance(data, list):
        return data
    if (
        isinstance(data, dict)
        and data.get("type") == "FeatureCollection"
        and isinstance(data.get("features"), list)
    ):
        return data["features"]
    return None


class StacItemList(MetadataReader):
    name = "stac_item_list"
    description = "JSON array of STAC Items or a STAC ItemCollection: one record per Item"
    priority = 80

    @classmethod
    def sniff(cls, doc: Document) -> bool:
        if not doc.looks_json:
            return False
        items = _items(doc.json)
        return items is not None and len(items) > 0 and looks_like_stac_item(items[0])

    def read(self, doc: Document) -> list[dict[str, Any]]:
        items = _items(doc.json) or []
        bad = [i for i, item in enumerate(items) if not looks_like_stac_item(item)]
        if bad:
            raise doc.error(
                f"{self.name}: entry {bad[0]} is not a STAC Item (no Feature with STAC members)"
            )
        return [item_fields(item) for item in items]
