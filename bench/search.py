"""Search benchmark: ``terrahash.Index.search`` vs FAISS vs NumPy, RSHST exact/approx, filters.

Run: ``python bench/search.py [--quick] [--no-10m] [--no-tree] [--queries N]``; writes
``bench/results/search.{json,md,png}``. All numbers come from one run on this machine. The flat
rows time the path users call, ``Index.search`` on an embedded index (one query per call, ids
included), beside FAISS ``IndexBinaryFlat`` and the scanner alone, interleaved query by query
(one FAISS thread), so load from other processes hits all alike and the ratios are side by
side; a NumPy ``bitwise_count`` reference, written here without TerraHash code, checks that
the distances and ids are identical. The clustered codes are random centres with per-bit
noise (parameters in the JSON); RSHST on real learned codes is ``bench/rshst.py``.
``--no-tree`` skips the RSHST builds (minutes) and carries the previous run's RSHST rows
over, marked as such.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import provenance, save_report, script_command  # noqa: E402 - after the path fix
from terrahash.codes import as_words, hamming
from terrahash.index import Index
from terrahash.index.codes import topk_stable
from terrahash.index.filters import normalize_filters
from terrahash.index.flat import FlatScanner, numpy_search
from terrahash.index.tree import SemanticTree

OUT = Path(__file__).parent / "results"
K = 100


def random_codes(n: int, bits: int, rng: np.random.Generator) -> np.ndarray:
    return rng.integers(0, 256, (n, bits // 8), dtype=np.uint8)


def clustered_codes(
    n: int, bits: int, centres: np.ndarray, flip: float, rng: np.random.Generator
) -> np.ndarray:
    out = np.empty((n, bits // 8), np.uint8)
    for s in range(0, n, 1_000_000):
        m = min(1_000_000, n - s)
        which = rng.integers(0, centres.shape[0], m)
        noise = np.packbits(rng.random((m, bits), dtype=np.float32) < flip, axis=1)
        out[s : s + m] = centres[which] ^ noise
    return out


def numpy_reference(db: np.ndarray, query: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """(distances, rows) of the ``k`` nearest codes by ``np.bitwise_count``, ties by row: the
    independent reference the index's answers must equal."""
    word = np.uint64 if db.shape[1] % 8 == 0 else np.uint8  # 64-bit words: one popcount each
    xor = np.bitwise_xor(db.view(word), query.view(word)[None, :])
    dist = np.bitwise_count(xor).sum(axis=1, dtype=np.int64)
    rows = np.argsort(dist, kind="stable")[:k]
    return dist[rows], rows


def public_index(db: np.ndarray, folder: Path) -> Index:
    """An embedded index holding ``db`` (ids ``c0``, ``c1``, ...), as ``Index.add`` builds it."""
    index = Index.create(folder, bits=db.shape[1] * 8)
    index.add([f"c{i}" for i in range(db.shape[0])], db)
    return index


def timed(fn, repeat: int) -> tuple[float, Any]:  # noqa: ANN001
    """Median milliseconds of ``repeat`` calls and the last result."""
    times, result = [], None
    for _ in range(repeat):
        t = time.perf_counter()
        result = fn()
        times.append((time.perf_counter() - t) * 1000)
    return statistics.median(times), result


