"""``terrahash train``: dataset folder -> run folder (weights, config, metrics, loss curve).

The run's ``config.json`` holds everything needed to rebuild the model and its tokenizer
and to repeat the experiment: architecture, method and loss weights, normalisation
statistics, the exact split (train/validation/test ids), seed, dataset path, prompt
template and taxonomy versions.
"""

from __future__ import annotations

import csv
import inspect
import math
import random
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from importlib.metadata import version as package_version
from pathlib import Path
from typing import Any, cast

import numpy as np
import torch
from safetensors.torch import load_file

from terrahash.data.dataset import TEST_FRACTION, VAL_FRACTION, SceneDataset, load_dataset
from terrahash.data.transforms import channel_stats, image_column, preload_images
from terrahash.errors import TerraHashError
from terrahash.metadata.prompt import R2STFT, TEMPLATE_VERSION, render_prompt
from terrahash.model.backbones import Backbone, apply_backbone, load_backbone
from terrahash.model.ccls2t import FUSIONS, SUPPORTED_BITS
from terrahash.model.centers import CentreSet, build_centres, taxonomy_groups
from terrahash.model.checkpoint import RUN_SCHEMA_VERSION, read_checkpoint, save_run
from terrahash.model.errors import ModelError
from terrahash.model.factory import DEFAULT_MODEL, create_model, get_model_config
from terrahash.model.tokenizer import PromptTokenizer
from terrahash.model.vision import RESNET_PRESETS, detect_resnet_preset, load_backbone_state
from terrahash.train.data import TrainingData
from terrahash.train.defaults import DEFAULT_EPOCHS, INPUT_NORMS, PRETRAINED_TRUNK_LR_SCALE, method_defaults
from terrahash.train.losses import HashLoss, get_loss_class, list_methods
from terrahash.train.pairs import temporal_partners
from terrahash.train.trainer import Callback, EpochRow, Trainer

CHECKPOINT_FILE = "checkpoint.pt"


class TrainConfigError(TerraHashError):
    """A training option is invalid (names the option and the allowed values)."""


