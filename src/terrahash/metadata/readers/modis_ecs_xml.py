"""MODIS ECS granule metadata (``*.hdf.xml`` from LP DAAC / NSIDC, ``GranuleMetaDataFile``).

Tiled MODIS products are composites over ``RangeDateTime``: ``datetime`` is the start of the
period and ``start_datetime``/``end_datetime`` hold the range. Combined products (``MCD*``)
list both Terra and Aqua; one platform would be a guess, so ``platform`` is null and both are
kept in ``extra['platforms']``.
"""

from __future__ import annotations

from typing import Any, ClassVar

from terrahash.metadata.base import MetadataReader
from terrahash.metadata.document import Document
from terrahash.metadata.record import polygon
from terrahash.metadata.values import Nominal, cloud_percent, combine_date_time, to_float, xml_text

#: Nominal GSD (m) of each MODIS product's main bands, from the LP DAAC / NSIDC product pages;
#: keyed without the MOD (Terra) / MYD (Aqua) / MCD (combined) prefix, which share it.
PRODUCT_GSD_M: dict[str, float] = {
    "021KM": 1000.0, "02HKM": 500.0, "02QKM": 250.0,
    "09A1": 500.0, "09GA": 500.0, "09Q1": 250.0, "09GQ": 250.0, "09CMG": 5600.0,
    "43A1": 500.0, "43A3": 500.0, "43A4": 500.0,
    "10A1": 500.0, "10A2": 500.0, "10C1": 5600.0, "11A1": 1000.0, "11A2": 1000.0,
    "11B1": 6000.0, "13Q1": 250.0, "13A1": 500.0, "13A2": 1000.0, "13A3": 1000.0,
    "14A1": 1000.0, "14A2": 1000.0, "15A2H": 500.0, "15A3H": 500.0, "16A2": 500.0,
    "17A2H": 500.0, "12Q1": 500.0, "64A1": 500.0, "44B": 250.0,
    # gap-filled (GF) / yearly variants share their parent's grid.
    "16A2GF": 500.0, "16A3GF": 500.0, "17A2HGF": 500.0, "17A3H": 500.0, "17A3HGF": 500.0,
    "21A1D": 1000.0, "21A1N": 1000.0, "21A2": 1000.0, "44W": 250.0, "12Q2": 500.0,
    "10A1F": 500.0, "43A2": 500.0, "19A2": 1000.0, "19A3D": 1000.0,
    # climate-modelling grids (0.05 deg)
    "11C1": 5600.0, "11C2": 5600.0, "11C3": 5600.0, "13C1": 5600.0, "13C2": 5600.0,
    "43C4": 5600.0,
}
_MODIS_PREFIXES = ("MOD", "MYD", "MCD")


def _product_gsd(short_name: str | None) -> float | None:
    """Table value for MODIS products only (VIIRS ``VNP*`` shares the file format, not the grid)."""
    if not short_name or not short_name.upper().startswith(_MODIS_PREFIXES):
        return None
    gsd = PRODUCT_GSD_M.get(short_name[3:].upper())
    return Nominal(gsd) if gsd is not None else None


class ModisEcsXmlReader(MetadataReader):
    """``<GranuleMetaDataFile>`` with ``GranuleURMetaData``."""

    name: ClassVar[str] = "modis_ecs_xml"
    description: ClassVar[str] = "MODIS ECS granule metadata XML (*.hdf.xml)"

    @classmethod
    def sniff(cls, doc: Document) -> bool:
        return not doc.is_raster and doc.root_tag == "GranuleMetaDataFile"

    def read(self, doc: Document) -> list[dict[str, Any]]:
        root = doc.xml
        granule = root.find(".//GranuleURMetaData")
        if granule is None:
            raise self.refuse(doc, "no GranuleURMetaData element")
        short_name = xml_text(granule, "CollectionMetaData/ShortName")
        start = combine_date_time(
            xml_text(granule, "RangeDateTime/RangeBeginningDate"),
            xml_text(granule, "RangeDateTime/RangeBeginningTime"),
        )
        if start is None:
            raise self.refuse(doc, "no RangeDateTime/RangeBeginningDate")
        end = combine_date_time(
            xml_text(granule, "RangeDateTime/RangeEndingDate"),
            xml_text(granule, "RangeDateTime/RangeEndingTime"),
        )
        platforms: list[str] = []
        for el in granule.iter("PlatformShortName"):
            name = (el.text or "").strip().lower()
            if name and name not in platforms:
                platforms.append(name)
        psa = {
            (el.findtext("PSAName") or "").strip(): (el.findtext("PSAValue") or "").strip()
            for el in granule.iter("PSA")
        }
        points = [
            (to_float(p.findtext("PointLongitude")), to_float(p.findtext("PointLatitude")))
            for p in granule.iter("Point")
        ]
        valid = [(lon, lat) for lon, lat in points if lon is not None and lat is not None]
        gsd = _product_gsd(short_name) or to_float(psa.get("RESOLUTIONBANDS1AND2"))
        optional = {
            "product": short_name,
            "collection_version": xml_text(granule, "CollectionMetaData/VersionID"),
            "tile_h": int(psa["HORIZONTALTILENUMBER"]) if psa.get("HORIZONTALTILENUMBER") else None,
            "tile_v": int(psa["VERTICALTILENUMBER"]) if psa.get("VERTICALTILENUMBER") else None,
            "day_night": xml_text(granule, "DayNightFlag"),
            "platforms": platforms if len(platforms) > 1 else None,
        }
        return [
            {
                "id": xml_text(granule, "LocalGranuleID", "GranuleUR"),
                "platform": platforms[0] if len(platforms) == 1 else None,
                "instrument": xml_text(granule, "InstrumentShortName"),
                "processing_level": short_name,
                "datetime": start,
                "start_datetime": start,
                "end_datetime": end,
                "footprint": polygon(valid) if len(valid) >= 3 else None,
                "gsd_m": gsd,
                "cloud_cover": cloud_percent(xml_text(granule, "QAPercentCloudCover")),
                "extra": {k: v for k, v in optional.items() if v is not None},
            }
        ]
