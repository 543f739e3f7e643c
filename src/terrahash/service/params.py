"""Search parameters as clients spell them (STAC API style) -> validated, typed values.

The same parser serves the query string of ``GET /search``, the form fields of a multipart
``POST /search`` and the keys of a JSON ``POST /search``, so the three cannot drift apart.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC

from terrahash.errors import TerraHashError
from terrahash.metadata.platforms import normalize_platform

#: Largest ``k`` a client may ask for.
MAX_K = 1000
DEFAULT_K = 20
#: Ids are what the index's catalog stores: no path syntax, no control characters.
ID_PATTERN = re.compile(r"^(?!.*\.\.)(?![/.])[A-Za-z0-9_.:@+=,/-]{1,256}$")
_DATE_ONLY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_OPEN = ("", "..")


class ParamError(TerraHashError):
    """A search parameter is malformed; the message names the parameter and the value."""


@dataclass(frozen=True)
class SearchParams:
    """Everything but the query itself: filters, ``k``, ``exact`` and ``nprobe``."""

    k: int = DEFAULT_K
    exact: bool = True
    nprobe: int | None = None
    bbox: tuple[float, float, float, float] | None = None
    start: dt.datetime | None = None
    end: dt.datetime | None = None
    platforms: tuple[str, ...] = ()
    gsd_min: float | None = None
    gsd_max: float | None = None
    cloud_max: float | None = None
    labels: tuple[str, ...] = ()

    @property
    def has_filters(self) -> bool:
        """Whether any filter narrows the search."""
        return any(
            v not in (None, ())
            for v in (self.bbox, self.start, self.end, self.platforms, self.gsd_min,
                      self.gsd_max, self.cloud_max, self.labels)
        )


def parse_params(
    *,
    k: int | None = None,
    exact: bool | None = None,
    nprobe: int | None = None,
    bbox: str | Iterable[float] | None = None,
    datetime: str | None = None,
    platform: Iterable[str] | str | None = None,
    gsd_min: float | None = None,
    gsd_max: float | None = None,
    cloud_max: float | None = None,
    label: Iterable[str] | str | None = None,
) -> SearchParams:
    """Validate raw parameter values into ``SearchParams``.

    Raises:
        ParamError: naming the parameter and the offending value.
    """
    k = DEFAULT_K if k is None else k
    if not 1 <= k <= MAX_K:
        raise ParamError(f"k: must be between 1 and {MAX_K}, got {k}")
    if nprobe is not None and nprobe < 1:
        raise ParamError(f"nprobe: must be at least 1, got {nprobe}")
    start, end = parse_interval(datetime) if datetime else (None, None)
    gsd_min = _finite_or_none(gsd_min, "gsd_min", 0.0, math.inf)
    gsd_max = _finite_or_none(gsd_max, "gsd_max", 0.0, math.inf)
    if gsd_min is not None and gsd_max is not None and gsd_min > gsd_max:
        raise ParamError(f"gsd_min ({gsd_min}) is larger than gsd_max ({gsd_max})")
    return SearchParams(
        k=k,
        exact=True if exact is None else exact,
        nprobe=nprobe,
        bbox=parse_bbox(bbox) if bbox not in (None, "") else None,
        start=start,
        end=end,
        platforms=tuple(
            p for p in (normalize_platform(v) for v in _split_list(platform)) if p is not None
        ),
        gsd_min=gsd_min,
        gsd_max=gsd_max,
        cloud_max=_finite_or_none(cloud_max, "cloud_max", 0.0, 100.0),
        labels=tuple(_split_list(label)),
    )


def parse_bbox(value: str | Iterable[float]) -> tuple[float, float, float, float]:
    """``W,S,E,N`` in WGS84 degrees (STAC order); ``W > E`` crosses the antimeridian."""
    parts = value.split(",") if isinstance(value, str) else list(value)
    try:
        numbers = [float(p) for p in parts]
    except (TypeError, ValueError) as exc:
        raise ParamError(f"bbox: expected four numbers W,S,E,N, got {value!r}") from exc
    if len(numbers) != 4 or not all(math.isfinite(n) for n in numbers):
        raise ParamError(f"bbox: expected four finite numbers W,S,E,N, got {value!r}")
    west, south, east, north = numbers
    if not (-180 <= west <= 180 and -180 <= east <= 180 and -90 <= south <= 90 and -90 <= north <= 90):
        raise ParamError(f"bbox: {value!r} is outside lon [-180, 180] / lat [-90, 90]")
    if south > north:
        raise ParamError(f"bbox: south ({south}) is north of north ({north})")
    # west > east is a box across the antimeridian, which the index's filter supports.
    return west, south, east, north


def parse_interval(value: str) -> tuple[dt.datetime | None, dt.datetime | None]:
    """A STAC ``datetime``: an instant, or ``start/end`` with ``..`` or empty for an open end.

    Date-only ends are accepted for convenience: a start date means its first instant, an
    end date its last, so ``2020-01-01/2020-01-31`` covers all of January.
    """
    text = value.strip()
    if "/" not in text:
        instant = _parse_instant(text, "datetime", end_of_day=False)
        if _DATE_ONLY.match(text):
            return instant, _parse_instant(text, "datetime", end_of_day=True)
        return instant, instant
    if text.count("/") != 1:
        raise ParamError(f"datetime: expected 'start/end', got {value!r}")
    raw_start, raw_end = (p.strip() for p in text.split("/"))
    if raw_start in _OPEN and raw_end in _OPEN:
        raise ParamError(f"datetime: both ends of {value!r} are open; give at least one")
    start = None if raw_start in _OPEN else _parse_instant(raw_start, "datetime start", False)
    end = None if raw_end in _OPEN else _parse_instant(raw_end, "datetime end", True)
    if start is not None and end is not None and start > end:
        raise ParamError(f"datetime: start {raw_start} is after end {raw_end}")
    return start, end


def _parse_instant(text: str, what: str, end_of_day: bool) -> dt.datetime:
    if _DATE_ONLY.match(text):
        try:
            day = dt.date.fromisoformat(text)
        except ValueError as exc:
            raise ParamError(f"{what}: {text!r} is not a valid date") from exc
        clock = dt.time.max if end_of_day else dt.time.min
        return dt.datetime.combine(day, clock, tzinfo=UTC)
    try:
        parsed = dt.datetime.fromisoformat(text.replace("z", "Z"))
    except ValueError as exc:
        raise ParamError(
            f"{what}: {text!r} is not RFC 3339 (e.g. 2020-01-01T00:00:00Z or 2020-01-01)"
        ) from exc
    if parsed.tzinfo is None:
        raise ParamError(f"{what}: {text!r} has no timezone; add 'Z' for UTC")
    return parsed.astimezone(UTC)


def _finite_or_none(value: float | None, name: str, low: float, high: float) -> float | None:
    if value is None:
        return None
    if not math.isfinite(value) or not low <= value <= high:
        raise ParamError(f"{name}: must be a number in [{low}, {high}], got {value}")
    return float(value)


def _split_list(values: Iterable[str] | str | None) -> list[str]:
    """Repeatable and comma-separated values flattened: ``a,b`` + ``c`` -> ``[a, b, c]``."""
    if values is None:
        return []
    if isinstance(values, str):
        values = [values]
    return [part.strip() for v in values for part in str(v).split(",") if part.strip()]


def check_id(item_id: str) -> str:
    """``item_id`` if it is a well-formed catalog id, else ``ParamError`` (never a path)."""
    if not ID_PATTERN.match(item_id):
        raise ParamError(f"id: {item_id[:80]!r} is not a valid item id")
    return item_id
