"""ISRO / NRSC product metadata text (``KEY=VALUE``, spaces optional): Resourcesat-2/2A
``*_BAND_META.txt`` (LISS-3, LISS-4, AWiFS) and CartoSat ``*_P_MET.TXT``.

Variants: ``SceneCenterTime`` is a full ``DD-MON-YYYY hh:mm:ss.f`` in BAND_META but time-only
(``02:15:56:0151``, a colon before the fraction) in P_MET, whose date is ``DateOfPass=28DEC18``.
Sun azimuth is ``SunAzimuthAtCenter``, misspelled ``SunAziumthAtCenter`` in some LISS-4 files,
or ``SunAzimuth``. GSD is the product's output pixel (``OutputResolution*``, P_MET
``Resolution*``); the sensor's input resolution stays in ``extra``. Times are UTC.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any, ClassVar

from terrahash.metadata.base import MetadataReader
from terrahash.metadata.document import Document
from terrahash.metadata.readers._vendor_common import (
    CORNERS,
    centre_fields,
    corner_footprint,
    drop_none,
)
from terrahash.metadata.values import combine_date_time, parse_datetime, to_float

_SAT_ID = re.compile(r"^[ \t]*SatID\s*=", re.M)


def _pass_date(value: str | None) -> datetime | None:
    """``28DEC18`` (P_MET) or any form ``parse_datetime`` knows (``30-SEP-2019``)."""
    if not value:
        return None
    text = value.strip()
    if re.fullmatch(r"\d{2}[A-Za-z]{3}\d{2}", text):
        return datetime.strptime(text.title(), "%d%b%y").replace(tzinfo=UTC)
    return parse_datetime(text)


def _mean(kv: dict[str, str], *keys: str) -> float | None:
    values = [v for k in keys if (v := to_float(kv.get(k))) is not None and v > 0]
    return round(sum(values) / len(values), 6) if values else None


class IsroTxtReader(MetadataReader):
    """Text with ``SatID=`` and ``SceneCenter*`` keys."""

    name: ClassVar[str] = "isro_txt"
    description: ClassVar[str] = "ISRO/NRSC BAND_META.txt and P_MET.TXT (Resourcesat, CartoSat)"

    @classmethod
    def sniff(cls, doc: Document) -> bool:
        if doc.is_raster or doc.looks_xml or doc.looks_json:
            return False
        head = doc.text[:20_000]
        return _SAT_ID.search(head) is not None and "SceneCenter" in head

    def read(self, doc: Document) -> list[dict[str, Any]]:
        kv: dict[str, str] = {}
        for line in doc.text.splitlines():
            key, sep, value = line.partition("=")
            if sep and key.strip() and key.strip() not in kv:
                kv[key.strip()] = value.strip()
        centre_time = kv.get("SceneCenterTime")
        when = parse_datetime(centre_time) if centre_time and "-" in centre_time else None
        if when is None:  # time-only SceneCenterTime: the date is DateOfPass
            day = _pass_date(kv.get("DateOfPass"))
            when = combine_date_time(day.date().isoformat(), centre_time) if day else None
        corners = [(kv.get(f"Prod{c}Lon"), kv.get(f"Prod{c}Lat")) for c in CORNERS]
        return [{
            "id": kv.get("ProductID"),
            "platform": kv.get("SatID"),
            "instrument": kv.get("Sensor"),
            "processing_level": kv.get("ProcessingLevel"),
            "datetime": when,
            "footprint": corner_footprint(corners),
            **centre_fields(kv.get("SceneCenterLat"), kv.get("SceneCenterLon")),
            "gsd_m": _mean(kv, "OutputResolutionAlong", "OutputResolutionAcross")
            or _mean(kv, "ResolutionAlong", "ResolutionAcross"),
            "sun_elevation": to_float(kv.get("SunElevationAtCenter") or kv.get("SunElevation")),
            "sun_azimuth": to_float(
                kv.get("SunAzimuthAtCenter") or kv.get("SunAziumthAtCenter") or kv.get("SunAzimuth")
            ),
            "view_angle": to_float(kv.get("ViewAngle") or kv.get("AngleIncidence")),
            "extra": drop_none({
                "path": kv.get("Path") or None,
                "row": kv.get("Row") or None,
                "product_type": kv.get("ProdType") or kv.get("ProductType"),
                "input_resolution": _mean(kv, "InputResolutionAlong", "InputResolutionAcross"),
                "orbit": kv.get("ImagingOrbitNo") or kv.get("OrbitNo"),
                "date_of_pass": kv.get("DateOfPass"),
                "gsd_note": "panchromatic product: gsd_m is the pan GSD"
                if (kv.get("Sensor") or "").upper().startswith("PAN") else None,
            }),
        }]
