"""Value parsers shared by the readers: numbers with missing markers, angles, dates.

Each helper returns ``None`` for a missing or sentinel value instead of guessing, so a
reader stays a plain field mapping.
"""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from lxml import etree

#: Values vendors use for "not computed" / "unknown".
MISSING_MARKERS = {"", "n/a", "na", "none", "null", "nan", "-", "unknown", "not available"}

BEIJING = timezone(timedelta(hours=8), "UTC+8")
MOSCOW = timezone(timedelta(hours=3), "UTC+3")


class Nominal(float):
    """A sensor's catalogue value (a nominal GSD), not stated by the file: ``build_record``
    marks the field ``nominal`` in ``SceneRecord.provenance``."""


class Derived(datetime):
    """An instant computed from others (a window's midpoint), not stated by the file:
    ``build_record`` marks the field ``derived`` in ``SceneRecord.provenance``."""

    @classmethod
    def of(cls, when: datetime) -> Derived:
        return cls(when.year, when.month, when.day, when.hour, when.minute, when.second,
                   when.microsecond, tzinfo=when.tzinfo)


def provenance_of(fields: dict[str, Any]) -> dict[str, str]:
    """``{field: "nominal" | "derived"}`` for reader values wrapped in ``Nominal``/``Derived``."""
    marks = {k: "nominal" for k, v in fields.items() if isinstance(v, Nominal)}
    marks.update({k: "derived" for k, v in fields.items() if isinstance(v, Derived)})
    return marks


def plain_value(value: Any) -> Any:
    """``Nominal``/``Derived`` back to a plain float/datetime (other values unchanged)."""
    if isinstance(value, Nominal):
        return float(value)
    if isinstance(value, Derived):
        return datetime.fromisoformat(value.isoformat())
    return value


def to_float(value: Any, missing: tuple[float, ...] = ()) -> float | None:
    """A float, or ``None`` for empty text, missing markers, the given sentinel values and
    non-finite numbers (``inf``, ``1e400``: never a measurement, and ``int()`` of one raises)."""
    if value is None:
        return None
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        try:
            number = float(value)
        except OverflowError:  # an int of hundreds of digits
            return None
    else:
        text = str(value).strip().strip('"').strip()
        if text.lower() in MISSING_MARKERS:
            return None
        text = text.replace(",", ".") if text.count(",") == 1 and "." not in text else text
        try:
            number = float(text)
        except ValueError:
            match = re.match(r"^[-+]?\d+(?:\.\d*)?(?:[eE][-+]?\d+)?", text)
            if not match:
                return None
            number = float(match.group(0))
    if not math.isfinite(number) or number in missing:
        return None
    return number


def cloud_percent(value: Any, *, fraction: bool = False) -> float | None:
    """Cloud cover in percent; ``fraction=True`` for 0-1 fields. Out-of-range (-1, -999, 101) -> None."""
    number = to_float(value)
    if number is None:
        return None
    if fraction:
        if not 0.0 <= number <= 1.0:
            return None
        return round(number * 100.0, 6)
    if not 0.0 <= number <= 100.0:
        return None
    return number


def elevation_from_zenith(zenith: Any) -> float | None:
    """Sun elevation from a zenith angle (S2 tiles, CRESDA)."""
    number = to_float(zenith)
    return None if number is None else round(90.0 - number, 6)


def dms_to_degrees(value: Any) -> float | None:
    """``54:50:11.36`` / ``54 50 11.36`` / ``-12:03:00`` / ``54°50'11"N`` -> decimal degrees."""
    if value is None:
        return None
    text = str(value).strip().strip('"').strip()
    if not text:
        return None
    sign = -1.0 if text.startswith("-") or text[-1:].upper() in ("S", "W") else 1.0
    parts = [float(p) for p in re.findall(r"\d+(?:[.,]\d+)?", text.replace(",", "."))]
    if not parts:
        return None
    degrees = parts[0] + (parts[1] / 60.0 if len(parts) > 1 else 0.0)
    degrees += parts[2] / 3600.0 if len(parts) > 2 else 0.0
    return sign * degrees


