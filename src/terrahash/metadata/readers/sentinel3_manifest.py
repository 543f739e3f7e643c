"""Sentinel-3 OLCI / SLSTR ``xfdumanifest.xml``.

Same XFDU skeleton as Sentinel-2 (``platform`` = ``Sentinel-3`` + ``A``), footprint as a
``gml:posList`` in lat lon order. GSD: SLSTR states ``spatialResolution`` in the
manifest; OLCI does not, so it is taken from the product type, whose ``FR``/``RR``
suffix *is* the resolution (full 300 m, reduced 1200 m). Cloud cover comes from
``cloudyPixels@percentage`` (SLSTR); OLCI manifests have none, so it stays null.
"""

from __future__ import annotations

import re
from typing import Any

from lxml import etree

from terrahash.metadata.document import Document
from terrahash.metadata.readers._safe_manifest import SafeManifestReader
from terrahash.metadata.values import Nominal, cloud_percent, to_float, xml_text

#: OLCI product-type resolution codes (``OL_1_EFR``, ``OL_2_WRR``...) -> nominal GSD.
_OLCI_GSD = {"FR": Nominal(300.0), "RR": Nominal(1200.0)}
#: Sentinel-3 instruments that do not image (radar altimeter, microwave radiometer).
_NON_OPTICAL = frozenset({"SRAL", "MWR"})
_PRODUCT_TYPE = re.compile(r"^(OL|SL|SY|SR)_(\d)_([A-Z0-9]+?)_*$")


class Sentinel3Manifest(SafeManifestReader):
    name = "sentinel3_manifest"
    description = (
        "Sentinel-3 OLCI/SLSTR xfdumanifest.xml: platform, instrument, start time, footprint"
    )
    priority = 45
    mission = 3

    def read(self, doc: Document) -> list[dict[str, Any]]:
        fields = self.base_fields(doc)
        if (fields.get("instrument") or "").upper() in _NON_OPTICAL:
            raise self.refuse(
                doc,
                f"Sentinel-3 {fields['instrument']} is an altimetry product, not an optical scene",
            )
        root = doc.xml
        product_type = xml_text(root, "generalProductInformation/productType")
        match = _PRODUCT_TYPE.match(product_type or "")
        cloudy = root.find(".//cloudyPixels")
        name = xml_text(root, "generalProductInformation/productName")
        fields.update(
            {
                "id": name.removesuffix(".SEN3") if name else None,
                "processing_level": f"Level-{match.group(2)}" if match else None,
                "gsd_m": _gsd(root, match),
                "cloud_cover": cloud_percent(cloudy.get("percentage"))
                if cloudy is not None
                else None,
                "extra": {
                    k: v
                    for k, v in {
                        "product_type": product_type.rstrip("_") if product_type else None,
                        "timeliness": xml_text(root, "generalProductInformation/timeliness"),
                        "absolute_orbit": xml_text(root, "orbitReference/orbitNumber"),
                        "relative_orbit": xml_text(root, "orbitReference/relativeOrbitNumber"),
                    }.items()
                    if v
                },
            }
        )
        return [fields]


def _gsd(root: etree._Element, product: re.Match[str] | None) -> float | None:
    stated = [to_float(el.text) for el in root.iter("spatialResolution")]
    known = [v for v in stated if v]
    if known:
        return min(known)
    if product is None:
        return None
    family, _, kind = product.groups()
    if family == "OL":
        return _OLCI_GSD.get(kind[-2:])
    if family == "SL" and product.group(2) == "2":
        return 1000.0  # every SLSTR level-2 product is on the 1 km nadir grid
    return None
