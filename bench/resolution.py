"""Benchmark: input resolution and training budget, chosen on validation within 10 minutes.

Trains CCLS2T (from the chosen backbone) on one set at each (image size, epochs) pair and
records what decides the default: the validation mAP@100 the trainer selects its epoch by
(items carved from the train split; no test item), the wall time of ``terrahash train``,
and encoding images/s. The test-split mAP@100 is reported beside it for readers, never
used. The default is the pair with the best validation score among those that trained
within the budget.

    python bench/resolution.py                                   # UC Merced, 64/128/224 px
    python bench/resolution.py --pairs 64:25,128:8 --budget-s 600

Writes ``bench/results/resolution.json``, ``.md`` and ``.png`` (validation mAP against
training time, one point per pair).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import markdown_table, provenance, save_report, script_command  # noqa: E402


def _run(data: Path, run: Path, size: int, epochs: int, backbone: str | None) -> dict[str, Any]:
    from bench.train import evaluate_run
    from terrahash.cli import main as cli

    flags = ["train", str(data), "--out", str(run), "--image-size", str(size), "--epochs", str(epochs)]
    flags += ["--backbone", backbone] if backbone is not None else []
    start = time.perf_counter()
    try:
        cli(flags)
    except SystemExit as exc:
        if exc.code not in (0, None):
            raise
    seconds = time.perf_counter() - start
    config = json.loads((run / "config.json").read_text())
    scores = evaluate_run(run, data)
    return {"image_size": size, "epochs": epochs, "train_seconds": round(seconds, 1),
            "val_map@100": config["best_val_map@100"], "best_epoch": config["best_epoch"],
            "test_map@100": scores["map@100_image"], "encode_images_per_s": scores["encode_images_per_s"],
            "command": "terrahash " + " ".join(flags)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path("../shared/data/scenes/ucmerced"))
    parser.add_argument("--pairs", default="64:25,128:8,224:3", help="SIZE:EPOCHS, comma-separated")
    parser.add_argument("--budget-s", type=float, default=600.0, help="training wall-time budget")
    parser.add_argument("--backbone", default=None, help="terrahash train --backbone (default: the CLI's)")
    parser.add_argument("--runs-dir", type=Path, default=Path("bench/runs/resolution"))
    parser.add_argument("--out", type=Path, default=Path("bench/results"))
    args = parser.parse_args()
    pairs = [tuple(int(v) for v in p.split(":")) for p in args.pairs.split(",") if p.strip()]
    rows = []
    for size, epochs in pairs:
        row = _run(args.data, args.runs_dir / f"{size}px-{epochs}ep", size, epochs, args.backbone)
        row["within_budget"] = row["train_seconds"] <= args.budget_s
        rows.append(row)
        print(json.dumps(row), flush=True)
    eligible = [r for r in rows if r["within_budget"] and r["val_map@100"] is not None]
    chosen = max(eligible, key=lambda r: r["val_map@100"]) if eligible else None
    report = {
        **provenance(script_command(__file__)),
        "dataset": str(args.data),
        "budget_s": args.budget_s,
        "rule": "default = best validation mAP@100 among pairs whose training fits the budget",
        "runs": rows,
        "chosen": None if chosen is None else {k: chosen[k] for k in ("image_size", "epochs")},
    }
    args.out.mkdir(parents=True, exist_ok=True)
    table = markdown_table(
        ["size px", "epochs", "train s", "within budget", "val mAP@100 (decides)", "test mAP@100 (reported)",
         "encode img/s"],
        [[r["image_size"], r["epochs"], r["train_seconds"], r["within_budget"], r["val_map@100"],
          r["test_map@100"], round(r["encode_images_per_s"])] for r in rows],
    )
    text = [f"# Resolution and budget ({args.data.name})", "", table, "",
            f"Chosen: {report['chosen']} ({report['rule']})."]
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