def parse_datetime(value: Any, tz: timezone = UTC) -> datetime | None:
    """Parse the ISO-like forms vendors write; naive values are taken in ``tz``.

    Handles ``Z``/offsets, 1-9 fractional digits, ``T`` or space separators,
    ``YYYY MM DD hh:mm:ss``, ``YYYYMMDDhhmmss(.f)``, ``YYYYMMDD``, ``d/m/Y [time]``,
    ``DD-MON-YYYY hh:mm:ss`` and ``YYYY:DOY:hh:mm:ss``.
    """
    if value is None:
        return None
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=tz)
    text = str(value).strip().strip('"').strip()
    if not text or text.lower() in MISSING_MARKERS:
        return None
    text = re.sub(r"\s+", " ", text)
    m = re.fullmatch(r"(\d{4}):(\d{3}):(\d{2}):(\d{2}):(\d{2}(?:\.\d+)?)", text)
    if m:
        year, doy, hh, mm, ss = m.groups()
        base = datetime(int(year), 1, 1, tzinfo=tz) + timedelta(days=int(doy) - 1)
        return base + timedelta(hours=int(hh), minutes=int(mm), seconds=float(ss))
    m = re.fullmatch(r"(\d{4}) (\d{2}) (\d{2})[ T](.*)", text)
    if m:
        text = f"{m.group(1)}-{m.group(2)}-{m.group(3)}T{m.group(4)}"
    m = re.fullmatch(r"(\d{1,2})/(\d{1,2})/(\d{4})(?:[ T](.*))?", text)
    if m:
        day, month, year, rest = m.groups()
        text = f"{year}-{int(month):02d}-{int(day):02d}" + (f"T{rest}" if rest else "")
    m = re.fullmatch(r"(\d{1,2})-([A-Za-z]{3})-(\d{4})(?:[ T](.*))?", text)
    if m:
        day, mon, year, rest = m.groups()
        month = datetime.strptime(mon.title(), "%b").month
        text = f"{year}-{month:02d}-{int(day):02d}" + (f"T{rest}" if rest else "")
    m = re.fullmatch(r"(\d{4})(\d{2})(\d{2})(?:[T ]?(\d{2})(\d{2})(\d{2})(\.\d+)?)?Z?", text)
    if m:
        y, mo, d, hh, mi, ss, frac = m.groups()
        text = f"{y}-{mo}-{d}" + (f"T{hh}:{mi}:{ss}{frac or ''}" if hh else "")
    text = text.replace(" ", "T", 1) if re.match(r"\d{4}-\d{2}-\d{2} ", text) else text
    text = re.sub(r"[zZ]$", "+00:00", text)
    text = re.sub(r"\s*(UTC|GMT)$", "+00:00", text)
    # Python accepts at most 6 fractional digits.
    text = re.sub(r"(\.\d{6})\d+", r"\1", text)
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=tz)
    return parsed.astimezone(UTC)


def combine_date_time(date: Any, time: Any, tz: timezone = UTC) -> datetime | None:
    """A date field plus a separate time-of-day field (Landsat, DIMAP, ISRO...)."""
    if date is None or str(date).strip().strip('"') == "":
        return None
    day = parse_datetime(date, tz)
    if day is None:
        return None
    if time is None or not str(time).strip().strip('"'):
        return day
    clock = str(time).strip().strip('"').rstrip("Zz")
    m = re.match(r"(\d{1,2}):(\d{2}):(\d{2})(?:[.:](\d+))?", clock)
    if not m:
        return day
    hh, mm, ss, frac = m.groups()
    micro = int((frac or "0")[:6].ljust(6, "0"))
    day = day.astimezone(tz)  # the calendar date as written, not its UTC conversion
    local = datetime(day.year, day.month, day.day, int(hh), int(mm), int(ss), micro, tzinfo=tz)
    return local.astimezone(UTC)


def tag(element: etree._Element) -> str:
    """The element's (local) name; ``""`` for comments, PIs and entities.

    ``Document.xml`` leaves every element tag a plain local name, but lxml types ``.tag`` as
    any settable value, so readers read names through this one narrowing.
    """
    return element.tag if isinstance(element.tag, str) else ""


def xml_text(root: etree._Element, *paths: str) -> str | None:
    """Text of the first element found along any of ``paths`` (``.//`` relative, local names)."""
    for path in paths:
        found = root.find(path if path.startswith(".") else f".//{path}")
        if found is not None and found.text is not None and found.text.strip():
            return found.text.strip()
    return None


def xml_float(root: etree._Element, *paths: str, missing: tuple[float, ...] = ()) -> float | None:
    """``to_float`` of ``xml_text``."""
    return to_float(xml_text(root, *paths), missing)


def parse_key_values(text: str, separator: str = "=") -> dict[str, str]:
    """``KEY = value`` lines into a dict (first occurrence wins; quotes stripped)."""
    out: dict[str, str] = {}
    for line in text.splitlines():
        if separator not in line:
            continue
        key, _, value = line.partition(separator)
        key = key.strip()
        if key and key not in out:
            out[key] = value.strip().rstrip(";").strip().strip('"')
    return out
