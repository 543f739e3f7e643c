"""Sentinel-2 on AWS (Sinergise layout): ``tileInfo.json``.

``timestamp`` is the tile sensing time (UTC). ``tileGeometry`` is GeoJSON in UTM with a
``crs`` member, reprojected here; when it is missing ``tileDataGeometry`` is used, and
with neither the footprint and centre stay null: the MGRS tile id alone is not turned
into a location (that would be a derived guess, not something the file states).
Platform and level come from ``productName`` (``S2B_MSIL1C_...``).
"""

from __future__ import annotations

from typing import Any

from terrahash.metadata.base import MetadataReader
from terrahash.metadata.document import Document
from terrahash.metadata.readers._sentinel_common import (
    MSI_GSD_M,
    epsg_from_text,
    projected_to_wgs84,
    s2_name_parts,
)
from terrahash.metadata.values import cloud_percent, parse_datetime, to_float


class Sentinel2AwsTileInfo(MetadataReader):
    name = "sentinel2_aws_tileinfo"
    description = "Sentinel-2 on AWS tileInfo.json (UTM tile geometry reprojected to WGS84)"
    priority = 40

    @classmethod
    def sniff(cls, doc: Document) -> bool:
        if not doc.looks_json or not doc.stripped.startswith("{"):
            return False
        data = doc.json
        return (
            isinstance(data, dict)
            and not isinstance(data.get("tiles"), list)
            and all(k in data for k in ("utmZone", "latitudeBand", "gridSquare"))
            and ("productName" in data or "tileGeometry" in data)
        )

    def read(self, doc: Document) -> list[dict[str, Any]]:
        data = doc.json
        sensed = parse_datetime(data.get("timestamp"))
        if sensed is None:
            raise self.refuse(doc, "no 'timestamp' (tile sensing time)")
        product = data.get("productName")
        datastrip = data.get("datastrip") if isinstance(data.get("datastrip"), dict) else {}
        # productName first; older tiles may only name the datastrip (S2A_OPER_MSI_L1C_DS_...)
        platform, level = s2_name_parts(product)
        if platform is None:
            platform, level = s2_name_parts(datastrip.get("id") or data.get("productPath"))
        footprint, center, epsg = _geometry(data)
        mgrs = f"{data.get('utmZone')}{data.get('latitudeBand')}{data.get('gridSquare')}"
        return [
            {
                "id": data.get("path") or product,
                "platform": platform,
                "instrument": "MSI" if platform else None,
                "processing_level": level,
                "datetime": sensed,
                "footprint": footprint,
                "center_lon": center[0] if center else None,
                "center_lat": center[1] if center else None,
                "epsg": epsg,
                "gsd_m": MSI_GSD_M if platform else None,
                "cloud_cover": cloud_percent(data.get("cloudyPixelPercentage")),
                "extra": {
                    k: v
                    for k, v in {
                        "product_name": product,
                        "mgrs_tile": mgrs.zfill(5),
                        "data_coverage_percentage": to_float(data.get("dataCoveragePercentage")),
                        "geometry_source": "tileGeometry"
                        if data.get("tileGeometry")
                        else ("tileDataGeometry" if data.get("tileDataGeometry") else None),
                    }.items()
                    if v is not None
                },
            }
        ]


def _geometry(
    data: dict[str, Any],
) -> tuple[dict[str, Any] | None, tuple[float, float] | None, int | None]:
    for key in ("tileGeometry", "tileDataGeometry"):
        geom = data.get(key)
        if (
            not isinstance(geom, dict)
            or geom.get("type") != "Polygon"
            or not geom.get("coordinates")
        ):
            continue
        crs = (geom.get("crs") or {}).get("properties", {}).get("name")
        epsg = epsg_from_text(crs)
        if epsg is None:
            continue
        ring = [(float(x), float(y)) for x, y, *_ in geom["coordinates"][0]]
        footprint, center = projected_to_wgs84(ring, epsg)
        return footprint, center, epsg
    return None, None, None
