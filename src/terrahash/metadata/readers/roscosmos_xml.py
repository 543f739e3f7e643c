"""Roscosmos passports (Windows-1251): ``<SPP_ROOT>`` with elements (Resurs-P Geoton/KShMSA)
and ``<PASP_ROOT>`` whose elements hold ``key = value`` text (Kanopus-V, Kanopus-V-IK).

Traps handled here:

* dates are ``d/m/Y`` and times may have one-digit fields (``9:11:0.000000``);
* PASP gives Moscow local time *and* ``dSessionDateUTC``/``tSessionTimeUTC``: UTC is used.
  SPP's ``dSceneDate``/``tSceneTime`` carry no zone; the Resurs-P samples are Moscow time
  (UTC+3; their sun elevation and *morning* azimuth only fit 01:55 UTC, not 04:55), so the
  zone whose computed sun elevation matches ``aSunElevC`` is taken, Moscow when undecidable;
* SPP corners and sun angles are ``D:M:S`` strings, and a latitude between 0 and -1 degree
  loses its sign (``0:20:27`` for -0.34): the sign is restored from the projected corners;
* the platform is named in Cyrillic (``cModelTxtName = "Канопус-В №5"``) or by ``cCodeKA``
  (``RSP`` = Resurs-P). ``nNumberKA`` (41 for a Resurs-P sample) is a ground-segment code, not
  the satellite's number, so Resurs-P stays ``resurs-p`` unless a model name gives the number;
* PASP states no pixel size: the product grid spacing (projected corner span / pixel count) is
  reported and ``extra['gsd_source']`` says so. SPP's ``nPixelImg`` is the product pixel.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any, ClassVar

from rasterio.crs import CRS
from rasterio.errors import CRSError

from terrahash.metadata.base import MetadataReader
from terrahash.metadata.document import Document
from terrahash.metadata.readers._geo import points_to_wgs84
from terrahash.metadata.readers._vendor_common import (
    centre_fields,
    corner_footprint,
    drop_none,
    point_mean,
    solar_elevation,
    valid_points,
)
from terrahash.metadata.values import MOSCOW, combine_date_time, dms_to_degrees, tag, to_float

_KV = re.compile(r"^\s*([A-Za-z_]\w*)\s*=(.*)$")  # value stripped in code: no backtracking
#: SPP/PASP corner names -> projected corner names (``nLUpNord``...).
_SPP_CORNERS = {"NW": "LUp", "NE": "RUp", "SE": "RDown", "SW": "LDown"}
_PASP_CORNERS = ("LUp", "RUp", "RDown", "LDown")
#: Largest plausible ratio of the along/across pixel spacings of a projected product.
_MAX_PIXEL_ASPECT = 1.25


def _clock(value: str | None) -> str | None:
    """``9:11:0.000000`` -> ``09:11:00.000000`` (what ``combine_date_time`` expects)."""
    if not value:
        return None
    m = re.match(r"^\s*(\d{1,2}):(\d{1,2}):(\d{1,2})(\.\d+)?", value)
    if not m:
        return value
    h, mi, s, frac = m.groups()
    return f"{int(h):02d}:{int(mi):02d}:{int(s):02d}{frac or ''}"


def _values(doc: Document) -> dict[str, str]:
    """Every ``key = value`` text line and every leaf element, first occurrence wins."""
    out: dict[str, str] = {}
    for el in doc.xml.iter():
        if tag(el) and len(el) == 0 and el.text and el.text.strip():
            out.setdefault(tag(el), el.text.strip())
    for line in doc.text.splitlines():
        m = _KV.match(line)
        if m:
            out.setdefault(m.group(1), m.group(2).strip().strip('"').strip())
    return out


def _projected_latlon(kv: dict[str, str], corner: str) -> tuple[float, float] | None:
    """(lat, lon) of a projected product corner (``n<corner>Nord``/``East``), via PROJ."""
    x, y = to_float(kv.get(f"n{corner}East")), to_float(kv.get(f"n{corner}Nord"))
    code = kv.get("nCoordSystCode")
    if x is None or y is None or not code or not code.isdigit():
        return None
    try:  # ValueError too where PROJ cannot reproject the point (outside the zone's domain)
        lons, lats = points_to_wgs84(CRS.from_epsg(int(code)), [x], [y])
    except (CRSError, ValueError):
        return None
    return lats[0], lons[0]


def _dms_signed(text: str | None, reference: float | None) -> float | None:
    """D:M:S -> degrees; a zero-degree value takes its sign from ``reference`` (see module doc)."""
    value = dms_to_degrees(text)
    if value is None or text is None:
        return value
    zero_degrees = re.match(r"^\s*-?0*:", text) is not None
    if zero_degrees and reference is not None and (reference < 0) != (value < 0):
        value = -value
    return value


class RoscosmosXmlReader(MetadataReader):
    """``<SPP_ROOT>`` (elements) or ``<PASP_ROOT>`` (key = value text) passports."""

    name: ClassVar[str] = "roscosmos_xml"
    description: ClassVar[str] = "Roscosmos passports: Resurs-P SPP_ROOT, Kanopus-V PASP_ROOT"

    @classmethod
    def sniff(cls, doc: Document) -> bool:
        return not doc.is_raster and doc.root_tag in ("SPP_ROOT", "PASP_ROOT")

    def read(self, doc: Document) -> list[dict[str, Any]]:
        kv = _values(doc)
        fields = self._spp(kv) if doc.root_tag == "SPP_ROOT" else self._pasp(kv)
        model = kv.get("cModelTxtName")
        platform = model if model and "?" not in model else kv.get("cCodeKA")
        fields.update({
            "platform": platform,
            "instrument": kv.get("cDeviceName"),
            "processing_level": kv.get("cLevel") or kv.get("cProcLevel"),
            "epsg": int(code) if (code := kv.get("nCoordSystCode", "")).isdigit() else None,
        })
        fields["extra"] = drop_none({
            **fields.get("extra", {}),
            "spacecraft_code": kv.get("nNumberKA"),
            "code_ka": kv.get("cCodeKA"),
            "model_name": model,
            "data_file": kv.get("cDataFileName"),
        })
        return [fields]

    def _spp(self, kv: dict[str, str]) -> dict[str, Any]:
        projected = {c: _projected_latlon(kv, p) for c, p in _SPP_CORNERS.items()}
        raw_corners = []
        for c in _SPP_CORNERS:
            ref = projected[c]
            lat = _dms_signed(kv.get(f"a{c}Lat"), ref[0] if ref else None)
            lon = _dms_signed(kv.get(f"a{c}Long"), ref[1] if ref else None)
            raw_corners.append((lon, lat))
        corners = valid_points(raw_corners)
        mean = point_mean(corners)
        centre = centre_fields(
            _dms_signed(kv.get("aMidLat"), mean[1] if mean else None),
            _dms_signed(kv.get("aMidLong"), mean[0] if mean else None),
        )
        sun_el = dms_to_degrees(kv.get("aSunElevC"))
        when, zone = self._scene_time(kv, centre, sun_el)
        return {
            "datetime": when,
            "footprint": corner_footprint(corners),
            **centre,
            # L1 (unprojected) passports give only the source pixel, which is then the image's.
            "gsd_m": to_float(kv.get("nPixelImg")) or to_float(kv.get("nPixelImgSrc")),
            "sun_elevation": sun_el,
            "sun_azimuth": dms_to_degrees(kv.get("aSunAzim")),
            "extra": {"time_zone": zone, "source_pixel_size": to_float(kv.get("nPixelImgSrc"))},
        }

    @staticmethod
    def _scene_time(
        kv: dict[str, str], centre: dict[str, float], sun_el: float | None
    ) -> tuple[datetime | None, str]:
        date, clock = kv.get("dSceneDate"), _clock(kv.get("tSceneTime"))
        if kv.get("dSessionDateUTC"):
            return combine_date_time(kv["dSessionDateUTC"], _clock(kv.get("tSessionTimeUTC")), UTC), "UTC"
        moscow = combine_date_time(date, clock, MOSCOW)
        utc = combine_date_time(date, clock, UTC)
        if moscow is None or utc is None or sun_el is None or not centre:
            return moscow, "Moscow (UTC+3), converted"
        lat, lon = centre["center_lat"], centre["center_lon"]
        if abs(solar_elevation(utc, lat, lon) - sun_el) < abs(solar_elevation(moscow, lat, lon) - sun_el):
            return utc, "UTC (matches the stated sun elevation)"
        return moscow, "Moscow (UTC+3), converted"

    @staticmethod
    def _pasp(kv: dict[str, str]) -> dict[str, Any]:
        corners = valid_points((kv.get(f"n{c}Lon"), kv.get(f"n{c}Lat")) for c in _PASP_CORNERS)
        lats = [to_float(v) for v in kv.get("bLat", "").split(",")]
        lons = [to_float(v) for v in kv.get("bLon", "").split(",")]
        outline = valid_points(zip(lons, lats, strict=False)) if len(lats) == len(lons) else []
        mean = point_mean(corners)
        if kv.get("dSessionDateUTC"):
            when = combine_date_time(kv["dSessionDateUTC"], _clock(kv.get("tSessionTimeUTC")), UTC)
            zone = "UTC (dSessionDateUTC)"
        else:
            when = combine_date_time(kv.get("dSessionDate"), _clock(kv.get("tSessionTime")), MOSCOW)
            zone = "Moscow (UTC+3), converted"
        sun = [to_float(v) for v in kv.get("bSunAngle", "").split(",")]
        sat = [to_float(v) for v in kv.get("bSatAngle", "").split(",")]
        gsd = _grid_spacing(kv)
        return {
            "datetime": when,
            "footprint": corner_footprint(outline if len(outline) >= 3 else corners),
            **(centre_fields(mean[1], mean[0]) if mean else {}),
            "gsd_m": gsd,
            "sun_elevation": sun[0] if sun and sun[0] is not None else None,
            "sun_azimuth": sun[1] if len(sun) > 1 else None,
            "extra": {
                "time_zone": zone,
                "satellite_elevation": sat[0] if sat and sat[0] is not None else None,
                "gsd_source": "product grid: projected corner span / pixel count" if gsd else None,
            },
        }


def _grid_spacing(kv: dict[str, str]) -> float | None:
    """Pixel spacing (m) of a projected product from its corner coordinates and size."""
    width, height = to_float(kv.get("nWidth")), to_float(kv.get("nHeight"))
    east = [v for c in ("LUp", "RUp") if (v := to_float(kv.get(f"n{c}East"))) is not None]
    north = [v for c in ("LUp", "LDown") if (v := to_float(kv.get(f"n{c}Nord"))) is not None]
    if not width or not height or len(east) < 2 or len(north) < 2:
        return None
    unit = (kv.get("cLUnitName") or kv.get("cEllipsLUnitName") or "metre").lower()
    if not unit.startswith("met"):
        return None
    dx = abs(east[1] - east[0]) / width
    dy = abs(north[1] - north[0]) / height
    if not dx or not dy or max(dx, dy) / min(dx, dy) > _MAX_PIXEL_ASPECT:
        # The corners describe another grid than the pixel counts (a KV1 MSS strip: 21.5 m
        # across, 1.9 m along): no pixel size can be derived, so it stays unknown.
        return None
    return round((dx + dy) / 2.0, 2)
