"""Pretrain a vision backbone on any mix of labelled sets, image folders and rasters.

Nothing downloads here, so TerraHash makes its own pretrained backbone, as the field starts
from ImageNet or a remote sensing pretraining. Every image gets two augmented views (the 8
dihedral symmetries, multi-scale crops, colour) and a contrastive loss (SimCLR's NT-Xent)
pulls the views of one scene together: this is all unlabelled imagery gets. Items of
labelled sets also train a classifier head of their own set (cross-entropy, or binary
cross-entropy for multi-label sets). Only the backbone (and its scale attention) is kept.

A run is resumable: a checkpoint (weights, optimiser, epoch, random state) is written after
every epoch and ``resume=True`` continues from it. The output folder holds
``backbone.safetensors``, ``card.json`` + ``CARD.md`` (the model card: data and image counts,
recipe, epochs, wall time, hardware, command, checksum) and the learning curve.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import os
import platform
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from importlib.metadata import version as package_version
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors.torch import save_file
from torch import nn
from torch.nn import functional as F

from terrahash.data.dataset import TEST_FRACTION, VAL_FRACTION
from terrahash.data.sources import PretrainSource, load_source, random_tiles
from terrahash.data.transforms import augment, channel_stats, normalize
from terrahash.errors import TerraHashError
from terrahash.model.backbones import BACKBONE_FILE, CARD_FILE, CARD_MARKDOWN, sha256_file
from terrahash.model.checkpoint import read_checkpoint
from terrahash.model.factory import DEFAULT_MODEL, get_model_config
from terrahash.model.vision import MultiScaleVisionEncoder, VisionConfig

CHECKPOINT = "pretrain-checkpoint.pt"
#: Per-epoch callback: (epoch, row of metrics).
EpochHook = Callable[[int, dict[str, float]], None]


class PretrainError(TerraHashError):
    """Bad pretraining options or sources (the message names which)."""


@dataclass
class PretrainOptions:
    """The recipe (recorded in the model card)."""

    model_name: str = DEFAULT_MODEL
    image_size: int = 64
    tile_size: int = 64
    epochs: int = 30
    #: Epochs the cosine learning-rate schedule spans (default: ``epochs``); larger stops early
    #: on that schedule, which is how a run cut short is reproduced exactly.
    schedule_epochs: int | None = None
    batch_size: int = 128
    lr: float = 2e-3
    weight_decay: float = 5e-4
    temperature: float = 0.2
    #: Weight of the supervised cross-entropy beside the contrastive term.
    supervised_weight: float = 1.0
    min_crop: float = 0.5
    seed: int = 0
    split_seed: int = 0
    test_fraction: float = TEST_FRACTION
    #: Fraction of each labelled set's train part left out as ``terrahash train``'s validation
    #: part, so that runs from this backbone select models on images it never saw; 0 keeps it.
    val_fraction: float = VAL_FRACTION
    device: str = "auto"
    resume: bool = False
    #: Decimal places of the saved weights: ``float16`` halves the file.
    dtype: str = "float16"
    command: str = field(default_factory=lambda: " ".join(["terrahash", *sys.argv[1:]]))

    def validate(self) -> None:
        if self.epochs < 1:
            raise PretrainError(f"--epochs: error: must be >= 1, got {self.epochs}")
        if self.schedule_epochs is not None and self.schedule_epochs < self.epochs:
            raise PretrainError(f"--schedule-epochs: error: must be >= --epochs ({self.epochs}), "
                                f"got {self.schedule_epochs}")
        if not 16 <= self.image_size <= 512:
            raise PretrainError(f"--image-size: error: must be in 16..512, got {self.image_size}")
        if self.batch_size < 4:
            raise PretrainError(f"--batch-size: error: must be >= 4, got {self.batch_size}")
        if not 0 <= self.val_fraction < 1:
            raise PretrainError(f"--val-fraction: error: must be in [0, 1), got {self.val_fraction}")
        if self.dtype not in ("float16", "float32"):
            raise PretrainError(f"--dtype: error: float16 or float32, got {self.dtype!r}")


class PretrainNet(nn.Module):
    """The backbone to keep, a projection head for the contrastive term, one classifier per set."""

    def __init__(self, vision: VisionConfig, heads: Sequence[int], proj_dim: int = 128) -> None:
        super().__init__()
        self.visual = MultiScaleVisionEncoder(vision)
        dim = self.visual.out_dim
        self.projection = nn.Sequential(nn.Linear(dim, dim), nn.ReLU(inplace=True), nn.Linear(dim, proj_dim))
        self.heads = nn.ModuleList(nn.Linear(dim, n) for n in heads)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.visual(images)


def nt_xent(z1: torch.Tensor, z2: torch.Tensor, temperature: float) -> torch.Tensor:
    """SimCLR's normalised-temperature cross-entropy: each view must pick its partner of 2N-1."""
    z = F.normalize(torch.cat([z1, z2]), dim=1)
    sim = z @ z.t() / temperature
    n = z1.shape[0]
    sim.fill_diagonal_(float("-inf"))
    target = torch.cat([torch.arange(n, 2 * n), torch.arange(0, n)]).to(z.device)
    return F.cross_entropy(sim, target)


