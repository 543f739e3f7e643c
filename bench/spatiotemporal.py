"""Spatiotemporal check: retrieval with and without metadata, and filter correctness.

Runs on the scene sets that carry real per-image metadata (date, place, platform, cloud):
``bigearthnet_s2_examples`` (6 items), ``bigearthnet_configilm`` (54) and
``eolearn_slovenia`` (45). They are **small**: the numbers say whether the pieces work
together, not how well CCLS2T generalises.

* **With vs without metadata.** ccls2t is trained with its text branch (the record's R2STFT
  prompt) and as ``--no-text``. The first is scored with image, image+metadata (fused) and
  metadata-only (text) queries against fused database codes; the second with image queries.
  Held-out protocol (test split vs train split) where the split has test items; a set too
  small to hold one out per label is scored leave-one-out over all items (in-sample, said so).
* **Filter correctness.** An index is built with ``terrahash.Index`` from the run's codes and
  the items' records; bbox / time / platform / cloud filters (and all together) are run
  through ``Index.search`` and compared with a brute-force filter over the records
  (:func:`bench.common.record_matches`): same id set, and the same filtered top-k.

Writes ``bench/results/spatiotemporal.json`` and ``spatiotemporal.md``.

    python bench/spatiotemporal.py --epochs 15
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from collections import Counter
from datetime import timedelta
from pathlib import Path
from typing import Any

import numpy as np

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import (  # noqa: E402 - after the path fix that lets the script run directly
    VARIANTS,
    RunSpec,
    fmt,
    json_safe,
    markdown_table,
    provenance,
    record_matches,
    save_report,
    script_command,
    train_run,
)

SETS = ("bigearthnet_s2_examples", "bigearthnet_configilm", "eolearn_slovenia")
#: Query kind -> database kind compared for each run.
PAIRS = (("image", "fused"), ("fused", "fused"), ("text", "fused"), ("image", "image"))
KEYS = ("map@all", "map@20", "p@10", "ndcg@100", "queries", "database", "zero_hit_queries", "unique_codes")
TOP_K = 5


# -- retrieval with and without metadata --------------------------------------------------
def leave_one_out(encoded: dict[str, np.ndarray], labels: np.ndarray, q_kind: str, db_kind: str
                  ) -> dict[str, Any]:
    """Each item queries all the others (in-sample); mAP@all and mAP@20 averaged over queries."""
    from terrahash.evaluate.protocol import retrieval_metrics

    q, db = encoded[f"codes_{q_kind}"], encoded[f"codes_{db_kind}"]
    relevance = (labels.astype(np.int32) @ labels.T.astype(np.int32)) > 0
    per: dict[str, list[float]] = {"map@all": [], "map@20": [], "p@10": []}
    zero = 0
    for i in range(len(q)):
        others = np.delete(np.arange(len(db)), i)
        report = retrieval_metrics(q[i : i + 1], db[others], relevance[i : i + 1, others])
        if report["zero_hit_queries"]:
            zero += 1
            continue
        for key in per:
            per[key].append(float(report[key]))
    out: dict[str, Any] = {k: (float(np.mean(v)) if v else float("nan")) for k, v in per.items()}
    out.update(queries=len(q) - zero, database=len(db) - 1, zero_hit_queries=zero,
               unique_codes=int(len(np.unique(db, axis=0))), protocol="leave-one-out, in-sample")
    return out


def chance(relevance: np.ndarray, exclude_self: bool = False) -> float:
    """Expected precision of a random ranking: mean relevant fraction of the database."""
    n_db = relevance.shape[1] - (1 if exclude_self else 0)
    has = relevance.any(axis=1)
    return float((relevance[has].sum(axis=1) / max(n_db, 1)).mean()) if has.any() else float("nan")


def score_run(run_dir: Path, data_dir: Path) -> tuple[list[dict[str, Any]], dict[str, np.ndarray]]:
    """Rows per (query kind, database kind) and every item's codes (for the index check)."""
    from terrahash.app.evaluation import encode_split, report_split
    from terrahash.data import load_dataset
    from terrahash.evaluate.hamming import EvaluationError
    from terrahash.model import load_model

    model = load_model(run_dir)
    dataset = load_dataset(data_dir)
    kinds = list(model.query_kinds)
    pairs = [(q, d) for q, d in PAIRS if q in kinds and d in kinds]
    if not model.config["use_text"]:
        pairs = [("image", "image")]  # fused == image without a text branch
    everything = model.encode_dataset(dataset, kinds=tuple(kinds))
    rows = []
    try:
        split = encode_split(model, dataset, kinds)
        for q, d in pairs:
            report = report_split(split, q, d)
            rows.append({"query_kind": q, "db_kind": d, "protocol": "held-out (test vs train split)",
                         "chance": chance(split.relevance), **{k: report.get(k) for k in KEYS}})
    except EvaluationError:  # no test items: too few per label to hold one out
        labels = dataset.label_matrix()
        for q, d in pairs:
            relevance = (labels.astype(np.int32) @ labels.T.astype(np.int32)) > 0
            np.fill_diagonal(relevance, False)
            rows.append({"query_kind": q, "db_kind": d, "chance": chance(relevance, exclude_self=True),
                         **leave_one_out(everything, labels, q, d)})
    return rows, everything


