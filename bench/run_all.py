"""One command for every number: run each benchmark in order and regenerate its results.

``make bench`` (this script) rewrites every file under ``bench/results/``, each stating its
command, commit, date and machine (``bench.common.save_report``), then regenerates the
README's benchmark tables from them (``bench/readme.py``). The full run takes hours on two
CPU cores (training dominates). ``make bench-quick`` (``--quick``) runs every script on a
tiny budget, for CI time: it checks that each still runs and writes its provenance, into a
scratch folder (default ``bench/runs/quick/results``) so it never replaces measured results.

Run: ``python bench/run_all.py [--quick] [--only NAME,...] [--list] [--out DIR]``.
"""

from __future__ import annotations

import argparse
import shlex
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

ROOT = Path(__file__).resolve().parents[1]
UCM = "../shared/data/scenes/ucmerced"
AID = "../shared/data/scenes/aid"
METHODS = "ccls2t,csq,hashnet,dpsh,orthohash"
#: ``bench/train.py``'s seed-0 CCLS2T run (step ``train_ucmerced``): exactly the default
#: ``terrahash train`` on UC Merced, so the comparisons against the default reuse it.
DEFAULT_RUN = "bench/runs/ucmerced/ccls2t"


@dataclass(frozen=True)
class Step:
    """One benchmark: the commands of a full and of a quick run (``None``: skipped there).

    Commands are argument lists after the Python interpreter (``make ...`` lines run as
    they are); ``{out}`` is the results folder, ``{runs}`` the scratch folder for runs.
    """

    name: str
    full: tuple[tuple[str, ...], ...]
    quick: tuple[tuple[str, ...], ...] | None
    #: What it writes under the results folder (glob patterns, checked after it ran).
    outputs: tuple[str, ...]


def _train(data: str, out: str, *flags: str) -> tuple[str, ...]:
    return ("-m", "terrahash.cli", "train", data, "--out", out, *flags)