def _device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise PretrainError(f"--device: error: {name} asked for, but no CUDA GPU is available")
    return torch.device(name)


def _epoch_pool(sources: Sequence[PretrainSource], opts: PretrainOptions,
                rng: np.random.Generator) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """This epoch's images, their source index and their item index (-1: no label)."""
    images, source_of, item_of = [], [], []
    for s, src in enumerate(sources):
        if src.kind == "raster":
            n = src.tiles_per_epoch(opts.tile_size)
            images.append(random_tiles(src.composites, n, opts.tile_size, opts.image_size, rng))
            item = torch.full((n,), -1)
        else:
            images.append(src.images)
            n = len(src.images)
            item = torch.arange(n) if src.kind == "labelled" else torch.full((n,), -1)
        source_of.append(torch.full((n,), s))
        item_of.append(item)
    return torch.cat(images), torch.cat(source_of), torch.cat(item_of)


def _supervised_loss(net: PretrainNet, feats: torch.Tensor, sources: Sequence[PretrainSource],
                     source_of: torch.Tensor, item_of: torch.Tensor, heads: dict[int, int]) -> torch.Tensor:
    """Mean over labelled sources in the batch of each source's own classification loss."""
    losses = []
    for s, head in heads.items():
        rows = (source_of == s) & (item_of >= 0)
        if not rows.any():
            continue
        labels = sources[s].labels
        assert labels is not None
        target = labels[item_of[rows].cpu()].to(feats.device)
        logits = net.heads[head](feats[rows])
        if sources[s].multilabel:
            losses.append(F.binary_cross_entropy_with_logits(logits, target.float()))
        else:
            losses.append(F.cross_entropy(logits, target.float().argmax(dim=1)))
    return torch.stack(losses).mean() if losses else feats.new_zeros(())


