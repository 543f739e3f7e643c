"""Shared helpers of the benchmarks: machine facts, dataset folders, training runs, tables.

The pure functions (formatting, ratios, label mapping, manifest rows, record filters) are
kept free of torch so ``tests/bench`` can check them in milliseconds; training and encoding
go through TerraHash's own API (``terrahash.train.run.train``, ``terrahash.model.load_model``),
exactly what ``terrahash train`` / ``terrahash evaluate`` call.
"""

from __future__ import annotations

import csv
import json
import math
import os
import platform
import shlex
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import MISSING, dataclass, field, fields
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

#: Manifest columns holding a file path relative to the dataset folder.
PATH_COLUMNS = ("path", "patch_file", "image", "file", "filename", "metadata", "metadata_path", "meta")
#: The methods a CCLS2T result is compared with (its "best baseline" is the best of these).
BASELINES = ("dpsh", "hashnet", "csq", "orthohash")


@dataclass(frozen=True)
class Variant:
    """One trained configuration: a method plus the ablation switches of ``terrahash train``."""

    name: str
    method: str
    #: ``None``: ``terrahash train``'s own choice (off when all training prompts are equal).
    use_text: bool | None = None
    multiscale: bool = True
    itc: bool = True
    meta_dropout: float = 0.0
    fusion: str = "gated"

    @property
    def cli_flags(self) -> list[str]:
        """The ``terrahash train`` flags that reproduce this variant."""
        flags = ["--method", self.method]
        flags += {None: [], True: ["--text"], False: ["--no-text"]}[self.use_text]
        flags += [] if self.multiscale else ["--single-scale"]
        flags += [] if self.itc else ["--no-itc"]
        flags += ["--meta-dropout", f"{self.meta_dropout:g}"] if self.meta_dropout else []
        flags += [] if self.fusion == "gated" else ["--fusion", self.fusion]
        return flags


#: Every method, then the three CCLS2T ablations (names as printed in the tables).
VARIANTS: tuple[Variant, ...] = (
    Variant("ccls2t", "ccls2t"),
    Variant("dpsh", "dpsh"),
    Variant("hashnet", "hashnet"),
    Variant("csq", "csq"),
    Variant("ccls2t --no-text", "ccls2t", use_text=False),
    Variant("ccls2t --single-scale", "ccls2t", multiscale=False),
    Variant("ccls2t --no-itc", "ccls2t", itc=False),
    Variant("ccls2t --text", "ccls2t", use_text=True),
)
METHOD_VARIANTS: tuple[Variant, ...] = VARIANTS[:4]


