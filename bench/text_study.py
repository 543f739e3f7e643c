"""Does the text branch earn its place? CCLS2T vs --no-text, --no-itc and two fusion designs; mixed sources.

Issue 13, point 7. Within UC Merced or AID every prompt is the same (one sensor, one GSD, no
date or place), so ``terrahash train`` leaves the text branch out there. It can only matter
where records differ, so the protocol mixes sources in one database:

* **Data.** UC Merced and AID (a seeded sample of ``--per-label`` items per class: aerial
  0.3 m and Google Earth imagery, no date or place), plus every item of the sets with real
  per-image metadata: BigEarthNet (two samples, Sentinel-2 with date, place and up to five
  CORINE labels) and the eo-learn Slovenia patches (Sentinel-2, date, place, cloud).
  Labels are mapped to the shared taxonomy's nodes (``bench.common.multisource_rows``), so
  "forest" in UC Merced, AID, BigEarthNet and eo-learn is one class; each item keeps its own
  record (platform, sensor, GSD, date, place), and its prompt is rendered from it.
* **Runs.** The default ``terrahash train`` (``ccls2t``, from the shipped backbone, default
  budget; its text branch is on here since the prompts differ), ``--no-text``, ``--no-itc``
  and two designs where metadata may help: ``--meta-dropout 0.5`` (half the items' fused
  codes are made without their metadata, so fused codes stay image codes that metadata
  refines) and ``--fusion film`` (the record, whose prompt and numbers carry the sensor and
  GSD, scales and shifts each image channel), alone and together; each for ``--seeds``
  (seed = the split and the training seed).
* **Scores.** ``terrahash evaluate``'s protocol: test-split image queries against the
  train split's fused codes (an archive stores image + metadata codes), mAP@100; also for
  the queries from the metadata sets alone, and for image + metadata queries (each test
  image with its own record), the one query kind whose metadata can help directly. The
  validation scores (from the train part; image queries are what ``terrahash train``
  selects epochs by) are shown beside and decide the verdict; mean and sample standard
  deviation over seeds.

Writes ``text_study.json``, ``text_study.md`` and ``text_study.png`` under ``--out``.

    python bench/text_study.py
    python bench/text_study.py --seeds 0 --per-label 3 --epochs 1      # smoke run
    python bench/text_study.py --reuse --seeds 0 1 2 3 4 5              # as bench/run_all.py runs it
    python bench/text_study.py --reuse --extra-seeds 3 4 5 --variants ccls2t "ccls2t --no-text"
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import numpy as np

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import (  # noqa: E402 - after the path fix that lets the script run directly
    MULTISOURCE_COLUMNS,
    RunSpec,
    Variant,
    json_safe,
    markdown_table,
    multisource_rows,
    provenance,
    save_report,
    script_command,
    train_run,
    write_manifest,
)

#: Sources without per-image metadata (sampled per class) and with it (taken whole).
PLAIN_SOURCES = ("ucmerced", "aid")
METADATA_SOURCES = ("bigearthnet_configilm", "bigearthnet_s2_examples", "eolearn_slovenia")
STUDY_VARIANTS = (
    Variant("ccls2t", "ccls2t"),
    Variant("ccls2t --no-text", "ccls2t", use_text=False),
    Variant("ccls2t --no-itc", "ccls2t", itc=False),
    # a design where metadata may help an image query: fused codes trained to stay image codes
    # that metadata refines (half the items' fused codes made without their metadata)
    Variant("ccls2t --meta-dropout 0.5", "ccls2t", meta_dropout=0.5),
    # a design where the sensor and GSD can change what an image feature means: the record
    # scales and shifts the image embedding's channels (FiLM) instead of adding a gated term
    Variant("ccls2t --fusion film", "ccls2t", fusion="film"),
    Variant("ccls2t --fusion film --meta-dropout 0.5", "ccls2t", fusion="film", meta_dropout=0.5),
)


def build_folder(data_root: Path, folder: Path, per_label: int, seed: int) -> Path:
    """The mixed dataset folder (absolute image paths, taxonomy-node labels, records)."""
    from terrahash.taxonomy import load_taxonomy

    sources = {s: data_root / "scenes" / s for s in (*PLAIN_SOURCES, *METADATA_SOURCES)}
    missing = [str(p) for p in sources.values() if not p.is_dir()]
    if missing:
        raise SystemExit(f"text_study: error: missing dataset folders: {', '.join(missing)}")
    caps = {s: per_label for s in PLAIN_SOURCES}
    return write_manifest(folder, MULTISOURCE_COLUMNS, multisource_rows(sources, load_taxonomy(), caps, seed))


def score(run: Path, folder: Path) -> dict[str, Any]:
    """Test mAP@100 against fused codes, for image queries (all, metadata sets) and fused ones.

    Image queries are the deployment case the verdict rests on. Fused queries (image + its
    record) are where metadata can help a query directly; for them the validation part is
    scored too (its fused codes against the rest of train, the run's selected weights), so
    that a verdict on them also rests on validation alone.
    """
    from bench.common import read_manifest
    from terrahash.app.evaluation import encode_split, ground_truth, split_indices
    from terrahash.data import load_dataset
    from terrahash.evaluate.protocol import evaluate_protocol
    from terrahash.model import load_model

    dataset = load_dataset(folder)
    model = load_model(run)
    split = encode_split(model, dataset, ("image", "fused"))
    source = {row["path"]: row["source_dataset"] for row in read_manifest(folder)[1]}
    train_idx, test_idx = split_indices(model.config, dataset)  # encode_split's order
    q_src = np.array([source[str(dataset[i].path)] for i in test_idx])
    d = split.codes("database", "fused")
    out: dict[str, Any] = {"n_queries": int(len(q_src))}
    for part, kind, rows in (
        ("all", "image", np.arange(len(q_src))),
        ("metadata", "image", np.flatnonzero(np.isin(q_src, METADATA_SOURCES))),
        ("fused", "fused", np.arange(len(q_src))),
    ):
        q = split.codes("queries", kind)
        report = evaluate_protocol(q[rows], d, split.relevance[rows], split.gains[rows], (100,))
        out[f"map@100_{part}"] = report["map@100"]
        out[f"n_queries_{part}"] = int(rows.size)
    val_ids = set(model.config["split"]["val_ids"])
    is_val = np.array([dataset[i].id in val_ids for i in train_idx])
    train = np.asarray(train_idx)
    relevance, gains, _, _ = ground_truth(dataset.subset(train[is_val].tolist()),
                                          dataset.subset(train[~is_val].tolist()))
    out["val_map@100_fused"] = evaluate_protocol(d[is_val], d[~is_val], relevance, gains, (100,))["map@100"]
    return out


#: The scores each run records, in words; the validation keys decide the verdict.
SCORED = (("val_map@100", "validation"), ("map@100_all", "test, all queries"),
          ("map@100_metadata", "test, metadata-set queries"),
          ("val_map@100_fused", "validation, image + metadata queries"),
          ("map@100_fused", "test, image + metadata queries"))
SCORE_KEYS = tuple(key for key, _ in SCORED)


def summarize(rows: list[dict[str, Any]]) -> dict[str, dict[str, float]]:
    """Mean and sample sd over seeds of each score, per variant."""
    out: dict[str, dict[str, float]] = {}
    for variant in dict.fromkeys(r["variant"] for r in rows):
        mine = [r for r in rows if r["variant"] == variant]
        out[variant] = {"seeds": len(mine)}
        for key in SCORE_KEYS:
            values = np.array([r[key] for r in mine if r.get(key) is not None], dtype=float)
            out[variant][f"{key}_mean"] = float(values.mean()) if values.size else float("nan")
            out[variant][f"{key}_sd"] = float(values.std(ddof=1)) if values.size > 1 else float("nan")
    return out


def paired(rows: list[dict[str, Any]], a: str, b: str, key: str) -> list[float]:
    """``a - b`` of ``key`` per seed (same split, same training seed), for seeds with both."""
    by = {(r["variant"], r["seed"]): r.get(key) for r in rows}
    seeds = sorted({r["seed"] for r in rows})
    return [by[(a, s)] - by[(b, s)] for s in seeds
            if by.get((a, s)) is not None and by.get((b, s)) is not None]


#: (variant, against, label) pairs the verdict compares seed by seed; the validation scores of
#: the comparisons against ``--no-text`` decide whether the branch (with or without metadata
#: dropout) helps.
COMPARISONS = (
    ("ccls2t", "ccls2t --no-text", "text branch vs --no-text"),
    ("ccls2t", "ccls2t --no-itc", "ITC vs --no-itc"),
    ("ccls2t --meta-dropout 0.5", "ccls2t", "metadata dropout 0.5 vs none"),
    ("ccls2t --meta-dropout 0.5", "ccls2t --no-text", "metadata dropout 0.5 vs --no-text"),
    ("ccls2t --fusion film", "ccls2t --no-text", "FiLM fusion vs --no-text"),
    ("ccls2t --fusion film", "ccls2t", "FiLM fusion vs gated"),
    ("ccls2t --fusion film --meta-dropout 0.5", "ccls2t --no-text",
     "FiLM + metadata dropout 0.5 vs --no-text"),
)
#: Variants the verdict judges against --no-text, in words.
JUDGED = (("ccls2t", "the text branch"),
          ("ccls2t --meta-dropout 0.5", "the text branch with metadata dropout"),
          ("ccls2t --fusion film", "the text branch with FiLM fusion"),
          ("ccls2t --fusion film --meta-dropout 0.5",
           "the text branch with FiLM fusion and metadata dropout"))


def consistent_gain(diffs: np.ndarray) -> bool:
    """Every seed agrees and the mean clears twice its standard error."""
    return bool((diffs > 0).all() and diffs.size > 1
                and diffs.mean() > 2 * diffs.std(ddof=1) / np.sqrt(diffs.size))


def verdict(rows: list[dict[str, Any]]) -> list[str]:
    """What the runs say about the text branch, in words: paired by seed, validation decides.

    Image queries are judged by ``val_map@100``, image + metadata queries by
    ``val_map@100_fused`` (a ``--no-text`` model's fused code is its image code, so that is
    the baseline a query's metadata has to beat).
    """
    lines = []
    decided: dict[tuple[str, str], str] = {}
    for variant, other, label in COMPARISONS:
        for key, what in SCORED:
            diffs = np.array(paired(rows, variant, other, key))
            if diffs.size == 0:
                continue
            sd = f" ± {diffs.std(ddof=1):.4f}" if diffs.size > 1 else ""
            lines.append(f"{label}, {what}: {diffs.mean():+.4f}{sd} mAP@100 per seed "
                         f"(higher in {(diffs > 0).sum()} of {diffs.size} seeds)")
            if key.startswith("val_") and other == "ccls2t --no-text":
                decided[(variant, key)] = ("helps" if consistent_gain(diffs) else "hurts"
                                           if consistent_gain(-diffs) else "shows no consistent gain or loss")
    for variant, subject in JUDGED:
        for key, queries in (("val_map@100", "image queries"),
                             ("val_map@100_fused", "image + metadata queries")):
            if (variant, key) in decided:
                lines.append(f"**On validation, for {queries}, {subject} {decided[(variant, key)]} "
                             "against --no-text on this mixed set.**")
    return lines


def main(argv: list[str] | None = None) -> None:
    """Build the mixed set, train each variant for each seed, score and report."""
    from terrahash.data import default_data_dir
    from terrahash.train.run import TrainOptions

    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0],
        epilog="examples:\n  python bench/text_study.py\n"
        "  python bench/text_study.py --seeds 0 --per-label 3 --epochs 1\n"
        "  python bench/text_study.py --reuse --extra-seeds 3 4 5 --variants ccls2t 'ccls2t --no-text'",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--variants", nargs="+", default=None, metavar="NAME",
                        help="train only these variants for --extra-seeds (names as in the table)")
    parser.add_argument("--extra-seeds", type=int, nargs="*", default=[],
                        help="more seeds for --variants only (e.g. the two a verdict hinges on)")
    parser.add_argument("--per-label", type=int, default=15,
                        help="items per class drawn from UC Merced and AID (the metadata sets are whole)")
    parser.add_argument("--epochs", type=int, default=TrainOptions.epochs)
    parser.add_argument("--bits", type=int, default=64)
    parser.add_argument("--work", type=Path, default=Path("bench/runs/text_study"))
    parser.add_argument("--out", type=Path, default=Path("bench/results"))
    parser.add_argument("--reuse", action="store_true", help="reuse finished runs with identical options")
    args = parser.parse_args(argv)
    command = script_command("bench/text_study.py", argv)
    rows: list[dict[str, Any]] = []
    known = {v.name for v in STUDY_VARIANTS}
    if unknown := sorted(set(args.variants or []) - known):
        parser.error(f"--variants: unknown {', '.join(unknown)}; choose from {', '.join(sorted(known))}")
    plan = [(seed, STUDY_VARIANTS) for seed in args.seeds]
    plan += [(seed, tuple(v for v in STUDY_VARIANTS if v.name in (args.variants or known)))
             for seed in args.extra_seeds]
    for seed, variants in plan:
        folder = build_folder(default_data_dir(), args.work / f"data_seed{seed}" / "multisource",
                              args.per_label, seed)
        for variant in variants:
            run_name = variant.name.replace(" --", "_").replace(" ", "_")
            spec = RunSpec(folder, args.work / f"seed{seed}" / run_name, variant,
                           args.bits, args.epochs, 64, seed)
            print(f"[seed {seed}] {variant.name}: {spec.command()}", flush=True)
            config = train_run(spec, reuse=args.reuse)
            rows.append({"variant": variant.name, "seed": seed, "command": spec.command(),
                         "text_branch": config.get("text_branch"),
                         "val_map@100": config.get("best_val_map@100"),
                         "best_epoch": config.get("best_epoch"),
                         "train_seconds": config.get("train_seconds_wall", config.get("train_seconds")),
                         **score(spec.run_dir, folder)})
            print(f"  val {rows[-1]['val_map@100']}, test all {rows[-1]['map@100_all']:.4f}, "
                  f"metadata {rows[-1]['map@100_metadata']:.4f}, val image + metadata "
                  f"{rows[-1]['val_map@100_fused']:.4f}, test {rows[-1]['map@100_fused']:.4f}", flush=True)
            write_reports(args, command, rows)


def write_reports(args: argparse.Namespace, command: str, rows: list[dict[str, Any]]) -> None:
    """JSON, Markdown and PNG of the runs so far (rewritten after each)."""
    summary = summarize(rows)
    seeds = sorted({r["seed"] for r in rows})
    report = {**provenance(command), "seeds": seeds, "per_label": args.per_label,
              "epochs": args.epochs, "bits": args.bits, "sources": [*PLAIN_SOURCES, *METADATA_SOURCES],
              "runs": rows, "summary": summary, "verdict": verdict(rows)}

    def cell(s: dict[str, float], key: str) -> str:
        mean, sd = s[key + "_mean"], s[key + "_sd"]
        return f"{mean:.4f}" if np.isnan(sd) else f"{mean:.4f} ± {sd:.4f}"

    lines = [
        "# Text branch study: mixed sources, CCLS2T vs --no-text, --no-itc, metadata dropout and FiLM fusion",
        "",
        f"UC Merced and AID ({args.per_label} per class) + BigEarthNet + eo-learn (whole), labels on the "
        f"taxonomy's nodes, each item with its own record; {args.epochs} epochs, {args.bits} bits, from the "
        f"shipped backbone; seeds {', '.join(map(str, seeds))} (split and training; the seeds column says "
        "how many each variant ran). Database: the train split's fused codes. Queries: test images "
        "alone (all, and those of the metadata sets), and test images with their records (image + "
        "metadata, fused codes); validation likewise from the train part. Mean ± sample sd over seeds.",
        "",
        markdown_table(
            ["variant", "seeds", "val mAP@100 (image)", "test mAP@100 (image, all)",
             "test mAP@100 (image, metadata sets)", "val mAP@100 (image + metadata)",
             "test mAP@100 (image + metadata)"],
            [[v, int(s["seeds"]), cell(s, "val_map@100"), cell(s, "map@100_all"), cell(s, "map@100_metadata"),
              cell(s, "val_map@100_fused"), cell(s, "map@100_fused")]
             for v, s in summary.items()]),
        "",
        *(f"- {line}" for line in report["verdict"]),
        "",
        "## Every run",
        "",
        markdown_table(
            ["variant", "seed", "text branch", "val (image)", "test (image, all)", "test (image, metadata)",
             "val (image + metadata)", "test (image + metadata)", "queries (metadata)", "train s"],
            [[r["variant"], r["seed"], str(r["text_branch"]).split(":")[0], r["val_map@100"],
              r["map@100_all"], r["map@100_metadata"], r["val_map@100_fused"], r["map@100_fused"],
              f"{r['n_queries_all']} ({r['n_queries_metadata']})", r["train_seconds"]] for r in rows]),
    ]
    save_report(args.out / "text_study.json", json_safe(report), "\n".join(lines))
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(11, 4))
    names = list(summary)
    x = np.arange(len(names))
    for offset, key, label in ((-0.3, "val_map@100", "validation (image)"),
                               (-0.15, "map@100_all", "test (image)"),
                               (0.0, "map@100_metadata", "test (image, metadata sets)"),
                               (0.15, "val_map@100_fused", "validation (image + metadata)"),
                               (0.3, "map@100_fused", "test (image + metadata)")):
        ax.bar(x + offset, [summary[n][f"{key}_mean"] for n in names], 0.15,
               yerr=[np.nan_to_num(summary[n][f"{key}_sd"]) for n in names], label=label, capsize=3)
    ax.set_xticks(x, [n.replace("ccls2t ", "").replace(" --", "\n--") for n in names], fontsize=8)
    ax.set_ylabel("mAP@100")
    lowest = min(summary[n][f"{k}_mean"] for n in names for k in SCORE_KEYS)
    if np.isfinite(lowest):  # start the axis below the lowest bar, so differences show
        ax.set_ylim(max(0.0, lowest - 0.1), None)
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.18), ncol=5, fontsize=8)
    fig.tight_layout()
    fig.savefig(args.out / "text_study.png", dpi=100)
    plt.close(fig)
    print("\n".join(lines))


if __name__ == "__main__":
    main()