def pretrain(
    source_paths: Sequence[str | Path],
    out: str | Path,
    opts: PretrainOptions,
    progress: Callable[[str, int], Callable[[int], None]] | None = None,
    on_epoch: EpochHook | None = None,
) -> dict[str, Any]:
    """Pretrain a backbone on ``source_paths`` and write it to ``out``; returns the model card.

    Args:
        source_paths: dataset folders (labelled: train part only; unlabelled: all items),
            image folders and raster files or folders (tiles cut on the fly).
        out: output folder (created; with ``opts.resume`` an interrupted run continues).
        progress: ``(what, total) -> step(n)`` for progress bars (loading, then each epoch).
        on_epoch: called after each epoch with its metrics row.
    """
    opts.validate()
    if not source_paths:
        raise PretrainError("error: give at least one source folder or raster")
    torch.manual_seed(opts.seed)
    device = _device(opts.device)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    sources = [load_source(p, opts.image_size, opts.split_seed, opts.test_fraction,
                           progress(f"loading {Path(p).name}", 0) if progress else None, opts.val_fraction)
               for p in source_paths]
    stats_images = torch.cat([s.images for s in sources if len(s.images)]
                             + [random_tiles(s.composites, 512, opts.tile_size, opts.image_size,
                                             np.random.default_rng(opts.seed))
                                for s in sources if s.kind == "raster"])
    mean, std = channel_stats(stats_images)
    heads = {s: h for h, s in enumerate(i for i, src in enumerate(sources) if src.kind == "labelled")}
    config = get_model_config(opts.model_name)
    vision = VisionConfig.from_dict(config["vision"])
    net = PretrainNet(vision, [len(sources[s].classes) for s in heads]).to(device)
    optimizer = torch.optim.AdamW(net.parameters(), lr=opts.lr, weight_decay=opts.weight_decay)
    history: list[dict[str, float]] = []
    start_epoch, spent = 0, 0.0
    resumed_seconds = 0.0
    checkpoint = out / CHECKPOINT
    data_key = _data_key(sources, opts)
    if opts.resume and checkpoint.is_file():
        state = read_checkpoint(checkpoint)
        if state.get("data_key") != data_key:
            raise PretrainError(
                f"{checkpoint}: error: this checkpoint was trained on other data or another split "
                f"({state.get('data_key') or 'not recorded: an earlier version wrote it'}; now {data_key}); "
                "resuming would mix the two. Remove it, or pretrain into another --out"
            )
        net.load_state_dict(state["net"])
        optimizer.load_state_dict(state["optimizer"])
        start_epoch, spent = int(state["epoch"]), float(state["seconds"])
        resumed_seconds = spent
        history = [dict(zip(state["history_keys"], row, strict=True)) for row in state["history"].tolist()]
        torch.set_rng_state(state["torch_rng"])
    for epoch in range(start_epoch, opts.epochs):
        t0 = time.perf_counter()
        rng = np.random.default_rng([opts.seed, epoch])
        gen = torch.Generator().manual_seed(opts.seed * 1000 + epoch)
        images, source_of, item_of = _epoch_pool(sources, opts, rng)
        order = torch.randperm(len(images), generator=gen)
        steps = len(order) // opts.batch_size
        step = progress(f"epoch {epoch + 1}/{opts.epochs}", steps) if progress else None
        schedule = opts.schedule_epochs or opts.epochs
        lr_base = opts.lr * 0.5 * (1 + math.cos(math.pi * epoch / schedule))
        sums = {"loss": 0.0, "contrastive": 0.0, "supervised": 0.0}
        net.train()
        for b in range(steps):
            idx = order[b * opts.batch_size : (b + 1) * opts.batch_size]
            for group in optimizer.param_groups:
                group["lr"] = lr_base * min(1.0, (epoch * steps + b + 1) / max(1, steps))  # 1-epoch warm-up
            x = normalize(images[idx], mean, std)
            v1 = augment(x, gen, opts.min_crop).to(device)
            v2 = augment(x, gen, opts.min_crop).to(device)
            f1, f2 = net(v1), net(v2)
            contrastive = nt_xent(net.projection(f1), net.projection(f2), opts.temperature)
            supervised = _supervised_loss(net, torch.cat([f1, f2]), sources, source_of[idx].repeat(2),
                                          item_of[idx].repeat(2), heads)
            loss = contrastive + opts.supervised_weight * supervised
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            sums["loss"] += loss.item()
            sums["contrastive"] += contrastive.item()
            sums["supervised"] += supervised.item()
            if step is not None:
                step(1)
        seconds = time.perf_counter() - t0
        spent += seconds
        row = {"epoch": float(epoch + 1), **{k: v / max(1, steps) for k, v in sums.items()},
               "images_per_s": steps * opts.batch_size / max(seconds, 1e-9), "seconds": seconds}
        history.append(row)
        if on_epoch is not None:
            on_epoch(epoch + 1, row)
        _save_checkpoint(checkpoint, net, optimizer, epoch + 1, spent, history, data_key)
    # Wall time over every session of the run: its training time plus this session's loading.
    wall = spent + (time.perf_counter() - started) - (spent - resumed_seconds)
    card = _write_outputs(out, net, sources, opts, vision, config, mean, std, history, spent, wall, device)
    return card


