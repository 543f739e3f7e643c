"""Search filters: where, when, which sensor, how sharp, how cloudy, which class.

Filters travel with each query (like FAISS's ``SearchParameters``), never mutate the index.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from datetime import UTC
from typing import Any

from terrahash.index.errors import HashIndexError


class FilterError(HashIndexError, ValueError):
    """A filter value that cannot be used (names the key and the value)."""


@dataclass(frozen=True)
class Filters:
    """Constraints a result must meet; ``None`` means "no constraint".

    Items whose record lacks the filtered field (no footprint, no date, ...) never match.
    """

    #: (west, south, east, north) lon/lat; intersects the item footprint's bbox. west > east
    #: means the box crosses the antimeridian.
    bbox: tuple[float, float, float, float] | None = None
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
        """True when nothing is constrained."""
        return all(getattr(self, f.name) is None for f in fields(self))


def parse_datetime_value(value: object, key: str) -> dt.datetime:
    """An ISO 8601 string, date or datetime -> aware UTC datetime (naive means UTC)."""
    if isinstance(value, dt.datetime):
        parsed = value
    elif isinstance(value, dt.date):
        parsed = dt.datetime(value.year, value.month, value.day)
    elif isinstance(value, str):
        try:
            parsed = dt.datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError as exc:
            raise FilterError(f"filter {key}: {value!r} is not an ISO 8601 date/time") from exc
    else:
        raise FilterError(f"filter {key}: expected an ISO 8601 string or datetime, got {value!r}")
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def parse_bbox(value: object) -> tuple[float, float, float, float]:
    """``"W,S,E,N"`` or a 4-sequence -> validated floats."""
    parts = value.split(",") if isinstance(value, str) else value
    try:
        w, s, e, n = (float(v) for v in parts)  # type: ignore[union-attr]
    except (TypeError, ValueError) as exc:
        raise FilterError(f"filter bbox: expected W,S,E,N (4 numbers), got {value!r}") from exc
    if not (-180 <= w <= 180 and -180 <= e <= 180 and -90 <= s <= n <= 90):
        raise FilterError(
            f"filter bbox: {value!r} is not lon/lat W,S,E,N (lon in [-180,180], S <= N in [-90,90])"
        )
    return (w, s, e, n)


def _number(value: object, key: str) -> float | None:
    if value is None:
        return None
    try:
        return float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError) as exc:
        raise FilterError(f"filter {key}: expected a number, got {value!r}") from exc


def _strings(value: object, key: str) -> tuple[str, ...] | None:
    if value is None:
        return None
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, Sequence | set | frozenset) or not all(isinstance(v, str) for v in items):
        raise FilterError(f"filter {key}: expected a string or a list of strings, got {value!r}")
    return tuple(items)


def normalize_filters(filters: Filters | Mapping[str, Any] | None) -> Filters:
    """Accept a ``Filters``, a plain dict with the same keys, or ``None``; validate values."""
    if filters is None:
        return Filters()
    if isinstance(filters, Filters):
        raw: dict[str, Any] = {f.name: getattr(filters, f.name) for f in fields(Filters)}
    elif isinstance(filters, Mapping):
        known = {f.name for f in fields(Filters)}
        unknown = sorted(set(filters) - known)
        if unknown:
            raise FilterError(
                f"unknown filter key(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}"
            )
        raw = dict(filters)
    else:
        raise FilterError(f"filters must be a Filters, a dict or None, got {type(filters).__name__}")
    from terrahash.metadata.platforms import normalize_platform

    platforms = _strings(raw.get("platforms"), "platforms")
    out = Filters(
        bbox=parse_bbox(raw["bbox"]) if raw.get("bbox") is not None else None,
        start=parse_datetime_value(raw["start"], "start") if raw.get("start") is not None else None,
        end=parse_datetime_value(raw["end"], "end") if raw.get("end") is not None else None,
        platforms=tuple(normalize_platform(p) or p for p in platforms) if platforms else None,
        gsd_min=_number(raw.get("gsd_min"), "gsd_min"),
        gsd_max=_number(raw.get("gsd_max"), "gsd_max"),
        cloud_max=_number(raw.get("cloud_max"), "cloud_max"),
        labels=_strings(raw.get("labels"), "labels") or None,
    )
    if out.start and out.end and out.start > out.end:
        raise FilterError(f"filter start {out.start.isoformat()} is after end {out.end.isoformat()}")
    return out