def bench_codes(
    name: str,
    db: np.ndarray,
    queries: np.ndarray,
    tree: bool,
    nprobes: tuple[int, ...],
    n_single: int = 30,
) -> dict[str, Any]:
    import faiss

    bits = db.shape[1] * 8
    row: dict[str, Any] = {"codes": name, "n": int(db.shape[0]), "bits": bits, "k": K}
    index = faiss.IndexBinaryFlat(bits)
    index.add(db)
    flat = FlatScanner(db)
    flat.search(queries[:1], K)  # build its FAISS copy outside the timing
    with tempfile.TemporaryDirectory(prefix="thbench-") as tmp:
        public = public_index(db, Path(tmp) / "idx")
        for q in queries[:20]:  # warm up: FAISS copy, id table (see index/embedded/idtable.py)
            public.search(q, k=K)
        nq = min(n_single, len(queries))
        # interleaved, so that load from other processes hits all alike; the order rotates so
        # that no side always runs on another's warm cache
        times: dict[str, list[float]] = {"faiss": [], "index": [], "flat": []}
        answers = []
        for i, q in enumerate(queries[:nq]):
            calls = [
                ("faiss", lambda q=q: index.search(q[None], K)),
                ("index", lambda q=q: public.search(q[None], k=K)),
                ("flat", lambda q=q: flat.search(q[None], K)),
            ]
            for key, fn in calls[i % 3:] + calls[: i % 3]:
                ms, got = timed(fn, 1)
                times[key].append(ms)
                if key == "index":
                    answers.append(got)
        ref_ms, same = [], True
        for q, (ids, dist) in zip(queries[:nq], answers, strict=True):
            ms, (ref_d, ref_r) = timed(lambda q=q: numpy_reference(db, q, K), 1)
            ref_ms.append(ms)
            same &= dist[0] == ref_d.tolist() and ids[0] == [f"c{r}" for r in ref_r.tolist()]
        public.close()
    row["faiss_single_ms"] = statistics.median(times["faiss"])
    row["index_single_ms"] = statistics.median(times["index"])
    row["flat_single_ms"] = statistics.median(times["flat"])
    # ratio of each interleaved pair, then the median: robust to load that changes between pairs
    row["index_vs_faiss_single"] = statistics.median(
        b / a for a, b in zip(times["faiss"], times["index"], strict=True))
    row["flat_vs_faiss_single"] = statistics.median(
        b / a for a, b in zip(times["faiss"], times["flat"], strict=True))
    row["numpy_single_ms"] = statistics.median(ref_ms)
    row["index_equals_numpy"] = bool(same)
    faiss_batch, flat_batch = [], []
    for _ in range(3):  # batch calls interleaved too; median of 3
        faiss_batch.append(timed(lambda: index.search(queries, K), 1)[0] / len(queries))
        ms, (dist, rows) = timed(lambda: flat.search(queries, K), 1)
        flat_batch.append(ms / len(queries))
    row["faiss_batch_ms_per_query"] = statistics.median(faiss_batch)
    row["flat_batch_ms_per_query"] = statistics.median(flat_batch)
    row["flat_vs_faiss_batch"] = row["flat_batch_ms_per_query"] / row["faiss_batch_ms_per_query"]
    ref_d, ref_r = numpy_search(db, queries[:3], K)
    row["flat_equals_numpy"] = bool(np.array_equal(ref_d, dist[:3]) and np.array_equal(ref_r, rows[:3]))
    if not tree:
        return row
    t = time.perf_counter()
    rshst = SemanticTree.build(db)
    row["tree_build_s"] = time.perf_counter() - t
    row["tree"] = rshst.stats()
    words = as_words(db)
    scanned, lat, exact_ok = [], [], True
    for i, q in enumerate(as_words(queries[:nq])):
        ms, (d, r, s) = timed(lambda q=q: rshst.search_one(words, q, K), 1)
        exact_ok &= bool(np.array_equal(d, dist[i]) and np.array_equal(r, rows[i]))
        scanned.append(s / db.shape[0])
        lat.append(ms)
    row.update(
        tree_exact_equals_flat=exact_ok,
        tree_exact_scanned_fraction=float(np.mean(scanned)),
        tree_exact_single_ms=statistics.median(lat),
    )
    row["approx"] = []
    for nprobe in nprobes:
        recall, lat, scanned = [], [], []
        for i, q in enumerate(as_words(queries)):
            probe = lambda q=q, p=nprobe: rshst.search_one(words, q, K, exact=False, nprobe=p)  # noqa: E731
            ms, (d, r, s) = timed(probe, 1)
            recall.append(len(set(r.tolist()) & set(rows[i].tolist())) / K)
            lat.append(ms)
            scanned.append(s / db.shape[0])
        med = statistics.median(lat)
        row["approx"].append(
            {
                "nprobe": nprobe,
                "recall@100": float(np.mean(recall)),
                "single_ms": med,
                "scanned_fraction": float(np.mean(scanned)),
                "speedup_vs_flat": row["flat_single_ms"] / med,
            }
        )
    return row