@dataclass
class TrainOptions:
    """Options of one training run (the CLI flags)."""

    method: str = "ccls2t"
    bits: int = 64
    #: Chosen on validation within the training budget (``defaults.DEFAULT_EPOCHS``).
    epochs: int = DEFAULT_EPOCHS
    image_size: int = 64
    #: Seed of initialisation, augmentation and batch order.
    seed: int = 0
    #: Seed of the 80/20 split and of the validation part carved from train. 0 is the standard
    #: split, the one whose test part the shipped backbone's pretraining held out; another
    #: split of a set the backbone pretrained on would test on images it has seen.
    split_seed: int = 0
    #: ``None``: on, unless every training prompt is the same (it would then learn a constant).
    use_text: bool | None = None
    multiscale: bool = True
    itc: bool = True
    model_name: str = DEFAULT_MODEL
    batch_size: int = 64
    #: ``None``: the method's learning rate chosen on validation (``train/defaults.py``).
    lr: float | None = None
    #: Loss constructor settings (e.g. ``{"scale": 8.0}``) over the method's chosen ones.
    loss_settings: dict[str, float] = field(default_factory=dict)
    weight_decay: float = 5e-4
    test_fraction: float = TEST_FRACTION
    val_fraction: float = VAL_FRACTION
    #: ``default`` (the shipped pretrained backbone), ``none`` (from scratch) or a
    #: ``terrahash pretrain`` output folder.
    backbone: str = "default"
    #: A torchvision ResNet-18/50 state dict instead (replaces ``backbone``).
    backbone_weights: str | None = None
    #: Learning rate of the vision trunk relative to ``lr``; ``None``: 1 from scratch, the
    #: validated ``PRETRAINED_TRUNK_LR_SCALE`` when starting from pretrained weights.
    backbone_lr_scale: float | None = None
    resume: bool = False
    #: ``dataset`` or ``image`` statistics for input normalisation; ``None``: the method's default.
    input_norm: str | None = None
    #: Two-view methods: take an item's second view from another date of the same ground
    #: where the training part has one (``train/pairs.py``).
    temporal_pairs: bool = True
    #: Fraction of training items whose fused embedding is made without their metadata
    #: (``model.ccls2t.CCLS2T.meta_dropout``); 0 leaves every item's metadata in.
    meta_dropout: float = 0.0
    #: How the text branch joins the image embedding: ``gated`` (additive, gated) or ``film``
    #: (the metadata scales and shifts the image's channels; ``model.ccls2t.FUSIONS``).
    fusion: str = "gated"

    def __post_init__(self) -> None:
        """Fill the learning rate and loss settings not given from the method's validated defaults."""
        chosen = method_defaults(self.method)
        if self.lr is None:
            self.lr = float(chosen["lr"])
        if self.input_norm is None:
            self.input_norm = str(chosen["input_norm"])
        if self.backbone_lr_scale is None:
            pretrained = self.pretrained_backbone is not None or self.backbone_weights is not None
            self.backbone_lr_scale = PRETRAINED_TRUNK_LR_SCALE if pretrained else 1.0
        self.loss_settings = {**chosen["loss_settings"], **self.loss_settings}

    @property
    def pretrained_backbone(self) -> str | None:
        """The ``--backbone`` to load (``default`` or a folder); ``None`` from scratch or when
        ``backbone_weights`` replaces it. The one place that decides which weights a run starts from."""
        return None if self.backbone_weights or self.backbone == "none" else self.backbone

    def validate(self) -> None:
        """Raise ``TrainConfigError`` naming the first bad option."""
        if self.method not in list_methods():
            raise TrainConfigError(
                f"--method: error: unknown method {self.method!r}; choose from {', '.join(list_methods())}"
            )
        known = set(inspect.signature(get_loss_class(self.method)).parameters) - set(_WIRED_LOSS_ARGS)
        if unknown := sorted(set(self.loss_settings) - known):
            raise TrainConfigError(
                f"loss settings: error: {', '.join(unknown)} not accepted by {self.method!r}; "
                f"choose from {', '.join(sorted(known))}"
            )
        if self.bits not in SUPPORTED_BITS:
            raise TrainConfigError(
                f"--bits: error: {self.bits} is not one of {', '.join(map(str, SUPPORTED_BITS))}"
            )
        if self.epochs < 1:
            raise TrainConfigError(f"--epochs: error: must be >= 1, got {self.epochs}")
        if self.split_seed < 0:
            raise TrainConfigError(f"--split-seed: error: must be >= 0, got {self.split_seed}")
        if self.input_norm not in INPUT_NORMS:
            raise TrainConfigError(
                f"--input-norm: error: {self.input_norm!r} is not one of {', '.join(INPUT_NORMS)}"
            )
        if not 0 < cast(float, self.backbone_lr_scale) <= 10:
            raise TrainConfigError(
                f"--backbone-lr-scale: error: must be in (0, 10], got {self.backbone_lr_scale}"
            )
        if not 0 <= cast(float, self.lr) <= 1:  # 0 freezes every weight (a check, not a recipe)
            raise TrainConfigError(f"--lr: error: must be in [0, 1], got {self.lr}")
        if not 0 <= self.meta_dropout < 1:
            raise TrainConfigError(f"--meta-dropout: error: must be in [0, 1), got {self.meta_dropout}")
        if self.fusion not in FUSIONS:
            raise TrainConfigError(f"--fusion: error: must be one of {', '.join(FUSIONS)}, "
                                   f"got {self.fusion!r}")
        if not 16 <= self.image_size <= 512:
            raise TrainConfigError(f"--image-size: error: must be in 16..512, got {self.image_size}")


def parse_loss_settings(pairs: list[str]) -> dict[str, float]:
    """``["temperature=0.15", ...]`` -> ``{"temperature": 0.15}``; names are checked by ``validate``."""
    settings: dict[str, float] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        try:
            if not sep or not name.strip():
                raise ValueError
            settings[name.strip()] = float(value)
        except ValueError:
            raise TrainConfigError(
                f"--loss-setting: error: expected NAME=NUMBER (e.g. temperature=0.15), got {pair!r}"
            ) from None
    return settings


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and torch, and ask torch for deterministic kernels."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    torch.use_deterministic_algorithms(True, warn_only=True)


def _split(dataset: SceneDataset, opts: TrainOptions) -> tuple[list[int], list[int], list[int]]:
    """(train, validation, test) indices; validation is carved from train, stratified.

    Both parts follow ``split_seed`` alone, so runs that differ in their training ``seed``
    share one split and one validation part.
    """
    return dataset.standard_split(opts.split_seed, opts.test_fraction, opts.val_fraction)


