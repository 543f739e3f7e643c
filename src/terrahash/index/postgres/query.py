"""Reading an index in PostgreSQL: the filter SQL, the cube probe and the ranking queries.

Hamming distance is ``bit_count(code # query)`` (PostgreSQL 14+). Results are ordered by
``(distance, seq)``, where ``seq`` is the insertion number an upsert keeps, exactly as the
embedded backend ranks, and the filters mean what the embedded catalog's do (the parity
tests hold both to it).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from terrahash.index.filters import Filters, lon_ranges
from terrahash.index.postgres.bitstrings import bytes_to_embeddings, codes_to_bits
from terrahash.index.postgres.connection import schema_sql, sql
from terrahash.index.postgres.migrations import CUBE_INCLUDE, PLACE_TIME_CUBE
from terrahash.index.rerank import Candidates, needs_ties

#: Per query: ids, distances, and codes scanned.
Ranked = tuple[list[list[str]], list[list[int]], list[int]]

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
    lons = [(-inf, inf)] if filters.bbox is None else lon_ranges(filters.bbox)
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
        params.update(s=filters.bbox[1], n=filters.bbox[3])
        ranges = lon_ranges(filters.bbox)
        for i, (lo, hi) in enumerate(ranges):
            params[f"lo{i}"], params[f"hi{i}"] = lo, hi
        lon = "(" + " OR ".join(f"(east >= %(lo{i})s AND west <= %(hi{i})s)" for i in range(len(ranges)))
        lon += ")"
    if filters.bbox is not None and not probes:
        clauses.append(f"{lon} AND north >= %(s)s AND south <= %(n)s")
    elif filters.bbox is not None:
        box_probes = []
        for i in range(len(ranges)):
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


@dataclass(frozen=True)
class Shape:
    """What a ranking query returns beyond (id, distance): the ``embedding`` column last, for a
    re-ranking shortlist; and ``within``: only rows at distance <= ``%(radius)s`` (a tie group
    in full, with ``k`` bound to ``None``: no limit)."""

    embedding: bool = False
    within: bool = False


def _distance(bits: int) -> str:
    return f"bit_count(code # %(q)s::bit({bits}))"


def ranking_sql(
    schema: str, bits: int, filters: Filters, postgis: bool, shape: Shape = Shape()
) -> tuple[sql.Composed, dict[str, Any], bool]:
    """One query ranking ``items`` (passing ``filters``) against ``%(q)s``, top ``%(k)s``, its
    parameters, and whether it counts the passing rows in a third column (a filter is set)."""
    where, params = filter_sql(filters, postgis)
    counts = bool(where)
    if shape.within:
        where = " AND ".join(w for w in (where, f"{_distance(bits)} <= %(radius)s") if w)
    columns = f"id, {_distance(bits)} AS d" + (", count(*) OVER ()" if counts else "")
    columns += ", embedding" if shape.embedding else ""
    text = f"SELECT {columns} FROM {{items}}" + (f" WHERE {where}" if where else "")
    return schema_sql(text + " ORDER BY d, seq LIMIT %(k)s", schema), params, counts


def probed_sql(
    schema: str, bits: int, filters: Filters, postgis: bool, probe: str, probe_params: dict[str, Any],
    shape: Shape = Shape(),
) -> tuple[sql.Composed, dict[str, Any]]:
    """The filter-first query and its parameters (``q`` and ``k`` still to bind).

    The cube index yields the candidates of a bbox/time filter (an index-only scan: it
    carries every column read here), the exact comparisons keep the passing ones,
    ``bit_count(code # q)`` ranks them and only the top k get their ids. The candidates
    are a MATERIALIZED CTE so that the planner cannot AND the probe with a B-tree on one
    time edge (which passes a third of the table for a 1 % query).
    """
    exact, params = filter_sql(filters, postgis, probes=False)
    if shape.within:
        exact += f" AND {_distance(bits)} <= %(radius)s"
    text = (
        f"WITH cand AS MATERIALIZED (SELECT {', '.join(filter_columns(filters))} "
        f"FROM {{items}} WHERE {probe}), "
        f"hits AS (SELECT seq, {_distance(bits)} AS d, count(*) OVER () AS c "
        f"FROM cand WHERE {exact} ORDER BY d, seq LIMIT %(k)s) "
        f"SELECT i.id, hits.d, hits.c{', i.embedding' if shape.embedding else ''} "
        f"FROM hits JOIN {{items}} i USING (seq) ORDER BY hits.d, hits.seq"
    )
    return schema_sql(text, schema), {**params, **probe_params}


def rank(
    conn: Any, query: sql.Composed, params: dict[str, Any], queries: np.ndarray, k: int, total: int | None
) -> Ranked:
    """Run a ranking query once per code: (ids, distances, codes scanned).

    With ``total=None`` the query's third column counts the rows that passed the filter;
    otherwise every one of ``total`` codes was scanned.
    """
    ids, dists, scanned = [], [], []
    with conn.cursor() as cur:
        for bits in codes_to_bits(queries):
            cur.execute(query, {**params, "q": bits, "k": k})
            rows = cur.fetchall()
            ids.append([r[0] for r in rows])
            dists.append([int(r[1]) for r in rows])
            scanned.append(total if total is not None else int(rows[0][2]) if rows else 0)
    return ids, dists, scanned


def shortlists(
    conn: Any, top: sql.Composed, ties: sql.Composed, params: dict[str, Any], queries: np.ndarray,
    k: int, size: int, total: int | None,
) -> list[Candidates]:
    """Run the re-ranking shortlist queries once per code (see ``IndexBackend.candidates``).

    ``top`` is a ranking query of ``Shape(embedding=True)``, ``ties`` the same with
    ``within=True``: it runs only where the top ``size`` may have cut the k-th distance's
    tie group. ``total`` as in ``rank``.
    """
    out = []
    with conn.cursor() as cur:
        for bits in codes_to_bits(queries):
            cur.execute(top, {**params, "q": bits, "k": size})
            rows = cur.fetchall()
            scanned = total if total is not None else int(rows[0][2]) if rows else 0
            distances = np.array([r[1] for r in rows], np.int32)
            if needs_ties(distances, k, size):
                cur.execute(ties, {**params, "q": bits, "k": None, "radius": int(distances[k - 1])})
                rows = cur.fetchall()
                distances = np.array([r[1] for r in rows], np.int32)
            out.append(Candidates(distances, bytes_to_embeddings([r[-1] for r in rows]),
                                  _ids_of([r[0] for r in rows]), scanned))
    return out


def _ids_of(ids: list[str]) -> Callable[[np.ndarray], list[str]]:
    return lambda chosen: [ids[i] for i in chosen]