# -- machine and formatting ---------------------------------------------------------------
def cpu_model() -> str:
    """The CPU's model name from ``/proc/cpuinfo`` (or ``platform.processor()``)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine_info() -> dict[str, Any]:
    """What a reader needs to compare timings: cores, CPU, torch threads, versions, date."""
    import torch

    return {
        "nproc": os.cpu_count(),
        "cpu_model": cpu_model(),
        "torch_threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
    }


# -- provenance: every results file states its command, commit, date and machine ------------
#: The keys every ``bench/results/*.json`` carries at its top level.
PROVENANCE_KEYS = ("command", "commit", "date", "machine")
#: The checkout this file belongs to (commands run from there).
REPO = Path(__file__).resolve().parents[1]


def git_commit() -> str:
    """``git rev-parse HEAD`` of the checkout, ``-dirty`` when tracked files differ from it."""
    def git(*args: str) -> str:
        done = subprocess.run(["git", *args], capture_output=True, text=True, cwd=REPO, check=False)
        return done.stdout.strip()

    head = git("rev-parse", "HEAD") or "unknown"
    return head + ("-dirty" if git("status", "--porcelain", "--untracked-files=no") else "")


def script_command(script: str, argv: Sequence[str] | None = None) -> str:
    """The command line that reruns a bench script: ``python bench/NAME.py ARGS``."""
    return shlex.join(["python", f"bench/{Path(script).name}", *(sys.argv[1:] if argv is None else argv)])


def _card_sha256(card: Path) -> str:
    """The SHA-256 of the weights a backbone card (``card.json``) describes."""
    return str(json.loads(card.read_text(encoding="utf-8"))["weights"]["sha256"])


def shipped_backbone_sha256() -> str | None:
    """SHA-256 of the backbone the checkout ships (``--backbone default``), from its card.

    Recorded in every results file: a run "from the default backbone" means these weights,
    and a later backbone makes the file a measurement of the earlier one.
    """
    try:
        return _card_sha256(REPO / "src" / "terrahash" / "model" / "weights" / "card.json")
    except (OSError, ValueError, KeyError, TypeError):
        return None


def provenance(command: str) -> dict[str, Any]:
    """``command``, ``commit``, ``date`` (UTC, ISO 8601), ``machine`` and the shipped
    ``default_backbone`` (its SHA-256) for a results file."""
    return {
        "command": command,
        "commit": git_commit(),
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine_info(),
        "default_backbone": shipped_backbone_sha256(),
    }


def provenance_line(report: Mapping[str, Any]) -> str:
    """One Markdown line naming the command, commit, date and machine of ``report``."""
    machine = report.get("machine")
    if isinstance(machine, Mapping):
        machine = (f"{machine.get('nproc')} CPUs ({machine.get('cpu_model')}), "
                   f"torch {machine.get('torch')} with {machine.get('torch_threads')} threads")
    backbone = report.get("default_backbone")
    shipped = f", default backbone `{str(backbone)[:12]}`" if backbone else ""
    return (f"Command `{report.get('command')}`, commit `{report.get('commit')}`, "
            f"{report.get('date')}, {machine}{shipped}.")


def save_report(path: Path, report: Mapping[str, Any], markdown: str | None = None) -> None:
    """Write ``path`` (.json) and, given ``markdown``, the ``.md`` beside it with the
    provenance line under its title. A report lacking a provenance key is refused."""
    missing = [key for key in PROVENANCE_KEYS if not report.get(key)]
    if missing:
        raise ValueError(f"{path}: error: report lacks {', '.join(missing)} (use bench.common.provenance)")
    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(json_safe(dict(report)), indent=1)
    path.with_suffix(".json").write_text(text + "\n", encoding="utf-8")
    if markdown is not None:
        title, _, body = markdown.partition("\n")
        text = f"{title}\n\n{provenance_line(report)}\n{body}" if title.startswith("#") else (
            f"{provenance_line(report)}\n\n{markdown}")
        path.with_suffix(".md").write_text(text.rstrip("\n") + "\n", encoding="utf-8")


def fmt(value: object, digits: int = 4) -> str:
    """A table cell: floats rounded, ``None``/NaN as an en dash, anything else as text."""
    if value is None:
        return "–"
    if isinstance(value, float | np.floating):
        return "–" if math.isnan(float(value)) else f"{float(value):.{digits}f}"
    return str(value)


def ratio(value: float | None, reference: float | None) -> float | None:
    """``value / reference``; ``None`` when either is missing, NaN or the reference is 0."""
    if value is None or reference is None:
        return None
    if math.isnan(value) or math.isnan(reference) or reference == 0:
        return None
    return float(value) / float(reference)


def fmt_ratio(value: float | None) -> str:
    """A ratio as ``1.083x (+8.3 %)``, or an en dash."""
    if value is None:
        return "–"
    return f"{value:.3f}x ({(value - 1) * 100:+.1f} %)"


def best_baseline(rows: Iterable[Mapping[str, Any]], key: str) -> tuple[str | None, float | None]:
    """(name, value) of the best ``BASELINES`` row by ``key``; rows carry ``variant``."""
    best: tuple[str | None, float | None] = (None, None)
    for row in rows:
        value = row.get(key)
        if row.get("variant") not in BASELINES or value is None or math.isnan(value):
            continue
        if best[1] is None or value > best[1]:
            best = (row["variant"], float(value))
    return best


def markdown_table(headers: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    """A GitHub Markdown table; cells go through :func:`fmt`."""
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    for row in rows:
        if len(row) != len(headers):
            raise ValueError(f"row has {len(row)} cells, the table {len(headers)}: {row!r}")
        lines.append("| " + " | ".join(fmt(c) for c in row) + " |")
    return "\n".join(lines)


# -- dataset folders ----------------------------------------------------------------------
def read_manifest(root: Path) -> tuple[list[str], list[dict[str, str]]]:
    """(columns, rows) of ``root/manifest.csv``."""
    with open(root / "manifest.csv", newline="", encoding="utf-8-sig") as fh:
        reader = csv.DictReader(fh)
        return list(reader.fieldnames or []), list(reader)


def write_manifest(folder: Path, columns: Sequence[str], rows: Iterable[Mapping[str, Any]]) -> Path:
    """Write ``folder/manifest.csv`` (creating the folder); returns the folder."""
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / "manifest.csv", "w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(columns), extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    return folder


def absolute_paths(row: Mapping[str, str], root: Path) -> dict[str, str]:
    """A manifest row with every path column made absolute, so the row works from any folder."""
    out = dict(row)
    for column, value in row.items():
        is_path = column in PATH_COLUMNS or column.startswith("path")
        if is_path and value and value.strip() and not Path(value.strip()).is_absolute():
            out[column] = str((root / value.strip()).resolve())
    return out


def sample_per_label(
    labels: Sequence[str], per_label: int | None, seed: int = 0
) -> list[int]:
    """Indices of at most ``per_label`` items of each label (seeded), in original order."""
    if per_label is None:
        return list(range(len(labels)))
    rng = np.random.default_rng(seed)
    by_label: dict[str, list[int]] = {}
    for i, label in enumerate(labels):
        by_label.setdefault(label, []).append(i)
    keep: list[int] = []
    for label in sorted(by_label):
        members = by_label[label]
        chosen = rng.permutation(len(members))[:per_label]
        keep.extend(members[j] for j in chosen)
    return sorted(keep)


def subset_folder(source: Path, dest_parent: Path, per_label: int | None, seed: int = 0) -> Path:
    """A dataset folder named like ``source`` with at most ``per_label`` items per label.

    ``per_label=None`` returns ``source`` itself. The copy keeps the folder name (the
    taxonomy picks the label vocabulary by it) and every column; paths become absolute.
    """
    if per_label is None:
        return source
    columns, rows = read_manifest(source)
    keep = sample_per_label([r.get("label", "") for r in rows], per_label, seed)
    return write_manifest(
        dest_parent / source.name, columns, (absolute_paths(rows[i], source) for i in keep)
    )


def map_source_labels(labels: Sequence[str], dataset: str, taxonomy: Any) -> list[str]:
    """Each dataset label -> the canonical taxonomy node id where cross-set synonyms meet.

    Raises:
        terrahash.taxonomy.TaxonomyError: a label the taxonomy does not know.
    """
    return [taxonomy.map_label(label, dataset=dataset) for label in labels]


#: Columns of the multi-source manifest. Each source's own record fields (platform, sensor,
#: GSD, date, place, cloud cover), as TerraHash read them from its manifest, are written
#: under one set of names, so the mixed set keeps every item's metadata and its prompt.
MULTISOURCE_COLUMNS = ("path", "label", "source_dataset", "source_label", "platform", "sensor", "gsd_m",
                       "datetime", "lat", "lon", "bbox_wgs84", "cloud_cover")


def _record_columns(record: Any) -> dict[str, str]:
    """A ``SceneRecord``'s fields under ``MULTISOURCE_COLUMNS`` names ("" where unknown)."""
    def text(value: object) -> str:
        return "" if value is None else str(value)

    # the footprint's box only: a centre alone stays a centre (lat/lon), not a zero-size box
    bbox = "" if record.footprint is None else ",".join(str(v) for v in record.bbox)
    return {
        "platform": text(record.platform),
        "sensor": text(record.instrument),
        "gsd_m": text(record.gsd_m),
        "datetime": "" if record.datetime is None else record.datetime.isoformat(),
        "lat": text(record.center_lat),
        "lon": text(record.center_lon),
        "bbox_wgs84": bbox,
        "cloud_cover": text(record.cloud_cover),
    }