STEPS: tuple[Step, ...] = (
    Step("pretrain", (("make", "backbone"),), None, ("pretrain.json", "pretrain.md")),
    # Each method's learning rate and loss knob on the validation part; writes the defaults
    # file every later training reads (src/terrahash/train/method_defaults.json).
    Step("tuning",
         (("bench/tune.py", "--backbone", "default", "--methods", METHODS, "--runs-dir", "{runs}/tune",
           "--out-dir", "{out}"),),
         (("bench/tune.py", "--backbone", "default", "--methods", "ccls2t,csq", "--lrs", "0.002",
           "--epochs", "1", "--per-label", "4", "--runs-dir", "{runs}/tune", "--out-dir", "{out}",
           "--defaults-out", "{runs}/method_defaults.json"),),
         ("tuning.json", "tuning.md")),
    # The three leading methods again at 50 epochs (the default budget then, 80 now), CCLS2T's
    # knob the weight of its bitwise centre term; overrides their 25-epoch choices above.
    Step("tuning_50ep",
         (("bench/tune.py", "--backbone", "default", "--methods", "ccls2t,orthohash,csq",
           "--lrs", "0.001,0.002", "--epochs", "50", "--name", "tuning_50ep",
           "--runs-dir", "{runs}/tune", "--out-dir", "{out}"),),
         (("bench/tune.py", "--backbone", "default", "--methods", "ccls2t,orthohash", "--lrs", "0.002",
           "--epochs", "1", "--per-label", "4", "--name", "tuning_50ep", "--runs-dir", "{runs}/tune",
           "--out-dir", "{out}", "--defaults-out", "{runs}/method_defaults.json"),),
         ("tuning_50ep.json", "tuning_50ep.md")),
    # HashNet and DPSH at the same 50 epochs and the same 2 x 2 budget, on their own learning-rate
    # grids (their 25-epoch choice and half of it); overrides their 25-epoch choices above.
    Step("tuning_50ep_baselines",
         (("bench/tune.py", "--backbone", "default", "--methods", "hashnet,dpsh",
           "--method-lrs", "hashnet=0.00025,0.0005", "--method-lrs", "dpsh=2.5e-05,5e-05", "--epochs", "50",
           "--name", "tuning_50ep_baselines", "--runs-dir", "{runs}/tune", "--out-dir", "{out}"),),
         (("bench/tune.py", "--backbone", "default", "--methods", "hashnet,dpsh",
           "--method-lrs", "hashnet=0.0005", "--method-lrs", "dpsh=5e-05", "--epochs", "1",
           "--per-label", "4", "--name", "tuning_50ep_baselines", "--runs-dir", "{runs}/tune",
           "--out-dir", "{out}", "--defaults-out", "{runs}/method_defaults.json"),),
         ("tuning_50ep_baselines.json", "tuning_50ep_baselines.md")),
    Step("resolution",
         (("bench/resolution.py", "--budget-s", "600",
           "--runs-dir", "{runs}/resolution", "--out", "{out}"),),
         (("bench/resolution.py", "--pairs", "64:1,128:1", "--budget-s", "600",
           "--runs-dir", "{runs}/resolution", "--out", "{out}"),),
         ("resolution.json", "resolution.md")),
    # Seeds 1 and 2 (split and training) of the three strongest methods beside seed 0.
    Step("train_ucmerced",
         (("bench/train.py", "--only", METHODS, "--out", "{out}"),
          ("bench/train.py", "--seed", "1", "--only", "ccls2t,csq,orthohash", "--out", "{out}"),
          ("bench/train.py", "--seed", "2", "--only", "ccls2t,csq,orthohash", "--out", "{out}")),
         (("bench/train.py", "--only", "ccls2t,csq", "--epochs", "1", "--per-label", "4",
           "--runs-dir", "{runs}/train", "--out", "{out}"),),
         ("train_ucmerced*.json", "train_ucmerced*.md")),
    # The seed runs above, side by side on validation (which decides) and test.
    Step("compare_methods",
         (("bench/compare_runs.py", "--data", UCM, "--name", "methods",
           *(f"bench/runs/{tag}/{m}" for tag in ("ucmerced", "ucmerced_seed1", "ucmerced_seed2")
             for m in ("ccls2t", "csq", "orthohash")), "--out", "{out}"),),
         None,
         ("compare_methods.json", "compare_methods.md")),
    # AID in full: its split is the pretraining's, so no test image was seen (a per-label
    # sample would draw its test part from images the backbone trained on). CCLS2T against
    # OrthoHash, the best baseline on UC Merced from the shipped backbone (side by side, one
    # thread each).
    Step("train_aid",
         (("bench/train.py", "--data", AID, "--only", "ccls2t,orthohash", "--jobs", "2", "--out", "{out}"),),
         (("bench/train.py", "--data", AID, "--per-label", "2", "--only", "ccls2t", "--epochs", "1",
           "--runs-dir", "{runs}/train", "--out", "{out}"),),
         ("train_aid*.json", "train_aid*.md")),
    Step("retrieval",
         (("bench/retrieval.py", "--quick", "--out", "{out}"),),
         (("bench/retrieval.py", "--quick", "--per-label", "3", "--epochs", "1", "--ms-per-label", "2",
           "--work", "{runs}/retrieval", "--out", "{out}"),),
         ("retrieval.json", "retrieval.md")),
    Step("compare_backbone",
         (_train(UCM, "{runs}/ab/none", "--backbone", "none"),
          ("bench/compare_runs.py", "--data", UCM, "--name", "backbone", "{runs}/ab/none", DEFAULT_RUN,
           "--out", "{out}")),
         None,
         ("compare_backbone.json", "compare_backbone.md")),
    # The shipped backbone (40 epochs, validation parts held out) beside the 20-epoch one shipped
    # before it (validation parts seen, one torch thread), two training seeds each on UC Merced's
    # standard split; validation decided (the older one's validation scores lean its way).
    Step("compare_pretrain",
         (("make", "pretrain-backbone", "BACKBONE_EPOCHS=20", "PRETRAIN_THREADS=1",
           "PRETRAIN_FLAGS=--val-fraction 0"),
          _train(UCM, "{runs}/pretrain/e20-s0", "--backbone", "bench/runs/backbone20"),
          _train(UCM, "{runs}/pretrain/e20-s1", "--backbone", "bench/runs/backbone20", "--seed", "1"),
          _train(UCM, "{runs}/pretrain/e40-s0"),
          _train(UCM, "{runs}/pretrain/e40-s1", "--seed", "1"),
          ("bench/compare_runs.py", "--data", UCM, "--name", "pretrain", "{runs}/pretrain/e20-s0",
           "{runs}/pretrain/e20-s1", "{runs}/pretrain/e40-s0", "{runs}/pretrain/e40-s1",
           "--out", "{out}")),
         None,
         ("compare_pretrain.json", "compare_pretrain.md")),
    Step("compare_trunk-lr",
         (_train(UCM, "{runs}/trunk/s03", "--backbone", "default", "--backbone-lr-scale", "0.3"),
          ("bench/compare_runs.py", "--data", UCM, "--name", "trunk-lr", "{runs}/ab/none", DEFAULT_RUN,
           "{runs}/trunk/s03", "--out", "{out}")),
         None,
         ("compare_trunk-lr.json", "compare_trunk-lr.md")),
    Step("compare_text-auto",
         (_train(UCM, "{runs}/text/on", "--text"),
          ("bench/compare_runs.py", "--data", UCM, "--name", "text-auto", DEFAULT_RUN,
           "{runs}/text/on", "--out", "{out}")),
         None,
         ("compare_text-auto.json", "compare_text-auto.md")),
    Step("text_study",
         (("bench/text_study.py", "--epochs", "25", "--seeds", "0", "1", "2", "3", "4", "5",
           "--work", "{runs}/text_study", "--out", "{out}"),),
         (("bench/text_study.py", "--seeds", "0", "--per-label", "2", "--epochs", "1",
           "--work", "{runs}/text_study", "--out", "{out}"),),
         ("text_study.json", "text_study.md")),
    Step("unsupervised",
         (("bench/unsupervised.py", "--epochs", "25", "--runs-dir", "{runs}/unsupervised",
           "--out", "{out}"),),
         (("bench/unsupervised.py", "--data", UCM, "--epochs", "1", "--runs-dir", "{runs}/unsupervised",
           "--out", "{out}"),),
         ("unsupervised.json", "unsupervised.md")),
    Step("rerank",
         (_train(UCM, "{runs}/rerank", "--epochs", "5"),
          ("bench/rerank.py", "--run", "{runs}/rerank", "--out", "{out}")),
         (_train(UCM, "{runs}/rerank", "--epochs", "1"),
          ("bench/rerank.py", "--run", "{runs}/rerank", "--n", "20000", "--queries", "20", "--out", "{out}")),
         ("rerank.json", "rerank.md")),
    Step("sameplace",
         # the views term's temperature, chosen on the validation half (train/losses/unsupervised.py)
         (("bench/sameplace.py", "--backbone", "default", "--epochs", "16", "--input-norm", "image",
           "--pairs", "temporal", "--temperature", "0.3", "0.2", "0.15", "0.1", "0.07", "0.05",
           "--work", "{runs}/sameplace",
           "--out", "{out}/sameplace-temperature"),
          ("bench/sameplace.py", "--backbone", "default", "--epochs", "16", "50",
           "--input-norm", "image", "--pairs", "temporal", "--work", "{runs}/sameplace", "--out", "{out}"),
          ("bench/sameplace.py", "--backbone", "default", "--epochs", "1", "--input-norm", "dataset", "image",
           "--work", "{runs}/sameplace", "--out", "{out}/sameplace-input-norm")),
         None,
         ("sameplace.json", "sameplace.md", "sameplace-input-norm/sameplace.json",
          "sameplace-temperature/sameplace.json")),
    Step("spatiotemporal",
         (("bench/spatiotemporal.py", "--epochs", "15", "--out", "{out}"),),
         (("bench/spatiotemporal.py", "--epochs", "1", "--work", "{runs}/spatiotemporal", "--out", "{out}"),),
         ("spatiotemporal.json", "spatiotemporal.md")),
    Step("search",
         (("bench/search.py", "--out", "{out}"),),
         (("bench/search.py", "--quick", "--no-10m", "--queries", "10", "--out", "{out}"),),
         ("search.json", "search.md")),
    Step("rshst",
         (("bench/rshst.py", "--out", "{out}"),),
         (("bench/rshst.py", "--quick", "--runs-dir", "{runs}/rshst", "--out", "{out}"),),
         ("rshst.json", "rshst.md")),
    Step("scale",
         (("bench/scale.py", "--run", "{runs}/rerank", "--out", "{out}"),),
         (("bench/scale.py", "--no-postgres", "--run", "{runs}/rerank", "--images", "200",
           "--out", "{out}"),),
         ("scale.json", "scale.md")),
    Step("checksums",
         (("bench/checksums.py", "--out", "{out}"),),
         (("bench/checksums.py", "--n", "20000", "--repeat", "1", "--out", "{out}"),),
         ("checksums.json", "checksums.md")),
    Step("service",
         (("bench/service.py", "--duration", "20", "--warmup", "3", "--out", "{out}"),),
         (("bench/service.py", "--duration", "2", "--warmup", "1", "--clients", "4", "--query-images", "5",
           "--work", "{runs}/service", "--out", "{out}"),),
         ("service.json", "service.md")),
)


