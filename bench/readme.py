"""The README's benchmark figures, generated from ``bench/results/*.json`` between markers.

Each block of the README between ``<!-- bench:NAME -->`` and ``<!-- /bench:NAME -->`` is the
output of ``BLOCKS[NAME]`` on the results files, so no figure there is typed by hand and
each names its source file. ``python bench/readme.py`` rewrites the blocks; ``--check``
only compares and exits 1 listing the blocks that differ (``tests/bench`` runs it). Outside
the blocks, ``stray_figures`` finds measured-looking figures (milliseconds, images per
second, ratios, three-decimal scores) that have no source.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import fmt_ratio, markdown_table, shipped_backbone_sha256  # noqa: E402 - after the path fix

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
README = ROOT / "README.md"
BLOCK = re.compile(r"<!-- bench:(?P<name>[\w-]+) -->\n(?P<body>.*?)<!-- /bench:(?P=name) -->", re.S)
#: Figures that look measured: a unit of time or rate, a ratio, a score to three decimals.
FIGURE = re.compile(
    r"\b\d[\d,]*(?:\.\d+)?\s?(?:ms|s|h|img/s|images/s|items/s|req/s|core-hours)\b(?!-)"
    r"|\b\d+\.\d+x\b|\b0\.\d{3,}\b|\b\d+\.\d+\s?%"
)


class ResultsError(ValueError):
    """A results file is missing or lacks a field a README block needs."""


def load(results: Path, name: str) -> dict[str, Any]:
    path = results / f"{name}.json"
    try:
        data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ResultsError(f"{path}: error: cannot read ({exc})") from exc
    return data


#: The default backbones shipped before results files recorded theirs (``default_backbone``,
#: ``bench.common.provenance``): (commit date, SHA-256). A file without the field was measured
#: with the one shipped at its date (commits 5302180 and f4e9040).
SHIPPED_BACKBONES = (
    ("2026-12-06T06:16:05+00:00", "488ee95a1bec1a95788cd7f30e4c7e76d4e921c6d4fbf511cf8354fc9ca1a078"),
    ("2026-12-06T21:54:02+00:00", "af30deaf14bff931c93b164f19690000bd48106e1b11e4c70c1bfbf260a627bc"),
)


def _when(data: dict[str, Any]) -> str | None:
    """A results file's date as written: top-level ``date``/``when`` or its machine's."""
    machine = data.get("machine")
    stated = data.get("date") or data.get("when")
    return stated or (machine.get("date") if isinstance(machine, dict) else None)


def measured_backbone(data: dict[str, Any]) -> str | None:
    """SHA-256 of the default backbone a results file was measured with (``None``: before any)."""
    if data.get("default_backbone"):
        return str(data["default_backbone"])
    when = _when(data)
    if when is None:
        return None
    stamp = datetime.fromisoformat(when.replace(" UTC", "+00:00"))
    shipped = [sha for since, sha in SHIPPED_BACKBONES if stamp >= datetime.fromisoformat(since)]
    return shipped[-1] if shipped else None


def source(results: Path, *names: str) -> str:
    """The closing line of a block: which files, from which commands and dates, and for a file
    measured before the shipped default backbone was, which backbone "default" meant then."""
    current = shipped_backbone_sha256()
    parts = []
    for name in names:
        data = load(results, name)
        then = current if name == "pretrain" else measured_backbone(data)  # the card of a backbone
        earlier = ("" if then == current else "; before TerraHash shipped a backbone" if then is None
                   else f"; default backbone then `{then[:12]}`, not the shipped `{str(current)[:12]}`")
        parts.append(f"`bench/results/{name}.json` (`{data.get('command')}`, "
                     f"{_when(data) or 'date not recorded'}{earlier})")
    return "Source: " + "; ".join(parts) + "."


def _f3(value: float | None) -> str:
    return "–" if value is None else f"{value:.3f}"


def _resolution_choice(chosen: dict[str, int] | None) -> str:
    """The study's pick, and whether ``terrahash train``'s defaults are that pick yet."""
    from terrahash.train.run import TrainOptions

    if not chosen:
        return ""
    pick = f"{chosen['image_size']} px × {chosen['epochs']} epochs"
    size, epochs = TrainOptions.image_size, TrainOptions.epochs
    if (chosen["image_size"], chosen["epochs"]) == (size, epochs):
        return f"; default {pick}"
    return f"; chosen {pick}, not yet the default ({size} px × {epochs} epochs)"


# -- blocks ----------------------------------------------------------------------------------
#: The tuning reports in the order ``bench/run_all.py`` writes them; a later one's choice of a
#: method overrides an earlier one's, as in ``method_defaults.json``.
TUNINGS = ("tuning", "tuning_50ep", "tuning_50ep_baselines")


def train_default(results: Path) -> str:
    """Default-budget mAP@100 per method on UC Merced (and AID in full once measured), then speed."""
    ucm = load(results, "train_ucmerced")
    aid = load(results, "train_aid") if (results / "train_aid.json").is_file() else None
    chosen: dict[str, tuple[Any, Any, str]] = {}  # method -> (pick, epochs, file); a later tuning overrides
    for name in TUNINGS:
        if (results / f"{name}.json").is_file():
            report = load(results, name)
            chosen |= {m: (pick, report["setup"]["epochs"], name) for m, pick in report["chosen"].items()}
    tunings = list(dict.fromkeys(name for _, _, name in chosen.values()))  # those a default comes from
    header = ["method", "chosen on validation (val mAP@100, epochs)",
              f"UC Merced mAP@100 ({ucm['epochs']} epochs)", "vs best baseline"]
    if aid is not None:
        header += [f"AID mAP@100 ({aid['epochs']} epochs)", "vs best baseline"]
    rows = []
    for m, result in ucm["results"].items():
        u = result["map@100_image"]
        pick, epochs, _ = chosen.get(m, (None, None, ""))
        choice = "–" if pick is None else (f"lr {pick['lr']:g}, {pick['knob']} {pick['value']:g} "
                                            f"({_f3(pick['best_val_map@100'])}, {epochs})")
        row = [m, choice, _f3(u), fmt_ratio(u / ucm["best_baseline_map@100"])]
        if aid is not None:
            a = aid["results"].get(m, {}).get("map@100_image")
            row += ["–", "–"] if a is None else [_f3(a), fmt_ratio(a / aid["best_baseline_map@100"])]
        rows.append(row)
    speed = [
        [m, f"{r['train_seconds']:.0f}", f"{r['train_images_per_s']:.0f}", f"{r['encode_images_per_s']:.0f}"]
        for m, r in ucm["results"].items()
    ]
    parts = [
        markdown_table(header, rows),
        "",
        f"UC Merced runs ({ucm['epochs']} epochs, {ucm['bits']} bits; training time with data loading, "
        "encoding = image codes with JPEG decoding):",
        "",
        markdown_table(["method", "train s", "train img/s", "encode img/s"], speed),
        "",
    ]
    if aid is not None:
        from terrahash.train.defaults import DEFAULT_EPOCHS

        behind = ("" if aid["epochs"] == DEFAULT_EPOCHS else
                  f" Measured before `terrahash train` moved to {DEFAULT_EPOCHS} epochs; the AID columns "
                  "above are at this budget, not the UC Merced one (`make bench` re-measures them).")
        parts += [
            f"AID in full ({aid['epochs']} epochs): "
            + "; ".join(f"{m} trained in {r['train_seconds']:.0f} s" for m, r in aid["results"].items())
            + (f" ({aid['jobs']} runs side by side, each on its share of the cores)"
               if aid.get("jobs", 1) > 1 else "")
            + "." + behind,
            "",
        ]
    text_auto = (load(results, "compare_text-auto")
                 if (results / "compare_text-auto.json").is_file() else None)
    if text_auto is not None:
        off, on = text_auto["runs"][0], text_auto["runs"][1]
        parts += [
            f"Text branch on UC Merced (one prompt for every image), {off['epochs']} epochs: left out (the "
            f"default) validation mAP@100 {_f3(off['val_map@100'])}, test {_f3(off['test_map@100'])}; "
            f"forced on (`--text`) {_f3(on['val_map@100'])}, test {_f3(on['test_map@100'])}.",
            "",
        ]
    seed_files = [f.stem for f in sorted(results.glob("train_ucmerced_seed[0-9]*.json"))]
    seeds = seed_spread(results, ["train_ucmerced", *seed_files])
    if seeds:
        parts += [seeds, ""]
    methods = load(results, "compare_methods") if (results / "compare_methods.json").is_file() else None
    if methods is not None:
        parts += [validation_spread(methods), ""]
    names = (["train_ucmerced", *seed_files] + (["train_aid"] if aid is not None else [])
             + tunings
             + (["compare_text-auto"] if text_auto is not None else [])
             + (["compare_methods"] if methods is not None else []))
    return "\n".join([*stale_banner(results, *names), *parts, source(results, *names)])


def stale_banner(results: Path, *names: str) -> list[str]:
    """A first paragraph for a block whose files (some or all) were measured from another default backbone."""
    current = str(shipped_backbone_sha256())[:12]
    measured = {n: str(measured_backbone(load(results, n)))[:12] for n in names}
    stale = {n: sha for n, sha in measured.items() if sha != current}
    if not stale:
        return []
    then = "`, `".join(sorted(set(stale.values())))
    if len(stale) == len(measured):
        return [f"**Measured from an earlier default backbone** (`{then}`), not the shipped "
                f"`{current}`: the rows below are to be re-measured (`make bench`); the two "
                "backbones side by side are in the backbone table further down.", ""]
    files = ", ".join(f"`{n}.json`" for n in stale)
    return [f"**Partly measured from an earlier default backbone** (`{then}`, not the shipped `{current}`): "
            f"{files}, to be re-measured (`make bench`); the rest is from the shipped one.", ""]


def validation_spread(compare: dict[str, Any]) -> str:
    """Mean validation mAP@100 per method over the seed runs (``compare_runs.py``): what decides."""
    groups = sorted(compare["by_backbone"], key=lambda g: -(g["val_map@100_mean"] or 0.0))
    seeds = ", ".join(map(str, groups[0]["seeds"]))
    cells = "; ".join(f"{g['method']} {_f3(g['val_map@100_mean'])}" for g in groups)
    first_test = max(groups, key=lambda g: g["test_map@100_mean"])["method"]
    return (f"The same runs on the validation part (which decides; seeds {seeds}), mean validation "
            f"mAP@100: {cells}. First on validation: {groups[0]['method']}; on test: {first_test}.")


def seed_spread(results: Path, names: list[str]) -> str:
    """Test mAP@100 over the seeds' result files ``names``, mean ± sd, and the split they shared."""
    import numpy as np

    reports = [load(results, name) for name in names]
    if len(reports) < 2:
        return ""
    common = [m for m in reports[0]["results"] if all(m in r["results"] for r in reports)]
    cells = []
    for m in common:
        values = np.array([r["results"][m]["map@100_image"] for r in reports])
        cells.append(f"{m} {values.mean():.3f} ± {values.std(ddof=1):.3f}")
    wins = sum(
        max(common, key=lambda m, r=r: r["results"][m]["map@100_image"]) == "ccls2t" for r in reports
    ) if "ccls2t" in common else 0
    splits = {split_seed_of(r) for r in reports}
    what = (f"training seeds of UC Merced on its standard split (split seed {splits.pop()}, whose test part "
            "the shipped backbone's pretraining held out)" if len(splits) == 1
            else "seeds of UC Merced (each its own split and training seed)")
    return (f"Over {len(reports)} {what}, test mAP@100 mean ± sd: {'; '.join(cells)}. CCLS2T is the best "
            f"of these in {wins} of {len(reports)} seeds.")


