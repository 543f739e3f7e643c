"""DIMAP v2 (Airbus): Pleiades 1A/1B, Pleiades Neo, SPOT 6/7, PeruSat-1 ``DIM_*.XML`` products
and the ``STRIP_*_DIM.XML`` source-strip files; ``VOL_*.XML`` volume descriptors are refused.

* time: ``Strip_Source/IMAGING_DATE`` + ``IMAGING_TIME`` (UTC, ``Z`` on Pleiades, none on
  PNEO); strips: ``Time_Range/START`` (the same instant ``IMAGING_TIME`` reports);
* sun and view angles: the ``Located_Geometric_Values`` whose ``LOCATION_TYPE`` is ``Center``
  (Top/Center/Bottom order varies: PNEO lists Center first, Pleiades second);
* GSD: the product's ``RESAMPLING_SPACING`` (else ``XDIM``): 0.5 m for pan-sharpened and pan
  Pleiades, 2 m for its multispectral products; strips state the multispectral bands'
  ``THEORETICAL_RESOLUTION``. Pan-only products (``SPECTRAL_PROCESSING=P``) report the pan GSD
  and say so in ``extra``.
"""

from __future__ import annotations

from typing import Any, ClassVar

from lxml import etree

from terrahash.metadata.document import Document
from terrahash.metadata.readers._dimap_common import DimapReaderBase, metres, platform_name
from terrahash.metadata.readers._vendor_common import (
    centre_fields,
    corner_footprint,
    drop_none,
)
from terrahash.metadata.values import cloud_percent, combine_date_time, parse_datetime, to_float


def _centre_values(root: etree._Element) -> etree._Element | None:
    for values in root.iter("Located_Geometric_Values"):
        if (values.findtext("LOCATION_TYPE") or "").strip().lower() == "center":
            return values
    return None


def _vertices(container: etree._Element | None) -> list[tuple[str | None, str | None]]:
    if container is None:
        return []
    return [(v.findtext("LON"), v.findtext("LAT")) for v in container.iter("Vertex")]


def _strip_ms_resolution(root: etree._Element) -> tuple[float | None, bool]:
    """(multispectral theoretical resolution, pan_only) from a strip's band configuration."""
    ms: list[float] = []
    pan: list[float] = []
    for band in root.iter("Band_Configuration"):
        value = metres(band.find("THEORETICAL_RESOLUTION"))
        if value is not None:
            (pan if (band.findtext("BAND_ID") or "").strip() == "P" else ms).append(value)
    if ms:
        return min(ms), False
    return (min(pan), True) if pan else (None, False)


class DimapV2Reader(DimapReaderBase):
    """``<Dimap_Document>`` with ``METADATA_FORMAT version="2.x"``."""

    name: ClassVar[str] = "dimap_v2"
    description: ClassVar[str] = "DIMAP v2 (Pleiades, Pleiades Neo, SPOT 6/7, PeruSat-1) and strips"
    major_version: ClassVar[str] = "2"

    def read(self, doc: Document) -> list[dict[str, Any]]:
        root = doc.xml
        self.refuse_volume(doc, root)
        strip = root.find(".//Strip_Source")
        is_strip = strip is None and root.find("Strip_Identification") is not None
        ident = root.find("Strip_Identification") if is_strip else strip
        if ident is None:
            raise self.refuse(doc, "no Strip_Source or Strip_Identification (no acquisition)")

        def text(el: etree._Element | None, path: str) -> str | None:
            value = el.findtext(f".//{path}") if el is not None else None
            return value.strip() if value and value.strip() else None

        extra: dict[str, Any] = {}
        if is_strip:
            when = parse_datetime(text(root, "Time_Range/START"))
            footprint = corner_footprint(_vertices(root.find(".//Album_Footprint")))
            gsd, pan_only = _strip_ms_resolution(root)
            centre: dict[str, float] = {}
            level = text(root, "Full_Strip/Raw_Raster/PROCESSING_LEVEL")
        else:
            when = combine_date_time(text(strip, "IMAGING_DATE"), text(strip, "IMAGING_TIME"))
            extent = root.find(".//Dataset_Extent")
            footprint = corner_footprint(_vertices(extent))
            centre = centre_fields(text(extent, "Center/LAT"), text(extent, "Center/LON"))
            gsd = metres(root.find(".//RESAMPLING_SPACING")) or metres(root.find(".//XDIM"))
            pan_only = (text(root, "SPECTRAL_PROCESSING") or "").upper() == "P"
            level = text(root, "Product_Settings/PROCESSING_LEVEL")
        if pan_only:
            extra["gsd_note"] = "panchromatic-only product: gsd_m is the pan GSD"
        located = _centre_values(root)
        return [{
            "id": text(root, "Dataset_Identification/DATASET_NAME") or text(root, "STRIP_ID"),
            "platform": platform_name(text(ident, "MISSION"), text(ident, "MISSION_INDEX")),
            "instrument": platform_name(text(ident, "INSTRUMENT"), text(ident, "INSTRUMENT_INDEX")),
            "processing_level": level,
            "datetime": when,
            "footprint": footprint,
            **centre,
            "gsd_m": gsd,
            "cloud_cover": cloud_percent(text(root, "Dataset_Content/CLOUD_COVERAGE")),
            "sun_elevation": to_float(text(located, "SUN_ELEVATION")),
            "sun_azimuth": to_float(text(located, "SUN_AZIMUTH")),
            "view_angle": to_float(text(located, "Acquisition_Angles/VIEWING_ANGLE")),
            "extra": drop_none({
                **extra,
                "center_time": text(located, "TIME"),
                "incidence_angle": to_float(text(located, "INCIDENCE_ANGLE")),
                "spectral_processing": text(root, "SPECTRAL_PROCESSING"),
                "metadata_profile": text(root, "Metadata_Identification/METADATA_PROFILE"),
                "snow_cover": to_float(text(root, "Dataset_Content/SNOW_COVERAGE")),
                "source": "strip (DS) metadata" if is_strip else None,
            }),
        }]
