"""A small model and trainer over the tiny UC Merced set, for tests of the objectives."""

from __future__ import annotations

from pathlib import Path

import torch

from terrahash.data import load_dataset
from terrahash.data.transforms import channel_stats, preload_images
from terrahash.metadata.prompt import render_prompt
from terrahash.model import create_model, get_model_config
from terrahash.model.centers import build_centres
from terrahash.train.data import TrainingData
from terrahash.train.losses import get_loss_class
from terrahash.train.run import TrainOptions, _make_loss, _prompt_groups, _text_tensors, seed_everything
from terrahash.train.trainer import Trainer


def tiny_trainer(
    data_dir: Path, method: str, train_idx: torch.Tensor | None = None, **kwargs: object
) -> Trainer:
    """A 32-bit, narrow-backbone ``method`` trainer on 32 px images (this tests losses, not networks).

    ``train_idx`` defaults to every item; ``kwargs`` go to ``Trainer`` (epochs 20, one batch
    of the whole set and lr 3e-3 unless given).
    """
    seed_everything(0)
    ds = load_dataset(data_dir)
    rendered = [render_prompt(item.record) for item in ds]
    images = preload_images(ds, 32)
    mean, std = channel_stats(images)
    cls = get_loss_class(method)
    config = get_model_config()
    config["bits"] = 32
    config["vision"].update(widths=[16, 32, 64, 128], stem_width=16)
    model, tokenizer = create_model(config, use_text=cls.uses_text)
    labels = torch.from_numpy(ds.label_matrix())
    centres = build_centres(ds.classes, 32, [0, 0, 1, 1]) if cls.uses_centres else None
    data = TrainingData(
        images=images,
        mean=mean,
        std=std,
        train_idx=torch.arange(len(ds)) if train_idx is None else train_idx,
        val_idx=torch.arange(0),
        labels=labels if cls.needs_labels else None,
        targets=None if centres is None else centres.targets(labels),
        **(_text_tensors(rendered, _prompt_groups(rendered), tokenizer) if cls.uses_text else {}),
    )
    loss = _make_loss(cls, TrainOptions(method=method, bits=32), centres)
    options: dict[str, object] = {"epochs": 20, "batch_size": len(ds), "lr": 3e-3, "seed": 0} | kwargs
    return Trainer(model, loss, data, **options)  # type: ignore[arg-type]