def split_seed_of(report: dict[str, Any]) -> int:
    """The split seed of a ``bench/train.py`` report; before it recorded one, its ``--seed`` split."""
    if "split_seed" in report:
        return int(report["split_seed"])
    seed = re.search(r"--seed (\d+)", str(report.get("command", "")))
    return int(seed.group(1)) if seed else 0


def unsupervised(results: Path) -> str:
    """Unsupervised mode on labelled sets: mAP@100 against chance and supervised CCLS2T."""
    data = load(results, "unsupervised")
    from terrahash.train.defaults import DEFAULT_EPOCHS

    rows, sup_epochs = [], set()
    for name, r in data["results"].items():
        sup = r.get("supervised_ccls2t") or {}
        sup_epochs.add(sup.get("epochs"))
        rows.append([name, _f3(r["map@100_image"]), _f3(r["chance_map@100"]), _f3(sup.get("map@100_image"))])
    # the supervised column is read from bench/train.py's file as it was then: say its budget
    one_budget = len(sup_epochs) == 1 and None not in sup_epochs
    sup_header = f"supervised CCLS2T ({sup_epochs.pop()} epochs)" if one_budget else "supervised CCLS2T"
    stated = "--epochs" in str(data.get("command", ""))  # the source line already says the budget
    rerun = ("" if data["epochs"] == DEFAULT_EPOCHS or stated else
             f" `terrahash train` now defaults to {DEFAULT_EPOCHS} epochs: add `--epochs {data['epochs']}` "
             "to reproduce this table.")
    return "\n".join([
        f"`--method unsupervised` ({data['epochs']} epochs, {data['bits']} bits, labels never read), scored "
        "by the labels under the `terrahash evaluate` protocol:",
        "",
        markdown_table(["set", "unsupervised mAP@100", "chance", sup_header], rows),
        "",
        source(results, "unsupervised") + rerun,
    ])


