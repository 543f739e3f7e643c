"""Sentinel-2 product metadata: ``MTD_MSIL1C.xml``, ``MTD_MSIL2A.xml``, old ``*_MTD_SAFL1C_*``.

Matched on the root element (``Level-1C_User_Product``...), never on the namespace,
which changes with every processing baseline (psd-12 ... psd-14).

Datetime: ``Datatake/DATATAKE_SENSING_START`` (else ``PRODUCT_START_TIME``), the start
of the datatake. For the usual one-tile product this equals the product start; the
tile's own ``SENSING_TIME`` lives only in ``MTD_TL.xml``. ``PRODUCT_START/STOP_TIME``
go to ``start_datetime``/``end_datetime`` (they differ for old multi-tile products).
The product MTD has no sun angles (they are per tile), so those stay null.
"""

from __future__ import annotations

import re
from typing import Any

from lxml import etree

from terrahash.metadata.base import MetadataReader
from terrahash.metadata.document import Document
from terrahash.metadata.readers._sentinel_common import MSI_GSD_M, MSI_MAIN_BANDS, latlon_ring
from terrahash.metadata.values import cloud_percent, parse_datetime, to_float, xml_text

_ROOT = re.compile(r"^Level-\d[A-C]p?_User_Product$")  # 2Ap: early Sen2Cor


class Sentinel2ProductXml(MetadataReader):
    name = "sentinel2_product_xml"
    description = (
        "Sentinel-2 MSI product metadata (MTD_MSIL1C/MTD_MSIL2A.xml, old SAFL1C), all baselines"
    )
    priority = 40

    @classmethod
    def sniff(cls, doc: Document) -> bool:
        return doc.looks_xml and bool(_ROOT.match(doc.root_tag or ""))

    def read(self, doc: Document) -> list[dict[str, Any]]:
        root = doc.xml
        info = root.find(".//Product_Info")
        if info is None:
            raise self.refuse(doc, "no General_Info/Product_Info element")
        start = parse_datetime(xml_text(info, "PRODUCT_START_TIME"))
        stop = parse_datetime(xml_text(info, "PRODUCT_STOP_TIME"))
        sensed = parse_datetime(xml_text(info, "Datatake/DATATAKE_SENSING_START")) or start
        if sensed is None:
            raise self.refuse(doc, "no DATATAKE_SENSING_START or PRODUCT_START_TIME")
        uri = xml_text(info, "PRODUCT_URI")
        bands, gsd = _bands_and_gsd(root)
        return [
            {
                "id": uri.removesuffix(".SAFE") if uri else None,
                "platform": xml_text(info, "Datatake/SPACECRAFT_NAME"),
                "instrument": "MSI",
                "processing_level": xml_text(info, "PROCESSING_LEVEL"),
                "datetime": sensed,
                "start_datetime": start,
                "end_datetime": stop,
                "footprint": latlon_ring(
                    xml_text(
                        root,
                        "Product_Footprint/Product_Footprint/Global_Footprint/EXT_POS_LIST",
                        "Global_Footprint/EXT_POS_LIST",
                    )
                ),
                "gsd_m": gsd,
                "cloud_cover": cloud_percent(xml_text(root, "Cloud_Coverage_Assessment")),
                "bands": bands,
                "extra": _extra(info, root),
            }
        ]


def _bands_and_gsd(root: etree._Element) -> tuple[list[str] | None, float | None]:
    """Physical band names and the finest resolution of B2/B3/B4/B8 (10 m)."""
    bands: list[str] = []
    main: list[float] = []
    for el in root.iter("Spectral_Information"):
        name = el.get("physicalBand")
        if name:
            bands.append(name)
        res = to_float(xml_text(el, "RESOLUTION"))
        if name in MSI_MAIN_BANDS and res:
            main.append(res)
    if main:
        return bands or None, min(main)
    product_type = xml_text(root, "PRODUCT_TYPE") or ""
    return bands or None, MSI_GSD_M if "MSI" in product_type.upper() else None


def _extra(info: etree._Element, root: etree._Element) -> dict[str, Any]:
    datatake = info.find("Datatake")
    extra = {
        "product_type": xml_text(info, "PRODUCT_TYPE"),
        "processing_baseline": xml_text(info, "PROCESSING_BASELINE"),
        "datatake_id": datatake.get("datatakeIdentifier") if datatake is not None else None,
        "relative_orbit": xml_text(info, "Datatake/SENSING_ORBIT_NUMBER"),
        "orbit_direction": xml_text(info, "Datatake/SENSING_ORBIT_DIRECTION"),
        "cloudy_pixel_over_land_percentage": to_float(
            xml_text(root, "CLOUDY_PIXEL_OVER_LAND_PERCENTAGE")
        ),
        "granules": [
            g.get("granuleIdentifier")
            for g in root.iter("Granule", "Granules")
            if g.get("granuleIdentifier")
        ],
        "datetime_source": "DATATAKE_SENSING_START (datatake start, not the tile SENSING_TIME)",
    }
    return {k: v for k, v in extra.items() if v not in (None, [])}
