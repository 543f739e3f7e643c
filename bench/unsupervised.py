"""Unsupervised mode on labelled sets (issue 13): mAP@100 of codes trained without labels.

A data centre's archive has no labels, so ``terrahash train --method unsupervised`` trains
from the shipped backbone on images alone. On a labelled scene set its codes can still be
scored by the labels it never saw, under the protocol ``terrahash evaluate`` uses (queries:
test split, image codes; database: train split, fused codes; AP@100 normalised by
min(R, 100)). Beside each score:

* **chance**: the same protocol with every code equal, so that every database item ties
  with every other; its tie-aware mAP@100 is the expectation over random rankings;
* **supervised CCLS2T**: the default ``terrahash train`` of the same set and budget, read
  from ``train_<set>.json`` of ``bench/train.py`` where that file exists (not retrained).

The runs use the default command's budget (``TrainOptions.epochs``) unless ``--epochs`` says
otherwise; unsupervised training encodes two views per image, so it takes about twice the
supervised time per epoch.

Writes ``unsupervised.json``, ``unsupervised.md`` and ``unsupervised.png`` under ``--out``.

    python bench/unsupervised.py
    python bench/unsupervised.py --data ../shared/data/scenes/ucmerced --epochs 5
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import (  # noqa: E402 - after the path fix that lets the script run directly
    fmt_ratio,
    json_safe,
    markdown_table,
    provenance,
    ratio,
    run_cli,
    save_report,
    script_command,
    train_images_per_s,
)

DEFAULT_SETS = (Path("../shared/data/scenes/ucmerced"), Path("../shared/data/scenes/aid"))


def score(run: Path, data: Path, seed: int) -> dict[str, Any]:
    """mAP@100 (image and fused queries vs fused database) and the chance level of the split."""
    from terrahash.app.evaluation import encode_split, report_split
    from terrahash.data import load_dataset
    from terrahash.evaluate.protocol import evaluate_protocol
    from terrahash.model import load_model

    model = load_model(run)
    split = encode_split(model, load_dataset(data), ("image", "fused"))
    image = report_split(split, "image", "fused", (100,), seed)
    fused = report_split(split, "fused", "fused", (100,), seed)
    q, d = split.codes("queries", "image"), split.codes("database", "fused")
    chance = evaluate_protocol(np.zeros_like(q), np.zeros_like(d), split.relevance, split.gains, (100,), seed)
    return {
        "map@100_image": image["map@100"],
        "tie_aware_map@100_image": image["tie_aware_map@100"],
        "map@100_fused": fused["map@100"],
        "chance_map@100": chance["tie_aware_map@100"],
        "n_queries": int(q.shape[0]),
        "n_database": int(d.shape[0]),
    }


def supervised_reference(out_dir: Path, tag: str) -> dict[str, Any] | None:
    """CCLS2T's test mAP@100 from ``bench/train.py``'s result file of the same set, if any."""
    path = out_dir / f"train_{tag}.json"
    if not path.is_file():
        return None
    report = json.loads(path.read_text())
    row = report.get("results", {}).get("ccls2t")
    if row is None:
        return None
    return {"map@100_image": row["map@100_image"], "epochs": report.get("epochs"),
            "train_seconds": row.get("train_seconds"), "file": str(path), "commit": report.get("commit")}


def main(argv: list[str] | None = None) -> None:
    """Train, score and report every set."""
    from terrahash.train.run import TrainOptions

    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0],
        epilog="examples:\n  python bench/unsupervised.py\n"
        "  python bench/unsupervised.py --data ../shared/data/scenes/ucmerced --epochs 5",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--data", type=Path, action="append",
                        help="labelled scene set (repeatable; default: UC Merced and AID)")
    parser.add_argument("--epochs", type=int, default=TrainOptions.epochs,
                        help="epochs per run (default: the CLI's default budget)")
    parser.add_argument("--bits", type=int, default=64)
    parser.add_argument("--seed", type=int, default=0, help="training seed (the split is the standard one)")
    parser.add_argument("--runs-dir", type=Path, default=Path("bench/runs/unsupervised"))
    parser.add_argument("--out", type=Path, default=Path("bench/results"), help="results folder")
    args = parser.parse_args(argv)
    sets = args.data or list(DEFAULT_SETS)
    missing = [str(s) for s in sets if not s.is_dir()]
    if missing:
        parser.error(f"--data: not a folder: {', '.join(missing)}")
    command = script_command("bench/unsupervised.py", argv)
    rows: dict[str, dict[str, Any]] = {}
    for data in sets:
        tag = data.resolve().name
        run = args.runs_dir / tag
        seconds = run_cli(["train", str(data), "--out", str(run), "--method", "unsupervised",
                           "--epochs", str(args.epochs), "--bits", str(args.bits), "--seed", str(args.seed)])
        config = json.loads((run / "config.json").read_text())
        rows[tag] = {
            "run": str(run),
            "train_seconds": seconds,
            "train_images_per_s": train_images_per_s(run),
            "best_epoch": config.get("best_epoch"),
            **score(run, data, args.seed),
            "supervised_ccls2t": supervised_reference(args.out, tag),
        }
        print(tag, json.dumps(json_safe(rows[tag])), flush=True)
        write_reports(args, command, rows)


def write_reports(args: argparse.Namespace, command: str, rows: dict[str, dict[str, Any]]) -> None:
    """JSON, Markdown and PNG of the sets done so far (rewritten after each)."""
    report = {
        **provenance(command),
        "epochs": args.epochs,
        "bits": args.bits,
        "seed": args.seed,
        "protocol": "terrahash train --method unsupervised (labels not read) from the shipped "
        "backbone; queries: test split image codes; database: train split fused codes; "
        "AP@100 / min(R, 100); chance: all codes equal, tie-aware mAP@100",
        "results": rows,
    }
    table = markdown_table(
        ["set", "unsupervised mAP@100", "tie-aware", "chance", "vs chance", "supervised CCLS2T",
         "unsupervised / supervised", "train s", "train img/s"],
        [[tag, f"{r['map@100_image']:.4f}", f"{r['tie_aware_map@100_image']:.4f}",
          f"{r['chance_map@100']:.4f}", f"{r['map@100_image'] / r['chance_map@100']:.0f}x",
          "-" if r["supervised_ccls2t"] is None else f"{r['supervised_ccls2t']['map@100_image']:.4f}",
          "-" if r["supervised_ccls2t"] is None
          else fmt_ratio(ratio(r["map@100_image"], r["supervised_ccls2t"]["map@100_image"])),
          f"{r['train_seconds']:.0f}",
          "-" if r["train_images_per_s"] is None else f"{r['train_images_per_s']:.0f}"]
         for tag, r in rows.items()],
    )
    lines = [
        f"# Unsupervised mode: {args.bits} bits, {args.epochs} epochs, seed {args.seed}",
        "",
        f"Protocol: {report['protocol']}. The supervised column is CCLS2T from `bench/train.py`'s "
        "result file of the same set (its own commit and date), for scale.",
        "",
        table,
    ]
    save_report(args.out / "unsupervised.json", json_safe(report), "\n".join(lines))
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 3.5))
    tags = list(rows)
    y = np.arange(len(tags))
    ax.barh(y - 0.25, [rows[t]["chance_map@100"] for t in tags], 0.25, label="chance")
    ax.barh(y, [rows[t]["map@100_image"] for t in tags], 0.25, label="unsupervised")
    ax.barh(y + 0.25, [(rows[t]["supervised_ccls2t"] or {}).get("map@100_image", 0.0) for t in tags],
            0.25, label="supervised CCLS2T")
    ax.set_yticks(y, tags)
    ax.set_xlabel("mAP@100 (test image queries vs train fused codes)")
    ax.legend(loc="lower right")
    fig.tight_layout()
    fig.savefig(args.out / "unsupervised.png", dpi=100)
    plt.close(fig)
    print("\n".join(lines))


if __name__ == "__main__":
    main()