def multisource_rows(
    sources: Mapping[str, Path], taxonomy: Any, per_label: int | Mapping[str, int | None] | None,
    seed: int = 0,
) -> list[dict[str, str]]:
    """Manifest rows mixing several labelled sets, labels rewritten to taxonomy node ids.

    Every source is read by ``terrahash.data.load_dataset`` (its own manifest columns), so
    multi-label sets keep all their labels (joined by ``|``) and each item keeps its record.

    Args:
        sources: dataset name (its taxonomy vocabulary) -> dataset folder.
        taxonomy: a ``terrahash.taxonomy.Taxonomy``.
        per_label: at most this many items per (source, label set); ``None`` keeps all; a
            mapping gives it per source (sources it does not name keep all).
        seed: sampling seed.
    """
    from terrahash.data import load_dataset

    out: list[dict[str, str]] = []
    for name, root in sources.items():
        dataset = load_dataset(root)
        labels = ["|".join(item.labels) for item in dataset]
        names = sorted({label for item in dataset for label in item.labels})
        node_of = dict(zip(names, map_source_labels(names, name, taxonomy), strict=True))
        cap = per_label.get(name) if isinstance(per_label, Mapping) else per_label
        for i in sample_per_label(labels, cap, seed):
            item = dataset[i]
            nodes = dict.fromkeys(node_of[label] for label in item.labels)  # ordered, no repeats
            out.append({
                "path": str(Path(item.path).resolve()),
                "label": "|".join(nodes),
                "source_dataset": name,
                "source_label": labels[i],
                **_record_columns(item.record),
            })
    return out


