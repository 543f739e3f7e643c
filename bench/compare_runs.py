"""Benchmark report: trained runs side by side (validation decides, test is reported).

For runs already trained with ``terrahash train`` (their folders), this scores each one with
the application layer's evaluator (``terrahash evaluate``'s numbers: test-split image queries
against the train split's fused codes, mAP@100) and puts it beside what the run itself
recorded: its validation mAP@100 (items carved from the train split, the only score a
choice may rest on), its training options, backbone and wall time.

    python bench/compare_runs.py --data ../shared/data/scenes/ucmerced --name backbone \\
        runs/ucm-backbone runs/ucm-scratch

Writes ``bench/results/compare_<name>.json``, ``.md`` and ``.png``.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import markdown_table, provenance, ratio, save_report, script_command  # noqa: E402


def _row(run: Path, data: Path) -> dict[str, Any]:
    from terrahash.app.evaluation import evaluate_run
    from terrahash.data import load_dataset
    from terrahash.model import load_model

    config = json.loads((run / "config.json").read_text())
    report = evaluate_run(load_model(run), load_dataset(data))
    options = config.get("train", {})
    backbone = config.get("backbone")
    return {
        "run": str(run),
        "method": config["method"],
        "backbone": backbone["name"] if backbone else "none",
        "backbone_sha256": backbone["sha256"] if backbone else None,
        "epochs": options.get("epochs"),
        "seed": options.get("seed", 0),
        "image_size": config.get("image_size"),
        "lr": options.get("lr"),
        "backbone_lr_scale": options.get("backbone_lr_scale", 1.0),
        "val_map@100": config.get("best_val_map@100"),
        "best_epoch": config.get("best_epoch"),
        "test_map@100": report["map@100"],
        "test_tie_aware_map@100": report.get("tie_aware_map@100"),
        "train_seconds": config.get("train_seconds"),
        # every training option but the seed (and the backbone's path: its weights are above)
        "setup": {k: v for k, v in sorted(options.items()) if k not in ("seed", "resume", "backbone")},
        "command": f"terrahash train {config['dataset']} --out {run} --method {config['method']} "
        f"--epochs {options.get('epochs')} --backbone {options.get('backbone', 'none')}"
        + (f" --backbone-lr-scale {options['backbone_lr_scale']:g}"
           if options.get("backbone_lr_scale") else "")
        + ({True: " --text", False: " --no-text"}.get(options.get("use_text"), ""))
        + (f" --seed {options['seed']}" if options.get("seed") else ""),
    }


def by_backbone(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Mean validation and test mAP@100 over the runs that differ only in their seed, per method
    and backbone (its weights, not its name): a backbone, or a method, is chosen on the
    validation mean."""
    groups: dict[tuple[str, str, str | None, str], list[dict[str, Any]]] = {}
    for row in rows:
        setup = json.dumps(row.get("setup", {}), sort_keys=True)
        groups.setdefault((row["method"], row["backbone"], row["backbone_sha256"], setup), []).append(row)
    out = []
    for (method, name, sha, _), members in groups.items():
        vals = [r["val_map@100"] for r in members if r["val_map@100"] is not None]
        tests = [r["test_map@100"] for r in members]
        out.append({"method": method, "backbone": name, "backbone_sha256": sha, "runs": len(members),
                    "seeds": sorted({r["seed"] for r in members}),
                    "val_map@100_mean": sum(vals) / len(vals) if vals else None,
                    "test_map@100_mean": sum(tests) / len(tests)})
    return out


def _backbone_label(name: str, sha: str | None) -> str:
    """A backbone's name and the start of its SHA-256: two pretrainings may share a name."""
    return f"{name} ({sha[:12]})" if sha else name


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+", type=Path, help="run folders written by terrahash train")
    parser.add_argument("--data", type=Path, required=True, help="the dataset the runs were trained on")
    parser.add_argument("--name", required=True, help="report name: bench/results/compare_NAME.*")
    parser.add_argument("--out", type=Path, default=Path("bench/results"))
    args = parser.parse_args()
    rows = [_row(run, args.data) for run in args.runs]
    first = rows[0]
    for row in rows:
        row["val_ratio_to_first"] = ratio(row["val_map@100"], first["val_map@100"])
        row["test_ratio_to_first"] = ratio(row["test_map@100"], first["test_map@100"])
    groups = by_backbone(rows)
    report = {**provenance(script_command(__file__)), "dataset": str(args.data), "runs": rows,
              "by_backbone": groups}
    stem = args.out / f"compare_{args.name}"
    table = markdown_table(
        ["run", "method", "backbone", "trunk lr scale", "epochs", "seed", "val mAP@100 (decides)",
         "test mAP@100 (reported)", "test vs first", "train s"],
        [[Path(r["run"]).name, r["method"], _backbone_label(r["backbone"], r["backbone_sha256"]),
          r["backbone_lr_scale"], r["epochs"], r["seed"], r["val_map@100"], r["test_map@100"],
          r["test_ratio_to_first"], r["train_seconds"]] for r in rows],
    )
    if len(groups) < len(rows):
        table += "\n\nMean over the runs that differ only in their seed:\n\n" + markdown_table(
            ["method", "backbone", "runs", "seeds", "val mAP@100 mean (decides)",
             "test mAP@100 mean (reported)"],
            [[g["method"], _backbone_label(g["backbone"], g["backbone_sha256"]), g["runs"],
              ", ".join(map(str, g["seeds"])), g["val_map@100_mean"], g["test_map@100_mean"]]
             for g in groups])
    lines = [f"# {args.name}: runs side by side ({args.data.name})", "",
             "Training times are as each run recorded them (the CPU was shared).", "", table, "",
             *[f"- `{r['command']}`" for r in rows]]
    save_report(stem.with_suffix(".json"), report, "\n".join(lines))
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 0.6 * len(rows) + 1.5))
    names = [Path(r["run"]).name for r in rows]
    ax.barh(names, [r["test_map@100"] for r in rows], label="test mAP@100")
    ax.scatter([r["val_map@100"] or 0.0 for r in rows], names, color="black", zorder=3, label="val mAP@100")
    ax.set_xlabel("mAP@100")
    ax.legend()
    fig.tight_layout()
    fig.savefig(stem.with_suffix(".png"), dpi=110)
    print("\n".join(lines))


if __name__ == "__main__":
    main()
