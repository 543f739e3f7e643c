"""Open Data Cube EO3 dataset document (``*.odc-metadata.yaml``, eodatasets3 / GA / DEA).

``geometry`` is in the dataset's own ``crs`` (projected metres, e.g. ``epsg:32655``), so it is
reprojected to WGS84 lon/lat; the centre is the area centroid of the valid-data outline.
"""

from __future__ import annotations

import re
from typing import Any, ClassVar

from terrahash.metadata.base import MetadataReader
from terrahash.metadata.document import Document
from terrahash.metadata.readers._geo import centre_lonlat, epsg_code, parse_crs, to_wgs84
from terrahash.metadata.values import Nominal, cloud_percent, parse_datetime, to_float

_SCHEMA = re.compile(r"^\$schema:\s*['\"]?https?://schemas\.opendatacube\.org/dataset", re.M)
_EO3_KEYS = re.compile(r"^properties:\s*$", re.M)


def _prop(props: dict[str, Any], *names: str) -> Any:
    for name in names:
        value = props.get(name)
        if value is not None and str(value).strip() != "":
            return value
    return None


def _gsd(props: dict[str, Any], measurements: dict[str, Any]) -> float | None:
    """Nominal multispectral GSD.

    eodatasets writes ``eo:gsd`` as the finest grid, which for Landsat ETM+/OLI products is the
    15 m panchromatic band; their multispectral bands are exactly twice that. So for a Landsat
    dataset that ships a panchromatic measurement the pan cell is doubled (the raw value stays
    in ``extra['eo:gsd']``); every other dataset's ``eo:gsd`` is taken as written.
    """
    gsd = to_float(_prop(props, "eo:gsd", "gsd"))
    platform = str(_prop(props, "eo:platform", "platform") or "").lower()
    has_pan = any("panchromatic" in str(name) for name in measurements)
    if gsd is not None and platform.startswith("landsat") and has_pan:
        return Nominal(gsd * 2.0)  # the multispectral grid by the sensor design, not stated
    return gsd


class OdcEo3YamlReader(MetadataReader):
    """EO3 YAML: ``$schema: https://schemas.opendatacube.org/dataset`` with ``properties``."""

    name: ClassVar[str] = "odc_eo3_yaml"
    description: ClassVar[str] = "Open Data Cube EO3 dataset YAML (eodatasets3, DEA, GA ARD)"

    @classmethod
    def sniff(cls, doc: Document) -> bool:
        if doc.is_raster or doc.looks_xml or doc.looks_json:
            return False
        head = doc.text[:4000]
        if _SCHEMA.search(head):
            return True
        return bool(_EO3_KEYS.search(doc.text) and re.search(r"^crs:", doc.text, re.M)
                    and re.search(r"^[ \t]+(eo|odc):\w+:", doc.text, re.M))

    def read(self, doc: Document) -> list[dict[str, Any]]:
        data = doc.yaml
        if not isinstance(data, dict) or not isinstance(data.get("properties"), dict):
            raise self.refuse(doc, "EO3 document without a 'properties' mapping")
        props: dict[str, Any] = data["properties"]
        measurements = data.get("measurements") or {}
        crs = parse_crs(data.get("crs"))
        geometry = data.get("geometry")
        footprint = centre = None
        if isinstance(geometry, dict) and geometry.get("coordinates"):
            if crs is None:
                raise self.refuse(doc, f"geometry given but crs {data.get('crs')!r} is unusable")
            footprint = to_wgs84(geometry, crs)
            centre = centre_lonlat(geometry, crs)
        when = parse_datetime(_prop(props, "datetime", "dtr:start_datetime"))
        if when is None:
            raise self.refuse(doc, "no properties.datetime")
        optional = {
            "eo:gsd": to_float(_prop(props, "eo:gsd")),
            "region_code": _prop(props, "odc:region_code"),
            "product": (data.get("product") or {}).get("name"),
            "product_family": _prop(props, "odc:product_family"),
            "collection_category": _prop(props, "landsat:collection_category"),
            "wrs_path": _prop(props, "landsat:wrs_path"),
            "wrs_row": _prop(props, "landsat:wrs_row"),
            "relative_orbit": _prop(props, "sat:relative_orbit"),
            "dataset_id": str(data["id"]) if data.get("id") else None,
        }
        return [
            {
                "id": _prop(props, "landsat:landsat_product_id", "sentinel:product_name")
                or data.get("label") or optional["dataset_id"],
                "platform": _prop(props, "eo:platform", "platform"),
                "instrument": _prop(props, "eo:instrument", "instruments"),
                "processing_level": _prop(props, "landsat:data_type", "odc:product_family"),
                "datetime": when,
                "start_datetime": parse_datetime(_prop(props, "dtr:start_datetime")),
                "end_datetime": parse_datetime(_prop(props, "dtr:end_datetime")),
                "footprint": footprint,
                "center_lon": round(centre[0], 6) if centre else None,
                "center_lat": round(centre[1], 6) if centre else None,
                "gsd_m": _gsd(props, measurements),
                "cloud_cover": cloud_percent(_prop(props, "eo:cloud_cover")),
                "sun_elevation": to_float(_prop(props, "eo:sun_elevation", "view:sun_elevation")),
                "sun_azimuth": to_float(_prop(props, "eo:sun_azimuth", "view:sun_azimuth")),
                "view_angle": to_float(_prop(props, "eo:off_nadir", "view:off_nadir")),
                "bands": sorted(str(k) for k in measurements) or None,
                "epsg": epsg_code(crs),
                "extra": {k: v for k, v in optional.items() if v is not None},
            }
        ]