def _check_backbone_split(backbone: Backbone, dataset: SceneDataset, opts: TrainOptions) -> None:
    """Refuse a split whose test part the backbone's pretraining may have seen.

    The shipped backbone pretrained on the train part of each labelled set under one seeded
    split (its card); another split of the same set would put some of those images, with
    their labels, in this run's test part.
    """
    pretrained = backbone.pretrained_split_of(dataset.root.name, len(dataset))
    if pretrained is not None and pretrained != (opts.split_seed, opts.test_fraction):
        seed, fraction = pretrained
        raise TrainConfigError(
            f"--split-seed: error: backbone {backbone.card.get('name', backbone.source)} pretrained on "
            f"the train part of {dataset.root.name!r} under split seed {seed} (test fraction "
            f"{fraction:g}); split seed {opts.split_seed} (test fraction {opts.test_fraction:g}) would "
            f"test on images it has seen. Use --split-seed {seed} (vary --seed for another training), "
            "or --backbone none"
        )


def _prompt_groups(rendered: list[R2STFT]) -> list[int]:
    """Per item, the index of its distinct prompt (a prompt is its words and its numbers)."""
    group_of: dict[tuple[str, bytes, bytes], int] = {}
    return [group_of.setdefault((r.text, r.features.tobytes(), r.mask.tobytes()), len(group_of))
            for r in rendered]


def _text_branch(
    opts: TrainOptions, loss_cls: type[HashLoss], groups: list[int], train_idx: list[int]
) -> tuple[bool, str]:
    """Whether the run trains a text branch, and why (recorded in ``config.json``).

    Left to itself (``use_text=None``) the branch is dropped when every training item has
    the same prompt, as in scene sets without per-image metadata (UC Merced, AID): a
    constant input teaches the text encoder a constant, its InfoNCE has one class and its
    reconstruction one target, so it only costs time. On UC Merced's validation part, from
    the shipped backbone at the default budget, the run without the branch scores higher and
    trains in about two thirds of the time (``bench/results/compare_text-auto.md``; the test
    part, reported only, went the other way, at 50 epochs as at 80).
    """
    if not loss_cls.uses_text:
        return False, f"method {opts.method!r} has no text branch"
    if opts.use_text is not None:
        return opts.use_text, "on (--text)" if opts.use_text else "off (--no-text)"
    distinct = len({groups[i] for i in train_idx})
    if distinct < 2:
        return False, (f"off: all {len(train_idx)} training items share one prompt, so the text "
                       "branch would learn a constant (--text forces it on)")
    return True, f"on: {distinct} distinct prompts among {len(train_idx)} training items"


def _text_tensors(
    rendered: list[R2STFT], groups: list[int], tokenizer: PromptTokenizer
) -> dict[str, torch.Tensor]:
    return {
        "tokens": tokenizer([r.text for r in rendered]),
        "features": torch.from_numpy(np.stack([r.features for r in rendered])),
        "feature_mask": torch.from_numpy(np.stack([r.mask for r in rendered])),
        "text_group": torch.tensor(groups),
    }


#: Loss constructor arguments the run supplies itself, never through ``loss_settings``.
_WIRED_LOSS_ARGS = ("centres", "itc")


def _make_loss(cls: type[HashLoss], opts: TrainOptions, centres: CentreSet | None) -> HashLoss:
    """The objective with the run's loss settings; centres and ``itc`` go to the losses that take them."""
    takes = inspect.signature(cls).parameters
    wired: dict[str, Any] = {"centres": centres, "itc": opts.itc}
    return cls(**{k: v for k, v in wired.items() if k in takes}, **opts.loss_settings)


def _model_config(opts: TrainOptions, backbone: Backbone | None) -> dict[str, Any]:
    config = get_model_config(opts.model_name)
    config["bits"] = opts.bits
    if backbone is not None:
        config["vision"] = backbone.vision
    if opts.backbone_weights:
        preset = detect_resnet_preset(_read_backbone(opts.backbone_weights), opts.backbone_weights)
        config["vision"].update(RESNET_PRESETS[preset])
    if not opts.multiscale:
        config["vision"]["scales"] = 1
    if opts.meta_dropout:
        config["meta_dropout"] = opts.meta_dropout
    if opts.fusion != "gated":
        config["fusion"] = opts.fusion
    return config