def previous_plan(index: Index, flt: dict[str, Any], q: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The filtered scan as it was before the sorted windows: mask every row, gather, popcount."""
    backend = index.backend
    allowed = np.flatnonzero(backend.columns.mask(normalize_filters(flt)))  # type: ignore[attr-defined]
    words = as_words(np.ascontiguousarray(backend.codes[allowed]))  # type: ignore[attr-defined]
    d, r = topk_stable(hamming(words, as_words(q)[0]), allowed, K)
    return d, np.asarray(backend.catalog.ids(backend.seqs[r]))  # type: ignore[attr-defined]


def bench_filtered(n: int, rng: np.random.Generator, n_single: int = 30) -> dict[str, Any]:
    """1 M items with footprints and dates; bbox + time range leaving about 1 %."""
    codes = random_codes(n, 64, rng)
    lon = rng.uniform(-179, 178, n)
    lat = rng.uniform(-80, 79, n)
    day = rng.integers(0, 1000, n)
    base = dt.datetime(2020, 1, 1, tzinfo=dt.UTC)
    records = []
    for i in range(n):
        w, s = float(lon[i]), float(lat[i])
        records.append(
            {
                "datetime": (base + dt.timedelta(days=int(day[i]))).strftime("%Y-%m-%dT00:00:00Z"),
                "footprint": {
                    "type": "Polygon",
                    "coordinates": [[[w, s], [w + 1, s], [w + 1, s + 1], [w, s + 1], [w, s]]],
                },
                "platform": "sentinel-2a" if i % 2 else "landsat-8",
                "gsd_m": 10.0,
                "cloud_cover": float(i % 100),
            }
        )
    tmp = Path(tempfile.mkdtemp(prefix="thbench-"))
    try:
        t = time.perf_counter()
        index = Index.create(tmp / "idx", bits=64)
        index.add([f"scene{i:07d}" for i in range(n)], codes, records=records)
        build_s = time.perf_counter() - t
        size = sum(p.stat().st_size for p in (tmp / "idx").rglob("*") if p.is_file())
        # bbox ~ 1/3 of lon span x 1/3 of lat span (~11 %) and ~9 % of the days: ~1 %
        flt = {"bbox": (-60.0, -27.0, 60.0, 27.0), "start": "2020-06-01", "end": "2020-09-05"}
        allowed = index.query(codes[:1], k=K, filters=flt).scanned[0]
        lat_ms, old_ms, unfiltered, same = [], [], [], True
        for q in codes[:n_single]:  # interleaved: filtered, previous plan, unfiltered
            t = time.perf_counter()
            got = index.query(q[None], k=K, filters=flt)
            lat_ms.append((time.perf_counter() - t) * 1000)
            t = time.perf_counter()
            d, ids = previous_plan(index, flt, q[None])
            old_ms.append((time.perf_counter() - t) * 1000)
            same &= got.ids[0] == ids.tolist() and got.distances[0] == d.tolist()
            t = time.perf_counter()
            index.query(q[None], k=K)
            unfiltered.append((time.perf_counter() - t) * 1000)
        return {
            "n": n,
            "build_s": build_s,
            "build_items_per_s": n / build_s,
            "bytes_per_item": size / n,
            "filter": flt,
            "allowed_fraction": allowed / n,
            "filtered_single_ms": statistics.median(lat_ms),
            "filtered_p90_ms": float(np.percentile(lat_ms, 90)),
            "previous_plan_single_ms": statistics.median(old_ms),
            "filtered_vs_previous_plan": statistics.median(
                a / b for a, b in zip(lat_ms, old_ms, strict=True)
            ),
            "filtered_equals_previous_plan": bool(same),
            "unfiltered_single_ms_with_ids": statistics.median(unfiltered),
        }
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def write_report(result: dict[str, Any]) -> None:
    lines = [
        "# Search benchmark",
        "",
        *[f"- {note}" for note in result.get("notes", [])],
        "",
        "k = 100, one FAISS thread; single = one query per call (median of the queries); batch = all"
        " queries in one call (median of 3). `Index.search` (the public path: an embedded index,"
        " ids included), FAISS `IndexBinaryFlat` and the flat scanner alone are timed interleaved,"
        " query by query; the ratios are medians of the per-query ratios. Target: Index.search /"
        " FAISS <= 1.1. NumPy = the `bitwise_count` reference (stable sort); `= NumPy`: every"
        " query's ids and distances from `Index.search` equal it.",
        "",
        "| codes | n | bits | FAISS ms | Index.search ms | Index.search/FAISS | scanner ms | scanner/FAISS"
        " | NumPy ms | = NumPy | FAISS batch ms/q | scanner batch ms/q | scanner/FAISS batch"
        " | tree exact scanned | tree exact ms |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in result["rows"]:
        lines.append(
            f"| {r['codes']} | {r['n']:,} | {r['bits']} | {r['faiss_single_ms']:.2f} | "
            f"{r['index_single_ms']:.2f} | {r['index_vs_faiss_single']:.2f} | "
            f"{r['flat_single_ms']:.2f} | {r['flat_vs_faiss_single']:.2f} | {r['numpy_single_ms']:.2f} | "
            f"{r['index_equals_numpy'] and r['flat_equals_numpy']} | "
            f"{r['faiss_batch_ms_per_query']:.3f} | {r['flat_batch_ms_per_query']:.3f} | "
            f"{r.get('flat_vs_faiss_batch', float('nan')):.2f} | "
            + (
                f"{r['tree_exact_scanned_fraction']:.1%} | {r['tree_exact_single_ms']:.2f} |"
                if "tree" in r
                else "- | - |"
            )
        )
    approx_note = result.get("approx_from")
    lines += [
        "",
        "## RSHST approximate (recall@100 against the exact flat scan)",
        "",
        *([f"Not rerun ({approx_note})", ""] if approx_note else []),
        "| codes | n | bits | nprobe | recall@100 | ms | scanned | speed-up vs flat |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in result.get("approx_rows", result["rows"]):
        for a in r.get("approx", []):
            lines.append(
                f"| {r['codes']} | {r['n']:,} | {r['bits']} | {a['nprobe']} | "
                f"{a['recall@100']:.3f} | {a['single_ms']:.2f} | {a['scanned_fraction']:.1%} | "
                f"{a['speedup_vs_flat']:.1f}x |"
            )
    if f := result.get("filtered"):
        lines += [
            "",
            "## Filtered search and catalog",
            "",
            f"- {f['n']:,} items, filter {f['filter']} leaves {f['allowed_fraction']:.2%}",
            f"- filtered top-100: {f['filtered_single_ms']:.2f} ms median, "
            f"{f['filtered_p90_ms']:.2f} ms p90 (incl. filter, scan, ids; target <= 10 ms)",
            f"- previous plan (mask every row, gather, popcount), interleaved: "
            f"{f['previous_plan_single_ms']:.2f} ms; new/previous {f['filtered_vs_previous_plan']:.2f}, "
            f"same results: {f['filtered_equals_previous_plan']}",
            f"- unfiltered top-100 through `Index.query`: {f['unfiltered_single_ms_with_ids']:.2f} ms",
            f"- build (records validated, catalog, tree): {f['build_items_per_s']:,.0f} items/s",
            f"- on disk: {f['bytes_per_item']:.0f} bytes per item (codes + catalog + tree)",
        ]
    save_report(OUT / "search.json", result, "\n".join(lines))
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (a1, a2) = plt.subplots(1, 2, figsize=(12, 4.5))
    names = [f"{r['codes']}\n{r['n'] // 1_000_000}M/{r['bits']}b" for r in result["rows"]]
    x = np.arange(len(names))
    for off, key, lab in (
        (-0.25, "faiss_single_ms", "FAISS"),
        (0, "index_single_ms", "Index.search"),
        (0.25, "tree_exact_single_ms", "RSHST exact"),
    ):
        a1.bar(x + off, [r.get(key, 0) for r in result["rows"]], 0.25, label=lab)
    a1.set_xticks(x, names, fontsize=7)
    a1.set_ylabel("ms per query (k=100)")
    a1.legend()
    for r in result.get("approx_rows", result["rows"]):
        if r.get("approx"):
            a2.plot(
                [a["single_ms"] for a in r["approx"]],
                [a["recall@100"] for a in r["approx"]],
                "o-",
                label=f"{r['codes']} {r['n'] // 1_000_000}M/{r['bits']}b",
            )
            a2.axvline(r["flat_single_ms"], ls=":", color=a2.lines[-1].get_color())
    a2.set_xlabel("ms per query (dotted: flat)")
    a2.set_ylabel("recall@100")
    a2.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(OUT / "search.png", dpi=110)


def main() -> None:
    global OUT
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="100 k items instead of 1 M")
    parser.add_argument("--no-10m", action="store_true", help="skip the 10 M runs")
    parser.add_argument("--no-tree", action="store_true", help="skip RSHST builds; keep previous rows")
    parser.add_argument("--no-filtered", action="store_true", help="skip the filtered-search part")
    parser.add_argument(
        "--filtered-only", action="store_true", help="only the filtered part; keep the flat rows"
    )
    parser.add_argument("--queries", type=int, default=30, help="single queries timed per row")
    parser.add_argument("--note", action="append", default=[], help="a line for the report")
    parser.add_argument("--out", type=Path, default=None, help="results folder")
    args = parser.parse_args()
    previous_file = OUT / "search.json"
    OUT = args.out or OUT
    import faiss

    faiss.omp_set_num_threads(1)
    rng = np.random.default_rng(0)
    n = 100_000 if args.quick else 1_000_000
    nq = 50
    flip, n_centres = 0.05, 1000
    tree = not args.no_tree
    nprobes = (4, 8, 16, 32) if tree else ()
    rows = []
    for bits in (64, 128) if not args.filtered_only else ():
        db = random_codes(n, bits, rng)
        rows.append(bench_codes("random", db, random_codes(nq, bits, rng), False, (), args.queries))
        print(json.dumps(rows[-1]), flush=True)
        centres = np.packbits(rng.integers(0, 2, (n_centres, bits), dtype=np.uint8), axis=1)
        db = clustered_codes(n, bits, centres, flip, rng)
        queries = clustered_codes(nq, bits, centres, flip, rng)
        rows.append(bench_codes("clustered", db, queries, tree, nprobes, args.queries))
        print(json.dumps(rows[-1]), flush=True)
    if not args.no_10m and not args.filtered_only:
        big = 10 * n
        db = random_codes(big, 64, rng)
        rows.append(bench_codes("random", db, random_codes(nq, 64, rng), False, (), args.queries))
        print(json.dumps(rows[-1]), flush=True)
        centres = np.packbits(rng.integers(0, 2, (n_centres * 4, 64), dtype=np.uint8), axis=1)
        db = clustered_codes(big, 64, centres, flip, rng)
        queries = clustered_codes(nq, 64, centres, flip, rng)
        rows.append(bench_codes("clustered", db, queries, tree, nprobes, args.queries))
        print(json.dumps(rows[-1]), flush=True)
        del db
    result: dict[str, Any] = {
        **provenance(script_command(__file__)),
        "faiss_threads": 1,
        "notes": args.note,
        "clustered": {"centres": n_centres, "flip_probability": flip},
        "rows": rows,
    }
    previous = json.loads(previous_file.read_text()) if previous_file.is_file() else {}
    if previous:
        previous.setdefault("date", previous.get("when"))  # files written before save_report
    if args.filtered_only and previous:
        result["rows"] = previous["rows"]
        result["notes"] = [
            *previous.get("notes", []),
            f"Flat/FAISS rows from the run of {previous['date']} (`{previous.get('command')}`); "
            f"the filtered part rerun at {result['date']} (`{result['command']}`).",
            *args.note,
        ]
        result["date"], result["command"] = previous["date"], previous.get("command")
    if (not tree or args.filtered_only) and previous:
        kept = [r for r in previous["rows"] if r.get("approx")]
        result["approx_rows"] = previous.get("approx_rows") or kept
        result["approx_from"] = previous.get("approx_from") or (
            f"RSHST code unchanged; rows from the run of {previous['date']}"
        )
    if not args.no_filtered:
        result["filtered"] = bench_filtered(n, rng, args.queries)
        print(json.dumps(result["filtered"]), flush=True)
    elif previous.get("filtered"):
        result["filtered"] = previous["filtered"]
    write_report(result)


if __name__ == "__main__":
    main()
