"""Sentinel-2 on AWS (Sinergise layout): ``productInfo.json``.

One record for the whole product, with only what the file states: ``name`` (platform
and level), ``timestamp`` (the datatake start, like ``PRODUCT_START_TIME``) and the MGRS
ids of ``tiles[]``. The file carries no geometry and no cloud cover, so footprint,
centre and cloud stay null (the per-tile values live in each ``tileInfo.json``).
"""

from __future__ import annotations

from typing import Any

from terrahash.metadata.base import MetadataReader
from terrahash.metadata.document import Document
from terrahash.metadata.readers._sentinel_common import MSI_GSD_M, s2_name_parts
from terrahash.metadata.values import parse_datetime


class Sentinel2AwsProductInfo(MetadataReader):
    name = "sentinel2_aws_productinfo"
    description = "Sentinel-2 on AWS productInfo.json (product name, datatake time, tile list)"
    priority = 40

    @classmethod
    def sniff(cls, doc: Document) -> bool:
        if not doc.looks_json or not doc.stripped.startswith("{"):
            return False
        data = doc.json
        if not isinstance(data, dict) or not isinstance(data.get("tiles"), list):
            return False
        has_s2_tiles = any(isinstance(t, dict) and "gridSquare" in t for t in data["tiles"])
        return (
            "name" in data
            and "timestamp" in data
            and (has_s2_tiles or "datatakeIdentifier" in data)
        )

    def read(self, doc: Document) -> list[dict[str, Any]]:
        data = doc.json
        sensed = parse_datetime(data.get("timestamp"))
        if sensed is None:
            raise self.refuse(doc, "no 'timestamp' (datatake start)")
        platform, level = s2_name_parts(data.get("name"))
        tiles = [t for t in data["tiles"] if isinstance(t, dict)]
        return [
            {
                "id": data.get("name"),
                "platform": platform,
                "instrument": "MSI" if platform else None,
                "processing_level": level,
                "datetime": sensed,
                "gsd_m": MSI_GSD_M if platform else None,
                "extra": {
                    k: v
                    for k, v in {
                        "datatake_id": data.get("datatakeIdentifier"),
                        "mgrs_tiles": [
                            f"{t.get('utmZone')}{t.get('latitudeBand')}{t.get('gridSquare')}".zfill(
                                5
                            )
                            for t in tiles
                            if t.get("gridSquare")
                        ],
                        "tile_timestamps": [t["timestamp"] for t in tiles if t.get("timestamp")],
                        "datetime_source": "timestamp: datatake start (see tile_timestamps)",
                    }.items()
                    if v
                },
            }
        ]
