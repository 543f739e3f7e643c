"""Benchmark: every method and the CCLS2T ablations, same data, backbone and budget.

Trains on UC Merced (64 px, 64 bits, 80/20 split) by default, then reports training
images/s, encoding images/s and mAP@100 of image queries (test split) against the fused
codes of the train split, ranked by Hamming distance over a seeded random database order
(the manifest is sorted by class, and tie order must not flatter centre-based methods).
Writes ``bench/results/train_<set>.json``, ``.md`` and ``.png``.

    python bench/train.py                      # the CLI's default budget, every run
    python bench/train.py --data ../shared/data/scenes/aid --epochs 10 --only ccls2t,csq
    python bench/train.py --data ../shared/data/scenes/aid --per-label 70 --seed 1
    python bench/train.py --only ccls2t,orthohash --jobs 2   # two runs side by side

``--per-label N`` trains on a seeded sample of N items per label (a set of UC Merced's
size drawn from a bigger one); ``--seed`` sets that sample and the training seed. The split
is always the standard one (``terrahash train --split-seed 0``), whose test part the shipped
backbone's pretraining held out: another split would test on images the backbone has seen.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path
from typing import Any

import numpy as np

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import provenance, run_cli, save_report  # noqa: E402 - after the path fix

RUNS: dict[str, list[str]] = {
    "ccls2t": ["--method", "ccls2t"],
    "dpsh": ["--method", "dpsh"],
    "hashnet": ["--method", "hashnet"],
    "csq": ["--method", "csq"],
    "orthohash": ["--method", "orthohash"],
    "ccls2t --no-text": ["--method", "ccls2t", "--no-text"],
    "ccls2t --single-scale": ["--method", "ccls2t", "--single-scale"],
    "ccls2t --no-itc": ["--method", "ccls2t", "--no-itc"],
    "ccls2t --text": ["--method", "ccls2t", "--text"],
}


def evaluate_run(run: Path, data: Path, seed: int = 0) -> dict[str, Any]:
    """mAP@100 (image and fused queries vs fused train codes) and encode images/s.

    Scored by the application layer's evaluator, the one ``terrahash evaluate`` uses.
    """
    from terrahash.app.evaluation import encode_split, report_split
    from terrahash.data import load_dataset
    from terrahash.model import load_model
    from terrahash.model.export import agreement

    model = load_model(run)
    dataset = load_dataset(data)
    start = time.perf_counter()
    model.encode_dataset(dataset, kinds=("image",))
    encode_rate = len(dataset) / (time.perf_counter() - start)
    kinds = [k for k in ("image", "fused", "text") if k in model.query_kinds]
    split = encode_split(model, dataset, kinds)
    return {
        "map@100_image": report_split(split, "image", "fused", (100,), seed)["map@100"],
        "map@100_fused": report_split(split, "fused", "fused", (100,), seed)["map@100"],
        "encode_images_per_s": encode_rate,
        "agreement_hamming": agreement({f"codes_{k}": split.codes("queries", k) for k in kinds}),
    }


def main() -> None:
    """Run the benchmark and write the reports."""
    from terrahash.train.run import TrainOptions

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path("../shared/data/scenes/ucmerced"))
    parser.add_argument(
        "--epochs",
        type=int,
        default=TrainOptions.epochs,
        help="epochs per run (default: the CLI's default budget)",
    )
    parser.add_argument("--bits", type=int, default=64)
    parser.add_argument("--only", default="", help="comma-separated run names (default: all)")
    parser.add_argument("--runs-dir", type=Path, default=Path("bench/runs"))
    parser.add_argument("--out", type=Path, default=Path("bench/results"), help="results folder")
    parser.add_argument(
        "--per-label",
        type=int,
        default=None,
        help="train on a seeded sample of N items per label (default: all)",
    )
    parser.add_argument("--seed", type=int, default=0,
                        help="sample and training seed (the split is the standard one)")
    parser.add_argument("--backbone", default=None,
                        help="terrahash train --backbone (default: the CLI's default, the shipped one)")
    parser.add_argument("--jobs", type=int, default=1,
                        help="runs trained side by side, each on cores / JOBS threads (default: 1)")
    args = parser.parse_args()
    names = [n.strip() for n in args.only.split(",") if n.strip()] or list(RUNS)
    out_dir = args.out
    out_dir.mkdir(parents=True, exist_ok=True)
    from bench.common import subset_folder

    tag = args.data.resolve().name
    if args.per_label is not None:
        tag += f"_{args.per_label}pl"
    if args.seed:
        tag += f"_seed{args.seed}"
    if args.backbone is not None:
        tag += f"_backbone-{Path(args.backbone).name}"
    data = subset_folder(args.data, args.runs_dir / tag / "data", args.per_label, args.seed)
    runs = {name: args.runs_dir / tag / name.replace(" --", "_").replace(" ", "_") for name in names}
    commands = {
        name: ["train", str(data), "--out", str(run), "--epochs", str(args.epochs), "--bits", str(args.bits),
               "--seed", str(args.seed), *RUNS[name],
               *(["--backbone", args.backbone] if args.backbone is not None else [])]
        for name, run in runs.items()
    }
    results: dict[str, dict[str, object]] = {}
    trained = train_all(commands, runs, args.jobs)
    if args.jobs > 1:  # every run trains before any is scored: no encoding speed beside a training
        trained = iter(list(trained))
    for name, seconds in trained:
        run = runs[name]
        config = json.loads((run / "config.json").read_text())
        rows = (run / "metrics.csv").read_text().splitlines()
        header = rows[0].split(",")
        speeds = [float(r.split(",")[header.index("images_per_s")]) for r in rows[1:]]
        results[name] = {
            "train_seconds": seconds,
            "train_images_per_s": float(np.median(speeds)),
            "best_epoch": config["best_epoch"],
            **evaluate_run(run, data, args.seed),
        }
        print(name, json.dumps(results[name]), flush=True)
        write_reports(args, tag, out_dir, {n: results[n] for n in names if n in results})


def threads_per_job(jobs: int) -> int:
    """Torch threads each of ``jobs`` side-by-side runs gets: its share of the cores, at least one."""
    return max(1, (os.cpu_count() or 1) // jobs)


def train_all(
    commands: dict[str, list[str]], runs: dict[str, Path], jobs: int
) -> Iterator[tuple[str, float]]:
    """Run each ``terrahash train`` command; yield (name, wall seconds) as each finishes.

    One job trains in this process with every core. With ``jobs`` > 1, the runs train side
    by side as child processes with ``cores // jobs`` threads each (``OMP_NUM_THREADS``),
    each writing its progress to ``<run>.log``: on two cores a one-thread run beside another
    takes little longer than a two-thread run alone (the second thread buys little on these
    small convolutions), so a benchmark of several runs takes well under the time of running
    them in turn. A run's time is then measured on its share of the cores.
    """
    if jobs <= 1:
        for name, command in commands.items():
            yield name, run_cli(command)
        return
    env = {**os.environ, "OMP_NUM_THREADS": str(threads_per_job(jobs))}

    def child(name: str) -> tuple[str, float]:
        log = runs[name].with_suffix(".log")
        log.parent.mkdir(parents=True, exist_ok=True)
        start = time.perf_counter()
        with log.open("w") as out:
            code = subprocess.call([sys.executable, "-m", "terrahash.cli", *commands[name]],
                                   stdout=out, stderr=subprocess.STDOUT, env=env)
        if code != 0:
            raise SystemExit(f"{name}: terrahash train failed (exit {code}); see {log}")
        return name, time.perf_counter() - start

    logs = ", ".join(str(runs[n].with_suffix(".log")) for n in commands)
    print(f"training {len(commands)} runs, {jobs} at a time; progress in {logs}", flush=True)
    with ThreadPoolExecutor(jobs) as pool:
        for done in as_completed([pool.submit(child, name) for name in commands]):
            name, seconds = done.result()
            print(f"trained {name} in {seconds:.0f} s", flush=True)
            yield name, seconds


def _standard_split_seed() -> int:
    from terrahash.train.run import TrainOptions

    return TrainOptions.split_seed


def write_reports(
    args: argparse.Namespace, tag: str, out_dir: Path, results: dict[str, dict[str, object]]
) -> None:
    """JSON, Markdown and PNG of the results so far (rewritten after every run)."""
    baselines = [results[m]["map@100_image"] for m in ("dpsh", "hashnet", "csq", "orthohash") if m in results]
    best_baseline = max(baselines) if baselines else float("nan")
    report = {
        "dataset": str(args.data),
        "bits": args.bits,
        "epochs": args.epochs,
        "split_seed": _standard_split_seed(),  # terrahash train's default, which bench/train.py keeps
        **provenance(
            f"python bench/train.py --data {args.data} --epochs {args.epochs} --bits {args.bits}"
            + (f" --per-label {args.per_label}" if args.per_label is not None else "")
            + (f" --seed {args.seed}" if args.seed else "")
            + (f" --backbone {args.backbone}" if args.backbone is not None else "")
            + (f" --only '{args.only}'" if args.only else "")
            + (f" --jobs {args.jobs}" if args.jobs > 1 else "")
            + (f" --out {args.out}" if args.out != Path("bench/results") else "")
        ),
        "protocol": "queries: test split (image codes); database: train split fused codes in a "
        "seeded random order; Hamming ranking, stable ties; AP@100 / min(R, 100)",
        "results": results,
        "best_baseline_map@100": best_baseline,
        "jobs": args.jobs,
    }
    lines = [
        f"# Training benchmark: {tag}, {args.bits} bits, {args.epochs} epochs",
        "",
        *([f"Runs trained {args.jobs} at a time, each on {threads_per_job(args.jobs)} "
           "thread(s); train s is each run's own wall time on that share.", ""] if args.jobs > 1 else []),
        "| run | mAP@100 image->fused | mAP@100 fused->fused | vs best baseline | train s | "
        "train img/s | encode img/s | best epoch |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name, r in results.items():
        ratio = r["map@100_image"] / best_baseline if baselines else float("nan")  # type: ignore[operator]
        lines.append(
            f"| {name} | {r['map@100_image']:.4f} | {r['map@100_fused']:.4f} | {ratio:.3f} | "
            f"{r['train_seconds']:.0f} | {r['train_images_per_s']:.0f} | "
            f"{r['encode_images_per_s']:.0f} | {r['best_epoch']} |"
        )
    save_report(out_dir / f"train_{tag}.json", report, "\n".join(lines))
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 4))
    ax.barh(list(results), [r["map@100_image"] for r in results.values()])  # type: ignore[misc]
    ax.set_xlabel("mAP@100 (image queries vs fused database)")
    ax.set_title(f"{tag}, {args.bits} bits, {args.epochs} epochs")
    fig.tight_layout()
    fig.savefig(out_dir / f"train_{tag}.png", dpi=100)
    print("\n".join(lines))


if __name__ == "__main__":
    main()
