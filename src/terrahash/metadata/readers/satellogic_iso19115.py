"""Satellogic ISO 19115-2 scene metadata (``*_metadata_iso.xml``, ``gmi:MI_Metadata``).

The file has no acquisition-time element, only ``dateStamp`` (in ISO 19115 the *metadata*
date). Satellogic writes the capture instant there: it equals the capture timestamp that
opens the scene identifier (``20240314_172620_SN30_...``) and the stated sun elevation, so it
is taken as the acquisition only when one of those two checks agrees; otherwise ``datetime``
is null and the value is kept as ``extra['metadata_date']``.

Coordinates are written inconsistently: ``centerPoint`` is ``[lat, lon, height]`` and the
``EX_GeographicBoundingBox`` holds a GeoJSON-ordered ``(w, s, e, n)`` in its west, east,
south, north slots. Axis order is therefore checked (against the UTM zone of the declared
EPSG code, else the ISO/EPSG:4326 lat-lon default) and the box is used only if it contains
the centre. ``resolution`` says ``Non defined``: ``gsd_m`` is null.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any, ClassVar

from terrahash.metadata.base import MetadataReader
from terrahash.metadata.document import Document
from terrahash.metadata.readers._vendor_common import drop_none, solar_elevation
from terrahash.metadata.record import polygon
from terrahash.metadata.values import cloud_percent, parse_datetime, to_float, xml_text

_CAPTURE_ID = re.compile(r"^(\d{8})_(\d{6})_")
_NUMBERS = re.compile(r"[-+]?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?")


def _lat_lon(a: float, b: float, epsg: int | None) -> tuple[float, float]:
    """(lat, lon) from an unlabelled pair: the UTM zone of ``epsg`` decides, else (lat, lon)."""
    if epsg and (32601 <= epsg <= 32660 or 32701 <= epsg <= 32760):
        central = -183 + 6 * (epsg % 100)
        north = epsg < 32700
        for lat, lon in ((a, b), (b, a)):
            if abs(lon - central) <= 9 and (lat >= -1 if north else lat <= 1) and abs(lat) <= 90:
                return lat, lon
    return a, b


def _bbox(root: Any, lat: float, lon: float) -> tuple[dict[str, Any] | None, str | None]:
    w, e, s, n = (to_float(xml_text(root, f"EX_GeographicBoundingBox/{k}/Decimal")) for k in (
        "westBoundLongitude", "eastBoundLongitude", "southBoundLatitude", "northBoundLatitude"))
    if w is None or e is None or s is None or n is None:
        return None, None
    candidates: list[tuple[tuple[float, float, float, float], str | None]] = [
        ((w, s, e, n), None),
        ((w, e, s, n), "bbox slots hold (w, s, e, n); read in that order"),
    ]
    fitting = [
        (box, how) for box, how in candidates
        if box[0] <= lon <= box[2] and box[1] <= lat <= box[3]
    ]
    if not fitting:
        return None, "bounding box does not contain the centre: ignored"
    # A scene box is small: the tightest reading that contains the centre is the right one.
    (west, south, east, north), how = min(
        fitting, key=lambda c: (c[0][2] - c[0][0]) * (c[0][3] - c[0][1])
    )
    return polygon([(west, south), (east, south), (east, north), (west, north)]), how


class SatellogicIso19115Reader(MetadataReader):
    """ISO 19115-2 ``MI_Metadata``/``MD_Metadata`` whose producer is Satellogic."""

    name: ClassVar[str] = "satellogic_iso19115"
    description: ClassVar[str] = "Satellogic ISO 19115-2 scene metadata (*_metadata_iso.xml)"
    priority: ClassVar[int] = 40  # before generic ISO 19139 readers

    @classmethod
    def sniff(cls, doc: Document) -> bool:
        return (
            not doc.is_raster
            and doc.root_tag in ("MI_Metadata", "MD_Metadata")
            and "satellogic" in doc.text[:5000].lower()
        )

    def read(self, doc: Document) -> list[dict[str, Any]]:
        root = doc.xml
        ident = xml_text(root, "fileIdentifier/CharacterString") or ""
        epsg_text = xml_text(root, "referenceSystemIdentifier/RS_Identifier/code/CharacterString")
        epsg = int(epsg_text) if epsg_text and epsg_text.isdigit() else None
        numbers = [float(v) for v in _NUMBERS.findall(xml_text(root, "centerPoint/Point/coordinates") or "")]
        centre: dict[str, float] = {}
        footprint, bbox_note = None, None
        if len(numbers) >= 2:
            lat, lon = _lat_lon(numbers[0], numbers[1], epsg)
            centre = {"center_lat": lat, "center_lon": lon}
            footprint, bbox_note = _bbox(root, lat, lon)
        sun_el = to_float(xml_text(root, "illuminationElevationAngle/Real"))
        stamp = parse_datetime(xml_text(root, "dateStamp/Date", "dateStamp/DateTime"))
        when, how = self._acquisition(stamp, ident, sun_el, centre)
        info = xml_text(root, "supplementalInformation/CharacterString") or ""
        sat = _key_values(info)
        return [{
            "id": ident or None,
            "platform": sat.get("Satellite Name"),
            "processing_level": xml_text(root, "processingLevelCode/MD_Identifier/code/CharacterString"),
            "datetime": when,
            "footprint": footprint,
            **centre,
            "cloud_cover": cloud_percent(xml_text(root, "cloudCoverPercentage/Real")),
            "sun_elevation": sun_el,
            "sun_azimuth": to_float(xml_text(root, "illuminationAzimuthAngle/Real")),
            "epsg": epsg,
            "extra": drop_none({
                "datetime_source": how,
                "metadata_date": stamp.isoformat() if stamp and when is None else None,
                "satellite_number": sat.get("Satellite Number"),
                "constellation": sat.get("Constellation"),
                "bbox_note": bbox_note,
            }),
        }]

    @staticmethod
    def _acquisition(
        stamp: datetime | None, ident: str, sun_el: float | None, centre: dict[str, float]
    ) -> tuple[datetime | None, str | None]:
        if stamp is None:
            return None, None
        m = _CAPTURE_ID.match(ident)
        if m and stamp.strftime("%Y%m%d_%H%M%S") == f"{m.group(1)}_{m.group(2)}":
            return stamp, "dateStamp (equals the capture time in the scene identifier)"
        if sun_el is not None and centre:
            computed = solar_elevation(stamp, centre["center_lat"], centre["center_lon"])
            if abs(computed - sun_el) <= 2.0:
                return stamp, "dateStamp (consistent with the stated sun elevation)"
        return None, None


def _key_values(text: str) -> dict[str, str]:
    """``Key Words: value`` lines (last one wins), split in code: a regex with a lazy key and
    optional blanks around the colon backtracks for ever on a long run of spaces."""
    out: dict[str, str] = {}
    for line in text.splitlines():
        key, colon, value = line.partition(":")
        key, value = key.strip(), value.strip()
        if colon and value and re.fullmatch(r"[\w ]+", key):
            out[key] = value
    return out
