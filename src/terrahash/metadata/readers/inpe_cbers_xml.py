"""INPE (Brazil) ``<prdf>`` product XML for CBERS-4/4A and Amazonia-1, one file per band.

Times are UTC: ``viewing/center`` (what INPE's own cbers2stac publishes), else
``image/timeStamp/center``; ``reception/*`` is the downlink. Corners and centre come from
``image/imageData`` (the image's own corners; ``boundingBox`` is the map-grid envelope).
Merged CBERS-4A/Amazonia-1 WFI files hold ``leftCamera`` and ``rightCamera`` blocks: the scene
spans both (left UL/LL, right UR/LR, mean of the two centres). Angles such as
``sunIncidenceAngle`` are written as ``degree/minute/second/millisecond`` children.
``offNadirAngle`` in PAN5M/PAN10M files is the raw mirror step (e.g. ``17163``), not degrees,
so values outside +-90 are kept raw only.
"""

from __future__ import annotations

from typing import Any, ClassVar

from lxml import etree

from terrahash.metadata.base import MetadataReader
from terrahash.metadata.document import Document
from terrahash.metadata.readers._vendor_common import (
    CORNERS,
    centre_fields,
    corner_footprint,
    drop_none,
)
from terrahash.metadata.values import Nominal, parse_datetime, to_float, xml_text

#: Instruments whose band files mix a pan band with coarser multispectral bands: a pan-band
#: file reports its own pixel size, so the nominal multispectral GSD (m) is given instead.
MS_GSD_OF_PAN_MS_INSTRUMENTS: dict[str, Nominal] = {"WPM": Nominal(8.0)}


def _dms_children(el: etree._Element | None) -> float | None:
    """``<degree>20</degree><minute>19</minute><second>17</second><millisecond>38</...>``."""
    if el is None:
        return None
    parts = [to_float(el.findtext(k)) for k in ("degree", "minute", "second", "millisecond")]
    if parts[0] is None:
        return None
    deg, minute, sec, milli = (p or 0.0 for p in parts)
    sign = -1.0 if deg < 0 else 1.0
    return sign * (abs(deg) + minute / 60.0 + (sec + milli / 1000.0) / 3600.0)


def _corners_and_centre(
    image: etree._Element,
) -> tuple[list[tuple[str | None, str | None]], dict[str, float]]:
    data = image.find("imageData")
    if data is None:
        data = image.find("boundingBox")
    if data is None:
        return [(None, None)] * 4, {}
    corners = [(xml_text(data, f"{c}/longitude"), xml_text(data, f"{c}/latitude")) for c in CORNERS]
    return corners, centre_fields(xml_text(data, "CT/latitude"), xml_text(data, "CT/longitude"))


class InpeCbersXmlReader(MetadataReader):
    """Root ``<prdf>`` with ``satellite/name``."""

    name: ClassVar[str] = "inpe_cbers_xml"
    description: ClassVar[str] = "INPE prdf band XML (CBERS-4/4A, Amazonia-1)"

    @classmethod
    def sniff(cls, doc: Document) -> bool:
        return not doc.is_raster and doc.root_tag == "prdf" and "<satellite>" in doc.text

    def read(self, doc: Document) -> list[dict[str, Any]]:
        top = doc.xml
        left, right = top.find("leftCamera"), top.find("rightCamera")
        root = left if left is not None else top
        image = root.find("image")
        if image is None:
            raise self.refuse(doc, "no <image> block (no acquisition or location)")
        when = parse_datetime(xml_text(root, "viewing/center")) or parse_datetime(
            xml_text(image, "timeStamp/center")
        )
        corners, centre = _corners_and_centre(image)
        if right is not None and (right_image := right.find("image")) is not None:
            r_corners, r_centre = _corners_and_centre(right_image)
            corners = [corners[0], r_corners[1], r_corners[2], corners[3]]
            if centre and r_centre:
                centre = {k: (centre[k] + r_centre[k]) / 2 for k in centre}
        instrument = xml_text(root, "satellite/instrument")
        pixel = to_float(xml_text(image, "horizontalPixelSize", "verticalPixelSize"))
        gsd = pixel
        ms_gsd = MS_GSD_OF_PAN_MS_INSTRUMENTS.get((instrument or "").upper())
        if ms_gsd is not None and pixel is not None and pixel < ms_gsd:
            gsd = ms_gsd
        elevation = to_float(xml_text(image, "sunPosition/elevation"))
        incidence = _dms_children(root.find("sunIncidenceAngle"))
        if elevation is None and incidence is not None:
            elevation = round(90.0 - incidence, 6)
        off_nadir = to_float(xml_text(image, "offNadirAngle"))
        level = xml_text(image, "level")
        bands = [b.text.strip() for b in root.iterfind("availableBands/band") if b.text]
        return [{
            "platform": " ".join(
                p for p in (xml_text(root, "satellite/name"), xml_text(root, "satellite/number")) if p
            ) or None,
            "instrument": instrument,
            "processing_level": f"L{level}" if level and level.isdigit() else level,
            "datetime": when,
            "start_datetime": parse_datetime(xml_text(image, "timeStamp/begin")),
            "end_datetime": parse_datetime(xml_text(image, "timeStamp/end")),
            "footprint": corner_footprint(corners),
            **centre,
            "gsd_m": gsd,
            "sun_elevation": elevation,
            "sun_azimuth": to_float(xml_text(image, "sunPosition/sunAzimuth")),
            "view_angle": off_nadir if off_nadir is not None and abs(off_nadir) <= 90 else None,
            "bands": bands or None,
            "extra": drop_none({
                "path": xml_text(image, "path"),
                "row": xml_text(image, "row"),
                "orbit_direction": xml_text(image, "orbitDirection"),
                "file_pixel_size_m": pixel if gsd != pixel else None,
                "off_nadir_raw": off_nadir if off_nadir is not None and abs(off_nadir) > 90 else None,
                "sun_incidence_angle": incidence,
                "orientation_angle": _dms_children(root.find("orientationAngle")),
            }),
        }]
