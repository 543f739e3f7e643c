"""RSHST on real learned codes: a labelled set's codes under the taxonomy label tree.

``bench/search.py`` measures the tree on synthetic clusters; this measures it where it is
meant to work. A CCLS2T run (``terrahash train``, reused when one with the same options
exists) encodes a labelled dataset; the train split's fused codes go into an embedded index
with their labels, so the tree is the one ``terrahash index build`` makes (CORINE-based label
nodes, clustered buckets under them), and the test split's image codes query it, as a user's
picture would. Per query and k: the exact tree search (must equal the flat scan; fraction of
codes scanned), the approximate search for several ``nprobe`` (recall@k against the exact
top-k, codes scanned, time) and the flat scan through the public ``Index.query`` (time).

Run: ``python bench/rshst.py [--quick] [--data DIR ...] [--epochs N]``; writes
``bench/results/rshst.{json,md}``.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import (  # noqa: E402 - after the path fix that lets the script run directly
    RunSpec,
    Variant,
    fmt,
    markdown_table,
    provenance,
    save_report,
    script_command,
    train_run,
)

#: Result counts measured (the issue's k = 100, and a short page).
KS = (100, 10)
NPROBES = (1, 2, 4, 8, 16, 32)
#: Training epochs (full / ``--quick``); the codes need only be learned, not the best.
EPOCHS, QUICK_EPOCHS = 10, 2


def measure(index: Any, queries: np.ndarray, k: int) -> dict[str, Any]:
    """Exact and approximate tree searches vs the flat scan for every query (one per call)."""
    n = len(index)
    flat_ms, exact_ms, exact_scanned, exact_same = [], [], [], True
    flat_ids = []
    for q in queries:
        t = time.perf_counter()
        flat = index.query(q, k=k)
        flat_ms.append((time.perf_counter() - t) * 1000)
        flat_ids.append(flat.ids[0])
        t = time.perf_counter()
        tree = index.backend.search_tree(q, k=k, exact=True)
        exact_ms.append((time.perf_counter() - t) * 1000)
        exact_scanned.append(tree.scanned[0] / n)
        exact_same &= tree.ids[0] == flat.ids[0] and tree.distances[0] == flat.distances[0]
    flat_median = statistics.median(flat_ms)
    approx = []
    for nprobe in NPROBES:
        recall, ms, scanned = [], [], []
        for q, truth in zip(queries, flat_ids, strict=True):
            t = time.perf_counter()
            got = index.backend.search_tree(q, k=k, exact=False, nprobe=nprobe)
            ms.append((time.perf_counter() - t) * 1000)
            recall.append(len(set(got.ids[0]) & set(truth)) / max(len(truth), 1))
            scanned.append(got.scanned[0] / n)
        approx.append({
            "nprobe": nprobe, "recall": float(np.mean(recall)), "single_ms": statistics.median(ms),
            "scanned_fraction": float(np.mean(scanned)),
            "speedup_vs_flat": flat_median / statistics.median(ms),
        })
    return {
        "k": k, "flat_single_ms": flat_median, "tree_exact_equals_flat": bool(exact_same),
        "tree_exact_scanned_fraction": float(np.mean(exact_scanned)),
        "tree_exact_single_ms": statistics.median(exact_ms), "approx": approx,
    }


def bench_dataset(data: Path, args: argparse.Namespace) -> dict[str, Any]:
    """Train (or reuse) the run, index the train split with labels, query with the test split."""
    from terrahash.data import load_dataset
    from terrahash.index import Index
    from terrahash.model import load_model

    spec = RunSpec(data, args.runs_dir / data.name, Variant("ccls2t", "ccls2t"), bits=64,
                   epochs=args.epochs, image_size=64, seed=0)
    config = train_run(spec, reuse=True)
    model = load_model(spec.run_dir)
    dataset = load_dataset(data)
    encoded = model.encode_dataset(dataset, kinds=("image", "fused"))
    at = {item.id: i for i, item in enumerate(dataset)}
    db = [at[i] for i in config["split"]["train_ids"]]
    test = [at[i] for i in config["split"]["test_ids"]]
    with tempfile.TemporaryDirectory(prefix="thbench-rshst-") as tmp:
        index = Index.create(Path(tmp) / "idx", bits=model.bits)
        index.add([dataset[i].id for i in db], encoded["codes_fused"][db],
                  labels=[list(dataset[i].labels) for i in db])
        queries = encoded["codes_image"][test]
        for q in queries[:10]:  # warm up the flat scanner's state (FAISS copy, id table)
            index.query(q, k=KS[0])
        tree = index.manifest.get("tree") or {}
        rows = [measure(index, queries, k) for k in KS]
        index.close()
    return {
        "dataset": str(data), "train_command": spec.command(), "bits": model.bits,
        "best_val_map@100": config.get("best_val_map@100"), "database": len(db), "queries": len(test),
        "tree": tree, "by_k": rows,
    }


def markdown(report: dict[str, Any]) -> str:
    lines = ["# RSHST on real learned codes", "", report["protocol"], ""]
    for entry in report["datasets"]:
        tree = entry["tree"]
        lines += [
            f"## {Path(entry['dataset']).name}", "",
            f"Run `{entry['train_command']}` (best validation mAP@100 {fmt(entry['best_val_map@100'], 3)}); "
            f"database {entry['database']} fused codes, {entry['queries']} image queries; tree: "
            f"{tree.get('nodes')} nodes ({tree.get('label_nodes')} label, {tree.get('cluster_nodes')} "
            f"cluster), {tree.get('buckets')} buckets, depth {tree.get('depth')}.", "",
        ]
        lines.append(markdown_table(
            ["k", "flat ms (Index.query)", "exact = flat", "exact: codes scanned", "exact ms"],
            [[r["k"], fmt(r["flat_single_ms"], 3), r["tree_exact_equals_flat"],
              f"{r['tree_exact_scanned_fraction']:.1%}", fmt(r["tree_exact_single_ms"], 3)]
             for r in entry["by_k"]]))
        lines += ["", markdown_table(
            ["k", "nprobe", "recall@k", "codes scanned", "ms", "speed-up vs flat"],
            [[r["k"], a["nprobe"], fmt(a["recall"], 3), f"{a['scanned_fraction']:.1%}",
              fmt(a["single_ms"], 3), f"{a['speedup_vs_flat']:.2f}x"]
             for r in entry["by_k"] for a in r["approx"]]), ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, action="append", default=None,
                        help="labelled dataset folder (repeatable; default: UC Merced)")
    parser.add_argument("--epochs", type=int, default=None, help=f"training epochs (default {EPOCHS})")
    parser.add_argument("--quick", action="store_true", help=f"{QUICK_EPOCHS} training epochs")
    parser.add_argument("--runs-dir", type=Path, default=Path("bench/runs/rshst"))
    parser.add_argument("--out", type=Path, default=Path("bench/results"))
    args = parser.parse_args(argv)
    from terrahash.data import default_data_dir

    args.epochs = args.epochs or (QUICK_EPOCHS if args.quick else EPOCHS)
    if args.quick:
        args.runs_dir = args.runs_dir / "quick"
    sets = args.data or [default_data_dir() / "scenes" / "ucmerced"]
    report: dict[str, Any] = {
        **provenance(script_command(__file__, argv)),
        "protocol": "Database: the run's train split, fused codes, in an embedded index with their "
        "labels (the label tree of `terrahash index build`); queries: the test split's image codes, one "
        "per call; recall@k: share of the exact top-k ids the approximate search returns; codes "
        "scanned: codes whose distance was computed / database size; speed-up: median flat time "
        "(`Index.query`, ids included) / median tree time (`search_tree`, ids included).",
        "datasets": [bench_dataset(data, args) for data in sets],
    }
    save_report(args.out / "rshst.json", report, markdown(report))
    print(markdown(report))
    return report


if __name__ == "__main__":
    main()
