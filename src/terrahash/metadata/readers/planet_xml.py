"""Planet ``*_metadata.xml`` (ESA EOP/OPT profile, ``ps:`` or ``re:`` ``EarthObservation``):
PlanetScope analytic scenes (PS2, PS2.SD, PSB.SD, 4- and 8-band) and RapidEye.

* ``opt:cloudCoverPercentage`` is written as a 0-1 fraction despite its name and ``uom``: the
  same scene's API JSON (``20181001_015434_1027``) says ``cloud_cover 0.13`` and the XML says
  ``0.13``; values above 1 can only be percentages and are taken as such;
* ``centerOf/Point/pos`` is ``lon lat`` like the GML 2 footprint ``coordinates``; the order is
  still checked against the footprint's extent before use;
* ``eop:resolution`` is the product pixel size (m).
"""

from __future__ import annotations

from typing import Any, ClassVar

from terrahash.metadata.base import MetadataReader
from terrahash.metadata.document import Document
from terrahash.metadata.platforms import normalize_platform
from terrahash.metadata.readers._vendor_common import (
    centre_fields,
    corner_footprint,
    drop_none,
    lon_lat_order,
)
from terrahash.metadata.values import cloud_percent, parse_datetime, to_float, xml_text


def planet_platform(name: str | None, serial: str | None) -> str | None:
    """PlanetScope satellites are anonymous serials (``1027``): the constellation is the
    platform, as in Planet's STAC. RapidEye serials (``RE-3``) name the satellite. ``name`` is
    the platform short name, the API ``provider`` or the ``item_type``."""
    low = (name or "").strip().lower().replace(" ", "")
    if low.startswith(("planetscope", "dove", "psscene", "psortho", "ps2", "psb")):
        return "planetscope"
    if low.startswith(("rapideye", "reortho", "rescene")) or (serial or "").upper().startswith("RE-"):
        digits = "".join(ch for ch in (serial or "") if ch.isdigit())
        return f"rapideye-{int(digits)}" if digits else "rapideye"
    if low.startswith(("skysat", "ssc", "ss0")):
        # SkySat serials name the satellite (SSC4 -> skysat-c4), as in Planet's STAC items.
        named = normalize_platform(serial) if serial else None
        return named if named and named.startswith("skysat-") else "skysat"
    return (name or "").strip() or None


def planet_cloud(value: Any) -> float | None:
    number = to_float(value)
    if number is None:
        return None
    return cloud_percent(number, fraction=number <= 1.0)


class PlanetXmlReader(MetadataReader):
    """Root ``EarthObservation`` in a Planet (or RapidEye) namespace."""

    name: ClassVar[str] = "planet_xml"
    description: ClassVar[str] = "Planet/RapidEye EOP metadata XML (*_metadata.xml)"

    @classmethod
    def sniff(cls, doc: Document) -> bool:
        if doc.is_raster or doc.root_tag != "EarthObservation":
            return False
        head = doc.text[:3000].lower()
        return "schemas.planet.com" in head or "schemas.rapideye" in head

    def read(self, doc: Document) -> list[dict[str, Any]]:
        root = doc.xml
        coords = xml_text(root, "Footprint/multiExtentOf//coordinates", "Footprint//coordinates")
        points = []
        for pair in (coords or "").split():
            lon, _, lat = pair.partition(",")
            points.append((lon, lat))
        footprint = corner_footprint(points)
        bbox = None
        if footprint is not None:
            ring = footprint["coordinates"][0]
            lons, lats = [p[0] for p in ring], [p[1] for p in ring]
            bbox = (min(lons), min(lats), max(lons), max(lats))
        centre: dict[str, float] = {}
        pos = (xml_text(root, "centerOf/Point/pos") or "").split()
        if len(pos) >= 2:
            a, b = to_float(pos[0]), to_float(pos[1])
            if a is not None and b is not None:
                centre = centre_fields(b, a) if lon_lat_order(a, b, bbox) else centre_fields(a, b)
        short = xml_text(root, "Platform/shortName")
        serial = xml_text(root, "Platform/serialIdentifier")
        return [{
            "id": xml_text(root, "EarthObservationMetaData/identifier"),
            "platform": planet_platform(short, serial),
            "instrument": xml_text(root, "Instrument/shortName"),
            "processing_level": xml_text(root, "EarthObservationMetaData/productType"),
            "datetime": parse_datetime(
                xml_text(root, "Acquisition/acquisitionDateTime", "Acquisition/acquisitionDate")
            ),
            "footprint": footprint,
            **centre,
            "gsd_m": to_float(xml_text(root, "Sensor/resolution", "ProductInformation/columnGsd")),
            "cloud_cover": planet_cloud(xml_text(root, "cloudCoverPercentage")),
            "sun_elevation": to_float(xml_text(root, "Acquisition/illuminationElevationAngle")),
            "sun_azimuth": to_float(xml_text(root, "Acquisition/illuminationAzimuthAngle")),
            "view_angle": to_float(xml_text(root, "Acquisition/spaceCraftViewAngle")),
            "epsg": int(e) if (e := xml_text(root, "spatialReferenceSystem/epsgCode") or "").isdigit()
            else None,
            "extra": drop_none({
                "satellite_id": serial,
                "incidence_angle": to_float(xml_text(root, "Acquisition/incidenceAngle")),
                "cloud_cover_raw": xml_text(root, "cloudCoverPercentage"),
                "unusable_data_percent": to_float(xml_text(root, "unusableDataPercentage")),
            }),
        }]