def text_study(results: Path) -> str:
    """The text branch on mixed sources over seeds: CCLS2T vs --no-text, --no-itc and fusion designs."""
    data = load(results, "text_study")

    def cell(s: dict[str, float], key: str) -> str:
        mean, sd = s.get(f"{key}_mean"), s.get(f"{key}_sd")
        return _f3(mean) + ("" if sd is None else f" ± {sd:.3f}")

    from bench.text_study import SCORE_KEYS

    rows = [[v, int(s["seeds"]), *(cell(s, k) if f"{k}_mean" in s else "" for k in SCORE_KEYS)]
            for v, s in data["summary"].items()]
    return "\n".join([
        f"UC Merced and AID ({data['per_label']} per class) with BigEarthNet and eo-learn (every item, "
        f"with date and place) in one database; {data['epochs']} epochs; seeds "
        f"{', '.join(map(str, data['seeds']))}; mean ± sd:",
        "",
        markdown_table(
            ["variant", "seeds", "val, image queries", "test, image queries", "test, image queries of the "
             "metadata sets", "val, image + metadata queries", "test, image + metadata queries"], rows),
        "",
        *(f"- {line}" for line in data.get("verdict", []) if line.startswith("**")),
        "",
        "Every paired difference (per seed, validation and test) is in `bench/results/text_study.md`.",
        "",
        source(results, "text_study"),
    ])


