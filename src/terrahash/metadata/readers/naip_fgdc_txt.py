"""FGDC CSDGM as the indented text outline (``Metadata:`` / ``Identification_Information:``),
as delivered with older NAIP DOQQs. Values are ``Long_Name: value`` lines."""

from __future__ import annotations

import re
from typing import ClassVar

from terrahash.metadata.document import Document
from terrahash.metadata.readers._fgdc_common import FgdcFields, FgdcReader

_SNIFF = re.compile(r"^[ \t]*Identification_Information:\s*$", re.M)


def _first(text: str, key: str) -> str | None:
    match = re.search(rf"^[ \t]*{key}:[ \t]*(\S.*)$", text, re.M)
    return match.group(1).rstrip() if match else None


def _block_value(text: str, key: str) -> str | None:
    """A value written on the same line or on the next, more indented, line."""
    match = re.search(rf"^([ \t]*){key}:[ \t]*(.*)$\n?((?:\1\s+.*\n?)*)", text, re.M)
    if not match:
        return None
    value = (match.group(2).strip() or " ".join(match.group(3).split())).strip()
    return value or None


class NaipFgdcTxtReader(FgdcReader):
    """Indented FGDC outline with ``Identification_Information:``."""

    name: ClassVar[str] = "naip_fgdc_txt"
    description: ClassVar[str] = "FGDC CSDGM text outline (NAIP aerial orthoimagery)"

    @classmethod
    def sniff(cls, doc: Document) -> bool:
        if doc.is_raster or doc.looks_xml or doc.looks_json:
            return False
        head = doc.text[:20000]
        return bool(_SNIFF.search(head)) and "Time_Period_of_Content:" in doc.text

    def collect(self, doc: Document) -> FgdcFields:
        text = doc.text.replace("\r\n", "\n")
        start = text.find("Time_Period_of_Content:")
        period = text[start:]
        stop = re.search(r"^[ \t]*(Currentness_Reference|Status|Spatial_Domain):", period, re.M)
        period = period[: stop.start()] if stop else period
        dates, times = [], []
        for match in re.finditer(
            r"^[ \t]*(Calendar_Date|Beginning_Date|Ending_Date):\s*(\S+)\s*$", period, re.M
        ):
            dates.append(match.group(2))
            label = {"Calendar_Date": "Time_of_Day", "Beginning_Date": "Beginning_Time",
                     "Ending_Date": "Ending_Time"}[match.group(1)]
            clock = _first(period[match.end():], label)
            times.append(clock if clock and clock.lower() != "unknown" else "")
        keywords = " ".join(re.findall(r"^[ \t]*Theme_Keyword:\s*(.+)$", text, re.M))
        return FgdcFields(
            dates=dates,
            times=times,
            west=_first(text, "West_Bounding_Coordinate"),
            east=_first(text, "East_Bounding_Coordinate"),
            north=_first(text, "North_Bounding_Coordinate"),
            south=_first(text, "South_Bounding_Coordinate"),
            resolution=_first(text, "Abscissa_Resolution"),
            units=_first(text, "Planar_Distance_Units"),
            utm_zone=_first(text, "UTM_Zone_Number"),
            datum=_first(text, "Horizontal_Datum_Name"),
            title=_first(text, "Title"),
            resource=_block_value(text, "Resource_Description"),
            keywords=keywords + " " + (_block_value(text, "Abstract") or ""),
        )
