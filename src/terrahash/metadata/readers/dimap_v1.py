"""DIMAP v1 ``.dim`` / ``_Meta.xml``: UK-DMC2 (DMCii), Alsat-1B and Vision-1 (SpaceMetric
Keystone), Deimos-2 / GEOSAT-2, and the Vision-1 ``VIS1_ORT`` variant (``Metadata_Document``).

Variants handled: ``IMAGING_DATE`` + ``IMAGING_TIME`` (the scene centre, equal to the middle of
start/stop where both exist), else the middle of ``IMAGING_START_TIME``/``IMAGING_STOP_TIME``
(or GEOSAT's ``START_TIME``/``STOP_TIME``); corners as ``FRAME_LON``/``FRAME_LAT`` or
``FRAME_LON_UL``...; the centre from GEOSAT's ``FOOTPRINT_CENTER_OF`` quality parameter
(``POINT(lon;lat)``) or SPOT-era ``Scene_Center``, else the corner mean; cloud only where a
``CLOUD_COVER_PERCENTAGE`` quality parameter carries a value. Vision-1 writes
``MISSION=S1 INDEX=4`` (the S1-4 name).
"""

from __future__ import annotations

import re
from typing import Any, ClassVar

from lxml import etree

from terrahash.metadata.document import Document
from terrahash.metadata.readers._dimap_common import DimapReaderBase, metres, platform_name
from terrahash.metadata.readers._vendor_common import (
    centre_fields,
    corner_footprint,
    drop_none,
    midpoint,
    point_mean,
    valid_points,
)
from terrahash.metadata.values import Nominal, cloud_percent, combine_date_time, parse_datetime, tag, to_float

_POINT = re.compile(r"POINT\s*\(\s*([-+\d.eE]+)\s*[;,\s]\s*([-+\d.eE]+)\s*\)")


def _quality(root: etree._Element) -> dict[str, str]:
    """``QUALITY_PARAMETER_DESC`` -> value (first wins; empty values kept as '')."""
    out: dict[str, str] = {}
    for param in root.iter("Quality_Parameter"):
        desc = (param.findtext("QUALITY_PARAMETER_DESC") or "").strip()
        if desc and desc not in out:
            out[desc] = (param.findtext("QUALITY_PARAMETER_VALUE") or "").strip()
    return out


def _frame_corners(root: etree._Element) -> list[tuple[float, float]]:
    frame = root.find("Dataset_Frame")
    if frame is None:
        frame = root.find(".//Dataset_Frame")
    if frame is None:
        return []
    pairs = []
    for vertex in frame.iter("Vertex"):
        lon = next((c.text for c in vertex if tag(c).startswith("FRAME_LON")), None)
        lat = next((c.text for c in vertex if tag(c).startswith("FRAME_LAT")), None)
        pairs.append((lon, lat))
    return valid_points(pairs)


#: Nominal GSD (m) of SPOT 1-5 scene products by (mission index, ``SENSOR_CODE``): SPOT Scene
#: level-1A ``METADATA.DIM`` files have no map grid and state no resolution, only the camera
#: mode (X/I/J multispectral, P/M/A/B panchromatic, T supermode).
_SPOT_SENSOR_CODE_GSD_M: dict[tuple[str, str], Nominal] = {
    key: Nominal(gsd) for key, gsd in {
        **{(str(n), code): gsd for n in (1, 2, 3) for code, gsd in (("X", 20.0), ("P", 10.0))},
        ("4", "X"): 20.0, ("4", "I"): 20.0, ("4", "M"): 10.0,
        ("5", "X"): 10.0, ("5", "J"): 10.0, ("5", "A"): 5.0, ("5", "B"): 5.0, ("5", "T"): 2.5,
    }.items()
}