def _read_backbone(path: str) -> dict[str, torch.Tensor]:
    """A state dict from ``.pt``/``.pth`` (torch.save) or ``.safetensors``."""
    file = Path(path)
    if not file.is_file():
        raise ModelError(f"{file}: error: backbone weights file not found")
    try:
        if file.suffix == ".safetensors":
            return load_file(str(file))
        state = torch.load(file, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - any unreadable file gets the same clear message
        raise ModelError(f"{file}: error: cannot read a state dict ({exc})") from exc
    if isinstance(state, dict) and "state_dict" in state:
        state = state["state_dict"]
    if not isinstance(state, dict):
        raise ModelError(f"{file}: error: expected a state dict, got {type(state).__name__}")
    return state


class MetricsWriter(Callback):
    """Appends each epoch's row to ``metrics.csv`` and saves a resumable checkpoint."""

    def __init__(self, run_dir: Path, save_checkpoint: bool = True) -> None:
        self.run_dir = run_dir
        self.save_checkpoint = save_checkpoint

    def on_epoch_end(self, trainer: Trainer, row: EpochRow) -> None:
        """Rewrite the CSV (columns can grow once validation starts) and the checkpoint."""
        write_metrics(self.run_dir / "metrics.csv", trainer.state.history)
        if self.save_checkpoint:
            torch.save(trainer.state_dict(), self.run_dir / CHECKPOINT_FILE)


def write_metrics(path: Path, history: list[EpochRow]) -> None:
    """One row per epoch; every column seen in any epoch."""
    columns: list[str] = []
    for row in history:
        columns.extend(k for k in row if k not in columns)
    with open(path, "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=columns)
        writer.writeheader()
        for row in history:
            writer.writerow({k: (f"{v:.6g}" if isinstance(v, float) else v) for k, v in row.items()})


def plot_losses(path: Path, history: list[EpochRow], title: str) -> None:
    """Loss terms per epoch (log scale) and validation mAP, as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax, ax2) = plt.subplots(1, 2, figsize=(10, 4))
    epochs = [row["epoch"] for row in history]
    skip = {"epoch", "lr", "images_per_s", "seconds"}
    for key in history[0]:
        if key in skip or key.startswith(("val_", "hamming_")):
            continue
        ax.plot(epochs, [max(row.get(key, np.nan), 1e-6) for row in history], label=key)
    ax.set_yscale("log")
    ax.set_xlabel("epoch")
    ax.set_title(f"{title}: training losses")
    ax.legend(fontsize=7)
    val = [(row["epoch"], row["val_map@100"]) for row in history if "val_map@100" in row]
    if val:
        ax2.plot(*zip(*val, strict=True), marker="o")
    ax2.set_xlabel("epoch")
    ax2.set_title("validation mAP@100 (image vs fused)")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def train(
    data_dir: str | Path,
    out: str | Path,
    opts: TrainOptions,
    progress: Callable[[str, int], Callback] | None = None,
) -> dict[str, Any]:
    """Train one model and write the run folder; returns the saved config.

    Args:
        data_dir: dataset folder with ``manifest.csv``.
        out: run folder to create (or to continue with ``opts.resume``).
        opts: the run's options.
        progress: factory ``(description, total_steps) -> Callback`` for a progress bar.

    Raises:
        TrainConfigError, DatasetError, ModelError: on bad options, data or checkpoints.
    """
    opts.validate()
    loss_cls = get_loss_class(opts.method)
    seed_everything(opts.seed)
    run_dir = Path(out)
    run_dir.mkdir(parents=True, exist_ok=True)
    dataset = load_dataset(data_dir)
    column = image_column(dataset, opts.image_size)
    if loss_cls.needs_labels and not any(item.labels for item in dataset):
        raise TrainConfigError(
            f"{Path(data_dir) / 'manifest.csv'}: error: method {opts.method!r} needs labels; "
            "the manifest has no 'label' values (use --method unsupervised)"
        )
    train_idx, val_idx, test_idx = _split(dataset, opts)
    rendered = [render_prompt(item.record) for item in dataset]
    prompt_groups = _prompt_groups(rendered)
    use_text, text_reason = _text_branch(opts, loss_cls, prompt_groups, train_idx)
    if opts.meta_dropout and not use_text:
        raise TrainConfigError(f"--meta-dropout: error: this run has no text branch ({text_reason}), "
                               "so there is no metadata to withhold")
    if opts.fusion != "gated" and not use_text:
        raise TrainConfigError(f"--fusion: error: this run has no text branch ({text_reason}), "
                               "so there is no metadata to fuse")
    backbone = None if opts.pretrained_backbone is None else load_backbone(opts.pretrained_backbone)
    if backbone is not None:
        _check_backbone_split(backbone, dataset, opts)
    started = time.perf_counter()
    images = preload_images(dataset, opts.image_size, column)
    if backbone is not None:  # the statistics the backbone learned its filters under
        mean, std = backbone.normalization["mean"], backbone.normalization["std"]
    else:
        mean, std = channel_stats(images[train_idx])
    config = _model_config(opts, backbone)
    model, tokenizer = create_model(config, use_text=use_text)
    if backbone is not None:
        apply_backbone(model.visual, backbone)
    if opts.backbone_weights:
        load_backbone_state(
            model.visual.backbone, _read_backbone(opts.backbone_weights), opts.backbone_weights
        )
    model = model.to(memory_format=torch.channels_last)  # type: ignore[call-overload]
    centres: CentreSet | None = None
    taxonomy_version = None
    labels = torch.from_numpy(dataset.label_matrix())
    if loss_cls.uses_centres:
        groups, taxonomy_version = (
            taxonomy_groups(dataset.classes) if opts.method == "ccls2t" else (None, None)
        )
        centres = build_centres(dataset.classes, opts.bits, groups, seed=opts.seed)
    text = _text_tensors(rendered, prompt_groups, tokenizer) if use_text else {}
    partners = (temporal_partners(dataset, train_idx)
                if loss_cls.two_views and opts.temporal_pairs else None)
    data = TrainingData(
        images=images,
        mean=mean,
        std=std,
        per_image=opts.input_norm == "image",
        partners=partners,
        train_idx=torch.tensor(train_idx),
        val_idx=torch.tensor(val_idx, dtype=torch.long),
        labels=labels if loss_cls.needs_labels else None,
        targets=None if centres is None else centres.targets(labels),
        **text,
    )
    loss = _make_loss(loss_cls, opts, centres)
    callbacks: list[Callback] = [MetricsWriter(run_dir)]
    trainer = Trainer(
        model,
        loss,
        data,
        epochs=opts.epochs,
        batch_size=opts.batch_size,
        lr=cast(float, opts.lr),  # resolved by TrainOptions.__post_init__
        weight_decay=opts.weight_decay,
        backbone_lr_scale=cast(float, opts.backbone_lr_scale),
        seed=opts.seed,
        callbacks=callbacks,
    )
    if progress is not None:
        trainer.callbacks.append(
            progress(f"{opts.method} {opts.bits} bits", trainer.steps_per_epoch * opts.epochs)
        )
    checkpoint = run_dir / CHECKPOINT_FILE
    if opts.resume and checkpoint.is_file():
        try:
            trainer.load_state_dict(read_checkpoint(checkpoint))
        except ModelError:
            raise
        except Exception as exc:  # noqa: BLE001 - corrupt or from another configuration
            raise ModelError(f"{checkpoint}: error: cannot resume from this checkpoint ({exc})") from exc
    state = trainer.fit()
    names = [item.id for item in dataset]
    # null, not NaN (invalid JSON), when no epoch had a score to rank by.
    scored = state.best_epoch >= 0 and not math.isnan(state.best_score)
    best_score = state.best_score if scored else None
    config_out: dict[str, Any] = {
        "schema_version": RUN_SCHEMA_VERSION,
        "terrahash_version": package_version("terrahash"),
        "model_name": opts.model_name,
        "model": config,
        "method": opts.method,
        "method_reference": loss_cls.reference,
        "bits": opts.bits,
        "use_text": use_text,
        "text_branch": text_reason,
        "image_size": opts.image_size,
        "image_column": column or "path",
        "normalization": {"mean": mean, "std": std, "per_image": opts.input_norm == "image"},
        "temporal_pairs": 0 if partners is None else int((partners[:, 0] >= 0).sum()),
        "tokenizer": tokenizer.to_dict(),
        "template_version": TEMPLATE_VERSION,
        "taxonomy_version": taxonomy_version,
        "classes": dataset.classes,
        "multilabel": dataset.multilabel,
        "centres": None if centres is None else centres.to_dict(),
        "loss_weights": getattr(loss, "weights", None),
        "loss_settings": getattr(loss, "settings", None),
        "dataset": str(Path(data_dir).resolve()),
        "split": {
            "seed": opts.split_seed,
            "test_fraction": opts.test_fraction,
            "val_fraction": opts.val_fraction,
            "train_ids": [names[i] for i in sorted(train_idx + val_idx)],
            "val_ids": [names[i] for i in val_idx],
            "test_ids": [names[i] for i in test_idx],
        },
        "train": asdict(opts),
        "backbone": None if backbone is None else backbone.provenance(),
        "best_epoch": state.best_epoch,
        "best_val_map@100": best_score,
        "train_seconds": round(time.perf_counter() - started, 2),
    }
    save_run(run_dir, model.to(memory_format=torch.contiguous_format), config_out)
    plot_losses(run_dir / "loss_curve.png", state.history, opts.method)
    return config_out
