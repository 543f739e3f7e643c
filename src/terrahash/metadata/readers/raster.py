"""GeoTIFF / JPEG 2000 rasters: georeferencing from the raster itself, date and platform from
its tags, else from a standard product name.

The footprint is the raster's bounds reprojected to WGS84, ``gsd_m`` the pixel size when the
CRS is projected in metres, ``epsg`` the CRS code. Date, platform and cloud come from tags
(GDAL's ``IMAGERY`` domain, ``ACQUISITIONDATETIME``...), else from a standard Landsat or
Sentinel-2 product name found in a tag or, because a raster carries no text metadata of its
own, in the file name (the only reader that looks at a file name, and only for those
documented naming conventions). ``TIFFTAG_DATETIME`` is when the file was written (TIFF spec),
never the acquisition: it is kept as ``extra['file_datetime']`` only. Nothing else is
guessed: a raster with none of these has a null date and platform.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, ClassVar

import rasterio
from rasterio.errors import RasterioIOError
from rasterio.io import MemoryFile

from terrahash.metadata.base import MetadataReader
from terrahash.metadata.document import Document
from terrahash.metadata.readers._geo import centre_lonlat, epsg_code, to_wgs84
from terrahash.metadata.record import polygon
from terrahash.metadata.values import cloud_percent, parse_datetime

#: Landsat Collection 1/2 product id (``LC08_L1TP_224077_20200518_20200518_01_RT``).
LANDSAT_ID = re.compile(
    r"(?P<id>L(?P<sensor>[COTEM])(?P<sat>\d{2})_(?P<level>L\d[A-Z]{2})_(?P<path>\d{3})"
    r"(?P<row>\d{3})_(?P<date>\d{8})(?:_\d{8})?_(?P<collection>\d{2})_(?P<tier>T1|T2|RT|A1|A2))"
)
#: Landsat pre-collection scene id (``LC80900842016021LGN02``): year + day of year.
LANDSAT_SCENE = re.compile(
    r"(?P<id>L(?P<sensor>[COTEM])(?P<sat>\d)(?P<path>\d{3})(?P<row>\d{3})(?P<year>\d{4})"
    r"(?P<doy>\d{3})[A-Z]{3}\d{2})"
)
#: Sentinel-2 compact SAFE name: the first stamp is the datatake sensing start.
S2_COMPACT = re.compile(
    r"(?P<id>S2(?P<unit>[A-D])_MSI(?P<level>L1C|L2A)_(?P<stamp>\d{8}T\d{6})_N\d{4}_R\d{3}"
    r"_T(?P<tile>\d{2}[A-Z]{3})_\d{8}T\d{6})"
)
#: Other Sentinel-2 names (old OPER granules, shortened ``S2A_20160608T153121_T33UUU``): their
#: stamp may be the processing time on the sensing day, so only the day is taken.
S2_OTHER = re.compile(
    r"(?P<id>S2(?P<unit>[A-D])_(?:[A-Z0-9]+_)*?_?(?P<stamp>\d{8}T\d{6})(?:\w*?_T(?P<tile>\d{2}[A-Z]{3}))?)"
)
_S2_VALIDITY = re.compile(r"_V(?P<stamp>\d{8}T\d{6})_")
_LANDSAT_SENSORS = {"C": "OLI_TIRS", "O": "OLI", "E": "ETM", "M": "MSS"}
_BAND = re.compile(r"_(B\d{1,2}|B8A)(?=[._]|$)", re.I)
_DATE_TAGS = ("ACQUISITIONDATETIME", "ACQUISITION_DATETIME", "ACQUISITION_DATE", "DATE_ACQUIRED",
              "SENSING_TIME", "SENSINGTIME", "DATETIME_ORIGINAL", "EXIF_DATETIMEORIGINAL")
_PLATFORM_TAGS = ("SATELLITEID", "SATELLITE", "SPACECRAFT_ID", "PLATFORM", "MISSION")
_NAME_TAGS = (
    "TIFFTAG_IMAGEDESCRIPTION", "TIFFTAG_DOCUMENTNAME", "PRODUCT_ID", "LANDSAT_PRODUCT_ID"
)


def _tiff_time(value: str | None) -> datetime | None:
    """``YYYY:MM:DD HH:MM:SS`` (TIFF/EXIF) or any form ``parse_datetime`` knows."""
    if not value:
        return None
    text = re.sub(r"^(\d{4}):(\d{2}):(\d{2})", r"\1-\2-\3", value.strip())
    return parse_datetime(text)


def _day(text: str) -> datetime:
    return datetime.strptime(text[:8], "%Y%m%d").replace(tzinfo=UTC)


def product_fields(name: str) -> dict[str, Any]:
    """Fields a standard Landsat / Sentinel-2 product name states (empty dict when none)."""
    day_only = {"datetime_precision": "day"}
    if m := LANDSAT_ID.search(name):
        sensor = "TIRS" if m["sensor"] == "T" and int(m["sat"]) >= 8 else (
            "TM" if m["sensor"] == "T" else _LANDSAT_SENSORS[m["sensor"]])
        return {"id": m["id"], "platform": f"landsat-{int(m['sat'])}", "instrument": sensor,
                "processing_level": m["level"], "datetime": _day(m["date"]),
                "extra": {**day_only, "wrs_path": int(m["path"]), "wrs_row": int(m["row"]),
                          "collection_category": m["tier"]}}
    if m := S2_COMPACT.search(name):
        return {"id": m["id"], "platform": f"sentinel-2{m['unit'].lower()}", "instrument": "MSI",
                "processing_level": m["level"], "datetime": parse_datetime(m["stamp"]),
                "extra": {"tile_id": m["tile"]}}
    if m := S2_OTHER.search(name):
        validity = _S2_VALIDITY.search(name)
        when = parse_datetime(validity["stamp"]) if validity else _day(m["stamp"])
        extra = {"tile_id": m["tile"]} if m["tile"] else {}
        return {"id": m["id"], "platform": f"sentinel-2{m['unit'].lower()}", "instrument": "MSI",
                "datetime": when, "extra": extra if validity else {**extra, **day_only}}
    if m := LANDSAT_SCENE.search(name):
        sensor = "TM" if m["sensor"] == "T" else _LANDSAT_SENSORS[m["sensor"]]
        when = datetime(int(m["year"]), 1, 1, tzinfo=UTC) + timedelta(days=int(m["doy"]) - 1)
        return {"id": m["id"], "platform": f"landsat-{m['sat']}", "instrument": sensor,
                "datetime": when, "extra": {**day_only, "wrs_path": int(m["path"]),
                                            "wrs_row": int(m["row"])}}
    return {}


def _first_tag(tags: dict[str, str], names: tuple[str, ...]) -> str | None:
    upper = {k.upper(): v for k, v in tags.items()}
    for name in names:
        value = upper.get(name)
        if value and value.strip():
            return value.strip()
    return None


class RasterReader(MetadataReader):
    """TIFF / BigTIFF / JPEG 2000 by magic bytes, read with rasterio."""

    name: ClassVar[str] = "raster"
    description: ClassVar[str] = "GeoTIFF / JPEG 2000 raster (georeferencing, tags, product name)"
    priority: ClassVar[int] = 90

    @classmethod
    def sniff(cls, doc: Document) -> bool:
        return doc.is_raster

    def read(self, doc: Document) -> list[dict[str, Any]]:
        try:
            if doc.from_disk:  # only the first bytes were read: GDAL reads the file itself
                with rasterio.open(doc.path) as ds:
                    return [self._fields(doc, ds)]
            with MemoryFile(doc.data) as mem, mem.open() as ds:
                return [self._fields(doc, ds)]
        except RasterioIOError as exc:
            raise doc.error(f"raster: could not open the raster: {exc}") from exc

    def _fields(self, doc: Document, ds: Any) -> dict[str, Any]:
        tags = {**ds.tags(), **ds.tags(ns="IMAGERY")}
        fields: dict[str, Any] = {"id": Path(doc.path).stem}
        extra: dict[str, Any] = {"width": ds.width, "height": ds.height, "count": ds.count}
        named = product_fields(_first_tag(tags, _NAME_TAGS) or "")
        source = "tag"
        if not named:
            named, source = product_fields(Path(doc.path).name), "file name"
        if named:
            extra.update(named.pop("extra"))
            extra["product_name_source"] = source
            fields.update(named)
        tagged_time = _tiff_time(_first_tag(tags, _DATE_TAGS))
        if tagged_time is not None:
            fields["datetime"] = tagged_time
            extra.pop("datetime_precision", None)
        if created := _tiff_time(tags.get("TIFFTAG_DATETIME")):
            # when the file was written, never the acquisition: kept under its own name
            extra["file_datetime"] = created.isoformat()
        if platform := _first_tag(tags, _PLATFORM_TAGS):
            fields["platform"] = platform
        fields["cloud_cover"] = cloud_percent(_first_tag(tags, ("CLOUDCOVER", "CLOUD_COVER")))
        if ds.crs is not None:
            fields.update(self._georef(ds))
        band = _BAND.search(Path(doc.path).stem) if named else None
        descriptions = [d for d in ds.descriptions if d]
        fields["bands"] = descriptions or ([band.group(1).upper()] if band else None)
        fields["extra"] = extra
        return fields

    @staticmethod
    def _georef(ds: Any) -> dict[str, Any]:
        left, bottom, right, top = ds.bounds
        box = polygon([(left, bottom), (right, bottom), (right, top), (left, top)])
        lon, lat = centre_lonlat(box, ds.crs)
        gsd = None
        if ds.crs.is_projected and (ds.crs.linear_units or "").lower() in ("metre", "meter", "m"):
            gsd = round((abs(ds.transform.a) + abs(ds.transform.e)) / 2.0, 6)
        return {"footprint": to_wgs84(box, ds.crs), "center_lon": round(lon, 6),
                "center_lat": round(lat, 6), "gsd_m": gsd, "epsg": epsg_code(ds.crs)}