def _gsd(root: etree._Element, source: etree._Element | None) -> float | None:
    """Product pixel spacing (``Geoposition/XDIM`` in metres), else the stated resolution,
    else (SPOT 1-5 scenes) the nominal GSD of the camera mode."""
    gsd = metres(root.find(".//Geoposition_Insert/XDIM"))
    if gsd is None and source is not None:
        for tag in ("RESOLUTION", "PIXEL_RESOLUTION_X", "THEORETICAL_RESOLUTION"):
            gsd = metres(source.find(tag))
            if gsd is not None:
                break
    if gsd is None and source is not None:
        mission = (source.findtext("MISSION") or "").strip().upper()
        if mission == "SPOT":
            key = (
                (source.findtext("MISSION_INDEX") or "").strip(),
                (source.findtext("SENSOR_CODE") or "").strip().upper(),
            )
            gsd = _SPOT_SENSOR_CODE_GSD_M.get(key)
    return gsd


class DimapV1Reader(DimapReaderBase):
    """``<Dimap_Document>`` with ``METADATA_FORMAT version="1.x"`` (and Vision-1 ORT files)."""

    name: ClassVar[str] = "dimap_v1"
    description: ClassVar[str] = "DIMAP v1 (UK-DMC2, Alsat-1B, Vision-1, Deimos-2/GEOSAT-2)"
    major_version: ClassVar[str] = "1"
    extra_roots: ClassVar[tuple[str, ...]] = ("Metadata_Document",)

    def read(self, doc: Document) -> list[dict[str, Any]]:
        root = doc.xml
        self.refuse_volume(doc, root)
        source = root.find(".//Scene_Source")

        def text(tag: str) -> str | None:
            el = source.find(tag) if source is not None else None
            return el.text.strip() if el is not None and el.text and el.text.strip() else None

        start = parse_datetime(text("IMAGING_START_TIME") or text("START_TIME"))
        stop = parse_datetime(text("IMAGING_STOP_TIME") or text("STOP_TIME"))
        when = combine_date_time(text("IMAGING_DATE"), text("IMAGING_TIME")) if text(
            "IMAGING_TIME"
        ) else midpoint(start, stop)
        extra: dict[str, Any] = {}
        if when is None and text("IMAGING_DATE"):
            when = parse_datetime(text("IMAGING_DATE"))
            extra["datetime_precision"] = "day"
        quality = _quality(root)
        corners = _frame_corners(root)
        centre: dict[str, float] = {}
        m = _POINT.search(quality.get("FOOTPRINT_CENTER_OF", ""))
        if m:
            centre = centre_fields(m.group(2), m.group(1))
        scene_centre = root.find(".//Scene_Center")  # SPOT-era DIMAP v1
        if not centre and scene_centre is not None:
            centre = centre_fields(scene_centre.findtext("FRAME_LAT"), scene_centre.findtext("FRAME_LON"))
        if not centre and len(corners) >= 4 and (mean := point_mean(corners[:4])):
            lon, lat = mean
            centre = {"center_lat": lat, "center_lon": lon}
        level = root.findtext(".//Data_Processing/PROCESSING_LEVEL") or root.findtext(
            ".//Production/PRODUCT_TYPE"
        )
        view = to_float(text("VIEWING_ANGLE"))
        return [{
            "id": root.findtext(".//Dataset_Id/DATASET_NAME"),
            "platform": platform_name(text("MISSION"), text("MISSION_INDEX")),
            "instrument": text("INSTRUMENT"),
            "processing_level": (level or "").strip() or None,
            "datetime": when,
            "start_datetime": start,
            "end_datetime": stop,
            "footprint": corner_footprint(corners),
            **centre,
            "gsd_m": _gsd(root, source),
            "cloud_cover": cloud_percent(quality.get("CLOUD_COVER_PERCENTAGE")),
            "sun_elevation": to_float(text("SUN_ELEVATION")),
            "sun_azimuth": to_float(text("SUN_AZIMUTH")),
            "view_angle": view if view is not None else to_float(text("INCIDENCE_ANGLE")),
            "extra": drop_none({
                **extra,
                "mission": text("MISSION"),
                "mission_index": text("MISSION_INDEX"),
                "incidence_angle": to_float(text("INCIDENCE_ANGLE")),
                "geometric_processing": root.findtext(".//Data_Processing/GEOMETRIC_PROCESSING"),
            }),
        }]
