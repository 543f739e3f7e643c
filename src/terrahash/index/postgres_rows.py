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


_EPOCH = "timestamptz '1970-01-01 00:00:00+00'"
#: Each row as a box in (lon, lat, epoch seconds), unbounded along what it lacks, so that
#: one 3-D GiST (``cube``) finds "here, then" (schema version 4). Every function in it is
#: immutable, as an index expression must be; the query repeats it verbatim.
PLACE_TIME_CUBE = (
    "cube(ARRAY[coalesce(west, '-Infinity'), coalesce(south, '-Infinity'), "
    f"coalesce(extract(epoch FROM t_start - {_EPOCH})::float8, '-Infinity')], "
    "ARRAY[coalesce(east, 'Infinity'), coalesce(north, 'Infinity'), "
    f"coalesce(extract(epoch FROM t_end - {_EPOCH})::float8, 'Infinity')])"
)
#: Columns the covering cube index carries, so that bbox + time queries never read the heap.
CUBE_INCLUDE = ("seq", "code", "west", "south", "east", "north", "t_start", "t_end")
#: Widening of the probe's time edges (seconds): float rounding can only add candidates,
#: which the exact comparisons then drop.
_PROBE_MARGIN_S = 1e-3


def cube_probe(filters: Filters) -> tuple[str, dict[str, Any]] | None:
    """The cube-index prefilter for a bbox and/or time filter (None without either)."""
    if filters.bbox is None and filters.start is None and filters.end is None:
        return None
    inf = float("inf")
    params: dict[str, Any] = {
        "c_t0": filters.start.timestamp() - _PROBE_MARGIN_S if filters.start is not None else -inf,
        "c_t1": filters.end.timestamp() + _PROBE_MARGIN_S if filters.end is not None else inf,
        "c_s": filters.bbox[1] if filters.bbox is not None else -inf,
        "c_n": filters.bbox[3] if filters.bbox is not None else inf,
    }
    if filters.bbox is None:
        lons = [(-inf, inf)]
    else:
        w, e = filters.bbox[0], filters.bbox[2]
        lons = [(w, e)] if w <= e else [(w, inf), (-inf, e)]
    probes = []
    for i, (lo, hi) in enumerate(lons):
        params[f"c_w{i}"], params[f"c_e{i}"] = lo, hi
        probes.append(
            f"{PLACE_TIME_CUBE} && cube(ARRAY[%(c_w{i})s, %(c_s)s, %(c_t0)s]::float8[], "
            f"ARRAY[%(c_e{i})s, %(c_n)s, %(c_t1)s]::float8[])"
        )
    return "(" + " OR ".join(probes) + ")", params


def filter_columns(filters: Filters) -> list[str]:
    """Columns the exact comparisons of ``filter_sql`` read."""
    cols = list(CUBE_INCLUDE)
    for name, used in (
        ("platform", filters.platforms),
        ("gsd", filters.gsd_min is not None or filters.gsd_max is not None),
        ("cloud", filters.cloud_max is not None),
        ("labels", filters.labels),
    ):
        if used:
            cols.append(name)
    return cols


def filter_sql(filters: Filters, postgis: bool, probes: bool = True) -> tuple[str, dict[str, Any]]:
    """A WHERE clause over ``items`` and its named parameters.

    Each constraint is written twice where an index helps: an indexable prefilter (GiST on
    the bbox or footprint, GiST on the time span) and the exact comparison on the typed
    columns, so the answer never depends on which index the planner picks. With
    ``probes=False`` only the exact comparisons are written (the cube probe, ``cube_probe``,
    is then applied first, on its own).
    """
    clauses: list[str] = []
    params: dict[str, Any] = {}
    if filters.bbox is not None:
        w, s, e, n = filters.bbox
        params.update(w=w, s=s, e=e, n=n)
        lon = "east >= %(w)s AND west <= %(e)s" if w <= e else "(east >= %(w)s OR west <= %(e)s)"
    if filters.bbox is not None and not probes:
        clauses.append(f"{lon} AND north >= %(s)s AND south <= %(n)s")
    elif filters.bbox is not None:
        boxes = [(w, e)] if w <= e else [(w, 180.0), (-180.0, e)]
        box_probes = []
        for i, (lo, hi) in enumerate(boxes):
            params[f"lo{i}"], params[f"hi{i}"] = lo, hi
            if postgis:
                box_probes.append(f"footprint && ST_MakeEnvelope(%(lo{i})s, %(s)s, %(hi{i})s, %(n)s, 4326)")
            else:
                box_probes.append(
                    f"box(point(west, south), point(east, north)) "
                    f"&& box(point(%(lo{i})s, %(s)s), point(%(hi{i})s, %(n)s))"
                )
        clauses.append(f"({' OR '.join(box_probes)}) AND {lon} AND north >= %(s)s AND south <= %(n)s")
    if filters.start is not None or filters.end is not None:
        params.update(start=filters.start, end=filters.end)
        if probes:
            clauses.append(
                "tstzrange(t_start, t_end, '[]') && "
                "tstzrange(%(start)s::timestamptz, %(end)s::timestamptz, '[]')"
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
