"""Conversions between the index's Python values and PostgreSQL rows (codes, records, filters).

Kept apart from the backend so that the embedded and PostgreSQL stores read the same typed
fields out of a record and apply the same filter semantics (the parity tests rely on it).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np

from terrahash.index.catalog import record_bbox
from terrahash.index.filters import Filters

#: Columns the bulk loader fills, in COPY order (``ord`` is the position within one add()).
LOAD_COLUMNS = (
    "ord",
    "id",
    "path",
    "labels",
    "datetime",
    "t_start",
    "t_end",
    "platform",
    "gsd",
    "cloud",
    "west",
    "south",
    "east",
    "north",
    "record",
    "code",
)


def codes_to_bits(codes: np.ndarray) -> list[str]:
    """Packed uint8 codes (n, K/8) -> ``bit(K)`` literals (``'0110...'``, MSB first)."""
    if codes.shape[0] == 0:
        return []
    chars = np.unpackbits(codes, axis=1) + np.uint8(ord("0"))
    width = chars.shape[1]
    text = chars.tobytes().decode("ascii")
    return [text[i : i + width] for i in range(0, len(text), width)]


def bits_to_codes(bits: list[str], nbits: int) -> np.ndarray:
    """``bit(K)`` text values -> packed uint8 codes (n, K/8)."""
    if not bits:
        return np.zeros((0, nbits // 8), np.uint8)
    raw = np.frombuffer("".join(bits).encode("ascii"), np.uint8) - np.uint8(ord("0"))
    return np.packbits(raw.reshape(len(bits), nbits), axis=1)


def _when(text: str | None) -> dt.datetime | None:
    if not text:
        return None
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(dt.UTC)


def typed_values(record: dict[str, Any] | None) -> tuple[Any, ...]:
    """(datetime, t_start, t_end, platform, gsd, cloud, west, south, east, north) of a record.

    Same rules as the SQLite catalog: the interval falls back to ``datetime`` at either end,
    and the bbox is the footprint's (or the centre point).
    """
    if not record:
        return (None,) * 10
    when = _when(record.get("datetime"))
    start = _when(record.get("start_datetime")) or when
    end = _when(record.get("end_datetime")) or when
    start = start or end
    end = end or start
    box = record_bbox(record) or (None, None, None, None)
    return (
        when,
        start,
        end,
        record.get("platform"),
        record.get("gsd_m"),
        record.get("cloud_cover"),
        *box,
    )


def filter_sql(filters: Filters, postgis: bool) -> tuple[str, dict[str, Any]]:
    """A WHERE clause over ``items`` and its named parameters.

    Each constraint is written twice where an index helps: an indexable prefilter (GiST on
    the bbox or footprint, GiST on the time span) and the exact comparison on the typed
    columns, so the answer never depends on which index the planner picks.
    """
    clauses: list[str] = []
    params: dict[str, Any] = {}
    if filters.bbox is not None:
        w, s, e, n = filters.bbox
        params.update(w=w, s=s, e=e, n=n)
        boxes = [(w, e)] if w <= e else [(w, 180.0), (-180.0, e)]
        probes = []
        for i, (lo, hi) in enumerate(boxes):
            params[f"lo{i}"], params[f"hi{i}"] = lo, hi
            if postgis:
                probes.append(f"footprint && ST_MakeEnvelope(%(lo{i})s, %(s)s, %(hi{i})s, %(n)s, 4326)")
            else:
                probes.append(
                    f"box(point(west, south), point(east, north)) "
                    f"&& box(point(%(lo{i})s, %(s)s), point(%(hi{i})s, %(n)s))"
                )
        lon = "east >= %(w)s AND west <= %(e)s" if w <= e else "(east >= %(w)s OR west <= %(e)s)"
        clauses.append(f"({' OR '.join(probes)}) AND {lon} AND north >= %(s)s AND south <= %(n)s")
    if filters.start is not None or filters.end is not None:
        params.update(start=filters.start, end=filters.end)
        clauses.append(
            "tstzrange(t_start, t_end, '[]') && tstzrange(%(start)s::timestamptz, %(end)s::timestamptz, '[]')"
        )
        if filters.start is not None:
            clauses.append("t_end >= %(start)s::timestamptz")
        if filters.end is not None:
            clauses.append("t_start <= %(end)s::timestamptz")
    if filters.platforms:
        params["platforms"] = list(filters.platforms)
        clauses.append("platform = ANY(%(platforms)s)")
    if filters.gsd_min is not None:
        params["gsd_min"] = filters.gsd_min
        clauses.append("gsd >= %(gsd_min)s")
    if filters.gsd_max is not None:
        params["gsd_max"] = filters.gsd_max
        clauses.append("gsd <= %(gsd_max)s")
    if filters.cloud_max is not None:
        params["cloud_max"] = filters.cloud_max
        clauses.append("cloud <= %(cloud_max)s")
    if filters.labels:
        params["labels"] = list(filters.labels)
        clauses.append("labels && %(labels)s::text[]")
    return " AND ".join(clauses), params