# -- record filters (the brute-force reference of the index filters) -----------------------
def _utc(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def boxes_intersect(a: Sequence[float], b: Sequence[float]) -> bool:
    """Whether lon/lat boxes (W, S, E, N) overlap; a box with W > E crosses the antimeridian."""

    def lon_spans(box: Sequence[float]) -> list[tuple[float, float]]:
        w, _, e, _ = box
        return [(w, 180.0), (-180.0, e)] if w > e else [(w, e)]

    if a[1] > b[3] or b[1] > a[3]:
        return False
    return any(x0 <= y1 and y0 <= x1 for x0, x1 in lon_spans(a) for y0, y1 in lon_spans(b))


def record_matches(record: Any, filters: Mapping[str, Any]) -> bool:
    """Whether a ``SceneRecord`` passes ``filters`` (keys of ``terrahash.index.Filters``).

    Written from the documented semantics, not from the index code: a record lacking the
    filtered field never matches; time filters compare the acquisition interval
    (``start_datetime``..``end_datetime``, else ``datetime``); bbox uses ``record.bbox``.
    """
    from terrahash.metadata.platforms import normalize_platform

    if (box := filters.get("bbox")) is not None and (
        record.bbox is None or not boxes_intersect(record.bbox, box)
    ):
        return False
    first = _utc(record.start_datetime or record.datetime)
    last = _utc(record.end_datetime or record.datetime)
    first, last = first or last, last or first
    if (start := filters.get("start")) is not None and (last is None or last < _utc(start)):
        return False
    if (end := filters.get("end")) is not None and (first is None or first > _utc(end)):
        return False
    if (platforms := filters.get("platforms")) is not None:
        wanted = {normalize_platform(p) or p for p in platforms}
        if record.platform is None or record.platform not in wanted:
            return False
    if (cloud := filters.get("cloud_max")) is not None and (
        record.cloud_cover is None or record.cloud_cover > cloud
    ):
        return False
    if (gsd := filters.get("gsd_min")) is not None and (record.gsd_m is None or record.gsd_m < gsd):
        return False
    return not (
        (gsd := filters.get("gsd_max")) is not None and (record.gsd_m is None or record.gsd_m > gsd)
    )


# -- training and encoding through the TerraHash API --------------------------------------
@dataclass
class RunSpec:
    """One training run of the benchmark."""

    data_dir: Path
    run_dir: Path
    variant: Variant
    bits: int
    epochs: int
    image_size: int
    seed: int = 0
    extra: dict[str, Any] = field(default_factory=dict)

    def command(self) -> str:
        """The equivalent ``terrahash train`` command line."""
        return " ".join([
            "terrahash train", str(self.data_dir), "--out", str(self.run_dir), *self.variant.cli_flags,
            "--bits", str(self.bits), "--epochs", str(self.epochs),
            "--image-size", str(self.image_size), "--seed", str(self.seed),
        ])


def backbone_sha256(spec: str) -> str | None:
    """SHA-256 of the weights ``--backbone spec`` names today (from its card); ``None`` for ``none``."""
    from terrahash.model.backbones import CARD_FILE, resolve_backbone

    folder = resolve_backbone(spec)
    return None if folder is None else _card_sha256(folder / CARD_FILE)


def trained_from(config: Mapping[str, Any], backbone: str) -> bool:
    """Whether a run's ``config.json`` started from the weights ``--backbone backbone`` names today.

    Options alone do not say it: ``default`` names whichever backbone the checkout ships, so a
    run kept from before a new one shipped must not be reused as a measurement of the new one.
    """
    from terrahash.model.errors import ModelError

    recorded = (config.get("backbone") or {}).get("sha256")
    try:
        return recorded == backbone_sha256(backbone)
    except (ModelError, OSError, ValueError, KeyError, TypeError):
        return False


def train_run(spec: RunSpec, reuse: bool = False) -> dict[str, Any]:
    """Train ``spec`` (or reuse a finished run with the same options); returns its config.

    Training is ``terrahash.train.run.train`` with a Rich progress bar, i.e. ``terrahash
    train``; ``train_seconds_wall`` is added (data loading included) and kept in the run's
    ``config.json``, so that a reused run reports the same kind of time as a fresh one.
    """
    from rich.console import Console

    from terrahash.train.progress import RichProgress
    from terrahash.train.run import TrainOptions, train

    opts = TrainOptions(
        method=spec.variant.method, bits=spec.bits, epochs=spec.epochs, image_size=spec.image_size,
        seed=spec.seed, use_text=spec.variant.use_text, multiscale=spec.variant.multiscale,
        itc=spec.variant.itc, meta_dropout=spec.variant.meta_dropout, fusion=spec.variant.fusion,
        **spec.extra,
    )
    config_file = spec.run_dir / "config.json"
    if reuse and config_file.is_file():
        config: dict[str, Any] = json.loads(config_file.read_text())
        done = config.get("train", {})
        # an option newer than the run was trained at its default (the behaviour before it existed)
        before = {f.name: f.default for f in fields(TrainOptions) if f.default is not MISSING}
        before["split_seed"] = done.get("seed", 0)  # before --split-seed, the seed split the data too
        if all(done.get(k, before.get(k)) == v for k, v in vars(opts).items() if k != "resume") and (
            config.get("dataset") == str(spec.data_dir.resolve())
        ) and trained_from(config, opts.backbone):
            return config
    console = Console(stderr=True)
    started = time.perf_counter()
    config = train(spec.data_dir, spec.run_dir, opts,
                   progress=lambda desc, n: RichProgress(f"{spec.variant.name} {desc}", n, console))
    config["train_seconds_wall"] = round(time.perf_counter() - started, 2)
    saved = json.loads(config_file.read_text())
    saved["train_seconds_wall"] = config["train_seconds_wall"]
    config_file.write_text(json.dumps(saved, indent=1, sort_keys=True))  # as save_run writes it
    return config


def train_images_per_s(run_dir: Path) -> float | None:
    """Median training throughput over the run's epochs (``metrics.csv``)."""
    with open(run_dir / "metrics.csv", newline="") as fh:
        speeds = [float(r["images_per_s"]) for r in csv.DictReader(fh) if r.get("images_per_s")]
    return float(np.median(speeds)) if speeds else None


def run_cli(args: Sequence[str]) -> float:
    """Run ``terrahash ARGS`` in this process and return its wall seconds.

    Typer ends every command with ``SystemExit``; exit 0 is success, any other code is raised.
    """
    from terrahash.cli import main as cli

    start = time.perf_counter()
    try:
        cli(list(args))
    except SystemExit as exc:
        if exc.code not in (0, None):
            raise
    return time.perf_counter() - start


#: A 1-minute load average at or below this counts as a quiet 2-core machine (the benchmark's
#: own process and workers included).
QUIET_LOAD = 2.5


def load_average() -> list[float]:
    """The 1-, 5- and 15-minute load averages, rounded: recorded beside timings."""
    return [round(v, 2) for v in os.getloadavg()]


def is_quiet(loads: Iterable[float]) -> bool:
    """Whether every recorded 1-minute load average is at most ``QUIET_LOAD``."""
    return all(load <= QUIET_LOAD for load in loads)


def load_note(loads: Iterable[float], nproc: int) -> str:
    """How to read a run's wall-clock figures, from the 1-minute load averages it recorded."""
    peak = max(loads, default=None)
    if peak is None:
        return "The load average was not recorded."
    if is_quiet([peak]):
        return (f"The machine was quiet (1-minute load average at most {peak:g}), so the wall clock "
                "is the measure.")
    return (f"The machine was busy (1-minute load average up to {peak:g} on {nproc} cores), so "
            "wall-clock figures are the share of the cores this run got.")


def timed(fn: Callable[[], Any]) -> tuple[Any, float]:
    """(result, seconds) of ``fn()``."""
    start = time.perf_counter()
    result = fn()
    return result, time.perf_counter() - start


def json_safe(value: Any) -> Any:
    """NaN -> None and NumPy scalars/arrays -> Python, recursively (JSON has no NaN)."""
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    if isinstance(value, np.ndarray):
        return json_safe(value.tolist())
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, float | np.floating):
        return None if math.isnan(float(value)) else float(value)
    return value