def retrieval_quick(results: Path) -> str:
    """Every method and ablation on the small budget: mAP@100 (ratio to the best baseline)."""
    data = load(results, "retrieval")
    columns = {s["title"]: {r["variant"]: r for r in s["runs"]} for s in data["settings"]}
    multisource = {r["variant"]: r for r in data.get("multisource", {}).get("runs", [])}
    titles = list(columns) + (["multi-source (mixed db)"] if multisource else [])
    cells = {**columns, **({"multi-source (mixed db)": multisource} if multisource else {})}
    variants = list(next(iter(columns.values())))

    def cell(run: dict[str, Any] | None) -> str:
        if run is None or run.get("map@100") is None:
            return "–"
        ratio = run.get("ratio_map@100")
        return f"{run['map@100']:.4f}" + (f" ({ratio:.3f}x)" if ratio is not None else "")

    rows = [[v, *[cell(cells[t].get(v)) for t in titles]] for v in variants]
    return "\n".join(
        [
            f"{data['epochs']} epochs per run, {data['per_label']} images per class; mAP@100 (ratio to the "
            "best baseline in the same column):",
            "",
            markdown_table(["method", *[f"{t} mAP@100" for t in titles]], rows),
            "",
            source(results, "retrieval"),
        ]
    )


def backbone_rerank(results: Path) -> str:
    """The shipped backbone's budget, what it scores against training from scratch, re-ranking."""
    card, compare, rerank, trunk, resolution = (
        load(results, "pretrain"),
        load(results, "compare_backbone"),
        load(results, "rerank"),
        load(results, "compare_trunk-lr"),
        load(results, "resolution"),
    )
    runs = {r["backbone"]: r for r in compare["runs"]}
    none = runs.get("none", {})  # from scratch; the other run started from the pretrained backbone
    default = next((r for name, r in runs.items() if name != "none"), {})
    training = card["training"]
    val_rows = rerank["quality"]["splits"]["validation"]["rows"]
    hamming_val = next(r["map@100"] for r in val_rows if r["source"] == "hamming")
    choice = rerank["choice"]
    latency = {(r["variant"], r["factor"]): r for r in rerank["latency"]["rows"]}
    base = latency[("hamming", None)]
    chosen = next((r for (v, f), r in latency.items() if v != "hamming" and f == choice["factor"]), None)
    first = rerank["quality"]["splits"]["validation"]["own_image_first"]
    chosen_first = first.get(f"{choice['source']}/{choice['kind']}")
    rows = [
        [
            "pretraining data",
            f"{card['data']['labelled_items']:,} labelled train-part items and "
            f"{card['data']['raster_scenes']} raster scenes; "
            f"{card['data']['test_items_held_out']:,} test items held out"
            + (f", {card['data']['validation_items_held_out']:,} validation items too"
               if card["data"].get("validation_items_held_out") else ""),
            "pretrain",
        ],
        [
            "pretraining budget",
            f"{training['epochs']} epochs, {training['train_seconds']:.0f} s, "
            f"{training['images_per_s']:.1f} images/s",
            "pretrain",
        ],
        [
            "input size and budget, UC Merced CCLS2T validation mAP@100 (training s)",
            "; ".join(f"{r['image_size']} px × {r['epochs']} epochs: {_f3(r['val_map@100'])} "
                      f"({r['train_seconds']:.0f} s)" for r in resolution["runs"])
            + _resolution_choice(resolution.get("chosen")),
            "resolution",
        ],
        [
            f"UC Merced CCLS2T validation mAP@100 ({default.get('epochs', '?')} epochs), from the backbone "
            "vs from scratch",
            f"{_f3(default.get('val_map@100'))} vs {_f3(none.get('val_map@100'))}",
            "compare_backbone",
        ],
        [
            "the same, test mAP@100",
            f"{_f3(default.get('test_map@100'))} vs {_f3(none.get('test_map@100'))}",
            "compare_backbone",
        ],
        [
            "trunk learning-rate scale (`--backbone-lr-scale`) from the shipped backbone, "
            f"UC Merced validation mAP@100 ({trunk['runs'][0].get('epochs', '?')} epochs)",
            "; ".join(
                f"{r['backbone_lr_scale']:g}: {_f3(r['val_map@100'])}" if r["backbone"] != "none"
                else f"from scratch: {_f3(r['val_map@100'])}"
                for r in trunk["runs"]
            ),
            "compare_trunk-lr",
        ],
        [
            "re-ranking, validation mAP@100 (Hamming → chosen vector)",
            f"{_f3(hamming_val)} → {_f3(choice['val_map@100'])} ({choice['source']}, {choice['kind']}, "
            f"shortlist {choice['factor']}k)",
            "rerank",
        ],
        [
            "re-ranking latency, 1 M items, k = 100",
            "–"
            if chosen is None
            else f"{base['median_ms']:.3f} → {chosen['median_ms']:.3f} ms ({100 * chosen['added']:+.1f} %)",
            "rerank",
        ],
        [
            "an indexed image first for its own file (Hamming → re-ranked)",
            f"{100 * first['hamming']:.1f} % → "
            + ("–" if chosen_first is None else f"{100 * chosen_first:.1f} %"),
            "rerank",
        ],
    ]
    candidate = load(results, "compare_pretrain") if (results / "compare_pretrain.json").is_file() else None
    if candidate is not None:
        rows += candidate_rows(candidate)
    return "\n".join(
        [
            markdown_table(["measurement", "measured", "file"], [[m, v, f"`{f}.json`"] for m, v, f in rows]),
            "",
            source(results, "pretrain", "resolution", "compare_trunk-lr", "compare_backbone", "rerank",
                   *(["compare_pretrain"] if candidate is not None else [])),
        ]
    )


