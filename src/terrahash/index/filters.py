"""Search filters and the one parser of their values (CLI, Python API and HTTP service alike).

Filters travel with each query (like FAISS's ``SearchParameters``), never mutate the index.
Time values follow STAC interval semantics everywhere: a date-only start means the first
instant of that day and a date-only end its last, so ``end=2020-01-31`` keeps that day's
scenes. Every bad value raises ``FilterError`` naming the key and the value.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, fields
from datetime import UTC
from typing import Any

from terrahash.index.errors import HashIndexError
from terrahash.index.items import BBox
from terrahash.metadata.platforms import normalize_platform

#: Spellings of an open interval end in a STAC ``datetime``.
_OPEN = ("", "..")


class FilterError(HashIndexError, ValueError):
    """A filter value that cannot be used (names the key and the value)."""


@dataclass(frozen=True)
class Filters:
    """Constraints a result must meet; ``None`` means "no constraint".

    Items whose record lacks the filtered field (no footprint, no date, ...) never match.
    """

    #: (west, south, east, north) lon/lat; intersects the item footprint's bbox. west > east
    #: means the box crosses the antimeridian.
    bbox: BBox | None = None
    #: Items whose acquisition interval ends on or after ``start``.
    start: dt.datetime | None = None
    #: Items whose acquisition interval begins on or before ``end``.
    end: dt.datetime | None = None
    #: Any of these platforms (normalised: ``Sentinel-2A`` -> ``sentinel-2a``).
    platforms: tuple[str, ...] | None = None
    gsd_min: float | None = None
    gsd_max: float | None = None
    #: Maximum cloud cover, percent.
    cloud_max: float | None = None
    #: Any of these labels (an item matches if any of its labels does).
    labels: tuple[str, ...] | None = None

    @property
    def empty(self) -> bool:
        """True when nothing is constrained (every search asks: one comparison, not a loop)."""
        return self is NO_FILTERS or self == NO_FILTERS


#: The unconstrained filter set.
NO_FILTERS = Filters()


#: What ``search(filters=...)`` accepts.
FilterLike = Filters | Mapping[str, Any] | None


def _day(value: dt.date, end_of_day: bool) -> dt.datetime:
    """The first (or, for an interval's end, the last) instant of a day, in UTC."""
    return dt.datetime.combine(value, dt.time.max if end_of_day else dt.time.min, tzinfo=UTC)


def parse_instant(text: str, key: str, end_of_day: bool = False, need_zone: bool = True) -> dt.datetime:
    """An RFC 3339 date-time or a date -> aware UTC datetime (a date: see ``_day``).

    ``need_zone=False`` reads a date-time without an offset as UTC (the Python API's habit).
    """
    text = text.strip()
    try:
        return _day(dt.date.fromisoformat(text), end_of_day)
    except ValueError:
        pass
    try:
        parsed = dt.datetime.fromisoformat(text.replace("z", "Z"))
    except ValueError as exc:
        raise FilterError(
            f"{key}: {text!r} is not RFC 3339 (e.g. 2020-01-01T00:00:00Z or 2020-01-01)"
        ) from exc
    if parsed.tzinfo is None:
        if need_zone:
            raise FilterError(f"{key}: {text!r} has no timezone; add 'Z' for UTC")
        return parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def parse_interval(text: str) -> tuple[dt.datetime | None, dt.datetime | None]:
    """A STAC ``datetime``: an instant, or ``start/end`` with ``..`` or empty for an open end.

    A date-only start means its first instant, a date-only end its last, and a single date
    its whole day, so ``2020-01-01/2020-01-31`` covers all of January.
    """
    value = text.strip()
    if "/" not in value:
        return parse_instant(value, "datetime"), parse_instant(value, "datetime", end_of_day=True)
    if value.count("/") != 1:
        raise FilterError(f"datetime: expected 'start/end', got {text!r}")
    raw_start, raw_end = (p.strip() for p in value.split("/"))
    if raw_start in _OPEN and raw_end in _OPEN:
        raise FilterError(f"datetime: both ends of {text!r} are open; give at least one")
    start = None if raw_start in _OPEN else parse_instant(raw_start, "datetime start")
    end = None if raw_end in _OPEN else parse_instant(raw_end, "datetime end", end_of_day=True)
    if start is not None and end is not None and start > end:
        raise FilterError(f"datetime: start {raw_start} is after end {raw_end}")
    return start, end


def parse_bbox(value: str | Iterable[float], key: str = "bbox") -> BBox:
    """``W,S,E,N`` in WGS84 degrees (STAC order) or four numbers; ``W > E`` crosses the
    antimeridian."""
    try:
        numbers = [float(p) for p in (value.split(",") if isinstance(value, str) else value)]
    except (TypeError, ValueError) as exc:
        raise FilterError(f"{key}: expected four numbers W,S,E,N, got {value!r}") from exc
    if len(numbers) != 4 or not all(math.isfinite(n) for n in numbers):
        raise FilterError(f"{key}: expected four finite numbers W,S,E,N, got {value!r}")
    west, south, east, north = numbers
    if not (-180 <= west <= 180 and -180 <= east <= 180 and -90 <= south <= 90 and -90 <= north <= 90):
        raise FilterError(f"{key}: {value!r} is outside lon [-180, 180] / lat [-90, 90]")
    if south > north:
        raise FilterError(f"{key}: south ({south}) is north of north ({north})")
    return west, south, east, north


def lon_ranges(bbox: BBox) -> list[tuple[float, float]]:
    """Longitude ranges ``(lo, hi)`` of a filter box, for footprints stored as ``record_bbox``
    stores them (``east >= west``, ``east`` past 180 across the antimeridian): an item's box
    meets the filter's in longitude exactly when ``east >= lo and west <= hi`` for one range.

    The filter's span, unwrapped the same way, is tried at each 360° shift that can reach a
    stored span (which lies within [-180, 540]).
    """
    west, east = bbox[0], bbox[2]
    if west > east:
        east += 360.0
    shifts = (-360.0, 0.0, 360.0)
    return [(west + k, east + k) for k in shifts if east + k >= -180.0 and west + k <= 540.0]


def parse_number(value: object, key: str, low: float = -math.inf, high: float = math.inf) -> float:
    """A finite number within ``[low, high]`` (GSD, cloud cover), else ``FilterError``."""
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        number = math.nan
    if not math.isfinite(number) or not low <= number <= high:
        raise FilterError(f"{key}: must be a number in [{low}, {high}], got {value!r}")
    return number


def _moment(value: object, key: str, end_of_day: bool) -> dt.datetime:
    """A filter's ``start``/``end``: ISO string, date (its whole day) or datetime (naive: UTC)."""
    if isinstance(value, dt.datetime):
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    if isinstance(value, dt.date):
        return _day(value, end_of_day)
    if isinstance(value, str):
        return parse_instant(value, key, end_of_day, need_zone=False)
    raise FilterError(f"{key}: expected an ISO 8601 string, date or datetime, got {value!r}")


def _optional(raw: Mapping[str, Any], key: str, low: float, high: float) -> float | None:
    value = raw.get(key)
    return None if value is None else parse_number(value, f"filter {key}", low, high)


def _strings(value: object, key: str) -> tuple[str, ...] | None:
    if value is None:
        return None
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, Sequence | set | frozenset) or not all(isinstance(v, str) for v in items):
        raise FilterError(f"filter {key}: expected a string or a list of strings, got {value!r}")
    return tuple(items)


