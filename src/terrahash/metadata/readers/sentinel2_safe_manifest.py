"""Sentinel-2 SAFE ``manifest.safe`` (XFDU).

Platform is ``familyName`` + ``number`` (``SENTINEL`` + ``2B``); the instrument is the
second ``familyName`` (``MSI``). ``startTime`` may lack a ``Z``; it is UTC. The level is
read from the XFDU ``version`` / package ``unitType`` (``Product_Level-2A``). The manifest
states no cloud cover, so that stays null.
"""

from __future__ import annotations

import re
from typing import Any

from terrahash.metadata.document import Document
from terrahash.metadata.readers._safe_manifest import SafeManifestReader
from terrahash.metadata.readers._sentinel_common import MSI_GSD_M
from terrahash.metadata.values import xml_text

_LEVEL = re.compile(r"level[-_]?(\d[a-c])", re.I)


class Sentinel2SafeManifest(SafeManifestReader):
    name = "sentinel2_safe_manifest"
    description = "Sentinel-2 SAFE manifest.safe (XFDU): platform, start time, footprint"
    priority = 45
    mission = 2

    def read(self, doc: Document) -> list[dict[str, Any]]:
        fields = self.base_fields(doc)
        root = doc.xml
        unit = root.find(".//informationPackageMap/contentUnit")
        level_text = " ".join(
            filter(None, [unit.get("unitType") if unit is not None else None, root.get("version")])
        )
        level = _LEVEL.search(level_text)
        fields.update(
            {
                "processing_level": f"Level-{level.group(1).upper()}" if level else None,
                "gsd_m": MSI_GSD_M if (fields.get("instrument") or "").upper() == "MSI" else None,
                "extra": {
                    k: v
                    for k, v in {
                        "absolute_orbit": xml_text(root, "orbitReference/orbitNumber"),
                        "relative_orbit": xml_text(root, "orbitReference/relativeOrbitNumber"),
                    }.items()
                    if v
                },
            }
        )
        return [fields]
