"""Scale-out benchmark: PostgreSQL bulk load and search vs the embedded scan, Dask encoding rate.

Writes ``bench/results/scale.json`` and ``scale.md``. Starts a private PostgreSQL server
(as the tests do) unless ``--dsn`` names one.

    .venv/bin/python bench/scale.py                       # 1 M items, full UC Merced encode
    .venv/bin/python bench/scale.py --n 200000 --images 512 --run runs/ccls2t-64
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import provenance, save_report, script_command  # noqa: E402 - after the path fix

BITS = 64
T0 = dt.datetime(2020, 1, 1, tzinfo=dt.UTC)
SPAN_S = 4 * 365 * 86400


def synthetic(n: int, seed: int = 0) -> tuple[list[str], np.ndarray, list[dict[str, Any]]]:
    """Random codes and records spread uniformly over lon, lat (+-60) and four years."""
    rng = np.random.default_rng(seed)
    codes = rng.integers(0, 256, (n, BITS // 8), dtype=np.uint8)
    lon, lat = rng.uniform(-180, 179.9, n), rng.uniform(-60, 59.9, n)
    when = rng.uniform(0, SPAN_S, n)
    records = []
    for i in range(n):
        w, s = float(lon[i]), float(lat[i])
        ring = [[w, s], [w + 0.1, s], [w + 0.1, s + 0.1], [w, s + 0.1], [w, s]]
        records.append({
            "datetime": (T0 + dt.timedelta(seconds=float(when[i]))).isoformat(),
            "footprint": {"type": "Polygon", "coordinates": [ring]},
            "platform": "sentinel-2a", "gsd_m": 10.0, "cloud_cover": float(i % 100),
        })
    return [f"s{i:08d}" for i in range(n)], codes, records


def timed(fn: Any, repeat: int) -> float:
    """Median wall time of ``fn()`` in milliseconds."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1000.0)
    return float(np.median(times))