# -- filter correctness -------------------------------------------------------------------
def filter_cases(records: list[Any]) -> dict[str, dict[str, Any]]:
    """bbox / time / platform / cloud filters chosen from the data (roughly half match each)."""
    cases: dict[str, dict[str, Any]] = {}
    boxes = [r.bbox for r in records if r.bbox is not None]
    if boxes:
        west, south = min(b[0] for b in boxes), min(b[1] for b in boxes)
        east = statistics.median(0.5 * (b[0] + b[2]) for b in boxes)
        north = statistics.median(0.5 * (b[1] + b[3]) for b in boxes)
        cases["bbox"] = {"bbox": (west - 0.001, south - 0.001, east, north)}
    else:
        cases["bbox (no item has a location)"] = {"bbox": (-180.0, -90.0, 180.0, 90.0)}
    times = sorted(r.datetime for r in records if r.datetime is not None)
    if times:
        middle = times[len(times) // 2]
        cases["time"] = {"start": middle, "end": times[-1] + timedelta(days=1)}
        cases["time (before)"] = {"end": middle - timedelta(seconds=1)}
    platforms = Counter(r.platform for r in records if r.platform)
    if platforms:
        cases["platform"] = {"platforms": [platforms.most_common(1)[0][0]]}
    clouds = [r.cloud_cover for r in records if r.cloud_cover is not None]
    cases["cloud" if clouds else "cloud (no item has cloud cover)"] = {
        "cloud_max": statistics.median(clouds) if clouds else 50.0}
    combined: dict[str, Any] = {}
    parts = [name for name in ("bbox", "time", "platform") if name in cases]
    for name in parts:
        combined.update(cases[name])
    if len(parts) > 1:
        cases[" + ".join(parts)] = combined
    return cases


def brute_force_topk(query: np.ndarray, codes: np.ndarray, keep: np.ndarray, k: int
                     ) -> tuple[list[int], list[int]]:
    """(positions, distances) of the k nearest kept items; ties by insertion order."""
    from terrahash.codes import hamming_distances

    dist = hamming_distances(query[None, :], codes)[0]
    candidates = np.flatnonzero(keep)
    order = candidates[np.argsort(dist[candidates], kind="stable")][:k]
    return order.tolist(), dist[order].astype(int).tolist()


def check_filters(name: str, encoded: dict[str, np.ndarray], records: list[Any], labels: list[list[str]],
                  work: Path) -> list[dict[str, Any]]:
    """Index search with each filter vs brute force over the records."""
    import terrahash

    ids = [str(i) for i in encoded["ids"]]
    codes = encoded["codes_fused"]
    queries = encoded["codes_image"][: min(3, len(ids))]
    bits = codes.shape[1] * 8
    out = []
    with terrahash.Index.create(work / f"{name}.thi", bits=bits) as index:
        index.add(ids, codes, records=records, labels=labels)
        for case, filters in filter_cases(records).items():
            keep = np.array([record_matches(r, filters) for r in records])
            expected = {ids[i] for i in np.flatnonzero(keep)}
            found, _ = index.search(queries, k=len(ids), filters=filters)
            top_ids, top_dist = index.search(queries, k=TOP_K, filters=filters)
            topk_equal = True
            for qi, query in enumerate(queries):
                pos, dist = brute_force_topk(query, codes, keep, TOP_K)
                topk_equal &= top_ids[qi] == [ids[p] for p in pos] and list(top_dist[qi]) == dist
            out.append({
                "filter": case,
                "value": {k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in filters.items()},
                "brute_force": len(expected),
                "index": len(set(found[0])) if found else 0,
                "same_ids_all_queries": all(set(f) == expected for f in found),
                "same_topk": bool(topk_equal),
                "items": len(ids),
            })
    return out


# -- report -------------------------------------------------------------------------------
def write_markdown(path: Path, report: dict[str, Any]) -> None:
    out = [
        "# Spatiotemporal check", "",
        f"- Wall time {report['wall_seconds']:.0f} s",
        f"- Budget: {report['epochs']} epochs, {report['bits']} bits, seed {report['seed']}.",
        "- **These sets are tiny** (6, 54 and 45 items): the retrieval numbers are a functional "
        "check of image / image+metadata / metadata-only queries, not a measure of accuracy. "
        "Multi-label sets count a shared label as relevant.", "",
        "## Retrieval with and without metadata", "",
    ]
    cells = []
    for s in report["sets"]:
        for run in s["runs"]:
            cells += [[s["name"], run["variant"], r["query_kind"], r["db_kind"], r["protocol"], r["queries"],
                       r["database"], r["map@all"], r["map@20"], r["p@10"], r["chance"], r["unique_codes"]]
                      for r in run["retrieval"]]
    out += [markdown_table(("set", "run", "query", "database", "protocol", "n q", "n db", "mAP@all",
                            "mAP@20", "P@10", "chance", "unique db codes"), cells), "",
            "`chance` = mean fraction of relevant database items, the precision of a random ranking: "
            "multi-label sets with few labels are easy, read the columns against it.", ""]
    out += ["## Filter correctness (index vs brute force over the records)", "",
            "Index: `terrahash.Index` over the ccls2t run's fused codes of every item; queries: the "
            f"first items' image codes; `k` = all items for the id sets, `k` = {TOP_K} for the ranking.",
            ""]
    cells = []
    total = agree = 0
    for s in report["sets"]:
        for f in s["filters"]:
            total += 1
            agree += bool(f["same_ids_all_queries"] and f["same_topk"])
            cells.append([s["name"], f["filter"], json.dumps(f["value"]), f["items"], f["brute_force"],
                          f["index"], "yes" if f["same_ids_all_queries"] else "**NO**",
                          "yes" if f["same_topk"] else "**NO**"])
    out += [markdown_table(("set", "filter", "value", "items", "brute force", "index", "same ids",
                            f"same top-{TOP_K}"), cells), "",
            f"{agree} of {total} filter cases agree with brute force.", ""]
    save_report(path.with_suffix(".json"), report, "\n".join(out))


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Train, score and check filters on each set; write the reports."""
    from terrahash.data import default_data_dir, load_dataset

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=15)
    parser.add_argument("--bits", type=int, default=64)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--sets", default=",".join(SETS), help="comma-separated scene sets")
    parser.add_argument("--reuse", action="store_true", help="reuse finished runs with identical options")
    parser.add_argument("--work", type=Path, default=Path("bench/runs/spatiotemporal"))
    parser.add_argument("--out", type=Path, default=Path("bench/results"))
    args = parser.parse_args(argv)
    started = time.perf_counter()
    variants = [v for v in VARIANTS if v.name in ("ccls2t", "ccls2t --no-text")]
    report: dict[str, Any] = {
        **provenance(script_command(__file__, argv)),
        "epochs": args.epochs, "bits": args.bits, "seed": args.seed, "sets": [],
    }
    for name in [s.strip() for s in args.sets.split(",") if s.strip()]:
        data_dir = default_data_dir() / "scenes" / name
        dataset = load_dataset(data_dir)
        entry: dict[str, Any] = {"name": name, "items": len(dataset), "multilabel": dataset.multilabel,
                                 "classes": len(dataset.classes), "runs": []}
        encoded_full: dict[str, np.ndarray] | None = None
        for variant in variants:
            spec = RunSpec(data_dir, args.work / name / variant.name.replace(" --", "_"), variant,
                           args.bits, args.epochs, 64, args.seed)
            print(f"[{name}] {variant.name}: {spec.command()}", flush=True)
            train_run(spec, reuse=args.reuse)
            rows, encoded = score_run(spec.run_dir, data_dir)
            entry["runs"].append({"variant": variant.name, "command": spec.command(), "retrieval": rows})
            if variant.name == "ccls2t":
                encoded_full = encoded
        if encoded_full is not None:
            records = [item.record for item in dataset]
            with tempfile.TemporaryDirectory() as tmp:
                entry["filters"] = check_filters(name, encoded_full, records,
                                                 [list(item.labels) for item in dataset], Path(tmp))
        report["sets"].append(entry)
    report["wall_seconds"] = round(time.perf_counter() - started, 1)
    args.out.mkdir(parents=True, exist_ok=True)
    write_markdown(args.out / "spatiotemporal.md", json_safe(report))
    for s in report["sets"]:
        for f in s["filters"]:
            print(f"  {s['name']:24s} {f['filter']:24s} brute {f['brute_force']:3d} index {f['index']:3d} "
                  f"same ids {f['same_ids_all_queries']} same top-k {f['same_topk']}")
    print(f"wrote {args.out / 'spatiotemporal.json'} and .md in {fmt(report['wall_seconds'], 0)} s")
    return report


if __name__ == "__main__":
    main()