def candidate_rows(compare: dict[str, Any]) -> list[list[str]]:
    """The backbone a comparison ran as the default against the others it ran: validation
    decided, test is reported."""
    groups = compare["by_backbone"]
    default = next(g for g in groups if g["backbone_sha256"] == compare.get("default_backbone"))
    seeds = ", ".join(map(str, default["seeds"]))
    rows = []
    for other in (g for g in groups if g is not default):
        pair = f"`{default['backbone_sha256'][:12]}` (default then) vs `{other['backbone_sha256'][:12]}`"
        rows += [
            [f"backbones {pair}, UC Merced CCLS2T validation mAP@100, mean of seeds {seeds}",
             f"{_f3(default['val_map@100_mean'])} vs {_f3(other['val_map@100_mean'])}", "compare_pretrain"],
            ["the same, test mAP@100",
             f"{_f3(default['test_map@100_mean'])} vs {_f3(other['test_map@100_mean'])}", "compare_pretrain"],
        ]
    return rows


def _flat_row(search: dict[str, Any], codes: str, n: int, bits: int) -> dict[str, Any] | None:
    return next((r for r in search["rows"] if (r["codes"], r["n"], r["bits"]) == (codes, n, bits)), None)


def index_scale_service(results: Path) -> str:
    """Index, scale and service measurements against their targets."""
    search, scale, service = load(results, "search"), load(results, "scale"), load(results, "service")
    rshst = load(results, "rshst")
    rows: list[list[str]] = []
    main = _flat_row(search, "random", 1_000_000, 64)
    if main is not None:
        rows.append(
            [
                "exact top-100 through `Index.search` vs FAISS `IndexBinaryFlat`, 1 M x 64 bits, "
                "one query per call, one thread",
                f"{main['index_vs_faiss_single']:.2f}x ({main['index_single_ms']:.2f} ms vs "
                f"{main['faiss_single_ms']:.2f} ms)",
                "<= 1.1x",
                "search",
            ]
        )
    ratios = [r["index_vs_faiss_single"] for r in search["rows"]]
    shapes = sorted({(r["n"], r["bits"]) for r in search["rows"]})
    sizes = [f"{n // 1_000_000} M x {bits}" for n, bits in shapes]
    rows.append(
        [
            f"the same over every flat row ({', '.join(sizes)}; random and clustered codes)",
            f"{min(ratios):.2f}-{max(ratios):.2f}x",
            "<= 1.1x",
            "search",
        ]
    )
    same = all(r["index_equals_numpy"] for r in search["rows"])
    rows.append(
        [
            "`Index.search` ids and distances equal the NumPy `bitwise_count` reference",
            "yes, every query" if same else "NO",
            "yes",
            "search",
        ]
    )
    for entry in rshst["datasets"]:
        k100 = next(r for r in entry["by_k"] if r["k"] == 100)
        good = [a for a in k100["approx"] if a["recall"] >= 0.95]
        best = good[0] if good else k100["approx"][-1]
        name = Path(entry["dataset"]).name
        rows.append(
            [
                f"RSHST exact on learned {name} codes (label tree, {entry['database']:,} items), "
                "codes scanned, k = 100",
                f"{k100['tree_exact_scanned_fraction']:.1%}",
                "<= 30 %",
                "rshst",
            ]
        )
        rows.append(
            [
                f"RSHST approximate on them, recall@100 / speed-up vs flat (nprobe {best['nprobe']})",
                f"{best['recall']:.3f} / {best['speedup_vs_flat']:.2f}x",
                ">= 0.95 / >= 3x",
                "rshst",
            ]
        )
    approx_rows = search.get("approx_rows") or [r for r in search["rows"] if r.get("approx")]
    scanned = [
        f"{r['tree_exact_scanned_fraction']:.1%} ({r['n'] // 1_000_000} M x {r['bits']})"
        for r in approx_rows
        if "tree_exact_scanned_fraction" in r
    ]
    if scanned:
        rows.append(
            [
                "RSHST exact on synthetic clustered codes, codes scanned",
                ", ".join(scanned),
                "<= 30 %",
                "search",
            ]
        )
    for r in approx_rows:
        good = [a for a in r.get("approx", []) if a["recall@100"] >= 0.95]
        if good and r["n"] >= 10_000_000:
            best = max(good, key=lambda a: a["speedup_vs_flat"])
            rows.append(
                [
                    f"RSHST approximate, {r['n'] // 1_000_000} M x {r['bits']} clustered, recall@100 / "
                    f"speed-up vs flat (nprobe {best['nprobe']})",
                    f"{best['recall@100']:.3f} / {best['speedup_vs_flat']:.1f}x",
                    ">= 0.95 / >= 3x",
                    "search",
                ]
            )
    if f := search.get("filtered"):
        rows.append(
            [
                f"filtered top-100 (bbox + time leaving {f['allowed_fraction']:.1%} of "
                f"{f['n'] // 1_000_000} M), embedded",
                f"{f['filtered_single_ms']:.1f} ms median, {f['filtered_p90_ms']:.1f} ms p90",
                "<= 10 ms",
                "search",
            ]
        )
        rows.append(
            [
                "embedded index on disk",
                f"{f['bytes_per_item']:,.0f} bytes per item; build {f['build_items_per_s']:,.0f} items/s",
                "",
                "search",
            ]
        )
    if pg := scale.get("postgres"):
        rows.append(
            [
                f"filtered top-100 ({pg['filter_pass_fraction']:.1%} of {pg['items'] // 1_000_000} M), "
                f"PostgreSQL ({pg['spatial_index']})",
                f"{pg['sql_filtered_top100_ms']:.1f} ms median, "
                f"{pg['sql_filtered_top100_p90_ms']:.1f} ms p90",
                "<= 50 ms",
                "scale",
            ]
        )
        rows.append(
            [
                "PostgreSQL unfiltered top-100 (sequential `bit_count` scan)",
                f"{pg['sql_unfiltered_top100_ms']:.0f} ms",
                "",
                "scale",
            ]
        )
        rows.append(
            [
                "PostgreSQL bulk load (COPY)",
                f"{pg['bulk_load_items_per_s']:,} items/s; {pg['bytes_per_item']:,.0f} bytes per item",
                "",
                "scale",
            ]
        )
    if dask := scale.get("dask"):
        one, two = dask["runs"]["dask_1_worker"], dask["runs"]["dask_2_workers"]
        single = dask["runs"]["single_process_1_thread"]
        rows.append(
            [
                f"Dask encoding, {dask['items']:,} tiles read from {len(dask['rasters'])} rasters: "
                "2 workers vs 1 worker, wall clock",
                f"{dask['ratios']['wall_2_workers_over_1_worker']:.2f}x ({two['items_per_s']:,.0f} vs "
                f"{one['items_per_s']:,.0f} items/s)",
                ">= 1.6x",
                "scale",
            ]
        )
        rows.append(
            [
                "the same, 2 workers per core vs one process on one thread",
                f"{dask['ratios']['wall_2_workers_per_core_over_single_1_thread']:.2f}x "
                f"({two['items_per_s'] / 2:,.0f} vs {single['items_per_s']:,.0f} items/s)",
                ">= 0.8x",
                "scale",
            ]
        )
    for mode, part in service["modes"].items():
        cells = [
            f"{name} {s['throughput_rps']:.1f} req/s (p50 {s['p50_ms'] / 1000:.2f} s, p95 "
            f"{s['p95_ms'] / 1000:.2f} s, p99 {s['p99_ms'] / 1000:.2f} s), {s['errors']} errors"
            for name, s in part["scenarios"].items()
        ]
        rows.append(
            [
                f"service {mode}, {service['items']:,} items, {service['clients']} clients on loopback, "
                f"{service['duration_s']:.0f} s per scenario",
                "; ".join(cells),
                "no errors",
                "service",
            ]
        )
    return "\n".join(
        [
            markdown_table(
                ["measurement", "measured", "target", "file"],
                [[m, v, t, f"`{f}.json`"] for m, v, t, f in rows],
            ),
            "",
            *([f"Synthetic RSHST rows not rerun in that file: {search['approx_from']}.", ""]
              if search.get("approx_from") else []),
            source(results, "search", "rshst", "scale", "service"),
        ]
    )