def bench_postgres(dsn: str, n: int, batch: int, queries: int) -> dict[str, Any]:
    from terrahash.index import Index
    from terrahash.index.flat import FlatScanner

    ids, codes, records = synthetic(n)
    location = f"{dsn}?schema=bench_scale"
    import psycopg

    from terrahash.index.postgres import parse_location

    with psycopg.connect(parse_location(location)[0], autocommit=True) as conn:
        conn.execute("DROP SCHEMA IF EXISTS bench_scale CASCADE")
    index = Index.create(location, BITS)
    start = time.perf_counter()
    for s in range(0, n, batch):
        index.add(ids[s : s + batch], codes[s : s + batch], records=records[s : s + batch])
    load_s = time.perf_counter() - start
    with psycopg.connect(parse_location(location)[0], autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE bench_scale.items")
    rng = np.random.default_rng(1)
    qs = rng.integers(0, 256, (queries, BITS // 8), dtype=np.uint8)
    # bbox 36 x 120 degrees (1/10 of the area) and 146 days (1/10 of the span): about 1 %
    flt = {"bbox": (10.0, -60.0, 46.0, 60.0), "start": T0 + dt.timedelta(days=400),
           "end": T0 + dt.timedelta(days=546)}
    passing = index.query(qs[:1], k=100, filters=flt).scanned[0]
    out: dict[str, Any] = {
        "items": n, "load_batch": batch, "bulk_load_s": round(load_s, 1),
        "bulk_load_items_per_s": round(n / load_s), "filter_pass_fraction": passing / n,
        "bytes_per_item": index.info()["bytes_per_item"],
        "spatial_index": index.info()["spatial_index"],
    }
    out["sql_unfiltered_top100_ms"] = timed(lambda: index.search(qs[:1], k=100), 5)
    backend = index.backend
    probed = backend.cube  # type: ignore[attr-defined]
    out["filtered_plan"] = "cube probe, then rank (v4)" if probed else "generic WHERE (v3 indexes)"
    # interleaved, query by query: the filter-then-rank query on the cube index, and the same
    # filter as one generic WHERE clause over the remaining indexes (what the planner gets
    # without the cube probe); both must return the same rows
    new_ms, generic_ms, same = [], [], True
    for q in qs:
        start = time.perf_counter()
        got = index.search(q, k=100, filters=flt)
        new_ms.append((time.perf_counter() - start) * 1000.0)
        backend.cube = False  # type: ignore[attr-defined]
        start = time.perf_counter()
        want = index.search(q, k=100, filters=flt)
        generic_ms.append((time.perf_counter() - start) * 1000.0)
        backend.cube = probed  # type: ignore[attr-defined]
        same &= got == want
    out["sql_filtered_top100_ms"] = float(np.median(new_ms))
    out["sql_filtered_top100_p90_ms"] = float(np.percentile(new_ms, 90))
    out["sql_filtered_generic_where_ms"] = float(np.median(generic_ms))
    out["filtered_vs_generic_where"] = float(np.median(np.array(new_ms) / np.array(generic_ms)))
    out["filtered_equals_generic_where"] = bool(same)
    if probed:
        from terrahash.index.filters import normalize_filters

        plan = explain_filtered(backend, qs[0], normalize_filters(flt))
        out["filtered_explain"] = plan
    cached = Index.open(location + "&cache=faiss")
    start = time.perf_counter()
    cached.backend.refresh_cache()  # type: ignore[attr-defined]
    out["faiss_cache_load_s"] = round(time.perf_counter() - start, 2)
    out["faiss_cache_unfiltered_top100_ms"] = float(np.median(
        [timed(lambda q=q: cached.search(q, k=100), 1) for q in qs]))
    scanner = FlatScanner(codes)
    scanner.search(qs[:1], 100)
    out["embedded_flat_unfiltered_top100_ms"] = float(np.median(
        [timed(lambda q=q: scanner.search(q[None, :], 100), 1) for q in qs]))
    same = cached.search(qs[:3], k=100) == index.search(qs[:3], k=100)
    out["cache_equals_sql"] = bool(same)
    cached.close()
    index.close()
    return out


def explain_filtered(backend: Any, q: np.ndarray, flt: Any) -> list[str]:
    """EXPLAIN (ANALYZE, BUFFERS) of the filtered query, the lines that show the plan's cost."""
    from psycopg.sql import SQL

    from terrahash.index.postgres.bitstrings import codes_to_bits
    from terrahash.index.postgres.query import cube_probe

    sql, params = backend.probed_sql(flt, *cube_probe(flt))
    with backend.conn.cursor() as cur:
        cur.execute(SQL("EXPLAIN (ANALYZE, BUFFERS) ") + sql,
                    {**params, "q": codes_to_bits(q[None, :])[0], "k": 100})
        lines = [r[0] for r in cur.fetchall()]
    keep = ("Scan", "Heap Fetches", "Buffers", "Execution Time", "Planning Time", "rows=")
    return [ln.strip()[:160] for ln in lines if any(k in ln for k in keep) and "Cond" not in ln]


def bench_dask(run: Path, images: int) -> dict[str, Any]:
    from terrahash.app import ClusterOptions
    from terrahash.app.build import encode_for_index
    from terrahash.app.distributed import encode_distributed
    from terrahash.data import default_data_dir, load_dataset
    from terrahash.model import load_model

    dataset = load_dataset(default_data_dir() / "scenes" / "ucmerced")
    dataset = dataset.subset(range(min(images, len(dataset))))
    model = load_model(run)
    start = time.perf_counter()
    encoded = encode_for_index(model, dataset)
    single, kind = encoded.codes, encoded.kind
    rows: dict[str, Any] = {"images": len(dataset), "kind": kind,
                            "single_process_img_s": len(dataset) / (time.perf_counter() - start)}
    for workers in (1, 2):
        start = time.perf_counter()
        codes, _ = encode_distributed(model, dataset, kind, ClusterOptions(workers=workers))
        rows[f"dask_{workers}_workers_img_s"] = len(dataset) / (time.perf_counter() - start)
        rows[f"dask_{workers}_equal_single"] = bool(np.array_equal(codes, single))
    per_worker = rows["dask_1_workers_img_s"]
    rows["projection_10M"] = {
        "hours_on_2_workers_here": round(10_000_000 / rows["dask_2_workers_img_s"] / 3600, 1),
        "workers_for_24h": int(np.ceil(10_000_000 / (per_worker * 86400))),
        "workers_for_1h": int(np.ceil(10_000_000 / (per_worker * 3600))),
        "codes_gb": round(10_000_000 * BITS / 8 / 1e9, 3),
    }
    return {k: round(v, 1) if isinstance(v, float) else v for k, v in rows.items()}


def markdown(result: dict[str, Any]) -> str:
    lines = ["# Scale-out benchmark", ""]
    lines += [f"- {note}" for note in result.get("notes", [])] + [""] * bool(result.get("notes"))
    for section in ("postgres", "dask"):
        if section in result:
            lines += [f"## {section}", "", "| metric | value |", "|---|---|"]
            rows = {k: v for k, v in result[section].items() if k != "filtered_explain"}
            lines += [f"| {k} | {json.dumps(v)} |" for k, v in rows.items()]
            if result[section].get("filtered_explain"):
                lines += ["", "EXPLAIN (ANALYZE, BUFFERS) of the filtered query (plan lines):", "",
                          "```", *result[section]["filtered_explain"], "```"]
            lines.append("")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1_000_000, help="items in the database")
    parser.add_argument("--batch", type=int, default=100_000, help="items per add() (one COPY)")
    parser.add_argument("--queries", type=int, default=20)
    parser.add_argument("--dsn", help="existing server (default: start a private one)")
    parser.add_argument("--run", type=Path, help="run folder for the Dask encoding part")
    parser.add_argument("--images", type=int, default=2100, help="UC Merced images to encode")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results")
    parser.add_argument("--note", action="append", default=[], help="a line for the report")
    parser.add_argument("--no-postgres", action="store_true",
                        help="skip the PostgreSQL part (its last numbers are kept, marked)")
    args = parser.parse_args()
    import os

    result: dict[str, Any] = {"when": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
                              "cpus": os.cpu_count(), "args": {k: str(v) for k, v in
                                                               vars(args).items()},
                              **provenance(script_command(__file__)), "notes": args.note}
    previous_file = args.out / "scale.json"
    previous = json.loads(previous_file.read_text()) if previous_file.is_file() else {}
    if args.no_postgres:
        if "postgres" in previous:
            result["postgres"] = {**previous["postgres"], "not_rerun": f"from the run of "
                                  f"{previous['when']} (`{previous.get('command', '?')}`)"}
    else:
        if args.dsn:
            server = contextlib.nullcontext(args.dsn)
        else:
            from tests.pg_server import postgres_server

            server = postgres_server()
        with server as dsn:
            result["postgres"] = bench_postgres(dsn, args.n, args.batch, args.queries)
            print(json.dumps(result["postgres"], indent=1), flush=True)
    if args.run:
        result["dask"] = bench_dask(args.run, args.images)
        print(json.dumps(result["dask"], indent=1), flush=True)
    elif "dask" in previous:  # not rerun: keep the last numbers, marked with their date
        result["dask"] = {**previous["dask"], "not_rerun": f"from the run of {previous['when']}"}
    args.out.mkdir(parents=True, exist_ok=True)
    save_report(args.out / "scale.json", result, markdown(result))


if __name__ == "__main__":
    main()