def _as_dict(filters: Filters | Mapping[str, Any]) -> dict[str, Any]:
    if isinstance(filters, Filters):
        return {f.name: getattr(filters, f.name) for f in fields(Filters)}
    if not isinstance(filters, Mapping):
        raise FilterError(f"filters must be a Filters, a dict or None, got {type(filters).__name__}")
    known = {f.name for f in fields(Filters)}
    unknown = sorted(set(filters) - known)
    if unknown:
        raise FilterError(f"unknown filter key(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}")
    return dict(filters)


def normalize_filters(filters: FilterLike) -> Filters:
    """Accept a ``Filters``, a plain dict with the same keys, or ``None``; validate values."""
    if filters is None:
        return NO_FILTERS
    raw = _as_dict(filters)
    start, end, bbox = raw.get("start"), raw.get("end"), raw.get("bbox")
    platforms = _strings(raw.get("platforms"), "platforms")
    out = Filters(
        bbox=parse_bbox(bbox, "filter bbox") if bbox is not None else None,
        start=_moment(start, "filter start", end_of_day=False) if start is not None else None,
        end=_moment(end, "filter end", end_of_day=True) if end is not None else None,
        platforms=tuple(normalize_platform(p) or p for p in platforms) if platforms else None,
        gsd_min=_optional(raw, "gsd_min", 0.0, math.inf),
        gsd_max=_optional(raw, "gsd_max", 0.0, math.inf),
        cloud_max=_optional(raw, "cloud_max", 0.0, 100.0),
        labels=_strings(raw.get("labels"), "labels") or None,
    )
    if out.start and out.end and out.start > out.end:
        raise FilterError(f"filter start {out.start.isoformat()} is after end {out.end.isoformat()}")
    if out.gsd_min is not None and out.gsd_max is not None and out.gsd_min > out.gsd_max:
        raise FilterError(f"filter gsd_min ({out.gsd_min}) is larger than gsd_max ({out.gsd_max})")
    return out