def rshst_real(results: Path) -> str:
    """RSHST on real learned codes: exact scanned fraction and the approximate trade-off."""
    data = load(results, "rshst")
    rows = []
    for entry in data["datasets"]:
        name = Path(entry["dataset"]).name
        for r in entry["by_k"]:
            for a in r["approx"]:
                rows.append(
                    [
                        name,
                        r["k"],
                        f"{r['tree_exact_scanned_fraction']:.1%}",
                        a["nprobe"],
                        f"{a['recall']:.3f}",
                        f"{a['scanned_fraction']:.1%}",
                        f"{a['speedup_vs_flat']:.2f}x",
                    ]
                )
    return "\n".join(
        [
            markdown_table(
                ["codes", "k", "exact: scanned", "nprobe", "recall@k", "approx: scanned", "speed-up vs flat"],
                rows,
            ),
            "",
            source(results, "rshst"),
        ]
    )


def sameplace(results: Path) -> str:
    """The same-place figure quoted in the method description, and how its temperature was chosen."""
    data = load(results, "sameplace")
    chosen = data.get("chosen")  # by validation recall@10; older files ran one variant
    variant = next((v for v in data["variants"] if v["name"] == chosen), data["variants"][0])
    test = variant["rerank"]["test"]
    threads = (data.get("machine") or {}).get("torch_threads")
    text = (
        f"On the two Sentinel-2 dates, {variant['epochs']} epochs (chosen on the validation half) from "
        f"the {variant['backbone']} backbone "
        f"give recall@10 {test['recall@10']:.3f} (chance {data['chance']['test']['recall@10']:.3f}) and a "
        f"median first relevant rank of {test['median_first_rank']:.0f} of "
        f"{data['protocol']['db_tiles']:,} tiles on the test half, after {variant['train_seconds']:.0f} s of "
        "training" + (f" (torch on {threads} thread{'s' if threads != 1 else ''})" if threads else "")
        + "; the target is recall@10 0.5 (goal 0.8). "
    )
    sweep = load(results, "sameplace-temperature/sameplace")
    picked = next(v for v in sweep["variants"] if v["name"] == sweep["chosen"])
    tried = ", ".join(f"{v['loss_settings']['temperature']:g}: {v['rerank']['validation']['recall@10']:.3f}"
                      for v in sweep["variants"])
    from terrahash.train.losses.unsupervised import VIEWS_TEMPERATURE

    best = picked["loss_settings"]["temperature"]
    if best == VIEWS_TEMPERATURE:
        text += (f"The views term's temperature, {best:g}, was chosen on the validation half at "
                 f"{picked['epochs']} epochs (validation recall@10 by temperature: {tried}). ")
    else:
        text += (f"The views term's temperature is {VIEWS_TEMPERATURE:g}, but the latest sweep on the "
                 f"validation half at {picked['epochs']} epochs prefers {best:g} (validation recall@10 by "
                 f"temperature: {tried}); the default and the figures above have not yet moved to it. ")
    return text + source(results, "sameplace", "sameplace-temperature/sameplace")