def _data_key(sources: Sequence[PretrainSource], opts: PretrainOptions) -> str:
    """What a checkpoint was trained on: each source's items and the split, as one string."""
    parts = [f"{s.name}:{s.kind}:{len(s.used)}-{s.held_out}-{s.held_out_val}" for s in sources]
    return (f"{' '.join(parts)} split {opts.split_seed}/{opts.test_fraction:g}/{opts.val_fraction:g} "
            f"{opts.image_size}px")


def _save_checkpoint(path: Path, net: PretrainNet, optimizer: torch.optim.Optimizer, epoch: int,
                     seconds: float, history: list[dict[str, float]], data_key: str) -> None:
    """Tensors and plain values only, so the checkpoint loads with ``weights_only=True``."""
    keys = list(history[0]) if history else []
    state = {
        "data_key": data_key,
        "net": net.state_dict(), "optimizer": optimizer.state_dict(), "epoch": epoch, "seconds": seconds,
        "history_keys": keys, "history": torch.tensor([[r[k] for k in keys] for r in history]),
        "torch_rng": torch.get_rng_state(),
    }
    tmp = path.with_suffix(".tmp")
    torch.save(state, tmp)
    os.replace(tmp, path)


def _git_commit() -> str | None:
    head = Path(__file__).resolve().parents[3] / ".git" / "HEAD"
    try:
        ref = head.read_text().strip()
        if ref.startswith("ref: "):
            return (head.parent / ref[5:]).read_text().strip()
        return ref
    except OSError:
        return None


