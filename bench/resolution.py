"""Benchmark: input resolution and training budget, chosen on validation within 10 minutes.

Trains CCLS2T (from the chosen backbone) on one set at each (image size, epochs) pair and
records what decides the default: the validation mAP@100 the trainer selects its epoch by
(items carved from the train split; no test item), the wall time of ``terrahash train``,
and encoding images/s. The test-split mAP@100 is reported beside it for readers, never
used. Among the pairs that trained within the budget, the default is the cheapest one
whose validation score is within the best pair's own validation noise of the best: the
standard deviation of its score over its last 10 epochs, where the learning rate is near
zero and the model barely changes, so that the score's swing is measurement noise (a
one-standard-error rule: a second choice that is better only by noise costs more time for
nothing).

    python bench/resolution.py                                   # UC Merced, 64/128/224 px
    python bench/resolution.py --pairs 64:25,128:8 --budget-s 600
    python bench/resolution.py --pairs 64:25,64:50,64:80 --reuse   # keep finished runs

Writes ``bench/results/resolution.json``, ``.md`` and ``.png`` (validation mAP against
training time, one point per pair).
"""

from __future__ import annotations

import argparse
import csv
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import (  # noqa: E402 - after the path fix
    markdown_table,
    provenance,
    run_cli,
    save_report,
    script_command,
    trained_from,
)

#: Each finished run's row, beside its model, so that ``--reuse`` can skip it.
ROW_FILE = "resolution_row.json"


#: Last scored epochs whose validation scores measure the score's noise.
NOISE_EPOCHS = 10


def validation_noise(run: Path, last: int = NOISE_EPOCHS) -> float | None:
    """Standard deviation of a run's validation mAP@100 over its last ``last`` scored epochs."""
    with (run / "metrics.csv").open(newline="") as handle:
        values = [float(r["val_map@100"]) for r in csv.DictReader(handle) if r.get("val_map@100")]
    return statistics.stdev(values[-last:]) if len(values) >= 3 else None


def choose(rows: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The cheapest in-budget pair within the best pair's validation noise of the best score."""
    eligible = [r for r in rows if r["within_budget"] and r["val_map@100"] is not None]
    if not eligible:
        return None
    best = max(eligible, key=lambda r: r["val_map@100"])
    tolerance = best.get("val_noise") or 0.0
    close = [r for r in eligible if r["val_map@100"] >= best["val_map@100"] - tolerance]
    return min(close, key=lambda r: r["train_seconds"])


def _same_training(saved: str, command: str) -> bool:
    """Whether two ``terrahash train`` commands differ at most in their ``--out`` folder."""
    def without_out(text: str) -> list[str]:
        words = text.split()
        return [w for i, w in enumerate(words) if w != "--out" and (i == 0 or words[i - 1] != "--out")]
    return without_out(saved) == without_out(command)


def _run(data: Path, run: Path, size: int, epochs: int, backbone: str | None, reuse: bool) -> dict[str, Any]:
    from bench.train import evaluate_run

    flags = ["train", str(data), "--out", str(run), "--image-size", str(size), "--epochs", str(epochs)]
    flags += ["--backbone", backbone] if backbone is not None else []
    command = "terrahash " + " ".join(flags)
    saved = run / ROW_FILE
    if reuse and saved.is_file():
        row: dict[str, Any] = json.loads(saved.read_text())
        config_file = run / "config.json"
        config = json.loads(config_file.read_text()) if config_file.is_file() else {}
        if _same_training(row.get("command", ""), command) and trained_from(config, backbone or "default"):
            return row
    seconds = run_cli(flags)
    config = json.loads((run / "config.json").read_text())
    start = time.perf_counter()
    scores = evaluate_run(run, data)
    row = {"image_size": size, "epochs": epochs, "train_seconds": round(seconds, 1),
           "evaluate_seconds": round(time.perf_counter() - start, 1),
           "val_map@100": config["best_val_map@100"], "best_epoch": config["best_epoch"],
           "test_map@100": scores["map@100_image"], "encode_images_per_s": scores["encode_images_per_s"],
           "command": command}
    saved.write_text(json.dumps(row, indent=1) + "\n")
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path("../shared/data/scenes/ucmerced"))
    parser.add_argument("--pairs", default="64:25,64:50,64:80,128:8,224:3",
                        help="SIZE:EPOCHS, comma-separated")
    parser.add_argument("--budget-s", type=float, default=600.0, help="training wall-time budget")
    parser.add_argument("--backbone", default=None, help="terrahash train --backbone (default: the CLI's)")
    parser.add_argument("--runs-dir", type=Path, default=Path("bench/runs/resolution"))
    parser.add_argument("--out", type=Path, default=Path("bench/results"))
    parser.add_argument("--reuse", action="store_true",
                        help="reuse a finished run of the same command (its row is saved beside it)")
    args = parser.parse_args()
    pairs = [tuple(int(v) for v in p.split(":")) for p in args.pairs.split(",") if p.strip()]
    rows = []
    for size, epochs in pairs:
        run = args.runs_dir / f"{size}px-{epochs}ep"
        row = _run(args.data, run, size, epochs, args.backbone, args.reuse)
        row["within_budget"] = row["train_seconds"] <= args.budget_s
        row["val_noise"] = validation_noise(run)
        rows.append(row)
        print(json.dumps(row), flush=True)
    chosen = choose(rows)
    report = {
        **provenance(script_command(__file__)),
        "dataset": str(args.data),
        "budget_s": args.budget_s,
        "rule": (f"default = the fastest pair whose training fits the budget and whose validation "
                 f"mAP@100 is within the best such pair's validation noise (sd over its last "
                 f"{NOISE_EPOCHS} epochs) of the best"),
        "runs": rows,
        "chosen": None if chosen is None else {k: chosen[k] for k in ("image_size", "epochs")},
    }
    args.out.mkdir(parents=True, exist_ok=True)
    table = markdown_table(
        ["size px", "epochs", "train s", "evaluate s", "within budget", "val mAP@100 (decides)",
         f"val noise (sd, last {NOISE_EPOCHS} ep)", "test mAP@100 (reported)", "encode img/s"],
        [[r["image_size"], r["epochs"], r["train_seconds"], r.get("evaluate_seconds", "–"),
          r["within_budget"], r["val_map@100"], "–" if r["val_noise"] is None else round(r["val_noise"], 4),
          r["test_map@100"], round(r["encode_images_per_s"])] for r in rows],
    )
    text = [f"# Resolution and budget ({args.data.name})", "", table, "",
            f"Chosen: {report['chosen']} ({report['rule']})."]
    if args.reuse:
        text += ["", "With `--reuse`, a pair trained earlier by the same command (up to its `--out` "
                 "folder) keeps the row measured when it ran, times included, and its `command` is the "
                 "one that ran; the validation noise is read from its metrics."]
    save_report(args.out / "resolution.json", report, "\n".join(text))
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 3.5))
    for r in rows:
        ax.scatter(r["train_seconds"], r["val_map@100"] or 0.0)
        ax.annotate(f"{r['image_size']} px, {r['epochs']} ep", (r["train_seconds"], r["val_map@100"] or 0.0))
    ax.axvline(args.budget_s, color="grey", linestyle="--", label="budget")
    ax.set_xlabel("training wall time, s")
    ax.set_ylabel("validation mAP@100")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(args.out / "resolution.png", dpi=110)
    print("\n".join(text))


if __name__ == "__main__":
    main()