BLOCKS: dict[str, Callable[[Path], str]] = {
    "train_default": train_default,
    "retrieval_quick": retrieval_quick,
    "backbone_rerank": backbone_rerank,
    "index_scale_service": index_scale_service,
    "rshst_real": rshst_real,
    "sameplace": sameplace,
    "text_study": text_study,
    "unsupervised": unsupervised,
}


# -- README ----------------------------------------------------------------------------------
def render(text: str, results: Path = RESULTS) -> str:
    """``text`` with every block regenerated (unknown block names are an error)."""

    def fill(match: re.Match[str]) -> str:
        name = match["name"]
        if name not in BLOCKS:
            raise ResultsError(f"README: error: unknown block bench:{name}; known: {sorted(BLOCKS)}")
        return f"<!-- bench:{name} -->\n{BLOCKS[name](results).rstrip()}\n<!-- /bench:{name} -->"

    return BLOCK.sub(fill, text)


def differing_blocks(text: str, results: Path = RESULTS) -> list[str]:
    """Names of the blocks whose README text differs from what the results files give."""
    want = {m["name"]: m["body"] for m in BLOCK.finditer(render(text, results))}
    return [m["name"] for m in BLOCK.finditer(text) if m["body"] != want[m["name"]]]


def stray_figures(text: str) -> list[tuple[int, str]]:
    """(line number, figure) of measured-looking figures outside the generated blocks and
    outside code blocks (commands and examples there are not measurements)."""
    blanked = BLOCK.sub(lambda m: "\n" * m.group(0).count("\n"), text)
    blanked = re.sub(r"```.*?```", lambda m: "\n" * m.group(0).count("\n"), blanked, flags=re.S)
    found = []
    for number, line in enumerate(blanked.splitlines(), start=1):
        line = re.sub(r"`[^`]*`", "", line)  # inline code: flags, paths, commands
        found += [(number, m.group(0)) for m in FIGURE.finditer(line)]
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="compare only; exit 1 when a block differs")
    parser.add_argument("--readme", type=Path, default=README)
    parser.add_argument("--results", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    text = args.readme.read_text(encoding="utf-8")
    try:
        if args.check:
            stale = differing_blocks(text, args.results)
            stray = stray_figures(text)
            for name in stale:
                print(
                    f"{args.readme}: error: block bench:{name} differs from {args.results} "
                    "(run python bench/readme.py)",
                    file=sys.stderr,
                )
            for line, figure in stray:
                print(
                    f"{args.readme}:{line}: error: figure {figure!r} outside a generated block",
                    file=sys.stderr,
                )
            return 1 if stale or stray else 0
        args.readme.write_text(render(text, args.results), encoding="utf-8")
    except (ResultsError, KeyError, StopIteration) as exc:
        print(f"{args.results}: error: {exc!r}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