def _write_outputs(out: Path, net: PretrainNet, sources: Sequence[PretrainSource], opts: PretrainOptions,
                   vision: VisionConfig, config: dict[str, Any], mean: list[float], std: list[float],
                   history: list[dict[str, float]], train_seconds: float, wall_seconds: float,
                   device: torch.device) -> dict[str, Any]:
    dtype = torch.float16 if opts.dtype == "float16" else torch.float32
    state = {k: v.detach().to("cpu", dtype if v.is_floating_point() else v.dtype).contiguous()
             for k, v in net.visual.state_dict().items()}
    weights = out / BACKBONE_FILE
    save_file(state, str(weights))
    images_seen = sum(r["images_per_s"] * r["seconds"] for r in history)
    card: dict[str, Any] = {
        "name": f"terrahash-{opts.model_name}-{opts.image_size}px",
        "format": 1,
        "model_name": opts.model_name,
        "vision": vision.to_dict(),
        "embed_dim": config.get("embed_dim"),
        "image_size": opts.image_size,
        "normalization": {"mean": mean, "std": std},
        "weights": {"file": BACKBONE_FILE, "sha256": sha256_file(weights), "bytes": weights.stat().st_size,
                    "dtype": opts.dtype, "tensors": len(state),
                    "parameters": int(sum(v.numel() for v in state.values()))},
        "data": {
            "sources": [s.describe() for s in sources],
            "labelled_items": sum(len(s.used) for s in sources if s.kind == "labelled"),
            "unlabelled_items": sum(len(s.used) for s in sources if s.kind == "images"),
            "raster_scenes": sum(len(s.used) for s in sources if s.kind == "raster"),
            "test_items_held_out": sum(s.held_out for s in sources),
            "validation_items_held_out": sum(s.held_out_val for s in sources),
            "split": {"seed": opts.split_seed, "test_fraction": opts.test_fraction,
                      "val_fraction": opts.val_fraction,
                      "rule": "labelled sets: only the train part of terrahash train's standard split"
                      + (", its validation part left out too" if opts.val_fraction > 0 else "")},
        },
        "recipe": {
            "objective": "NT-Xent (SimCLR) on two augmented views + per-set classification on labelled items",
            "augmentations": ["8 dihedral symmetries", f"random resized crop (side >= {opts.min_crop})",
                              "brightness/contrast jitter"],
            **{k: v for k, v in asdict(opts).items() if k not in ("command", "resume", "device")},
        },
        "training": {"epochs": len(history), "steps": int(images_seen // opts.batch_size),
                     "train_seconds": round(train_seconds, 1),
                     "wall_seconds": round(wall_seconds, 1), "images_seen": int(images_seen),
                     "images_per_s": round(images_seen / max(train_seconds, 1e-9), 1),
                     "final": history[-1] if history else None},
        "hardware": {"device": str(device), "cpus": os.cpu_count(), "torch_threads": torch.get_num_threads(),
                     "machine": platform.machine(), "processor": platform.processor() or None,
                     "gpu": torch.cuda.get_device_name(0) if device.type == "cuda" else None},
        "software": {"terrahash": package_version("terrahash"), "torch": torch.__version__,
                     "python": platform.python_version()},
        "command": opts.command,
        "commit": _git_commit(),
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    }
    (out / CARD_FILE).write_text(json.dumps(card, indent=2) + "\n")
    (out / CARD_MARKDOWN).write_text(card_markdown(card, history))
    _plot(out / "pretrain_curve.png", history)
    return card


def card_markdown(card: dict[str, Any], history: Sequence[dict[str, float]]) -> str:
    """The human-readable model card."""
    data, train, hw = card["data"], card["training"], card["hardware"]
    lines = [
        f"# Model card: {card['name']}", "",
        f"A {card['model_name']} vision backbone ({card['weights']['parameters']:,} parameters, "
        f"{card['weights']['dtype']}, {card['weights']['bytes'] / 1e6:.1f} MB) pretrained by TerraHash "
        f"at {card['image_size']} px.", "",
        f"- Command: `{card['command']}`",
        f"- Commit: `{card['commit']}`, date {card['date']}",
        f"- Weights: `{card['weights']['file']}`, sha256 `{card['weights']['sha256']}`",
        f"- Hardware: {hw['device']} ({hw['cpus']} CPUs, {hw['torch_threads']} torch threads"
        + (f", {hw['gpu']}" if hw.get("gpu") else "") + ")",
        f"- Training: {train['epochs']} epochs, {train['images_seen']:,} images seen, "
        f"{train['train_seconds']:.0f} s ({train['images_per_s']:.0f} images/s), "
        f"wall {train['wall_seconds']:.0f} s",
        "", "## Data", "",
        f"Labelled items {data['labelled_items']:,}, unlabelled images {data['unlabelled_items']:,}, "
        f"raster scenes {data['raster_scenes']} (tiles cut on the fly); "
        f"{data['test_items_held_out']:,} test-split and {data.get('validation_items_held_out', 0):,} "
        "validation items held out and never seen.", "",
        "| source | kind | items used | test items held out | validation items held out | classes |",
        "|---|---|---|---|---|---|",
        *[f"| {s['path']} | {s['kind']} | {s['items']} | {s['held_out_test_items']} | "
          f"{s.get('held_out_validation_items', 0)} | {s['classes']} |" for s in data["sources"]],
        "", "## Recipe", "", f"{card['recipe']['objective']}; augmentations: "
        + ", ".join(card["recipe"]["augmentations"]) + ".", "",
        "| epoch | loss | contrastive | supervised | images/s |", "|---|---|---|---|---|",
        *[f"| {int(r['epoch'])} | {r['loss']:.3f} | {r['contrastive']:.3f} | {r['supervised']:.3f} | "
          f"{r['images_per_s']:.0f} |" for r in history],
        "",
    ]
    return "\n".join(lines)


def _plot(path: Path, history: Sequence[dict[str, float]]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 3.5))
    epochs = [r["epoch"] for r in history]
    for key in ("loss", "contrastive", "supervised"):
        ax.plot(epochs, [r[key] for r in history], marker=".", label=key)
    ax.set_xlabel("epoch")
    ax.set_ylabel("loss")
    ax.set_title("pretraining")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