def command_line(argv: tuple[str, ...], out: Path, runs: Path) -> list[str]:
    """The process to start: ``make`` as it is, anything else under this interpreter."""
    args = [a.format(out=out, runs=runs) for a in argv]
    return args if args[0] == "make" else [sys.executable, *args]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny budgets, into a scratch folder")
    parser.add_argument("--only", default="", help="comma-separated step names (default: all)")
    parser.add_argument("--list", action="store_true", help="print the steps and their commands, run nothing")
    parser.add_argument("--out", type=Path, default=None,
                        help="results folder (default: bench/results; bench/runs/quick/results with --quick)")
    parser.add_argument("--runs", type=Path, default=None, help="scratch folder for training runs")
    parser.add_argument("--no-readme", action="store_true", help="do not regenerate the README tables")
    args = parser.parse_args(argv)
    base = ROOT / "bench" / "runs" / ("quick" if args.quick else "all")
    out = args.out or (base / "results" if args.quick else ROOT / "bench" / "results")
    runs = args.runs or base
    wanted = {n.strip() for n in args.only.split(",") if n.strip()}
    unknown = wanted - {s.name for s in STEPS}
    if unknown:
        parser.error(f"--only: unknown steps {sorted(unknown)}; known: {[s.name for s in STEPS]}")
    steps = [s for s in STEPS if (not wanted or s.name in wanted)]
    plan = [(s, s.quick if args.quick else s.full) for s in steps]
    console = Console(stderr=True)
    if args.list:
        for step, commands in plan:
            for cmd in commands or ():
                console.print(f"[bold]{step.name}[/]: {shlex.join(command_line(cmd, out, runs))}",
                              highlight=False)
            if commands is None:
                console.print(f"[bold]{step.name}[/]: skipped in this mode", highlight=False)
        return 0
    out.mkdir(parents=True, exist_ok=True)
    failed: list[str] = []
    columns = (TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
               TimeElapsedColumn())
    with Progress(*columns, console=console) as progress:
        task = progress.add_task("benchmarks", total=len(plan))
        for step, commands in plan:
            progress.update(task, description=f"benchmarks: {step.name}")
            if commands is None:
                progress.console.print(f"{step.name}: skipped ({'quick' if args.quick else 'full'} mode)")
                progress.advance(task)
                continue
            started = time.perf_counter()
            for cmd in commands:
                line = command_line(cmd, out, runs)
                progress.console.print(f"[bold]{step.name}[/]: {shlex.join(line)}", highlight=False)
                if subprocess.run(line, cwd=ROOT, check=False).returncode != 0:
                    failed.append(f"{step.name}: `{shlex.join(line)}` failed")
                    break
            else:
                missing = [o for o in step.outputs if not any(out.glob(o))]
                if missing:
                    failed.append(f"{step.name}: wrote no {', '.join(missing)} under {out}")
            progress.console.print(f"{step.name}: {time.perf_counter() - started:.0f} s")
            progress.advance(task)
    if not args.no_readme and not args.quick and not wanted:
        subprocess.run([sys.executable, "bench/readme.py"], cwd=ROOT, check=False)
    for line in failed:
        console.print(f"[red]error:[/] {line}", highlight=False)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
