"""Shared mapping of FGDC CSDGM metadata (NAIP DOQQs): the XML and the indented-text outline
carry the same elements under short (``caldate``) and long (``Calendar_Date``) names.

The subclasses collect the raw strings into :class:`FgdcFields`; dates, bounding box, grid
resolution and EPSG are interpreted here once. Aerial imagery has no platform, cloud or sun
fields, so those stay null.
"""

from __future__ import annotations

import re
from abc import abstractmethod
from dataclasses import dataclass, field
from typing import Any

from terrahash.metadata.base import MetadataReader
from terrahash.metadata.document import Document
from terrahash.metadata.record import box_polygon
from terrahash.metadata.values import MISSING_MARKERS, combine_date_time, to_float

_UNIT_METRES = {"meters": 1.0, "metres": 1.0, "meter": 1.0, "m": 1.0, "feet": 0.3048,
                "international feet": 0.3048, "survey feet": 1200.0 / 3937.0}


@dataclass
class FgdcFields:
    """Raw FGDC values as written (strings or ``None``)."""

    dates: list[str] = field(default_factory=list)  # every caldate / begdate / enddate
    times: list[str] = field(default_factory=list)
    west: str | None = None
    east: str | None = None
    north: str | None = None
    south: str | None = None
    resolution: str | None = None
    units: str | None = None
    utm_zone: str | None = None
    datum: str | None = None
    title: str | None = None
    resource: str | None = None
    keywords: str = ""


def _epsg(zone: str | None, datum: str | None) -> int | None:
    number = to_float(zone)
    if number is None or not 1 <= abs(number) <= 60:
        return None
    text = (datum or "").lower()
    if "1983" in text or "nad83" in text:
        return 26900 + int(abs(number))
    if "wgs" in text and "84" in text:
        return (32600 if number > 0 else 32700) + int(abs(number))
    return None


def _identifier(fields: FgdcFields) -> str | None:
    for value in (fields.resource, fields.title):
        if value and value.strip().lower() not in MISSING_MARKERS:
            return re.sub(r"\.(tif|tiff|jp2|img)$", "", value.strip(), flags=re.I)
    return None


class FgdcReader(MetadataReader):
    """FGDC CSDGM: subclasses provide ``collect(doc)`` only."""

    @abstractmethod
    def collect(self, doc: Document) -> FgdcFields:
        """The raw FGDC values of ``doc``."""

    def read(self, doc: Document) -> list[dict[str, Any]]:
        raw = self.collect(doc)
        times = raw.times + [None] * len(raw.dates)
        parsed = (combine_date_time(d, t) for d, t in zip(raw.dates, times, strict=False))
        stamps = sorted(s for s in parsed if s is not None)
        if not stamps:
            raise self.refuse(doc, "no Time_Period_of_Content date (caldate/begdate)")
        extra: dict[str, Any] = {}
        if not any(t for t in raw.times):
            extra["datetime_precision"] = "day"
        if "naip" in raw.keywords.lower() or "national agriculture imagery" in raw.keywords.lower():
            extra["program"] = "NAIP"
        footprint = box_polygon(*(to_float(v) for v in (raw.west, raw.south, raw.east, raw.north)))
        scale = _UNIT_METRES.get((raw.units or "meters").strip().lower())
        resolution = to_float(raw.resolution)
        return [
            {
                "id": _identifier(raw),
                "datetime": stamps[0],
                "start_datetime": stamps[0] if len(stamps) > 1 else None,
                "end_datetime": stamps[-1] if len(stamps) > 1 else None,
                "footprint": footprint,
                "gsd_m": resolution * scale if resolution and scale else None,
                "epsg": _epsg(raw.utm_zone, raw.datum),
                "extra": extra,
            }
        ]
