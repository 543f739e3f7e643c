"""Sentinel-1 SAFE ``manifest.safe``: recognised so it is refused with a clear reason.

Sentinel-1 is a C-band SAR mission; its scenes are not optical and have no meaning for
optical retrieval (no cloud cover, no sun geometry, no spectral bands).
"""

from __future__ import annotations

from typing import Any

from terrahash.metadata.document import Document
from terrahash.metadata.readers._safe_manifest import SafeManifestReader


class Sentinel1Manifest(SafeManifestReader):
    name = "sentinel1_manifest"
    description = "Sentinel-1 SAFE manifest (recognised and refused: SAR, not optical)"
    priority = 45
    mission = 1

    def read(self, doc: Document) -> list[dict[str, Any]]:
        raise self.refuse(doc, "Sentinel-1 is a SAR product, not an optical scene")
