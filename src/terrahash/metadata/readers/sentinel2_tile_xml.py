"""Sentinel-2 tile (granule) metadata: ``MTD_TL.xml``, ``*_MTD_L1C_TL_*.xml``, AWS ``metadata.xml``.

The tile file names neither platform nor level except inside ``TILE_ID``
(``S2B_OPER_MSI_L2A_TL_...``); it has no lat/lon footprint, only the UTM grid
(``Tile_Geocoding``), which is reprojected here. Sun angles are given as a *zenith*.
``view_angle`` is the mean over bands of the mean viewing incidence zenith.
"""

from __future__ import annotations

import re
from typing import Any

from lxml import etree

from terrahash.metadata.base import MetadataReader
from terrahash.metadata.document import Document
from terrahash.metadata.readers._sentinel_common import (
    MSI_GSD_M,
    epsg_from_text,
    mean,
    projected_to_wgs84,
    s2_name_parts,
)
from terrahash.metadata.values import (
    cloud_percent,
    elevation_from_zenith,
    parse_datetime,
    tag,
    to_float,
    xml_float,
    xml_text,
)

_ROOT = re.compile(r"^Level-\d[A-C]p?_Tile_ID$")  # 2Ap: early Sen2Cor


class Sentinel2TileXml(MetadataReader):
    name = "sentinel2_tile_xml"
    description = "Sentinel-2 MSI tile/granule metadata (MTD_TL.xml), UTM grid reprojected to WGS84"
    priority = 40

    @classmethod
    def sniff(cls, doc: Document) -> bool:
        return doc.looks_xml and bool(_ROOT.match(doc.root_tag or ""))

    def read(self, doc: Document) -> list[dict[str, Any]]:
        root = doc.xml
        tile_id = xml_text(root, "General_Info/TILE_ID", "TILE_ID")
        sensed = parse_datetime(xml_text(root, "General_Info/SENSING_TIME", "SENSING_TIME"))
        if sensed is None:
            raise self.refuse(doc, "no General_Info/SENSING_TIME")
        platform, level = s2_name_parts(tile_id)
        if level is None:  # root says Level-1C_Tile_ID / Level-2A_Tile_ID
            level = f"Level-{tag(root)[6:8]}"
        footprint, center, epsg = _footprint(root)
        sun_zenith = xml_float(root, "Mean_Sun_Angle/ZENITH_ANGLE")
        return [
            {
                "id": tile_id,
                "platform": platform,
                "instrument": "MSI",
                "processing_level": level,
                "datetime": sensed,
                "footprint": footprint,
                "center_lon": center[0] if center else None,
                "center_lat": center[1] if center else None,
                "epsg": epsg,
                "gsd_m": _finest_resolution(root) or MSI_GSD_M,
                "cloud_cover": cloud_percent(
                    xml_text(
                        root, "Image_Content_QI/CLOUDY_PIXEL_PERCENTAGE", "CLOUDY_PIXEL_PERCENTAGE"
                    )
                ),
                "sun_elevation": elevation_from_zenith(sun_zenith),
                "sun_azimuth": xml_float(root, "Mean_Sun_Angle/AZIMUTH_ANGLE"),
                "view_angle": mean(
                    [
                        xml_float(el, "ZENITH_ANGLE")
                        for el in root.iter("Mean_Viewing_Incidence_Angle")
                    ]
                ),
                "extra": {
                    k: v
                    for k, v in {
                        "sun_zenith": sun_zenith,
                        "mgrs_tile": _mgrs(tile_id),
                        "datastrip_id": xml_text(root, "DATASTRIP_ID"),
                    }.items()
                    if v is not None
                },
            }
        ]


def _finest_resolution(root: etree._Element) -> float | None:
    values = [to_float(el.get("resolution")) for el in root.iter("Size", "Geoposition")]
    known = [v for v in values if v]
    return min(known) if known else None


def _footprint(
    root: etree._Element,
) -> tuple[dict[str, Any] | None, tuple[float, float] | None, int | None]:
    """Tile square from ULX/ULY and NROWS/NCOLS at the finest resolution, in WGS84."""
    geocoding = root.find(".//Tile_Geocoding")
    if geocoding is None:
        return None, None, None
    epsg = epsg_from_text(xml_text(geocoding, "HORIZONTAL_CS_CODE"))
    res = _finest_resolution(geocoding)
    if epsg is None or res is None:
        return None, None, epsg
    key = f"[@resolution='{int(res)}']"
    ulx = xml_float(geocoding, f"Geoposition{key}/ULX")
    uly = xml_float(geocoding, f"Geoposition{key}/ULY")
    rows = xml_float(geocoding, f"Size{key}/NROWS")
    cols = xml_float(geocoding, f"Size{key}/NCOLS")
    if ulx is None or uly is None or rows is None or cols is None:
        return None, None, epsg
    xdim = abs(xml_float(geocoding, f"Geoposition{key}/XDIM") or res)
    ydim = abs(xml_float(geocoding, f"Geoposition{key}/YDIM") or res)
    east, south = ulx + cols * xdim, uly - rows * ydim
    corners = [(ulx, uly), (east, uly), (east, south), (ulx, south)]
    footprint, center = projected_to_wgs84(corners, epsg)
    return footprint, center, epsg


def _mgrs(tile_id: str | None) -> str | None:
    match = re.search(r"_T(\d{2}[A-Z]{3})(?:_|$)", tile_id or "")
    return match.group(1) if match else None
